//! Raw HTTP helpers: a reqwest client with timeouts, captured responses,
//! a strict `WWW-Authenticate` parser and just enough JSON-RPC over the
//! streamable HTTP transport to drive an MCP server by hand.

use std::time::Duration;

use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap},
};
use serde_json::{Value, json};

/// Per-request time limit of [`client`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The protocol version our raw `initialize` asks for (one with `initialize`).
pub const RAW_PROTOCOL_VERSION: &str = "2025-11-25";

/// A reqwest client for 127.0.0.1: every request times out, no proxy.
pub fn client() -> reqwest::Client {
    client_with(HeaderMap::new())
}

/// [`client`], sending `headers` with every request.
pub fn client_with(headers: HeaderMap) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(headers)
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("build the test reqwest client")
}

/// A response read completely: status, headers and body text.
#[derive(Debug)]
pub struct Reply {
    pub method: Method,
    pub url: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// `Ok` if the status is `status`, else an error saying `what` got what.
    pub fn expect(&self, status: StatusCode, what: &str) -> Result<(), String> {
        if self.status == status {
            Ok(())
        } else {
            Err(format!(
                "{what}: expected {status}, got {}",
                self.describe()
            ))
        }
    }

    /// Sends `request` with its own client and reads the whole response
    /// (bounded by that client's timeout; use [`client`]).
    pub async fn fetch(request: reqwest::RequestBuilder) -> Reply {
        let (client, request) = request.build_split();
        let request = request.expect("build request");
        let method = request.method().clone();
        let url = request.url().to_string();
        let response = client
            .execute(request)
            .await
            .unwrap_or_else(|error| panic!("{method} {url}: {error}"));
        let status = response.status();
        let headers = response.headers().clone();
        // A body that cannot be read in time (say, an SSE stream that should
        // have been a 401) is reported in the reply, not as a panic here.
        let body = response
            .text()
            .await
            .unwrap_or_else(|error| format!("<error reading the body: {error:?}>"));
        Reply {
            method,
            url,
            status,
            headers,
            body,
        }
    }

    /// A one-line description for assertion messages.
    pub fn describe(&self) -> String {
        let mut headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("<binary>")))
            .collect();
        headers.sort();
        let body: String = self.body.chars().take(600).collect();
        format!(
            "{} {} -> {}\n  headers: {:?}\n  body: {body}",
            self.method, self.url, self.status, headers
        )
    }

    /// The value of header `name`; panics if it is missing, repeated or not text.
    pub fn header(&self, name: &str) -> &str {
        let values: Vec<_> = self.headers.get_all(name).iter().collect();
        assert_eq!(
            values.len(),
            1,
            "expected exactly one `{name}` header\n{}",
            self.describe()
        );
        values[0]
            .to_str()
            .unwrap_or_else(|_| panic!("`{name}` is not text\n{}", self.describe()))
    }

    /// The value of header `name` if present exactly once.
    pub fn header_opt(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.get_all(name).iter();
        let first = values.next()?;
        assert!(
            values.next().is_none(),
            "`{name}` repeated\n{}",
            self.describe()
        );
        first.to_str().ok()
    }

    /// The single `WWW-Authenticate` challenge, parsed strictly.
    pub fn challenge(&self) -> Challenge {
        let raw = self.header("www-authenticate");
        Challenge::parse(raw).unwrap_or_else(|error| {
            panic!(
                "malformed WWW-Authenticate ({error}): {raw}\n{}",
                self.describe()
            )
        })
    }

    /// Whether `needle` occurs in any header value or in the body.
    pub fn mentions(&self, needle: &str) -> bool {
        self.body.contains(needle)
            || self
                .headers
                .iter()
                .any(|(_, value)| String::from_utf8_lossy(value.as_bytes()).contains(needle))
    }

    /// The body as JSON; panics with the reply if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error})\n{}", self.describe()))
    }

    /// The JSON-RPC message(s) in the body: a plain JSON body, or the `data:`
    /// lines of an SSE body. Returns the first message that has an `id`
    /// (a response), else the first message.
    pub fn json_rpc(&self) -> Value {
        let content_type = self.header_opt("content-type").unwrap_or_default();
        let messages: Vec<Value> = if content_type.starts_with("text/event-stream") {
            sse_data(&self.body)
                .into_iter()
                .filter(|data| !data.trim().is_empty())
                .filter_map(|data| serde_json::from_str(&data).ok())
                .collect()
        } else {
            vec![self.json()]
        };
        let found = messages
            .iter()
            .find(|message| message.get("id").is_some())
            .or(messages.first())
            .cloned();
        found.unwrap_or_else(|| panic!("no JSON-RPC message in the body\n{}", self.describe()))
    }
}

