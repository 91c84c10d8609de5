//! The generated auth under attack and under faults (issue 7), end to end.
//!
//! The bundled example is protected with `mcp-builder add-auth` (the same
//! flags, hence the same dependency set, as `e2e_add_auth.rs`, so the build
//! in `<target>/e2e-projects` is shared), compiled once, and started as real
//! processes against test issuers on 127.0.0.1:
//!
//! - `attack_matrix`: one server, one row per attack (forged, replayed,
//!   misplaced and malformed tokens and requests), each asserting the exact
//!   status and `WWW-Authenticate` parts; the rows are listed in `matrix()`.
//! - `jwks_faults`: servers whose issuer's key endpoint is down at start-up,
//!   goes down later, is slow, answers garbage, and rotates its keys.
//! - `session_flood`: one subject opening sessions past its limit (429),
//!   another's session still working, the server's memory measured and
//!   bounded, and a server full of sessions refusing (503) rather than
//!   evicting.
//!
//! Failures are collected and reported together at the end of each test.
//!
//! Run: `cargo test --test e2e_attacks -- --nocapture`.

mod support;

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Header};
use reqwest::{
    Method, RequestBuilder, StatusCode,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, ORIGIN},
};
use serde_json::{Value, json};
use support::{
    http::{
        Challenge, RawMcp, RawSession, Reply, client, client_with, initialize_body, raw_exchange,
        tools_call_body,
    },
    issuer::{
        EC_KID, Issuer, JwksMode, RSA_2_KID, RSA_KID, RSA_PUBLIC_PEM, TestKey, now,
        token_with_raw_header, unsigned_token,
    },
    project::{ServerProcess, cargo, free_port, protected_example_copy, this_crate_target_dir},
};

const DOMAIN: &str = "tasks-test.auth0.com";
const AUDIENCE: &str = "https://tasks.example.com/mcp";
const ALL_SCOPES: &str = "read:tasks write:tasks delete:tasks";
/// What every 401 (and 400) challenge asks for: the read-only tool's scope
/// (`policy::CHALLENGE_SCOPES`), not the catalogue the metadata lists.
const CHALLENGE_SCOPE: &str = "read:tasks";
/// The origin of a browser page, in the servers' `MCP_ALLOWED_ORIGINS`.
/// Every request of these tests carries it (but those of the `origin:`
/// rows and one more), so every answer must be readable by the page.
const PAGE_ORIGIN: &str = "https://app.example";
/// A page the servers do not allow.
const EVIL_ORIGIN: &str = "https://evil.example";

// ---------------------------------------------------------------------------
// Building the protected example once per test binary.
// ---------------------------------------------------------------------------

static SERVER_BINARY: OnceLock<PathBuf> = OnceLock::new();

/// The protected example's binary, built on first use (copied out of the
/// shared target dir so that a concurrent build cannot replace it).
fn server_binary() -> PathBuf {
    SERVER_BINARY
        .get_or_init(|| {
            let (root, project) = protected_example_copy("e2e-attacks");
            apply_readme_next_step(&project);
            let target_dir = this_crate_target_dir().join("e2e-projects");
            cargo(&project, &target_dir, &["build"], Duration::from_secs(1200));
            let built = target_dir.join("debug").join(exe("tasks-server"));
            let binary = root.join(exe("protected-tasks-server"));
            fs::copy(&built, &binary).expect("copy the server binary");
            binary
        })
        .clone()
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// The README's next step, as in `e2e_add_auth.rs`: tools see the caller.
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
    let source = fs::read_to_string(&path).expect("read src/tasks.rs");
    assert_eq!(source.matches(BEFORE).count(), 1, "owner_of in {source}");
    fs::write(&path, source.replacen(BEFORE, AFTER, 1)).expect("write src/tasks.rs");
}

/// A running protected server and what a test needs to talk to it.
struct Server {
    process: ServerProcess,
    mcp_url: String,
    metadata_url: String,
    raw: RawMcp,
    _cwd: tempfile::TempDir,
}

/// Starts the protected example against `jwks_url` (issuer `issuer_url`),
/// with extra settings, and waits until `/health` answers.
async fn start_server(issuer_url: &str, jwks_url: &str, extra: &[(&str, &str)]) -> Server {
    let binary = tokio::task::block_in_place(server_binary);
    // An empty working directory: no `.env`, every setting given here.
    let cwd = tempfile::TempDir::new().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{base}/mcp");
    let mut env = vec![
        ("TASKS_ADDR", format!("127.0.0.1:{port}")),
        ("AUTH0_DOMAIN", DOMAIN.to_string()),
        ("AUTH0_AUDIENCE", AUDIENCE.to_string()),
        ("MCP_RESOURCE_URL", mcp_url.clone()),
        ("MCP_AUTH_ISSUER", issuer_url.to_string()),
        ("MCP_AUTH_JWKS_URL", jwks_url.to_string()),
        ("MCP_ALLOWED_ORIGINS", PAGE_ORIGIN.to_string()),
        ("RUST_LOG", "info".to_string()),
    ];
    env.extend(extra.iter().map(|(name, value)| (*name, value.to_string())));
    let log = cwd.path().join("server.log");
    let mut process = ServerProcess::spawn(&binary, cwd.path(), &env, log);
    process
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;
    Server {
        process,
        metadata_url: format!("{base}/.well-known/oauth-protected-resource/mcp"),
        raw: RawMcp {
            http: client_with(HeaderMap::from_iter([(
                ORIGIN,
                HeaderValue::from_static(PAGE_ORIGIN),
            )])),
            url: mcp_url.clone(),
        },
        mcp_url,
        _cwd: cwd,
    }
}

// ---------------------------------------------------------------------------
// Expectations and checks.
// ---------------------------------------------------------------------------

/// What the server must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 200 (the request reached the MCP server).
    Ok,
    /// 401 with exactly `Bearer resource_metadata=.., scope=..` (no error).
    NoToken,
    /// 401 `invalid_token` with description, metadata and every scope.
    InvalidToken,
    /// 400 `invalid_request` with description, metadata and every scope.
    InvalidRequest,
    /// 403 `insufficient_scope` naming exactly these scopes.
    InsufficientScope(&'static str),
    /// 503 with `Retry-After`, no challenge: the keys are unavailable.
    Unavailable,
    /// This status, no challenge.
    Plain(StatusCode),
    /// 403 for an origin not in the allow-list: no challenge, and nothing
    /// that lets the page read it.
    ForbiddenOrigin,
}

/// Collected contract violations.
struct Checks {
    metadata_url: String,
    failures: Mutex<Vec<String>>,
}

impl Checks {
    fn new(server: &Server) -> Checks {
        Checks {
            metadata_url: server.metadata_url.clone(),
            failures: Mutex::new(Vec::new()),
        }
    }

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

    /// Asserts `reply` is what `expect` says, that it echoes none of
    /// `secrets`, and that browsers may read its challenge.
    fn expect(&self, what: &str, reply: &Reply, expect: Expect, secrets: &[&str]) {
        let status = match expect {
            Expect::Ok => StatusCode::OK,
            Expect::NoToken | Expect::InvalidToken => StatusCode::UNAUTHORIZED,
            Expect::InvalidRequest => StatusCode::BAD_REQUEST,
            Expect::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Expect::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Expect::Plain(status) => status,
            Expect::ForbiddenOrigin => StatusCode::FORBIDDEN,
        };
        self.check(reply.status == status, || {
            format!(
                "{what}: expected {status} ({expect:?})\n{}",
                reply.describe()
            )
        });
        let challenges: Vec<String> = reply
            .headers
            .get_all("www-authenticate")
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        let error = |error: &str, scope: &str| {
            vec![
                ("error", error.to_string()),
                ("error_description", "*".to_string()),
                ("resource_metadata", self.metadata_url.clone()),
                ("scope", scope.to_string()),
            ]
        };
        let expected_params = match expect {
            Expect::Ok | Expect::Unavailable | Expect::Plain(_) | Expect::ForbiddenOrigin => None,
            Expect::NoToken => Some(vec![
                ("resource_metadata", self.metadata_url.clone()),
                ("scope", CHALLENGE_SCOPE.to_string()),
            ]),
            Expect::InvalidToken => Some(error("invalid_token", CHALLENGE_SCOPE)),
            Expect::InvalidRequest => Some(error("invalid_request", CHALLENGE_SCOPE)),
            Expect::InsufficientScope(scope) => Some(error("insufficient_scope", scope)),
        };
        match expected_params {
            None => {
                self.check(challenges.is_empty(), || {
                    format!("{what}: expected no WWW-Authenticate\n{}", reply.describe())
                });
            }
            Some(expected) => self.check_challenge(what, reply, &challenges, &expected),
        }
        if expect == Expect::Unavailable {
            let retry_after = reply.header_opt("retry-after");
            self.check(
                retry_after.is_some_and(|value| value.parse::<u64>().is_ok()),
                || {
                    format!(
                        "{what}: expected a Retry-After in seconds\n{}",
                        reply.describe()
                    )
                },
            );
        }
        for secret in secrets {
            self.check(!reply.mentions(secret), || {
                format!(
                    "{what}: the response echoes the token\n{}",
                    reply.describe()
                )
            });
        }
        if expect == Expect::ForbiddenOrigin {
            self.check(
                reply.header_opt("access-control-allow-origin").is_none(),
                || {
                    format!(
                        "{what}: a refused origin must not be let read the answer\n{}",
                        reply.describe()
                    )
                },
            );
            return;
        }
        let vary = reply
            .header_opt("vary")
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.check(
            reply.header_opt("access-control-allow-origin") == Some(PAGE_ORIGIN)
                && vary.split(',').any(|name| name.trim() == "origin"),
            || {
                format!(
                    "{what}: expected Access-Control-Allow-Origin: {PAGE_ORIGIN} and Vary: Origin\n{}",
                    reply.describe()
                )
            },
        );
        let exposed = reply
            .header_opt("access-control-expose-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.check(
            exposed
                .split(',')
                .any(|name| name.trim() == "www-authenticate"),
            || {
                format!(
                    "{what}: expected Access-Control-Expose-Headers with WWW-Authenticate\n{}",
                    reply.describe()
                )
            },
        );
    }

