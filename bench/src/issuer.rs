//! The benchmark's authorization server: a JWKS on 127.0.0.1 that counts
//! how often it is fetched, and the private keys that sign the tokens the
//! load generator sends.
//!
//! The keys are the test fixtures in `tests/fixtures/keys/` (RSA 2048 for
//! RS256, EC P-256 for ES256); the published JWKs are derived from them at
//! start-up, so keys and JWKS cannot drift apart. Nothing here talks to
//! anything but loopback.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result};
use axum::{Json, Router, extract::State, routing::get};
use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{Jwk, JwkSet, PublicKeyUse},
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const RSA_PEM: &[u8] = include_bytes!("../../tests/fixtures/keys/rsa.pem");
const EC_PEM: &[u8] = include_bytes!("../../tests/fixtures/keys/ec.pem");

/// Lifetime of the benchmark's tokens: longer than any run.
const TOKEN_LIFETIME_SECS: u64 = 3600;

/// A signing key of the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Alg::Rs256 => Algorithm::RS256,
            Alg::Es256 => Algorithm::ES256,
        }
    }

    fn kid(self) -> &'static str {
        match self {
            Alg::Rs256 => "bench-rsa-1",
            Alg::Es256 => "bench-ec-1",
        }
    }

    fn encoding_key(self) -> Result<EncodingKey> {
        let key = match self {
            Alg::Rs256 => EncodingKey::from_rsa_pem(RSA_PEM),
            Alg::Es256 => EncodingKey::from_ec_pem(EC_PEM),
        };
        key.with_context(|| format!("loading the {} fixture key", self.name()))
    }

    fn public_jwk(self) -> Result<Jwk> {
        let mut jwk = Jwk::from_encoding_key(&self.encoding_key()?, self.algorithm())
            .with_context(|| format!("deriving the public {} JWK", self.name()))?;
        jwk.common.key_id = Some(self.kid().to_string());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(jwk)
    }
}

/// Selects jsonwebtoken's aws-lc backend for this process (idempotent).
pub fn install_crypto_provider() {
    // Err only means a provider is already installed.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// Signs tokens for one issuer URL and audience.
#[derive(Clone)]
pub struct Signer {
    issuer_url: String,
    audience: String,
    rsa: EncodingKey,
    ec: EncodingKey,
}

impl Signer {
    /// An access token for `sub` with every scope of the example, signed
    /// with `alg`. `jti` makes otherwise identical tokens distinct.
    pub fn token(&self, alg: Alg, sub: &str, jti: &str) -> Result<String> {
        self.token_with_scope(alg, sub, jti, "read:tasks write:tasks delete:tasks")
    }

    /// [`Signer::token`] granting only `scope` (space separated).
    pub fn token_with_scope(&self, alg: Alg, sub: &str, jti: &str, scope: &str) -> Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("clock before 1970")?
            .as_secs();
        let claims = json!({
            "iss": self.issuer_url,
            "aud": self.audience,
            "sub": sub,
            "scope": scope,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECS,
            "azp": "mcp-builder-bench",
            "client_id": "mcp-builder-bench",
            "jti": jti,
        });
        let mut header = Header::new(alg.algorithm());
        header.kid = Some(alg.kid().to_string());
        let key = match alg {
            Alg::Rs256 => &self.rsa,
            Alg::Es256 => &self.ec,
        };
        jsonwebtoken::encode(&header, &claims, key)
            .with_context(|| format!("signing an {} token", alg.name()))
    }

    /// `count` distinct tokens for one subject (`prefix`; one `jti` each),
    /// signed on two threads. One subject, because the generated server
    /// binds each MCP session to the subject that created it.
    pub fn distinct_tokens(&self, alg: Alg, prefix: &str, count: usize) -> Result<Vec<String>> {
        let half = count / 2;
        thread::scope(|scope| {
            let first = scope.spawn(|| -> Result<Vec<String>> { self.range(alg, prefix, 0..half) });
            let second = self.range(alg, prefix, half..count)?;
            let mut tokens = first.join().expect("token signing thread panicked")?;
            tokens.extend(second);
            Ok(tokens)
        })
    }

    fn range(&self, alg: Alg, prefix: &str, ids: std::ops::Range<usize>) -> Result<Vec<String>> {
        ids.map(|id| self.token(alg, prefix, &format!("{prefix}-{id}")))
            .collect()
    }
}

#[derive(Clone)]
struct AppState {
    jwks: Arc<JwkSet>,
    issuer_url: Arc<str>,
    jwks_url: Arc<str>,
    jwks_fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
}

/// A running issuer on `127.0.0.1:<free port>`. Stops when dropped.
pub struct Issuer {
    addr: SocketAddr,
    jwks_fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Issuer {
    /// Serves `GET /.well-known/jwks.json` (one RS256 and one ES256 key) and
    /// the discovery documents, on its own thread and runtime.
    pub fn start() -> Result<Issuer> {
        install_crypto_provider();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind the issuer")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let jwks = Arc::new(JwkSet {
            keys: vec![Alg::Rs256.public_jwk()?, Alg::Es256.public_jwk()?],
        });
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let discovery_fetches = Arc::new(AtomicUsize::new(0));
        let state = AppState {
            jwks,
            issuer_url: issuer_url_of(addr).into(),
            jwks_url: jwks_url_of(addr).into(),
            jwks_fetches: jwks_fetches.clone(),
            discovery_fetches: discovery_fetches.clone(),
        };
        let app = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .route("/.well-known/openid-configuration", get(serve_discovery))
            .route(
                "/.well-known/oauth-authorization-server",
                get(serve_discovery),
            )
            .with_state(state);
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name(format!("bench-issuer-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("issuer runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("issuer listener");
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(error) = result {
                                eprintln!("bench issuer stopped: {error}");
                            }
                        }
                        _ = stop => {}
                    }
                });
            })
            .context("spawn the issuer thread")?;
        Ok(Issuer {
            addr,
            jwks_fetches,
            discovery_fetches,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT/`, with the trailing slash Auth0 writes.
    pub fn issuer_url(&self) -> String {
        issuer_url_of(self.addr)
    }

    pub fn jwks_url(&self) -> String {
        jwks_url_of(self.addr)
    }

    /// How many times the JWKS was served so far.
    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many times a discovery document was served so far.
    pub fn discovery_fetches(&self) -> usize {
        self.discovery_fetches.load(Ordering::SeqCst)
    }

    /// A signer for this issuer's tokens with audience `audience`.
    pub fn signer(&self, audience: &str) -> Result<Signer> {
        Ok(Signer {
            issuer_url: self.issuer_url(),
            audience: audience.to_string(),
            rsa: Alg::Rs256.encoding_key()?,
            ec: Alg::Es256.encoding_key()?,
        })
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn issuer_url_of(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}

fn jwks_url_of(addr: SocketAddr) -> String {
    format!("http://{addr}/.well-known/jwks.json")
}

async fn serve_jwks(State(state): State<AppState>) -> Json<JwkSet> {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    Json((*state.jwks).clone())
}

async fn serve_discovery(State(state): State<AppState>) -> Json<Value> {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "issuer": &*state.issuer_url,
        "jwks_uri": &*state.jwks_url,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "grant_types_supported": ["client_credentials"],
    }))
}
