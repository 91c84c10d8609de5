//! `mcp-builder auth token` as a user meets it: only the token on stdout, so
//! `$(mcp-builder auth token)` works; its claims follow the flags; bad input
//! is a usage error that prints no token. That the generated server accepts
//! these tokens is proven end to end in `tests/dev_e2e.rs`.

mod support;

use std::path::Path;

use assert_cmd::Command;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;
use support::project::{EXAMPLE, EXAMPLE_FLAGS, copy_project, run_add_auth};
use tempfile::TempDir;

const ISSUER: &str = "http://127.0.0.1:9555";

/// A copy of the example after add-auth with `flags`.
fn protected_copy(flags: &[&str]) -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    let (ok, stderr) = run_add_auth(dir.path(), flags);
    assert!(ok, "add-auth failed\n{stderr}");
    dir
}

/// A copy of the example protected with the development issuer.
fn dev_project() -> TempDir {
    protected_copy(&["--provider", "dev", "--issuer", ISSUER, "--yes"])
}

fn auth_token(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["auth", "token", "--path"])
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .timeout(std::time::Duration::from_secs(30))
        .assert()
}

/// The claims of a JWT, unverified (the signature is checked end to end
/// by the generated server in `tests/dev_e2e.rs`).
fn claims(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    (decode(parts[0]), decode(parts[1]))
}

#[test]
fn stdout_is_the_token_alone_with_the_claims_the_flags_ask_for() {
    let dir = dev_project();

    let all = auth_token(dir.path(), &[]).success();
    let stdout = String::from_utf8(all.get_output().stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(
        stdout.ends_with('\n') && !stdout.trim().contains(' '),
        "{stdout:?}"
    );
    let (header, body) = claims(stdout.trim());
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(body["iss"], ISSUER);
    assert_eq!(body["aud"], "http://127.0.0.1:8000/mcp");
    assert_eq!(body["sub"], "dev-user");
    assert_eq!(body["scope"], "read:tasks write:tasks delete:tasks");
    let lifetime = body["exp"].as_u64().unwrap() - body["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 3600);
    // Nothing listens at the issuer: the token is printed, and stderr says
    // why the server cannot check it yet.
    let stderr = String::from_utf8_lossy(&all.get_output().stderr).into_owned();
    assert!(
        stderr.contains("does not answer at http://127.0.0.1:9555"),
        "{stderr}"
    );
    assert!(dir.path().join(".mcp-builder/dev/.gitignore").is_file());

    let narrow = auth_token(dir.path(), &["--scope", "read:tasks", "--sub", "alice"]).success();
    let (_, body) = claims(String::from_utf8_lossy(&narrow.get_output().stdout).trim());
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["scope"], "read:tasks");
    let other = auth_token(dir.path(), &["--scope", "read:tasks,write:tasks"]).success();
    let (_, other) = claims(String::from_utf8_lossy(&other.get_output().stdout).trim());
    assert_eq!(other["scope"], "read:tasks write:tasks");
    assert_ne!(other["jti"], body["jti"], "every token has its own id");
}

#[test]
fn bad_input_is_a_usage_error_and_prints_no_token() {
    let dir = dev_project();
    let unknown = auth_token(dir.path(), &["--scope", "admin"]).code(2);
    assert!(unknown.get_output().stdout.is_empty());
    let stderr = String::from_utf8_lossy(&unknown.get_output().stderr).into_owned();
    assert!(
        stderr.contains(
            "error: the project has no scope `admin`\nhelp: its scopes are `read:tasks`, `write:tasks`, `delete:tasks`"
        ),
        "{stderr}"
    );

    let empty = auth_token(dir.path(), &["--sub", " "]).code(2);
    assert!(empty.get_output().stdout.is_empty());

    let unprotected = TempDir::new().unwrap();
    let none = auth_token(unprotected.path(), &[]).code(2);
    assert!(none.get_output().stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&none.get_output().stderr).contains("has no `mcp-builder.json`")
    );
}

/// Another provider: `--sub` cannot be chosen, and without client
/// credentials there is nothing to ask the provider with.
#[test]
fn with_another_provider_sub_and_missing_credentials_are_refused() {
    let dir = protected_copy(EXAMPLE_FLAGS);
    let sub = auth_token(dir.path(), &["--sub", "alice"]).code(2);
    assert!(
        String::from_utf8_lossy(&sub.get_output().stderr)
            .contains("--sub only works with the development issuer"),
    );
    let no_client = auth_token(dir.path(), &[]).code(2);
    assert!(no_client.get_output().stdout.is_empty());
    let stderr = String::from_utf8_lossy(&no_client.get_output().stderr).into_owned();
    assert!(
        stderr.contains("AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET not set"),
        "{stderr}"
    );
}
