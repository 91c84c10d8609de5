//! `mcp-builder auth dev` over real HTTP: the real binary serves the bundled
//! example's project (protected with `add-auth --provider dev`) on
//! 127.0.0.1, and every answer is checked the way a client sees it: the
//! discovery documents, the key set, both grants with their errors
//! (RFC 6749 5.2), the consent page, dynamic registration and a client ID
//! metadata document served by the test. Tokens are verified against the
//! served key set. Also its refusals and its clean stop on SIGINT.
//!
//! Run: `cargo test --test dev_issuer`

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use reqwest::{StatusCode, Url, redirect::Policy};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{
    dev::{self, Decision, DevIssuer},
    http::Reply,
    project::{EXAMPLE, EXAMPLE_FLAGS, copy_project, free_port, run_add_auth},
};
use tempfile::TempDir;

/// The audience (and resource) the test project trusts.
const AUDIENCE: &str = "http://127.0.0.1:8000/mcp";
const SCOPES: [&str; 3] = ["read:tasks", "write:tasks", "delete:tasks"];
/// The redirect URI of the test's clients (nothing listens there: the
/// test reads the `Location` the issuer answers with).
const REDIRECT: &str = "http://127.0.0.1:1/callback";

/// The bundled example in a temporary folder, protected with
/// `add-auth --provider dev --issuer <issuer>` and the example's scopes and
/// tool scopes.
fn dev_project(dir: &Path, issuer: &str) -> PathBuf {
    let project = dir.join("tasks-server");
    copy_project(Path::new(EXAMPLE), &project);
    let scopes_on = EXAMPLE_FLAGS
        .iter()
        .position(|flag| *flag == "--scopes")
        .expect("the example's flags name scopes");
    let mut args = vec![
        "--provider",
        "dev",
        "--issuer",
        issuer,
        "--audience",
        AUDIENCE,
    ];
    args.extend(&EXAMPLE_FLAGS[scopes_on..]);
    let (ok, stderr) = run_add_auth(&project, &args);
    assert!(ok, "add-auth --provider dev failed:\n{stderr}");
    project
}

/// A client id and secret, for HTTP Basic.
type Credentials<'a> = (&'a str, &'a str);

/// A dev project and its running issuer.
struct Running {
    _dir: TempDir,
    project: PathBuf,
    issuer: DevIssuer,
}

impl Running {
    async fn start() -> Running {
        let dir = TempDir::new().unwrap();
        let url = format!("http://127.0.0.1:{}", free_port());
        let project = dev_project(dir.path(), &url);
        let issuer = DevIssuer::start(&project, &url, dir.path().join("auth-dev.log")).await;
        Running {
            _dir: dir,
            project,
            issuer,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer.url)
    }

    /// `POST /token` with `form`, optionally with HTTP Basic.
    async fn token(&self, basic: Option<Credentials<'_>>, form: &[(&str, &str)]) -> Reply {
        let mut request = http().post(self.url("/token")).form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        Reply::fetch(request).await
    }

