//! End to end: `mcp-builder add-auth` turns the bundled example
//! (`examples/tasks-server`) into a working OAuth 2.1 resource server.
//!
//! Real parts only: a test issuer on 127.0.0.1 serving a JWKS
//! (`support::issuer`), the example copied to a temp dir, changed by the real
//! `mcp-builder` binary, compiled, linted and started as a real process, and
//! probed over real HTTP (reqwest) and with rmcp's own MCP client.
//!
//! The generated project is built in `<target>/e2e-projects` so that re-runs
//! only recompile the project itself.
//!
//! Run: `cargo test --test e2e_add_auth -- --nocapture`
//! (the first run compiles the project's dependencies: a few minutes).

mod support;

use std::{
    collections::BTreeSet,
    path::Path,
    sync::Mutex,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation, decode, decode_header,
    jwk::{AlgorithmParameters, JwkSet},
};
use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, AUTHORIZATION, ORIGIN},
};
use serde_json::{Value, json};
use support::{
    http::{Challenge, RawMcp, Reply, client, initialize_body, tools_call_body},
    issuer::{EC_KID, Issuer, RSA_KID, TestKey, now, unsigned_token},
    mcp::McpClient,
    project::{
        EXAMPLE, EXAMPLE_FLAGS, ServerProcess, cargo, copy_project, free_port,
        this_crate_target_dir, try_cargo,
    },
};

const DOMAIN: &str = "tasks-test.auth0.com";
const AUDIENCE: &str = "https://tasks.example.com/mcp";
const ALL_SCOPES: [&str; 3] = ["read:tasks", "write:tasks", "delete:tasks"];
const ALL_SCOPES_STR: &str = "read:tasks write:tasks delete:tasks";
/// What a 401 asks for: the read-only tool's scope (the generated
/// `policy::CHALLENGE_SCOPES`), not the whole catalogue the metadata lists.
const CHALLENGE_SCOPE: &str = "read:tasks";
/// A browser page on another origin, for the CORS checks.
const BROWSER_ORIGIN: &str = "https://app.example";

// ---------------------------------------------------------------------------
// The issuer on its own (cheap; runs without the generated server).
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn test_issuer_serves_a_jwks_that_verifies_its_tokens() {
    let issuer = Issuer::start();
    let url = issuer.issuer_url();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );

    let reply = Reply::fetch(client().get(issuer.jwks_url())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(issuer.jwks_fetches(), 1);
    let jwks: JwkSet = serde_json::from_str(&reply.body).expect("a JWK set");
    assert_eq!(jwks.keys.len(), 2, "{}", reply.body);
    let published: Value = reply.json();
    for key in published["keys"].as_array().expect("keys array") {
        assert_eq!(key["use"], "sig", "{key}");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} in {key}"
            );
        }
    }
    let rsa = jwks.find(RSA_KID).expect("rsa-1 in the JWKS");
    assert!(
        matches!(rsa.algorithm, AlgorithmParameters::RSA(_)),
        "{rsa:?}"
    );
    assert_eq!(published["keys"][0]["alg"], "RS256");
    assert_eq!(published["keys"][0]["kty"], "RSA");
    let ec = jwks.find(EC_KID).expect("ec-1 in the JWKS");
    assert!(
        matches!(ec.algorithm, AlgorithmParameters::EllipticCurve(_)),
        "{ec:?}"
    );
    assert_eq!(published["keys"][1]["alg"], "ES256");
    assert_eq!(published["keys"][1]["crv"], "P-256");

    let claims = issuer.claims_for("alice", "read:tasks", AUDIENCE);
    assert_eq!(claims["iss"], url.as_str());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
    let verify = |token: &str, kid: &str, alg: Algorithm| {
        let header = decode_header(token).expect("token header");
        assert_eq!(header.kid.as_deref(), Some(kid));
        assert_eq!(header.alg, alg);
        let key = DecodingKey::from_jwk(jwks.find(kid).unwrap()).expect("decoding key from JWK");
        let mut validation = Validation::new(alg);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[url.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        decode::<Value>(token, &key, &validation).map(|data| data.claims)
    };
    let rs256 = issuer.token(&claims);
    assert_eq!(
        verify(&rs256, RSA_KID, Algorithm::RS256).unwrap()["sub"],
        "alice"
    );
    let es256 = issuer.es256_token(&claims);
    assert_eq!(
        verify(&es256, EC_KID, Algorithm::ES256).unwrap()["sub"],
        "alice"
    );

    // The attacker's key is not in the JWKS: its signature does not verify.
    let forged = issuer.token_with(TestKey::AttackerRsa, Some(RSA_KID), &claims);
    assert!(verify(&forged, RSA_KID, Algorithm::RS256).is_err());
    // `alg: none`: base64url header and payload, empty signature.
    let none = unsigned_token(&claims);
    let parts: Vec<&str> = none.split('.').collect();
    assert_eq!(parts.len(), 3, "{none}");
    assert_eq!(parts[2], "", "{none}");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "none");
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(payload, claims);

    let discovery = Reply::fetch(client().get(format!("{url}.well-known/openid-configuration")))
        .await
        .json();
    assert_eq!(discovery["issuer"], url.as_str());
    assert_eq!(discovery["jwks_uri"], issuer.jwks_url().as_str());
}

