//! Checks a running MCP server against the MCP authorization rules, from the
//! outside, the way a client meets it. Works on any MCP server, not only the
//! ones add-auth generated.
//!
//! Only tools the token lacks a scope for are called, with empty arguments:
//! a correct server refuses them before they run. When the token's scopes
//! are unknown (an opaque token), no tool is called.

use std::collections::BTreeSet;

use reqwest::{
    StatusCode, Url,
    blocking::{RequestBuilder, Response},
    header::{AUTHORIZATION, WWW_AUTHENTICATE},
};
use serde_json::{Value, json};

use super::{
    challenge,
    http::{self, Client},
    report::Check,
    settings::Settings,
};

const PROTOCOL_VERSION: &str = "2025-11-25";
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The token the checks that need one use.
pub enum Token<'a> {
    /// A token, and its scopes when they are known (not for opaque tokens).
    Got {
        token: &'a str,
        scopes: Option<&'a BTreeSet<String>>,
    },
    /// None could be had (a check before says why): those checks fail.
    Missing,
    /// None was asked for, for this reason: those checks are skipped.
    Skipped(&'a str),
}

/// Every check, in the order a client meets them.
pub fn check(client: &Client, settings: &Settings, server: &str, token: Token) -> Vec<Check> {
    let mut checks = Vec::new();
    let url = match http::url("--server", server) {
        Ok(url) => url,
        Err(err) => return vec![Check::fail("server URL", format!("{err:#}"))],
    };
    let server = url.as_str().trim_end_matches('/').to_string();
    let probe = Probe {
        client,
        url: &server,
    };

    checks.extend(metadata_checks(client, settings, &url, &server));

    // Without a token: 401 and a challenge that leads to the metadata.
    let name = "no token: 401 with resource_metadata";
    checks.push(match probe.post(None, None, &initialize(1)) {
        Err(err) => Check::fail(name, err),
        Ok(response) if response.status() != StatusCode::UNAUTHORIZED => {
            Check::fail(name, format!("got {}, expected 401", response.status()))
        }
        Ok(response) => match bearer(&response) {
            Err(err) => Check::fail(name, err),
            Ok(challenge) if challenge.param("resource_metadata").is_none() => {
                Check::fail(name, "the Bearer challenge has no resource_metadata")
            }
            Ok(challenge) if challenge.param("error").is_some() => Check::fail(
                name,
                "a request without a token must not get an `error` attribute",
            ),
            Ok(challenge) => Check::pass(
                name,
                challenge.param("resource_metadata").unwrap_or_default(),
            ),
        },
    });

    let name = "invalid token: 401 invalid_token";
    checks.push(
        match probe.post(Some("not.a.token"), None, &initialize(2)) {
            Err(err) => Check::fail(name, err),
            Ok(response) if response.status() != StatusCode::UNAUTHORIZED => {
                Check::fail(name, format!("got {}, expected 401", response.status()))
            }
            Ok(response) => match bearer(&response) {
                Err(err) => Check::fail(name, err),
                Ok(challenge) if challenge.param("error") == Some("invalid_token") => Check::pass(
                    name,
                    challenge
                        .param("error_description")
                        .unwrap_or("invalid_token"),
                ),
                Ok(challenge) => Check::fail(
                    name,
                    format!(
                        "error is {:?}, expected \"invalid_token\"",
                        challenge.param("error")
                    ),
                ),
            },
        },
    );

    match token {
        Token::Got { token, scopes } => {
            checks.extend(token_checks(&probe, settings, token, scopes));
        }
        Token::Missing => checks.push(Check::fail(ACCEPTED, "no token to try (see above)")),
        Token::Skipped(why) => {
            let mut names = vec![ACCEPTED.to_string(), TOOLS_LIST.to_string()];
            names.extend(
                settings
                    .tool_scopes
                    .iter()
                    .filter(|(_, needed)| !needed.is_empty())
                    .map(|(tool, needed)| scope_check_name(tool, needed)),
            );
            checks.extend(names.into_iter().map(|name| Check::skip(name, why)));
        }
    }
    checks
}

const ACCEPTED: &str = "token accepted by initialize";
const TOOLS_LIST: &str = "tools/list with the token";

/// "2 tools: a, b": a server may list only what the token can call.
fn listed(tools: &[Value]) -> String {
    let names: Vec<&str> = tools
        .iter()
        .filter_map(|tool| tool.get("name").and_then(Value::as_str))
        .collect();
    let noun = if tools.len() == 1 { "tool" } else { "tools" };
    if names.is_empty() {
        format!("{} {noun}", tools.len())
    } else {
        format!("{} {noun}: {}", tools.len(), names.join(", "))
    }
}

fn scope_check_name(tool: &str, needed: &[String]) -> String {
    format!("{tool} without {}: 403", needed.join(" "))
}

