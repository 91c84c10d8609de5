//! `mcp-builder auth test` against a real authorization server
//! (oidc-provider on 127.0.0.1), the generated example server, and servers
//! broken on purpose.

mod support;

use std::{fs, path::Path, time::Duration};

use assert_cmd::Command;
use axum::{
    Json, Router,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::{Value, json};
use support::{
    oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider},
    project::{
        EXAMPLE, EXAMPLE_FLAGS, ServerProcess, cargo, copy_project, free_port,
        this_crate_target_dir,
    },
};
use tempfile::TempDir;

const AUDIENCE: &str = "https://tasks.example.com/mcp";
const SCOPES: &str = "read:tasks write:tasks delete:tasks";

/// The example after add-auth, with `.env` pointing at `provider`.
fn protected_project(provider: &OidcProvider, secret: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--no-verify", "--path"])
        .arg(dir.path())
        .args(EXAMPLE_FLAGS)
        .assert()
        .success();
    let env_file = dir.path().join(".env");
    let env = fs::read_to_string(&env_file)
        .unwrap()
        .replace(
            "AUTH0_CLIENT_ID=\n",
            &format!("AUTH0_CLIENT_ID={CLIENT_ID}\n"),
        )
        .replace(
            "AUTH0_CLIENT_SECRET=\n",
            &format!("AUTH0_CLIENT_SECRET={secret}\n"),
        );
    let env = format!(
        "{env}MCP_AUTH_ISSUER={}\nMCP_AUTH_JWKS_URL={}\n",
        provider.issuer(),
        provider.jwks_url()
    );
    fs::write(env_file, env).unwrap();
    dir
}

/// Runs `auth test` on `project`; returns (exit code, stdout).
fn auth_test(project: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["auth", "test", "--timeout", "5", "--path"])
        .arg(project)
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("--- auth test {args:?} stdout ---\n{stdout}--- stderr ---\n{stderr}");
    (output.status.code().unwrap_or(-1), stdout)
}

fn json_report(project: &Path, args: &[&str]) -> (i32, Value) {
    let (code, stdout) = auth_test(project, &[args, &["--json"]].concat());
    (
        code,
        serde_json::from_str(&stdout).expect("--json prints one JSON document"),
    )
}

/// The named check of a JSON report: (passed, detail).
fn check<'a>(report: &'a Value, name: &str) -> (bool, &'a str) {
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {report:#}"));
    (
        check["passed"].as_bool().unwrap(),
        check["detail"].as_str().unwrap(),
    )
}

fn looks_like_a_jwt(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || c == '"')
        .any(|word| {
            let parts: Vec<&str> = word.split('.').collect();
            parts.len() == 3
                && parts[0].starts_with("eyJ")
                && parts.iter().all(|part| part.len() > 10)
        })
}

