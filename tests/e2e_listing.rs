//! Filtered listings and gated prompts and resources (issue 19, item 4),
//! end to end.
//!
//! The bundled example is protected with `mcp-builder add-auth` (the flags
//! of `e2e_attacks.rs`, so the dependency build in `<target>/e2e-projects`
//! is shared), with two edits a user would make: `policy.rs` maps a prompt
//! and a resource URI prefix to `read:tasks`, and `TASKS_JSON=1` switches
//! the server to rmcp's stateless JSON answers. One binary, started twice
//! against a test issuer on 127.0.0.1:
//!
//! - `tools_list_shows_each_token_what_it_may_call`: tokens with no scope,
//!   `read:tasks` and every scope list tools in a session (answers as
//!   server-sent events) and statelessly (JSON answers): nothing, only
//!   `search-tasks`, all three. The session keeps working afterwards, and a
//!   batch holding `tools/list` never shows more than the token may call.
//!   (`shared/docs/mcp-auth-requirements.md` item 23.)
//! - `prompts_and_resources_are_gated_when_mapped`: `prompts/get` and
//!   `resources/read` get 403 `insufficient_scope` naming the mapped scope
//!   without it, and reach rmcp with it.
//!
//! Run: `cargo test --test e2e_listing -- --nocapture`.

mod support;

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{
    http::{RawMcp, RawSession, Reply, sse_data},
    issuer::Issuer,
    project::{ServerProcess, cargo, free_port, protected_example_copy, this_crate_target_dir},
};

const DOMAIN: &str = "tasks-test.auth0.com";
const AUDIENCE: &str = "https://tasks.example.com/mcp";
const ALL_SCOPES: &str = "read:tasks write:tasks delete:tasks";
const ALL_TOOLS: [&str; 3] = ["create-task", "delete-task", "search-tasks"];

static SERVER_BINARY: OnceLock<PathBuf> = OnceLock::new();

/// The protected example with mapped prompts and resources and a switch to
/// JSON answers, built on first use and copied out of the shared target
/// directory.
fn server_binary() -> PathBuf {
    SERVER_BINARY
        .get_or_init(|| {
            let (root, project) = protected_example_copy("e2e-listing");
            replace_once(
                &project.join("src/auth/policy.rs"),
                "pub const PROMPT_SCOPES: &[(&str, &[&str])] = &[];",
                r#"pub const PROMPT_SCOPES: &[(&str, &[&str])] = &[("weekly-summary", &["read:tasks"])];"#,
            );
            replace_once(
                &project.join("src/auth/policy.rs"),
                "pub const RESOURCE_SCOPES: &[(&str, &[&str])] = &[];",
                r#"pub const RESOURCE_SCOPES: &[(&str, &[&str])] = &[("tasks://*", &["read:tasks"])];"#,
            );
            replace_once(
                &project.join("src/main.rs"),
                "mcp_auth.server_config(StreamableHttpServerConfig::default())",
                "mcp_auth.server_config(if std::env::var_os(\"TASKS_JSON\").is_some() {
            StreamableHttpServerConfig::default()
                .with_legacy_session_mode(false)
                .with_json_response(true)
        } else {
            StreamableHttpServerConfig::default()
        })",
            );
            let target_dir = this_crate_target_dir().join("e2e-projects");
            cargo(&project, &target_dir, &["build"], Duration::from_secs(1200));
            let exe = format!("tasks-server{}", std::env::consts::EXE_SUFFIX);
            let binary = root.join(format!("listing-{exe}"));
            fs::copy(target_dir.join("debug").join(&exe), &binary).expect("copy the server binary");
            binary
        })
        .clone()
}

fn replace_once(path: &Path, before: &str, after: &str) {
    let source = fs::read_to_string(path).expect("read a generated file");
    assert_eq!(
        source.matches(before).count(),
        1,
        "`{before}` in {}",
        path.display()
    );
    fs::write(path, source.replacen(before, after, 1)).expect("write a generated file");
}

/// The server, running with `extra` settings, and its endpoint.
struct Server {
    _process: ServerProcess,
    raw: RawMcp,
    _cwd: tempfile::TempDir,
}