    /// A public client's code exchange at `POST /token`.
    async fn exchange(
        &self,
        client: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Reply {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client),
            ("code_verifier", verifier),
        ];
        self.token(None, &form).await
    }

    /// The access token of a 200 answer, verified against the served key
    /// set: its claims.
    async fn verified(&self, reply: &Reply, audience: &str) -> Value {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
        assert_eq!(reply.header("cache-control"), "no-store");
        let body = reply.json();
        assert_eq!(body["token_type"], "Bearer", "{body}");
        assert_eq!(body["expires_in"], 3600, "{body}");
        let token = body["access_token"].as_str().expect("an access_token");
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
        let keys: JwkSet = Reply::fetch(http().get(self.url("/jwks"))).await.json_as();
        let kid = header.kid.expect("a kid");
        let jwk = keys.find(&kid).expect("the token's key in the served set");
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer.url]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims =
            jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
                .unwrap_or_else(|err| panic!("the token does not verify: {err}"))
                .claims;
        assert_eq!(claims["scope"], body["scope"], "{claims}");
        claims
    }

    /// Registers a public client for [`REDIRECT`]; its id.
    async fn register_public(&self, name: &str) -> String {
        let reply = Reply::fetch(http().post(self.url("/register")).json(&json!({
            "client_name": name,
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        })))
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.describe());
        let body = reply.json();
        assert!(body.get("client_secret").is_none(), "{body}");
        assert_eq!(body["token_endpoint_auth_method"], "none");
        assert_eq!(body["grant_types"], json!(["authorization_code"]));
        assert!(body["client_id_issued_at"].as_u64().is_some(), "{body}");
        body["client_id"].as_str().unwrap().to_string()
    }

    /// The authorization URL of `client_id` with an S256 challenge of
    /// `verifier` and `extra` parameters.
    fn authorize_url(&self, client_id: &str, verifier: &str, extra: &[(&str, &str)]) -> String {
        let mut url = Url::parse(&self.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("state", "st-123")
            .append_pair("code_challenge", &challenge(verifier))
            .append_pair("code_challenge_method", "S256")
            .extend_pairs(extra);
        url.into()
    }

    /// Runs the consent page for `client_id` (Allow, as `user`): the code
    /// the client gets back, after checking `state` and `iss`.
    async fn code(
        &self,
        client_id: &str,
        verifier: &str,
        user: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let url = self.authorize_url(client_id, verifier, extra);
        let location = dev::click_consent(&url, user, Decision::Allow)
            .await
            .unwrap_or_else(|err| panic!("{err}\n--- auth dev ---\n{}", self.issuer.process.log()));
        let back = query(&location);
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(
            back.get("state").map(String::as_str),
            Some("st-123"),
            "{location}"
        );
        assert_eq!(back.get("iss"), Some(&self.issuer.url), "{location}");
        back.get("code")
            .cloned()
            .unwrap_or_else(|| panic!("no code in {location}"))
    }

    /// `GET /authorize` without following redirects.
    async fn authorize(&self, url: &str) -> Reply {
        Reply::fetch(no_redirects().get(url)).await
    }
}

trait JsonAs {
    fn json_as<T: serde::de::DeserializeOwned>(&self) -> T;
}

impl JsonAs for Reply {
    fn json_as<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}\n{}", self.describe()))
    }
}