// ---------------------------------------------------------------------------
// The end-to-end test.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn add_auth_turns_the_tasks_example_into_an_oauth_resource_server() {
    let workspace = tempfile::TempDir::new().expect("temp dir");
    let project = workspace.path().join("tasks-server");
    let target_dir = this_crate_target_dir().join("e2e-projects");

    let mut early_failures = tokio::task::block_in_place(|| {
        copy_project(Path::new(EXAMPLE), &project);
        assert_user_project_is_formatted(&project, &target_dir);
        run_add_auth(&project);
        apply_readme_next_step(&project);
        build_and_lint(&project, &target_dir)
    });

    let server_binary = target_dir.join("debug").join(exe("tasks-server"));
    let refusals = [
        (vec![], "`AUTH0_DOMAIN` is not set"),
        (
            vec![("AUTH0_DOMAIN", DOMAIN)],
            "`AUTH0_AUDIENCE` is not set",
        ),
        (
            vec![
                ("AUTH0_DOMAIN", DOMAIN),
                ("AUTH0_AUDIENCE", AUDIENCE),
                ("MCP_AUTH_ISSUER", "http://issuer.example.com/"),
            ],
            "`MCP_AUTH_ISSUER` uses http:// for a host that is not loopback",
        ),
        (
            vec![
                ("AUTH0_DOMAIN", DOMAIN),
                ("AUTH0_AUDIENCE", AUDIENCE),
                ("MCP_ALLOWED_ORIGINS", "https://app.example/"),
            ],
            "`MCP_ALLOWED_ORIGINS`: `https://app.example/` is not an origin",
        ),
    ];
    for (env, expected) in refusals {
        early_failures.extend(refuses_to_start(
            &server_binary,
            workspace.path(),
            &env,
            expected,
        ));
    }

    let issuer = Issuer::start();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{base}/mcp");
    let audit_log = workspace.path().join("audit.jsonl");
    let mut server = ServerProcess::spawn(
        &server_binary,
        &project,
        &[
            server_env(port, &issuer),
            vec![
                // The page whose CORS requests are checked may call.
                ("MCP_ALLOWED_ORIGINS", BROWSER_ORIGIN.to_string()),
                // Audit records to a file of their own, the checks read it.
                (
                    "MCP_AUTH_AUDIT_LOG",
                    audit_log.to_string_lossy().into_owned(),
                ),
            ],
        ]
        .concat(),
        workspace.path().join("server.log"),
    );
    server
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;

    let e2e = E2e {
        metadata_url: format!("{base}/.well-known/oauth-protected-resource/mcp"),
        raw: RawMcp::new(&mcp_url),
        base,
        mcp_url,
        issuer,
        failures: Mutex::new(early_failures),
    };

    e2e.protected_resource_metadata().await;
    e2e.requests_without_a_token().await;
    e2e.bad_tokens().await;
    e2e.es256_token_is_accepted().await;
    e2e.malformed_requests().await;
    e2e.scopes_are_enforced_per_tool().await;
    e2e.callers_see_only_their_own_tasks().await;
    e2e.every_decision_is_audited(&server, &audit_log).await;

    eprintln!(
        "issuer served the JWKS {} time(s), discovery {} time(s)",
        e2e.issuer.jwks_fetches(),
        e2e.issuer.discovery_fetches()
    );
    // On failure the server's log is printed when `server` drops.
    let failures = e2e.failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} contract violation(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    drop(server);
}

// ---------------------------------------------------------------------------
// The start-up check (issue 19, item 5).
// ---------------------------------------------------------------------------