fn metadata_checks(client: &Client, settings: &Settings, url: &Url, server: &str) -> Vec<Check> {
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    let mut checks = Vec::new();
    let mut document = None;
    for (name, location) in [
        (
            "metadata at the path-inserted URL",
            format!("{origin}{WELL_KNOWN}{path}"),
        ),
        ("metadata at the root URL", format!("{origin}{WELL_KNOWN}")),
    ] {
        let fetched = client
            .send(client.get(&location))
            .map_err(|err| format!("GET {location}: {err}"))
            .and_then(|response| match response.status() {
                StatusCode::OK => client
                    .text(response)
                    .map_err(|err| format!("GET {location}: {err}"))
                    .and_then(|body| {
                        serde_json::from_str::<Value>(&body)
                            .map_err(|err| format!("GET {location}: not JSON: {err}"))
                    }),
                status => Err(format!("GET {location}: {status}")),
            });
        match fetched {
            Ok(doc) => {
                checks.push(Check::pass(name, location));
                document.get_or_insert(doc);
            }
            Err(err) => checks.push(Check::fail(name, err)),
        }
    }
    let Some(document) = document else {
        return checks;
    };
    let resource = document
        .get("resource")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    checks.push(Check::new(
        "metadata resource is this URL",
        resource.trim_end_matches('/') == server,
        if resource.trim_end_matches('/') == server {
            resource.to_string()
        } else {
            format!("`{resource}`, but the server was reached at `{server}`: clients refuse this")
        },
    ));
    let servers: Vec<&str> = document
        .get("authorization_servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let found = servers.contains(&settings.issuer.as_str());
    checks.push(Check::new(
        "authorization_servers lists the issuer",
        found,
        if found {
            settings.issuer.clone()
        } else {
            format!("{servers:?} does not contain `{}` exactly", settings.issuer)
        },
    ));
    checks
}

fn token_checks(
    probe: &Probe,
    settings: &Settings,
    token: &str,
    token_scopes: Option<&BTreeSet<String>>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let name = ACCEPTED;
    let session = match probe.post(Some(token), None, &initialize(3)) {
        Err(err) => {
            checks.push(Check::fail(name, err));
            return checks;
        }
        Ok(response) if response.status() != StatusCode::OK => {
            let detail = match bearer(&response) {
                Ok(challenge) => format!(
                    "got {}: {}",
                    response.status(),
                    challenge
                        .param("error_description")
                        .or(challenge.param("error"))
                        .unwrap_or("")
                ),
                Err(_) => format!("got {}", response.status()),
            };
            checks.push(Check::fail(name, detail));
            return checks;
        }
        Ok(response) => {
            let session = response
                .headers()
                .get("mcp-session-id")
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            checks.push(Check::pass(name, "200"));
            session
        }
    };
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let _ = probe.post(Some(token), session.as_deref(), &initialized);

    let name = TOOLS_LIST;
    let list = json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/list" });
    checks.push(
        match probe
            .post(Some(token), session.as_deref(), &list)
            .and_then(|response| json_rpc(probe.client, response))
        {
            Err(err) => Check::fail(name, err),
            Ok(message) => match message.pointer("/result/tools").and_then(Value::as_array) {
                Some(tools) => Check::pass(name, listed(tools)),
                None => Check::fail(name, format!("no result.tools in {message}")),
            },
        },
    );

    // Which tools the token may call is unknown: calling one could run it.
    let Some(token_scopes) = token_scopes else {
        return checks;
    };
    let mut id = 10;
    for (tool, needed) in &settings.tool_scopes {
        if settings.grants(token_scopes, needed) {
            continue;
        }
        id += 1;
        let name = scope_check_name(tool, needed);
        let call = json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": tool, "arguments": {} }
        });
        checks.push(match probe.post(Some(token), session.as_deref(), &call) {
            Err(err) => Check::fail(name, err),
            Ok(response) if response.status() != StatusCode::FORBIDDEN => Check::fail(
                name,
                format!("got {}, expected 403 insufficient_scope", response.status()),
            ),
            Ok(response) => match bearer(&response) {
                Err(err) => Check::fail(name, err),
                Ok(challenge) if challenge.param("error") != Some("insufficient_scope") => {
                    Check::fail(
                        name,
                        format!(
                            "error is {:?}, expected \"insufficient_scope\"",
                            challenge.param("error")
                        ),
                    )
                }
                Ok(challenge) => {
                    let scope = challenge.param("scope").unwrap_or_default();
                    let named = needed
                        .iter()
                        .all(|s| scope.split_whitespace().any(|t| t == s));
                    Check::new(name, named, format!("scope=\"{scope}\""))
                }
            },
        });
    }
    checks
}

struct Probe<'a> {
    client: &'a Client,
    url: &'a str,
}

impl Probe<'_> {
    fn post(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        body: &Value,
    ) -> Result<Response, String> {
        let mut request: RequestBuilder = self
            .client
            .post(self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .json(body);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        self.client
            .send(request)
            .map_err(|err| format!("POST {}: {err}", self.url))
    }
}

fn initialize(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "mcp-builder-auth-test", "version": env!("CARGO_PKG_VERSION") }
        }
    })
}

fn bearer(response: &Response) -> Result<challenge::Challenge, String> {
    let header = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .ok_or_else(|| format!("{} without a WWW-Authenticate header", response.status()))?;
    let header = header
        .to_str()
        .map_err(|_| "WWW-Authenticate is not text".to_string())?;
    challenge::bearer(header).map_err(|err| format!("WWW-Authenticate `{header}`: {err}"))
}

/// The JSON-RPC message of a response, plain JSON or one SSE event.
fn json_rpc(client: &Client, response: Response) -> Result<Value, String> {
    let status = response.status();
    let body = client.text(response).map_err(|err| err.to_string())?;
    if !status.is_success() {
        return Err(format!("got {status}"));
    }
    let json = body
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .find(|data| data.starts_with('{'))
        .unwrap_or(body.trim());
    serde_json::from_str(json).map_err(|err| format!("not a JSON-RPC message ({err}): {body}"))
}
