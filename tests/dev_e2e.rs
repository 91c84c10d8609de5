//! End to end with no account: the bundled example protected with
//! `add-auth --provider dev` trusts a real `mcp-builder auth dev`, and every
//! way of getting a token a newcomer has is accepted by it: `auth token`,
//! client credentials (by hand with client_secret_basic, and with rmcp's
//! client), and the browser-style flow of rmcp's OAuth client (discovery from
//! the 401, registration, authorization code + PKCE with the consent page
//! clicked headlessly, token, tool call). `auth test --server` is green.
//!
//! Real parts only: the real `mcp-builder` binary (add-auth, auth dev, auth
//! token, auth test), the example compiled once in `<target>/e2e-projects`
//! and run as a process, rmcp's own MCP and OAuth clients, all on 127.0.0.1.
//!
//! Run: `cargo test --test dev_e2e -- --nocapture`

mod support;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use rmcp::{
    ServiceExt,
    transport::{
        AuthClient, AuthorizationManager, ClientCredentialsConfig, StreamableHttpClientTransport,
        auth::{AuthorizationRequest, OAuthState},
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};
use support::{
    dev::{self, Decision, DevIssuer},
    http::{Challenge, RawMcp, Reply, client, tools_call_body},
    mcp::{MCP_TIMEOUT, McpClient, http_client, text_of},
    project::{
        EXAMPLE, ServerProcess, copy_project, free_port, run_add_auth, this_crate_target_dir,
        try_cargo,
    },
};

const SCOPES: &str = "read:tasks,write:tasks,delete:tasks";
/// Said by the generated server at start-up (`providers::DEV.warning`).
const DEV_WARNING: &str = "this server trusts the development issuer";
/// Where rmcp's OAuth client says the browser comes back to. Nothing
/// listens there: the test reads the 303's `Location` instead.
const REDIRECT_PATH: &str = "/callback";

#[test]
fn the_consent_form_is_filled_as_a_person_would() {
    let html = r#"<!doctype html><form method=GET action="/x"><button>Allow</button></form>
        <FORM method="post" action="/authorize">
          <input type="hidden" name="state" value="a&amp;b">
          <label>Sign in as <input name="user" value="dev-user"></label>
          <input type=checkbox name=remember checked><input type="checkbox" name="no">
          <button type="submit" name="decision" value="deny">Deny</button>
          <button type="submit" name="decision" value="allow">Allow</button>
        </FORM>"#;
    let (action, fields) = dev::fill_consent_form(html, "alice", Decision::Allow).unwrap();
    assert_eq!(action, "/authorize");
    let expected: Vec<(String, String)> = [
        ("state", "a&b"),
        ("user", "alice"),
        ("remember", "on"),
        ("decision", "allow"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    assert_eq!(fields, expected);
    let (_, fields) = dev::fill_consent_form(html, "alice", Decision::Deny).unwrap();
    assert_eq!(fields.last().unwrap(), &("decision".into(), "deny".into()));
    let error = dev::fill_consent_form("<p>no form</p>", "alice", Decision::Allow).unwrap_err();
    assert!(error.contains("no <form"), "{error}");
}

/// One project, built once; every step runs against the same `auth dev`
/// and server, and the test fails at the end listing every failed step.
#[tokio::test(flavor = "multi_thread")]
async fn the_example_trusts_auth_dev_end_to_end() {
    let started = Instant::now();
    let workspace = tempfile::TempDir::new().expect("temp dir");
    let project = workspace.path().join("tasks-server");
    let issuer_url = format!("http://127.0.0.1:{}", free_port());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{base}/mcp");

    let server_binary = tokio::task::block_in_place(|| {
        copy_project(Path::new(EXAMPLE), &project);
        let audience = mcp_url.clone();
        let mut args = vec![
            "--provider",
            "dev",
            "--issuer",
            &issuer_url,
            "--audience",
            &audience,
            "--scopes",
            SCOPES,
        ];
        for tool_scope in [
            "search-tasks=read:tasks",
            "create-task=write:tasks",
            "delete-task=delete:tasks",
        ] {
            args.extend(["--tool-scope", tool_scope]);
        }
        args.push("--yes");
        let (ok, stderr) = run_add_auth(&project, &args);
        assert!(ok, "add-auth --provider dev failed:\n{stderr}");
        build(&project, workspace.path())
    });
    eprintln!("copied, protected and built in {:.0?}", started.elapsed());

    let issuer =
        DevIssuer::start(&project, &issuer_url, workspace.path().join("auth-dev.log")).await;
    let audit_log = workspace.path().join("audit.jsonl");
    let mut server = ServerProcess::spawn(
        &server_binary,
        &project,
        &[
            // Everything else comes from the `.env` add-auth wrote.
            ("TASKS_ADDR", format!("127.0.0.1:{port}")),
            (
                "MCP_AUTH_AUDIT_LOG",
                audit_log.to_string_lossy().into_owned(),
            ),
        ],
        workspace.path().join("server.log"),
    );
    server
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;

    let e2e = E2e {
        project,
        mcp_url,
        audit_log,
        issuer,
        failures: Mutex::new(Vec::new()),
    };
    // Futures do nothing until awaited: each step runs in turn.
    let steps: [(&str, Step); 7] = [
        (
            "the server warns that it trusts a development issuer",
            Box::pin(e2e.warns_at_start_up(&server)),
        ),
        (
            "auth token's output is accepted, its scope enforced",
            Box::pin(e2e.auth_token_is_accepted()),
        ),
        (
            "auth test --server is green against auth dev",
            Box::pin(e2e.auth_test_is_green()),
        ),
        (
            "client credentials by hand (client_secret_basic)",
            Box::pin(e2e.client_credentials_by_hand()),
        ),
        (
            "client credentials with rmcp's OAuth client",
            Box::pin(e2e.client_credentials_with_rmcp()),
        ),
        (
            "browser-style flow of rmcp's OAuth client, dynamic registration",
            Box::pin(e2e.browser_flow_with_dynamic_registration()),
        ),
        (
            "browser-style flow of rmcp's OAuth client, Client ID Metadata Document",
            Box::pin(e2e.browser_flow_with_client_metadata_document()),
        ),
    ];
    for (name, step) in steps {
        e2e.step(name, step).await;
    }

    eprintln!("dev_e2e: {:.1?} in all", started.elapsed());
    let failures = e2e.failures.into_inner().unwrap();
    // On failure the server's and the issuer's logs are printed when they drop.
    assert!(
        failures.is_empty(),
        "{} step(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    drop(server);
}

/// Builds the project in the shared target directory and copies its binary
/// next to the test's files, so that another test building the example at
/// the same path cannot swap it while this one runs.
fn build(project: &Path, workspace: &Path) -> PathBuf {
    let target_dir = this_crate_target_dir().join("e2e-projects");
    if let Err(failure) = try_cargo(project, &target_dir, &["build"], Duration::from_secs(1200)) {
        panic!("{failure}");
    }
    // The generated module's own unit tests pass in a development-issuer
    // project too (ES256 keys, at+jwt tokens): what a newcomer's first
    // `cargo test` runs.
    if let Err(failure) = try_cargo(
        project,
        &target_dir,
        &["test", "auth::"],
        Duration::from_secs(1200),
    ) {
        panic!("{failure}");
    }
    let name = format!("tasks-server{}", std::env::consts::EXE_SUFFIX);
    let bin = workspace.join("bin");
    std::fs::create_dir_all(&bin).expect("create the binary's directory");
    let binary = bin.join(&name);
    std::fs::copy(target_dir.join("debug").join(&name), &binary).expect("copy the server binary");
    binary
}

/// One step of the end-to-end test, not started yet.
type Step<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

struct E2e {
    project: PathBuf,
    mcp_url: String,
    audit_log: PathBuf,
    issuer: DevIssuer,
    failures: Mutex<Vec<String>>,
}

impl E2e {
    /// Runs one step; a failure is recorded and the next step runs.
    async fn step(&self, name: &str, step: Step<'_>) {
        let started = Instant::now();
        match step.await {
            Ok(()) => eprintln!("ok: {name} ({:.1?})", started.elapsed()),
            Err(failure) => {
                eprintln!("FAILED: {name}: {failure}\n");
                self.failures
                    .lock()
                    .unwrap()
                    .push(format!("{name}: {failure}"));
            }
        }
    }

    fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{REDIRECT_PATH}", free_port())
    }

    async fn warns_at_start_up(&self, server: &ServerProcess) -> Result<(), String> {
        let log = server.log();
        check(log.contains(DEV_WARNING), || {
            format!("no `{DEV_WARNING}` in the server's start-up output:\n{log}")
        })
    }

    /// `auth token --scope read:tasks --sub alice`: search-tasks works,
    /// delete-task is refused with 403 `insufficient_scope`, and the audit
    /// log names alice.
    async fn auth_token_is_accepted(&self) -> Result<(), String> {
        let token =
            self.mcp_builder(&["auth", "token", "--scope", "read:tasks", "--sub", "alice"])?;
        let token = token.trim_end_matches('\n');
        check(
            token.split('.').count() == 3 && !token.contains(char::is_whitespace),
            || format!("auth token printed more than a JWT on stdout: {token:?}"),
        )?;

        let alice = McpClient::connect(&self.mcp_url, token, "alice (auth token)").await?;
        let listed = alice.list_tools().await;
        let called = search(&alice).await;
        let refused = alice.call("delete-task", json!({ "id": 1 })).await;
        alice.close().await;
        let names: BTreeSet<String> = listed
            .map_err(|error| format!("tools/list: {error:?}"))?
            .iter()
            .map(|tool| tool.name.to_string())
            .collect();
        // tools/list shows only what the token may call.
        check(
            names == BTreeSet::from(["search-tasks".to_string()]),
            || format!("tools/list with read:tasks: expected [search-tasks], got {names:?}"),
        )?;
        eprintln!("  search-tasks as alice: {}", called?);
        check(refused.is_err(), || {
            format!("delete-task with read:tasks through rmcp: expected an error, got {refused:?}")
        })?;

        // The exact refusal, over raw HTTP.
        let raw = RawMcp::new(&self.mcp_url);
        let session = raw.open_session(token).await;
        let reply = raw
            .send(
                Some(token),
                Some(&session),
                &tools_call_body(2, "delete-task", json!({ "id": 1 })),
            )
            .await;
        reply.expect(StatusCode::FORBIDDEN, "delete-task with read:tasks")?;
        let challenge = reply.challenge();
        check(
            challenge.param("error") == Some("insufficient_scope")
                && challenge.param("scope") == Some("delete:tasks"),
            || format!("delete-task with read:tasks: {}", reply.describe()),
        )?;

        let records = self
            .audit_records(|record| {
                record["subject"] == "alice"
                    && record["decision"] == "denied"
                    && record["tools"] == json!(["delete-task"])
            })
            .await?;
        check(
            records.iter().any(|record| {
                record["subject"] == "alice"
                    && record["decision"] == "allowed"
                    && record["tools"] == json!(["search-tasks"])
            }),
            || format!("no allowed search-tasks record for alice in the audit log: {records:?}"),
        )
    }

    /// `auth test --path P --server URL --json`: exit 0, every check passes.
    async fn auth_test_is_green(&self) -> Result<(), String> {
        let args = ["auth", "test", "--server", &self.mcp_url, "--json"];
        let output = self.run_mcp_builder(&args)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let report: Value = serde_json::from_str(&stdout).map_err(|error| {
            format!(
                "auth test --json printed no JSON ({error}), exit {:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                output.status.code()
            )
        })?;
        let checks = report["checks"].as_array().cloned().unwrap_or_default();
        let not_passed: Vec<&Value> = checks
            .iter()
            .filter(|check| check["status"] != "pass")
            .collect();
        for check in &checks {
            eprintln!("  {} {}", check["status"], check["name"]);
        }
        check(
            output.status.code() == Some(0) && not_passed.is_empty() && checks.len() > 3,
            || {
                format!(
                    "auth test --server: exit {:?}, {} check(s), not passed: {not_passed:#?}\n--- stderr ---\n{stderr}",
                    output.status.code(),
                    checks.len()
                )
            },
        )
    }

    /// A token from auth dev's `/token` by client credentials, the client
    /// authenticated with HTTP Basic (`client_secret_basic`).
    async fn client_credentials_by_hand(&self) -> Result<(), String> {
        let metadata = self.issuer.metadata().await;
        let endpoint = metadata["token_endpoint"]
            .as_str()
            .ok_or_else(|| format!("no token_endpoint in {metadata}"))?;
        let methods = &metadata["token_endpoint_auth_methods_supported"];
        check(
            methods
                .as_array()
                .is_some_and(|methods| methods.contains(&json!("client_secret_basic"))),
            || format!("client_secret_basic is not advertised: {methods}"),
        )?;
        let (id, secret) = dev::store_client(&self.project);
        let reply = Reply::fetch(
            client()
                .post(endpoint)
                .basic_auth(&id, Some(&secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", "read:tasks"),
                    ("resource", &self.mcp_url),
                ]),
        )
        .await;
        reply.expect(StatusCode::OK, "client credentials (client_secret_basic)")?;
        let answer = reply.json();
        check(
            answer["token_type"]
                .as_str()
                .is_some_and(|kind| kind.eq_ignore_ascii_case("bearer")),
            || format!("token_type is not Bearer: {answer}"),
        )?;
        let token = answer["access_token"]
            .as_str()
            .ok_or_else(|| format!("no access_token in {answer}"))?;
        let service = McpClient::connect(&self.mcp_url, token, "client credentials").await?;
        let text = search(&service).await;
        service.close().await;
        eprintln!("  search-tasks by client credentials: {}", text?);
        self.audit_records(|record| {
            record["client"] == id.as_str()
                && record["decision"] == "allowed"
                && record["tools"] == json!(["search-tasks"])
        })
        .await
        .map(drop)
    }

    /// rmcp's client-credentials flow (SEP-1046): discovery from the
    /// server's protected resource metadata, then `/token`
    /// (rmcp sends the secret with client_secret_post when both are offered).
    async fn client_credentials_with_rmcp(&self) -> Result<(), String> {
        let (id, secret) = dev::store_client(&self.project);
        let mut state = OAuthState::new(&self.mcp_url, None)
            .await
            .map_err(|error| format!("OAuthState::new: {error}"))?;
        let config = ClientCredentialsConfig::ClientSecret {
            client_id: id,
            client_secret: secret,
            scopes: vec!["read:tasks".into()],
            resource: Some(self.mcp_url.clone()),
        };
        bounded(
            "client credentials",
            state.authenticate_client_credentials(config),
        )
        .await?
        .map_err(|error| format!("authenticate_client_credentials: {error}"))?;
        let manager = state
            .into_authorization_manager()
            .ok_or("rmcp's OAuth state is not authorized after client credentials")?;
        self.search_as(manager, "rmcp client credentials").await
    }

    /// The whole browser-style flow with dynamic client registration
    /// (RFC 7591): what an MCP client that has never seen this server does.
    async fn browser_flow_with_dynamic_registration(&self) -> Result<(), String> {
        let request =
            AuthorizationRequest::new(self.redirect_uri()).with_client_name("dev_e2e rmcp client");
        let (manager, _) = self.browser_flow(request, "carol").await?;
        self.search_as(manager, "carol (rmcp, dynamic registration)")
            .await?;
        self.audit_records(|record| {
            record["subject"] == "carol" && record["tools"] == json!(["search-tasks"])
        })
        .await
        .map(drop)
    }

    /// The browser-style flow with a Client ID Metadata Document: the client
    /// id is the URL of a JSON document the test serves on 127.0.0.1, which
    /// auth dev fetches.
    ///
    /// rmcp's own CIMD path (`with_client_metadata_url`) refuses any URL but
    /// `https` (SEP-991), and no certificate a test can make is trusted by
    /// auth dev, so the URL is handed to rmcp as a pre-registered client id
    /// (`with_preregistered_client`): everything after choosing the client
    /// id is rmcp's (PKCE, authorization URL, code exchange, token use).
    async fn browser_flow_with_client_metadata_document(&self) -> Result<(), String> {
        let redirect_uri = self.redirect_uri();
        let document = MetadataDocument::serve(&redirect_uri).await;
        let request = AuthorizationRequest::new(redirect_uri.clone())
            .with_preregistered_client(document.url.clone());
        let (manager, authorize_url) = self.browser_flow(request, "dave").await?;
        check(document.fetched() > 0, || {
            format!(
                "auth dev never fetched the client's metadata document {}",
                document.url
            )
        })?;
        check(authorize_url.contains("client_id=http"), || {
            format!("the client id is not the document's URL: {authorize_url}")
        })?;
        self.search_as(manager, "dave (rmcp, client metadata document)")
            .await?;
        let client_id = document.url.as_str();
        self.audit_records(|record| record["subject"] == "dave" && record["client"] == client_id)
            .await
            .map(drop)
    }

    /// Discovery from the 401, registration as `request` says, authorization
    /// URL with PKCE, consent clicked as `user`, code exchanged by rmcp;
    /// (authorized manager, the authorization URL).
    async fn browser_flow(
        &self,
        request: AuthorizationRequest,
        user: &str,
    ) -> Result<(AuthorizationManager, String), String> {
        let challenge = self.challenge_without_a_token().await?;
        let mut state = OAuthState::new(&self.mcp_url, None)
            .await
            .map_err(|error| format!("OAuthState::new: {error}"))?;
        bounded(
            "start_authorization",
            state.start_authorization(request.with_challenge(challenge)),
        )
        .await?
        .map_err(|error| format!("start_authorization (discovery, registration): {error}"))?;
        let authorize_url = state
            .get_authorization_url()
            .await
            .map_err(|error| format!("get_authorization_url: {error}"))?;
        for needed in ["code_challenge_method=S256", "code_challenge=", "resource="] {
            check(authorize_url.contains(needed), || {
                format!("no `{needed}` in the authorization URL {authorize_url}")
            })?;
        }
        let state_param = query_param(&authorize_url, "state")?;
        // A person who says no first: the client hears `access_denied`.
        let denied = dev::click_consent(&authorize_url, user, Decision::Deny).await?;
        check(
            query_param(&denied, "error")? == "access_denied"
                && query_param(&denied, "state")? == state_param,
            || format!("Deny redirected to {}", denied),
        )?;
        let consent = dev::answer_consent(&authorize_url, user, Decision::Allow).await?;
        for scope in query_param(&authorize_url, "scope")?.split(' ') {
            check(consent.page.contains(scope), || {
                format!(
                    "the consent page does not list the requested scope `{scope}`:\n{}",
                    consent.page
                )
            })?;
        }
        let location = consent.location;
        check(
            !query_param(&location, "code")?.is_empty()
                && query_param(&location, "state")? == state_param
                && query_param(&location, "iss")? == self.issuer.url,
            || {
                format!(
                    "Allow redirected to {location}: expected code, the request's state, and iss {}",
                    self.issuer.url
                )
            },
        )?;
        bounded("handle_callback_url", state.handle_callback_url(&location))
            .await?
            .map_err(|error| format!("code exchange (handle_callback_url {location}): {error}"))?;
        let manager = state
            .into_authorization_manager()
            .ok_or("rmcp's OAuth state is not authorized after the code exchange")?;
        Ok((manager, authorize_url))
    }

    /// rmcp's client without credentials, as it first meets the server: the
    /// 401's `WWW-Authenticate`, which starts the OAuth flow.
    async fn challenge_without_a_token(&self) -> Result<String, String> {
        let manager = AuthorizationManager::new(&self.mcp_url)
            .await
            .map_err(|error| format!("AuthorizationManager::new: {error}"))?;
        let client = AuthClient::new(http_client()?, manager);
        let transport = StreamableHttpClientTransport::with_client(
            client,
            StreamableHttpClientTransportConfig::with_uri(self.mcp_url.as_str()),
        );
        match bounded("connect without a token", ().serve(transport)).await? {
            Ok(service) => {
                let _ = service.cancel().await;
                Err("rmcp's client connected without a token".into())
            }
            Err(error) => {
                let challenge = error
                    .auth_challenge()
                    .ok_or_else(|| {
                        format!("connect without a token failed without a challenge: {error}")
                    })?
                    .to_string();
                let parsed = Challenge::parse(&challenge)?;
                check(parsed.param("resource_metadata").is_some(), || {
                    format!("no resource_metadata in the 401's challenge: {challenge}")
                })?;
                Ok(challenge)
            }
        }
    }

    /// An rmcp session over rmcp's authorized transport: tools/list, then
    /// search-tasks.
    async fn search_as(&self, manager: AuthorizationManager, who: &str) -> Result<(), String> {
        let service = McpClient::connect_authorized(&self.mcp_url, manager, who).await?;
        let listed = service.list_tools().await;
        let text = search(&service).await;
        service.close().await;
        let text = text?;
        // The listing holds what the granted scopes allow (filtered per
        // token, as tests/e2e_listing.rs proves): search-tasks at least.
        let names: Vec<String> = listed
            .map_err(|error| format!("{who}: tools/list: {error:?}"))?
            .iter()
            .map(|tool| tool.name.to_string())
            .collect();
        check(names.iter().any(|name| name == "search-tasks"), || {
            format!("{who}: tools/list gave {names:?}, without search-tasks")
        })?;
        eprintln!("  tools listed for {who}: {names:?}");
        eprintln!("  search-tasks as {who}: {text}");
        Ok(())
    }

    /// The audit log's records once one matches `wanted` (allowed records
    /// are written in batches: waits up to 5 s).
    async fn audit_records(&self, wanted: impl Fn(&Value) -> bool) -> Result<Vec<Value>, String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&self.audit_log).unwrap_or_default();
            let records: Vec<Value> = text
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect();
            if records.iter().any(&wanted) {
                return Ok(records);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no such record in the audit log {} within 5 s:\n{text}",
                    self.audit_log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `mcp-builder ARGS --path <project>`; its stdout if it exits 0.
    fn mcp_builder(&self, args: &[&str]) -> Result<String, String> {
        let output = self.run_mcp_builder(args)?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        check(output.status.success(), || {
            format!(
                "mcp-builder {args:?}: {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
        Ok(stdout)
    }

    /// `mcp-builder ARGS --path <project>` (at most two minutes), whatever
    /// its exit code.
    fn run_mcp_builder(&self, args: &[&str]) -> Result<std::process::Output, String> {
        tokio::task::block_in_place(|| {
            assert_cmd::Command::new(env!("CARGO_BIN_EXE_mcp-builder"))
                .args(args)
                .arg("--path")
                .arg(&self.project)
                .env("NO_COLOR", "1")
                .timeout(Duration::from_secs(120))
                .output()
                .map_err(|error| format!("mcp-builder {args:?}: {error}"))
        })
    }
}

/// The query parameter `name` of `url`.
fn query_param(url: &str, name: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|error| format!("{url}: {error}"))?;
    parsed
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| format!("no `{name}` in {url}"))
}

/// `tools/call search-tasks`, which must succeed; its text.
async fn search(client: &McpClient) -> Result<String, String> {
    let result = client
        .call("search-tasks", json!({ "query": "" }))
        .await
        .map_err(|error| format!("{}: search-tasks: {error:?}", client.who))?;
    check(result.is_error != Some(true), || {
        format!(
            "{}: search-tasks returned an error result: {result:?}",
            client.who
        )
    })?;
    Ok(text_of(&result))
}

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(message()) }
}

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(MCP_TIMEOUT, future)
        .await
        .map_err(|_| format!("{what}: no answer within {MCP_TIMEOUT:?}"))
}

/// A client's metadata document (Client ID Metadata Documents), served by a
/// tiny server on 127.0.0.1 at its own URL, counting fetches.
struct MetadataDocument {
    url: String,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl MetadataDocument {
    async fn serve(redirect_uri: &str) -> MetadataDocument {
        use std::sync::{Arc, atomic::AtomicUsize};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the metadata document's server");
        let url = format!(
            "http://127.0.0.1:{}/client.json",
            listener.local_addr().unwrap().port()
        );
        let document = json!({
            "client_id": url,
            "client_name": "dev_e2e rmcp client (metadata document)",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let app = axum::Router::new().route(
            "/client.json",
            axum::routing::get(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let document = document.clone();
                async move { axum::Json(document) }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MetadataDocument {
            url,
            fetches,
            server,
        }
    }

    fn fetched(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for MetadataDocument {
    fn drop(&mut self) {
        self.server.abort();
    }
}