/// A tool added to the example after `add-auth --strict-tools` ran (and not
/// added to the scope map) stops the server at start-up, with the message;
/// with `MCP_AUTH_STRICT_TOOLS=false` it starts, names the tool in its log,
/// and the tool needs every scope. The project is renamed so that its
/// binary cannot replace the main test's in the shared target dir; its
/// dependencies are the example's, already built there.
#[tokio::test(flavor = "multi_thread")]
async fn a_tool_missing_from_the_scope_map_is_caught_at_start_up() {
    let workspace = tempfile::TempDir::new().expect("temp dir");
    let project = workspace.path().join("tasks-server");
    let target_dir = this_crate_target_dir().join("e2e-projects");
    let binary = tokio::task::block_in_place(|| {
        copy_project(Path::new(EXAMPLE), &project);
        let flags = [EXAMPLE_FLAGS, &["--strict-tools"]].concat();
        let (added, stderr) = support::project::run_add_auth(&project, &flags);
        assert!(added, "add-auth --strict-tools failed:\n{stderr}");
        let edit = |file: &str, before: &str, after: &str| {
            let path = project.join(file);
            let text = std::fs::read_to_string(&path).expect("read the project file");
            assert_eq!(text.matches(before).count(), 1, "{before:?} in {file}");
            std::fs::write(&path, text.replacen(before, after, 1)).expect("write the project file");
        };
        edit(
            "Cargo.toml",
            "name = \"tasks-server\"",
            "name = \"tasks-server-added-tool\"",
        );
        edit(
            "src/tasks.rs",
            "    #[tool(\n        name = \"search-tasks\",",
            "    #[tool(name = \"export-tasks\", description = \"Export every task\")]\n    \
             fn export_tasks(&self) -> String {\n        String::new()\n    }\n\n    \
             #[tool(\n        name = \"search-tasks\",",
        );
        cargo(&project, &target_dir, &["build"], Duration::from_secs(1200));
        target_dir
            .join("debug")
            .join(exe("tasks-server-added-tool"))
    });

    let issuer = Issuer::start();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{base}/mcp");
    let mut env = server_env(port, &issuer);
    env.push(("NO_COLOR", "1".to_string()));
    let lenient = [
        env.clone(),
        vec![("MCP_AUTH_STRICT_TOOLS", "false".to_string())],
    ]
    .concat();
    let mut server = ServerProcess::spawn(
        &binary,
        workspace.path(),
        &lenient,
        workspace.path().join("server.log"),
    );
    server
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;
    // The tool is callable with every scope only.
    let raw = RawMcp::new(&mcp_url);
    let all = issuer.token(&issuer.claims_for("alice", ALL_SCOPES_STR, AUDIENCE));
    let session = raw.open_session(&all).await;
    let export = tools_call_body(2, "export-tasks", json!({}));
    let reply = raw.send(Some(&all), Some(&session), &export).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    let read = issuer.token(&issuer.claims_for("alice", "read:tasks", AUDIENCE));
    let reply = raw.send(Some(&read), Some(&session), &export).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.describe());
    // The tool calls waited for the check: its result is in the log.
    let log = server.log();
    let named = "the tool `export-tasks` has no entry in the scope map (`TOOL_SCOPES` in \
                 `src/auth/policy.rs`): until it has one, calling it needs every scope \
                 (read:tasks write:tasks delete:tasks)";
    assert!(log.contains(named), "expected `{named}` in the log:\n{log}");
    drop(server);

    // Strict, as add-auth was told: the server stops with the message.
    let output = std::process::Command::new(&binary)
        .current_dir(workspace.path())
        .env_clear()
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .output()
        .expect("run the strict server");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let refusal = "error: cannot start the MCP endpoint: tools without an entry in the scope map \
                   (`TOOL_SCOPES` in `src/auth/policy.rs`): `export-tasks`";
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(refusal),
        "expected `{refusal}` in:\n{stderr}"
    );
}

/// The protected example's settings for a server on `port` that trusts
/// `issuer`.
fn server_env(port: u16, issuer: &Issuer) -> Vec<(&'static str, String)> {
    vec![
        ("TASKS_ADDR", format!("127.0.0.1:{port}")),
        ("AUTH0_DOMAIN", DOMAIN.to_string()),
        ("AUTH0_AUDIENCE", AUDIENCE.to_string()),
        ("MCP_RESOURCE_URL", format!("http://127.0.0.1:{port}/mcp")),
        ("MCP_AUTH_ISSUER", issuer.issuer_url()),
        ("MCP_AUTH_JWKS_URL", issuer.jwks_url()),
    ]
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// Step b: the user runs the CLI on their project.
fn run_add_auth(project: &Path) {
    let output = assert_cmd::Command::cargo_bin("mcp-builder")
        .expect("the mcp-builder binary")
        .args(["add-auth", "--no-verify", "--path"])
        .arg(project)
        .args(EXAMPLE_FLAGS)
        .write_stdin("")
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run mcp-builder add-auth");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "mcp-builder add-auth failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    eprintln!("mcp-builder add-auth:\n{stdout}{stderr}");
}

/// Step c: the one follow-up edit a user makes after `add-auth`. This
/// mirrors the README's "next step": let the example's tools see the
/// verified caller by returning the token's subject from `owner_of`.
fn apply_readme_next_step(project: &Path) {
    const BEFORE: &str = "fn owner_of(_ctx: &RequestContext<RoleServer>) -> String {
    ANONYMOUS.to_string()
}";
    const AFTER: &str = "fn owner_of(_ctx: &RequestContext<RoleServer>) -> String {
    crate::auth::Caller::from_context(_ctx)
        .map(|caller| caller.subject)
        .unwrap_or_else(|| ANONYMOUS.to_string())
}";
    let path = project.join("src/tasks.rs");
    let source = std::fs::read_to_string(&path).expect("read src/tasks.rs");
    assert_eq!(
        source.matches(BEFORE).count(),
        1,
        "the README's next step expects exactly one\n{BEFORE}\nin {} (did add-auth change it?)",
        path.display()
    );
    std::fs::write(&path, source.replacen(BEFORE, AFTER, 1)).expect("write src/tasks.rs");
}

/// Precondition of the `cargo fmt --check` in step d: the bundled example is
/// rustfmt-clean before `add-auth` runs, so that the check judges only what
/// `add-auth` wrote.
fn assert_user_project_is_formatted(project: &Path, target_dir: &Path) {
    cargo(
        project,
        target_dir,
        &["fmt", "--check"],
        Duration::from_secs(120),
    );
}

