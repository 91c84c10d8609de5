//! `mcp-builder auth test` against a real authorization server
//! (oidc-provider on 127.0.0.1), an RFC 8414-only issuer with a path, the
//! generated example server, and servers broken on purpose.

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

/// The example after `add-auth` with `flags`, its `.env` edited by
/// `edit`.
fn example_with(flags: &[&str], edit: impl FnOnce(String) -> String) -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--no-verify", "--path"])
        .arg(dir.path())
        .args(flags)
        .assert()
        .success();
    let env_file = dir.path().join(".env");
    let env = fs::read_to_string(&env_file).unwrap();
    fs::write(env_file, edit(env)).unwrap();
    dir
}

/// The example after add-auth, with `.env` pointing at `provider`.
fn protected_project(provider: &OidcProvider, secret: &str) -> TempDir {
    example_with(EXAMPLE_FLAGS, |env| {
        let env = env
            .replace(
                "AUTH0_CLIENT_ID=\n",
                &format!("AUTH0_CLIENT_ID={CLIENT_ID}\n"),
            )
            .replace(
                "AUTH0_CLIENT_SECRET=\n",
                &format!("AUTH0_CLIENT_SECRET={secret}\n"),
            );
        // Auth0 reads no metadata: its fixed paths, moved to oidc-provider's.
        format!(
            "{env}MCP_AUTH_ISSUER={}\nMCP_AUTH_JWKS_URL={}\nMCP_AUTH_TOKEN_URL={}token\n",
            provider.issuer(),
            provider.jwks_url(),
            provider.issuer()
        )
    })
}

/// The example after `add-auth --provider oidc --issuer ISSUER`, with the
/// client in `.env` and nothing else: key set and token endpoint are
/// discovered.
fn oidc_project(issuer: &str, client_id: &str, secret: &str) -> TempDir {
    // The example's flags after the Auth0 ones (`--provider`, `--domain`).
    assert_eq!(EXAMPLE_FLAGS[2], "--domain");
    let flags = [
        &["--provider", "oidc", "--issuer", issuer],
        &EXAMPLE_FLAGS[4..],
    ]
    .concat();
    example_with(&flags, |env| {
        for variable in [
            "MCP_AUTH_JWKS_URL=",
            "MCP_AUTH_TOKEN_URL=",
            "MCP_AUTH_ISSUER=",
        ] {
            assert!(!env.contains(variable), "{variable} in {env}");
        }
        env.replace(
            "OIDC_CLIENT_ID=\n",
            &format!("OIDC_CLIENT_ID='{client_id}'\n"),
        )
        .replace(
            "OIDC_CLIENT_SECRET=\n",
            &format!("OIDC_CLIENT_SECRET='{secret}'\n"),
        )
    })
}

/// Runs `auth test` on `project`; returns (exit code, stdout).
fn auth_test(project: &Path, args: &[&str]) -> (i32, String) {
    auth_test_with(project, args, &[])
}

/// Runs `auth test` with `env` over a process environment that holds none
/// of the overrides it reads.
fn auth_test_with(project: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::cargo_bin("mcp-builder").unwrap();
    for variable in ["MCP_AUTH_ISSUER", "MCP_AUTH_JWKS_URL", "MCP_AUTH_TOKEN_URL"] {
        command.env_remove(variable);
    }
    let output = command
        .args(["auth", "test", "--timeout", "5", "--path"])
        .arg(project)
        .args(args)
        .envs(env.iter().copied())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("--- auth test {args:?} stdout ---\n{stdout}--- stderr ---\n{stderr}");
    (output.status.code().unwrap_or(-1), stdout)
}

fn json_report(project: &Path, args: &[&str]) -> (i32, Value) {
    json_report_with(project, args, &[])
}

fn json_report_with(project: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let (code, stdout) = auth_test_with(project, &[args, &["--json"]].concat(), env);
    (
        code,
        serde_json::from_str(&stdout).expect("--json prints one JSON document"),
    )
}