#[test]
fn a_good_client_gets_a_token_that_is_explained_and_passes() {
    let provider = OidcProvider::start(AUDIENCE, SCOPES, "jwt");
    let project = protected_project(&provider, CLIENT_SECRET);

    let (code, report) = json_report(project.path(), &["--scope", "read:tasks,write:tasks"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["passed"], true);
    assert_eq!(report["token"]["claims"]["aud"], AUDIENCE);
    assert_eq!(report["token"]["claims"]["iss"], provider.issuer());
    assert_eq!(report["token"]["header"]["alg"], "RS256");
    assert_eq!(report["scopes"], json!(["read:tasks", "write:tasks"]));
    assert_eq!(
        report["tools"],
        json!({ "callable": ["create-task", "search-tasks"], "denied": ["delete-task"] })
    );
    assert!(report["token"].get("raw").is_none());
    for name in [
        "algorithm is allowed",
        "signed by a key of the issuer",
        "issuer matches",
        "audience matches",
        "not expired",
    ] {
        assert!(check(&report, name).0, "{name}");
    }

    // Without --scope the client gets what the provider grants by default:
    // here none, which is reported (it is not a failure of the token).
    let (code, text) = auth_test(project.path(), &[]);
    assert_eq!(code, 0);
    assert!(
        text.contains(
            "Scopes of this project it carries: none (of read:tasks, write:tasks, delete:tasks)\n"
        ),
        "{text}"
    );
    assert!(text.contains("Tools it can call: none\n"), "{text}");

    let (code, text) = auth_test(
        project.path(),
        &[
            "--scope",
            "read:tasks",
            "--scope",
            "write:tasks,delete:tasks",
        ],
    );
    assert_eq!(code, 0);
    assert!(text.contains("Token claims:\n"), "{text}");
    assert!(
        text.contains("Tools it can call: create-task, delete-task, search-tasks\n"),
        "{text}"
    );
    assert!(
        text.contains("  PASS  signed by a key of the issuer"),
        "{text}"
    );
    assert!(
        !looks_like_a_jwt(&text),
        "the token must not be printed without --show-token"
    );
    let (_, shown) = auth_test(project.path(), &["--show-token"]);
    assert!(
        shown.contains("Token (--show-token; treat it as a password):\n"),
        "{shown}"
    );
    assert!(looks_like_a_jwt(&shown), "--show-token prints the token");
}

#[test]
fn provider_errors_are_shown_with_a_hint() {
    let provider = OidcProvider::start(AUDIENCE, SCOPES, "jwt");
    let project = protected_project(&provider, "not-the-secret");
    let (code, text) = auth_test(project.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        text.contains("`invalid_client`: client authentication failed"),
        "{text}"
    );
    assert!(
        text.contains("hint: the client id or secret is wrong"),
        "{text}"
    );

    // An audience the provider does not know.
    let other = OidcProvider::start("https://other.example.com/api", SCOPES, "jwt");
    let project = protected_project(&other, CLIENT_SECRET);
    let (code, report) = json_report(project.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(report["provider_error"]["error"], "invalid_target");
    assert_eq!(
        report["provider_error"]["hint"],
        "the provider does not know the audience: is it the API identifier exactly?"
    );
}

#[test]
fn an_opaque_token_is_detected_and_explained() {
    let provider = OidcProvider::start(AUDIENCE, SCOPES, "opaque");
    let project = protected_project(&provider, CLIENT_SECRET);
    let (code, report) = json_report(project.path(), &[]);
    assert_eq!(code, 1);
    let (passed, detail) = check(&report, "token is a JWT");
    assert!(!passed);
    assert!(
        detail.starts_with("the provider issued an opaque token"),
        "{detail}"
    );
    assert_eq!(report["token"]["header"], Value::Null);
}

/// A project whose server introspects opaque tokens: auth test gets a
/// token and says that only the issuer can judge it, instead of failing it
/// as "not a JWT"; no key set is needed.
#[test]
fn an_introspection_project_is_told_its_tokens_are_judged_by_the_issuer() {
    let provider = OidcProvider::start(AUDIENCE, SCOPES, "opaque");
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    let endpoint = format!("{}token/introspection", provider.issuer());
    Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--no-verify", "--path"])
        .arg(dir.path())
        .args(["--provider", "oidc", "--issuer", provider.issuer()])
        .args(["--audience", AUDIENCE, "--token-format", "introspection"])
        .args(["--introspection-url", &endpoint])
        .args(["--scopes", "read:tasks,write:tasks,delete:tasks", "--yes"])
        .assert()
        .success();
    let env_file = dir.path().join(".env");
    let env = fs::read_to_string(&env_file)
        .unwrap()
        .replace(
            "OIDC_CLIENT_ID=\n",
            &format!("OIDC_CLIENT_ID={CLIENT_ID}\n"),
        )
        .replace(
            "OIDC_CLIENT_SECRET=\n",
            &format!("OIDC_CLIENT_SECRET={CLIENT_SECRET}\n"),
        );
    fs::write(env_file, env).unwrap();

    let (code, report) = json_report(dir.path(), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["token"]["introspection_url"], endpoint);
    let note = report["token"]["note"].as_str().unwrap();
    assert!(
        note.contains("cannot judge an opaque token locally"),
        "{note}"
    );
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|check| check["name"].as_str())
        .collect();
    assert_eq!(names, ["provider issued a token"]);
    let (_, text) = auth_test(dir.path(), &[]);
    assert!(text.contains("introspection endpoint"), "{text}");
    assert!(!looks_like_a_jwt(&text));
}

#[test]
fn missing_client_credentials_are_a_usage_error_naming_the_variables() {
    let provider = OidcProvider::start(AUDIENCE, SCOPES, "jwt");
    let project = protected_project(&provider, CLIENT_SECRET);
    let env_file = project.path().join(".env");
    let env = fs::read_to_string(&env_file)
        .unwrap()
        .replace(&format!("AUTH0_CLIENT_SECRET={CLIENT_SECRET}\n"), "");
    fs::write(&env_file, env).unwrap();
    let output = Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["auth", "test", "--path"])
        .arg(project.path())
        .env_remove("AUTH0_CLIENT_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: AUTH0_CLIENT_SECRET not set\n"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_checks_pass_on_the_generated_server() {
    let provider = OidcProvider::start(AUDIENCE, SCOPES, "jwt");
    let project = protected_project(&provider, CLIENT_SECRET);
    let target_dir = this_crate_target_dir().join("e2e-projects");
    tokio::task::block_in_place(|| {
        cargo(
            project.path(),
            &target_dir,
            &["build"],
            Duration::from_secs(1200),
        )
    });

    let port = free_port();
    let mcp_url = format!("http://127.0.0.1:{port}/mcp");
    let mut server = ServerProcess::spawn(
        &target_dir.join("debug/tasks-server"),
        project.path(),
        &[
            ("TASKS_ADDR", format!("127.0.0.1:{port}")),
            ("MCP_RESOURCE_URL", mcp_url.clone()),
        ],
        project.path().join("server.log"),
    );
    server
        .wait_healthy(
            &format!("http://127.0.0.1:{port}/health"),
            Duration::from_secs(30),
        )
        .await;

    let (code, report) = tokio::task::block_in_place(|| {
        json_report(
            project.path(),
            &["--server", &mcp_url, "--scope", "read:tasks"],
        )
    });
    assert_eq!(code, 0, "{report:#}");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| check["name"].as_str().unwrap())
        .collect();
    for expected in [
        "metadata at the path-inserted URL",
        "metadata at the root URL",
        "metadata resource is this URL",
        "authorization_servers lists the issuer",
        "no token: 401 with resource_metadata",
        "invalid token: 401 invalid_token",
        "token accepted by initialize",
        "tools/list with the token",
        "create-task without write:tasks: 403",
        "delete-task without delete:tasks: 403",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
        assert!(check(&report, expected).0, "{expected}: {report:#}");
    }
    assert_eq!(check(&report, "tools/list with the token").1, "3 tools");
}

/// An MCP endpoint at `/mcp` that gets one thing wrong.
#[derive(Clone, Copy, Debug)]
enum Broken {
    ResourceMismatch,
    NoResourceMetadata,
    ForbiddenInsteadOfUnauthorized,
}

async fn serve_broken(broken: Broken, issuer: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let resource = match broken {
        Broken::ResourceMismatch => "https://elsewhere.example.com/mcp".to_string(),
        _ => format!("{base}/mcp"),
    };
    let metadata = json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": SCOPES.split(' ').collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
    });
    let metadata_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
    let mcp = move |headers: HeaderMap| async move {
        let challenge = match broken {
            Broken::NoResourceMetadata => r#"Bearer realm="mcp""#.to_string(),
            _ => format!(r#"Bearer resource_metadata="{metadata_url}""#),
        };
        let status = match broken {
            Broken::ForbiddenInsteadOfUnauthorized => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        };
        // Refuses everything, with or without a token.
        let _ = headers.get(header::AUTHORIZATION);
        (status, [(header::WWW_AUTHENTICATE, challenge)], "").into_response()
    };
    let serve_metadata = move || {
        let metadata = metadata.clone();
        async move { Json(metadata) }
    };
    let app = Router::new()
        .route("/mcp", post(mcp))
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(serve_metadata.clone()),
        )
        .route("/.well-known/oauth-protected-resource", get(serve_metadata));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("{base}/mcp")
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_servers_fail_the_check_they_break() {
    let provider = OidcProvider::start(AUDIENCE, SCOPES, "jwt");
    let project = protected_project(&provider, CLIENT_SECRET);
    let cases = [
        (
            Broken::ResourceMismatch,
            "metadata resource is this URL",
            "`https://elsewhere.example.com/mcp`, but the server was reached at",
        ),
        (
            Broken::NoResourceMetadata,
            "no token: 401 with resource_metadata",
            "the Bearer challenge has no resource_metadata",
        ),
        (
            Broken::ForbiddenInsteadOfUnauthorized,
            "no token: 401 with resource_metadata",
            "got 403 Forbidden, expected 401",
        ),
    ];
    for (broken, failing, detail) in cases {
        let url = serve_broken(broken, provider.issuer().to_string()).await;
        let (code, report) =
            tokio::task::block_in_place(|| json_report(project.path(), &["--server", &url]));
        assert_eq!(code, 1, "{broken:?}");
        let (passed, found) = check(&report, failing);
        assert!(!passed, "{broken:?}: `{failing}` passed");
        assert!(found.starts_with(detail), "{broken:?}: {found}");
        // The parts the broken server gets right still pass.
        assert!(
            check(&report, "authorization_servers lists the issuer").0,
            "{broken:?}"
        );
        assert!(
            check(&report, "signed by a key of the issuer").0,
            "{broken:?}"
        );
    }
}