/// Step d: the project must build, and pass clippy and rustfmt as generated.
/// The build is a prerequisite of everything after it; clippy and rustfmt
/// failures are returned and fail the test at the end, after the server's
/// behaviour has been checked too.
fn build_and_lint(project: &Path, target_dir: &Path) -> Vec<String> {
    cargo(project, target_dir, &["build"], Duration::from_secs(1200));
    let mut failures = Vec::new();
    let clippy = ["clippy", "--all-targets", "--", "-D", "warnings"];
    if let Err(failure) = try_cargo(project, target_dir, &clippy, Duration::from_secs(900)) {
        eprintln!("FAILED: {failure}\n");
        failures.push(failure);
    }
    let fmt = ["fmt", "--check"];
    if let Err(failure) = try_cargo(project, target_dir, &fmt, Duration::from_secs(120)) {
        eprintln!("FAILED: {failure}\n");
        failures.push(failure);
    }
    // The generated module's own unit tests (configuration, scope policy).
    if let Err(failure) = try_cargo(project, target_dir, &["test"], Duration::from_secs(900)) {
        eprintln!("FAILED: {failure}\n");
        failures.push(failure);
    }
    failures
}

/// The generated server refuses to start, with a message naming the
/// setting, when its configuration is missing or unsafe. Runs outside the
/// project so that its `.env` is not read.
fn refuses_to_start(
    binary: &Path,
    cwd: &Path,
    env: &[(&str, &str)],
    expected: &str,
) -> Option<String> {
    let output = std::process::Command::new(binary)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().copied())
        .env("TASKS_ADDR", "127.0.0.1:0")
        .output()
        .expect("run the generated server");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let refused = output.status.code() == Some(1) && stderr.contains(expected);
    (!refused).then(|| {
        format!(
            "server started with {env:?}: expected exit code 1 and `{expected}` on stderr, got {:?}\n{stderr}",
            output.status.code()
        )
    })
}

struct E2e {
    issuer: Issuer,
    base: String,
    mcp_url: String,
    metadata_url: String,
    raw: RawMcp,
    failures: Mutex<Vec<String>>,
}

impl E2e {
    /// Records a contract violation (the test fails at the end, listing all).
    fn fail(&self, message: String) {
        eprintln!("FAILED: {message}\n");
        self.failures.lock().unwrap().push(message);
    }

    fn check(&self, ok: bool, message: impl FnOnce() -> String) -> bool {
        if !ok {
            self.fail(message());
        }
        ok
    }

    fn check_status(&self, what: &str, reply: &Reply, expected: StatusCode) -> bool {
        self.check(reply.status == expected, || {
            format!("{what}: expected status {expected}\n{}", reply.describe())
        })
    }

    /// The reply's single `WWW-Authenticate` challenge, which must be a
    /// well-formed Bearer challenge (each parameter once, no `"` or `\` in
    /// values) whose `resource_metadata` is the path-inserted metadata URL.
    fn challenge(&self, what: &str, reply: &Reply) -> Option<Challenge> {
        let values: Vec<_> = reply.headers.get_all("www-authenticate").iter().collect();
        if values.len() != 1 {
            self.fail(format!(
                "{what}: expected exactly one WWW-Authenticate header, got {}\n{}",
                values.len(),
                reply.describe()
            ));
            return None;
        }
        let raw = String::from_utf8_lossy(values[0].as_bytes()).to_string();
        let challenge = match Challenge::parse(&raw) {
            Ok(challenge) => challenge,
            Err(error) => {
                self.fail(format!(
                    "{what}: malformed WWW-Authenticate ({error}): {raw}\n{}",
                    reply.describe()
                ));
                return None;
            }
        };
        self.check(challenge.is_bearer(), || {
            format!("{what}: challenge scheme is not Bearer: {raw}")
        });
        self.check(
            challenge.param("resource_metadata") == Some(self.metadata_url.as_str()),
            || {
                format!(
                    "{what}: expected resource_metadata=\"{}\" in the challenge, got: {raw}",
                    self.metadata_url
                )
            },
        );
        Some(challenge)
    }

    /// 401 `invalid_token` with description, metadata and scope, token not echoed.
    fn check_invalid_token(&self, what: &str, reply: &Reply, token: &str) {
        self.check_status(what, reply, StatusCode::UNAUTHORIZED);
        if let Some(challenge) = self.challenge(what, reply) {
            let raw = reply.header_opt("www-authenticate").unwrap_or_default();
            self.check(challenge.param("error") == Some("invalid_token"), || {
                format!("{what}: expected error=\"invalid_token\", got: {raw}")
            });
            self.check(
                challenge
                    .param("error_description")
                    .is_some_and(|text| !text.is_empty()),
                || format!("{what}: expected an error_description, got: {raw}"),
            );
            self.check(
                challenge
                    .param("scope")
                    .is_some_and(|text| !text.is_empty()),
                || format!("{what}: expected a scope parameter, got: {raw}"),
            );
        }
        self.check_not_echoed(what, reply, token);
    }

    fn check_not_echoed(&self, what: &str, reply: &Reply, token: &str) {
        self.check(!reply.mentions(token), || {
            format!(
                "{what}: the response echoes the token\n{}",
                reply.describe()
            )
        });
    }

    fn token_for(&self, sub: &str, scopes: &str) -> String {
        self.issuer
            .token(&self.issuer.claims_for(sub, scopes, AUDIENCE))
    }

