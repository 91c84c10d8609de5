//! Stdio-only servers (issue 22): `add-auth --add-http` adds a streamable
//! HTTP transport in front of the stdio server and protects it; `auth remove`
//! takes both out again.
//!
//! The fixtures of `tests/fixtures/stdio/` (a single binary on rmcp 3.x with
//! the shapes' lock, a library and a binary on rmcp 2.x with its own lock)
//! are copied twice: one copy keeps its code (and takes the other's manifest,
//! so that both builds share every dependency), the other gets add-auth. Both
//! are built (in `<target>/e2e-projects`, shared with the other tests), and
//! then:
//!
//! - without `MCP_TRANSPORT`, the protected binary answers `initialize` on
//!   stdin exactly as the original does;
//! - with `MCP_TRANSPORT=http` it listens on `MCP_BIND`: 401 with the
//!   metadata's address without a token, the metadata public, a tool call
//!   with a real token signed by a test issuer on 127.0.0.1, 403 without the
//!   tool's scope;
//! - `cargo fmt --check` and `cargo clippy -D warnings` pass;
//! - `add-auth --check` says it is up to date, a re-run changes nothing, and
//!   `auth remove` leaves every file byte for byte as it was.
//!
//! Run: `cargo test --test stdio_http -- --nocapture`.

mod support;

use std::{
    fs,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::json;
use support::{
    http::{RawMcp, Reply, client, tools_call_body},
    issuer::Issuer,
    project::{
        SHAPES, ServerProcess, copy_project, free_port, run_add_auth, this_crate_target_dir, tree,
        try_cargo,
    },
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stdio");
const DOMAIN: &str = "stdio-test.auth0.com";
const AUDIENCE: &str = "https://stdio.example.com/mcp";
const ADD_HTTP: &[&str] = &[
    "--add-http",
    "--provider",
    "auth0",
    "--domain",
    DOMAIN,
    "--audience",
    AUDIENCE,
    "--scopes",
    "read:echo",
    "--yes",
];
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"stdio-test","version":"1"}}}"#;

struct Fixture {
    dir: &'static str,
    binary: &'static str,
    /// Uses the lock the shapes share (else its own).
    shapes_lock: bool,
}

const ALL: &[Fixture] = &[
    Fixture {
        dir: "single-bin",
        binary: "stdio-single-bin",
        shapes_lock: true,
    },
    Fixture {
        dir: "lib-bin",
        binary: "stdio-lib-bin",
        shapes_lock: false,
    },
];

fn copy_fixture(fixture: &Fixture, to: &Path) {
    copy_project(&Path::new(FIXTURES).join(fixture.dir), to);
    if fixture.shapes_lock {
        fs::copy(Path::new(SHAPES).join("Cargo.lock"), to.join("Cargo.lock"))
            .expect("copy the shapes' lock");
    }
}

