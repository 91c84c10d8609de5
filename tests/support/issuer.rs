//! A test authorization server: it serves a JWKS on 127.0.0.1 and signs
//! access tokens with the matching private keys.
//!
//! The keys are PEM fixtures in `tests/fixtures/keys/` (see the README
//! there). The public JWK members (`n`, `e` / `x`, `y`) are computed from
//! those private keys at start-up with `Jwk::from_encoding_key`, so the JWKS
//! and the signing keys cannot drift apart.
//!
//! The server runs on its own thread with its own Tokio runtime, so an
//! [`Issuer`] can be used from sync tests and from async tests alike.
//!
//! For the fault tests the JWKS endpoint can be switched while it runs:
//! another key set ([`Issuer::publish_keys`], e.g. a rotation to
//! [`TestKey::Rsa2`]) and fault modes ([`JwksMode`]: an error status, a slow
//! answer, HTML or garbage), with counters of fetches and of fetches in
//! flight at once.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{Jwk, JwkSet, PublicKeyUse},
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Key id of the RSA key in the JWKS (RS256).
pub const RSA_KID: &str = "rsa-1";
/// Key id of the EC P-256 key in the JWKS (ES256).
pub const EC_KID: &str = "ec-1";
/// The `azp` / `client_id` of tokens made by [`Issuer::claims_for`].
pub const CLIENT_ID: &str = "e2e-test-client";
/// Lifetime of tokens made by [`Issuer::claims_for`], in seconds.
pub const TOKEN_LIFETIME_SECS: u64 = 300;

const RSA_PEM: &[u8] = include_bytes!("../fixtures/keys/rsa.pem");
const EC_PEM: &[u8] = include_bytes!("../fixtures/keys/ec.pem");
const ATTACKER_RSA_PEM: &[u8] = include_bytes!("../fixtures/keys/attacker-rsa.pem");
const RSA_2_PEM: &[u8] = include_bytes!("../fixtures/keys/rsa-2.pem");
/// The public half of the issuer's RSA key (`rsa-1`) as SPKI PEM: the
/// "secret" of HS256 key-confusion tokens.
pub const RSA_PUBLIC_PEM: &[u8] = include_bytes!("../fixtures/keys/rsa-public.pem");
/// Key id under which [`TestKey::Rsa2`] is published after a rotation.
pub const RSA_2_KID: &str = "rsa-2";

/// Which private key signs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKey {
    /// The issuer's RSA key, published in the JWKS as `rsa-1`.
    Rsa,
    /// The issuer's EC P-256 key, published in the JWKS as `ec-1`.
    Ec,
    /// An RSA key that is NOT in the JWKS: a forger's key.
    AttackerRsa,
    /// The issuer's next RSA key: in the JWKS only once a test publishes it
    /// (see [`Issuer::publish_keys`]).
    Rsa2,
}

impl TestKey {
    /// The algorithm this key signs with.
    pub fn algorithm(self) -> Algorithm {
        match self {
            TestKey::Rsa | TestKey::AttackerRsa | TestKey::Rsa2 => Algorithm::RS256,
            TestKey::Ec => Algorithm::ES256,
        }
    }

    /// The private key.
    pub fn encoding_key(self) -> EncodingKey {
        let loaded = match self {
            TestKey::Rsa => EncodingKey::from_rsa_pem(RSA_PEM),
            TestKey::Ec => EncodingKey::from_ec_pem(EC_PEM),
            TestKey::AttackerRsa => EncodingKey::from_rsa_pem(ATTACKER_RSA_PEM),
            TestKey::Rsa2 => EncodingKey::from_rsa_pem(RSA_2_PEM),
        };
        loaded.unwrap_or_else(|error| panic!("fixture key {self:?} does not load: {error}"))
    }

    /// The public half as a JWK with the given `kid`, `use: sig` and `alg`.
    pub fn public_jwk(self, kid: &str) -> Jwk {
        install_crypto_provider();
        let mut jwk = Jwk::from_encoding_key(&self.encoding_key(), self.algorithm())
            .unwrap_or_else(|error| panic!("cannot derive the public JWK of {self:?}: {error}"));
        jwk.common.key_id = Some(kid.to_string());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk
    }
}

/// Selects jsonwebtoken's aws-lc backend for this process (idempotent).
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_secs()
}

#[derive(Clone)]
struct AppState {
    issuer_url: Arc<str>,
    jwks_url: Arc<str>,
    jwks_fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
    control: Arc<JwksControl>,
}

/// Where Supabase publishes keys below its project URL: the issuer is
/// `{origin}/auth/v1`.
pub const SUPABASE_JWKS_PATH: &str = "/auth/v1/.well-known/jwks.json";
/// An Okta custom authorization server's keys: the issuer is
/// `{origin}/oauth2/default`.
pub const OKTA_JWKS_PATH: &str = "/oauth2/default/v1/keys";
/// A Cognito user pool's keys: the issuer is `{origin}/us-east-1_e2epool`.
pub const COGNITO_JWKS_PATH: &str = "/us-east-1_e2epool/.well-known/jwks.json";