    fn expired_token_for(&self, sub: &str, scopes: &str) -> String {
        let mut claims = self.issuer.claims_for(sub, scopes, AUDIENCE);
        claims["iat"] = json!(now() - 900);
        claims["exp"] = json!(now() - 600);
        self.issuer.token(&claims)
    }

    // --- f.1 ---------------------------------------------------------------

    async fn protected_resource_metadata(&self) {
        let http = client();
        let root = format!("{}/.well-known/oauth-protected-resource", self.base);
        for url in [self.metadata_url.clone(), root] {
            let what = format!("GET {url} (no token, Origin: {BROWSER_ORIGIN})");
            let reply = Reply::fetch(http.get(&url).header(ORIGIN, BROWSER_ORIGIN)).await;
            if !self.check_status(&what, &reply, StatusCode::OK) {
                continue;
            }
            let content_type = reply.header_opt("content-type").unwrap_or_default();
            self.check(content_type.starts_with("application/json"), || {
                format!(
                    "{what}: expected content-type application/json\n{}",
                    reply.describe()
                )
            });
            self.check(
                reply.header_opt("access-control-allow-origin") == Some("*"),
                || {
                    format!(
                        "{what}: expected access-control-allow-origin: *\n{}",
                        reply.describe()
                    )
                },
            );
            let Ok(document) = serde_json::from_str::<Value>(&reply.body) else {
                self.fail(format!("{what}: body is not JSON\n{}", reply.describe()));
                continue;
            };
            self.check(document["resource"] == self.mcp_url.as_str(), || {
                format!(
                    "{what}: expected resource = {:?}, got {document}",
                    self.mcp_url
                )
            });
            self.check(
                document["authorization_servers"] == json!([self.issuer.issuer_url()]),
                || {
                    format!(
                        "{what}: expected authorization_servers = [{:?}] exactly, got {document}",
                        self.issuer.issuer_url()
                    )
                },
            );
            let scopes: Option<Vec<&str>> = document["scopes_supported"]
                .as_array()
                .map(|list| list.iter().filter_map(Value::as_str).collect());
            let expected: BTreeSet<&str> = ALL_SCOPES.into_iter().collect();
            self.check(
                scopes.as_ref().is_some_and(|list| {
                    list.len() == ALL_SCOPES.len()
                        && list.iter().copied().collect::<BTreeSet<_>>() == expected
                }),
                || format!("{what}: expected scopes_supported = {ALL_SCOPES:?}, got {document}"),
            );
            self.check(
                document["bearer_methods_supported"] == json!(["header"]),
                || {
                    format!(
                        "{what}: expected bearer_methods_supported = [\"header\"], got {document}"
                    )
                },
            );
        }

        let reply = Reply::fetch(http.get(format!("{}/health", self.base))).await;
        self.check_status("GET /health without a token", &reply, StatusCode::OK);
    }

    // --- f.2 ---------------------------------------------------------------

    async fn requests_without_a_token(&self) {
        let expected_challenge = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{CHALLENGE_SCOPE}\"",
            self.metadata_url
        );

        let what = "POST /mcp initialize without a token";
        let reply = self.raw.send(None, None, &initialize_body(1)).await;
        self.check_status(what, &reply, StatusCode::UNAUTHORIZED);
        self.check_exact_challenge(what, &reply, &expected_challenge);

        // A browser on another origin must be able to read the challenge
        // (item 12): the 401 must be a readable CORS response that exposes
        // WWW-Authenticate. (Without `Origin`, no CORS headers:
        // `e2e_attacks`.)
        let what = "POST /mcp initialize without a token, from a browser origin";
        let reply = Reply::fetch(
            self.raw
                .post(None, None, &initialize_body(1))
                .header(ORIGIN, BROWSER_ORIGIN),
        )
        .await;
        self.check_status(what, &reply, StatusCode::UNAUTHORIZED);
        self.check_exact_challenge(what, &reply, &expected_challenge);
        self.check_exposes_www_authenticate(what, &reply);
        self.check_allows_origin(what, &reply);