    /// Exactly one Bearer challenge with exactly these parameters, in any
    /// order (`*`: any non-empty value).
    fn check_challenge(
        &self,
        what: &str,
        reply: &Reply,
        challenges: &[String],
        expected: &[(&str, String)],
    ) {
        let [raw] = challenges else {
            self.fail(format!(
                "{what}: expected exactly one WWW-Authenticate, got {challenges:?}\n{}",
                reply.describe()
            ));
            return;
        };
        let challenge = match Challenge::parse(raw) {
            Ok(challenge) => challenge,
            Err(error) => {
                self.fail(format!(
                    "{what}: malformed WWW-Authenticate ({error}): {raw}"
                ));
                return;
            }
        };
        let mut names: Vec<&str> = challenge.params.iter().map(|(k, _)| k.as_str()).collect();
        let mut expected_names: Vec<&str> = expected.iter().map(|(k, _)| *k).collect();
        names.sort();
        expected_names.sort();
        // `scope` is a set: compared without regard to order.
        let words = |value: &str| {
            let mut words: Vec<String> = value.split(' ').map(str::to_string).collect();
            words.sort();
            words
        };
        let values_match = expected
            .iter()
            .all(|(name, value)| match challenge.param(name) {
                Some(actual) if value == "*" => !actual.is_empty(),
                Some(actual) if *name == "scope" => words(actual) == words(value),
                Some(actual) => actual == value,
                None => false,
            });
        self.check(
            challenge.is_bearer() && names == expected_names && values_match,
            || format!("{what}: expected a Bearer challenge with {expected:?}, got: {raw}"),
        );
    }

    fn finish(self, name: &str) {
        let failures = self.failures.into_inner().unwrap();
        assert!(
            failures.is_empty(),
            "{name}: {} contract violation(s):\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
}

// ---------------------------------------------------------------------------
// Tokens.
// ---------------------------------------------------------------------------

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `claims` with `changes` applied (`null` removes a claim).
fn edited(mut claims: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().expect("an object of changes") {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

/// The token with one character of its signature changed.
fn with_tampered_signature(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let at = token.rfind('.').unwrap() + 20;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// The token's signature on another payload.
fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(claims), parts[2])
}

// ---------------------------------------------------------------------------
// The attack matrix.
// ---------------------------------------------------------------------------

/// One row: a name, the request, the answer it must get, and the tokens it
/// carries (which the answer must not echo).
struct Case {
    name: String,
    request: RequestBuilder,
    expect: Expect,
    secrets: Vec<String>,
}

struct Matrix<'a> {
    server: &'a Server,
    issuer: &'a Issuer,
    attacker: &'a Issuer,
    session: RawSession,
    cases: Vec<Case>,
}

impl Matrix<'_> {
    fn claims(&self, sub: &str, scopes: &str) -> Value {
        self.issuer.claims_for(sub, scopes, AUDIENCE)
    }

    fn good(&self) -> Value {
        self.claims("alice", ALL_SCOPES)
    }

    /// A POST `initialize` with `Authorization: <authorization>`.
    fn initialize(&self, authorization: Option<&str>) -> RequestBuilder {
        let mut request = self.server.raw.post(None, None, &initialize_body(1));
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        request
    }

    fn add(&mut self, name: &str, request: RequestBuilder, expect: Expect, secrets: &[&str]) {
        self.cases.push(Case {
            name: name.to_string(),
            request,
            expect,
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
        });
    }

    /// `initialize` with `Bearer <token>`.
    fn token(&mut self, name: &str, token: &str, expect: Expect) {
        let request = self.initialize(Some(&format!("Bearer {token}")));
        self.add(name, request, expect, &[token]);
    }

    /// `initialize` with a token of these claims, signed by the issuer (RS256).
    fn claims_case(&mut self, name: &str, claims: Value, expect: Expect) {
        let token = self.issuer.token(&claims);
        self.token(name, &token, expect);
    }

    /// A POST of `body` on alice's session with `token`, plus `headers`.
    fn call(
        &mut self,
        name: &str,
        token: &str,
        body: Value,
        headers: &[(&str, &str)],
        expect: Expect,
    ) {
        let mut request = self
            .server
            .raw
            .post(Some(token), Some(&self.session), &body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.add(name, request, expect, &[token]);
    }
}

/// Every row of the matrix. The README lists the same cases.
fn matrix(m: &mut Matrix<'_>) {
    let issuer = m.issuer;
    let good = m.good();
    let valid = issuer.token(&good);

    // --- positive controls ---------------------------------------------
    m.token("valid RS256 token (control)", &valid, Expect::Ok);
    let es256 = issuer.es256_token(&good);
    m.token("valid ES256 token (control)", &es256, Expect::Ok);

    // --- forged signatures and algorithms ------------------------------
    m.token("alg: none", &unsigned_token(&good), Expect::InvalidToken);
    for alg in ["None", "NONE", "nOnE"] {
        let token = format!(
            "{}.{}.",
            b64(&json!({ "alg": alg, "typ": "JWT" })),
            b64(&good)
        );
        m.token(&format!("alg: {alg}"), &token, Expect::InvalidToken);
    }
    let hs256 = issuer.hs256_token(RSA_PUBLIC_PEM, Some(RSA_KID), &good);
    m.token(
        "HS256 with the RSA public key (PEM) as secret, kid rsa-1",
        &hs256,
        Expect::InvalidToken,
    );
    let hs256 = issuer.hs256_token(RSA_PUBLIC_PEM, None, &good);
    m.token(
        "HS256 with the RSA public key as secret, no kid",
        &hs256,
        Expect::InvalidToken,
    );
    let mut ps256 = Header::new(Algorithm::PS256);
    ps256.kid = Some(RSA_KID.to_string());
    let token = issuer.token_with_header(TestKey::Rsa, &ps256, &good);
    m.token(
        "PS256 (not allowed) with the issuer's RSA key",
        &token,
        Expect::InvalidToken,
    );
    let token = issuer.token_with(TestKey::Ec, Some(RSA_KID), &good);
    m.token(
        "ES256 token naming the RSA key's kid",
        &token,
        Expect::InvalidToken,
    );
    let token = issuer.token_with(TestKey::AttackerRsa, Some(RSA_KID), &good);
    m.token(
        "RS256 by a key not in the JWKS, kid rsa-1",
        &token,
        Expect::InvalidToken,
    );
    let token = issuer.token_with(TestKey::AttackerRsa, Some("attacker-1"), &good);
    m.token(
        "RS256 with a kid not in the JWKS",
        &token,
        Expect::InvalidToken,
    );
    let token = issuer.token_with(TestKey::Rsa, None, &good);
    m.token("RS256 without a kid", &token, Expect::InvalidToken);

    // --- key-location header tricks (keys only come from the JWKS URL) --
    let attacker_jwks = m.attacker.jwks_url();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("attacker-1".to_string());
    header.jku = Some(attacker_jwks.clone());
    let token = issuer.token_with_header(TestKey::AttackerRsa, &header, &good);
    m.token(
        "jku pointing at the attacker's JWKS",
        &token,
        Expect::InvalidToken,
    );
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("attacker-1".to_string());
    header.x5u = Some(attacker_jwks);
    let token = issuer.token_with_header(TestKey::AttackerRsa, &header, &good);
    m.token("x5u pointing at the attacker", &token, Expect::InvalidToken);
    for kid in ["attacker-1", RSA_KID] {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        header.jwk = Some(TestKey::AttackerRsa.public_jwk(kid));
        let token = issuer.token_with_header(TestKey::AttackerRsa, &header, &good);
        m.token(
            &format!("embedded jwk (attacker key), kid {kid}"),
            &token,
            Expect::InvalidToken,
        );
    }
    let crit = json!({ "alg": "RS256", "typ": "JWT", "kid": RSA_KID, "crit": ["exp"] });
    let token = token_with_raw_header(TestKey::Rsa, &crit, &good);
    m.token(
        "crit header (no extension is understood)",
        &token,
        Expect::InvalidToken,
    );

    // --- tampering -------------------------------------------------------
    let admin = edited(good.clone(), json!({ "sub": "admin" }));
    m.token(
        "tampered payload (sub changed)",
        &with_payload(&valid, &admin),
        Expect::InvalidToken,
    );
    m.token(
        "tampered signature",
        &with_tampered_signature(&valid),
        Expect::InvalidToken,
    );
    m.token(
        "truncated token",
        &valid[..valid.len() - 12],
        Expect::InvalidToken,
    );
    let unsigned = &valid[..valid.rfind('.').unwrap()];
    m.token(
        "header.payload without signature",
        unsigned,
        Expect::InvalidToken,
    );
    m.token(
        "not a JWT",
        "this-is-not-a-jwt-8c1f2e",
        Expect::InvalidToken,
    );
    m.token(
        "standard-base64 characters (+ /)",
        "ab+/cd.ef+/gh.ij+/kl",
        Expect::InvalidToken,
    );

    // --- issuer ----------------------------------------------------------
    let ours = issuer.issuer_url();
    let cases = [
        ("wrong iss", json!(format!("https://{DOMAIN}/"))),
        (
            "iss without its trailing slash",
            json!(ours.trim_end_matches('/')),
        ),
        (
            "iss with an extra trailing slash",
            json!(format!("{ours}/")),
        ),
        (
            "iss as an array containing ours",
            json!([ours, "https://evil.example/"]),
        ),
        ("missing iss", Value::Null),
    ];
    for (name, iss) in cases {
        m.claims_case(
            name,
            edited(good.clone(), json!({ "iss": iss })),
            Expect::InvalidToken,
        );
    }

    // --- audience --------------------------------------------------------
    let userinfo = format!("https://{DOMAIN}/userinfo");
    let cases = [
        (
            "wrong aud",
            json!("https://other.example.com/mcp"),
            Expect::InvalidToken,
        ),
        (
            "aud with a trailing slash",
            json!(format!("{AUDIENCE}/")),
            Expect::InvalidToken,
        ),
        (
            "aud array without ours",
            json!(["https://other.example.com/mcp", userinfo]),
            Expect::InvalidToken,
        ),
        ("missing aud", Value::Null, Expect::InvalidToken),
        (
            "aud array with ours and /userinfo (control)",
            json!([AUDIENCE, userinfo]),
            Expect::Ok,
        ),
    ];
    for (name, aud, expect) in cases {
        m.claims_case(name, edited(good.clone(), json!({ "aud": aud })), expect);
    }
    let other = issuer.claims_for("alice", ALL_SCOPES, "https://billing.example.com/mcp");
    m.claims_case(
        "valid token for another resource of the same issuer",
        other,
        Expect::InvalidToken,
    );

    // --- time and other claims (leeway 60 s) ------------------------------
    let t = now();
    let cases = [
        ("missing exp", json!({ "exp": null }), Expect::InvalidToken),
        (
            "exp as a string",
            json!({ "exp": (t + 300).to_string() }),
            Expect::InvalidToken,
        ),
        (
            "expired beyond the leeway (120 s ago)",
            json!({ "exp": t - 120 }),
            Expect::InvalidToken,
        ),
        (
            "expired within the leeway (20 s ago; control)",
            json!({ "exp": t - 20 }),
            Expect::Ok,
        ),
        (
            "nbf in the future (10 min)",
            json!({ "nbf": t + 600 }),
            Expect::InvalidToken,
        ),
        (
            "nbf within the leeway (20 s; control)",
            json!({ "nbf": t + 20 }),
            Expect::Ok,
        ),
        (
            "iat far in the future (1 h)",
            json!({ "iat": t + 3600 }),
            Expect::InvalidToken,
        ),
        (
            "iat as a string",
            json!({ "iat": "yesterday" }),
            Expect::InvalidToken,
        ),
        ("missing sub", json!({ "sub": null }), Expect::InvalidToken),
        (
            "sub as a number",
            json!({ "sub": 42 }),
            Expect::InvalidToken,
        ),
    ];
    for (name, changes, expect) in cases {
        m.claims_case(name, edited(good.clone(), changes), expect);
    }

    // --- where and how the token travels --------------------------------
    let server = m.server;
    let raw = &server.raw;
    let body = initialize_body(1).to_string();
    for (name, query) in [
        ("token in the query string", format!("access_token={valid}")),
        (
            "token in the query string, name percent-encoded",
            format!("x=1&access%5Ftoken={valid}"),
        ),
    ] {
        let request = raw
            .http
            .post(format!("{}?{query}", m.server.mcp_url))
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone());
        m.add(name, request, Expect::InvalidRequest, &[&valid]);
    }
    let request = raw
        .http
        .post(format!("{}?access_token={valid}", m.server.mcp_url))
        .header(ACCEPT, "application/json, text/event-stream")
        .header(CONTENT_TYPE, "application/json")
        .header(AUTHORIZATION, format!("Bearer {valid}"))
        .body(body.clone());
    m.add(
        "token in the query string and the header",
        request,
        Expect::InvalidRequest,
        &[&valid],
    );
    for (name, with_header) in [
        ("token in a form-encoded body", false),
        ("token in a form-encoded body and the header", true),
    ] {
        let mut request = raw
            .http
            .post(&m.server.mcp_url)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("access_token={valid}"));
        if with_header {
            request = request.header(AUTHORIZATION, format!("Bearer {valid}"));
        }
        m.add(name, request, Expect::InvalidRequest, &[&valid]);
    }
    let mut json_body = initialize_body(1);
    json_body["access_token"] = json!(valid);
    let request = raw.post(None, None, &json_body);
    m.add(
        "token as a JSON member, no header (no credentials)",
        request,
        Expect::NoToken,
        &[],
    );
    let other = issuer.token(&m.claims("bob", ALL_SCOPES));
    let request = m
        .initialize(Some(&format!("Bearer {valid}")))
        .header(AUTHORIZATION, format!("Bearer {other}"));
    m.add(
        "two Authorization headers",
        request,
        Expect::InvalidRequest,
        &[&valid, &other],
    );
    let request = m.initialize(Some("Basic YWxpY2U6cGFzc3dvcmQ="));
    m.add("Basic scheme", request, Expect::NoToken, &[]);
    let request = m.initialize(Some(&format!("bearer {valid}")));
    m.add(
        "lowercase bearer scheme (accepted)",
        request,
        Expect::Ok,
        &[&valid],
    );
    let request = m.initialize(Some(&format!("BEARER {valid}")));
    m.add(
        "uppercase BEARER scheme (accepted)",
        request,
        Expect::Ok,
        &[&valid],
    );
    let request = m.initialize(Some("Bearer"));
    m.add("empty bearer", request, Expect::InvalidRequest, &[]);
    let request = m.initialize(Some(&format!("Bearer {valid}!")));
    m.add(
        "non-base64url character (!)",
        request,
        Expect::InvalidRequest,
        &[&valid],
    );
    let (head, tail) = valid.split_at(valid.len() / 2);
    let request = m.initialize(Some(&format!("Bearer {head} {tail}")));
    m.add(
        "space inside the token",
        request,
        Expect::InvalidRequest,
        &[head, tail],
    );
    let request = m.initialize(None).header(
        AUTHORIZATION,
        HeaderValue::from_bytes(b"Bearer \xff\xfe.\xfd").unwrap(),
    );
    m.add(
        "non-ASCII bytes in the header",
        request,
        Expect::InvalidRequest,
        &[],
    );
    let huge = format!(
        "{}.{}.{}",
        "a".repeat(100),
        "b".repeat(64 * 1024),
        "c".repeat(100)
    );
    m.token("64 KiB token of junk", &huge, Expect::InvalidToken);
    let padded = edited(good.clone(), json!({ "pad": "x".repeat(64 * 1024) }));
    m.claims_case("64 KiB token, validly signed", padded, Expect::InvalidToken);