/// A Keycloak realm's keys: the issuer is `{origin}/realms/e2e`.
pub const KEYCLOAK_JWKS_PATH: &str = "/realms/e2e/protocol/openid-connect/certs";

/// A running test issuer. Stops when dropped.
pub struct Issuer {
    addr: SocketAddr,
    jwks: Arc<JwkSet>,
    jwks_fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
    control: Arc<JwksControl>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Issuer {
    /// Starts an issuer on `127.0.0.1:<free port>` in a background thread.
    ///
    /// It serves `GET /.well-known/jwks.json` (keys `rsa-1` RS256 and `ec-1`
    /// ES256) and, for servers that discover the JWKS,
    /// `GET /.well-known/openid-configuration`.
    pub fn start() -> Issuer {
        install_crypto_provider();
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the test issuer's port");
        listener
            .set_nonblocking(true)
            .expect("make the issuer's listener non-blocking");
        let addr = listener.local_addr().expect("issuer address");

        let jwks = Arc::new(JwkSet {
            keys: vec![
                TestKey::Rsa.public_jwk(RSA_KID),
                TestKey::Ec.public_jwk(EC_KID),
            ],
        });
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let discovery_fetches = Arc::new(AtomicUsize::new(0));
        let control = Arc::new(JwksControl {
            published: Mutex::new((*jwks).clone()),
            mode: Mutex::new(JwksMode::Normal),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let state = AppState {
            issuer_url: issuer_url_of(addr).into(),
            jwks_url: jwks_url_of(addr).into(),
            jwks_fetches: jwks_fetches.clone(),
            discovery_fetches: discovery_fetches.clone(),
            control: control.clone(),
        };
        let app = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .route("/.well-known/openid-configuration", get(serve_discovery))
            .route(
                "/.well-known/oauth-authorization-server",
                get(serve_discovery),
            )
            // The same key set where other providers publish theirs, for
            // issuers below this one (see `PROVIDER_PATHS`).
            .route(SUPABASE_JWKS_PATH, get(serve_jwks))
            .route(OKTA_JWKS_PATH, get(serve_jwks))
            .route(COGNITO_JWKS_PATH, get(serve_jwks))
            .route(KEYCLOAK_JWKS_PATH, get(serve_jwks))
            .with_state(state);

        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name(format!("test-issuer-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("issuer runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("issuer listener into tokio");
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(error) = result {
                                eprintln!("test issuer stopped: {error}");
                            }
                        }
                        _ = stop => {}
                    }
                });
            })
            .expect("spawn the issuer thread");

        Issuer {
            addr,
            jwks,
            jwks_fetches,
            discovery_fetches,
            control,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The issuer identifier, `http://127.0.0.1:PORT/`: with a trailing
    /// slash, as Auth0 writes it. Tokens carry exactly this `iss`.
    pub fn issuer_url(&self) -> String {
        issuer_url_of(self.addr)
    }

    /// The environment of a generated Auth0 server that trusts this issuer:
    /// listening on `addr` (the fixtures read `ADDR`), for `domain` and
    /// `audience`, publishing `resource`.
    pub fn auth0_server_env(
        &self,
        addr: &str,
        domain: &str,
        audience: &str,
        resource: &str,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("ADDR", addr.to_string()),
            ("AUTH0_DOMAIN", domain.to_string()),
            ("AUTH0_AUDIENCE", audience.to_string()),
            ("MCP_RESOURCE_URL", resource.to_string()),
            ("MCP_AUTH_ISSUER", self.issuer_url()),
            ("MCP_AUTH_JWKS_URL", self.jwks_url()),
        ]
    }

    /// `http://127.0.0.1:PORT`: the issuer URL without its trailing slash,
    /// the base of the provider-shaped issuers.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/.well-known/jwks.json`.
    pub fn jwks_url(&self) -> String {
        jwks_url_of(self.addr)
    }

    /// The published key set (public keys only).
    pub fn jwks(&self) -> JwkSet {
        (*self.jwks).clone()
    }

    /// How many times `GET /.well-known/jwks.json` was served.
    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many times a discovery document was served.
    pub fn discovery_fetches(&self) -> usize {
        self.discovery_fetches.load(Ordering::SeqCst)
    }

    /// An RS256 token signed with the issuer's RSA key, header kid `rsa-1`.
    pub fn token(&self, claims: &Value) -> String {
        self.token_with(TestKey::Rsa, Some(RSA_KID), claims)
    }

    /// An ES256 token signed with the issuer's EC key, header kid `ec-1`.
    pub fn es256_token(&self, claims: &Value) -> String {
        self.token_with(TestKey::Ec, Some(EC_KID), claims)
    }

    /// A token signed by `key` (with its algorithm), with header `kid`.
    pub fn token_with(&self, key: TestKey, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(key.algorithm());
        header.kid = kid.map(str::to_string);
        self.token_with_header(key, &header, claims)
    }

