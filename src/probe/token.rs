//! Getting a token from the provider with the client-credentials grant.
//!
//! Where to ask and how the client authenticates are decided in `issuer`.
//! Errors from the provider are shown as they came, with a hint at the usual
//! cause.

use anyhow::Context;
use serde_json::Value;

use super::{
    http::{self, Client},
    issuer::{ClientAuth, Issuer},
    settings::{ClientCredentials, Settings},
};

/// Where to ask for a token, and how the client authenticates there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub auth: ClientAuth,
    /// Why this method (for the report).
    pub why: String,
}

/// The token endpoint and client authentication of the project's issuer
/// (reading its metadata when needed); an error says why they are unknown.
pub fn token_endpoint(client: &Client, settings: &Settings) -> anyhow::Result<Endpoint> {
    Issuer::resolve(client, settings, true)
        .endpoint()
        .map_err(anyhow::Error::msg)
}

/// A token response, or the provider's refusal.
pub enum Outcome {
    Token {
        access_token: String,
        endpoint: String,
    },
    Refused {
        endpoint: String,
        status: u16,
        error: String,
        description: Option<String>,
        hint: &'static str,
    },
}

impl Outcome {
    /// `{endpoint} answered {status} `{error}`: {description}` for a refusal.
    pub fn refusal(&self) -> Option<String> {
        let Outcome::Refused {
            endpoint,
            status,
            error,
            description,
            ..
        } = self
        else {
            return None;
        };
        let said = description
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        Some(format!("{endpoint} answered {status} `{error}`{said}"))
    }
}

/// Asks for a client-credentials token for the project's audience.
/// The client is the project's (a usage error when it has none).
pub fn request(
    client: &Client,
    settings: &Settings,
    endpoint: &Endpoint,
    scopes: &[String],
) -> anyhow::Result<Outcome> {
    let credentials = settings
        .client
        .as_ref()
        .map_err(|why| crate::resolve::UsageError(why.clone()))?;
    let Endpoint {
        url: endpoint,
        auth: endpoint_auth,
        ..
    } = endpoint;
    let url = http::url("token endpoint", endpoint)?;
    let scope = scopes.join(" ");
    let mut form = vec![
        ("grant_type", "client_credentials"),
        (settings.provider.audience_param, settings.audience.as_str()),
    ];
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    let mut request = client.post(url);
    match endpoint_auth {
        ClientAuth::Basic => {
            request = request.header(reqwest::header::AUTHORIZATION, basic(credentials));
        }
        ClientAuth::Post => {
            form.push(("client_id", &credentials.id));
            form.push(("client_secret", &credentials.secret));
        }
    }
    let response = client
        .send(request.form(&form))
        .with_context(|| format!("cannot reach the token endpoint `{endpoint}`"))?;
    let status = response.status();
    let body = client
        .text(response)
        .with_context(|| format!("cannot read the answer of `{endpoint}`"))?;
    let json: Option<Value> = serde_json::from_str(&body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };

    if status.is_success()
        && let Some(access_token) = field("access_token")
    {
        return Ok(Outcome::Token {
            access_token,
            endpoint: endpoint.to_string(),
        });
    }
    let error = field("error").unwrap_or_else(|| {
        let snippet: String = body.chars().take(200).collect();
        format!("HTTP {status}: {snippet}")
    });
    Ok(Outcome::Refused {
        endpoint: endpoint.to_string(),
        status: status.as_u16(),
        hint: hint(&error),
        error,
        description: field("error_description"),
    })
}

/// The `Authorization` value of `client_secret_basic`: id and secret each
/// form-urlencoded first (RFC 6749 section 2.3.1), then joined by `:` and
/// base64-encoded (RFC 7617).
fn basic(credentials: &ClientCredentials) -> String {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let pair = format!(
        "{}:{}",
        form_urlencode(&credentials.id),
        form_urlencode(&credentials.secret)
    );
    format!("Basic {}", STANDARD.encode(pair))
}

/// `application/x-www-form-urlencoded` of one value (RFC 6749 appendix B):
/// letters, digits and `*-._` stay, a space becomes `+`, every other byte of
/// the UTF-8 text becomes `%XX`.
fn form_urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                char::from(byte).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The usual cause of a provider error.
fn hint(error: &str) -> &'static str {
    match error {
        "invalid_client" => {
            "the client id or secret is wrong, or the client may not authenticate this way"
        }
        "unauthorized_client" => {
            "this application may not use the client-credentials grant (enable it for the application)"
        }
        "access_denied" => {
            "the application is not authorized for this API (Auth0: APIs > Machine to Machine Applications)"
        }
        "invalid_target" | "invalid_request" => {
            "the provider does not know the audience: is it the API identifier exactly?"
        }
        "invalid_scope" => {
            "a requested scope is not defined for this API or not granted to this application"
        }
        _ => "see the provider's logs for this client",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urlencoded_before_base64() {
        assert_eq!(form_urlencode("a-Z_0.9*"), "a-Z_0.9*");
        assert_eq!(
            form_urlencode("s3cret:with spaces&+/é"),
            "s3cret%3Awith+spaces%26%2B%2F%C3%A9"
        );
        let credentials = ClientCredentials {
            id: "my client".into(),
            secret: "p:ss".into(),
        };
        // base64("my+client:p%3Ass")
        assert_eq!(basic(&credentials), "Basic bXkrY2xpZW50OnAlM0Fzcw==");
    }
}
