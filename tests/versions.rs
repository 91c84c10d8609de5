//! rmcp major lines: add-auth on the fixture projects of `tests/fixtures/versions/`
//! (one small server per rmcp line, each with its own `Cargo.lock` pinning
//! rmcp and rmcp-macros, see the README there).
//!
//! Each fixture is copied, changed by the real `mcp-builder` binary (which
//! must name the version the lock resolves), compiled, checked with
//! `cargo fmt --check`, started, and probed over HTTP against a test issuer
//! on 127.0.0.1: 401 with a Bearer challenge without a token, `initialize`
//! with a real token, a tool call allowed with its scope and refused without
//! it, the metadata document public, and rmcp's own `Host` check where the
//! release has one. The builds share `<target>/e2e-projects` with
//! `tests/shapes.rs`: the locks keep every crate but rmcp at the versions of
//! `tests/fixtures/shapes/Cargo.lock`.
//!
//! Run: `cargo test --test versions -- --nocapture` (`VERSIONS=rmcp2` picks
//! fixtures); `-- --ignored` builds the rmcp 0.x fixture too.

mod support;

use std::{
    fs,
    path::Path,
    time::{Duration, Instant},
};

use reqwest::{StatusCode, header::HOST};
use serde_json::json;
use support::{
    http::{RawMcp, Reply, client, initialize_body, tools_call_body},
    issuer::Issuer,
    project::{
        ServerProcess, copy_project, free_port, run_add_auth, this_crate_target_dir, tree,
        try_cargo,
    },
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/versions");
const DOMAIN: &str = "versions-test.auth0.com";
const AUDIENCE: &str = "https://versions.example.com/mcp";
/// The public host of `MCP_RESOURCE_URL`: not loopback, so rmcp's own
/// `Host` check (1.4 and later) lets it through only if the generated
/// `server_config` added it.
const PUBLIC_HOST: &str = "mcp.versions.test";
const FLAGS: &[&str] = &[
    "--provider",
    "auth0",
    "--domain",
    DOMAIN,
    "--audience",
    AUDIENCE,
    "--scopes",
    "read:echo,write:echo,delete:echo",
    "--yes",
];

/// A fixture pinned to one rmcp release.
struct Fixture {
    dir: &'static str,
    binary: &'static str,
    /// The release its `Cargo.lock` pins (what the `Found` line must name).
    rmcp: &'static str,
    /// The release checks the `Host` header itself (1.4 and later).
    host_check: bool,
}

const WIRED: &[Fixture] = &[
    Fixture {
        dir: "rmcp1-struct-literal",
        binary: "version-rmcp1-struct-literal",
        rmcp: "1.2.0",
        host_check: false,
    },
    Fixture {
        dir: "rmcp1-builder",
        binary: "version-rmcp1-builder",
        rmcp: "1.8.0",
        host_check: true,
    },
    Fixture {
        dir: "rmcp2",
        binary: "version-rmcp2",
        rmcp: "2.2.0",
        host_check: true,
    },
];

const RMCP0: Fixture = Fixture {
    dir: "rmcp0",
    binary: "version-rmcp0",
    rmcp: "0.14.0",
    host_check: false,
};

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_1_and_2_servers_compile_and_protect_the_endpoint() {
    let only: Option<Vec<String>> = std::env::var("VERSIONS")
        .ok()
        .map(|list| list.split(',').map(str::to_string).collect());
    let chosen = WIRED.iter().filter(|fixture| {
        only.as_ref()
            .is_none_or(|only| only.iter().any(|name| name == fixture.dir))
    });
    check_all(chosen).await;
}

/// rmcp 0.x (0.14): the same module with `server_config` leaving the config
/// alone. Ignored by default: it compiles another rmcp (about a minute).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "builds an rmcp 0.x server; run with --ignored"]
async fn rmcp_0_server_compiles_and_protects_the_endpoint() {
    check_all([&RMCP0].into_iter()).await;
}

async fn check_all<'a>(fixtures: impl Iterator<Item = &'a Fixture>) {
    let target_dir = this_crate_target_dir().join("e2e-projects");
    let issuer = Issuer::start();
    let mut failures = Vec::new();
    let mut timings = Vec::new();
    for fixture in fixtures {
        let started = Instant::now();
        let workspace = tempfile::TempDir::new().expect("temp dir");
        let result = check_fixture(fixture, workspace.path(), &target_dir, &issuer).await;
        timings.push(format!("{}: {:.1?}", fixture.dir, started.elapsed()));
        if let Err(failure) = result {
            failures.push(format!("[{}] {failure}", fixture.dir));
        }
    }
    eprintln!("version timings:\n  {}", timings.join("\n  "));
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Copy, add-auth, build, fmt, run, probe.
async fn check_fixture(
    fixture: &Fixture,
    workspace: &Path,
    target_dir: &Path,
    issuer: &Issuer,
) -> Result<(), String> {
    let project = workspace.join(fixture.dir);
    copy_project(&Path::new(FIXTURES).join(fixture.dir), &project);
    let lock_before = fs::read_to_string(project.join("Cargo.lock")).map_err(|e| e.to_string())?;

    let (ok, stderr) = add_auth(&project);
    if !ok {
        return Err(format!("add-auth failed:\n{stderr}"));
    }
    let found = format!(
        "       Found `{}`: rmcp {} (Cargo.lock) [server, macros, transport-streamable-http-server], ",
        fixture.binary, fixture.rmcp
    );
    if !stderr.lines().any(|line| line.starts_with(&found)) {
        return Err(format!(
            "add-auth did not name the locked rmcp:\n  {found}\n--- stderr ---\n{stderr}"
        ));
    }
    let note = format!("rmcp {} checks no `Host` header", fixture.rmcp);
    if stderr.contains(&note) == fixture.host_check {
        return Err(format!(
            "the `Host` note is {} (rmcp {}):\n--- stderr ---\n{stderr}",
            if fixture.host_check {
                "there"
            } else {
                "missing"
            },
            fixture.rmcp
        ));
    }

    let cargo = |args: &'static [&'static str]| {
        tokio::task::block_in_place(|| {
            try_cargo(&project, target_dir, args, Duration::from_secs(1200))
        })
    };
    cargo(&["build"])?;
    // Checked now, reported after the HTTP checks (which do not need it).
    let formatted = cargo(&["fmt", "--check"]);
    // The build took every crate from the fixture's lock (no registry
    // update, no crate compiled only for this test).
    let lock_after = fs::read_to_string(project.join("Cargo.lock")).map_err(|e| e.to_string())?;
    let added: Vec<String> = locked_packages(&lock_after)
        .into_iter()
        .filter(|package| !locked_packages(&lock_before).contains(package))
        .collect();
    if !added.is_empty() {
        return Err(format!(
            "the build added {added:?} to Cargo.lock: regenerate the fixture's lock (see the README)"
        ));
    }

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // A public https resource; the test talks to the server at 127.0.0.1
    // and sends this host in `Host` where it matters.
    let resource = format!("https://{PUBLIC_HOST}/mcp");
    let binary = target_dir.join("debug").join(format!(
        "{}{}",
        fixture.binary,
        std::env::consts::EXE_SUFFIX
    ));
    let mut server = ServerProcess::spawn(
        &binary,
        &project,
        &issuer.auth0_server_env(&format!("127.0.0.1:{port}"), DOMAIN, AUDIENCE, &resource),
        workspace.join("server.log"),
    );
    server
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;
    let result = probe(fixture, &base, &resource, issuer).await;
    if result.is_err() {
        eprintln!("--- {} server log ---\n{}", fixture.dir, server.log());
    }
    result.and(formatted)
}

