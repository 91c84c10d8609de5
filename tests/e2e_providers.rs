//! End to end, per identity provider: `mcp-builder add-auth --provider X`
//! on the bundled example, built, started against the test issuer serving
//! tokens shaped as X issues them, and probed over HTTP: which tokens are
//! accepted, which refused, and which scopes count.
//!
//! Each project is renamed (`tasks-server-X`) so that its binary does not
//! replace the Auth0 one the other end-to-end tests run, and built in the
//! shared `<target>/e2e-projects` with the same dependency set, so only the
//! project itself is compiled.
//!
//! The bad-input tests at the end are cheap (no build): a refused provider
//! setting is a usage error and leaves the project untouched.
//!
//! Run: `cargo test --test e2e_providers -- --nocapture`

mod support;

use std::{fs, path::Path, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{
    http::{RawMcp, Reply, initialize_body, tools_call_body},
    introspection::{AnswerMode, IntrospectionEndpoint},
    issuer::{CLIENT_ID, Issuer, now, unsigned_token},
    project::{
        EXAMPLE, ServerProcess, cargo, copy_project, free_port, this_crate_target_dir, tree,
        try_cargo,
    },
};
use tempfile::TempDir;

const RESOURCE: &str = "https://tasks.example.com/mcp";
const TOOL_FLAGS: &[&str] = &[
    "--scopes",
    "read:tasks,write:tasks,delete:tasks",
    "--tool-scope",
    "search-tasks=read:tasks",
    "--tool-scope",
    "create-task=write:tasks",
    "--tool-scope",
    "delete-task=delete:tasks",
    "--yes",
];
const ENTRA_APP_ID: &str = "7f3c1e52-0b8a-4c1d-9e2f-5a6b7c8d9e0f";
/// A Supabase legacy project's JWT secret, and the variable holding it.
const LEGACY_SECRET: &str = "e2e-legacy-supabase-jwt-secret-0123456789";
const LEGACY_SECRET_VAR: &str = "SUPABASE_JWT_SECRET";

/// What the server must do with a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 401 on `initialize`.
    Refused,
    /// Accepted; `create-task` (needs `write:tasks`) is allowed.
    Writes,
    /// Accepted; `create-task` is refused with 403.
    ReadsOnly,
}

