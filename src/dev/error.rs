//! The JSON error answers of the token and registration endpoints
//! (RFC 6749 section 5.2, RFC 7591 section 3.2.2), and the one-line outcome
//! every answer carries for the request log.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// What the request log says about an answer (never a secret or a token).
#[derive(Clone, Debug)]
pub struct Outcome(pub String);

/// Attaches `outcome` to `response` for the request log.
pub fn with_outcome(mut response: Response, outcome: impl Into<String>) -> Response {
    response.extensions_mut().insert(Outcome(outcome.into()));
    response
}

/// An OAuth error answer: `{"error", "error_description"}`.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// The client tried HTTP Basic: 401 with `WWW-Authenticate: Basic`.
    pub basic_challenge: bool,
}

impl OAuthError {
    /// A 400 answer.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    /// `invalid_client`: 401 with a Basic challenge if the client used
    /// Basic (RFC 6749 section 5.2), else 400.
    pub fn invalid_client(description: impl Into<String>, by_basic: bool) -> Self {
        Self {
            status: if by_basic {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            },
            basic_challenge: by_basic,
            ..Self::new("invalid_client", description)
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, no_store(), Json(body)).into_response();
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mcp-builder auth dev\""),
            );
        }
        with_outcome(response, self.error)
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, for answers that hold
/// tokens, secrets or errors about them.
pub fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}
