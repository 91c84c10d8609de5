//! Cargo features: add-auth on the fixtures of `tests/fixtures/features/`
//! (see the README there), projects whose dependencies trim their default
//! features or whose HTTP code is behind a cargo feature.
//!
//! Each fixture is copied, changed by the real `mcp-builder` binary, built
//! (and checked without its HTTP feature), checked with `cargo fmt --check`,
//! started and probed over HTTP against a test issuer on 127.0.0.1 (401
//! without a token, a tool call with a real one), then `auth remove` must
//! give the tree back byte for byte. Builds go to the shared
//! `<target>/e2e-projects`.
//!
//! Run: `cargo test --test features -- --nocapture`.

mod support;

use std::{fs, path::Path, time::Duration};

use reqwest::StatusCode;
use serde_json::json;
use support::{
    http::{RawMcp, initialize_body, tools_call_body},
    issuer::Issuer,
    project::{
        ServerProcess, copy_project, free_port, run_add_auth, this_crate_target_dir, tree,
        try_cargo,
    },
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/features");
const SHAPES_LOCK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/shapes/Cargo.lock"
);
const DOMAIN: &str = "features-test.auth0.com";
const AUDIENCE: &str = "https://features.example.com/mcp";
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

/// A fixture and how to build it.
struct Case {
    fixture: &'static str,
    binary: &'static str,
    /// The cargo feature the HTTP code is behind.
    feature: Option<&'static str>,
    /// Lines add-auth must write, per file.
    lines: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        fixture: "lean-axum",
        binary: "features-lean-axum",
        feature: None,
        lines: &[(
            "Cargo.toml",
            "axum = { version = \"0.8\", default-features = false, features = [\"http1\", \"tokio\", \"json\"] }",
        )],
    },
    Case {
        fixture: "http-feature",
        binary: "features-http",
        feature: Some("http"),
        lines: &[
            ("src/main.rs", "#[cfg(feature = \"http\")]\nmod auth;"),
            (
                "Cargo.toml",
                "jsonwebtoken = { version = \"11\", default-features = false, features = [\"aws_lc_rs\"], optional = true }",
            ),
            (
                "Cargo.toml",
                "http = [\"dep:axum\", \"rmcp/transport-streamable-http-server\", \"dep:aws-lc-rs\", \"dep:dotenvy\", \
                 \"dep:http-body\", \"dep:humantime\", \"dep:jsonwebtoken\", \"dep:reqwest\", \"dep:siphasher\", \
                 \"dep:smallvec\", \"dep:tower-service\"]",
            ),
        ],
    },
];