async fn start_server(issuer: &Issuer, extra: &[(&str, &str)]) -> Server {
    let binary = tokio::task::block_in_place(server_binary);
    let cwd = tempfile::TempDir::new().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let mut env = issuer.auth0_server_env(&addr, DOMAIN, AUDIENCE, &format!("{base}/mcp"));
    env.push(("TASKS_ADDR", addr));
    env.extend(extra.iter().map(|(name, value)| (*name, value.to_string())));
    let log = cwd.path().join("server.log");
    let mut process = ServerProcess::spawn(&binary, cwd.path(), &env, log);
    process
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;
    Server {
        _process: process,
        raw: RawMcp::new(format!("{base}/mcp")),
        _cwd: cwd,
    }
}

fn list_body(id: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": "tools/list" })
}

/// The names of the tools in a `tools/list` answer.
fn tool_names(message: &Value) -> BTreeSet<String> {
    message["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("not a tools/list result: {message}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn names(tools: &[&str]) -> BTreeSet<String> {
    tools.iter().map(|tool| tool.to_string()).collect()
}

/// Every tool name anywhere in a reply (any message, any event).
fn every_tool_named(reply: &Reply) -> BTreeSet<String> {
    let messages: Vec<Value> = if reply
        .header_opt("content-type")
        .unwrap_or_default()
        .starts_with("text/event-stream")
    {
        sse_data(&reply.body)
            .iter()
            .filter_map(|data| serde_json::from_str(data).ok())
            .collect()
    } else {
        serde_json::from_str(&reply.body).into_iter().collect()
    };
    let mut found = BTreeSet::new();
    let mut stack = messages;
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                if let Some(Value::String(name)) = map.get("name") {
                    found.insert(name.clone());
                }
                stack.extend(map.into_iter().map(|(_, value)| value));
            }
            _ => {}
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_list_shows_each_token_what_it_may_call() {
    let issuer = Issuer::start();
    let tokens = [
        ("no scope", "", names(&[])),
        ("read:tasks", "read:tasks", names(&["search-tasks"])),
        ("every scope", ALL_SCOPES, names(&ALL_TOOLS)),
    ];
    let mut failures = Vec::new();

    // A session: rmcp answers with server-sent events.
    let server = start_server(&issuer, &[]).await;
    for (label, scopes, expected) in &tokens {
        let token = issuer.token(&issuer.claims_for(label, scopes, AUDIENCE));
        let session = server.raw.open_session(&token).await;
        let reply = server
            .raw
            .send(Some(&token), Some(&session), &list_body(json!(2)))
            .await;
        if reply.status != StatusCode::OK
            || !reply
                .header("content-type")
                .starts_with("text/event-stream")
        {
            failures.push(format!("{label}, SSE: {}", reply.describe()));
            continue;
        }
        let seen = tool_names(&reply.json_rpc());
        if &seen != expected {
            failures.push(format!(
                "{label}, SSE: listed {seen:?}, expected {expected:?}"
            ));
        }
        // A paging client's second request (rmcp serves one page): the
        // cursor comes back as rmcp sends it, the list as trimmed.
        let page = json!({ "jsonrpc": "2.0", "id": "page", "method": "tools/list",
            "params": { "cursor": "0" } });
        let reply = server.raw.send(Some(&token), Some(&session), &page).await;
        if reply.status == StatusCode::OK && reply.json_rpc().get("result").is_some() {
            let seen = tool_names(&reply.json_rpc());
            if !seen.is_subset(expected) {
                failures.push(format!("{label}, page: listed {seen:?}"));
            }
        }
        session_still_works(&server, &token, &session, scopes, label, &mut failures).await;

        // A batch with tools/list in it (rmcp 3 refuses batches): whatever
        // comes back names no tool the token may not call.
        let batch = json!([list_body(json!(10)), { "jsonrpc": "2.0", "id": 11, "method": "ping" }]);
        let reply = server.raw.send(Some(&token), Some(&session), &batch).await;
        let leaked: Vec<String> = every_tool_named(&reply)
            .into_iter()
            .filter(|name| ALL_TOOLS.contains(&name.as_str()) && !expected.contains(name))
            .collect();
        if !leaked.is_empty() {
            failures.push(format!(
                "{label}, batch: listed {leaked:?}\n{}",
                reply.describe()
            ));
        }
    }

    // Stateless, with JSON answers.
    let server = start_server(&issuer, &[("TASKS_JSON", "1")]).await;
    for (label, scopes, expected) in &tokens {
        let token = issuer.token(&issuer.claims_for(label, scopes, AUDIENCE));
        let reply = server
            .raw
            .send(Some(&token), None, &list_body(json!("two")))
            .await;
        if reply.status != StatusCode::OK
            || !reply.header("content-type").starts_with("application/json")
        {
            failures.push(format!("{label}, JSON: {}", reply.describe()));
            continue;
        }
        let message = reply.json();
        let seen = tool_names(&message);
        if &seen != expected || message["id"] != "two" {
            failures.push(format!(
                "{label}, JSON: listed {seen:?}, expected {expected:?}: {message}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// After listing, the same session still calls what the token may call.
async fn session_still_works(
    server: &Server,
    token: &str,
    session: &RawSession,
    scopes: &str,
    label: &str,
    failures: &mut Vec<String>,
) {
    let call = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": { "name": "search-tasks", "arguments": { "query": "" } } });
    let reply = server.raw.send(Some(token), Some(session), &call).await;
    let expected = if scopes.contains("read:tasks") {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    if reply.status != expected
        || (expected == StatusCode::OK && reply.json_rpc().get("result").is_none())
    {
        failures.push(format!("{label}, call after listing: {}", reply.describe()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prompts_and_resources_are_gated_when_mapped() {
    let issuer = Issuer::start();
    let server = start_server(&issuer, &[]).await;
    let none = issuer.token(&issuer.claims_for("nobody", "", AUDIENCE));
    let reader = issuer.token(&issuer.claims_for("reader", "read:tasks", AUDIENCE));
    let prompt = |name: &str| json!({ "jsonrpc": "2.0", "id": 4, "method": "prompts/get", "params": { "name": name } });
    let read = |uri: &str| json!({ "jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": { "uri": uri } });
    let none_session = server.raw.open_session(&none).await;
    let reader_session = server.raw.open_session(&reader).await;
    // (what, token, session, body, expected status, scope the 403 names)
    let cases = [
        (
            "mapped prompt, no scope",
            &none,
            &none_session,
            prompt("weekly-summary"),
            StatusCode::FORBIDDEN,
            Some("read:tasks"),
        ),
        (
            "mapped prompt, read:tasks",
            &reader,
            &reader_session,
            prompt("weekly-summary"),
            StatusCode::OK,
            None,
        ),
        (
            "unmapped prompt, read:tasks",
            &reader,
            &reader_session,
            prompt("other"),
            StatusCode::FORBIDDEN,
            Some(ALL_SCOPES),
        ),
        (
            "mapped resource, no scope",
            &none,
            &none_session,
            read("tasks://1"),
            StatusCode::FORBIDDEN,
            Some("read:tasks"),
        ),
        (
            "mapped resource, read:tasks",
            &reader,
            &reader_session,
            read("tasks://1"),
            StatusCode::OK,
            None,
        ),
        (
            "unmapped resource, read:tasks",
            &reader,
            &reader_session,
            read("file:///etc/passwd"),
            StatusCode::FORBIDDEN,
            Some(ALL_SCOPES),
        ),
    ];
    let mut failures = Vec::new();
    for (what, token, session, body, status, scope) in cases {
        let reply = server.raw.send(Some(token), Some(session), &body).await;
        let ok = reply.status == status
            && match scope {
                Some(scope) => {
                    let challenge = reply.challenge();
                    let named: BTreeSet<&str> = challenge
                        .param("scope")
                        .unwrap_or_default()
                        .split(' ')
                        .collect();
                    challenge.param("error") == Some("insufficient_scope")
                        && named == scope.split(' ').collect()
                }
                // Past the gate: rmcp answers (the example serves no prompts
                // or resources, so with an error of its own).
                None => reply.json_rpc()["id"] == body["id"],
            };
        if !ok {
            failures.push(format!("{what}: expected {status}\n{}", reply.describe()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
