//! The authorization endpoint: it checks the client and its redirect URI
//! (problems there are shown, never redirected), then the rest of the
//! request (problems there go back to the client), shows the consent page,
//! and on Allow sends the client a single-use code bound to the PKCE
//! challenge; the token endpoint takes the code back with [`Flows::take_code`].

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    Form,
    extract::{Query, State, rejection::FormRejection, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use reqwest::Url;

use super::{
    clients::{GrantType, lock},
    error::{no_store, with_outcome},
    pages,
    params::Params,
    pkce,
    server::Shared,
    store::random_token,
};

/// How long a consent page stays valid.
pub const REQUEST_LIFETIME: Duration = Duration::from_secs(600);
/// How long a code may wait for its exchange.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// How many consent pages or codes are held at most.
const MAX_HELD: usize = 1000;

/// An authorization request that passed every check, waiting for the
/// person's answer on the consent page.
#[derive(Clone, Debug)]
struct Pending {
    client_id: String,
    redirect_uri: String,
    /// Whether the request named the redirect URI (then the exchange must
    /// name the same one).
    redirect_uri_given: bool,
    state: Option<String>,
    scopes: Vec<String>,
    audience: String,
    code_challenge: String,
    expires: Instant,
}

/// An authorization code, waiting for its exchange.
#[derive(Clone, Debug)]
pub struct IssuedCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub scopes: Vec<String>,
    pub audience: String,
    pub subject: String,
    pub code_challenge: String,
    pub expires: Instant,
}

/// The consent pages shown and the codes issued, in memory.
#[derive(Default)]
pub struct Flows {
    pending: Mutex<HashMap<String, Pending>>,
    codes: Mutex<HashMap<String, IssuedCode>>,
}

impl Flows {
    /// Holds a request under a new random id.
    fn hold(&self, pending: Pending) -> Result<String, String> {
        hold(&self.pending, pending, |held| held.expires)
    }

    /// The request `id`, removed: each consent page is answered once.
    fn take_pending(&self, id: &str) -> Option<Pending> {
        lock(&self.pending)
            .remove(id)
            .filter(|pending| pending.expires > Instant::now())
    }

    /// Issues a code for `code`.
    pub fn issue(&self, code: IssuedCode) -> Result<String, String> {
        hold(&self.codes, code, |held| held.expires)
    }

    /// The code `code`, removed whatever happens next: a code is used once.
    pub fn take_code(&self, code: &str) -> Option<IssuedCode> {
        lock(&self.codes).remove(code)
    }
}

/// Keeps `value` under a new random key, after dropping expired entries.
fn hold<T>(
    map: &Mutex<HashMap<String, T>>,
    value: T,
    expires: fn(&T) -> Instant,
) -> Result<String, String> {
    let key = random_token(32).map_err(|err| err.to_string())?;
    let mut map = lock(map);
    let now = Instant::now();
    map.retain(|_, held| expires(held) > now);
    if map.len() >= MAX_HELD {
        return Err(format!(
            "{MAX_HELD} sign-ins are under way already; finish some or wait a few minutes"
        ));
    }
    map.insert(key.clone(), value);
    Ok(key)
}

/// `GET /authorize`: checks the request and shows the consent page.
pub async fn request(
    State(dev): State<Shared>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "the request's query string cannot be read",
        );
    };
    let params = Params(pairs);
    // First the client and where to send it back: until both are known
    // good, nothing is redirected.
    let client_id = match params.one("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => return pages::error(StatusCode::BAD_REQUEST, "the request names no client_id"),
        Err(why) => return pages::error(StatusCode::BAD_REQUEST, &why),
    };
    let client = match dev.clients.find(client_id).await {
        Ok(client) => client,
        Err(why) => return pages::error(StatusCode::BAD_REQUEST, &why),
    };
    let given = match params.one("redirect_uri") {
        Ok(given) => given,
        Err(why) => return pages::error(StatusCode::BAD_REQUEST, &why),
    };
    let redirect_uri = match client.redirect_uri(given) {
        Ok(uri) => uri,
        Err(why) => return pages::error(StatusCode::BAD_REQUEST, &why),
    };
    let back = Back {
        redirect_uri: &redirect_uri,
        state: params.one("state").ok().flatten(),
        issuer: &dev.config.issuer,
    };
    if let Some(name) = params.repeated() {
        return back.error(
            "invalid_request",
            &format!("`{name}` appears more than once"),
        );
    }
    match params.one("response_type").ok().flatten() {
        Some("code") => {}
        Some(other) => {
            return back.error(
                "unsupported_response_type",
                &format!("response_type `{other}` is not supported: use code"),
            );
        }
        None => return back.error("invalid_request", "response_type is missing: use code"),
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return back.error(
            "unauthorized_client",
            "this client is not registered for the authorization code grant",
        );
    }
    let challenge = pkce::check_challenge(
        params.one("code_challenge").ok().flatten(),
        params.one("code_challenge_method").ok().flatten(),
    );
    let code_challenge = match challenge {
        Ok(challenge) => challenge,
        Err(why) => return back.error("invalid_request", &why),
    };
    let scopes = match dev.config.scopes_for(params.one("scope").ok().flatten()) {
        Ok(scopes) => scopes,
        Err(why) => return back.error("invalid_scope", &why),
    };
    let audience = match dev.config.audience_for(&params.all("resource")) {
        Ok(audience) => audience,
        Err(why) => return back.error("invalid_target", &why),
    };
    let pending = Pending {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        redirect_uri_given: given.is_some(),
        state: back.state.map(str::to_string),
        scopes,
        audience,
        code_challenge,
        expires: Instant::now() + REQUEST_LIFETIME,
    };
    let request_id = match dev.flows.hold(pending.clone()) {
        Ok(id) => id,
        Err(why) => return back.error("temporarily_unavailable", &why),
    };
    pages::consent(&pages::Consent {
        request_id: &request_id,
        client_id: &client.id,
        client_name: client.name.as_deref(),
        redirect_uri: &redirect_uri,
        scopes: &pending.scopes,
        resource: &pending.audience,
    })
}