/// The HTTP checks against a running wired fixture.
async fn probe(
    fixture: &Fixture,
    base: &str,
    resource: &str,
    issuer: &Issuer,
) -> Result<(), String> {
    let raw = RawMcp::new(format!("{base}/mcp"));
    raw.expect_challenge().await?;

    let token = issuer.token(&issuer.claims_for("alice", "read:echo", AUDIENCE));
    let initialized = raw.send(Some(&token), None, &initialize_body(1)).await;
    initialized.expect(StatusCode::OK, "initialize with a valid token")?;

    let session = raw.open_session(&token).await;
    let call = tools_call_body(2, "echo", json!({ "text": "hello" }));
    let called = raw.send(Some(&token), Some(&session), &call).await;
    called.expect(StatusCode::OK, "tools/call with read:echo")?;
    if !called.body.contains("hello") {
        return Err(format!("tools/call did not echo: {}", called.describe()));
    }
    // The proposed hierarchy: write:echo implies read:echo.
    let writer = issuer.token(&issuer.claims_for("alice", "write:echo", AUDIENCE));
    let session = raw.open_session(&writer).await;
    let implied = raw.send(Some(&writer), Some(&session), &call).await;
    implied.expect(
        StatusCode::OK,
        "tools/call with write:echo (implies read:echo)",
    )?;
    let other = issuer.token(&issuer.claims_for("alice", "profile", AUDIENCE));
    let session = raw.open_session(&other).await;
    let refused = raw.send(Some(&other), Some(&session), &call).await;
    refused.expect(
        StatusCode::FORBIDDEN,
        "tools/call with no scope of the project",
    )?;

    // The public host of MCP_RESOURCE_URL gets through rmcp's `Host` check
    // (added by `server_config`); another host does not, where rmcp checks.
    let with_host = |host: String| {
        Reply::fetch(
            raw.post(Some(&token), None, &initialize_body(1))
                .header(HOST, host),
        )
    };
    let public = with_host(PUBLIC_HOST.to_string()).await;
    public.expect(StatusCode::OK, "initialize addressed to the public host")?;
    let rebound = with_host("rebind.example".to_string()).await;
    let expected = if fixture.host_check {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    rebound.expect(expected, "initialize addressed to another host")?;

    let metadata_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
    let metadata = Reply::fetch(client().get(&metadata_url)).await;
    metadata.expect(StatusCode::OK, "GET the metadata without a token")?;
    if metadata.json()["resource"] != resource {
        return Err(format!(
            "metadata `resource` is not {resource}: {}",
            metadata.describe()
        ));
    }
    Ok(())
}

/// `name version` of every package a `Cargo.lock` holds.
fn locked_packages(lock: &str) -> Vec<String> {
    let mut packages = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"'));
        } else if let (Some(value), Some(name)) = (line.strip_prefix("version = "), name.take()) {
            packages.push(format!("{name} {}", value.trim_matches('"')));
        }
    }
    packages
}