        // A CORS preflight is never challenged (item 6), and it has to
        // succeed: a browser sends the request carrying the token (and the
        // one that earns the 401 of item 12) only after a successful
        // preflight.
        let what = "OPTIONS /mcp (CORS preflight for POST with authorization)";
        let reply = Reply::fetch(
            self.raw
                .http
                .request(Method::OPTIONS, &self.mcp_url)
                .header(ORIGIN, BROWSER_ORIGIN)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type, mcp-session-id, mcp-protocol-version",
                ),
        )
        .await;
        self.check(
            reply.status != StatusCode::UNAUTHORIZED
                && reply.header_opt("www-authenticate").is_none(),
            || {
                format!(
                    "{what}: a preflight must not be challenged\n{}",
                    reply.describe()
                )
            },
        );
        self.check(reply.status.is_success(), || {
            format!(
                "{what}: expected a successful (2xx) preflight\n{}",
                reply.describe()
            )
        });
        self.check_allows_origin(what, &reply);

        // GET (SSE stream) and DELETE (end session) need a token too, even
        // with a valid session id: a session id is not a credential.
        let session = self
            .raw
            .open_session(&self.token_for("alice", ALL_SCOPES_STR))
            .await;
        let what = "GET /mcp without a token (valid session id)";
        let reply = Reply::fetch(
            self.raw
                .http
                .get(&self.mcp_url)
                .header(ACCEPT, "text/event-stream")
                .header("mcp-session-id", &session.session_id)
                .header("mcp-protocol-version", &session.protocol_version)
                // A wrongly opened SSE stream never ends: stop reading early.
                .timeout(Duration::from_secs(5)),
        )
        .await;
        self.check_status(what, &reply, StatusCode::UNAUTHORIZED);
        self.check_exact_challenge(what, &reply, &expected_challenge);

        let what = "DELETE /mcp without a token (valid session id)";
        let reply = Reply::fetch(
            self.raw
                .http
                .delete(&self.mcp_url)
                .header("mcp-session-id", &session.session_id)
                .header("mcp-protocol-version", &session.protocol_version),
        )
        .await;
        self.check_status(what, &reply, StatusCode::UNAUTHORIZED);
        self.check_exact_challenge(what, &reply, &expected_challenge);

        let what = "POST /mcp tools/call without a token (valid session id)";
        let reply = self
            .raw
            .send(
                None,
                Some(&session),
                &tools_call_body(2, "search-tasks", json!({ "query": "" })),
            )
            .await;
        self.check_status(what, &reply, StatusCode::UNAUTHORIZED);
        self.check_exact_challenge(what, &reply, &expected_challenge);
    }

    fn check_exact_challenge(&self, what: &str, reply: &Reply, expected: &str) {
        let values: Vec<String> = reply
            .headers
            .get_all("www-authenticate")
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).to_string())
            .collect();
        self.check(values == [expected], || {
            format!(
                "{what}: expected exactly `WWW-Authenticate: {expected}`, got {values:?}\n{}",
                reply.describe()
            )
        });
    }

    /// The response is readable by a page on [`BROWSER_ORIGIN`].
    fn check_allows_origin(&self, what: &str, reply: &Reply) {
        let allowed = reply.header_opt("access-control-allow-origin");
        self.check(allowed == Some("*") || allowed == Some(BROWSER_ORIGIN), || {
            format!(
                "{what}: expected access-control-allow-origin: * (or {BROWSER_ORIGIN}); without it \
                 the browser hides the response\n{}",
                reply.describe()
            )
        });
    }

    fn check_exposes_www_authenticate(&self, what: &str, reply: &Reply) {
        let exposed: Vec<String> = reply
            .headers
            .get_all("access-control-expose-headers")
            .iter()
            .flat_map(|value| {
                String::from_utf8_lossy(value.as_bytes())
                    .split(',')
                    .map(|name| name.trim().to_ascii_lowercase())
                    .collect::<Vec<_>>()
            })
            .collect();
        self.check(exposed.iter().any(|name| name == "www-authenticate"), || {
            format!(
                "{what}: expected access-control-expose-headers to include WWW-Authenticate\n{}",
                reply.describe()
            )
        });
    }

    // --- f.3 ---------------------------------------------------------------

    async fn bad_tokens(&self) {
        let good = || self.issuer.claims_for("alice", ALL_SCOPES_STR, AUDIENCE);
        let mut wrong_issuer = good();
        wrong_issuer["iss"] = json!(format!("https://{DOMAIN}/"));
        let mut wrong_audience = good();
        wrong_audience["aud"] = json!("https://other.example.com/mcp");

        let cases: Vec<(&str, String)> = vec![
            (
                "signed by a key not in the JWKS (kid rsa-1)",
                self.issuer
                    .token_with(TestKey::AttackerRsa, Some(RSA_KID), &good()),
            ),
            ("wrong iss", self.issuer.token(&wrong_issuer)),
            ("wrong aud", self.issuer.token(&wrong_audience)),
            (
                "expired 10 minutes ago",
                self.expired_token_for("alice", ALL_SCOPES_STR),
            ),
            ("alg none", unsigned_token(&good())),
            ("garbage", "this-is-not-a-jwt-8c1f2e".to_string()),
        ];
        for (name, token) in cases {
            let what = format!("POST /mcp initialize with a bad token ({name})");
            let reply = self.raw.send(Some(&token), None, &initialize_body(1)).await;
            self.check_invalid_token(&what, &reply, &token);
        }
    }

    // --- f.4 ---------------------------------------------------------------

    async fn es256_token_is_accepted(&self) {
        let token =
            self.issuer
                .es256_token(&self.issuer.claims_for("carol", ALL_SCOPES_STR, AUDIENCE));
        let what = "POST /mcp initialize with an ES256 token (kid ec-1)";
        let reply = self.raw.send(Some(&token), None, &initialize_body(1)).await;
        if self.check_status(what, &reply, StatusCode::OK) {
            let message = reply.json_rpc();
            self.check(message.get("result").is_some(), || {
                format!("{what}: expected an initialize result, got {message}")
            });
        }
    }

    // --- f.5 ---------------------------------------------------------------

    async fn malformed_requests(&self) {
        let token = self.token_for("alice", ALL_SCOPES_STR);
        let other = self.token_for("bob", ALL_SCOPES_STR);

        let what = "POST /mcp with two Authorization headers";
        let reply = Reply::fetch(
            self.raw
                .post(None, None, &initialize_body(1))
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .header(AUTHORIZATION, format!("Bearer {other}")),
        )
        .await;
        self.check_invalid_request(what, &reply, &[&token, &other]);

        let query_url = format!("{}?access_token={token}", self.mcp_url);
        let what = "POST /mcp?access_token=<valid token> (no header)";
        let reply = Reply::fetch(
            self.raw
                .http
                .post(&query_url)
                .header(ACCEPT, "application/json, text/event-stream")
                .header("content-type", "application/json")
                .body(initialize_body(1).to_string()),
        )
        .await;
        self.check_invalid_request(what, &reply, &[&token]);

        let what = "POST /mcp?access_token=<valid token> plus an Authorization header";
        let reply = Reply::fetch(
            self.raw
                .http
                .post(&query_url)
                .header(ACCEPT, "application/json, text/event-stream")
                .header("content-type", "application/json")
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .body(initialize_body(1).to_string()),
        )
        .await;
        self.check_invalid_request(what, &reply, &[&token]);
    }

    fn check_invalid_request(&self, what: &str, reply: &Reply, tokens: &[&str]) {
        self.check_status(what, reply, StatusCode::BAD_REQUEST);
        if let Some(challenge) = self.challenge(what, reply) {
            self.check(challenge.param("error") == Some("invalid_request"), || {
                format!(
                    "{what}: expected error=\"invalid_request\", got: {}",
                    reply.header_opt("www-authenticate").unwrap_or_default()
                )
            });
        }
        for token in tokens {
            self.check_not_echoed(what, reply, token);
        }
    }

    // --- f.6 ---------------------------------------------------------------

    async fn scopes_are_enforced_per_tool(&self) {
        let read_only = self.token_for("alice", "read:tasks");

        // With rmcp's client.
        match McpClient::connect(&self.mcp_url, &read_only, "alice (read:tasks)").await {
            Err(error) => self.fail(format!(
                "rmcp client with a read:tasks token could not connect: {error}"
            )),
            Ok(alice) => {
                match alice.list_tools().await {
                    Ok(tools) => {
                        let names: BTreeSet<&str> =
                            tools.iter().map(|tool| tool.name.as_ref()).collect();
                        // Filtered (issue 19, item 4): only what a read:tasks
                        // token may call, through rmcp's own client.
                        let expected = BTreeSet::from(["search-tasks"]);
                        self.check(names == expected, || {
                            format!("tools/list as alice (read:tasks): expected {expected:?}, got {names:?}")
                        });
                    }
                    Err(error) => self.fail(format!(
                        "tools/list as alice (read:tasks) failed: {error:?}"
                    )),
                }
                let result = alice
                    .call("create-task", json!({ "title": "read-only attempt" }))
                    .await;
                if let Err(error) = &result {
                    eprintln!("rmcp client, create-task with read:tasks only: {error}");
                }
                self.check(result.is_err(), || {
                    format!(
                        "tools/call create-task as alice (read:tasks) via rmcp: expected an error, got {result:?}"
                    )
                });
                alice.close().await;
            }
        }

        // Over raw HTTP: the exact 403.
        let session = self.raw.open_session(&read_only).await;
        let what = "POST /mcp tools/call search-tasks with a read:tasks token";
        let reply = self
            .raw
            .send(
                Some(&read_only),
                Some(&session),
                &tools_call_body(2, "search-tasks", json!({ "query": "" })),
            )
            .await;
        if self.check_status(what, &reply, StatusCode::OK) {
            let message = reply.json_rpc();
            self.check(message.get("result").is_some(), || {
                format!("{what}: expected a result, got {message}")
            });
        }

        let what = "POST /mcp tools/call create-task with a read:tasks token";
        let reply = self
            .raw
            .send(
                Some(&read_only),
                Some(&session),
                &tools_call_body(3, "create-task", json!({ "title": "read-only attempt" })),
            )
            .await;
        self.check_insufficient_scope(what, &reply, "write:tasks", &read_only);

        let what = "POST /mcp tools/call delete-task with a read:tasks token";
        let reply = self
            .raw
            .send(
                Some(&read_only),
                Some(&session),
                &tools_call_body(4, "delete-task", json!({ "id": 1 })),
            )
            .await;
        self.check_insufficient_scope(what, &reply, "delete:tasks", &read_only);

        // Expired and lacking the scope: 401, never 403.
        let expired = self.expired_token_for("alice", "read:tasks");
        let what = "POST /mcp tools/call create-task with an expired read:tasks token";
        let reply = self
            .raw
            .send(
                Some(&expired),
                Some(&session),
                &tools_call_body(5, "create-task", json!({ "title": "read-only attempt" })),
            )
            .await;
        self.check_invalid_token(what, &reply, &expired);
    }

    fn check_insufficient_scope(&self, what: &str, reply: &Reply, scope: &str, token: &str) {
        self.check_status(what, reply, StatusCode::FORBIDDEN);
        if let Some(challenge) = self.challenge(what, reply) {
            let raw = reply.header_opt("www-authenticate").unwrap_or_default();
            self.check(
                challenge.param("error") == Some("insufficient_scope"),
                || format!("{what}: expected error=\"insufficient_scope\", got: {raw}"),
            );
            self.check(challenge.param("scope") == Some(scope), || {
                format!("{what}: expected scope=\"{scope}\", got: {raw}")
            });
        }
        self.check_not_echoed(what, reply, token);
    }

    // --- f.7 ---------------------------------------------------------------

    /// Requirement 26: a record of every decision, one JSON line each, in
    /// the file named by `MCP_AUTH_AUDIT_LOG`. Allowed records are written
    /// within 100 ms (`src/auth/audit.rs`), so they must appear without a
    /// shutdown; none goes to the server's log.
    ///
    /// An allowed record carries the status of the server's answer: a
    /// request the token allowed but rmcp refused (here a body that is not
    /// JSON: 415) says so.
    async fn every_decision_is_audited(&self, server: &ServerProcess, audit_log: &Path) {
        let carol = self.token_for("carol", ALL_SCOPES_STR);
        let refused = self
            .raw
            .http
            .post(&self.mcp_url)
            .header("authorization", format!("Bearer {carol}"))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "text/plain")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
            .send()
            .await
            .map(|reply| reply.status().as_u16());
        self.check(refused.as_ref().is_ok_and(|&status| status == 415), || {
            format!("a text/plain body with a good token: expected rmcp's 415, got {refused:?}")
        });
        let wanted: [(&str, Value); 4] = [
            (
                "alice's create-task, allowed",
                json!({ "decision": "allowed", "subject": "alice",
                    "methods": ["tools/call"], "tools": ["create-task"], "status": 200 }),
            ),
            (
                "carol's text/plain body, allowed by the token, refused by rmcp",
                json!({ "decision": "allowed", "subject": "carol", "status": 415 }),
            ),
            (
                "a request without a token, refused",
                json!({ "decision": "denied", "reason": "no bearer token",
                    "subject": null, "client": null }),
            ),
            (
                "a create-task lacking its scope, refused",
                json!({ "decision": "denied", "reason": "insufficient scope",
                    "methods": ["tools/call"], "tools": ["create-task"] }),
            ),
        ];
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let text = std::fs::read_to_string(audit_log).unwrap_or_default();
            let mut records = Vec::new();
            for line in text.lines() {
                match serde_json::from_str::<Value>(line) {
                    Ok(record) if record["time"].is_string() => records.push(record),
                    _ => {
                        self.fail(format!("audit log line is not a record: {line:?}"));
                        return;
                    }
                }
            }
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|(_, fields)| {
                    !records.iter().any(|record| {
                        fields
                            .as_object()
                            .unwrap()
                            .iter()
                            .all(|(name, value)| &record[name] == value)
                    })
                })
                .map(|(what, _)| *what)
                .collect();
            if missing.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                self.fail(format!(
                    "audit records missing from {} 3 s after the requests: {missing:?}",
                    audit_log.display()
                ));
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if server.log().contains("\"decision\"") {
            self.fail(
                "audit records in the server's log too, not only in MCP_AUTH_AUDIT_LOG".to_string(),
            );
        }
    }

    async fn callers_see_only_their_own_tasks(&self) {
        let alice = McpClient::connect(
            &self.mcp_url,
            &self.token_for("alice", ALL_SCOPES_STR),
            "alice",
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        let bob = McpClient::connect(&self.mcp_url, &self.token_for("bob", ALL_SCOPES_STR), "bob")
            .await
            .unwrap_or_else(|error| panic!("{error}"));

        let created = alice
            .call_ok("create-task", json!({ "title": "alice's task" }))
            .await;
        self.check(created.contains(r#""owner":"alice""#), || {
            format!("create-task as alice: expected \"owner\":\"alice\" in {created}")
        });
        let alice_task_id = serde_json::from_str::<Value>(&created)
            .ok()
            .and_then(|value| value["task"]["id"].as_u64())
            .unwrap_or_else(|| panic!("create-task result without task.id: {created}"));

        let created = bob
            .call_ok("create-task", json!({ "title": "bob's task" }))
            .await;
        self.check(created.contains(r#""owner":"bob""#), || {
            format!("create-task as bob: expected \"owner\":\"bob\" in {created}")
        });

        let bobs = bob.call_ok("search-tasks", json!({ "query": "" })).await;
        self.check(
            bobs.contains("bob's task") && !bobs.contains("alice's task"),
            || format!("search-tasks as bob: expected bob's task only, got {bobs}"),
        );
        let alices = alice.call_ok("search-tasks", json!({ "query": "" })).await;
        self.check(
            alices.contains("alice's task")
                && !alices.contains("bob's task")
                && !alices.contains("read-only attempt"),
            || format!("search-tasks as alice: expected alice's task only, got {alices}"),
        );

        let deleted = bob
            .call("delete-task", json!({ "id": alice_task_id }))
            .await;
        self.check(
            deleted
                .as_ref()
                .map_or(true, |result| result.is_error == Some(true)),
            || format!("delete-task as bob on alice's task {alice_task_id}: expected an error, got {deleted:?}"),
        );
        let alices = alice.call_ok("search-tasks", json!({ "query": "" })).await;
        self.check(alices.contains("alice's task"), || {
            format!("after bob's delete attempt alice's task must survive, got {alices}")
        });

        alice.close().await;
        bob.close().await;
    }
}