/// The `data` payloads of an SSE body, one per event.
pub fn sse_data(body: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        if line.is_empty() {
            if let Some(data) = current.take() {
                events.push(data);
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            match current.as_mut() {
                Some(data) => {
                    data.push('\n');
                    data.push_str(rest);
                }
                None => current = Some(rest.to_string()),
            }
        }
    }
    if let Some(data) = current {
        events.push(data);
    }
    events
}

/// One `WWW-Authenticate` challenge: `Scheme k="v", k2="v2"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Parses one challenge strictly: a token scheme, then comma-separated
    /// `name="value"` (or `name=token`) pairs. A backslash or quote inside a
    /// value, a repeated parameter or trailing junk is an error (RFC 6750
    /// §3 and the requirements' item 11).
    pub fn parse(raw: &str) -> Result<Challenge, String> {
        let raw = raw.trim();
        let (scheme, rest) = match raw.find(' ') {
            Some(index) => (&raw[..index], raw[index + 1..].trim_start()),
            None => (raw, ""),
        };
        if scheme.is_empty() || !scheme.chars().all(is_token_char) {
            return Err(format!("bad scheme {scheme:?}"));
        }
        let mut params: Vec<(String, String)> = Vec::new();
        let mut rest = rest;
        while !rest.is_empty() {
            let eq = rest
                .find('=')
                .ok_or_else(|| format!("parameter without `=` at {rest:?}"))?;
            let name = rest[..eq].trim();
            if name.is_empty() || !name.chars().all(is_token_char) {
                return Err(format!("bad parameter name {name:?}"));
            }
            let after = rest[eq + 1..].trim_start();
            let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| format!("unterminated quoted value for {name}"))?;
                let value = &quoted[..end];
                if value.contains('\\') {
                    return Err(format!("backslash in the value of {name}"));
                }
                (value, &quoted[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                let value = after[..end].trim();
                if !value.chars().all(is_token_char) {
                    return Err(format!("bad token value for {name}: {value:?}"));
                }
                (value, &after[end..])
            };
            if params
                .iter()
                .any(|(existing, _)| existing.eq_ignore_ascii_case(name))
            {
                return Err(format!("parameter {name} appears twice"));
            }
            params.push((name.to_ascii_lowercase(), value.to_string()));
            let tail = tail.trim_start();
            rest = match tail.strip_prefix(',') {
                Some(next) => next.trim_start(),
                None if tail.is_empty() => "",
                None => return Err(format!("junk after {name}: {tail:?}")),
            };
        }
        Ok(Challenge {
            scheme: scheme.to_string(),
            params,
        })
    }

    /// The value of parameter `name` (lowercase).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A JSON-RPC `initialize` request body.
pub fn initialize_body(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "initialize",
        "params": {
            "protocolVersion": RAW_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "mcp-builder-e2e", "version": "0.0.0" }
        }
    })
}

/// The `notifications/initialized` notification.
pub fn initialized_notification() -> Value {
    json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })
}

/// A `tools/call` request body.
pub fn tools_call_body(id: u64, tool: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": { "name": tool, "arguments": arguments }
    })
}

/// A raw MCP session opened by hand over HTTP.
#[derive(Debug, Clone)]
pub struct RawSession {
    pub session_id: String,
    pub protocol_version: String,
}

/// Raw MCP over HTTP against one endpoint.
#[derive(Debug, Clone)]
pub struct RawMcp {
    pub http: reqwest::Client,
    pub url: String,
}

impl RawMcp {
    pub fn new(url: impl Into<String>) -> RawMcp {
        RawMcp {
            http: client(),
            url: url.into(),
        }
    }

