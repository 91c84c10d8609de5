//! tasks-server: a small MCP server that keeps a to-do list per user.
//!
//! It serves MCP over streamable HTTP at `/mcp` and a health check at
//! `/health`. Set `TASKS_ADDR` to change the listening address.

mod tasks;

use std::sync::Arc;

use axum::{Router, routing::get, serve::ListenerExt};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use tasks::{TaskStore, TasksServer};

const DEFAULT_ADDR: &str = "127.0.0.1:8000";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let store = TaskStore::default();
    let service = StreamableHttpService::new(
        move || Ok(TasksServer::new(store.clone())),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );

    // The MCP endpoint, plus a health check for the load balancer.
    let app = Router::new()
        .route("/health", get(health))
        .nest_service("/mcp", service);

    let addr = std::env::var("TASKS_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(
        "tasks-server listening on http://{}",
        listener.local_addr()?
    );
    // Answers leave at once instead of waiting for the client's delayed ACK
    // (axum leaves Nagle's algorithm on).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn health() -> &'static str {
    "ok"
}