fn http() -> reqwest::Client {
    support::http::client()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .timeout(support::http::REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A PKCE verifier (43+ unreserved characters) that differs by `seed`.
fn verifier(seed: &str) -> String {
    format!("verifier-{seed}-{}", "0123456789abcdef".repeat(3))
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    Url::parse(url)
        .unwrap_or_else(|err| panic!("{url}: {err}"))
        .query_pairs()
        .into_owned()
        .collect()
}

/// Asserts an RFC 6749 5.2 error answer.
fn assert_error(reply: &Reply, status: StatusCode, error: &str) {
    assert_eq!(reply.status, status, "{}", reply.describe());
    let body = reply.json();
    assert_eq!(body["error"], error, "{}", reply.describe());
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert_eq!(reply.header("cache-control"), "no-store");
}

/// Asserts a redirect to [`REDIRECT`] with `error`, the state and `iss`.
fn assert_redirected_error(reply: &Reply, issuer: &str, error: &str) {
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.describe());
    let location = reply.header("location");
    assert!(location.starts_with(REDIRECT), "{location}");
    let back = query(location);
    assert_eq!(
        back.get("error").map(String::as_str),
        Some(error),
        "{location}"
    );
    assert_eq!(
        back.get("state").map(String::as_str),
        Some("st-123"),
        "{location}"
    );
    assert_eq!(
        back.get("iss").map(String::as_str),
        Some(issuer),
        "{location}"
    );
    assert!(!back.contains_key("code"), "{location}");
}

/// Asserts the HTML error page: 400, no redirect.
fn assert_error_page(reply: &Reply, mentions: &str) {
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "{}",
        reply.describe()
    );
    assert!(
        reply.header_opt("location").is_none(),
        "{}",
        reply.describe()
    );
    assert!(
        reply.header("content-type").starts_with("text/html"),
        "{}",
        reply.describe()
    );
    assert!(reply.body.contains(mentions), "{}", reply.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_discovery_documents_describe_the_issuer_and_its_key_set_is_served() {
    let running = Running::start().await;
    let base = &running.issuer.url;
    let oauth =
        Reply::fetch(http().get(running.url("/.well-known/oauth-authorization-server"))).await;
    let openid = Reply::fetch(http().get(running.url("/.well-known/openid-configuration"))).await;
    for reply in [&oauth, &openid] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
        assert_eq!(reply.header("access-control-allow-origin"), "*");
        let document = reply.json();
        assert_eq!(document["issuer"], *base, "the exact issuer of the project");
        assert_eq!(
            document["authorization_endpoint"],
            format!("{base}/authorize")
        );
        assert_eq!(document["token_endpoint"], format!("{base}/token"));
        assert_eq!(document["jwks_uri"], format!("{base}/jwks"));
        assert_eq!(
            document["registration_endpoint"],
            format!("{base}/register")
        );
        assert_eq!(document["scopes_supported"], json!(SCOPES));
        assert_eq!(document["response_types_supported"], json!(["code"]));
        assert_eq!(
            document["grant_types_supported"],
            json!(["authorization_code", "client_credentials"])
        );
        assert_eq!(
            document["code_challenge_methods_supported"],
            json!(["S256"])
        );
        assert_eq!(
            document["token_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post", "none"])
        );
        assert_eq!(document["client_id_metadata_document_supported"], true);
        assert_eq!(
            document["authorization_response_iss_parameter_supported"],
            true
        );
        assert_eq!(document["subject_types_supported"], json!(["public"]));
        assert_eq!(
            document["id_token_signing_alg_values_supported"],
            json!(["ES256"])
        );
    }
    assert_eq!(oauth.json(), openid.json());

    let jwks = Reply::fetch(http().get(running.url("/jwks"))).await;
    assert_eq!(jwks.status, StatusCode::OK, "{}", jwks.describe());
    let keys = jwks.json();
    let keys = keys["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert_eq!(keys[0]["alg"], "ES256");
    assert!(
        keys[0].get("d").is_none(),
        "the private key is never served"
    );

    // A browser's preflight for the token endpoint.
    let preflight = Reply::fetch(
        http()
            .request(reqwest::Method::OPTIONS, running.url("/token"))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            ),
    )
    .await;
    assert_eq!(
        preflight.status,
        StatusCode::NO_CONTENT,
        "{}",
        preflight.describe()
    );
    assert_eq!(preflight.header("access-control-allow-origin"), "*");
    assert!(
        preflight
            .header("access-control-allow-methods")
            .contains("POST")
    );
    assert!(
        preflight
            .header("access-control-allow-headers")
            .contains("authorization")
    );

    let log = running.issuer.process.log();
    assert!(log.contains("GET /jwks 200"), "{log}");
    assert!(log.contains("Ctrl-C stops it."), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_by_basic_and_by_post_and_their_errors() {
    let running = Running::start().await;
    let (id, secret) = dev::store_client(&running.project);
    let cc = [("grant_type", "client_credentials")];

    let basic = running.token(Some((&id, &secret)), &cc).await;
    let claims = running.verified(&basic, AUDIENCE).await;
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(
        claims["scope"],
        SCOPES.join(" "),
        "no scope asked: all of the project's"
    );
    assert_eq!(basic.header("access-control-allow-origin"), "*");

    let post = running
        .token(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "read:tasks"),
                ("resource", AUDIENCE),
            ],
        )
        .await;
    let claims = running.verified(&post, AUDIENCE).await;
    assert_eq!(claims["scope"], "read:tasks");
    assert_eq!(claims["aud"], AUDIENCE);

    let wrong_basic = running.token(Some((&id, "not-the-secret")), &cc).await;
    assert_error(&wrong_basic, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(
        wrong_basic.header("www-authenticate").starts_with("Basic"),
        "{}",
        wrong_basic.describe()
    );
    let by_basic = Some((id.as_str(), secret.as_str()));
    let id = id.as_str();
    let cases = [
        (
            None,
            vec![("client_id", id), ("client_secret", "not-the-secret")],
            "invalid_client",
        ),
        (None, vec![("client_id", id)], "invalid_client"),
        (
            by_basic,
            vec![("resource", "https://other.example.com/mcp")],
            "invalid_target",
        ),
        (
            by_basic,
            vec![("scope", "read:tasks admin")],
            "invalid_scope",
        ),
        (
            by_basic,
            vec![("grant_type", "password")],
            "unsupported_grant_type",
        ),
    ];
    for (basic, extra, error) in cases {
        let mut form = vec![("grant_type", "client_credentials")];
        form.retain(|(name, _)| extra.iter().all(|(other, _)| other != name));
        form.extend(extra);
        let reply = running.token(basic, &form).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, error);
    }

    let log = running.issuer.process.log();
    assert_eq!(
        log.matches(secret.as_str()).count(),
        1,
        "the secret is printed once, in the banner, never in the request log:\n{log}"
    );
    assert!(log.contains("POST /token 401 invalid_client"), "{log}");
    assert!(log.contains("POST /token 400 invalid_target"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_code_with_pkce_through_the_consent_page() {
    let running = Running::start().await;
    let client = running.register_public("Test app").await;

    // The consent page lists what is asked.
    let page = running
        .authorize(&running.authorize_url(
            &client,
            &verifier("page"),
            &[("scope", "read:tasks write:tasks")],
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert!(page.header("content-type").starts_with("text/html"));
    for shown in [
        "Test app",
        "<li><code>read:tasks</code></li>",
        "<li><code>write:tasks</code></li>",
        AUDIENCE,
        "value=\"dev-user\"",
        ">Allow<",
        ">Deny<",
    ] {
        assert!(
            page.body.contains(shown),
            "`{shown}` not on the page:\n{}",
            page.body
        );
    }
    assert!(!page.body.contains("delete:tasks"), "{}", page.body);

    let happy = verifier("happy");
    let code = running
        .code(
            &client,
            &happy,
            "alice",
            &[("scope", "read:tasks write:tasks"), ("resource", AUDIENCE)],
        )
        .await;
    let token = running.exchange(&client, &code, REDIRECT, &happy).await;
    let claims = running.verified(&token, AUDIENCE).await;
    assert_eq!(claims["sub"], "alice", "the name typed on the consent page");
    assert_eq!(claims["client_id"], client.as_str());
    assert_eq!(claims["scope"], "read:tasks write:tasks");

    let replayed = running.exchange(&client, &code, REDIRECT, &happy).await;
    assert_error(&replayed, StatusCode::BAD_REQUEST, "invalid_grant");

    // A wrong verifier.
    let code = running
        .code(&client, &verifier("right"), "dev-user", &[])
        .await;
    let wrong_verifier = verifier("wrong");
    let reply = running
        .exchange(&client, &code, REDIRECT, &wrong_verifier)
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant");

    // Another redirect_uri at the token endpoint.
    let right = verifier("redirect");
    let code = running.code(&client, &right, "dev-user", &[]).await;
    let reply = running
        .exchange(&client, &code, "http://127.0.0.1:1/elsewhere", &right)
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant");

    // Another client's code.
    let other = running.register_public("Other app").await;
    let right = verifier("thief");
    let code = running.code(&client, &right, "dev-user", &[]).await;
    let reply = running.exchange(&other, &code, REDIRECT, &right).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant");

    let log = running.issuer.process.log();
    assert!(log.contains("POST /authorize 303 code issued"), "{log}");
    assert!(!log.contains(&code), "codes never reach the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_errors_go_back_to_the_client_only_once_its_redirect_uri_is_known_good() {
    let running = Running::start().await;
    let issuer = running.issuer.url.clone();
    let client = running.register_public("Test app").await;
    let v = verifier("errors");

    // Unknown client, unregistered redirect URI: a page, never a redirect.
    let unknown = running
        .authorize(&running.authorize_url("no-such-client", &v, &[]))
        .await;
    assert_error_page(&unknown, "unknown client");
    let url = running
        .authorize_url(&client, &v, &[])
        .replace("callback", "evil");
    let bad_redirect = running.authorize(&url).await;
    assert_error_page(&bad_redirect, "not one of the client");
    let (store_client, _) = dev::store_client(&running.project);
    let no_redirects = running
        .authorize(&running.authorize_url(&store_client, &v, &[]))
        .await;
    assert_error_page(&no_redirects, "redirect");

    // Known client and redirect URI: the error goes back with state and iss.
    let good = running.authorize_url(&client, &v, &[]);
    let mut no_pkce = Url::parse(&running.url("/authorize")).unwrap();
    no_pkce
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "st-123");
    let cases = [
        (good.replace("S256", "plain"), "invalid_request"),
        (no_pkce.into(), "invalid_request"),
        (
            running.authorize_url(&client, &v, &[("scope", "read:tasks admin")]),
            "invalid_scope",
        ),
        (
            running.authorize_url(
                &client,
                &v,
                &[("resource", "https://other.example.com/mcp")],
            ),
            "invalid_target",
        ),
        (
            good.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
    ];
    for (url, error) in cases {
        let reply = running.authorize(&url).await;
        assert_redirected_error(&reply, &issuer, error);
    }

    // The person says no.
    let location = dev::click_consent(
        &running.authorize_url(&client, &v, &[]),
        "dev-user",
        Decision::Deny,
    )
    .await
    .unwrap();
    let back = query(&location);
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("access_denied"),
        "{location}"
    );
    assert_eq!(
        back.get("state").map(String::as_str),
        Some("st-123"),
        "{location}"
    );
    assert_eq!(back.get("iss"), Some(&issuer), "{location}");
    assert!(!back.contains_key("code"), "{location}");

    // A consent form is answered once.
    let page = running
        .authorize(&running.authorize_url(&client, &v, &[]))
        .await;
    let (action, fields) = dev::fill_consent_form(&page.body, "dev-user", Decision::Allow).unwrap();
    let action = Url::parse(&running.url("/authorize"))
        .unwrap()
        .join(&action)
        .unwrap();
    let first = Reply::fetch(no_redirects_client_post(&action, &fields)).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.describe());
    let again = Reply::fetch(no_redirects_client_post(&action, &fields)).await;
    assert_error_page(&again, "answered already");
}

fn no_redirects_client_post(action: &Url, fields: &[(String, String)]) -> reqwest::RequestBuilder {
    no_redirects().post(action.clone()).form(fields)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_registration_of_public_and_confidential_clients() {
    let running = Running::start().await;
    // Public: see `register_public`'s checks.
    running.register_public("Inspector").await;

    let reply = Reply::fetch(http().post(running.url("/register")).json(&json!({
        "client_name": "Batch job",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_post",
    })))
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.describe());
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    let body = reply.json();
    let id = body["client_id"].as_str().unwrap();
    let secret = body["client_secret"]
        .as_str()
        .expect("a secret for a confidential client");
    assert_eq!(body["client_secret_expires_at"], 0);
    let token = running
        .token(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ],
        )
        .await;
    let claims = running.verified(&token, AUDIENCE).await;
    assert_eq!(claims["sub"], id);

    for (metadata, error) in [
        (
            json!({"redirect_uris": ["http://evil.example.com/cb"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
    ] {
        let reply = Reply::fetch(http().post(running.url("/register")).json(&metadata)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, error);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_metadata_document_names_the_client() {
    use axum::{Json, Router, routing::get};

    let running = Running::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client_id = format!("{base}/client.json");
    let impostor = format!("{base}/impostor.json");
    let document = json!({
        "client_id": client_id,
        "client_name": "Metadata app",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
    });
    let lying = json!({
        "client_id": client_id,
        "redirect_uris": [REDIRECT],
    });
    let app = Router::new()
        .route("/client.json", get(move || async move { Json(document) }))
        .route("/impostor.json", get(move || async move { Json(lying) }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let v = verifier("cimd");
    let page = running
        .authorize(&running.authorize_url(&client_id, &v, &[]))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert!(page.body.contains("Metadata app"), "{}", page.body);

    let code = running.code(&client_id, &v, "dev-user", &[]).await;
    let token = running.exchange(&client_id, &code, REDIRECT, &v).await;
    let claims = running.verified(&token, AUDIENCE).await;
    assert_eq!(claims["sub"], "dev-user");
    assert_eq!(claims["client_id"], client_id.as_str());

    // A document that names another URL is not that client.
    let refused = running
        .authorize(&running.authorize_url(&impostor, &v, &[]))
        .await;
    assert_error_page(&refused, "names another client_id");
    let missing = running
        .authorize(&running.authorize_url(&format!("{base}/missing.json"), &v, &[]))
        .await;
    assert_error_page(&missing, "404");
    server.abort();
}

/// `mcp-builder auth dev ARGS`, to the end (bounded): (exit code, stdout,
/// stderr).
fn auth_dev(args: &[&str]) -> (Option<i32>, String, String) {
    let output = assert_cmd::Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["auth", "dev"])
        .args(args)
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn refusals_say_why_and_what_to_run() {
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let project = dev_project(dir.path(), &format!("http://127.0.0.1:{port}"));
    let path = project.to_str().unwrap();

    let other_port = (port % 60000 + 1).to_string();
    let (code, _, stderr) = auth_dev(&["--path", path, "--port", &other_port]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--port {other_port} differs")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "help: to move the issuer, set `MCP_DEV_ISSUER=http://127.0.0.1:{other_port}` in `{path}/.env`"
        )),
        "{stderr}"
    );

    // The port is taken (the help is followed in the SIGINT test).
    let taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (code, _, stderr) = auth_dev(&["--path", path]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("port {port} on 127.0.0.1 is taken")),
        "{stderr}"
    );
    drop(taken);

    // An issuer elsewhere than this machine.
    let env = project.join(".env");
    let text = std::fs::read_to_string(&env).unwrap();
    let elsewhere = text.replace(
        &format!("http://127.0.0.1:{port}"),
        "http://192.168.10.20:9417",
    );
    assert_ne!(text, elsewhere, "the .env names the issuer:\n{text}");
    std::fs::write(&env, elsewhere).unwrap();
    let (code, _, stderr) = auth_dev(&["--path", path]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`http://192.168.10.20:9417`"), "{stderr}");
    assert!(
        stderr.contains("is not http://127.0.0.1:PORT or http://localhost:PORT"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: set `MCP_DEV_ISSUER=http://127.0.0.1:9417` in"),
        "{stderr}"
    );

    // A project that trusts a real provider.
    let auth0 = dir.path().join("auth0");
    copy_project(Path::new(EXAMPLE), &auth0);
    let (ok, add_auth) = run_add_auth(&auth0, EXAMPLE_FLAGS);
    assert!(ok, "{add_auth}");
    let (code, _, stderr) = auth_dev(&["--path", auth0.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("trusts Auth0, not the development issuer"),
        "{stderr}"
    );
    assert!(stderr.contains("--provider dev"), "{stderr}");
    assert!(
        !auth0.join(".mcp-builder").exists(),
        "no key made for a project that refuses it"
    );
}

/// The real binary as a plain child process, killed on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[test]
fn sigint_stops_it_cleanly_and_the_key_is_kept() {
    let dir = TempDir::new().unwrap();
    let mut url = format!("http://127.0.0.1:{}", free_port());
    let project = dev_project(dir.path(), &url);
    let mut banners = Vec::new();
    let mut keys = Vec::new();
    for run in 0..2 {
        if run == 1 {
            // Moving the issuer as `--port`'s refusal says.
            let port = free_port().to_string();
            let path = project.to_str().unwrap();
            let (code, _, stderr) = auth_dev(&["--path", path, "--port", &port]);
            assert_eq!(code, Some(2), "{stderr}");
            let moved = format!("http://127.0.0.1:{port}");
            let line = format!("MCP_DEV_ISSUER={moved}");
            assert!(stderr.contains(&format!("set `{line}` in")), "{stderr}");
            let env = project.join(".env");
            let text = std::fs::read_to_string(&env).unwrap();
            let edited = text.replace(&format!("MCP_DEV_ISSUER={url}"), &line);
            assert_ne!(text, edited, "{text}");
            std::fs::write(&env, edited).unwrap();
            url = moved;
        }
        let stdout_path = dir.path().join(format!("stdout-{run}"));
        let mut child = Child(
            Command::new(env!("CARGO_BIN_EXE_mcp-builder"))
                .args(["auth", "dev", "--path"])
                .arg(&project)
                .args(["--port", url.rsplit(':').next().unwrap()])
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&stdout_path).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let jwks = loop {
            assert!(
                child.0.try_wait().unwrap().is_none(),
                "auth dev exited early"
            );
            if let Ok(reply) = http.get(format!("{url}/jwks")).send()
                && reply.status() == StatusCode::OK
            {
                break reply.text().unwrap();
            }
            assert!(Instant::now() < deadline, "auth dev did not answer in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        };
        keys.push(jwks);
        let status = Command::new("kill")
            .args(["-INT", &child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let exit = loop {
            if let Some(exit) = child.0.try_wait().unwrap() {
                break exit;
            }
            assert!(
                Instant::now() < deadline,
                "auth dev still runs 10 s after SIGINT"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(exit.code(), Some(0), "{exit:?}");
        banners.push(std::fs::read_to_string(&stdout_path).unwrap());
    }
    let (id, secret) = dev::store_client(&project);
    let path = project.display().to_string();
    for expected in [
        format!("  issuer:         {url}"),
        format!("  client id:      {id}"),
        format!("  client secret:  {secret}"),
        format!("  scopes:         {}", SCOPES.join(" ")),
        format!("  resource:       {AUDIENCE}"),
        format!("  mcp-builder auth token --path {path}"),
        format!("  mcp-builder auth test --path {path} --server {AUDIENCE}"),
        "Ctrl-C stops it.".to_string(),
    ] {
        assert!(
            banners[1].lines().any(|line| line.starts_with(&expected)),
            "`{expected}` missing:\n{}",
            banners[1]
        );
    }
    // The first start made the key (add-auth had not); the second reused it.
    assert!(
        banners[0].contains("Made a new signing key"),
        "{}",
        banners[0]
    );
    assert!(
        !banners[1].contains("Made a new signing key"),
        "{}",
        banners[1]
    );
    assert_eq!(keys[0], keys[1], "the same key across restarts");
    let ignore = std::fs::read_to_string(project.join(".mcp-builder/dev/.gitignore")).unwrap();
    assert!(ignore.lines().any(|line| line == "*"), "{ignore}");
}
