//! A test token introspection endpoint (RFC 7662) on 127.0.0.1.
//!
//! `POST /introspect` takes a form body (`token`, `token_type_hint`) and
//! HTTP Basic client authentication whose id and secret are
//! form-urlencoded (RFC 6749 section 2.3.1); wrong or missing credentials
//! get `401 invalid_client`. A token the test registered with
//! [`IntrospectionEndpoint::answer`] gets that answer, any other token
//! `{"active": false}`. Every request is counted, per token, and what it
//! sent is kept for the test to inspect; so is the largest number of
//! requests it was answering at once ([`IntrospectionEndpoint::max_in_flight`]).
//! [`AnswerMode`] switches the endpoint into faults: an error status (with
//! or without `Retry-After`), a slow answer, a body that is not an
//! introspection answer; [`IntrospectionEndpoint::go_down`] closes its port
//! until [`IntrospectionEndpoint::come_back`].
//!
//! Like the test issuer, it runs on its own thread with its own Tokio
//! runtime, and stops when dropped.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// What `POST /introspect` answers, beyond the registered answers.
#[derive(Debug, Clone)]
pub enum AnswerMode {
    /// The registered answer, or `{"active": false}`.
    Normal,
    /// This status and a JSON error body.
    Status(StatusCode),
    /// This status, a JSON error body and this `Retry-After`.
    RetryAfter(StatusCode, &'static str),
    /// The normal answer, after this delay.
    Slow(Duration),
    /// 200 with this content type and body.
    Body {
        content_type: &'static str,
        body: &'static str,
    },
}

/// One request the endpoint received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub content_type: Option<String>,
    /// The decoded form: `token`, `token_type_hint`, ...
    pub form: Vec<(String, String)>,
    /// Whether the Basic credentials were this endpoint's client's.
    pub authenticated: bool,
}

impl Received {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

struct Shared {
    client_id: String,
    client_secret: String,
    answers: Mutex<HashMap<String, Value>>,
    mode: Mutex<AnswerMode>,
    received: Mutex<Vec<Received>>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running introspection endpoint. Stops when dropped.
pub struct IntrospectionEndpoint {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// Counts a request in flight while it lives.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: &Arc<Shared>) -> InFlight {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl IntrospectionEndpoint {
    /// Starts an endpoint on `127.0.0.1:<free port>` that accepts exactly
    /// these client credentials.
    pub fn start(client_id: &str, client_secret: &str) -> IntrospectionEndpoint {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind the introspection endpoint's port");
        let addr = listener.local_addr().expect("endpoint address");
        let shared = Arc::new(Shared {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            answers: Mutex::default(),
            mode: Mutex::new(AnswerMode::Normal),
            received: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let mut endpoint = IntrospectionEndpoint {
            addr,
            shared,
            shutdown: None,
            thread: None,
        };
        endpoint.serve(listener);
        endpoint
    }

    /// Serves on `listener` from its own thread and runtime.
    fn serve(&mut self, listener: std::net::TcpListener) {
        listener
            .set_nonblocking(true)
            .expect("make the endpoint's listener non-blocking");
        let addr = self.addr;
        let app = Router::new()
            .route("/introspect", post(introspect))
            .with_state(self.shared.clone());
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name(format!("test-introspection-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("endpoint runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("endpoint listener into tokio");
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(error) = result {
                                eprintln!("test introspection endpoint stopped: {error}");
                            }
                        }
                        _ = stop => {}
                    }
                });
            })
            .expect("spawn the endpoint thread");
        self.shutdown = Some(shutdown);
        self.thread = Some(thread);
    }

    /// Stops answering: the port is closed (connections to it are refused)
    /// and open connections are dropped, until [`Self::come_back`].
    pub fn go_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Answers again, on the same port.
    pub fn come_back(&mut self) {
        let listener = std::net::TcpListener::bind(self.addr)
            .expect("bind the introspection endpoint's port again");
        self.serve(listener);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/introspect`.
    pub fn url(&self) -> String {
        format!("http://{}/introspect", self.addr)
    }

    /// From now on, `token` is answered with `answer`.
    pub fn answer(&self, token: &str, answer: Value) {
        self.shared
            .answers
            .lock()
            .unwrap()
            .insert(token.to_string(), answer);
    }

    pub fn set_mode(&self, mode: AnswerMode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// How many requests it received, about any token.
    pub fn calls(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    /// The most requests it was answering at once since the last
    /// [`Self::reset_max_in_flight`].
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn reset_max_in_flight(&self) {
        self.shared.max_in_flight.store(0, Ordering::SeqCst);
    }

    /// How many requests asked about `token`.
    pub fn calls_for(&self, token: &str) -> usize {
        self.received()
            .iter()
            .filter(|received| received.field("token") == Some(token))
            .count()
    }
}

impl Drop for IntrospectionEndpoint {
    fn drop(&mut self) {
        self.go_down();
    }
}

async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = InFlight::new(&shared);
    let form = form_decoded(&String::from_utf8_lossy(&body));
    let authenticated = basic_credentials(&headers)
        .is_some_and(|(id, secret)| id == shared.client_id && secret == shared.client_secret);
    let received = Received {
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string),
        form,
        authenticated,
    };
    let token = received.field("token").unwrap_or_default().to_string();
    shared.received.lock().unwrap().push(received);
    if !authenticated {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"introspection\"")],
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    let answer = shared
        .answers
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or_else(|| json!({ "active": false }));
    let mode = shared.mode.lock().unwrap().clone();
    match mode {
        AnswerMode::Normal => Json(answer).into_response(),
        AnswerMode::Status(status) => {
            (status, Json(json!({ "error": "server_error" }))).into_response()
        }
        AnswerMode::RetryAfter(status, retry_after) => (
            status,
            [(header::RETRY_AFTER, retry_after)],
            Json(json!({ "error": "temporarily_unavailable" })),
        )
            .into_response(),
        AnswerMode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Json(answer).into_response()
        }
        AnswerMode::Body { content_type, body } => {
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
    }
}

/// The id and secret of `Authorization: Basic ...`, each form-urldecoded.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let one = |text: &str| form_decoded(&format!("v={text}")).pop().map(|(_, v)| v);
    Some((one(id)?, one(secret)?))
}

/// `application/x-www-form-urlencoded` pairs, decoded by the `url` crate
/// (through reqwest's `Url`).
fn form_decoded(text: &str) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://form.invalid/?{text}")).expect("a URL");
    url.query_pairs()
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}
