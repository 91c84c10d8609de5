//! Identity providers, as data: one definition each, read by one code path.
//!
//! A definition says how to find the issuer and its keys, which algorithms
//! its tokens use and which environment variables hold its settings. The
//! generated module's `provider.rs` is rendered from it.

use serde::Serialize;

#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Provider {
    /// The value of `--provider`.
    pub id: &'static str,
    pub name: &'static str,
    /// One-line description shown in `--help` and prompts.
    pub hint: &'static str,
    pub docs_url: &'static str,
    /// Environment variable for the tenant domain.
    pub domain_var: &'static str,
    /// Environment variable for the audience (API identifier).
    pub audience_var: &'static str,
    /// Environment variables for a client-credentials client (for `auth test`).
    pub client_id_var: &'static str,
    pub client_secret_var: &'static str,
    /// Told to the user when the generated server misses a setting.
    pub setup_hint: &'static str,
    /// Accepted signature algorithms, as `jsonwebtoken::Algorithm` variants.
    pub algorithms: &'static [&'static str],
    /// `format!` pattern turning `{domain}` into the exact `iss` value.
    pub issuer_format: &'static str,
    /// `{domain}` pattern of the token endpoint, used when the issuer's
    /// discovery document cannot be read.
    pub token_url_format: &'static str,
    /// Parameter that names the API in a client-credentials request
    /// (`audience` for Auth0, RFC 8707 `resource` elsewhere).
    pub audience_param: &'static str,
    /// Doc comment for the issuer function in the generated code.
    pub issuer_doc: &'static str,
    /// Example domain for help texts and `.env.example`.
    pub example_domain: &'static str,
}

pub const AUTH0: Provider = Provider {
    id: "auth0",
    name: "Auth0",
    hint: "Auth0 tenant (YOUR-TENANT.auth0.com), tokens for an Auth0 API",
    docs_url: "https://auth0.com/docs/secure/tokens/access-tokens/validate-access-tokens",
    domain_var: "AUTH0_DOMAIN",
    audience_var: "AUTH0_AUDIENCE",
    client_id_var: "AUTH0_CLIENT_ID",
    client_secret_var: "AUTH0_CLIENT_SECRET",
    setup_hint: "set it in the environment or in `.env`; both values are on the API's page in the Auth0 dashboard",
    algorithms: &["RS256", "ES256"],
    issuer_format: "https://{domain}/",
    token_url_format: "https://{domain}/oauth/token",
    audience_param: "audience",
    issuer_doc: "Auth0's issuer is the tenant URL with a trailing slash, exactly.",
    example_domain: "your-tenant.auth0.com",
};

/// Every provider `--provider` accepts.
pub const ALL: &[&Provider] = &[&AUTH0];

pub fn find(id: &str) -> Option<&'static Provider> {
    ALL.iter().copied().find(|provider| provider.id == id)
}

pub fn ids() -> Vec<&'static str> {
    ALL.iter().map(|provider| provider.id).collect()
}
