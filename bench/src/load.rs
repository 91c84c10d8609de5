//! The load generator: `C` keep-alive HTTP/1.1 connections to one MCP
//! endpoint on loopback, each inside its own initialized MCP session, sending
//! a fixed number of requests between them as fast as answers come back.
//!
//! Each connection is one hyper client connection on a socket with
//! TCP_NODELAY set, so Nagle's algorithm on our side never delays a request.
//! A connection does `initialize` + `notifications/initialized`, then reuses
//! the `mcp-session-id` for every request. Every answer is read to the end
//! and checked (status 200, a JSON-RPC `result` for the request's id). After
//! its last request (off the clock) it ends its session with `DELETE`, as a
//! client that is done does, so servers do not carry the idle sessions of
//! earlier series into later ones. The run is bounded: a per-request timeout
//! and a deadline for the whole series.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, StatusCode,
    client::conn::http1::SendRequest,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue},
};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpStream, sync::Barrier};

/// The protocol revision the benchmark's clients negotiate: a revision with
/// sessions, so every connection works inside one initialized session.
const PROTOCOL_VERSION: &str = "2025-06-18";
/// Longest wait for one answer before the series fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The MCP request a series repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    /// `tools/call` of `search-tasks`.
    SearchTasks,
    /// `tools/list`.
    ToolsList,
}

impl Call {
    pub fn name(self) -> &'static str {
        match self {
            Call::SearchTasks => "tools/call",
            Call::ToolsList => "tools/list",
        }
    }

    fn body(self, id: usize) -> String {
        match self {
            Call::SearchTasks => format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"search-tasks","arguments":{{"query":"milk"}}}}}}"#
            ),
            Call::ToolsList => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#),
        }
    }
}

/// Which bearer token each request carries.
#[derive(Clone)]
pub enum Tokens {
    /// No `Authorization` header (the unprotected server).
    None,
    /// Connection `i` always sends token `i` (a client reusing its token).
    PerConnection(Arc<Vec<String>>),
    /// Request `n` sends token `n`, each never seen before (no cache can
    /// help: every request pays the signature check). Needs
    /// `warmup + requests` tokens; connection `i` initializes with token `i`.
    PerRequest(Arc<Vec<String>>),
}

/// One measured series.
#[derive(Clone)]
pub struct Series {
    pub addr: SocketAddr,
    pub call: Call,
    pub connections: usize,
    /// Requests before the clock starts (spread over the connections).
    pub warmup: usize,
    /// Requests measured.
    pub requests: usize,
    pub tokens: Tokens,
    /// The measured phase stops here even if requests remain.
    pub time_cap: Duration,
}

/// What a series measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Measured requests answered.
    pub completed: usize,
    /// From the first measured request sent to the last answer read.
    pub elapsed: Duration,
    /// Latency of every measured request, microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// The time cap ended the series before all requests were sent.
    pub capped: bool,
    /// Requests sent in all, warm-up and session set-up included.
    pub sent: usize,
    /// CPU time the server used during the whole series (set by the caller).
    pub server_cpu: Option<Duration>,
}

impl Outcome {
    pub fn requests_per_sec(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The server's CPU time per request sent, in microseconds.
    pub fn server_cpu_us(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        Some(cpu.as_secs_f64() * 1e6 / self.sent.max(1) as f64)
    }

    /// The `q` quantile (0..=1) of the latencies, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies_us, q)
    }
}

/// The `q` quantile of sorted microsecond samples, in milliseconds
/// (nearest rank).
pub fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

struct Shared {
    series: Series,
    host: HeaderValue,
    next_warmup: AtomicUsize,
    next_measured: AtomicUsize,
    barrier: Barrier,
}

struct ConnectionResult {
    started: Instant,
    finished: Instant,
    latencies_us: Vec<u32>,
    capped: bool,
}