    /// A POST to the endpoint with the streamable-HTTP headers, optional
    /// bearer token and session.
    pub fn post(
        &self,
        token: Option<&str>,
        session: Option<&RawSession>,
        body: &Value,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", &session.session_id)
                .header("mcp-protocol-version", &session.protocol_version);
        }
        request
    }

    /// POSTs `body` and reads the reply.
    pub async fn send(
        &self,
        token: Option<&str>,
        session: Option<&RawSession>,
        body: &Value,
    ) -> Reply {
        Reply::fetch(self.post(token, session, body)).await
    }

    /// `initialize` + `notifications/initialized` with `token`; asserts both
    /// succeed and returns the session.
    pub async fn open_session(&self, token: &str) -> RawSession {
        let reply = self.send(Some(token), None, &initialize_body(1)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "initialize with a valid token\n{}",
            reply.describe()
        );
        let session_id = reply.header("mcp-session-id").to_string();
        let message = reply.json_rpc();
        let protocol_version = message["result"]["protocolVersion"]
            .as_str()
            .unwrap_or_else(|| panic!("initialize result without protocolVersion: {message}"))
            .to_string();
        let session = RawSession {
            session_id,
            protocol_version,
        };
        let reply = self
            .send(Some(token), Some(&session), &initialized_notification())
            .await;
        assert!(
            reply.status.is_success(),
            "notifications/initialized with a valid token\n{}",
            reply.describe()
        );
        session
    }
}

impl RawMcp {
    /// An `initialize` without a token must get 401 with a Bearer challenge
    /// that points at the resource metadata.
    pub async fn expect_challenge(&self) -> Result<(), String> {
        let anonymous = self.send(None, None, &initialize_body(1)).await;
        anonymous.expect(StatusCode::UNAUTHORIZED, "initialize without a token")?;
        let challenge = anonymous.header("www-authenticate");
        if !challenge.starts_with("Bearer ") || !challenge.contains("resource_metadata=") {
            return Err(format!(
                "401 without a Bearer challenge: {}",
                anonymous.describe()
            ));
        }
        Ok(())
    }
}

/// One HTTP/1.1 exchange over a plain TCP socket, for requests reqwest will
/// not send as a test needs them (a `Content-Length` larger than the bytes
/// sent, a chunked body the server stops reading). Blocking: call it from
/// `spawn_blocking`.
///
/// Writes `head` (request line and headers; `Connection: close` and the blank
/// line are added) and then `body`, giving up on the body when a write fails
/// or stalls for `timeout` (the server may answer early and stop reading),
/// then reads the answer until the server closes the connection or
/// `timeout` passes. Panics if no status line arrives.
pub fn raw_exchange(addr: &str, head: &str, body: &[u8], timeout: Duration) -> Reply {
    use std::io::{Read, Write};

    let mut stream = std::net::TcpStream::connect(addr)
        .unwrap_or_else(|error| panic!("connect to {addr}: {error}"));
    stream
        .set_write_timeout(Some(timeout))
        .expect("write timeout");
    stream
        .set_read_timeout(Some(timeout))
        .expect("read timeout");
    let head = format!("{}\r\nConnection: close\r\n\r\n", head.trim_end());
    let mut outgoing = head.as_bytes().to_vec();
    outgoing.extend_from_slice(body);
    for piece in outgoing.chunks(64 * 1024) {
        if stream.write_all(piece).is_err() {
            break;
        }
    }
    let mut received = Vec::new();
    let deadline = std::time::Instant::now() + timeout;
    let mut buffer = [0u8; 16 * 1024];
    while std::time::Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
    }
    let text = String::from_utf8_lossy(&received).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let request_line = outgoing_request_line(&outgoing);
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("{request_line}: no HTTP status line in {text:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()),
                reqwest::header::HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    let (method, path) = request_line.split_once(' ').unwrap_or(("GET", "/"));
    Reply {
        method: Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET),
        url: format!("http://{addr}{}", path.split(' ').next().unwrap_or("/")),
        status,
        headers,
        body: body.to_string(),
    }
}

fn outgoing_request_line(outgoing: &[u8]) -> String {
    let end = outgoing
        .windows(2)
        .position(|pair| pair == b"\r\n")
        .unwrap_or(outgoing.len());
    String::from_utf8_lossy(&outgoing[..end]).into_owned()
}
