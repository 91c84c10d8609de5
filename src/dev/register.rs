//! Dynamic client registration (RFC 7591) at `POST /register`, for clients
//! that predate client ID metadata documents. Registered clients live in
//! memory until `auth dev` stops.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::{
    clients::{self, AuthMethod, Client, GrantType},
    error::{OAuthError, no_store, with_outcome},
    server::Shared,
    store::random_token,
};

/// `POST /register`.
pub async fn register(State(dev): State<Shared>, body: Bytes) -> Response {
    let metadata = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(metadata)) => metadata,
        _ => {
            return OAuthError::new(
                "invalid_client_metadata",
                "the body must be a JSON object of client metadata",
            )
            .into_response();
        }
    };
    let client = match client_from(&metadata) {
        Ok(client) => client,
        Err(err) => return err.into_response(),
    };
    if let Err(why) = dev.clients.register(client.clone()) {
        return OAuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            ..OAuthError::new("temporarily_unavailable", why)
        }
        .into_response();
    }
    let issued_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default();
    let mut answer = json!({
        "client_id": client.id,
        "client_id_issued_at": issued_at,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": client.auth_method.as_str(),
        "grant_types": client.grant_types.iter().map(|grant| grant.as_str()).collect::<Vec<_>>(),
        "response_types": if client.allows(GrantType::AuthorizationCode) { vec!["code"] } else { vec![] },
    });
    if let Some(name) = &client.name {
        answer["client_name"] = json!(name);
    }
    if let Some(secret) = &client.secret {
        answer["client_secret"] = json!(secret);
        answer["client_secret_expires_at"] = json!(0);
    }
    let response = (StatusCode::CREATED, no_store(), Json(answer)).into_response();
    let outcome = format!(
        "registered `{}` ({}, {})",
        client.id,
        client.name.as_deref().unwrap_or("no name"),
        client.auth_method.as_str()
    );
    with_outcome(response, outcome)
}

/// The client the metadata describes, with a new id (and a secret when it
/// is confidential).
fn client_from(metadata: &Map<String, Value>) -> Result<Client, OAuthError> {
    let bad = |why: String| OAuthError::new("invalid_client_metadata", why);
    let strings = |name: &str| -> Result<Option<Vec<String>>, OAuthError> {
        match metadata.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| bad(format!("`{name}` must be an array of strings"))),
            Some(_) => Err(bad(format!("`{name}` must be an array of strings"))),
        }
    };
    // RFC 7591 2: the default is client_secret_basic.
    let auth_method = match metadata.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => AuthMethod::ClientSecretBasic,
        Some(Value::String(text)) => AuthMethod::parse(text).ok_or_else(|| {
            bad(format!(
                "token_endpoint_auth_method `{text}` is not supported: use none, client_secret_basic or client_secret_post"
            ))
        })?,
        Some(_) => return Err(bad("token_endpoint_auth_method must be a string".into())),
    };
    // Grants this issuer does not have (refresh_token, ...) are dropped;
    // the answer says which are registered.
    let grant_types: Vec<GrantType> = match strings("grant_types")? {
        None => vec![GrantType::AuthorizationCode],
        Some(names) => {
            let mut grants: Vec<GrantType> =
                names.iter().filter_map(|n| GrantType::parse(n)).collect();
            grants.dedup();
            grants
        }
    };
    if grant_types.is_empty() {
        return Err(bad(
            "grant_types names no grant this issuer has: use authorization_code or client_credentials".into(),
        ));
    }
    if auth_method == AuthMethod::None && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(bad(
            "the client_credentials grant needs a confidential client: use client_secret_basic or client_secret_post".into(),
        ));
    }
    if let Some(types) = strings("response_types")?
        && types.iter().any(|t| t != "code")
    {
        return Err(bad("response_types may only be [\"code\"]".into()));
    }
    let redirect_uris = strings("redirect_uris")?.unwrap_or_default();
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(OAuthError::new(
            "invalid_redirect_uri",
            "redirect_uris is required for the authorization_code grant",
        ));
    }
    for uri in &redirect_uris {
        clients::check_redirect_uri(uri)
            .map_err(|why| OAuthError::new("invalid_redirect_uri", why))?;
    }
    let name = match metadata.get("client_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.chars().take(200).collect()),
        Some(_) => return Err(bad("client_name must be a string".into())),
    };
    let random =
        |bytes| random_token(bytes).map_err(|err| OAuthError::new("server_error", err.to_string()));
    let secret = match auth_method {
        AuthMethod::None => None,
        _ => Some(random(32)?),
    };
    Ok(Client {
        id: format!("dev-client-{}", random(16)?),
        name,
        redirect_uris,
        secret,
        auth_method,
        grant_types,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_public_client_gets_an_id_and_no_secret() {
        let client = client_from(&metadata(json!({
            "client_name": "Inspector",
            "redirect_uris": ["http://localhost:6274/oauth/callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        })))
        .unwrap();
        assert!(client.id.starts_with("dev-client-"));
        assert!(client.secret.is_none());
        assert_eq!(client.grant_types, vec![GrantType::AuthorizationCode]);
    }

    #[test]
    fn bad_metadata_is_refused_with_the_rfc_7591_errors() {
        let cases = [
            (
                json!({"token_endpoint_auth_method": "none"}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": ["http://evil.example.com/cb"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": "https://a.example.com/cb"}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example.com/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
                "invalid_client_metadata",
            ),
            (
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
                "invalid_client_metadata",
            ),
        ];
        for (value, error) in cases {
            let err = client_from(&metadata(value.clone())).unwrap_err();
            assert_eq!(err.error, error, "{value}: {}", err.description);
        }
        let confidential =
            client_from(&metadata(json!({"grant_types": ["client_credentials"]}))).unwrap();
        assert!(confidential.secret.is_some());
        assert_eq!(confidential.auth_method, AuthMethod::ClientSecretBasic);
    }
}
