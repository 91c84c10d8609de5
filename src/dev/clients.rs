//! The clients the development issuer knows: its own client-credentials
//! client (from the store), clients registered at `/register` this run, and
//! clients named by a metadata document URL; and the redirect URI rules
//! they all follow.

use std::{collections::HashMap, sync::Mutex};

use reqwest::Url;

use super::{cimd, store::Store};

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// A public client: no secret, PKCE binds its codes.
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }
}

/// The grants the issuer supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
}

impl GrantType {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "authorization_code" => Some(Self::AuthorizationCode),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

/// A client of the issuer.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
    /// `None`: a public client.
    pub secret: Option<String>,
    pub auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
}

impl Client {
    /// The store's confidential client, for the client-credentials grant
    /// (it authenticates by `client_secret_basic` or `client_secret_post`).
    pub fn builtin(store: &Store) -> Self {
        Self {
            id: store.client_id.clone(),
            name: Some("mcp-builder development client".to_string()),
            redirect_uris: Vec::new(),
            secret: Some(store.client_secret.clone()),
            auth_method: AuthMethod::ClientSecretBasic,
            grant_types: vec![GrantType::ClientCredentials],
        }
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The redirect URI of an authorization request: the one given, if it
    /// matches one registered, or the only one registered if none is given.
    pub fn redirect_uri(&self, given: Option<&str>) -> Result<String, String> {
        match given {
            Some(given)
                if self
                    .redirect_uris
                    .iter()
                    .any(|r| redirect_matches(r, given)) =>
            {
                Ok(given.to_string())
            }
            Some(given) => Err(format!(
                "the redirect_uri `{given}` is not one of the client's registered redirect URIs"
            )),
            None => match self.redirect_uris.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(
                    "this client has no redirect URI: it cannot use the authorization code grant"
                        .to_string(),
                ),
                _ => Err("redirect_uri is missing and the client registered several".to_string()),
            },
        }
    }
}

/// Schemes a redirect URI may never have: they run code or read files in
/// the browser instead of reaching an app.
const UNSAFE_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "ftp",
    "ws",
    "wss",
];

/// Whether `uri` may be registered as a redirect URI: https, http on a
/// loopback host (RFC 8252 7.3), or an app's private-use scheme (RFC 8252
/// 7.1); absolute and without a fragment (RFC 6749 3.1.2).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url =
        Url::parse(uri).map_err(|_| format!("redirect URI `{uri}` is not an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(format!(
            "redirect URI `{uri}` has a fragment (#...), which OAuth forbids"
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "https" => Err(format!("redirect URI `{uri}` has no host")),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "redirect URI `{uri}` is plain http to a host that is not loopback (127.0.0.1, [::1], localhost): use https"
        )),
        scheme if UNSAFE_SCHEMES.contains(&scheme) => Err(format!(
            "redirect URI `{uri}` has the scheme `{scheme}`, which is not allowed"
        )),
        _ => Ok(()),
    }
}

/// Whether `url`'s host is this machine.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether the redirect URI `given` in a request matches `registered`:
/// equal strings, or for http on loopback equal but for the port, which a
/// native app picks when it starts (RFC 8252 7.3).
pub fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let (Ok(registered), Ok(given)) = (Url::parse(registered), Url::parse(given)) else {
        return false;
    };
    registered.scheme() == "http"
        && given.scheme() == "http"
        && is_loopback(&registered)
        && registered.host_str() == given.host_str()
        && registered.path() == given.path()
        && registered.query() == given.query()
        && registered.fragment().is_none()
        && given.fragment().is_none()
        && given.username().is_empty()
        && given.password().is_none()
}

/// How many clients `/register` keeps at most in one run.
pub const MAX_REGISTERED: usize = 1000;

/// Every client the issuer knows this run.
pub struct Registry {
    builtin: Client,
    registered: Mutex<HashMap<String, Client>>,
    documents: cimd::Documents,
}

impl Registry {
    pub fn new(builtin: Client) -> anyhow::Result<Self> {
        Ok(Self {
            builtin,
            registered: Mutex::default(),
            documents: cimd::Documents::new()?,
        })
    }

    /// The client `id`, or why it is not one (for the error page or
    /// `invalid_client`).
    pub async fn find(&self, id: &str) -> Result<Client, String> {
        if id == self.builtin.id {
            return Ok(self.builtin.clone());
        }
        if let Some(client) = lock(&self.registered).get(id) {
            return Ok(client.clone());
        }
        if cimd::is_document_url(id) {
            return self.documents.client(id).await;
        }
        Err(format!(
            "unknown client `{id}`: register it at the registration endpoint (clients registered before a restart are forgotten) or use a client ID metadata document URL"
        ))
    }

    /// Keeps a client registered at `/register`.
    pub fn register(&self, client: Client) -> Result<(), String> {
        let mut registered = lock(&self.registered);
        if registered.len() >= MAX_REGISTERED {
            return Err(format!(
                "{MAX_REGISTERED} clients registered already: restart auth dev to forget them"
            ));
        }
        registered.insert(client.id.clone(), client);
        Ok(())
    }
}

/// Locks `mutex`, even if a panicking request poisoned it (the maps stay
/// consistent: every update is one insert or remove).
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_loopback_http_or_an_apps_scheme() {
        for good in [
            "https://app.example.com/callback",
            "http://127.0.0.1:8080/callback",
            "http://localhost/cb?x=1",
            "http://[::1]:3000/",
            "com.example.app:/oauth2redirect",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
        ] {
            assert!(check_redirect_uri(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("http://evil.example.com/cb", "loopback"),
            ("https://app.example.com/cb#frag", "fragment"),
            ("/relative/cb", "absolute"),
            ("javascript:alert(1)", "not allowed"),
            ("data:text/html,hi", "not allowed"),
            ("file:///etc/passwd", "not allowed"),
        ] {
            let err = check_redirect_uri(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn loopback_redirects_match_on_any_port_others_exactly() {
        assert!(redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com/cb/"
        ));
        assert!(!redirect_matches(
            "https://app.example.com:443/cb",
            "https://app.example.com:8443/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53211/callback"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53211/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/callback",
            "http://localhost:53211/callback"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/callback",
            "http://user@127.0.0.1:1/callback"
        ));
    }

    #[test]
    fn a_client_without_a_redirect_uri_in_the_request_gets_its_only_one() {
        let client = Client {
            id: "c".into(),
            name: None,
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            secret: None,
            auth_method: AuthMethod::None,
            grant_types: vec![GrantType::AuthorizationCode],
        };
        assert_eq!(client.redirect_uri(None).unwrap(), "http://127.0.0.1/cb");
        assert_eq!(
            client.redirect_uri(Some("http://127.0.0.1:9/cb")).unwrap(),
            "http://127.0.0.1:9/cb"
        );
        assert!(client.redirect_uri(Some("http://127.0.0.1:9/x")).is_err());
    }
}