/// `POST /authorize`: the person's answer on the consent page.
pub async fn decide(
    State(dev): State<Shared>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(pairs)) = form else {
        return pages::error(StatusCode::BAD_REQUEST, "the consent form cannot be read");
    };
    let params = Params(pairs);
    let pending = params
        .one("request")
        .ok()
        .flatten()
        .and_then(|id| dev.flows.take_pending(id));
    let Some(pending) = pending else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "this consent page was answered already or is older than ten minutes: start the sign-in again from the application",
        );
    };
    let back = Back {
        redirect_uri: &pending.redirect_uri,
        state: pending.state.as_deref(),
        issuer: &dev.config.issuer,
    };
    match params.one("decision").ok().flatten() {
        Some("allow") => {}
        Some("deny") => return back.error("access_denied", "the person denied the request"),
        _ => return pages::error(StatusCode::BAD_REQUEST, "the consent form has no decision"),
    }
    let subject = match subject(params.one("subject").ok().flatten()) {
        Ok(subject) => subject,
        Err(why) => return pages::error(StatusCode::BAD_REQUEST, &why),
    };
    let code = IssuedCode {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        redirect_uri_given: pending.redirect_uri_given,
        scopes: pending.scopes,
        audience: pending.audience,
        subject,
        code_challenge: pending.code_challenge,
        expires: Instant::now() + CODE_LIFETIME,
    };
    match dev.flows.issue(code) {
        Ok(code) => back.send(&[("code", &code)], "code issued"),
        Err(why) => back.error("temporarily_unavailable", &why),
    }
}

/// The name typed in "Sign in as": the token's `sub`.
fn subject(typed: Option<&str>) -> Result<String, String> {
    let subject = typed.map(str::trim).filter(|s| !s.is_empty());
    let subject = subject.unwrap_or(pages::DEFAULT_SUBJECT);
    if subject.chars().count() > 200 || subject.chars().any(char::is_control) {
        return Err("the name to sign in as must be at most 200 characters, without control characters: go back and change it".into());
    }
    Ok(subject.to_string())
}

/// Where the answer goes: the client's checked redirect URI, with its
/// `state` and this issuer's `iss` (RFC 9207).
struct Back<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: &'a str,
}

impl Back<'_> {
    fn error(&self, error: &str, description: &str) -> Response {
        let outcome = format!("redirect {error}");
        self.send(
            &[("error", error), ("error_description", description)],
            &outcome,
        )
    }

    fn send(&self, pairs: &[(&str, &str)], outcome: &str) -> Response {
        let Some(location) = redirect_location(self.redirect_uri, pairs, self.state, self.issuer)
        else {
            return pages::error(StatusCode::BAD_REQUEST, "the redirect URI cannot be used");
        };
        let mut response = (no_store(), Redirect::to(&location)).into_response();
        response.headers_mut().insert(
            header::REFERRER_POLICY,
            header::HeaderValue::from_static("no-referrer"),
        );
        with_outcome(response, outcome)
    }
}

/// `redirect_uri` with `pairs`, `state` and `iss` added to its query.
fn redirect_location(
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> Option<String> {
    let mut url = Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_the_clients_query_and_add_state_and_iss() {
        let location = redirect_location(
            "http://127.0.0.1:5000/cb?keep=1",
            &[("code", "abc")],
            Some("s t"),
            "http://127.0.0.1:9417",
        )
        .unwrap();
        assert_eq!(
            location,
            "http://127.0.0.1:5000/cb?keep=1&code=abc&state=s+t&iss=http%3A%2F%2F127.0.0.1%3A9417"
        );
    }

    #[test]
    fn codes_are_single_use_and_consent_pages_expire() {
        let flows = Flows::default();
        let code = IssuedCode {
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            redirect_uri_given: true,
            scopes: vec![],
            audience: "a".into(),
            subject: "dev-user".into(),
            code_challenge: "x".into(),
            expires: Instant::now() + CODE_LIFETIME,
        };
        let issued = flows.issue(code).unwrap();
        assert!(flows.take_code(&issued).is_some());
        assert!(flows.take_code(&issued).is_none());

        let pending = Pending {
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            redirect_uri_given: true,
            state: None,
            scopes: vec![],
            audience: "a".into(),
            code_challenge: "x".into(),
            expires: Instant::now(),
        };
        let id = flows.hold(pending).unwrap();
        assert!(flows.take_pending(&id).is_none());
    }

    #[test]
    fn the_subject_defaults_to_dev_user_and_refuses_control_characters() {
        assert_eq!(subject(None).unwrap(), "dev-user");
        assert_eq!(subject(Some("  ")).unwrap(), "dev-user");
        assert_eq!(subject(Some(" alice ")).unwrap(), "alice");
        assert!(subject(Some("a\nb")).is_err());
        assert!(subject(Some(&"x".repeat(201))).is_err());
    }
}