#[tokio::test(flavor = "multi_thread")]
async fn trimmed_and_feature_gated_projects_compile_and_are_protected() {
    let target_dir = this_crate_target_dir().join("e2e-projects");
    let issuer = Issuer::start();
    let mut failures = Vec::new();
    for case in CASES {
        let workspace = tempfile::TempDir::new().expect("temp dir");
        if let Err(failure) = check(case, workspace.path(), &target_dir, &issuer).await {
            failures.push(format!("[{}] {failure}", case.fixture));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

async fn check(
    case: &Case,
    workspace: &Path,
    target_dir: &Path,
    issuer: &Issuer,
) -> Result<(), String> {
    let project = workspace.join(case.fixture);
    copy_project(&Path::new(FIXTURES).join(case.fixture), &project);
    fs::copy(SHAPES_LOCK, project.join("Cargo.lock")).expect("copy the shared Cargo.lock");
    let before = tree(&project);

    let (ok, stderr) = run_add_auth(&project, FLAGS);
    if !ok {
        return Err(format!("add-auth failed:\n{stderr}"));
    }
    for (file, lines) in case.lines {
        let text = fs::read_to_string(project.join(file)).map_err(|e| format!("{file}: {e}"))?;
        if !text.contains(&format!("\n{lines}\n")) {
            return Err(format!("`{file}` lacks\n{lines}\n--- {file} ---\n{text}"));
        }
    }

    let build = |features: Option<&str>| {
        let mut args = vec!["build"];
        if let Some(feature) = features {
            args.extend(["--features", feature]);
        }
        tokio::task::block_in_place(|| {
            try_cargo(&project, target_dir, &args, Duration::from_secs(1200))
        })
    };
    let fmt = tokio::task::block_in_place(|| {
        try_cargo(
            &project,
            target_dir,
            &["fmt", "--check"],
            Duration::from_secs(120),
        )
    });
    fmt?;
    let binary =
        target_dir
            .join("debug")
            .join(format!("{}{}", case.binary, std::env::consts::EXE_SUFFIX));
    build(case.feature)?;
    probe(case, &project, &binary, workspace, issuer).await?;
    if case.feature.is_some() {
        // Without the feature the module's optional dependencies are off:
        // this compiles only if `mod auth;` is left out as well.
        tokio::task::block_in_place(|| {
            try_cargo(&project, target_dir, &["check"], Duration::from_secs(1200))
        })?;
    }

    let (ok, stderr) = auth_remove(&project);
    if !ok {
        return Err(format!("auth remove failed:\n{stderr}"));
    }
    let mut after = tree(&project);
    // The builds may have completed the lock; everything else is as before.
    after.insert("Cargo.lock".into(), before[Path::new("Cargo.lock")].clone());
    if after != before {
        let changed: Vec<_> = after
            .keys()
            .chain(before.keys())
            .filter(|path| after.get(*path) != before.get(*path))
            .collect();
        return Err(format!("auth remove left the tree changed: {changed:?}"));
    }
    Ok(())
}

/// Starts the built server and checks: 401 without a token, a tool call
/// answered with a real one.
async fn probe(
    case: &Case,
    project: &Path,
    binary: &Path,
    workspace: &Path,
    issuer: &Issuer,
) -> Result<(), String> {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{base}/mcp");
    let mut server = ServerProcess::spawn(
        binary,
        project,
        &issuer.auth0_server_env(&format!("127.0.0.1:{port}"), DOMAIN, AUDIENCE, &mcp_url),
        workspace.join("server.log"),
    );
    server
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;
    let raw = RawMcp::new(mcp_url);
    let anonymous = raw.send(None, None, &initialize_body(1)).await;
    if anonymous.status != StatusCode::UNAUTHORIZED {
        return Err(format!(
            "{}: initialize without a token: {}\n{}",
            case.fixture,
            anonymous.describe(),
            server.log()
        ));
    }
    let token = issuer.token(&issuer.claims_for("alice", "read:echo", AUDIENCE));
    let session = raw.open_session(&token).await;
    let call = tools_call_body(2, "echo", json!({ "text": "hello" }));
    let called = raw.send(Some(&token), Some(&session), &call).await;
    if called.status != StatusCode::OK || !called.body.contains("hello") {
        return Err(format!(
            "tools/call with a token: {}\n{}",
            called.describe(),
            server.log()
        ));
    }
    Ok(())
}

/// Runs `mcp-builder auth remove --yes --path <project>`; (success, stderr).
fn auth_remove(project: &Path) -> (bool, String) {
    let output = assert_cmd::Command::cargo_bin("mcp-builder")
        .expect("the mcp-builder binary")
        .args(["auth", "remove", "--yes", "--path"])
        .arg(project)
        .env("NO_COLOR", "1")
        .write_stdin("")
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run mcp-builder auth remove");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn optional_dependency_the_always_built_code_needs_is_refused() {
    let dir = tempfile::TempDir::new().unwrap();
    let project = dir.path().join("lean-axum");
    copy_project(&Path::new(FIXTURES).join("lean-axum"), &project);
    let manifest = project.join("Cargo.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(
        &manifest,
        format!(
            "{text}reqwest = {{ version = \"0.13\", optional = true }}\n\n[features]\nremote = [\"dep:reqwest\"]\n"
        ),
    )
    .unwrap();
    let before = tree(&project);
    let (ok, stderr) = run_add_auth(&project, FLAGS);
    assert!(!ok, "add-auth succeeded:\n{stderr}");
    let error = &stderr[stderr.find("error: ").expect("an error")..];
    assert_eq!(
        error.trim_end(),
        "error: `reqwest` is `optional = true` in `Cargo.toml` (enabled by the feature `remote`), but the MCP \
         HTTP code is compiled whatever the features, and the generated module needs `reqwest` in every build\n\
         help: compile the HTTP code only under the feature that enables `reqwest` \
         (`#[cfg(feature = \"NAME\")]` on its module or function), or make `reqwest` non-optional, then run \
         add-auth again"
    );
    assert_eq!(tree(&project), before, "the tree changed");
}