/// The files of `dir` but cargo's lock, which builds may rewrite.
fn sources(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = tree(dir);
    files.remove(Path::new("Cargo.lock"));
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn stdio_servers_get_a_protected_http_transport_that_auth_remove_takes_out() {
    let issuer = Issuer::start();
    let target_dir = this_crate_target_dir().join("e2e-projects");
    let mut failures = Vec::new();
    for fixture in ALL {
        let workspace = tempfile::TempDir::new().expect("temp dir");
        if let Err(failure) = check_fixture(fixture, workspace.path(), &target_dir, &issuer).await {
            failures.push(format!("[{}] {failure}", fixture.dir));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

async fn check_fixture(
    fixture: &Fixture,
    workspace: &Path,
    target_dir: &Path,
    issuer: &Issuer,
) -> Result<(), String> {
    let original = workspace.join("original");
    let project = workspace.join(fixture.dir);
    copy_fixture(fixture, &original);
    copy_fixture(fixture, &project);
    let before = sources(&project);

    let (ok, stderr) = run_add_auth(&project, ADD_HTTP);
    if !ok || !stderr.contains("this run adds a streamable HTTP transport to `src/main.rs`") {
        return Err(format!("add-auth --add-http:\n{stderr}"));
    }
    let cargo = |dir: &Path, args: &[&str]| {
        tokio::task::block_in_place(|| try_cargo(dir, target_dir, args, Duration::from_secs(1200)))
    };
    // The original's code with the protected manifest: its stdio answers
    // cannot depend on crates and features it does not use, and both
    // builds then share every dependency (one rmcp build, not two). The
    // original first: both binaries have the same name.
    // Another version, so that cargo keeps the two crates' own builds apart.
    let manifest = fs::read_to_string(project.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let manifest = manifest.replacen("version = \"0.1.0\"", "version = \"0.1.0-original\"", 1);
    fs::write(original.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    cargo(&original, &["build"])?;
    let binary = target_dir.join("debug").join(format!(
        "{}{}",
        fixture.binary,
        std::env::consts::EXE_SUFFIX
    ));
    let original_binary = workspace.join("original-binary");
    fs::copy(&binary, &original_binary).map_err(|e| e.to_string())?;
    let lock = fs::read(project.join("Cargo.lock")).map_err(|e| e.to_string())?;
    cargo(&project, &["build"])?;
    if !fixture.shapes_lock && fs::read(project.join("Cargo.lock")).ok() != Some(lock) {
        return Err("the build changed the fixture's Cargo.lock: regenerate it".into());
    }
    cargo(&project, &["fmt", "--check"])?;
    cargo(
        &project,
        &["clippy", "--all-targets", "--", "-D", "warnings"],
    )?;

    // Each binary is what its sources say: only the protected one knows
    // the HTTP transport.
    let knows_http = |path: &Path| {
        fs::read(path).is_ok_and(|bytes| bytes.windows(13).any(|w| w == b"MCP_TRANSPORT"))
    };
    if knows_http(&original_binary) || !knows_http(&binary) {
        return Err("the original and protected builds were mixed up".into());
    }

    // Stdio: the same answer as before, byte for byte.
    let expected = stdio_initialize(&original_binary, &original)?;
    let answered = stdio_initialize(&binary, &project)?;
    if answered != expected || !expected.contains(r#""result""#) {
        return Err(format!(
            "stdio initialize changed:\n  before: {expected}\n  after:  {answered}"
        ));
    }

    // HTTP, when asked for.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let resource = format!("{base}/mcp");
    let mut env =
        issuer.auth0_server_env(&format!("127.0.0.1:{port}"), DOMAIN, AUDIENCE, &resource);
    env.push(("MCP_TRANSPORT", "http".into()));
    env.push(("MCP_BIND", format!("127.0.0.1:{port}")));
    let mut server = ServerProcess::spawn(&binary, &project, &env, workspace.join("server.log"));
    let metadata_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
    server
        .wait_healthy(&metadata_url, Duration::from_secs(30))
        .await;
    let probed = probe(&resource, &metadata_url, issuer).await;
    drop(server);
    probed?;

    // The normal add-auth from here on: up to date, re-runs change nothing.
    let (ok, stderr) = check(&project);
    if !ok {
        return Err(format!("add-auth --check after --add-http:\n{stderr}"));
    }
    let wired = sources(&project);
    let (ok, stderr) = run_add_auth(&project, ADD_HTTP);
    if !ok || sources(&project) != wired {
        return Err(format!("a re-run changed the project:\n{stderr}"));
    }

    let removed = mcp_builder(&["auth", "remove", "--yes", "--path"], &project);
    if !removed.0 {
        return Err(format!("auth remove:\n{}", removed.1));
    }
    let after = sources(&project);
    if after != before {
        let changed: Vec<_> = before
            .keys()
            .chain(after.keys())
            .filter(|path| before.get(*path) != after.get(*path))
            .collect();
        return Err(format!("auth remove left changes in {changed:?}"));
    }
    Ok(())
}

/// The HTTP checks against the running transport.
async fn probe(resource: &str, metadata_url: &str, issuer: &Issuer) -> Result<(), String> {
    let raw = RawMcp::new(resource.to_string());
    raw.expect_challenge().await?;
    let metadata = Reply::fetch(client().get(metadata_url)).await;
    metadata.expect(StatusCode::OK, "GET the metadata without a token")?;
    if metadata.json()["resource"] != resource {
        return Err(format!(
            "metadata names another resource: {}",
            metadata.describe()
        ));
    }

    let token = issuer.token(&issuer.claims_for("alice", "read:echo", AUDIENCE));
    let session = raw.open_session(&token).await;
    let call = tools_call_body(2, "echo", json!({ "text": "over http" }));
    let called = raw.send(Some(&token), Some(&session), &call).await;
    called.expect(StatusCode::OK, "tools/call echo with read:echo")?;
    if !called.body.contains("over http") {
        return Err(format!("tools/call did not echo: {}", called.describe()));
    }
    let other = issuer.token(&issuer.claims_for("bob", "profile", AUDIENCE));
    let session = raw.open_session(&other).await;
    let refused = raw.send(Some(&other), Some(&session), &call).await;
    refused.expect(StatusCode::FORBIDDEN, "tools/call echo without read:echo")
}

/// The first line the server writes on stdout after an `initialize` line on
/// stdin, within 20 s.
fn stdio_initialize(binary: &Path, dir: &Path) -> Result<String, String> {
    let mut child = Command::new(binary)
        .current_dir(dir)
        .env_remove("MCP_TRANSPORT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {}: {e}", binary.display()))?;
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{INITIALIZE}").map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(Duration::from_secs(20));
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    line.map(|line| line.trim_end().to_string())
        .map_err(|_| format!("{} answered nothing on stdout in 20 s", binary.display()))
}

/// `mcp-builder ARGS PROJECT`: (success, stderr).
fn mcp_builder(args: &[&str], project: &Path) -> (bool, String) {
    let (ok, _, stderr) = mcp_builder_output(args, project);
    (ok, stderr)
}

/// `mcp-builder ARGS PROJECT` without a terminal: (success, stdout, stderr).
fn mcp_builder_output(args: &[&str], project: &Path) -> (bool, String, String) {
    let output = assert_cmd::Command::cargo_bin("mcp-builder")
        .expect("the mcp-builder binary")
        .args(args)
        .arg(project)
        .env("NO_COLOR", "1")
        .write_stdin("")
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run mcp-builder");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn check(project: &Path) -> (bool, String) {
    mcp_builder(&["add-auth", "--check", "--no-verify", "--path"], project)
}

/// Without `--add-http` a stdio-only server is refused, and the refusal
/// names the option; a handler that is not `Clone` is refused with the fix.
/// Neither changes a byte.
#[test]
fn stdio_servers_are_refused_with_the_option_or_the_fix() {
    let workspace = tempfile::TempDir::new().expect("temp dir");
    let project = workspace.path().join("single-bin");
    copy_fixture(&ALL[0], &project);
    let before = tree(&project);
    let flags: Vec<&str> = ADD_HTTP[1..].to_vec();
    let (ok, stderr) = run_add_auth(&project, &flags);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("serves MCP over stdio only (`src/main.rs:5`)")
            && stderr.contains("run add-auth again with --add-http"),
        "{stderr}"
    );
    assert_eq!(tree(&project), before);

    // A preview shows the branch and writes nothing.
    let mut preview: Vec<&str> = ADD_HTTP.to_vec();
    preview.push("--dry-run");
    let mut args = vec!["add-auth", "--no-verify"];
    args.extend(preview);
    args.push("--path");
    let (ok, diff, stderr) = mcp_builder_output(&args, &project);
    assert!(ok, "{stderr}");
    assert!(
        diff.contains(r#"+    if std::env::var("MCP_TRANSPORT").as_deref() == Ok("http") {"#)
            && diff.contains(r#"+            .nest_service("/mcp", mcp_auth.protect(service))"#),
        "{diff}"
    );
    assert_eq!(tree(&project), before);
    // With --json the note on the transport is data too.
    args.insert(2, "--json");
    let (ok, document, stderr) = mcp_builder_output(&args, &project);
    assert!(ok, "{stderr}");
    let document: serde_json::Value = serde_json::from_str(&document).expect("one JSON document");
    assert!(
        document["notes"]
            .as_array()
            .is_some_and(|notes| notes.iter().any(|note| {
                note.as_str().is_some_and(|note| {
                    note.starts_with("this run adds a streamable HTTP transport")
                })
            })),
        "{document}"
    );
    assert_eq!(tree(&project), before);

    // The same from an answers file (`add_http = true`), written outside the project.
    let answers = workspace.path().join("answers.toml");
    fs::write(&answers, "provider = \"dev\"\nadd_http = true\n").unwrap();
    let answers_flag = format!("--answers={}", answers.display());
    let (ok, diff, stderr) = mcp_builder_output(
        &[
            "add-auth",
            "--no-verify",
            "--yes",
            "--dry-run",
            &answers_flag,
            "--path",
        ],
        &project,
    );
    assert!(ok, "{stderr}");
    assert!(diff.contains("MCP_TRANSPORT"), "{diff}");
    assert_eq!(tree(&project), before);

    let server = project.join("src/server.rs");
    let text = fs::read_to_string(&server).unwrap();
    fs::write(
        &server,
        text.replace(
            "#[derive(Debug, Clone)]\npub struct EchoServer",
            "#[derive(Debug)]\npub struct EchoServer",
        ),
    )
    .unwrap();
    let before = tree(&project);
    let (ok, stderr) = run_add_auth(&project, ADD_HTTP);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("`EchoServer` is not `Clone`")
            && stderr.contains("help: add `#[derive(Clone)]` to `EchoServer`"),
        "{stderr}"
    );
    assert_eq!(tree(&project), before);
}
