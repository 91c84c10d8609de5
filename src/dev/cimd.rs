//! Client ID Metadata Documents: a client whose `client_id` is an https URL
//! (http on loopback, for local tools and tests) is described by the JSON
//! document at that URL. Fetched once per run, without redirects, within a
//! time and size limit.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use reqwest::{StatusCode, Url, redirect::Policy};
use serde_json::Value;

use super::clients::{self, AuthMethod, Client, GrantType, lock};

/// How long fetching a document may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document accepted, in bytes.
pub const MAX_BYTES: usize = 16 * 1024;

/// Whether `client_id` names a metadata document (rather than a client
/// registered here).
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// The URL of a metadata document client id, if it is one this issuer
/// fetches: https (http only on loopback), a path, no fragment, no user
/// name or password, no `.` or `..` segments.
pub fn check_url(client_id: &str) -> Result<Url, String> {
    let url =
        Url::parse(client_id).map_err(|_| format!("client_id `{client_id}` is not a valid URL"))?;
    let scheme_ok =
        url.scheme() == "https" || (url.scheme() == "http" && clients::is_loopback(&url));
    if !scheme_ok {
        return Err(format!(
            "client_id `{client_id}`: a client ID metadata document URL must be https (http only on 127.0.0.1, [::1] or localhost)"
        ));
    }
    // `Url` resolves dot segments, so a URL that had some is not the same
    // string any more.
    let has_dot_segments = client_id
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .split('/')
        .skip(3)
        .any(|segment| segment == "." || segment == "..");
    if url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.path() == "/"
        || has_dot_segments
    {
        return Err(format!(
            "client_id `{client_id}`: a client ID metadata document URL needs a path and no fragment, user name, password or dot segments"
        ));
    }
    Ok(url)
}

/// The client a metadata document describes, checked against the URL it
/// came from.
pub fn parse_document(client_id: &str, body: &[u8]) -> Result<Client, String> {
    let document: Value = serde_json::from_slice(body)
        .map_err(|_| format!("the client metadata document at `{client_id}` is not JSON"))?;
    let Some(document) = document.as_object() else {
        return Err(format!(
            "the client metadata document at `{client_id}` is not a JSON object"
        ));
    };
    match document.get("client_id").and_then(Value::as_str) {
        Some(id) if id == client_id => {}
        Some(id) => {
            return Err(format!(
                "the client metadata document at `{client_id}` names another client_id, `{id}`"
            ));
        }
        None => {
            return Err(format!(
                "the client metadata document at `{client_id}` has no client_id"
            ));
        }
    }
    if document.contains_key("client_secret") {
        return Err(format!(
            "the client metadata document at `{client_id}` holds a client_secret, which a public document must not"
        ));
    }
    match document
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        None | Some("none") => {}
        Some(method) => {
            return Err(format!(
                "the client metadata document at `{client_id}` asks for token_endpoint_auth_method `{method}`; auth dev accepts only `none` for such clients"
            ));
        }
    }
    let redirect_uris: Vec<String> = document
        .get("redirect_uris")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if redirect_uris.is_empty() {
        return Err(format!(
            "the client metadata document at `{client_id}` lists no redirect_uris"
        ));
    }
    for uri in &redirect_uris {
        clients::check_redirect_uri(uri)
            .map_err(|why| format!("the client metadata document at `{client_id}`: {why}"))?;
    }
    Ok(Client {
        id: client_id.to_string(),
        name: document
            .get("client_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        redirect_uris,
        secret: None,
        auth_method: AuthMethod::None,
        grant_types: vec![GrantType::AuthorizationCode],
    })
}

/// The documents fetched this run.
pub struct Documents {
    /// For documents elsewhere (honours the proxy settings).
    http: reqwest::Client,
    /// For documents on this machine (never through a proxy).
    loopback: reqwest::Client,
    cache: Mutex<HashMap<String, Client>>,
}

impl Documents {
    pub fn new() -> anyhow::Result<Self> {
        let builder = || {
            reqwest::Client::builder()
                .redirect(Policy::none())
                .timeout(TIMEOUT)
                .user_agent(concat!("mcp-builder-auth-dev/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Self {
            http: builder().build()?,
            loopback: builder().no_proxy().build()?,
            cache: Mutex::default(),
        })
    }

    /// The client the document at `client_id` describes.
    pub async fn client(&self, client_id: &str) -> Result<Client, String> {
        if let Some(client) = lock(&self.cache).get(client_id) {
            return Ok(client.clone());
        }
        let url = check_url(client_id)?;
        let body = self.fetch(url).await.map_err(|why| {
            format!("cannot fetch the client metadata document `{client_id}`: {why}")
        })?;
        let client = parse_document(client_id, &body)?;
        lock(&self.cache).insert(client_id.to_string(), client.clone());
        Ok(client)
    }

    async fn fetch(&self, url: Url) -> Result<Vec<u8>, String> {
        let http = if clients::is_loopback(&url) {
            &self.loopback
        } else {
            &self.http
        };
        let mut response = http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| describe(&err))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(format!(
                "it answered {status}, a redirect, which is not followed"
            ));
        }
        if status != StatusCode::OK {
            return Err(format!("it answered {status}"));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_BYTES as u64)
        {
            return Err(format!("it is larger than {MAX_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| describe(&err))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BYTES {
                return Err(format!("it is larger than {MAX_BYTES} bytes"));
            }
        }
        Ok(body)
    }
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else {
        "the request failed".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "https://app.example.com/oauth/client.json";

    #[test]
    fn document_urls_are_https_with_a_path_or_loopback_http() {
        assert!(check_url(ID).is_ok());
        assert!(check_url("http://127.0.0.1:4000/client.json").is_ok());
        for bad in [
            "http://app.example.com/client.json",
            "https://app.example.com/",
            "https://app.example.com/a/../client.json",
            "https://user:pw@app.example.com/client.json",
            "https://app.example.com/client.json#x",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_document_must_name_its_own_url_and_list_redirect_uris() {
        let good = format!(
            r#"{{"client_id":"{ID}","client_name":"App","redirect_uris":["http://127.0.0.1/cb"]}}"#
        );
        let client = parse_document(ID, good.as_bytes()).unwrap();
        assert_eq!(client.name.as_deref(), Some("App"));
        assert_eq!(client.auth_method, AuthMethod::None);
        assert!(client.secret.is_none());

        let other = good.replace(ID, "https://evil.example.com/client.json");
        let err = parse_document(ID, other.as_bytes()).unwrap_err();
        assert!(err.contains("another client_id"), "{err}");
        let none = format!(r#"{{"client_id":"{ID}","redirect_uris":[]}}"#);
        assert!(
            parse_document(ID, none.as_bytes())
                .unwrap_err()
                .contains("no redirect_uris")
        );
        let secret = format!(
            r#"{{"client_id":"{ID}","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"client_secret_basic"}}"#
        );
        assert!(parse_document(ID, secret.as_bytes()).is_err());
        assert!(
            parse_document(ID, b"<html>")
                .unwrap_err()
                .contains("not JSON")
        );
    }
}