/// Runs one series on the current (single-threaded) runtime.
pub async fn run(series: Series) -> Result<Outcome> {
    if let Tokens::PerRequest(tokens) = &series.tokens {
        let needed = (series.warmup + series.requests).max(series.connections);
        if tokens.len() < needed {
            bail!("{} per-request tokens for {needed} requests", tokens.len());
        }
    }
    let shared = Arc::new(Shared {
        host: HeaderValue::from_str(&series.addr.to_string())?,
        next_warmup: AtomicUsize::new(0),
        next_measured: AtomicUsize::new(0),
        barrier: Barrier::new(series.connections),
        series,
    });
    let tasks: Vec<_> = (0..shared.series.connections)
        .map(|index| tokio::spawn(connection(shared.clone(), index)))
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok(result)) => results.push(result),
            Ok(Err(error)) => failure = failure.or(Some(error)),
            Err(panic) => failure = failure.or(Some(anyhow!("a connection panicked: {panic}"))),
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    let started = results
        .iter()
        .map(|r| r.started)
        .min()
        .context("no connection")?;
    let finished = results
        .iter()
        .map(|r| r.finished)
        .max()
        .context("no connection")?;
    let capped = results.iter().any(|r| r.capped);
    let mut latencies_us: Vec<u32> = results.into_iter().flat_map(|r| r.latencies_us).collect();
    latencies_us.sort_unstable();
    Ok(Outcome {
        completed: latencies_us.len(),
        elapsed: finished.duration_since(started),
        // Each connection also sends `initialize`, `notifications/initialized`
        // and the closing `DELETE`.
        sent: latencies_us.len()
            + shared
                .next_warmup
                .load(Ordering::Relaxed)
                .min(shared.series.warmup)
            + 3 * shared.series.connections,
        latencies_us,
        capped,
        server_cpu: None,
    })
}

async fn connection(shared: Arc<Shared>, index: usize) -> Result<ConnectionResult> {
    let series = &shared.series;
    // A connection that fails must still reach the barrier, or the others
    // would wait forever; so errors are held until after it.
    let setup = async {
        let stream = TcpStream::connect(series.addr)
            .await
            .with_context(|| format!("connect to {}", series.addr))?;
        stream.set_nodelay(true).context("set TCP_NODELAY")?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut client = Client {
            sender,
            shared: shared.clone(),
            session: None,
            authorization: None,
        };
        let token = token_for(&series.tokens, index, None);
        client.initialize(token).await?;
        let deadline = Instant::now() + series.time_cap;
        loop {
            let n = shared.next_warmup.fetch_add(1, Ordering::Relaxed);
            if n >= series.warmup || Instant::now() >= deadline {
                break;
            }
            let token = token_for(&series.tokens, index, Some(n));
            client.call(n + 1, token).await?;
        }
        Ok::<_, anyhow::Error>(client)
    }
    .await;
    shared.barrier.wait().await;
    let mut client = setup?;

    let started = Instant::now();
    let deadline = started + series.time_cap;
    let mut latencies_us = Vec::with_capacity(series.requests / series.connections + 1);
    let mut capped = false;
    loop {
        let n = shared.next_measured.fetch_add(1, Ordering::Relaxed);
        if n >= series.requests {
            break;
        }
        if Instant::now() >= deadline {
            capped = true;
            break;
        }
        let token = token_for(&series.tokens, index, Some(series.warmup + n));
        let sent = Instant::now();
        client.call(series.warmup + n + 1, token).await?;
        let micros = sent.elapsed().as_micros();
        latencies_us.push(u32::try_from(micros).unwrap_or(u32::MAX));
    }
    let finished = Instant::now();
    client
        .end_session(token_for(&series.tokens, index, None))
        .await?;
    Ok(ConnectionResult {
        started,
        finished,
        latencies_us,
        capped,
    })
}

/// The token for connection `index`, request number `request` (`None`:
/// the connection's `initialize`).
fn token_for(tokens: &Tokens, index: usize, request: Option<usize>) -> Option<&str> {
    match (tokens, request) {
        (Tokens::None, _) => None,
        (Tokens::PerConnection(tokens), _) => Some(tokens[index % tokens.len()].as_str()),
        (Tokens::PerRequest(tokens), None) => Some(tokens[index].as_str()),
        (Tokens::PerRequest(tokens), Some(n)) => Some(tokens[n].as_str()),
    }
}