/// The status (`pass`, `fail`, `skip`) of every check of a JSON report.
fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| {
            let text = |key: &str| check[key].as_str().unwrap().to_string();
            (text("name"), text("status"))
        })
        .collect()
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
    let endpoint = format!("{}token/introspection", provider.issuer());
    let flags = [
        "--provider",
        "oidc",
        "--issuer",
        provider.issuer(),
        "--audience",
        AUDIENCE,
        "--token-format",
        "introspection",
        "--introspection-url",
        &endpoint,
        "--scopes",
        "read:tasks,write:tasks,delete:tasks",
        "--yes",
    ];
    let dir = example_with(&flags, |env| {
        env.replace(
            "OIDC_CLIENT_ID=\n",
            &format!("OIDC_CLIENT_ID={CLIENT_ID}\n"),
        )
        .replace(
            "OIDC_CLIENT_SECRET=\n",
            &format!("OIDC_CLIENT_SECRET={CLIENT_SECRET}\n"),
        )
    });

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
    assert_eq!(names, ["issuer metadata found", "provider issued a token"]);
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
        stderr
            .starts_with("error: AUTH0_CLIENT_SECRET not set\nhelp: put the client id and secret"),
        "{stderr}"
    );
    assert!(
        stderr
            .ends_with("; without them, `--server URL` still runs the checks that need no token\n"),
        "{stderr}"
    );
}

/// Blanks the client of an Auth0-shaped project (the process environment
/// comes before `.env`, and an empty value counts as unset).
const NO_CLIENT: &[(&str, &str)] = &[("AUTH0_CLIENT_ID", ""), ("AUTH0_CLIENT_SECRET", "")];
/// The server checks that need no token, in their order.
const NO_TOKEN_CHECKS: [&str; 6] = [
    "metadata at the path-inserted URL",
    "metadata at the root URL",
    "metadata resource is this URL",
    "authorization_servers lists the issuer",
    "no token: 401 with resource_metadata",
    "invalid token: 401 invalid_token",
];
const NO_CLIENT_REASON: &str =
    "no client credentials: AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET not set";

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
    for expected in NO_TOKEN_CHECKS.into_iter().chain([
        "token accepted by initialize",
        "tools/list with the token",
        "create-task without write:tasks: 403",
        "delete-task without delete:tasks: 403",
    ]) {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
        assert!(check(&report, expected).0, "{expected}: {report:#}");
    }
    // The listing holds only what a read:tasks token may call.
    assert_eq!(
        check(&report, "tools/list with the token").1,
        "1 tool: search-tasks"
    );

    // Without client credentials: the checks that need no token run and
    // pass, the others are listed as skipped, and the run passes.
    let (code, report) = tokio::task::block_in_place(|| {
        json_report_with(project.path(), &["--server", &mcp_url], NO_CLIENT)
    });
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["passed"], true);
    let status = |status: &str| -> Vec<String> {
        statuses(&report)
            .into_iter()
            .filter(|(_, found)| found == status)
            .map(|(name, _)| name)
            .collect()
    };
    assert_eq!(status("pass"), NO_TOKEN_CHECKS);
    assert_eq!(
        status("skip"),
        [
            "provider issued a token",
            "token accepted by initialize",
            "tools/list with the token",
            "create-task without write:tasks: 403",
            "delete-task without delete:tasks: 403",
            "search-tasks without read:tasks: 403",
        ]
    );
    let skipped = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "token accepted by initialize")
        .unwrap();
    assert_eq!(skipped["status"], "skip");
    assert_eq!(skipped["skipped"], true);
    assert_eq!(skipped["passed"], false);
    assert_eq!(skipped["detail"], format!("skipped: {NO_CLIENT_REASON}"));
    let (code, text) = tokio::task::block_in_place(|| {
        auth_test_with(project.path(), &["--server", &mcp_url], NO_CLIENT)
    });
    assert_eq!(code, 0);
    assert!(
        text.lines().any(
            |line| line.starts_with("  SKIP  token accepted by initialize  ")
                && line.ends_with(&format!("  skipped: {NO_CLIENT_REASON}"))
        ),
        "{text}"
    );
    assert!(
        text.starts_with("No client credentials (AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET not set): the checks that need a token are skipped.\nhelp: "),
        "{text}"
    );
    assert!(
        text.ends_with("\n6 passed, 0 failed, 6 skipped\n"),
        "{text}"
    );
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

        // Without client credentials the same check fails the run; the
        // token checks are skipped.
        let (code, report) = tokio::task::block_in_place(|| {
            json_report_with(project.path(), &["--server", &url], NO_CLIENT)
        });
        assert_eq!(code, 1, "{broken:?}: {report:#}");
        assert!(!check(&report, failing).0, "{broken:?}");
        let (passed, detail) = check(&report, "token accepted by initialize");
        assert!(!passed);
        assert_eq!(detail, format!("skipped: {NO_CLIENT_REASON}"));
    }
}

