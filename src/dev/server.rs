//! The development issuer's HTTP server: its routes, the CORS answers for
//! browser-based clients, one log line per request, and serving until
//! Ctrl-C (or SIGTERM) with a bounded graceful shutdown.

use std::{future::IntoFuture, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tokio::net::TcpListener;

use super::{
    authorize::{self, Flows},
    clients::{Client, Registry},
    config::Config,
    discovery,
    error::{Outcome, with_outcome},
    register,
    store::Store,
    token,
};

/// How long open connections may take to finish after Ctrl-C.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything the issuer holds while it runs.
pub struct Dev {
    pub config: Config,
    pub store: Store,
    pub clients: Registry,
    pub flows: Flows,
}

pub type Shared = Arc<Dev>;

impl Dev {
    pub fn new(config: Config, store: Store) -> anyhow::Result<Shared> {
        let clients = Registry::new(Client::builtin(&store))?;
        Ok(Arc::new(Self {
            config,
            store,
            clients,
            flows: Flows::default(),
        }))
    }
}

/// The issuer's routes.
pub fn router(dev: Shared) -> Router {
    // What browser-based clients (MCP Inspector) call from their own origin.
    let cross_origin = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(discovery::metadata),
        )
        .route("/jwks", get(discovery::jwks))
        .route("/token", post(token::token))
        .route("/register", post(register::register))
        .layer(middleware::from_fn(cors));
    Router::new()
        .route(
            "/authorize",
            get(authorize::request).post(authorize::decide),
        )
        .merge(cross_origin)
        .fallback(not_found)
        .layer(middleware::from_fn(log))
        .with_state(dev)
}

async fn not_found() -> Response {
    with_outcome(StatusCode::NOT_FOUND.into_response(), "no such endpoint")
}

/// Any origin may call: preflights are answered here, every other answer
/// gets `Access-Control-Allow-Origin: *` (no cookies are involved).
async fn cors(request: Request, next: Next) -> Response {
    let any = HeaderValue::from_static("*");
    if request.method() == Method::OPTIONS {
        let asked = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("authorization, content-type"));
        let headers = [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, any),
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            ),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, asked),
            (
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            ),
        ];
        return with_outcome(
            (StatusCode::NO_CONTENT, headers).into_response(),
            "preflight",
        );
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, any);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("www-authenticate"),
    );
    response
}

/// One line on stderr per request: method, path (never the query, which
/// may hold a code), status and outcome.
async fn log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    // Outcomes may quote what the client sent: one line, bounded.
    let outcome: String = response
        .extensions()
        .get::<Outcome>()
        .map(|outcome| outcome.0.as_str())
        .unwrap_or_default()
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    eprintln!("{method} {path} {} {outcome}", response.status().as_u16());
    response
}

/// Serves on `listener` until Ctrl-C or SIGTERM.
pub async fn serve(dev: Shared, listener: TcpListener) -> anyhow::Result<()> {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, router(dev))
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .into_future();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => {
            result?;
            anyhow::bail!("the server stopped by itself");
        }
        signal = stop_signal() => {
            eprintln!("{}: stopping", signal?);
        }
    }
    let _ = stop.send(true);
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(result) => result?,
        Err(_) => eprintln!(
            "connections still open after {} s: stopped anyway",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    Ok(())
}

/// Waits for Ctrl-C (SIGINT) or, on unix, SIGTERM; names the one that came.
async fn stop_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| "Ctrl-C").map_err(Into::into),
            _ = terminate.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
    }
}