/// Runs `mcp-builder add-auth --no-verify --path <project> FLAGS`;
/// (success, stderr).
fn add_auth(project: &Path) -> (bool, String) {
    run_add_auth(project, FLAGS)
}

/// rmcp 0.1 has no streamable HTTP server: refused for its version, with
/// the upgrade step, before anything else is read; the tree stays as it was.
#[test]
fn rmcp_without_streamable_http_is_refused() {
    let dir = tempfile::TempDir::new().unwrap();
    let project = dir.path().join("rmcp0.1-sse");
    copy_project(&Path::new(FIXTURES).join("rmcp0.1-sse"), &project);
    let before = tree(&project);
    let (ok, stderr) = add_auth(&project);
    assert!(!ok);
    assert_eq!(
        stderr.trim_end(),
        "error: `version-rmcp0-sse` uses rmcp 0.1.5 (Cargo.lock), which has no streamable HTTP server: \
         it serves MCP over the legacy SSE transport only, which the MCP specification deprecated \
         (2025-03-26) in favour of streamable HTTP\n\
         help: upgrade rmcp (`cargo add rmcp@3 --features server,macros,transport-streamable-http-server`), \
         serve MCP with `StreamableHttpService` mounted by `Router::new().nest_service(\"/mcp\", service)`, \
         then run add-auth again"
    );
    assert_eq!(tree(&project), before, "files changed");
}
