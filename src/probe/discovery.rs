//! The issuer's metadata document, found the way the generated server's
//! `discovery.rs` finds it: `{issuer}/.well-known/openid-configuration`
//! (OpenID Connect Discovery 1.0), else the RFC 8414 document at
//! `{origin}/.well-known/oauth-authorization-server{path}` (section 3.1: the
//! well-known segment goes before the issuer's path). A document counts only
//! if its `issuer` equals the configured issuer exactly; redirects are not
//! followed and a document over [`MAX_METADATA_BYTES`] is refused.

use std::io::Read;

use reqwest::Url;
use serde_json::Value;

use super::http::{self, Client};

/// The largest metadata document read (as in the generated server).
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

/// One issuer's metadata document and where it was found.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub url: String,
    pub document: Value,
}

impl Metadata {
    /// A string member of the document, e.g. `token_endpoint`.
    pub fn text(&self, member: &str) -> Option<&str> {
        self.document.get(member).and_then(Value::as_str)
    }

    /// `token_endpoint_auth_methods_supported`, when the document has it.
    pub fn token_auth_methods(&self) -> Option<Vec<&str>> {
        self.document
            .get("token_endpoint_auth_methods_supported")
            .and_then(Value::as_array)
            .map(|methods| methods.iter().filter_map(Value::as_str).collect())
    }
}

/// The metadata documents of `issuer`, in the order they are tried.
pub fn metadata_urls(issuer: &str) -> Result<Vec<String>, String> {
    let url = Url::parse(issuer).map_err(|err| format!("`{issuer}` is not a URL: {err}"))?;
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    Ok(vec![
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
    ])
}

/// The first metadata document of `issuer` that names it as its issuer;
/// otherwise what went wrong at each URL tried.
pub fn discover(client: &Client, issuer: &str) -> Result<Metadata, String> {
    let mut errors = Vec::new();
    for url in metadata_urls(issuer)? {
        match fetch(client, &url, issuer) {
            Ok(document) => return Ok(Metadata { url, document }),
            Err(err) => errors.push(format!("{url}: {err}")),
        }
    }
    Err(errors.join("; "))
}

fn fetch(client: &Client, url: &str, issuer: &str) -> Result<Value, String> {
    let url = http::url("metadata URL", url).map_err(|err| format!("{err:#}"))?;
    let response = client
        .send(
            client
                .get(url)
                .header(reqwest::header::ACCEPT, "application/json"),
        )
        .map_err(|err| err.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let mut body = Vec::new();
    response
        .take(MAX_METADATA_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|err| err.to_string())?;
    if body.len() > MAX_METADATA_BYTES {
        return Err(format!(
            "the document is larger than {MAX_METADATA_BYTES} bytes"
        ));
    }
    let document: Value = serde_json::from_slice(&body)
        .map_err(|err| format!("not a JSON metadata document: {err}"))?;
    match document.get("issuer").and_then(Value::as_str) {
        Some(found) if found == issuer => Ok(document),
        Some(found) => Err(format!(
            "the document is for issuer `{found}`, but the project's issuer is `{issuer}` (they must be equal exactly)"
        )),
        None => Err("the document has no `issuer`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openid_configuration_first_then_rfc_8414_path_inserted() {
        assert_eq!(
            metadata_urls("https://id.example.com/tenant/v2.0").unwrap(),
            [
                "https://id.example.com/tenant/v2.0/.well-known/openid-configuration",
                "https://id.example.com/.well-known/oauth-authorization-server/tenant/v2.0",
            ]
        );
        assert_eq!(
            metadata_urls("http://127.0.0.1:9417/").unwrap(),
            [
                "http://127.0.0.1:9417/.well-known/openid-configuration",
                "http://127.0.0.1:9417/.well-known/oauth-authorization-server",
            ]
        );
        assert!(metadata_urls("not a url").is_err());
    }

    #[test]
    fn auth_methods_are_read_when_present() {
        let metadata = |document| Metadata {
            url: "https://id.example.com/.well-known/openid-configuration".into(),
            document,
        };
        let listed = metadata(serde_json::json!({
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"]
        }));
        assert_eq!(
            listed.token_auth_methods(),
            Some(vec!["client_secret_post", "private_key_jwt"])
        );
        assert_eq!(metadata(serde_json::json!({})).token_auth_methods(), None);
    }
}