/// A secret that changes under form-urlencoding (`:`, `&`, `+`, `/`, a
/// space and `%`; secrets are printable ASCII, RFC 6749 appendix A): Basic
/// credentials must be encoded before base64 (RFC 6749 section 2.3.1), or
/// the issuer decodes another secret.
const AWKWARD_SECRET: &str = "s3cret:with&special+chars/ %";

/// `--provider oidc` with only the issuer set: the key set and the token
/// endpoint come from oidc-provider's discovery document, and the client
/// authenticates with client_secret_basic, the first method the document
/// lists that it can use (oidc-provider refuses any other for this client).
#[test]
fn an_oidc_project_is_tested_by_discovery_with_client_secret_basic() {
    let provider = OidcProvider::start_with_client(
        AUDIENCE,
        SCOPES,
        "jwt",
        "client_secret_basic",
        AWKWARD_SECRET,
    );
    let project = oidc_project(provider.issuer(), CLIENT_ID, AWKWARD_SECRET);

    let (code, report) = json_report(project.path(), &["--scope", "read:tasks"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["metadata_url"],
        format!("{}.well-known/openid-configuration", provider.issuer())
    );
    assert_eq!(report["jwks_url"], provider.jwks_url());
    assert_eq!(
        report["token_endpoint"],
        format!("{}token", provider.issuer())
    );
    assert_eq!(report["client_auth"]["method"], "client_secret_basic");
    assert_eq!(report["token"]["claims"]["aud"], AUDIENCE);
    assert!(
        statuses(&report).iter().all(|(_, status)| status == "pass"),
        "{report:#}"
    );
    let (_, detail) = check(&report, "provider issued a token");
    assert!(
        detail.contains("authenticated with client_secret_basic (listed in the issuer's token_endpoint_auth_methods_supported)"),
        "{detail}"
    );

    let (code, text) = auth_test(project.path(), &[]);
    assert_eq!(code, 0);
    assert!(text.contains("  PASS  issuer metadata found"), "{text}");
    assert!(text.contains(" 0 failed, 0 skipped\n"), "{text}");
}

/// An issuer whose metadata lists only client_secret_post gets it.
#[test]
fn an_issuer_listing_only_client_secret_post_gets_post() {
    let provider = OidcProvider::start(AUDIENCE, SCOPES, "jwt");
    let project = oidc_project(provider.issuer(), CLIENT_ID, CLIENT_SECRET);
    let (code, report) = json_report(project.path(), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["client_auth"]["method"], "client_secret_post");
    assert!(check(&report, "signed by a key of the issuer").0);
}

/// The issuer configured without oidc-provider's trailing slash: its
/// document names another issuer, which the generated server refuses too.
#[test]
fn a_discovery_document_for_another_issuer_fails_naming_both() {
    let provider = OidcProvider::start(AUDIENCE, SCOPES, "jwt");
    let configured = provider.issuer().trim_end_matches('/');
    let project = oidc_project(configured, CLIENT_ID, CLIENT_SECRET);
    let (code, report) = json_report(project.path(), &[]);
    assert_eq!(code, 1, "{report:#}");
    let (passed, detail) = check(&report, "issuer metadata found");
    assert!(!passed);
    assert!(
        detail.starts_with(&format!(
            "{configured}/.well-known/openid-configuration: the document is for issuer `{}`, but the project's issuer is `{configured}` (they must be equal exactly); {configured}/.well-known/oauth-authorization-server: ",
            provider.issuer()
        )),
        "{detail}"
    );
    let (passed, detail) = check(&report, "provider issued a token");
    assert!(!passed);
    assert!(
        detail.starts_with("no token endpoint: no issuer metadata found: "),
        "{detail}"
    );
}

/// An authorization server with only an RFC 8414 document, at
/// `{origin}/.well-known/oauth-authorization-server/tenant` for issuer
/// `{origin}/tenant`, listing no client authentication methods. Its token
/// endpoint records each request and answers with a token signed by `keys`.
struct PathIssuer {
    issuer: String,
    /// (Authorization header, form body) of each token request.
    requests: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    metadata_fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn serve_path_issuer(keys: &support::issuer::Issuer) -> PathIssuer {
    use std::sync::{Arc, Mutex, atomic::AtomicUsize, atomic::Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let issuer = format!("{origin}/tenant");
    let now = support::issuer::now();
    let token = keys.token(&json!({
        "iss": issuer, "sub": "path-client", "aud": AUDIENCE,
        "scope": "read:tasks", "iat": now, "exp": now + 300,
    }));
    let metadata = json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": keys.jwks_url(),
    });
    let requests = Arc::new(Mutex::new(Vec::new()));
    let metadata_fetches = Arc::new(AtomicUsize::new(0));
    let recorded = requests.clone();
    let fetches = metadata_fetches.clone();
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server/tenant",
            get(move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                let metadata = metadata.clone();
                async move { Json(metadata) }
            }),
        )
        .route(
            "/tenant/token",
            post(move |headers: HeaderMap, body: String| {
                let authorization = headers
                    .get(header::AUTHORIZATION)
                    .map(|value| value.to_str().unwrap().to_string())
                    .unwrap_or_default();
                recorded.lock().unwrap().push((authorization, body));
                let token = token.clone();
                async move {
                    Json(
                        json!({ "access_token": token, "token_type": "Bearer", "expires_in": 300 }),
                    )
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    PathIssuer {
        issuer,
        requests,
        metadata_fetches,
    }
}

/// RFC 8414 with a path issuer (the well-known segment before the path),
/// read once; no methods listed means client_secret_basic (RFC 8414's
/// default), with id and secret form-urlencoded before base64.
#[tokio::test(flavor = "multi_thread")]
async fn an_rfc_8414_issuer_with_a_path_gets_basic_credentials_form_urlencoded() {
    let keys = support::issuer::Issuer::start();
    let issuer = serve_path_issuer(&keys).await;
    let project = oidc_project(&issuer.issuer, "mcp client", AWKWARD_SECRET);

    let (code, report) = tokio::task::block_in_place(|| json_report(project.path(), &[]));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["metadata_url"],
        format!(
            "{}/.well-known/oauth-authorization-server/tenant",
            issuer.issuer.trim_end_matches("/tenant")
        )
    );
    assert_eq!(report["client_auth"]["method"], "client_secret_basic");
    assert_eq!(
        report["client_auth"]["why"],
        "the issuer's metadata lists no methods: RFC 8414's default"
    );
    assert!(check(&report, "signed by a key of the issuer").0);
    assert_eq!(
        issuer
            .metadata_fetches
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );

    let requests = issuer.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (authorization, body) = &requests[0];
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD
        .encode("mcp+client:s3cret%3Awith%26special%2Bchars%2F+%25");
    assert_eq!(authorization, &format!("Basic {expected}"));
    assert!(body.contains("grant_type=client_credentials"), "{body}");
    assert!(!body.contains("client_secret"), "{body}");
    assert!(!body.contains("client_id"), "{body}");
}