    // --- scopes, batches and headers (alice's session) -------------------
    let read_only = issuer.token(&m.claims("alice", "read:tasks"));
    let search = |id| tools_call_body(id, "search-tasks", json!({ "query": "" }));
    let create = |id| tools_call_body(id, "create-task", json!({ "title": "attack" }));
    let delete = |id| tools_call_body(id, "delete-task", json!({ "id": 1 }));
    m.call(
        "read-only token: search-tasks (control)",
        &read_only,
        search(10),
        &[],
        Expect::Ok,
    );
    m.call(
        "read-only token: batch where only the second call needs write (challenge names all the batch needs)",
        &read_only,
        json!([search(11), create(12)]),
        &[],
        Expect::InsufficientScope("read:tasks write:tasks"),
    );
    m.call(
        "read-only token: batch needing delete and write (one challenge)",
        &read_only,
        json!([delete(13), create(14)]),
        &[],
        Expect::InsufficientScope("delete:tasks write:tasks"),
    );
    m.call(
        "read-only token: a tool missing from the policy needs every scope",
        &read_only,
        tools_call_body(15, "drop-all-tasks", json!({})),
        &[],
        Expect::InsufficientScope(ALL_SCOPES),
    );
    m.call(
        "Mcp-Name: search-tasks but the body calls delete-task (body decides)",
        &read_only,
        delete(16),
        &[("mcp-method", "tools/call"), ("mcp-name", "search-tasks")],
        Expect::InsufficientScope("delete:tasks"),
    );
    m.call(
        "Mcp-Name: delete-task but the body calls search-tasks (body decides)",
        &read_only,
        search(17),
        &[("mcp-method", "tools/call"), ("mcp-name", "delete-task")],
        Expect::Ok,
    );
    let mut expired = m.claims("alice", "read:tasks");
    expired["exp"] = json!(now() - 600);
    let expired = issuer.token(&expired);
    m.call(
        "expired token lacking the scope (401, not 403)",
        &expired,
        create(18),
        &[],
        Expect::InvalidToken,
    );
    scope_claim_rows(m);

    // --- sessions ----------------------------------------------------------
    let bob = issuer.token(&m.claims("bob", ALL_SCOPES));
    m.call(
        "bob's valid token on alice's session: tools/call",
        &bob,
        search(20),
        &[],
        Expect::Plain(StatusCode::NOT_FOUND),
    );
    let session = m.session.clone();
    for method in [Method::GET, Method::DELETE] {
        let request = raw
            .http
            .request(method.clone(), &m.server.mcp_url)
            .header(ACCEPT, "text/event-stream")
            .header(AUTHORIZATION, format!("Bearer {bob}"))
            .header("mcp-session-id", &session.session_id)
            .header("mcp-protocol-version", &session.protocol_version)
            .timeout(Duration::from_secs(5));
        let name = format!("bob's valid token on alice's session: {method}");
        m.add(
            &name,
            request,
            Expect::Plain(StatusCode::NOT_FOUND),
            &[&bob],
        );
    }
    m.call(
        "alice's session still works for alice (control)",
        &valid,
        search(21),
        &[],
        Expect::Ok,
    );
    let request = raw
        .post(Some(&valid), None, &search(22))
        .header("mcp-session-id", "0b7c4d0e-6a57-4d1f-9d3e-unknown")
        .header("mcp-protocol-version", &session.protocol_version);
    m.add(
        "unknown session id",
        request,
        Expect::Plain(StatusCode::NOT_FOUND),
        &[&valid],
    );
    let request = raw
        .post(Some(&valid), Some(&session), &search(23))
        .header("mcp-session-id", "0b7c4d0e-6a57-4d1f-9d3e-unknown");
    m.add(
        "two Mcp-Session-Id headers",
        request,
        Expect::InvalidRequest,
        &[&valid],
    );

