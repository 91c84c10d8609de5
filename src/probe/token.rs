//! Getting a token from the provider with the client-credentials grant.
//!
//! The token endpoint comes from `MCP_AUTH_TOKEN_URL`, else from the
//! issuer's discovery document (OpenID, then RFC 8414), else from the
//! provider's own pattern. Errors from the provider are shown as they came,
//! with a hint at the usual cause.

use anyhow::Context;
use reqwest::blocking::Client;
use serde_json::Value;

use super::{http, settings::Settings};

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

/// Where to ask for a token.
pub fn token_endpoint(client: &Client, settings: &Settings) -> anyhow::Result<String> {
    if let Some(url) = &settings.token_url {
        return Ok(url.clone());
    }
    let issuer = settings.issuer.trim_end_matches('/');
    for well_known in ["openid-configuration", "oauth-authorization-server"] {
        let url = format!("{issuer}/.well-known/{well_known}");
        let document = client
            .get(http::url("discovery URL", &url)?)
            .send()
            .ok()
            .filter(|response| response.status().is_success())
            .and_then(|response| response.json::<Value>().ok());
        if let Some(endpoint) = document
            .as_ref()
            .and_then(|doc| doc.get("token_endpoint"))
            .and_then(Value::as_str)
        {
            return Ok(endpoint.to_string());
        }
    }
    Ok(settings.default_token_url.clone())
}

/// Asks for a client-credentials token for the project's audience.
pub fn request(
    client: &Client,
    settings: &Settings,
    endpoint: &str,
    scopes: &[String],
) -> anyhow::Result<Outcome> {
    let url = http::url("token endpoint", endpoint)?;
    let scope = scopes.join(" ");
    let mut form = vec![
        ("grant_type", "client_credentials"),
        (settings.provider.audience_param, settings.audience.as_str()),
    ];
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    let credentials = settings
        .client
        .as_ref()
        .map_err(|why| crate::resolve::UsageError(why.clone()))?;
    // client_secret_post, which Auth0 (the only provider so far) accepts.
    form.push(("client_id", &credentials.id));
    form.push(("client_secret", &credentials.secret));
    let response = client
        .post(url)
        .form(&form)
        .send()
        .with_context(|| format!("cannot reach the token endpoint `{endpoint}`"))?;
    let status = response.status();
    let body = response
        .text()
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
