//! The issuer's metadata (RFC 8414, served at both the OAuth and the OpenID
//! well-known paths) and its key set.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{config::Config, error::with_outcome, server::Shared};

/// The authorization server metadata.
pub fn metadata_document(config: &Config) -> Value {
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.endpoint("/authorize"),
        "token_endpoint": config.endpoint("/token"),
        "jwks_uri": config.endpoint("/jwks"),
        "registration_endpoint": config.endpoint("/register"),
        "scopes_supported": config.scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    })
}

/// `GET /.well-known/oauth-authorization-server` and
/// `GET /.well-known/openid-configuration`.
pub async fn metadata(State(dev): State<Shared>) -> Response {
    with_outcome(
        Json(metadata_document(&dev.config)).into_response(),
        "metadata",
    )
}

/// `GET /jwks`.
pub async fn jwks(State(dev): State<Shared>) -> Response {
    with_outcome(Json(dev.store.jwks()).into_response(), "key set")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_sit_below_the_exact_issuer() {
        let config = Config {
            issuer: "http://127.0.0.1:9417/".into(),
            audience: "http://127.0.0.1:8000/mcp".into(),
            resource_url: "http://127.0.0.1:8000/mcp".into(),
            scopes: vec!["read:tasks".into()],
        };
        let document = metadata_document(&config);
        assert_eq!(document["issuer"], "http://127.0.0.1:9417/");
        assert_eq!(document["token_endpoint"], "http://127.0.0.1:9417/token");
        assert_eq!(document["scopes_supported"], json!(["read:tasks"]));
        assert_eq!(
            document["code_challenge_methods_supported"],
            json!(["S256"])
        );
    }
}