/// One provider's shape: how add-auth is called, how the server is
/// configured, and tokens with what the server must do with them.
struct Shape {
    id: &'static str,
    flags: Vec<String>,
    env: Vec<(&'static str, String)>,
    cases: Vec<(&'static str, String, Expect)>,
    /// Said by add-auth and by the server at start-up.
    warning: Option<&'static str>,
    discovers: bool,
    /// The variable holding a shared secret: the server must refuse to start
    /// without it (or with a short one), naming it.
    secret_var: Option<&'static str>,
}

fn claims(iss: &str, extra: Value) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": iss,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
    });
    for (key, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

fn flags(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

/// Generic OpenID Connect: keys found through the issuer's discovery
/// document; `scope` string or `scp`.
fn oidc(issuer: &Issuer) -> Shape {
    let iss = issuer.issuer_url();
    let rs = |extra: Value| issuer.token(&claims(&iss, extra));
    Shape {
        id: "oidc",
        flags: flags(&[
            "--provider",
            "oidc",
            "--issuer",
            &iss,
            "--audience",
            RESOURCE,
        ]),
        env: vec![
            ("OIDC_ISSUER", iss.clone()),
            ("OIDC_AUDIENCE", RESOURCE.into()),
        ],
        cases: vec![
            (
                "scope string with write",
                rs(json!({"aud": RESOURCE, "scope": "read:tasks write:tasks"})),
                Expect::Writes,
            ),
            (
                "scp string with write",
                rs(json!({"aud": [RESOURCE, "other"], "scp": "write:tasks"})),
                Expect::Writes,
            ),
            (
                "ES256, read only",
                issuer.es256_token(&claims(
                    &iss,
                    json!({"aud": RESOURCE, "scope": "read:tasks"}),
                )),
                Expect::ReadsOnly,
            ),
            (
                "another audience",
                rs(json!({"aud": "https://other.example.com/mcp", "scope": "write:tasks"})),
                Expect::Refused,
            ),
            (
                "another issuer",
                issuer.token(&claims(
                    "https://evil.example.com/",
                    json!({"aud": RESOURCE, "scope": "write:tasks"}),
                )),
                Expect::Refused,
            ),
        ],
        warning: None,
        discovers: true,
        secret_var: None,
    }
}

/// Supabase: ES256 from the project's JWKS, issuer `{url}/auth/v1`, `aud`
/// always `authenticated`, a client-id allow-list.
fn supabase(issuer: &Issuer) -> Shape {
    let url = issuer.origin();
    let iss = format!("{url}/auth/v1");
    let es = |extra: Value| issuer.es256_token(&claims(&iss, extra));
    let base = |scope: &str| json!({"aud": "authenticated", "role": "authenticated", "aal": "aal1", "client_id": CLIENT_ID, "scope": scope});
    let with = |scope: &str, key: &str, value: Value| {
        let mut claims = base(scope);
        claims[key] = value;
        claims
    };
    Shape {
        id: "supabase",
        flags: flags(&[
            "--provider",
            "supabase",
            "--supabase-url",
            &url,
            "--resource-url",
            RESOURCE,
            "--client-id",
            CLIENT_ID,
        ]),
        env: vec![
            ("SUPABASE_URL", url.clone()),
            ("MCP_AUTH_CLIENT_IDS", CLIENT_ID.into()),
        ],
        cases: vec![
            (
                "ES256, aud authenticated, write",
                es(base("read:tasks write:tasks")),
                Expect::Writes,
            ),
            (
                "ES256, aud authenticated, read only",
                es(base("read:tasks")),
                Expect::ReadsOnly,
            ),
            (
                "RS256 from the same key set",
                issuer.token(&claims(&iss, base("write:tasks"))),
                Expect::Writes,
            ),
            (
                "aud is the server, not authenticated",
                es(with("write:tasks", "aud", json!(RESOURCE))),
                Expect::Refused,
            ),
            (
                "a client not on the allow-list",
                es(with("write:tasks", "client_id", json!("someone-else"))),
                Expect::Refused,
            ),
            (
                "issuer without /auth/v1",
                issuer.es256_token(&claims(&url, base("write:tasks"))),
                Expect::Refused,
            ),
            (
                "HS256 (a legacy shared-secret token)",
                issuer.hs256_token(
                    b"super-secret-jwt-token",
                    None,
                    &claims(&iss, base("write:tasks")),
                ),
                Expect::Refused,
            ),
        ],
        warning: Some("not bound to this server's URL"),
        discovers: false,
        secret_var: None,
    }
}

/// A Supabase legacy project: HS256 tokens MACed with the project's JWT
/// secret, read from `SUPABASE_JWT_SECRET` at start-up; nothing signed with
/// the issuer's asymmetric keys, and no `alg: none`, is accepted.
fn supabase_legacy(issuer: &Issuer) -> Shape {
    let url = issuer.origin();
    let iss = format!("{url}/auth/v1");
    let base =
        |scope: &str| json!({"aud": "authenticated", "role": "authenticated", "scope": scope});
    let hs = |secret: &str, claims: Value| issuer.hs256_token(secret.as_bytes(), None, &claims);
    let mut wrong_aud = base("write:tasks");
    wrong_aud["aud"] = json!(RESOURCE);
    Shape {
        id: "supabase-legacy",
        flags: flags(&[
            "--provider",
            "supabase",
            "--supabase-url",
            &url,
            "--resource-url",
            RESOURCE,
            "--supabase-jwt-secret-env",
            LEGACY_SECRET_VAR,
        ]),
        env: vec![
            ("SUPABASE_URL", url.clone()),
            (LEGACY_SECRET_VAR, LEGACY_SECRET.into()),
        ],
        cases: vec![
            (
                "HS256 with the secret, aud authenticated, write",
                hs(LEGACY_SECRET, claims(&iss, base("read:tasks write:tasks"))),
                Expect::Writes,
            ),
            (
                "HS256 with the secret, read only",
                hs(LEGACY_SECRET, claims(&iss, base("read:tasks"))),
                Expect::ReadsOnly,
            ),
            (
                "HS256 with another secret",
                hs(
                    "another-supabase-jwt-secret-0123456789",
                    claims(&iss, base("write:tasks")),
                ),
                Expect::Refused,
            ),
            (
                "HS256 with the secret, aud the server",
                hs(LEGACY_SECRET, claims(&iss, wrong_aud)),
                Expect::Refused,
            ),
            (
                "HS256 with the secret, issuer without /auth/v1",
                hs(LEGACY_SECRET, claims(&url, base("write:tasks"))),
                Expect::Refused,
            ),
            (
                "RS256 from the issuer's key set",
                issuer.token(&claims(&iss, base("write:tasks"))),
                Expect::Refused,
            ),
            (
                "ES256 from the issuer's key set",
                issuer.es256_token(&claims(&iss, base("write:tasks"))),
                Expect::Refused,
            ),
            (
                "alg none",
                unsigned_token(&claims(&iss, base("write:tasks"))),
                Expect::Refused,
            ),
        ],
        warning: Some("migrate the Supabase project to asymmetric JWT signing keys"),
        discovers: false,
        secret_var: Some(LEGACY_SECRET_VAR),
    }
}

/// Entra ID v2: keys by discovery, RS256 only, `aud` the app id (a GUID),
/// delegated scopes in an `scp` string, app permissions in `roles`.
fn entra(issuer: &Issuer) -> Shape {
    let iss = issuer.issuer_url();
    let rs = |extra: Value| issuer.token(&claims(&iss, extra));
    Shape {
        id: "entra",
        flags: flags(&[
            "--provider",
            "entra",
            "--issuer",
            &iss,
            "--audience",
            ENTRA_APP_ID,
            "--resource-url",
            RESOURCE,
        ]),
        env: vec![
            ("ENTRA_ISSUER", iss.clone()),
            ("ENTRA_AUDIENCE", ENTRA_APP_ID.into()),
        ],
        cases: vec![
            (
                "scp string with write",
                rs(json!({"aud": ENTRA_APP_ID, "scp": "read:tasks write:tasks", "azp": CLIENT_ID})),
                Expect::Writes,
            ),
            (
                "roles array with write (app permission)",
                rs(json!({"aud": ENTRA_APP_ID, "roles": ["write:tasks"], "azp": CLIENT_ID})),
                Expect::Writes,
            ),
            (
                "scp string, read only",
                rs(json!({"aud": ENTRA_APP_ID, "scp": "read:tasks"})),
                Expect::ReadsOnly,
            ),
            (
                "ES256 (Entra signs with RS256 only)",
                issuer.es256_token(&claims(
                    &iss,
                    json!({"aud": ENTRA_APP_ID, "scp": "write:tasks"}),
                )),
                Expect::Refused,
            ),
            (
                "another app's audience",
                rs(json!({"aud": "api://other-app", "scp": "write:tasks"})),
                Expect::Refused,
            ),
        ],
        warning: None,
        discovers: true,
        secret_var: None,
    }
}

/// Okta custom authorization server: keys at `{issuer}/v1/keys`, scopes in
/// an `scp` array (a `scope` string is not where Okta puts them).
fn okta(issuer: &Issuer) -> Shape {
    let iss = format!("{}/oauth2/default", issuer.origin());
    let rs = |extra: Value| issuer.token(&claims(&iss, extra));
    Shape {
        id: "okta",
        flags: flags(&[
            "--provider",
            "okta",
            "--issuer",
            &iss,
            "--audience",
            "api://tasks",
            "--resource-url",
            RESOURCE,
        ]),
        env: vec![
            ("OKTA_ISSUER", iss.clone()),
            ("OKTA_AUDIENCE", "api://tasks".into()),
        ],
        cases: vec![
            (
                "scp array with write",
                rs(
                    json!({"aud": "api://tasks", "scp": ["read:tasks", "write:tasks"], "cid": CLIENT_ID}),
                ),
                Expect::Writes,
            ),
            (
                "scp array, read only",
                rs(json!({"aud": "api://tasks", "scp": ["read:tasks"]})),
                Expect::ReadsOnly,
            ),
            (
                "write only in a `scope` string",
                rs(json!({"aud": "api://tasks", "scp": ["read:tasks"], "scope": "write:tasks"})),
                Expect::ReadsOnly,
            ),
            (
                "another audience",
                rs(json!({"aud": "api://other", "scp": ["write:tasks"]})),
                Expect::Refused,
            ),
        ],
        warning: None,
        discovers: false,
        secret_var: None,
    }
}

/// Cognito: no `aud` in access tokens; `token_use` must be `access` and
/// `client_id` on the allow-list; RS256 only.
fn cognito(issuer: &Issuer) -> Shape {
    let iss = format!("{}/us-east-1_e2epool", issuer.origin());
    let rs = |extra: Value| issuer.token(&claims(&iss, extra));
    let base = |scope: &str| json!({"token_use": "access", "client_id": CLIENT_ID, "scope": scope});
    let with = |key: &str, value: Value| {
        let mut claims = base("write:tasks");
        claims[key] = value;
        claims
    };
    Shape {
        id: "cognito",
        flags: flags(&[
            "--provider",
            "cognito",
            "--issuer",
            &iss,
            "--client-id",
            CLIENT_ID,
            "--resource-url",
            RESOURCE,
        ]),
        env: vec![
            ("COGNITO_ISSUER", iss.clone()),
            ("MCP_AUTH_CLIENT_IDS", CLIENT_ID.into()),
        ],
        cases: vec![
            (
                "no aud, token_use access, write",
                rs(base("read:tasks write:tasks")),
                Expect::Writes,
            ),
            (
                "no aud, read only",
                rs(base("read:tasks")),
                Expect::ReadsOnly,
            ),
            (
                "an ID token (token_use id)",
                rs(with("token_use", json!("id"))),
                Expect::Refused,
            ),
            (
                "no token_use",
                rs(with("token_use", Value::Null)),
                Expect::Refused,
            ),
            (
                "a client not on the allow-list",
                rs(with("client_id", json!("someone-else"))),
                Expect::Refused,
            ),
            (
                "ES256 (Cognito signs with RS256 only)",
                issuer.es256_token(&claims(&iss, base("write:tasks"))),
                Expect::Refused,
            ),
        ],
        warning: Some("carry no audience"),
        discovers: false,
        secret_var: None,
    }
}

/// Keycloak: keys at `{issuer}/protocol/openid-connect/certs`, `scope`
/// string, realm roles in the nested `realm_access.roles` counted as scopes.
fn keycloak(issuer: &Issuer) -> Shape {
    let iss = format!("{}/realms/e2e", issuer.origin());
    let rs = |extra: Value| issuer.token(&claims(&iss, extra));
    Shape {
        id: "keycloak",
        flags: flags(&[
            "--provider",
            "keycloak",
            "--issuer",
            &iss,
            "--audience",
            "tasks-api",
            "--resource-url",
            RESOURCE,
        ]),
        env: vec![
            ("KEYCLOAK_ISSUER", iss.clone()),
            ("KEYCLOAK_AUDIENCE", "tasks-api".into()),
        ],
        cases: vec![
            (
                "scope string with write",
                rs(
                    json!({"aud": ["tasks-api", "account"], "scope": "profile write:tasks", "azp": CLIENT_ID}),
                ),
                Expect::Writes,
            ),
            (
                "write as a realm role",
                rs(
                    json!({"aud": "tasks-api", "scope": "profile", "realm_access": {"roles": ["write:tasks", "offline_access"]}}),
                ),
                Expect::Writes,
            ),
            (
                "a role outside realm_access",
                rs(json!({"aud": "tasks-api", "scope": "read:tasks", "roles": ["write:tasks"]})),
                Expect::ReadsOnly,
            ),
            (
                "the default `account` audience only",
                rs(json!({"aud": "account", "scope": "write:tasks"})),
                Expect::Refused,
            ),
        ],
        warning: None,
        discovers: false,
        secret_var: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_provider_accepts_its_own_token_shapes_and_refuses_the_rest() {
    let target_dir = this_crate_target_dir().join("e2e-projects");
    let mut failures = Vec::new();
    for shape in [
        oidc,
        supabase,
        supabase_legacy,
        entra,
        okta,
        cognito,
        keycloak,
    ] {
        let issuer = Issuer::start();
        let shape = shape(&issuer);
        failures.extend(run_shape(&shape, &issuer, &target_dir).await);
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

async fn run_shape(shape: &Shape, issuer: &Issuer, target_dir: &Path) -> Vec<String> {
    let id = shape.id;
    let workspace = TempDir::new().expect("temp dir");
    let project = workspace.path().join(format!("tasks-server-{id}"));
    let mut failures = Vec::new();

    let binary = tokio::task::block_in_place(|| {
        copy_project(Path::new(EXAMPLE), &project);
        rename_package(&project, id);
        let output = run_add_auth(&project, &shape.flags);
        if let Some(warning) = shape.warning
            && !output.contains(warning)
        {
            failures.push(format!(
                "{id}: add-auth did not warn `{warning}`:\n{output}"
            ));
        }
        cargo(&project, target_dir, &["build"], Duration::from_secs(1200));
        // The generated code is clippy-clean, formatted, and its own unit
        // tests (configuration, scopes, discovery) pass, for every provider.
        for args in [
            &["clippy", "--all-targets", "--", "-D", "warnings"][..],
            &["fmt", "--check"],
            &["test"],
        ] {
            if let Err(failure) = try_cargo(&project, target_dir, args, Duration::from_secs(900)) {
                failures.push(format!("{id}: {failure}"));
            }
        }
        target_dir
            .join("debug")
            .join(format!("tasks-server-{id}{}", std::env::consts::EXE_SUFFIX))
    });

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{base}/mcp");
    let mut env = vec![
        ("TASKS_ADDR", format!("127.0.0.1:{port}")),
        ("MCP_RESOURCE_URL", mcp_url.clone()),
    ];
    env.extend(shape.env.iter().cloned());
    let mut server =
        ServerProcess::spawn(&binary, &project, &env, workspace.path().join("server.log"));
    server
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;

    let raw = RawMcp::new(&mcp_url);
    for (name, token, expect) in &shape.cases {
        let what = format!("{id}: {name}");
        let reply = raw.send(Some(token), None, &initialize_body(1)).await;
        let accepted = reply.status == StatusCode::OK;
        let wanted = *expect != Expect::Refused;
        if accepted != wanted {
            failures.push(format!(
                "{what}: expected {}, got\n{}",
                if wanted { "200" } else { "401" },
                reply.describe()
            ));
            continue;
        }
        if !accepted {
            if reply.status != StatusCode::UNAUTHORIZED {
                failures.push(format!("{what}: expected 401, got\n{}", reply.describe()));
            }
            continue;
        }
        let session = raw.open_session(token).await;
        let call = tools_call_body(2, "create-task", json!({ "title": "from e2e" }));
        let reply = raw.send(Some(token), Some(&session), &call).await;
        let status = if *expect == Expect::Writes {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        if reply.status != status {
            failures.push(format!(
                "{what}: tools/call create-task: expected {status}, got\n{}",
                reply.describe()
            ));
        }
    }
    if let Some(var) = shape.secret_var {
        failures.extend(tokio::task::block_in_place(|| {
            shared_secret_is_required(&binary, &project, shape, var)
        }));
    }
    if shape.id == "oidc" {
        failures.extend(
            unreachable_issuer_fails_closed(&binary, &project, issuer, workspace.path()).await,
        );
    }
    if shape.discovers && issuer.discovery_fetches() == 0 {
        failures.push(format!(
            "{id}: the server never read the discovery document"
        ));
    }
    if let Some(warning) = shape.warning
        && !server.log().contains(warning)
    {
        failures.push(format!(
            "{id}: the server did not warn `{warning}` at start-up:\n{}",
            server.log()
        ));
    }
    if !failures.is_empty() {
        eprintln!("--- {id} server log ---\n{}", server.log());
    }
    failures
}

/// With an issuer whose discovery document cannot be read, the server
/// starts, keeps retrying, and answers requests that carry a token with 503
/// and `Retry-After` (never a pass); without a token, still 401.
async fn unreachable_issuer_fails_closed(
    binary: &Path,
    project: &Path,
    issuer: &Issuer,
    workspace: &Path,
) -> Vec<String> {
    let mut failures = Vec::new();
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{base}/mcp");
    let env = [
        ("TASKS_ADDR", format!("127.0.0.1:{port}")),
        ("MCP_RESOURCE_URL", mcp_url.clone()),
        ("OIDC_ISSUER", dead.clone()),
        ("OIDC_AUDIENCE", RESOURCE.to_string()),
    ];
    let mut server = ServerProcess::spawn(binary, project, &env, workspace.join("dead.log"));
    server
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;
    let raw = RawMcp::new(&mcp_url);
    let token = issuer.token(&claims(
        &dead,
        json!({"aud": RESOURCE, "scope": "write:tasks"}),
    ));
    let reply = raw.send(Some(&token), None, &initialize_body(1)).await;
    if reply.status != StatusCode::SERVICE_UNAVAILABLE || reply.header_opt("retry-after").is_none()
    {
        failures.push(format!(
            "oidc, issuer unreachable: expected 503 with Retry-After, got\n{}",
            reply.describe()
        ));
    }
    let reply = raw.send(None, None, &initialize_body(1)).await;
    if reply.status != StatusCode::UNAUTHORIZED {
        failures.push(format!(
            "oidc, issuer unreachable, no token: expected 401, got\n{}",
            reply.describe()
        ));
    }
    if !server
        .log()
        .contains("cannot discover the issuer's key set")
    {
        failures.push(format!(
            "oidc, issuer unreachable: no error naming the discovery in the log:\n{}",
            server.log()
        ));
    }
    failures
}

/// A shared-secret project: the secret's variable is named in `.env` and
/// `.env.example` without a value and recorded (by name) in the state, so a
/// re-run without flags is up to date; without the secret, or with a short
/// one, the server exits 1 naming the variable. The project's `.env` (as
/// add-auth wrote it, `VAR=`) is read by the server here.
fn shared_secret_is_required(
    binary: &Path,
    project: &Path,
    shape: &Shape,
    var: &str,
) -> Vec<String> {
    let id = shape.id;
    let mut failures = Vec::new();
    for file in [".env", ".env.example"] {
        let text = fs::read_to_string(project.join(file)).unwrap_or_default();
        if !text.lines().any(|line| line == format!("{var}=")) {
            failures.push(format!("{id}: `{file}` has no empty `{var}=`:\n{text}"));
        }
    }
    let state = fs::read_to_string(project.join("mcp-builder.json")).unwrap_or_default();
    let state: Value = serde_json::from_str(&state).unwrap_or_default();
    if state["auth"]["jwt_secret_env"] != json!(var) {
        failures.push(format!(
            "{id}: the state does not record `{var}`:\n{state:#}"
        ));
    }
    if state.to_string().contains(LEGACY_SECRET) {
        failures.push(format!("{id}: the state holds the secret"));
    }
    failures.extend(stale_after_rerun(project, id));

    for secret in [None, Some("too-short-a-secret")] {
        let mut command = std::process::Command::new(binary);
        command
            .current_dir(project)
            .env("TASKS_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("MCP_RESOURCE_URL", RESOURCE)
            .env_remove(var)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (name, value) in &shape.env {
            if *name != var {
                command.env(name, value);
            }
        }
        if let Some(secret) = secret {
            command.env(var, secret);
        }
        let (status, stderr) = exit_of(command);
        let what = match secret {
            None => "without the secret",
            Some(_) => "with a short secret",
        };
        if status != Some(1) || !stderr.contains(var) {
            failures.push(format!(
                "{id}, {what}: expected exit 1 naming `{var}`, got {status:?}:\n{stderr}"
            ));
        }
    }
    failures
}

/// Gives the copy its own package (and binary) name.
fn rename_package(project: &Path, id: &str) {
    let manifest = project.join("Cargo.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    let renamed = text.replacen(
        "name = \"tasks-server\"",
        &format!("name = \"tasks-server-{id}\""),
        1,
    );
    assert_ne!(text, renamed, "the example's package name moved");
    fs::write(&manifest, renamed).unwrap();
}

fn run_add_auth(project: &Path, provider_flags: &[String]) -> String {
    let output = assert_cmd::Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--no-verify", "--path"])
        .arg(project)
        .args(provider_flags)
        .args(TOOL_FLAGS)
        .write_stdin("")
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run mcp-builder add-auth");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "add-auth {provider_flags:?} failed:\n{text}"
    );
    text
}

// ---------------------------------------------------------------------------
// Opaque tokens: every token is asked about at an RFC 7662 endpoint.
// ---------------------------------------------------------------------------

/// The generated server's client at the test introspection endpoint. Both
/// hold characters that HTTP Basic needs form-urlencoded first (RFC 6749
/// section 2.3.1); the endpoint refuses them otherwise.
const INTROSPECTION_CLIENT: &str = "mcp server:1";
const INTROSPECTION_SECRET: &str = "s3cr t:/+&=%\u{e9}";

/// `--token-format introspection` on the bundled example, built, run and
/// probed against a test introspection endpoint: active answers that fit
/// the server are accepted (and remembered: asked about once), refusals
/// are remembered briefly, answers that are not answers are a 401, and an
/// endpoint that cannot be asked now (down, too slow, 429, 5xx) is a 503
/// with `Retry-After`, never a 401 nor a pass. Then the same server under
/// load ([`introspection_holds_under_load`]).
#[tokio::test(flavor = "multi_thread")]
async fn introspection_accepts_only_active_tokens_that_fit_and_fails_closed() {
    let target_dir = this_crate_target_dir().join("e2e-projects");
    let mut endpoint = IntrospectionEndpoint::start(INTROSPECTION_CLIENT, INTROSPECTION_SECRET);
    let jwt_issuer = Issuer::start();
    let issuer = format!("{}/", endpoint.origin());
    let workspace = TempDir::new().expect("temp dir");
    let project = workspace.path().join("tasks-server-introspection");
    let mut failures = Vec::new();
    let provider_flags = flags(&[
        "--provider",
        "oidc",
        "--issuer",
        &issuer,
        "--audience",
        RESOURCE,
        "--token-format",
        "introspection",
        "--introspection-url",
        &endpoint.url(),
    ]);

    let binary = tokio::task::block_in_place(|| {
        copy_project(Path::new(EXAMPLE), &project);
        rename_package(&project, "introspection");
        let output = run_add_auth(&project, &provider_flags);
        if !output.contains("MCP_AUTH_INTROSPECTION_CLIENT_SECRET") {
            failures.push(format!(
                "add-auth did not say which credentials to set:\n{output}"
            ));
        }
        failures.extend(introspection_settings_are_written(
            &project,
            &endpoint.url(),
        ));
        cargo(&project, &target_dir, &["build"], Duration::from_secs(1200));
        for args in [
            &["clippy", "--all-targets", "--", "-D", "warnings"][..],
            &["fmt", "--check"],
            &["test"],
        ] {
            if let Err(failure) = try_cargo(&project, &target_dir, args, Duration::from_secs(900)) {
                failures.push(format!("introspection: {failure}"));
            }
        }
        target_dir.join("debug").join(format!(
            "tasks-server-introspection{}",
            std::env::consts::EXE_SUFFIX
        ))
    });

    let now = now();
    // An active answer that fits the server, changed by `extra` (null
    // removes a member).
    let active = |extra: Value| {
        let mut answer = json!({
            "active": true, "sub": "alice", "client_id": CLIENT_ID,
            "scope": "read:tasks write:tasks", "iss": issuer, "aud": RESOURCE,
            "exp": now + 300, "iat": now, "token_type": "Bearer",
        });
        for (key, value) in extra.as_object().unwrap() {
            if value.is_null() {
                answer.as_object_mut().unwrap().remove(key);
            } else {
                answer[key] = value.clone();
            }
        }
        answer
    };
    // A JWT the issuer signed: here it is just a string to ask about.
    let jwt = jwt_issuer.token(&claims(
        &jwt_issuer.issuer_url(),
        json!({"aud": RESOURCE, "scope": "read:tasks write:tasks"}),
    ));
    let unregistered_jwt = jwt_issuer.token(&claims(
        &jwt_issuer.issuer_url(),
        json!({"aud": RESOURCE, "scope": "write:tasks", "jti": "another"}),
    ));
    let cases: Vec<(&str, String, Option<Value>, Expect)> = vec![
        (
            "active, write",
            "opaque-write-1".into(),
            Some(active(json!({}))),
            Expect::Writes,
        ),
        (
            "active, read only",
            "opaque-read-1".into(),
            Some(active(json!({"scope": "read:tasks"}))),
            Expect::ReadsOnly,
        ),
        (
            "active, aud an array with the server",
            "opaque-aud-array".into(),
            Some(active(
                json!({"aud": ["https://other.example.com", RESOURCE]}),
            )),
            Expect::Writes,
        ),
        (
            "active, no exp",
            "opaque-no-exp".into(),
            Some(active(json!({"exp": null}))),
            Expect::Writes,
        ),
        (
            "active, no iss",
            "opaque-no-iss".into(),
            Some(active(json!({"iss": null}))),
            Expect::Writes,
        ),
        (
            "a JWT, introspected",
            jwt,
            Some(active(json!({}))),
            Expect::Writes,
        ),
        (
            "a JWT the endpoint does not know",
            unregistered_jwt,
            None,
            Expect::Refused,
        ),
        (
            "inactive",
            "opaque-inactive".into(),
            Some(json!({"active": false})),
            Expect::Refused,
        ),
        (
            "unknown to the endpoint",
            "opaque-unknown".into(),
            None,
            Expect::Refused,
        ),
        (
            "another audience",
            "opaque-wrong-aud".into(),
            Some(active(json!({"aud": "https://other.example.com/mcp"}))),
            Expect::Refused,
        ),
        (
            "no aud",
            "opaque-no-aud".into(),
            Some(active(json!({"aud": null}))),
            Expect::Refused,
        ),
        (
            "another issuer",
            "opaque-wrong-iss".into(),
            Some(active(json!({"iss": "https://evil.example.com/"}))),
            Expect::Refused,
        ),
        (
            "expired",
            "opaque-expired".into(),
            Some(active(json!({"exp": now - 600}))),
            Expect::Refused,
        ),
        (
            "not valid yet",
            "opaque-nbf".into(),
            Some(active(json!({"nbf": now + 600}))),
            Expect::Refused,
        ),
        (
            "issued in the future",
            "opaque-iat".into(),
            Some(active(json!({"iat": now + 600}))),
            Expect::Refused,
        ),
        (
            "no sub",
            "opaque-no-sub".into(),
            Some(active(json!({"sub": null}))),
            Expect::Refused,
        ),
        (
            "a refresh token",
            "opaque-refresh".into(),
            Some(active(json!({"token_type": "refresh_token"}))),
            Expect::Refused,
        ),
        (
            "active as a string",
            "opaque-active-string".into(),
            Some(active(json!({"active": "true"}))),
            Expect::Refused,
        ),
    ];
    for (_, token, answer, _) in &cases {
        if let Some(answer) = answer {
            endpoint.answer(token, answer.clone());
        }
    }

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{base}/mcp");
    let env = |url: &str, secret: &str| {
        vec![
            ("TASKS_ADDR", format!("127.0.0.1:{port}")),
            ("MCP_RESOURCE_URL", mcp_url.clone()),
            ("OIDC_ISSUER", issuer.clone()),
            ("OIDC_AUDIENCE", RESOURCE.to_string()),
            ("MCP_AUTH_INTROSPECTION_URL", url.to_string()),
            (
                "MCP_AUTH_INTROSPECTION_CLIENT_ID",
                INTROSPECTION_CLIENT.to_string(),
            ),
            ("MCP_AUTH_INTROSPECTION_CLIENT_SECRET", secret.to_string()),
        ]
    };
    let mut logs = Vec::new();
    {
        let mut server = ServerProcess::spawn(
            &binary,
            &project,
            &env(&endpoint.url(), INTROSPECTION_SECRET),
            workspace.path().join("server.log"),
        );
        server
            .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
            .await;
        let raw = RawMcp::new(&mcp_url);
        for (name, token, _, expect) in &cases {
            failures.extend(
                expect_reply(&raw, &format!("introspection: {name}"), token, *expect).await,
            );
        }

        // Remembered: every request above asked the endpoint once, an
        // accepted token until it expires, a refused one for a few seconds.
        for (name, token, _, _) in &cases {
            let calls = endpoint.calls_for(token);
            if calls != 1 {
                failures.push(format!(
                    "introspection: {name}: the endpoint was asked {calls} times, expected once (then remembered)"
                ));
            }
        }
        let inactive = "opaque-inactive";
        let before = endpoint.calls_for(inactive);
        let _ = raw.send(Some(inactive), None, &initialize_body(1)).await;
        if endpoint.calls_for(inactive) != before {
            failures.push("introspection: a refused token was asked about again at once".into());
        }

        // Answers that are not answers: 401. An endpoint that cannot be
        // asked now: 503 with its own `Retry-After` (when sane) or the
        // default 5 s. Never a pass, and nothing remembered.
        endpoint.answer("opaque-fault", active(json!({})));
        for (what, mode, expected) in [
            (
                "status 500",
                AnswerMode::Status(StatusCode::INTERNAL_SERVER_ERROR),
                Some("5"),
            ),
            (
                "status 503 with Retry-After: 17",
                AnswerMode::RetryAfter(StatusCode::SERVICE_UNAVAILABLE, "17"),
                Some("17"),
            ),
            (
                "status 429 with Retry-After: 3",
                AnswerMode::RetryAfter(StatusCode::TOO_MANY_REQUESTS, "3"),
                Some("3"),
            ),
            (
                "status 429 with Retry-After: 86400",
                AnswerMode::RetryAfter(StatusCode::TOO_MANY_REQUESTS, "86400"),
                Some("120"),
            ),
            (
                "status 429 with a Retry-After date",
                AnswerMode::RetryAfter(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Wed, 21 Oct 2026 07:28:00 GMT",
                ),
                Some("5"),
            ),
            (
                "status 400",
                AnswerMode::Status(StatusCode::BAD_REQUEST),
                None,
            ),
            (
                "an HTML page",
                AnswerMode::Body {
                    content_type: "text/html",
                    body: "<html>maintenance</html>",
                },
                None,
            ),
            (
                "JSON without `active`",
                AnswerMode::Body {
                    content_type: "application/json",
                    body: r#"{"sub": "alice", "scope": "write:tasks"}"#,
                },
                None,
            ),
            (
                "no answer within the timeout",
                AnswerMode::Slow(Duration::from_secs(8)),
                Some("5"),
            ),
        ] {
            endpoint.set_mode(mode);
            let started = std::time::Instant::now();
            let reply = raw
                .send(Some("opaque-fault"), None, &initialize_body(1))
                .await;
            if let Some(failure) = expect_unavailable_or_refused(&reply, expected) {
                failures.push(format!("introspection: endpoint answers {what}: {failure}"));
            }
            if started.elapsed() > Duration::from_secs(7) {
                failures.push(format!(
                    "introspection: endpoint answers {what}: the server waited {:?}",
                    started.elapsed()
                ));
            }
        }
        endpoint.set_mode(AnswerMode::Normal);
        failures.extend(
            expect_reply(
                &raw,
                "introspection: after the faults",
                "opaque-fault",
                Expect::Writes,
            )
            .await,
        );

        for received in endpoint.received() {
            if received.content_type.as_deref() != Some("application/x-www-form-urlencoded")
                || received.field("token_type_hint") != Some("access_token")
                || !received.authenticated
            {
                failures.push(format!(
                    "introspection: the endpoint got an unexpected request: {received:?}"
                ));
                break;
            }
        }
        let metadata = reqwest::get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
            .await
            .expect("GET the metadata")
            .json::<Value>()
            .await
            .expect("metadata JSON");
        if metadata["authorization_servers"] != json!([issuer]) {
            failures.push(format!(
                "introspection: authorization_servers is not the issuer: {metadata}"
            ));
        }
        failures.extend(introspection_holds_under_load(&raw, &mut endpoint, &active).await);
        logs.push(server.log());
    }

    // The issuer refuses this server's credentials (401: the token cannot
    // be vouched for), or is not there at all (503: try again later).
    let dead = format!("http://127.0.0.1:{}/introspect", free_port());
    for (what, url, secret, logged, retry_after) in [
        (
            "wrong client credentials",
            endpoint.url(),
            "not-the-secret",
            "refused this server's credentials",
            None,
        ),
        (
            "endpoint down",
            dead,
            INTROSPECTION_SECRET,
            "cannot introspect a token now",
            Some("5"),
        ),
    ] {
        let mut server = ServerProcess::spawn(
            &binary,
            &project,
            &env(&url, secret),
            workspace.path().join(format!("{what}.log")),
        );
        server
            .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
            .await;
        let raw = RawMcp::new(&mcp_url);
        let reply = raw
            .send(Some("opaque-write-1"), None, &initialize_body(1))
            .await;
        if let Some(failure) = expect_unavailable_or_refused(&reply, retry_after) {
            failures.push(format!("introspection, {what}: {failure}"));
        }
        let log = server.log();
        if !log.contains(logged) {
            failures.push(format!(
                "introspection, {what}: the log does not say `{logged}`:\n{log}"
            ));
        }
        logs.push(log);
    }
    for log in &logs {
        for (name, token, _, _) in &cases {
            if log.contains(token.as_str()) {
                failures.push(format!(
                    "introspection: the token of `{name}` is in a server log"
                ));
            }
        }
    }
    failures.extend(tokio::task::block_in_place(|| {
        introspection_settings_are_required(&binary, &project, &env(&endpoint.url(), "x"))
    }));

    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}\n\n--- server logs ---\n{}",
        failures.len(),
        failures.join("\n\n"),
        logs.join("\n---\n")
    );
}

/// What is wrong with `reply`, if anything: with `retry_after`, it must be
/// the 503 of an introspection endpoint that cannot be asked now, with
/// that `Retry-After` and no challenge (the token is not known to be bad);
/// without, the 401 `invalid_token` of a refused token.
fn expect_unavailable_or_refused(reply: &Reply, retry_after: Option<&str>) -> Option<String> {
    let fine = match retry_after {
        Some(seconds) => {
            reply.status == StatusCode::SERVICE_UNAVAILABLE
                && reply.header_opt("retry-after") == Some(seconds)
                && reply.header_opt("www-authenticate").is_none()
                && reply.mentions("temporarily_unavailable")
        }
        None => {
            reply.status == StatusCode::UNAUTHORIZED
                && reply.challenge().param("error") == Some("invalid_token")
        }
    };
    (!fine).then(|| match retry_after {
        Some(seconds) => format!(
            "expected 503 with Retry-After: {seconds}, got\n{}",
            reply.describe()
        ),
        None => format!("expected 401 invalid_token, got\n{}", reply.describe()),
    })
}

/// `initialize` with each of `tokens`, all at once; the replies.
async fn all_at_once(raw: &RawMcp, tokens: Vec<String>) -> Vec<Reply> {
    let mut requests = tokio::task::JoinSet::new();
    for token in tokens {
        let raw = raw.clone();
        requests.spawn(async move { raw.send(Some(&token), None, &initialize_body(1)).await });
    }
    let mut replies = Vec::new();
    while let Some(reply) = requests.join_next().await {
        replies.push(reply.expect("a request task"));
    }
    replies
}

/// Issue 20 item 4, against the running introspection server: what load
/// costs the endpoint. Many requests at once with the same new token make
/// one call (refused or accepted alike); the same refused token again and
/// again, one call; hundreds of distinct junk tokens at once never have
/// more than `MAX_IN_FLIGHT` (16) calls under way; an endpoint that is
/// down or throttling makes 503 with `Retry-After`, and once it is back the
/// same token is accepted.
async fn introspection_holds_under_load(
    raw: &RawMcp,
    endpoint: &mut IntrospectionEndpoint,
    active: &dyn Fn(Value) -> Value,
) -> Vec<String> {
    /// The generated `introspection::MAX_IN_FLIGHT`.
    const MAX_IN_FLIGHT: usize = 16;
    let mut failures = Vec::new();
    let mut report = Vec::new();

    // 50 at once, the same token, a slow endpoint: one call.
    endpoint.set_mode(AnswerMode::Slow(Duration::from_millis(500)));
    endpoint.answer("opaque-crowd-active", active(json!({"sub": "carol"})));
    for (token, status) in [
        ("opaque-crowd-unknown", StatusCode::UNAUTHORIZED),
        ("opaque-crowd-active", StatusCode::OK),
    ] {
        let replies = all_at_once(raw, vec![token.to_string(); 50]).await;
        let calls = endpoint.calls_for(token);
        report.push(format!("50 at once with `{token}`: {calls} call(s)"));
        if calls != 1 {
            failures.push(format!(
                "introspection under load: 50 requests at once with `{token}` made {calls} calls, expected 1"
            ));
        }
        if let Some(reply) = replies.iter().find(|reply| reply.status != status) {
            failures.push(format!(
                "introspection under load: 50 requests at once with `{token}`: expected {status} for each, got\n{}",
                reply.describe()
            ));
        }
    }

    // The same refused token 50 times in a row: one call.
    endpoint.set_mode(AnswerMode::Normal);
    let token = "opaque-again-and-again";
    for _ in 0..50 {
        let reply = raw.send(Some(token), None, &initialize_body(1)).await;
        if let Some(failure) = expect_unavailable_or_refused(&reply, None) {
            failures.push(format!("introspection under load: `{token}`: {failure}"));
            break;
        }
    }
    let calls = endpoint.calls_for(token);
    report.push(format!("50 in a row with `{token}`: {calls} call(s)"));
    if calls != 1 {
        failures.push(format!(
            "introspection under load: the same refused token 50 times made {calls} calls, expected 1"
        ));
    }

    // Distinct junk tokens at once against a slowish endpoint: never more
    // than MAX_IN_FLIGHT calls under way, each token asked about once.
    let junk = 400;
    endpoint.set_mode(AnswerMode::Slow(Duration::from_millis(25)));
    endpoint.reset_max_in_flight();
    let before = endpoint.calls();
    let tokens = (0..junk).map(|i| format!("junk-{i:04}")).collect();
    let started = std::time::Instant::now();
    let replies = all_at_once(raw, tokens).await;
    let elapsed = started.elapsed();
    let calls = endpoint.calls() - before;
    let most = endpoint.max_in_flight();
    let refused = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::UNAUTHORIZED)
        .count();
    report.push(format!(
        "{junk} distinct junk tokens at once: {calls} calls, at most {most} in flight, {refused} answered 401, in {elapsed:.1?}"
    ));
    if !(2..=MAX_IN_FLIGHT).contains(&most) {
        failures.push(format!(
            "introspection under load: {junk} junk tokens at once had {most} calls in flight at the endpoint, expected 2 to {MAX_IN_FLIGHT}"
        ));
    }
    if calls != junk {
        failures.push(format!(
            "introspection under load: {junk} distinct junk tokens made {calls} calls, expected {junk}"
        ));
    }
    if let Some(reply) = replies
        .iter()
        .find(|reply| reply.status != StatusCode::UNAUTHORIZED)
    {
        failures.push(format!(
            "introspection under load: a junk token: expected 401, got\n{}",
            reply.describe()
        ));
    }

    // Down, then throttling, then back: 503 with Retry-After, then 200.
    endpoint.set_mode(AnswerMode::Normal);
    let token = "opaque-outage";
    endpoint.answer(token, active(json!({"sub": "dave"})));
    endpoint.go_down();
    let reply = raw.send(Some(token), None, &initialize_body(1)).await;
    if let Some(failure) = expect_unavailable_or_refused(&reply, Some("5")) {
        failures.push(format!(
            "introspection under load: endpoint down: {failure}"
        ));
    }
    endpoint.come_back();
    for (what, mode, retry_after) in [
        (
            "429 with Retry-After: 9",
            AnswerMode::RetryAfter(StatusCode::TOO_MANY_REQUESTS, "9"),
            "9",
        ),
        ("502", AnswerMode::Status(StatusCode::BAD_GATEWAY), "5"),
    ] {
        endpoint.set_mode(mode);
        let reply = raw.send(Some(token), None, &initialize_body(1)).await;
        if let Some(failure) = expect_unavailable_or_refused(&reply, Some(retry_after)) {
            failures.push(format!(
                "introspection under load: endpoint answers {what}: {failure}"
            ));
        }
    }
    endpoint.set_mode(AnswerMode::Normal);
    let reply = raw.send(Some(token), None, &initialize_body(1)).await;
    if reply.status != StatusCode::OK {
        failures.push(format!(
            "introspection under load: the endpoint back: expected 200, got\n{}",
            reply.describe()
        ));
    }
    println!("introspection under load:\n  {}", report.join("\n  "));
    failures
}

/// Sends `initialize` with `token` and checks the answer; an accepted token
/// then calls `create-task` on its session (200, or 403 naming the scope).
async fn expect_reply(raw: &RawMcp, what: &str, token: &str, expect: Expect) -> Vec<String> {
    let mut failures = Vec::new();
    let reply = raw.send(Some(token), None, &initialize_body(1)).await;
    if expect == Expect::Refused {
        if reply.status != StatusCode::UNAUTHORIZED
            || reply.challenge().param("error") != Some("invalid_token")
        {
            failures.push(format!(
                "{what}: expected 401 invalid_token, got\n{}",
                reply.describe()
            ));
        }
        return failures;
    }
    if reply.status != StatusCode::OK {
        failures.push(format!("{what}: expected 200, got\n{}", reply.describe()));
        return failures;
    }
    let session = raw.open_session(token).await;
    let call = tools_call_body(2, "create-task", json!({ "title": "from e2e" }));
    let reply = raw.send(Some(token), Some(&session), &call).await;
    match expect {
        Expect::Writes
            if reply.status != StatusCode::OK || reply.json_rpc().get("result").is_none() =>
        {
            failures.push(format!(
                "{what}: tools/call create-task: expected a result, got\n{}",
                reply.describe()
            ));
        }
        Expect::ReadsOnly
            if reply.status != StatusCode::FORBIDDEN
                || reply.challenge().param("error") != Some("insufficient_scope")
                || reply.challenge().param("scope") != Some("write:tasks") =>
        {
            failures.push(format!(
                "{what}: tools/call create-task: expected 403 insufficient_scope, got\n{}",
                reply.describe()
            ));
        }
        _ => {}
    }
    failures
}

/// What add-auth wrote for introspection: the endpoint in `.env`, empty
/// credentials for the user to fill in, the names in `.env.example`, the
/// format and endpoint (never a secret) in the state; a re-run without
/// flags is up to date.
fn introspection_settings_are_written(project: &Path, url: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let read = |file: &str| fs::read_to_string(project.join(file)).unwrap_or_default();
    let dotenv = read(".env");
    for line in [
        format!("MCP_AUTH_INTROSPECTION_URL={url}"),
        "MCP_AUTH_INTROSPECTION_CLIENT_ID=".into(),
        "MCP_AUTH_INTROSPECTION_CLIENT_SECRET=".into(),
    ] {
        if !dotenv.lines().any(|have| have == line) {
            failures.push(format!("introspection: `.env` has no `{line}`:\n{dotenv}"));
        }
    }
    let example = read(".env.example");
    for name in [
        "MCP_AUTH_INTROSPECTION_URL",
        "MCP_AUTH_INTROSPECTION_CLIENT_ID",
        "MCP_AUTH_INTROSPECTION_CLIENT_SECRET",
    ] {
        if !example.lines().any(|line| line == format!("{name}=")) {
            failures.push(format!(
                "introspection: `.env.example` has no empty `{name}=`:\n{example}"
            ));
        }
    }
    let state: Value = serde_json::from_str(&read("mcp-builder.json")).unwrap_or_default();
    if state["auth"]["token_format"] != "introspection" || state["auth"]["introspection_url"] != url
    {
        failures.push(format!(
            "introspection: the state does not record the format and endpoint:\n{state:#}"
        ));
    }
    if !project.join("src/auth/introspection.rs").exists() {
        failures.push("introspection: no `src/auth/introspection.rs`".into());
    }
    failures.extend(stale_after_rerun(project, "introspection"));
    failures
}

/// Without its credentials, or with an endpoint over plain HTTP off
/// loopback, the server does not start: exit 1, naming the variable.
fn introspection_settings_are_required(
    binary: &Path,
    project: &Path,
    env: &[(&'static str, String)],
) -> Vec<String> {
    let mut failures = Vec::new();
    let cases = [
        ("MCP_AUTH_INTROSPECTION_CLIENT_SECRET", None),
        ("MCP_AUTH_INTROSPECTION_CLIENT_ID", None),
        (
            "MCP_AUTH_INTROSPECTION_URL",
            Some("http://issuer.example.com/introspect"),
        ),
    ];
    for (var, value) in cases {
        let mut command = std::process::Command::new(binary);
        command
            .current_dir(project)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (name, set) in env {
            if *name != var {
                command.env(name, set);
            }
        }
        match value {
            Some(value) => command.env(var, value),
            None => command.env_remove(var),
        };
        let (status, stderr) = exit_of(command);
        if status != Some(1) || !stderr.contains(var) {
            failures.push(format!(
                "introspection, {var} {value:?}: expected exit 1 naming it, got {status:?}:\n{stderr}"
            ));
        }
    }
    failures
}

// ---------------------------------------------------------------------------
// Bad provider inputs: a clear usage error, nothing written.
// ---------------------------------------------------------------------------

#[test]
fn bad_provider_inputs_are_usage_errors_that_change_nothing() {
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    let before = tree(dir.path());
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--provider",
                "oidc",
                "--issuer",
                "http://issuer.example.com/",
                "--audience",
                RESOURCE,
            ],
            "uses http:// for a host that is not loopback",
        ),
        (
            &[
                "--provider",
                "oidc",
                "--issuer",
                "issuer.example.com",
                "--audience",
                RESOURCE,
            ],
            "`issuer.example.com` is not an absolute URL",
        ),
        (
            &[
                "--provider",
                "keycloak",
                "--issuer",
                "https://kc.example.com/realms/r?x=1",
                "--audience",
                "account",
                "--resource-url",
                RESOURCE,
            ],
            "has a query",
        ),
        (
            &["--provider", "supabase", "--resource-url", RESOURCE],
            "missing required values: --project-ref (or --supabase-url)",
        ),
        (
            &[
                "--provider",
                "supabase",
                "--project-ref",
                "Not_A_Ref",
                "--resource-url",
                RESOURCE,
            ],
            "`Not_A_Ref` is not a Supabase project ref",
        ),
        (
            &[
                "--provider",
                "supabase",
                "--project-ref",
                "abcdefghij",
                "--audience",
                RESOURCE,
            ],
            "--audience does not apply to --provider supabase",
        ),
        (
            &[
                "--provider",
                "ping",
                "--domain",
                "x.example.com",
                "--audience",
                RESOURCE,
            ],
            "unknown provider `ping`",
        ),
        (
            &[
                "--provider",
                "cognito",
                "--issuer",
                "https://cognito-idp.us-east-1.amazonaws.com/pool",
                "--resource-url",
                RESOURCE,
            ],
            "missing required values: --client-id",
        ),
        (
            &[
                "--provider",
                "auth0",
                "--issuer",
                "https://x.auth0.com/",
                "--audience",
                RESOURCE,
            ],
            "--issuer does not apply to --provider auth0",
        ),
        (
            &[
                "--provider",
                "entra",
                "--issuer",
                "https://login.microsoftonline.com/t/v2.0",
                "--audience",
                ENTRA_APP_ID,
            ],
            "missing required values: --resource-url",
        ),
        (
            &[
                "--provider",
                "auth0",
                "--domain",
                "x.auth0.com",
                "--audience",
                RESOURCE,
                "--supabase-jwt-secret-env",
                "SUPABASE_JWT_SECRET",
            ],
            "--supabase-jwt-secret-env does not apply to --provider auth0",
        ),
        (
            &[
                "--provider",
                "supabase",
                "--project-ref",
                "abcdefghijklmnopqrst",
                "--resource-url",
                RESOURCE,
                "--supabase-jwt-secret-env",
                "super-secret-jwt-token",
            ],
            "`super-secret-jwt-token` is not an environment variable name",
        ),
        (
            &[
                "--provider",
                "supabase",
                "--project-ref",
                "abcdefghijklmnopqrst",
                "--resource-url",
                RESOURCE,
                "--supabase-jwt-secret-env",
                "SUPABASE_URL",
            ],
            "`SUPABASE_URL` already holds another setting",
        ),
        (
            &[
                "--provider",
                "oidc",
                "--issuer",
                "https://id.example.com/",
                "--audience",
                RESOURCE,
                "--token-format",
                "introspection",
            ],
            "missing required values: --introspection-url",
        ),
        (
            &[
                "--provider",
                "oidc",
                "--issuer",
                "https://id.example.com/",
                "--audience",
                RESOURCE,
                "--token-format",
                "introspection",
                "--introspection-url",
                "http://id.example.com/introspect",
            ],
            "--introspection-url: `http://id.example.com/introspect` uses http:// for a host that is not loopback",
        ),
        (
            &[
                "--provider",
                "oidc",
                "--issuer",
                "https://id.example.com/",
                "--audience",
                RESOURCE,
                "--token-format",
                "introspection",
                "--introspection-url",
                "id.example.com/introspect",
            ],
            "--introspection-url: `id.example.com/introspect` is not an absolute URL",
        ),
        (
            &[
                "--provider",
                "oidc",
                "--issuer",
                "https://id.example.com/",
                "--audience",
                RESOURCE,
                "--token-format",
                "paseto",
            ],
            "--token-format: unknown token format `paseto`",
        ),
        (
            &[
                "--provider",
                "oidc",
                "--issuer",
                "https://id.example.com/",
                "--audience",
                RESOURCE,
                "--introspection-url",
                "https://id.example.com/introspect",
            ],
            "--introspection-url applies only to --token-format introspection",
        ),
        (
            &[
                "--provider",
                "supabase",
                "--project-ref",
                "abcdefghijklmnopqrst",
                "--resource-url",
                RESOURCE,
                "--token-format",
                "introspection",
                "--introspection-url",
                "https://abcdefghijklmnopqrst.supabase.co/introspect",
            ],
            "--token-format introspection does not apply to --provider supabase",
        ),
    ];
    for (args, expected) in cases {
        let output = assert_cmd::Command::cargo_bin("mcp-builder")
            .unwrap()
            .args(["add-auth", "--no-verify", "--path"])
            .arg(dir.path())
            .args(*args)
            .args(TOOL_FLAGS)
            .env("NO_COLOR", "1")
            .write_stdin("")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}:\n{stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected `{expected}` in\n{stderr}"
        );
        assert!(tree(dir.path()) == before, "{args:?} changed the project");
    }
}

/// The tool itself builds what each provider definition says.
#[test]
fn dry_runs_write_each_providers_settings() {
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    let before = tree(dir.path());
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "--provider",
                "supabase",
                "--project-ref",
                "abcdefghijklmnopqrst",
                "--resource-url",
                RESOURCE,
            ],
            &[
                "SUPABASE_URL=https://abcdefghijklmnopqrst.supabase.co",
                "not bound to this server's URL",
            ],
        ),
        (
            &[
                "--provider",
                "supabase",
                "--project-ref",
                "abcdefghijklmnopqrst",
                "--resource-url",
                RESOURCE,
                "--supabase-jwt-secret-env",
                "SUPABASE_JWT_SECRET",
            ],
            &[
                "+SUPABASE_JWT_SECRET=\n",
                "\"jwt_secret_env\": \"SUPABASE_JWT_SECRET\"",
                "SHARED_SECRET_VAR: Option<&str> = Some(\"SUPABASE_JWT_SECRET\")",
                "warning: HS256 tokens are verified with the project's legacy JWT secret",
                "migrate the Supabase project to asymmetric JWT signing keys",
            ],
        ),
        (
            &[
                "--provider",
                "oidc",
                "--issuer",
                "https://id.example.com/",
                "--audience",
                RESOURCE,
                "--jwks-uri",
                "https://keys.example.com/jwks",
                "--scope-claim",
                "perms",
                "--roles-claim",
                "realm_access.roles",
            ],
            &[
                "OIDC_ISSUER=https://id.example.com/",
                "MCP_AUTH_JWKS_URL=https://keys.example.com/jwks",
                "SCOPE_CLAIMS: &[&str] = &[\"perms\"]",
                "ROLES_CLAIM: Option<&str> = Some(\"realm_access.roles\")",
            ],
        ),
        (
            &[
                "--provider",
                "cognito",
                "--issuer",
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
                "--client-id",
                "a,b",
                "--resource-url",
                RESOURCE,
            ],
            &[
                "COGNITO_ISSUER=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
                "MCP_AUTH_CLIENT_IDS=a,b",
                "(\"token_use\", \"access\")",
            ],
        ),
        (
            &[
                "--provider",
                "keycloak",
                "--issuer",
                "https://kc.example.com/realms/r",
                "--audience",
                "tasks-api",
                "--resource-url",
                RESOURCE,
                "--token-format",
                "introspection",
                "--introspection-url",
                "https://kc.example.com/realms/r/protocol/openid-connect/token/introspect",
            ],
            &[
                "+MCP_AUTH_INTROSPECTION_URL=https://kc.example.com/realms/r/protocol/openid-connect/token/introspect\n",
                "+MCP_AUTH_INTROSPECTION_CLIENT_SECRET=\n",
                "\"token_format\": \"introspection\"",
                "+++ b/src/auth/introspection.rs",
                "SCOPE_CLAIMS: &[&str] = &[\"scope\"]",
                "ROLES_CLAIM: Option<&str> = Some(\"realm_access.roles\")",
            ],
        ),
    ];
    for (args, expected) in cases {
        let output = assert_cmd::Command::cargo_bin("mcp-builder")
            .unwrap()
            .args(["add-auth", "--dry-run", "--no-verify", "--path"])
            .arg(dir.path())
            .args(*args)
            .args(TOOL_FLAGS)
            .env("NO_COLOR", "1")
            .write_stdin("")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{args:?}:\n{text}");
        for needle in *expected {
            assert!(
                text.contains(needle),
                "{args:?}: expected `{needle}` in\n{text}"
            );
        }
        assert!(tree(dir.path()) == before, "a dry run changed the project");
    }
}

/// Runs a server that should refuse to start: its exit code (`None` if it
/// was still running after 30 s, then killed) and its stderr.
fn exit_of(mut command: std::process::Command) -> (Option<i32>, String) {
    let mut child = command.spawn().expect("start the server");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the server") {
            break Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = child.wait_with_output().expect("server output");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (status.and_then(|status| status.code()), stderr)
}

/// Why `add-auth --check` with no flags says `project` is not up to date,
/// if it does: a re-run must find everything it needs in the state.
fn stale_after_rerun(project: &Path, id: &str) -> Option<String> {
    let check = assert_cmd::Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--check", "--yes", "--no-verify", "--path"])
        .arg(project)
        .write_stdin("")
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run mcp-builder add-auth --check");
    (!check.status.success()).then(|| {
        format!(
            "{id}: a re-run without flags is not up to date:\n{}",
            String::from_utf8_lossy(&check.stderr)
        )
    })
}
