//! A real MCP client (rmcp's streamable HTTP client) with a bearer token,
//! or with the credentials of rmcp's OAuth client. Every operation is
//! bounded by [`MCP_TIMEOUT`].

use std::{future::Future, time::Duration};

use rmcp::{
    RoleClient, ServiceError, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, Tool},
    service::RunningService,
    transport::{
        AuthClient, AuthorizationManager, StreamableHttpClientTransport,
        streamable_http_client::{StreamableHttpClient, StreamableHttpClientTransportConfig},
    },
};
use serde_json::Value;

/// Time limit for connecting and for each request.
pub const MCP_TIMEOUT: Duration = Duration::from_secs(20);

/// A connected rmcp client.
pub struct McpClient {
    pub who: String,
    service: RunningService<RoleClient, ()>,
}

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(MCP_TIMEOUT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {MCP_TIMEOUT:?}"))
}

impl McpClient {
    /// Connects to `url` sending `Authorization: Bearer <token>` on every
    /// request; `who` names the caller in messages.
    pub async fn connect(url: &str, token: &str, who: &str) -> Result<McpClient, String> {
        let http = http_client()?;
        let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
        let transport = StreamableHttpClientTransport::with_client(http, config);
        McpClient::start(transport, who).await
    }

    /// Connects to `url` through rmcp's OAuth client: `manager` holds the
    /// credentials of a completed authorization, and rmcp's [`AuthClient`]
    /// sends its access token with every request.
    pub async fn connect_authorized(
        url: &str,
        manager: AuthorizationManager,
        who: &str,
    ) -> Result<McpClient, String> {
        let client = AuthClient::new(http_client()?, manager);
        let config = StreamableHttpClientTransportConfig::with_uri(url);
        McpClient::start(
            StreamableHttpClientTransport::with_client(client, config),
            who,
        )
        .await
    }

    async fn start<C>(
        transport: StreamableHttpClientTransport<C>,
        who: &str,
    ) -> Result<McpClient, String>
    where
        C: StreamableHttpClient + Send + Sync + 'static,
    {
        let service = bounded(&format!("{who}: connect"), ().serve(transport))
            .await
            .map_err(|error| format!("{who}: connect failed: {error:?}"))?;
        Ok(McpClient {
            who: who.to_string(),
            service,
        })
    }

    /// `tools/list`, all pages.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, ServiceError> {
        bounded(
            &format!("{}: tools/list", self.who),
            self.service.list_all_tools(),
        )
        .await
    }

    /// `tools/call` with JSON object `arguments`.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<CallToolResult, ServiceError> {
        let arguments = match arguments {
            Value::Object(map) => map,
            other => panic!("tool arguments must be an object, got {other}"),
        };
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        bounded(
            &format!("{}: tools/call {tool}", self.who),
            self.service.call_tool(params),
        )
        .await
    }

    /// `tools/call` that must succeed (no transport or JSON-RPC error and
    /// not `isError`); returns the result's text.
    pub async fn call_ok(&self, tool: &str, arguments: Value) -> String {
        let result = self
            .call(tool, arguments.clone())
            .await
            .unwrap_or_else(|error| panic!("{}: {tool} {arguments} failed: {error:?}", self.who));
        assert_ne!(
            result.is_error,
            Some(true),
            "{}: {tool} {arguments} returned an error result: {result:?}",
            self.who
        );
        text_of(&result)
    }

    /// Closes the session (bounded).
    pub async fn close(self) {
        let who = self.who.clone();
        let _ = tokio::time::timeout(MCP_TIMEOUT, self.service.cancel())
            .await
            .unwrap_or_else(|_| panic!("{who}: closing the client timed out"));
    }
}

/// The HTTP client under rmcp's transport: no proxy, bounded connects.
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|error| error.to_string())
}

/// The concatenated text contents of a tool result.
pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|content| content.as_text().map(|text| text.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}