    /// A token with a hand-made header (its `alg` must suit `key`).
    pub fn token_with_header(&self, key: TestKey, header: &Header, claims: &Value) -> String {
        install_crypto_provider();
        jsonwebtoken::encode(header, claims, &key.encoding_key())
            .unwrap_or_else(|error| panic!("signing a test token with {key:?}: {error}"))
    }

    /// Standard access-token claims as this issuer writes them: `iss`, `aud`,
    /// `sub`, `scope` (space separated), `iat`, `exp` = now + 300 s,
    /// `azp` and `client_id`.
    pub fn claims_for(&self, sub: &str, scopes: &str, aud: impl Into<Value>) -> Value {
        let now = now();
        json!({
            "iss": self.issuer_url(),
            "aud": aud.into(),
            "sub": sub,
            "scope": scopes,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECS,
            "azp": CLIENT_ID,
            "client_id": CLIENT_ID,
        })
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // The serve future is dropped at once (no graceful wait), so this
            // returns promptly.
            let _ = thread.join();
        }
    }
}

/// An `alg: none` token: base64url header and payload, empty signature.
pub fn unsigned_token(claims: &Value) -> String {
    let header = json!({ "alg": "none", "typ": "JWT" });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn issuer_url_of(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}

fn jwks_url_of(addr: SocketAddr) -> String {
    format!("http://{addr}/.well-known/jwks.json")
}

async fn serve_jwks(State(state): State<AppState>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let control = &state.control;
    let _in_flight = InFlight::enter(control);
    let mode = control.mode.lock().unwrap().clone();
    match mode {
        JwksMode::Normal => Json(control.published.lock().unwrap().clone()).into_response(),
        JwksMode::Status(status) => (status, "the key service is down").into_response(),
        JwksMode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Json(control.published.lock().unwrap().clone()).into_response()
        }
        JwksMode::Body { content_type, body } => {
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
    }
}

/// What `GET /.well-known/jwks.json` answers: the fault injection of the
/// attack and fault tests.
#[derive(Debug, Clone)]
pub enum JwksMode {
    /// The published key set (see [`Issuer::publish_keys`]).
    Normal,
    /// This status and a text body: the key service is down.
    Status(StatusCode),
    /// The published key set, after this delay.
    Slow(Duration),
    /// 200 with this content type and body: HTML, garbage, odd key sets.
    Body {
        content_type: &'static str,
        body: Vec<u8>,
    },
}

/// The switchable part of the JWKS endpoint.
struct JwksControl {
    published: Mutex<JwkSet>,
    mode: Mutex<JwksMode>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Counts a JWKS request in flight for as long as its handler runs (also
/// when the client gives up and the handler is dropped).
struct InFlight<'a>(&'a JwksControl);

impl<'a> InFlight<'a> {
    fn enter(control: &'a JwksControl) -> InFlight<'a> {
        let now = control.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        control.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(control)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Issuer {
    /// Switches what the JWKS endpoint answers from now on.
    pub fn set_jwks_mode(&self, mode: JwksMode) {
        *self.control.mode.lock().unwrap() = mode;
    }

    /// Publishes exactly these keys (each under its `kid`) from now on.
    pub fn publish_keys(&self, keys: &[(TestKey, &str)]) {
        let set = JwkSet {
            keys: keys.iter().map(|(key, kid)| key.public_jwk(kid)).collect(),
        };
        *self.control.published.lock().unwrap() = set;
    }

    /// The most JWKS requests that were ever being answered at once.
    pub fn max_concurrent_jwks_fetches(&self) -> usize {
        self.control.max_in_flight.load(Ordering::SeqCst)
    }

    /// JWKS requests being answered right now.
    pub fn jwks_fetches_in_flight(&self) -> usize {
        self.control.in_flight.load(Ordering::SeqCst)
    }

    /// Resets [`Issuer::max_concurrent_jwks_fetches`] to what is in flight now.
    pub fn reset_max_concurrent_jwks_fetches(&self) {
        let now = self.control.in_flight.load(Ordering::SeqCst);
        self.control.max_in_flight.store(now, Ordering::SeqCst);
    }

    /// An HS256 token MACed with `secret` (key confusion: the secret is a
    /// public key), with header `kid`.
    pub fn hs256_token(&self, secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
        install_crypto_provider();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = kid.map(str::to_string);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret))
            .unwrap_or_else(|error| panic!("MACing an HS256 test token: {error}"))
    }
}

/// A token made of a hand-written header and payload (any JSON), signed by
/// `key` over exactly those bytes: for headers jsonwebtoken cannot express.
pub fn token_with_raw_header(key: TestKey, header: &Value, claims: &Value) -> String {
    install_crypto_provider();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &key.encoding_key(),
        key.algorithm(),
    )
    .unwrap_or_else(|error| panic!("signing a raw test token with {key:?}: {error}"));
    format!("{signing_input}.{signature}")
}

async fn serve_discovery(State(state): State<AppState>) -> Json<Value> {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "issuer": &*state.issuer_url,
        "jwks_uri": &*state.jwks_url,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "grant_types_supported": ["client_credentials"],
    }))
}