struct Client {
    sender: SendRequest<Full<Bytes>>,
    shared: Arc<Shared>,
    session: Option<HeaderValue>,
    /// The last token sent and its `Authorization` value, reused while the
    /// token stays the same, as a real client keeps its header: the load
    /// generator's own work per request should not grow with the token's
    /// length, or the protected series would measure the client too.
    authorization: Option<(String, HeaderValue)>,
}

impl Client {
    async fn initialize(&mut self, token: Option<&str>) -> Result<()> {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{PROTOCOL_VERSION}","capabilities":{{}},"clientInfo":{{"name":"mcp-builder-bench","version":"0.1.0"}}}}}}"#
        );
        let (status, headers, body) = self.post(body, token).await.context("initialize")?;
        if status != StatusCode::OK {
            bail!(
                "initialize answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let session = headers
            .get("mcp-session-id")
            .cloned()
            .context("initialize answered without an mcp-session-id")?;
        expect_result(&body, 0).context("initialize")?;
        self.session = Some(session);
        let (status, _, body) = self
            .post(
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_string(),
                token,
            )
            .await
            .context("notifications/initialized")?;
        if status != StatusCode::ACCEPTED {
            bail!(
                "notifications/initialized answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }

    async fn call(&mut self, id: usize, token: Option<&str>) -> Result<()> {
        let call = self.shared.series.call;
        let (status, _, body) = self
            .post(call.body(id), token)
            .await
            .with_context(|| format!("{} id {id}", call.name()))?;
        if status != StatusCode::OK {
            bail!(
                "{} id {id} answered {status}: {}",
                call.name(),
                String::from_utf8_lossy(&body)
            );
        }
        expect_result(&body, id).with_context(|| format!("{} id {id}", call.name()))
    }

    /// Ends the session (`DELETE` with its `mcp-session-id`).
    async fn end_session(&mut self, token: Option<&str>) -> Result<()> {
        let (status, _, body) = self
            .send(Method::DELETE, None, token)
            .await
            .context("DELETE of the session")?;
        if !status.is_success() {
            bail!(
                "DELETE of the session answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }

    fn authorization(&mut self, token: &str) -> Result<HeaderValue> {
        match &self.authorization {
            Some((last, value)) if last == token => Ok(value.clone()),
            _ => {
                let value = HeaderValue::from_str(&format!("Bearer {token}"))?;
                self.authorization = Some((token.to_string(), value.clone()));
                Ok(value)
            }
        }
    }

    async fn post(
        &mut self,
        body: String,
        token: Option<&str>,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        self.send(Method::POST, Some(body), token).await
    }

    async fn send(
        &mut self,
        method: Method,
        body: Option<String>,
        token: Option<&str>,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri("/mcp")
            .header(HOST, self.shared.host.clone())
            .header(ACCEPT, "application/json, text/event-stream");
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if let Some(session) = &self.session {
            request = request
                .header("mcp-session-id", session.clone())
                .header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, self.authorization(token)?);
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>((parts.status, parts.headers, body))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(result) => Ok(result?),
            Err(_) => bail!("no complete answer within {REQUEST_TIMEOUT:?}"),
        }
    }
}

/// Checks that an SSE (or JSON) answer carries the JSON-RPC result for `id`.
fn expect_result(body: &[u8], id: usize) -> Result<()> {
    let text = std::str::from_utf8(body).context("answer is not UTF-8")?;
    let wanted = format!("\"id\":{id},\"result\"");
    if text.contains(&wanted) {
        Ok(())
    } else {
        let shown: String = text.chars().take(300).collect();
        bail!("answer without a result for id {id}: {shown}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let samples: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(quantile_ms(&samples, 0.5), 50.0);
        assert_eq!(quantile_ms(&samples, 0.99), 99.0);
        assert_eq!(quantile_ms(&samples, 1.0), 100.0);
        assert_eq!(quantile_ms(&[7000], 0.5), 7.0);
        assert!(quantile_ms(&[], 0.5).is_nan());
    }

    #[test]
    fn an_answer_must_carry_the_result_for_its_id() {
        let sse = b"data: \nid: 0/0\nretry: 3000\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n\n";
        assert!(expect_result(sse, 7).is_ok());
        assert!(expect_result(sse, 70).is_err());
        assert!(expect_result(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{}}", 7).is_err());
    }
}