    // --- origins (MCP_ALLOWED_ORIGINS lists PAGE_ORIGIN only) -------------
    // Refused before any token check: no challenge, with or without a token.
    for (origin, token) in [
        (EVIL_ORIGIN, None),
        (EVIL_ORIGIN, Some(valid.as_str())),
        ("null", Some(valid.as_str())),
        ("https://app.example:8443", Some(valid.as_str())),
        ("http://app.example", Some(valid.as_str())),
        ("https://app.example.evil.example", None),
    ] {
        let authorization = token.map(|token| format!("Bearer {token}"));
        let request = m
            .initialize(authorization.as_deref())
            .header(ORIGIN, origin);
        let with = if token.is_some() {
            "valid token"
        } else {
            "no token"
        };
        let name = format!("origin: `{origin}`, {with} (403, no challenge)");
        m.add(&name, request, Expect::ForbiddenOrigin, &[&valid]);
    }
    let request = raw
        .post(Some(&valid), Some(&session), &search(24))
        .header(ORIGIN, EVIL_ORIGIN);
    m.add(
        "origin: evil page on alice's session with her token: tools/call",
        request,
        Expect::ForbiddenOrigin,
        &[&valid],
    );
    let request = raw
        .http
        .post(format!("{}?access_token={valid}", m.server.mcp_url))
        .header(ACCEPT, "application/json, text/event-stream")
        .header(CONTENT_TYPE, "application/json")
        .header(ORIGIN, EVIL_ORIGIN)
        .body(body.clone());
    m.add(
        "origin: evil page, token in the query string (the origin decides first)",
        request,
        Expect::ForbiddenOrigin,
        &[&valid],
    );
    m.token(
        "origin: the allowed page, valid token (control; CORS echo)",
        &valid,
        Expect::Ok,
    );
    let request = m.initialize(None);
    m.add(
        "origin: the allowed page, no token (challenge readable by the page)",
        request,
        Expect::NoToken,
        &[],
    );

