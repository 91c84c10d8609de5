//! Where `auth test` finds the issuer's key set and token endpoint, and how
//! its client authenticates there.
//!
//! Each location comes from its environment override (`MCP_AUTH_JWKS_URL`,
//! `MCP_AUTH_TOKEN_URL`), else from the provider's fixed path, else from the
//! issuer's metadata document (see `discovery`), which is fetched at most
//! once and only when something needs it. The client authentication method
//! follows the document's `token_endpoint_auth_methods_supported`:
//! `client_secret_basic` when listed (or when the member is absent: RFC 8414
//! section 2 makes it the default), else `client_secret_post`. Auth0 needs no
//! document: its clients use `client_secret_post`.

use super::{
    discovery::{self, Metadata},
    http::Client,
    report::Check,
    settings::{Known, Settings},
    token::Endpoint,
};
use crate::providers;

/// How the client proves its identity at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

impl ClientAuth {
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
        }
    }
}

/// A client authentication method and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub method: ClientAuth,
    pub why: String,
}

/// What is known about the issuer for one run.
#[derive(Debug)]
pub struct Issuer {
    /// The metadata document, when it was needed: found, or why not.
    pub metadata: Option<Result<Metadata, String>>,
    /// The key set; `None` when the project's tokens are opaque.
    pub jwks: Option<Result<Known, String>>,
    /// The token endpoint; `None` when no token is asked for.
    pub token_endpoint: Option<Result<Known, String>>,
    /// How to authenticate there; `None` when no token is asked for.
    pub client_auth: Option<Result<Chosen, String>>,
}

impl Issuer {
    /// Resolves what the run needs: the key set (unless tokens are opaque),
    /// and with `for_token` the token endpoint and client authentication.
    pub fn resolve(client: &Client, settings: &Settings, for_token: bool) -> Self {
        let wants_jwks = settings.introspection_url.is_none();
        let auth_from_document = settings.provider.id != providers::AUTH0.id;
        let needs_document = (wants_jwks && settings.jwks_url.is_none())
            || (for_token && (settings.token_url.is_none() || auth_from_document));
        let metadata = needs_document.then(|| discovery::discover(client, &settings.issuer));

        let from_document = |member: &str| -> Result<Known, String> {
            match &metadata {
                Some(Ok(found)) => found
                    .text(member)
                    .map(|url| Known {
                        url: url.to_string(),
                        from: format!("`{member}` of {}", found.url),
                    })
                    .ok_or_else(|| {
                        format!("the issuer's metadata at {} has no `{member}`", found.url)
                    }),
                Some(Err(why)) => Err(format!("no issuer metadata found: {why}")),
                None => Err("the issuer's metadata was not read".into()),
            }
        };
        let jwks = wants_jwks.then(|| match &settings.jwks_url {
            Some(known) => Ok(known.clone()),
            None => from_document("jwks_uri"),
        });
        let token_endpoint = for_token.then(|| match &settings.token_url {
            Some(known) => Ok(known.clone()),
            None => from_document("token_endpoint"),
        });
        let client_auth = for_token.then(|| {
            if auth_from_document {
                choose(metadata.as_ref())
            } else {
                Ok(Chosen {
                    method: ClientAuth::Post,
                    why: format!("{}'s clients use it", settings.provider.name),
                })
            }
        });
        Self {
            metadata,
            jwks,
            token_endpoint,
            client_auth,
        }
    }

    /// The token endpoint and how to authenticate there, or why either is
    /// unknown (`for_token` must have been set).
    pub fn endpoint(&self) -> Result<Endpoint, String> {
        let url = match &self.token_endpoint {
            Some(Ok(known)) => known.url.clone(),
            Some(Err(why)) => return Err(format!("no token endpoint: {why}")),
            None => return Err("the token endpoint was not looked for".into()),
        };
        match &self.client_auth {
            Some(Ok(chosen)) => Ok(Endpoint {
                url,
                auth: chosen.method,
                why: chosen.why.clone(),
            }),
            Some(Err(why)) => Err(why.clone()),
            None => Err("no client authentication method was chosen".into()),
        }
    }

    /// The check of the metadata document, when it was read.
    pub fn metadata_check(&self, settings: &Settings) -> Option<Check> {
        const NAME: &str = "issuer metadata found";
        self.metadata.as_ref().map(|metadata| match metadata {
            Ok(found) => Check::pass(
                NAME,
                format!("{} (issuer `{}`)", found.url, settings.issuer),
            ),
            Err(why) => Check::fail(NAME, why.clone()),
        })
    }
}

/// The method the metadata document asks for (`None`: it was not read).
fn choose(metadata: Option<&Result<Metadata, String>>) -> Result<Chosen, String> {
    let chosen = |method: ClientAuth, why: &str| {
        Ok(Chosen {
            method,
            why: why.to_string(),
        })
    };
    let Some(Ok(metadata)) = metadata else {
        return chosen(
            ClientAuth::Basic,
            "no issuer metadata: RFC 8414's default method",
        );
    };
    match metadata.token_auth_methods() {
        None => chosen(
            ClientAuth::Basic,
            "the issuer's metadata lists no methods: RFC 8414's default",
        ),
        Some(methods) if methods.contains(&"client_secret_basic") => chosen(
            ClientAuth::Basic,
            "listed in the issuer's token_endpoint_auth_methods_supported",
        ),
        Some(methods) if methods.contains(&"client_secret_post") => chosen(
            ClientAuth::Post,
            "the issuer's token_endpoint_auth_methods_supported lists it, not client_secret_basic",
        ),
        Some(methods) => Err(format!(
            "the issuer takes only {} at its token endpoint; auth test authenticates a client with client_secret_basic or client_secret_post",
            if methods.is_empty() {
                "no client authentication method".to_string()
            } else {
                methods.join(", ")
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn choose_for(document: serde_json::Value) -> Result<ClientAuth, String> {
        let metadata = Ok(Metadata {
            url: "https://id.example.com/.well-known/openid-configuration".into(),
            document,
        });
        choose(Some(&metadata)).map(|chosen| chosen.method)
    }

    #[test]
    fn basic_when_listed_or_unlisted_else_post() {
        let methods = |list: &[&str]| json!({ "token_endpoint_auth_methods_supported": list });
        assert_eq!(
            choose_for(methods(&["client_secret_post", "client_secret_basic"])),
            Ok(ClientAuth::Basic)
        );
        assert_eq!(
            choose_for(methods(&["private_key_jwt", "client_secret_post"])),
            Ok(ClientAuth::Post)
        );
        assert_eq!(choose_for(json!({})), Ok(ClientAuth::Basic));
        assert_eq!(
            choose_for(methods(&["private_key_jwt"])),
            Err("the issuer takes only private_key_jwt at its token endpoint; auth test authenticates a client with client_secret_basic or client_secret_post".into())
        );
        assert_eq!(
            choose(Some(&Err("down".into()))).unwrap().method,
            ClientAuth::Basic
        );
    }
}