    // --- bodies ------------------------------------------------------------
    for (name, token, expect) in [
        (
            "body that is not JSON, valid token (rmcp answers)",
            Some(valid.as_str()),
            Expect::Plain(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        ("body that is not JSON, no token", None, Expect::NoToken),
    ] {
        let mut request = raw
            .http
            .post(&m.server.mcp_url)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .header("mcp-session-id", &session.session_id)
            .header("mcp-protocol-version", &session.protocol_version)
            .body("{not json");
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        m.add(name, request, expect, &[&valid]);
    }

    // --- scope hierarchy (delete > write > read, proposed by --yes) -------
    // The 2026-07-28 MUST: a broader scope is enough where a narrower one
    // is needed. A 403 still names only the refused tool's own scope.
    let deleter = issuer.token(&m.claims("alice", "delete:tasks"));
    let writer = issuer.token(&m.claims("alice", "write:tasks"));
    for (name, token, body) in [
        (
            "hierarchy: delete:tasks token calls search-tasks (read)",
            &deleter,
            search(70),
        ),
        (
            "hierarchy: delete:tasks token calls create-task (write)",
            &deleter,
            create(71),
        ),
        (
            "hierarchy: write:tasks token calls search-tasks (read)",
            &writer,
            search(72),
        ),
    ] {
        m.call(name, token, body, &[], Expect::Ok);
    }
    // Past the scope check (no 403): rmcp itself takes no batches.
    m.call(
        "hierarchy: delete:tasks token, batch of read, write and delete passes the scope check (rmcp: 415)",
        &deleter,
        json!([search(73), create(74), delete(75)]),
        &[],
        Expect::Plain(StatusCode::UNSUPPORTED_MEDIA_TYPE),
    );
    m.call(
        "hierarchy: read:tasks token may not delete (403 names delete:tasks only)",
        &read_only,
        delete(76),
        &[],
        Expect::InsufficientScope("delete:tasks"),
    );
    m.call(
        "hierarchy: write:tasks token may not delete (403 names delete:tasks only)",
        &writer,
        delete(77),
        &[],
        Expect::InsufficientScope("delete:tasks"),
    );
    m.call(
        "hierarchy: write:tasks token, batch with a delete (403 names the batch's own scopes)",
        &writer,
        json!([create(78), delete(79)]),
        &[],
        Expect::InsufficientScope("write:tasks delete:tasks"),
    );
}

/// Spec item 7 as least privilege: the 401 asks for the scopes for basic
/// use ([`CHALLENGE_SCOPE`]) while the metadata's `scopes_supported` stays
/// the whole menu.
async fn challenge_scopes_and_menu(checks: &Checks, server: &Server) {
    let reply = server.raw.send(None, None, &initialize_body(90)).await;
    let scope = reply
        .header_opt("www-authenticate")
        .and_then(|raw| Challenge::parse(raw).ok())
        .and_then(|challenge| challenge.param("scope").map(str::to_string));
    checks.check(scope.as_deref() == Some(CHALLENGE_SCOPE), || {
        format!(
            "401 without a token: expected scope=\"{CHALLENGE_SCOPE}\"\n{}",
            reply.describe()
        )
    });
    let metadata = Reply::fetch(client().get(&server.metadata_url)).await;
    let supported = metadata.json()["scopes_supported"].clone();
    checks.check(
        supported == json!(ALL_SCOPES.split(' ').collect::<Vec<_>>()),
        || format!("metadata: expected every scope in scopes_supported, got {supported}"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_matrix() {
    let issuer = Issuer::start();
    let attacker = Issuer::start();
    attacker.publish_keys(&[(TestKey::AttackerRsa, "attacker-1")]);
    let server = start_server(&issuer.issuer_url(), &issuer.jwks_url(), &[]).await;
    let checks = Checks::new(&server);

    let alice = issuer.token(&issuer.claims_for("alice", ALL_SCOPES, AUDIENCE));
    let session = server.raw.open_session(&alice).await;
    let stalled = stalled_body(&server, &alice, &session);
    let mut m = Matrix {
        server: &server,
        issuer: &issuer,
        attacker: &attacker,
        session,
        cases: Vec::new(),
    };
    matrix(&mut m);
    let cases = std::mem::take(&mut m.cases);
    eprintln!("attack matrix: {} cases", cases.len());
    for case in cases {
        let started = Instant::now();
        let reply = Reply::fetch(case.request).await;
        let elapsed = started.elapsed();
        let secrets: Vec<&str> = case.secrets.iter().map(String::as_str).collect();
        checks.expect(&case.name, &reply, case.expect, &secrets);
        // Nothing in the matrix needs the issuer: every answer is quick.
        checks.check(elapsed < Duration::from_secs(3), || {
            format!("{}: took {elapsed:?}", case.name)
        });
    }

    challenge_scopes_and_menu(&checks, &server).await;
    origin_checks(&checks, &server).await;

    // A client that is not a browser page sends no Origin: the same
    // challenge, without CORS headers it would not read.
    let reply = Reply::fetch(
        client()
            .post(&server.mcp_url)
            .header(ACCEPT, "application/json, text/event-stream")
            .json(&tools_call_body(60, "search-tasks", json!({ "query": "" }))),
    )
    .await;
    checks.check(
        reply.status == StatusCode::UNAUTHORIZED
            && reply.header_opt("www-authenticate").is_some()
            && reply.header_opt("access-control-allow-origin").is_none()
            && reply.header_opt("access-control-expose-headers").is_none(),
        || {
            format!(
                "no Origin: expected a 401 challenge without CORS headers\n{}",
                reply.describe()
            )
        },
    );

    let read_only = issuer.token(&issuer.claims_for("alice", "read:tasks", AUDIENCE));
    body_bounds(&checks, &server, &alice, &read_only, &m.session).await;
    unknown_kid_flood(&checks, &server, &issuer).await;
    let (reply, elapsed) = stalled.await.expect("stalled body exchange");
    checks.expect(
        "a body that stops arriving",
        &reply,
        Expect::Plain(StatusCode::REQUEST_TIMEOUT),
        &[&alice],
    );
    checks.check(
        (Duration::from_secs(29)..Duration::from_secs(40)).contains(&elapsed),
        || format!("a body that stops arriving: answered after {elapsed:?}, not after the 30 s body timeout"),
    );
    checks.check(attacker.jwks_fetches() == 0, || {
        format!(
            "the server fetched keys from a token's jku/x5u ({} time(s))",
            attacker.jwks_fetches()
        )
    });
    // Alice ends her session; it is gone, for her too.
    let reply = Reply::fetch(
        server
            .raw
            .http
            .delete(&server.mcp_url)
            .header(AUTHORIZATION, format!("Bearer {alice}"))
            .header("mcp-session-id", &m.session.session_id)
            .header("mcp-protocol-version", &m.session.protocol_version),
    )
    .await;
    checks.check(reply.status.is_success(), || {
        format!("DELETE of alice's session by alice\n{}", reply.describe())
    });
    let reply = server
        .raw
        .send(
            Some(&alice),
            Some(&m.session),
            &tools_call_body(40, "search-tasks", json!({ "query": "" })),
        )
        .await;
    checks.expect(
        "alice's ended session",
        &reply,
        Expect::Plain(StatusCode::NOT_FOUND),
        &[&alice],
    );

    eprintln!(
        "issuer served the JWKS {} time(s); attacker {} time(s)",
        issuer.jwks_fetches(),
        attacker.jwks_fetches()
    );
    let log = server.process.log();
    checks.check(!log.contains(&alice), || {
        "the server log contains a token".to_string()
    });
    checks.finish("attack matrix");
}

/// Preflights and the metadata's CORS, by origin (the `origin:` rows of the
/// matrix are the other requests).
async fn origin_checks(checks: &Checks, server: &Server) {
    let preflight = |origin: &str, headers: &str| {
        server
            .raw
            .http
            .request(Method::OPTIONS, &server.mcp_url)
            .header(ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers)
    };
    // An allowed page's preflight is answered without a challenge, its
    // origin and requested headers echoed.
    let requested = "authorization, content-type, mcp-session-id, mcp-protocol-version, \
                     last-event-id, mcp-method, mcp-name";
    let reply = Reply::fetch(preflight(PAGE_ORIGIN, requested)).await;
    checks.check(
        reply.status == StatusCode::NO_CONTENT
            && reply.header_opt("www-authenticate").is_none()
            && reply.header_opt("access-control-allow-origin") == Some(PAGE_ORIGIN)
            && reply.header_opt("vary") == Some("Origin")
            && reply.header_opt("access-control-allow-headers") == Some(requested)
            && reply
                .header_opt("access-control-allow-methods")
                .is_some_and(|methods| methods.contains("POST") && methods.contains("DELETE")),
        || {
            format!(
                "CORS preflight from {PAGE_ORIGIN}: expected 204 echoing the origin and headers, without a challenge\n{}",
                reply.describe()
            )
        },
    );
    // A header no MCP client sends is not echoed: the allowed ones are listed.
    let reply = Reply::fetch(preflight(PAGE_ORIGIN, "authorization, x-not-mcp")).await;
    checks.check(
        reply.status == StatusCode::NO_CONTENT
            && reply
                .header_opt("access-control-allow-headers")
                .is_some_and(|allowed| {
                    !allowed.contains("x-not-mcp") && allowed.contains("mcp-name")
                }),
        || {
            format!(
                "CORS preflight asking for x-not-mcp: expected the allowed headers only\n{}",
                reply.describe()
            )
        },
    );
    // Another page's preflight, or `null`'s, is refused.
    for origin in [EVIL_ORIGIN, "null"] {
        let reply = Reply::fetch(preflight(origin, "authorization")).await;
        checks.check(
            reply.status == StatusCode::FORBIDDEN
                && reply.header_opt("www-authenticate").is_none()
                && reply.header_opt("access-control-allow-origin").is_none(),
            || {
                format!(
                    "CORS preflight from {origin}: expected 403 without CORS headers\n{}",
                    reply.describe()
                )
            },
        );
    }
    // The metadata stays public, for any page.
    let reply = Reply::fetch(
        client()
            .get(&server.metadata_url)
            .header(ORIGIN, EVIL_ORIGIN),
    )
    .await;
    checks.check(
        reply.status == StatusCode::OK
            && reply.header_opt("access-control-allow-origin") == Some("*"),
        || {
            format!(
                "metadata from {EVIL_ORIGIN}: expected 200 with Access-Control-Allow-Origin: *\n{}",
                reply.describe()
            )
        },
    );
}

/// A raw HTTP/1.1 exchange with the server (see [`raw_exchange`]).
async fn raw_http(server: &Server, head: String, body: Vec<u8>) -> Reply {
    let addr = server_addr(server);
    tokio::task::spawn_blocking(move || raw_exchange(&addr, &head, &body, Duration::from_secs(10)))
        .await
        .expect("raw HTTP exchange")
}

/// The head of a raw `POST /mcp` in `session`, from a page on
/// [`PAGE_ORIGIN`], ending with the `extra` header lines.
fn post_head(server: &Server, session: &RawSession, extra: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nAccept: application/json, text/event-stream\r\n\
         Content-Type: application/json\r\nMcp-Session-Id: {}\r\nMcp-Protocol-Version: {}\r\n\
         Origin: {PAGE_ORIGIN}\r\n{extra}",
        server_addr(server),
        session.session_id,
        session.protocol_version
    )
}

/// `host:port` of the server.
fn server_addr(server: &Server) -> String {
    server.mcp_url["http://".len()..]
        .split('/')
        .next()
        .expect("host:port")
        .to_string()
}

/// The start of a valid `tools/call` whose body then stops arriving (100 of
/// the 4,096 bytes announced), from a client that keeps the connection
/// open. Started in the background: the server gives up after its 30 s
/// body timeout. Yields the reply and how long it took.
fn stalled_body(
    server: &Server,
    token: &str,
    session: &RawSession,
) -> tokio::task::JoinHandle<(Reply, Duration)> {
    let addr = server_addr(server);
    let head = post_head(
        server,
        session,
        &format!("Authorization: Bearer {token}\r\nContent-Length: 4096"),
    );
    let mut body = tools_call_body(50, "search-tasks", json!({ "query": "" }))
        .to_string()
        .into_bytes();
    body.resize(100, b' ');
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let reply = raw_exchange(&addr, &head, &body, Duration::from_secs(45));
        (reply, started.elapsed())
    })
}

/// Bodies are bounded (4 MiB) and refused with 413 before JSON parsing;
/// without a token the body is not even waited for.
///
/// A body sent in many small chunks is read whole: the scope check sees the
/// tool whose name is split across chunks, and rmcp gets every byte.
async fn body_bounds(
    checks: &Checks,
    server: &Server,
    token: &str,
    read_only: &str,
    session: &RawSession,
) {
    let head = |extra: &str| post_head(server, session, extra);
    let prefix = tools_call_body(30, "search-tasks", json!({ "query": "" })).to_string();
    let mut padded = prefix.clone().into_bytes();
    padded.resize(5 * 1024 * 1024, b' ');
    let in_pieces = |tool: &str, arguments: Value| {
        chunked(
            tools_call_body(31, tool, arguments).to_string().as_bytes(),
            7,
        )
    };
    let chunked_head = |token: &str| {
        head(&format!(
            "Authorization: Bearer {token}\r\nTransfer-Encoding: chunked"
        ))
    };
    let cases = [
        (
            "Content-Length of 5 MiB with a valid token (only 1 KiB sent)",
            head(&format!(
                "Authorization: Bearer {token}\r\nContent-Length: {}",
                5 * 1024 * 1024
            )),
            format!("{prefix}{}", " ".repeat(1024)).into_bytes(),
            Expect::Plain(StatusCode::PAYLOAD_TOO_LARGE),
        ),
        (
            "chunked body of 5 MiB with a valid token",
            chunked_head(token),
            chunked(&padded, 64 * 1024),
            Expect::Plain(StatusCode::PAYLOAD_TOO_LARGE),
        ),
        (
            "read-only token: delete-task in 7-byte chunks",
            chunked_head(read_only),
            in_pieces("delete-task", json!({ "id": 1 })),
            Expect::InsufficientScope("delete:tasks"),
        ),
        (
            "read-only token: search-tasks in 7-byte chunks",
            chunked_head(read_only),
            in_pieces("search-tasks", json!({ "query": "" })),
            Expect::Ok,
        ),
        (
            "Content-Length of 1 MiB without a token (only 1 KiB sent)",
            head(&format!("Content-Length: {}", 1024 * 1024)),
            format!("{prefix}{}", " ".repeat(1024)).into_bytes(),
            Expect::NoToken,
        ),
        // Not kept waiting for the 30 s body timeout (408): no token, no wait.
        (
            "form body without a token, 10 of 1,000 bytes sent",
            head("Content-Length: 1000").replace(
                "Content-Type: application/json",
                "Content-Type: application/x-www-form-urlencoded",
            ),
            b"access_tok".to_vec(),
            Expect::NoToken,
        ),
    ];
    for (what, head, body, expect) in cases {
        let started = Instant::now();
        let reply = raw_http(server, head, body).await;
        let elapsed = started.elapsed();
        let tool_runs = matches!(expect, Expect::Ok);
        checks.expect(what, &reply, expect, &[token, read_only]);
        checks.check(elapsed < Duration::from_secs(5), || {
            format!("{what}: took {elapsed:?}")
        });
        // The tool ran: rmcp got the whole body.
        checks.check(!tool_runs || reply.body.contains(r#""result""#), || {
            format!("{what}: expected a tool result\n{}", reply.describe())
        });
    }
}

/// `data` as HTTP/1.1 chunks of `size` bytes.
fn chunked(data: &[u8], size: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(2 * data.len() + 4096);
    for chunk in data.chunks(size) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    body
}

/// 2 x 40 concurrent tokens with distinct unknown `kid`s: all refused, and
/// the JWKS is fetched at most once (the rate-limit window is 30 s).
async fn unknown_kid_flood(checks: &Checks, server: &Server, issuer: &Issuer) {
    let before = issuer.jwks_fetches();
    let started = Instant::now();
    for round in 0..2 {
        let mut requests = tokio::task::JoinSet::new();
        for i in 0..40 {
            let claims = issuer.claims_for("mallory", ALL_SCOPES, AUDIENCE);
            let token =
                issuer.token_with(TestKey::Rsa, Some(&format!("forged-{round}-{i}")), &claims);
            let raw = server.raw.clone();
            requests.spawn(async move {
                let reply = raw.send(Some(&token), None, &initialize_body(1)).await;
                (token, reply)
            });
        }
        while let Some(result) = requests.join_next().await {
            let (token, reply) = result.expect("flood request task");
            checks.expect(
                "unknown kid (flood)",
                &reply,
                Expect::InvalidToken,
                &[&token],
            );
        }
    }
    let fetches = issuer.jwks_fetches() - before;
    let elapsed = started.elapsed();
    checks.check(fetches <= 1 && elapsed < Duration::from_secs(25), || {
        format!("80 unknown kids: expected at most 1 JWKS fetch within 25 s, got {fetches} in {elapsed:?}")
    });
}

// ---------------------------------------------------------------------------
// Faults of the issuer's key endpoint.
// ---------------------------------------------------------------------------

/// Polls every 250 ms until `server` answers a token with `expected`, at most `limit`.
async fn wait_for_status(
    server: &Server,
    token: &str,
    expected: StatusCode,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if status_with(server, token).await == expected {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls every 250 ms until the server's log contains `needle`, at most `limit`.
async fn wait_for_log(server: &Server, needle: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !server.process.log().contains(needle) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    true
}

/// Waits until the issuer has served at least one more JWKS request than
/// `seen`, then a moment for the server to take it in.
async fn next_fetch(issuer: &Issuer, seen: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while issuer.jwks_fetches() <= seen {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    true
}

async fn status_with(server: &Server, token: &str) -> StatusCode {
    server
        .raw
        .send(Some(token), None, &initialize_body(1))
        .await
        .status
}

/// Spec item 29 (`Origin` validated where browsers reach the server;
/// transport: 403 for a present, invalid `Origin`): without
/// `MCP_ALLOWED_ORIGINS` only the resource URL's own origin is allowed,
/// compared exactly, before any token check.
#[tokio::test(flavor = "multi_thread")]
async fn origin_allow_list_defaults_to_the_resource_origin() {
    let issuer = Issuer::start();
    let extra = [("MCP_ALLOWED_ORIGINS", "")];
    let server = start_server(&issuer.issuer_url(), &issuer.jwks_url(), &extra).await;
    let checks = Checks::new(&server);
    let own = server.mcp_url.trim_end_matches("/mcp").to_string();
    let token = issuer.token(&issuer.claims_for("alice", ALL_SCOPES, AUDIENCE));
    let initialize = |origin: &str, token: Option<&str>| {
        server
            .raw
            .post(token, None, &initialize_body(1))
            .header(ORIGIN, origin)
    };
    let reply = Reply::fetch(initialize(&own, None)).await;
    checks.check(
        reply.status == StatusCode::UNAUTHORIZED
            && reply.header_opt("www-authenticate").is_some()
            && reply.header_opt("access-control-allow-origin") == Some(own.as_str())
            && reply.header_opt("vary") == Some("Origin"),
        || {
            format!(
                "the resource's own origin {own}: expected the 401 challenge, readable by the page\n{}",
                reply.describe()
            )
        },
    );
    let reply = Reply::fetch(initialize(&own, Some(&token))).await;
    checks.check(reply.status == StatusCode::OK, || {
        format!(
            "the resource's own origin with a token\n{}",
            reply.describe()
        )
    });
    let localhost = own.replace("127.0.0.1", "localhost");
    for origin in [PAGE_ORIGIN, localhost.as_str(), "null"] {
        for carried in [None, Some(token.as_str())] {
            let reply = Reply::fetch(initialize(origin, carried)).await;
            let what = format!("origin {origin}, token: {}", carried.is_some());
            checks.expect(&what, &reply, Expect::ForbiddenOrigin, &[&token]);
        }
    }
    checks.finish("origin allow-list by default");
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_faults() {
    down_at_start_up_then_down_later().await;
    garbage_slow_and_rotation().await;
    unreachable_at_start_up().await;
}

/// Min refresh 1 s, refresh 2 s, max age 5 s.
async fn down_at_start_up_then_down_later() {
    let issuer = Issuer::start();
    issuer.set_jwks_mode(JwksMode::Status(StatusCode::SERVICE_UNAVAILABLE));
    let timing = [
        ("MCP_AUTH_JWKS_MIN_REFRESH_SECS", "1"),
        ("MCP_AUTH_JWKS_REFRESH_SECS", "2"),
        ("MCP_AUTH_JWKS_MAX_AGE_SECS", "5"),
    ];
    let server = start_server(&issuer.issuer_url(), &issuer.jwks_url(), &timing).await;
    let checks = Checks::new(&server);
    let token = |sub: &str| issuer.token(&issuer.claims_for(sub, ALL_SCOPES, AUDIENCE));

    // Down at start-up: the server starts, says so, and accepts nothing.
    let needle = "cannot fetch the issuer's signing keys";
    let logged = wait_for_log(&server, needle, Duration::from_secs(5)).await;
    checks.check(logged, || {
        "no log line about the unreachable JWKS".to_string()
    });
    let first = token("first");
    let reply = server
        .raw
        .send(Some(&first), None, &initialize_body(1))
        .await;
    checks.expect(
        "JWKS down at start-up: valid token",
        &reply,
        Expect::Unavailable,
        &[&first],
    );
    let reply = server.raw.send(None, None, &initialize_body(1)).await;
    checks.expect(
        "JWKS down at start-up: no token",
        &reply,
        Expect::NoToken,
        &[],
    );
    let reply = server
        .raw
        .send(Some("not-a-jwt"), None, &initialize_body(1))
        .await;
    checks.expect(
        "JWKS down at start-up: garbage token",
        &reply,
        Expect::InvalidToken,
        &[],
    );
    let forged = unsigned_token(&issuer.claims_for("first", ALL_SCOPES, AUDIENCE));
    let reply = server
        .raw
        .send(Some(&forged), None, &initialize_body(1))
        .await;
    checks.expect(
        "JWKS down at start-up: alg none",
        &reply,
        Expect::InvalidToken,
        &[&forged],
    );

    // Back up: keys arrive without a restart.
    issuer.set_jwks_mode(JwksMode::Normal);
    let recovered = wait_for_status(&server, &first, StatusCode::OK, Duration::from_secs(8)).await;
    checks.check(recovered, || {
        "JWKS back up: the valid token is still refused after 8 s".into()
    });

    // Down later: cached keys keep working, then (max age) fail closed.
    issuer.set_jwks_mode(JwksMode::Status(StatusCode::BAD_GATEWAY));
    let went_down = Instant::now();
    let fresh = token("second");
    let status = status_with(&server, &fresh).await;
    checks.check(status == StatusCode::OK, || {
        format!("JWKS down later: a new token with a cached key got {status}")
    });
    let closed = wait_for_status(
        &server,
        &first,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(10),
    )
    .await;
    let after = went_down.elapsed();
    checks.check(closed && after >= Duration::from_secs(2), || {
        format!("JWKS down later: expected 503 once the keys are 5 s old, got closed={closed} after {after:?}")
    });
    for (what, token) in [
        ("remembered token", &first),
        ("another token", &token("third")),
    ] {
        let reply = server
            .raw
            .send(Some(token), None, &initialize_body(1))
            .await;
        checks.expect(
            &format!("keys past max age: {what}"),
            &reply,
            Expect::Unavailable,
            &[token],
        );
    }
    issuer.set_jwks_mode(JwksMode::Normal);
    let recovered = wait_for_status(&server, &first, StatusCode::OK, Duration::from_secs(8)).await;
    checks.check(recovered, || {
        "JWKS back after max age: still refused after 8 s".into()
    });
    checks.finish("JWKS down at start-up, then down later");
}

/// Min refresh 2 s, refresh 4 s, max age 120 s.
async fn garbage_slow_and_rotation() {
    let issuer = Issuer::start();
    let timing = [
        ("MCP_AUTH_JWKS_MIN_REFRESH_SECS", "2"),
        ("MCP_AUTH_JWKS_REFRESH_SECS", "4"),
        ("MCP_AUTH_JWKS_MAX_AGE_SECS", "120"),
    ];
    let server = start_server(&issuer.issuer_url(), &issuer.jwks_url(), &timing).await;
    let checks = Checks::new(&server);
    let token = |sub: &str| issuer.token(&issuer.claims_for(sub, ALL_SCOPES, AUDIENCE));
    let probe = token("probe");
    let ready = wait_for_status(&server, &probe, StatusCode::OK, Duration::from_secs(8)).await;
    assert!(
        ready,
        "the server never accepted a valid token\n{}",
        server.process.log()
    );

    // Garbage never replaces good keys.
    let hmac_secret = b"an-hmac-secret-posing-as-rsa-1";
    let oct = json!({ "keys": [{ "kty": "oct", "kid": RSA_KID, "alg": "HS256",
        "k": URL_SAFE_NO_PAD.encode(hmac_secret) }] });
    let mut huge = br#"{"keys":[],"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    huge.extend(br#""}"#);
    let garbage: Vec<(&str, JwksMode)> = vec![
        (
            "HTML page",
            JwksMode::Body {
                content_type: "text/html",
                body: b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
            },
        ),
        (
            "not JSON",
            JwksMode::Body {
                content_type: "application/json",
                body: b"}{".to_vec(),
            },
        ),
        (
            "empty key set",
            JwksMode::Body {
                content_type: "application/json",
                body: br#"{"keys":[]}"#.to_vec(),
            },
        ),
        (
            "keys of the wrong shape",
            JwksMode::Body {
                content_type: "application/json",
                body: br#"{"keys":"rsa-1"}"#.to_vec(),
            },
        ),
        (
            "an HMAC key named rsa-1",
            JwksMode::Body {
                content_type: "application/json",
                body: oct.to_string().into_bytes(),
            },
        ),
        (
            "1 MiB document",
            JwksMode::Body {
                content_type: "application/json",
                body: huge,
            },
        ),
        (
            "status 500",
            JwksMode::Status(StatusCode::INTERNAL_SERVER_ERROR),
        ),
        ("status 404", JwksMode::Status(StatusCode::NOT_FOUND)),
        ("redirect", JwksMode::Status(StatusCode::FOUND)),
    ];
    for (i, (name, mode)) in garbage.into_iter().enumerate() {
        issuer.set_jwks_mode(mode);
        let seen = issuer.jwks_fetches();
        let fetched = next_fetch(&issuer, seen, Duration::from_secs(8)).await;
        checks.check(fetched, || {
            format!("JWKS {name}: the server did not refetch within 8 s")
        });
        let fresh = token(&format!("garbage-{i}"));
        let reply = server
            .raw
            .send(Some(&fresh), None, &initialize_body(1))
            .await;
        checks.expect(
            &format!("JWKS answers {name}: valid token"),
            &reply,
            Expect::Ok,
            &[&fresh],
        );
        let unknown = issuer.token_with(
            TestKey::Rsa,
            Some(&format!("unknown-{i}")),
            &issuer.claims_for("x", ALL_SCOPES, AUDIENCE),
        );
        let reply = server
            .raw
            .send(Some(&unknown), None, &initialize_body(1))
            .await;
        checks.expect(
            &format!("JWKS answers {name}: unknown kid"),
            &reply,
            Expect::InvalidToken,
            &[&unknown],
        );
        let hs256 = issuer.hs256_token(
            hmac_secret,
            Some(RSA_KID),
            &issuer.claims_for("x", ALL_SCOPES, AUDIENCE),
        );
        let reply = server
            .raw
            .send(Some(&hs256), None, &initialize_body(1))
            .await;
        checks.expect(
            &format!("JWKS answers {name}: HS256 with the HMAC key"),
            &reply,
            Expect::InvalidToken,
            &[&hs256],
        );
    }
    issuer.set_jwks_mode(JwksMode::Normal);
    let seen = issuer.jwks_fetches();
    next_fetch(&issuer, seen, Duration::from_secs(8)).await;

    // Slow: one fetch in flight at a time, each bounded (5 s); requests with
    // known keys never wait for it.
    issuer.set_jwks_mode(JwksMode::Slow(Duration::from_secs(6)));
    issuer.reset_max_concurrent_jwks_fetches();
    let seen = issuer.jwks_fetches();
    // Past the rate-limit window, so that the burst does start a fetch.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..16 {
        let known = i % 2 == 0;
        let claims = issuer.claims_for(&format!("slow-{i}"), ALL_SCOPES, AUDIENCE);
        let token = if known {
            issuer.token(&claims)
        } else {
            issuer.token_with(TestKey::Rsa, Some(&format!("slow-unknown-{i}")), &claims)
        };
        let raw = server.raw.clone();
        requests.spawn(async move {
            let started = Instant::now();
            let reply = raw.send(Some(&token), None, &initialize_body(1)).await;
            (known, token, reply, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while let Some(result) = requests.join_next().await {
        let (known, token, reply, elapsed) = result.expect("slow-JWKS request task");
        if known {
            checks.expect("JWKS slow: known kid", &reply, Expect::Ok, &[&token]);
            checks.check(elapsed < Duration::from_secs(2), || {
                format!("JWKS slow: a known-kid request waited {elapsed:?}")
            });
        } else {
            checks.expect(
                "JWKS slow: unknown kid",
                &reply,
                Expect::InvalidToken,
                &[&token],
            );
            checks.check(elapsed < Duration::from_secs(8), || {
                format!("JWKS slow: an unknown-kid request waited {elapsed:?}")
            });
        }
    }
    let concurrent = issuer.max_concurrent_jwks_fetches();
    let started = issuer.jwks_fetches() - seen;
    eprintln!("slow JWKS: {started} fetch(es) started during the burst");
    checks.check(concurrent == 1 && started >= 1, || {
        format!("JWKS slow: expected exactly one fetch in flight at a time, saw {concurrent}")
    });
    issuer.set_jwks_mode(JwksMode::Normal);
    let seen = issuer.jwks_fetches();
    next_fetch(&issuer, seen, Duration::from_secs(10)).await;

    // Rotation: a new key works after one refetch; a removed key stops
    // working after the next refresh, remembered tokens included.
    let rotated = |sub: &str| {
        issuer.token_with(
            TestKey::Rsa2,
            Some(RSA_2_KID),
            &issuer.claims_for(sub, ALL_SCOPES, AUDIENCE),
        )
    };
    let early = rotated("rotated-early");
    let reply = server
        .raw
        .send(Some(&early), None, &initialize_body(1))
        .await;
    checks.expect(
        "rotation: new key before it is published",
        &reply,
        Expect::InvalidToken,
        &[&early],
    );
    let old = token("old-key");
    let status = status_with(&server, &old).await;
    checks.check(status == StatusCode::OK, || {
        format!("rotation: old-key token got {status}")
    });
    issuer.publish_keys(&[
        (TestKey::Rsa, RSA_KID),
        (TestKey::Ec, EC_KID),
        (TestKey::Rsa2, RSA_2_KID),
    ]);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let new = rotated("rotated");
    let reply = server.raw.send(Some(&new), None, &initialize_body(1)).await;
    checks.expect(
        "rotation: new key once published (first try)",
        &reply,
        Expect::Ok,
        &[&new],
    );
    issuer.publish_keys(&[(TestKey::Ec, EC_KID), (TestKey::Rsa2, RSA_2_KID)]);
    let seen = issuer.jwks_fetches();
    let fetched = next_fetch(&issuer, seen, Duration::from_secs(8)).await;
    checks.check(fetched, || "rotation: no refresh within 8 s".to_string());
    let reply = server.raw.send(Some(&old), None, &initialize_body(1)).await;
    checks.expect(
        "rotation: remembered token of the removed key",
        &reply,
        Expect::InvalidToken,
        &[&old],
    );
    let old2 = token("old-key-2");
    let reply = server
        .raw
        .send(Some(&old2), None, &initialize_body(1))
        .await;
    checks.expect(
        "rotation: new token of the removed key",
        &reply,
        Expect::InvalidToken,
        &[&old2],
    );
    let reply = server.raw.send(Some(&new), None, &initialize_body(1)).await;
    checks.expect(
        "rotation: new key after the removal",
        &reply,
        Expect::Ok,
        &[&new],
    );
    eprintln!(
        "fault issuer served the JWKS {} time(s)",
        issuer.jwks_fetches()
    );
    checks.finish("JWKS garbage, slow and rotation");
}

/// Nothing listens at the JWKS URL: the server starts and answers 503.
async fn unreachable_at_start_up() {
    let issuer = Issuer::start();
    let nowhere = format!("http://127.0.0.1:{}/.well-known/jwks.json", free_port());
    let server = start_server(&issuer.issuer_url(), &nowhere, &[]).await;
    let checks = Checks::new(&server);
    let token = issuer.token(&issuer.claims_for("alice", ALL_SCOPES, AUDIENCE));
    let reply = server
        .raw
        .send(Some(&token), None, &initialize_body(1))
        .await;
    checks.expect(
        "JWKS unreachable at start-up",
        &reply,
        Expect::Unavailable,
        &[&token],
    );
    checks.check(reply.header_opt("retry-after") == Some("30"), || {
        format!(
            "JWKS unreachable: expected Retry-After: 30\n{}",
            reply.describe()
        )
    });
    checks.finish("JWKS unreachable at start-up");
}

/// Issue 20, items 2, 3 and 5 (Auth0 server: `scope` and `permissions`,
/// rule `requested`): permissions never widen what the client asked for;
/// scope strings split on U+0020 only, array items are one scope each; the
/// token type; fractional times; an empty subject.
fn scope_claim_rows(m: &mut Matrix<'_>) {
    let issuer = m.issuer;
    let search = |id| tools_call_body(id, "search-tasks", json!({ "query": "" }));
    let delete = |id| tools_call_body(id, "delete-task", json!({ "id": 999 }));
    let alice = |scope: Value, permissions: Value| {
        let changes = json!({ "scope": scope, "permissions": permissions });
        issuer.token(&edited(m.claims("alice", ""), changes))
    };
    let rows = [
        (
            "scope: read, permissions: delete (delete refused, 403)",
            alice(json!("read:tasks"), json!(["read:tasks", "delete:tasks"])),
            delete(30),
            Expect::InsufficientScope("delete:tasks"),
        ),
        (
            "scope: delete, permissions: read (delete refused, 403)",
            alice(json!("delete:tasks"), json!(["read:tasks"])),
            delete(31),
            Expect::InsufficientScope("delete:tasks"),
        ),
        (
            "scope: delete, permissions: read (search, implied by both: control)",
            alice(json!("delete:tasks"), json!(["read:tasks"])),
            search(32),
            Expect::Ok,
        ),
        (
            "scope and permissions both delete (control)",
            alice(json!("read:tasks delete:tasks"), json!(["delete:tasks"])),
            delete(33),
            Expect::Ok,
        ),
        (
            "permissions only, no scope claim (read: control)",
            alice(Value::Null, json!(["read:tasks"])),
            search(34),
            Expect::Ok,
        ),
        (
            "scope joined by a no-break space (one scope, 403)",
            alice(json!("read:tasks\u{a0}write:tasks"), Value::Null),
            search(35),
            Expect::InsufficientScope("read:tasks"),
        ),
        (
            "scope joined by a tab (one scope, 403)",
            alice(json!("read:tasks\twrite:tasks"), Value::Null),
            search(36),
            Expect::InsufficientScope("read:tasks"),
        ),
        (
            "scope joined by an ideographic space (one scope, 403)",
            alice(json!("read:tasks\u{3000}delete:tasks"), Value::Null),
            search(37),
            Expect::InsufficientScope("read:tasks"),
        ),
        (
            "permissions item `read:tasks delete:tasks` (one scope, 403)",
            alice(Value::Null, json!(["read:tasks delete:tasks"])),
            search(38),
            Expect::InsufficientScope("read:tasks"),
        ),
    ];
    for (name, token, body, expect) in rows {
        m.call(name, &token, body, &[], expect);
    }

    // The token type (RFC 8725 section 3.11, RFC 9068 section 4).
    let good = m.good();
    for (typ, expect) in [
        (Some("at+jwt"), Expect::Ok),
        (Some("application/at+jwt"), Expect::Ok),
        (Some("JWT"), Expect::Ok),
        (None, Expect::Ok),
        (Some("id_token+jwt"), Expect::InvalidToken),
        (Some("logout+jwt"), Expect::InvalidToken),
        (Some("secevent+jwt"), Expect::InvalidToken),
        (Some("application/id_token+jwt"), Expect::InvalidToken),
        (Some("dpop+jwt"), Expect::InvalidToken),
    ] {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(RSA_KID.to_string());
        header.typ = typ.map(str::to_string);
        let token = issuer.token_with_header(TestKey::Rsa, &header, &good);
        m.token(&format!("typ {typ:?}"), &token, expect);
    }

    // RFC 7519 NumericDates with fractions; the subject.
    let t = now() as f64;
    for (name, changes, expect) in [
        (
            "exp, nbf, iat with fractions (control)",
            json!({ "exp": t + 300.5, "nbf": t - 0.5, "iat": t - 1.25 }),
            Expect::Ok,
        ),
        (
            "exp in exponent notation (1.7e10: control)",
            json!({ "exp": 1.7e10 }),
            Expect::Ok,
        ),
        (
            "exp with a fraction, past",
            json!({ "exp": t - 600.5 }),
            Expect::InvalidToken,
        ),
        ("exp negative", json!({ "exp": -1.5 }), Expect::InvalidToken),
        (
            "nbf with a fraction, in the future (10 min)",
            json!({ "nbf": t + 600.5 }),
            Expect::InvalidToken,
        ),
        ("empty sub", json!({ "sub": "" }), Expect::InvalidToken),
    ] {
        m.claims_case(name, edited(good.clone(), changes), expect);
    }
}

// ---------------------------------------------------------------------------
// Session floods (issue 20).
// ---------------------------------------------------------------------------

/// The per-subject session limit of the flood test's servers.
const FLOOD_CAP: usize = 20;

/// Issue 20, item 1: one subject opening sessions without end. Its sessions
/// stop at its limit (429 with `Retry-After`, audited) while another
/// subject's session, opened before, keeps working; ending a session frees
/// a slot; `initialize` requests sent at once never overshoot the limit;
/// a flood of refused ones costs no memory. Memory per session is measured
/// here (the figure in the generated `sessions.rs` and the README). Then the
/// server's own limit: a full server refuses a new session (503) rather than
/// evict anyone's.
#[tokio::test(flavor = "multi_thread")]
async fn session_flood() {
    let issuer = Issuer::start();
    let cap = FLOOD_CAP.to_string();
    let extra = [("MCP_MAX_SESSIONS_PER_SUBJECT", cap.as_str())];
    let server = start_server(&issuer.issuer_url(), &issuer.jwks_url(), &extra).await;
    let checks = Checks::new(&server);
    let token = |subject: &str| issuer.token(&issuer.claims_for(subject, "read:tasks", AUDIENCE));
    let alice = token("alice");
    let bob = token("bob");
    let bobs = server.raw.open_session(&bob).await;
    let started_rss = rss_kib(&server);

    // Alice up to her limit: a session each time.
    let mut alices = Vec::new();
    for n in 0..FLOOD_CAP {
        let what = format!("alice's initialize {n} of {FLOOD_CAP}");
        alices.extend(open_one(&checks, &server, &alice, &what).await);
    }
    let reply = initialize(&server, &alice).await;
    expect_too_many(&checks, "alice's initialize past her limit", &reply, &alice);
    checks.check(
        wait_for_log(
            &server,
            "too many sessions for this subject",
            Duration::from_secs(5),
        )
        .await,
        || "the refused session has no audit record".to_string(),
    );

    // Ending a session frees one slot, and only one.
    if let Some(ended) = alices.pop() {
        let reply = end_session(&server, &alice, &ended).await;
        checks.check(reply.status.is_success(), || {
            format!("DELETE of one of alice's sessions\n{}", reply.describe())
        });
    }
    let what = "alice's initialize after ending a session";
    alices.extend(open_one(&checks, &server, &alice, what).await);
    let reply = initialize(&server, &alice).await;
    expect_too_many(
        &checks,
        "alice's initialize at her limit again",
        &reply,
        &alice,
    );

    // Half her sessions ended, then 50 initializes at once: exactly as many
    // get through as there are free slots.
    let freed = FLOOD_CAP / 2;
    for session in alices.drain(..freed) {
        let reply = end_session(&server, &alice, &session).await;
        checks.check(reply.status.is_success(), || {
            format!("DELETE of alice's session\n{}", reply.describe())
        });
    }
    let replies = initialize_at_once(&server, &alice, 50).await;
    let created: Vec<RawSession> = replies.iter().filter_map(opened).collect();
    let refused = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    checks.check(created.len() == freed && refused == 50 - freed, || {
        format!(
            "50 initializes at once with {freed} free slots: {} sessions, {refused} refused, statuses {:?}",
            created.len(),
            replies.iter().map(|reply| reply.status.as_u16()).collect::<Vec<_>>()
        )
    });
    // Every session she holds works: her limit, and no more.
    for session in alices.iter().chain(&created) {
        let reply = server
            .raw
            .send(
                Some(&alice),
                Some(session),
                &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
            )
            .await;
        checks.check(reply.status.is_success(), || {
            format!("alice's live session\n{}", reply.describe())
        });
    }
    let reply = initialize(&server, &alice).await;
    expect_too_many(
        &checks,
        "alice's initialize after the burst",
        &reply,
        &alice,
    );

    // Memory per session: 50 more subjects opening FLOOD_CAP sessions each.
    let subjects = 50;
    let baseline = rss_kib(&server);
    for subject in 0..subjects {
        let replies =
            initialize_at_once(&server, &token(&format!("user-{subject}")), FLOOD_CAP).await;
        let sessions = replies.iter().filter_map(opened).count();
        checks.check(sessions == FLOOD_CAP, || {
            format!("user-{subject}: {sessions} sessions of {FLOOD_CAP}")
        });
    }
    let with_sessions = rss_kib(&server);

    // The flood: 2,000 more initializes by alice, 50 at a time; all refused.
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..40 {
        for reply in initialize_at_once(&server, &alice, 50).await {
            *statuses.entry(reply.status.as_u16()).or_insert(0) += 1;
        }
    }
    checks.check(statuses == [(429, 2000)].into(), || {
        format!("2,000 initializes past alice's limit: statuses {statuses:?}")
    });
    let after_flood = rss_kib(&server);

    // Bob's session, opened before all this, still answers.
    let reply = server
        .raw
        .send(
            Some(&bob),
            Some(&bobs),
            &json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }),
        )
        .await;
    checks.expect("bob's session after the flood", &reply, Expect::Ok, &[&bob]);

    if let (Some(started), Some(baseline), Some(with_sessions), Some(after_flood)) =
        (started_rss, baseline, with_sessions, after_flood)
    {
        let count = subjects * FLOOD_CAP;
        let per_session = with_sessions.saturating_sub(baseline) as f64 / count as f64;
        eprintln!(
            "RSS (KiB): {started} at start, {baseline} with {} sessions, {with_sessions} with {} more \
             ({per_session:.1} KiB per session), {after_flood} after 2,000 refused initializes",
            FLOOD_CAP + 1,
            count
        );
        checks.check(per_session < 1024.0, || {
            format!("a session costs {per_session:.1} KiB: more than 1 MiB")
        });
        checks.check(after_flood <= with_sessions + 32 * 1024, || {
            format!(
                "2,000 refused initializes grew RSS from {with_sessions} KiB to {after_flood} KiB"
            )
        });
    }
    checks.finish("session flood");

    server_full(&issuer).await;
}

/// A server holding `MCP_MAX_SESSIONS` (30) live sessions refuses a new one
/// (503 with `Retry-After`) rather than evict another subject's, and takes
/// it once one ends.
async fn server_full(issuer: &Issuer) {
    let cap = FLOOD_CAP.to_string();
    let extra = [
        ("MCP_MAX_SESSIONS_PER_SUBJECT", cap.as_str()),
        ("MCP_MAX_SESSIONS", "30"),
    ];
    let server = start_server(&issuer.issuer_url(), &issuer.jwks_url(), &extra).await;
    let checks = Checks::new(&server);
    let token = |subject: &str| issuer.token(&issuer.claims_for(subject, "read:tasks", AUDIENCE));
    let (alice, bob, carol) = (token("alice"), token("bob"), token("carol"));
    let mut held = Vec::new();
    for (subject, token, count) in [("alice", &alice, FLOOD_CAP), ("bob", &bob, 30 - FLOOD_CAP)] {
        let replies = initialize_at_once(&server, token, count).await;
        let sessions: Vec<RawSession> = replies.iter().filter_map(opened).collect();
        checks.check(sessions.len() == count, || {
            format!("{subject}: {} sessions of {count}", sessions.len())
        });
        held.extend(sessions.into_iter().map(|session| (token, session)));
    }
    let reply = initialize(&server, &carol).await;
    checks.expect(
        "carol's initialize on a full server",
        &reply,
        Expect::Unavailable,
        &[&carol],
    );
    for (token, session) in &held {
        let reply = server
            .raw
            .send(
                Some(token),
                Some(session),
                &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
            )
            .await;
        checks.check(reply.status.is_success(), || {
            format!(
                "a session held when the server was full\n{}",
                reply.describe()
            )
        });
    }
    if let Some((token, session)) = held.pop() {
        let reply = end_session(&server, token, &session).await;
        checks.check(reply.status.is_success(), || {
            format!("DELETE on the full server\n{}", reply.describe())
        });
    }
    open_one(
        &checks,
        &server,
        &carol,
        "carol's initialize once a session ended",
    )
    .await;
    checks.finish("server full of sessions");
}

/// The server process's resident memory in KiB (`/proc`, Linux; `None`
/// elsewhere).
fn rss_kib(server: &Server) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{}/status", server.process.id())).ok()?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

/// An `initialize` with `token`, outside any session.
async fn initialize(server: &Server, token: &str) -> Reply {
    server
        .raw
        .send(Some(token), None, &initialize_body(1))
        .await
}

/// An `initialize` with `token` that must open a session.
async fn open_one(checks: &Checks, server: &Server, token: &str, what: &str) -> Option<RawSession> {
    let reply = initialize(server, token).await;
    let session = opened(&reply);
    checks.check(session.is_some(), || {
        format!("{what}: expected 200 with a session\n{}", reply.describe())
    });
    session
}

/// `count` initializes with `token`, all sent at once.
async fn initialize_at_once(server: &Server, token: &str, count: usize) -> Vec<Reply> {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..count {
        let request = server.raw.post(Some(token), None, &initialize_body(1));
        requests.spawn(Reply::fetch(request));
    }
    requests.join_all().await
}

/// The session a 200 answer to `initialize` opened.
fn opened(reply: &Reply) -> Option<RawSession> {
    if reply.status != StatusCode::OK {
        return None;
    }
    let session_id = reply.header_opt("mcp-session-id")?.to_string();
    let message = reply.json_rpc();
    let protocol_version = message["result"]["protocolVersion"].as_str()?.to_string();
    Some(RawSession {
        session_id,
        protocol_version,
    })
}

/// `DELETE` of `session` with `token`.
async fn end_session(server: &Server, token: &str, session: &RawSession) -> Reply {
    Reply::fetch(
        server
            .raw
            .http
            .delete(&server.mcp_url)
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header("mcp-session-id", &session.session_id)
            .header("mcp-protocol-version", &session.protocol_version),
    )
    .await
}

/// 429, no challenge, a JSON error and a `Retry-After` within rmcp's
/// keep-alive (the subject's longest idle session ends by then).
fn expect_too_many(checks: &Checks, what: &str, reply: &Reply, token: &str) {
    checks.expect(
        what,
        reply,
        Expect::Plain(StatusCode::TOO_MANY_REQUESTS),
        &[token],
    );
    let retry_after = reply
        .header_opt("retry-after")
        .and_then(|value| value.parse::<u64>().ok());
    checks.check(
        retry_after.is_some_and(|secs| (1..=300).contains(&secs)),
        || {
            format!(
                "{what}: expected Retry-After from 1 to 300 s\n{}",
                reply.describe()
            )
        },
    );
    let error = serde_json::from_str::<Value>(&reply.body)
        .ok()
        .and_then(|body| body["error"].as_str().map(str::to_string));
    checks.check(error.as_deref() == Some("too_many_sessions"), || {
        format!(
            "{what}: expected the JSON error too_many_sessions\n{}",
            reply.describe()
        )
    });
}
