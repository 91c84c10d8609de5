//! Identity providers, as data: one definition each, read by one code path.
//!
//! A definition says how the user names the issuer (a host, an issuer URL, a
//! Supabase project), where its keys are (a path below the issuer, or the
//! issuer's discovery document), how the audience is checked, where scopes
//! and roles live in its tokens (and which of them count when a token has
//! both kinds, [`ScopeSource`]), which algorithms sign them, which flags it
//! takes and which environment variables hold its settings. `resolve`,
//! `plan` and `render` read these fields and nothing else; the generated
//! module's `provider.rs` is rendered from them, and the rest of the
//! generated code reads `provider.rs`. Adding a provider adds a definition
//! here (and a snapshot), not branches.

use serde::Serialize;

/// How the user names the issuer, and what `domain_var` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Location {
    /// A bare host name (`--domain`), e.g. an Auth0 tenant.
    Host,
    /// The issuer URL itself (`--issuer`), https (http only on loopback).
    IssuerUrl,
    /// A Supabase project URL (`--supabase-url`, or `--project-ref REF` for
    /// `https://REF.supabase.co`).
    SupabaseUrl,
}

/// Whether the provider's opaque access tokens can be checked through its
/// RFC 7662 introspection endpoint (`--token-format introspection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Introspection {
    Supported,
    /// Refused, for this reason (said in the usage error).
    Unsupported(&'static str),
}

/// How the generated code checks `aud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AudienceCheck {
    /// `--audience`, an https URL (the API identifier); `aud` must contain it.
    Url,
    /// `--audience`, any identifier (URL, URI such as `api://...`, GUID);
    /// `aud` must contain it.
    Identifier,
    /// `aud` must contain this fixed value; the provider cannot bind tokens to
    /// this server, so a client-id allow-list is the documented alternative.
    Fixed(&'static str),
    /// Access tokens carry no `aud`: a client-id allow-list is required.
    Absent,
}

/// Which scopes a token grants when it carries both kinds of claim: the
/// scopes its client requested and was granted (`scope`, `scp`), and the
/// subject's permissions or roles (Auth0's `permissions`, a roles claim),
/// which say what the user may do whatever the client asked for. A token
/// with only one kind is read from that kind alone, whatever the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScopeSource {
    /// The requested scopes are the ceiling: permissions and roles can only
    /// narrow them (the intersection).
    Requested,
    /// The permissions or roles alone: for projects that knowingly
    /// authorize by them (clients request one fixed scope, or none).
    Permissions,
    /// Either kind counts (the union): for issuers that already narrow the
    /// roles they put in a token to what its client may have.
    Union,
}

impl ScopeSource {
    pub const ALL: [ScopeSource; 3] = [
        ScopeSource::Requested,
        ScopeSource::Permissions,
        ScopeSource::Union,
    ];

    /// The value of `--scope-source` (and of `scope_source` in the state).
    pub fn id(self) -> &'static str {
        match self {
            ScopeSource::Requested => "requested",
            ScopeSource::Permissions => "permissions",
            ScopeSource::Union => "union",
        }
    }

    /// The variant of the generated `verify::ScopeSource`.
    pub fn variant(self) -> &'static str {
        match self {
            ScopeSource::Requested => "Requested",
            ScopeSource::Permissions => "Permissions",
            ScopeSource::Union => "Union",
        }
    }
}

#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Provider {
    /// The value of `--provider`.
    pub id: &'static str,
    pub name: &'static str,
    /// One-line description shown in `--help` and prompts.
    pub hint: &'static str,
    pub docs_url: &'static str,
    pub location: Location,
    /// Environment variable holding the location (host, issuer URL or project URL).
    pub domain_var: &'static str,
    pub audience: AudienceCheck,
    /// Environment variable for the audience; empty unless the audience is
    /// given (`Url`, `Identifier`).
    pub audience_var: &'static str,
    /// Environment variables for a client-credentials client (for `auth test`).
    pub client_id_var: &'static str,
    pub client_secret_var: &'static str,
    /// Told to the user when the generated server misses a setting.
    pub setup_hint: &'static str,
    /// Accepted signature algorithms, as `jsonwebtoken::Algorithm` variants.
    pub algorithms: &'static [&'static str],
    /// Pattern turning `{location}` into the exact `iss` value.
    pub issuer_format: &'static str,
    /// Path of the key set below the issuer (trailing `/` of the issuer
    /// dropped); `None`: `jwks_uri` from the issuer's discovery document.
    pub jwks_path: Option<&'static str>,
    /// `{location}` pattern of the token endpoint; `None`: from discovery
    /// (or no client-credentials grant at all, see `hint`).
    pub token_url_format: Option<&'static str>,
    /// Parameter that names the API in a client-credentials request
    /// (`audience` for Auth0, RFC 8707 `resource` elsewhere).
    pub audience_param: &'static str,
    /// Claims holding the scopes the client requested and was granted
    /// (`scope`/`scp` strings or arrays), unless `--scope-claim` names another.
    pub scope_claims: &'static [&'static str],
    /// Claim listing the subject's permissions whatever the client asked
    /// for (Auth0's `permissions` array, with RBAC).
    pub permissions_claim: Option<&'static str>,
    /// Claim holding roles that count as scopes (dots for nested claims, e.g.
    /// `realm_access.roles`), unless `--roles-claim` names another.
    pub roles_claim: Option<&'static str>,
    /// Which scopes count when a token has both requested scopes and
    /// permissions or roles, unless `--scope-source` says otherwise.
    pub scope_source: ScopeSource,
    /// Only RFC 9068 access tokens (`typ` `at+jwt`) are accepted, unless
    /// `--require-at-jwt false` says otherwise; else `JWT` and no `typ` too.
    pub require_at_jwt: bool,
    /// Claims that must have exactly this string value (Cognito: `token_use`).
    pub required_claims: &'static [(&'static str, &'static str)],
    /// A client-id allow-list (`--client-id`) is mandatory.
    pub client_ids_required: bool,
    /// Said when add-auth runs and when the generated server starts.
    pub warning: Option<&'static str>,
    /// Legacy tokens MACed (HS256) with a shared secret: the flag naming the
    /// environment variable that holds the secret (`None`: not supported).
    /// Such tokens are verified on their own path, never with the key set.
    pub shared_secret_flag: Option<&'static str>,
    /// Said when add-auth runs and when the server starts, if the shared
    /// secret is used.
    pub shared_secret_warning: Option<&'static str>,
    /// Whether `--token-format introspection` (opaque tokens checked at the
    /// issuer's RFC 7662 endpoint) is accepted.
    pub introspection: Introspection,
    /// Doc comment for the issuer function in the generated code.
    pub issuer_doc: &'static str,
    /// Example location for help texts and `.env.example`.
    pub example_domain: &'static str,
    /// The issuer runs on this machine (`auth dev`): the location defaults to
    /// [`DEV_ISSUER`] and the audience to the local MCP endpoint, so add-auth
    /// needs no answer but the provider.
    pub local: bool,
}

impl Provider {
    /// The flags naming the location, as error messages name them.
    pub fn location_flags(&self) -> &'static str {
        match self.location {
            Location::Host => "--domain",
            Location::IssuerUrl => "--issuer",
            Location::SupabaseUrl => "--project-ref (or --supabase-url)",
        }
    }

    /// Whether `--audience` is given (and asked for).
    pub fn takes_audience(&self) -> bool {
        matches!(
            self.audience,
            AudienceCheck::Url | AudienceCheck::Identifier
        )
    }

    /// The audience every token of this provider carries, if it is fixed.
    pub fn fixed_audience(&self) -> Option<&'static str> {
        match self.audience {
            AudienceCheck::Fixed(audience) => Some(audience),
            _ => None,
        }
    }

    /// The exact `iss` for a location.
    pub fn issuer_for(&self, location: &str) -> String {
        if self.issuer_format.starts_with("{location}/") {
            let location = location.trim_end_matches('/');
            return self.issuer_format.replace("{location}", location);
        }
        self.issuer_format.replace("{location}", location)
    }

    /// The key set URL for an issuer, unless it must be discovered.
    pub fn jwks_url_for(&self, issuer: &str) -> Option<String> {
        self.jwks_path
            .map(|path| format!("{}{path}", issuer.trim_end_matches('/')))
    }
}

/// Shared by the OpenID Connect issuers (generic and presets).
const OIDC_ALGORITHMS: &[&str] = &["RS256", "ES256"];

pub const AUTH0: Provider = Provider {
    id: "auth0",
    name: "Auth0",
    hint: "Auth0 tenant (YOUR-TENANT.auth0.com), tokens for an Auth0 API",
    docs_url: "https://auth0.com/docs/secure/tokens/access-tokens/validate-access-tokens",
    location: Location::Host,
    domain_var: "AUTH0_DOMAIN",
    audience: AudienceCheck::Url,
    audience_var: "AUTH0_AUDIENCE",
    client_id_var: "AUTH0_CLIENT_ID",
    client_secret_var: "AUTH0_CLIENT_SECRET",
    setup_hint: "set it in the environment or in `.env`; both values are on the API's page in the Auth0 dashboard",
    algorithms: &["RS256", "ES256"],
    issuer_format: "https://{location}/",
    jwks_path: Some("/.well-known/jwks.json"),
    token_url_format: Some("https://{location}/oauth/token"),
    audience_param: "audience",
    // With RBAC, `scope` is already what the client requested and the user
    // holds, and `permissions` everything the user holds, whatever the
    // client asked for: the intersection is `scope` (`Requested`), which a
    // client cannot widen by asking; without RBAC there is no `permissions`.
    scope_claims: &["scope"],
    permissions_claim: Some("permissions"),
    roles_claim: None,
    scope_source: ScopeSource::Requested,
    // Auth0 issues `typ` `JWT` unless the API uses the RFC 9068 profile.
    require_at_jwt: false,
    required_claims: &[],
    client_ids_required: false,
    warning: None,
    shared_secret_flag: None,
    shared_secret_warning: None,
    introspection: Introspection::Unsupported(
        "Auth0 has no token introspection endpoint; access tokens for an API (--audience) are JWTs",
    ),
    issuer_doc: "Auth0's issuer is the tenant URL with a trailing slash, exactly.",
    example_domain: "your-tenant.auth0.com",
    local: false,
};

pub const OIDC: Provider = Provider {
    id: "oidc",
    name: "OpenID Connect",
    hint: "any OpenID Connect / RFC 8414 issuer (--issuer URL), keys found by discovery",
    docs_url: "https://openid.net/specs/openid-connect-discovery-1_0.html",
    location: Location::IssuerUrl,
    domain_var: "OIDC_ISSUER",
    audience: AudienceCheck::Identifier,
    audience_var: "OIDC_AUDIENCE",
    client_id_var: "OIDC_CLIENT_ID",
    client_secret_var: "OIDC_CLIENT_SECRET",
    setup_hint: "set it in the environment or in `.env`; the issuer is the `issuer` of its discovery document",
    algorithms: OIDC_ALGORITHMS,
    issuer_format: "{location}",
    jwks_path: None,
    token_url_format: None,
    audience_param: "resource",
    scope_claims: &["scope", "scp"],
    permissions_claim: None,
    roles_claim: None,
    scope_source: ScopeSource::Requested,
    require_at_jwt: false,
    required_claims: &[],
    client_ids_required: false,
    warning: None,
    shared_secret_flag: None,
    shared_secret_warning: None,
    introspection: Introspection::Supported,
    issuer_doc: "The issuer is configured exactly as the tokens' `iss` carries it.",
    example_domain: "https://issuer.example.com",
    local: false,
};

pub const SUPABASE: Provider = Provider {
    id: "supabase",
    name: "Supabase",
    hint: "Supabase Auth (--project-ref REF), asymmetric JWT signing keys",
    docs_url: "https://supabase.com/docs/guides/auth/jwts",
    location: Location::SupabaseUrl,
    domain_var: "SUPABASE_URL",
    audience: AudienceCheck::Fixed("authenticated"),
    audience_var: "",
    client_id_var: "SUPABASE_CLIENT_ID",
    client_secret_var: "SUPABASE_CLIENT_SECRET",
    setup_hint: "set it in the environment or in `.env`; the project URL is in the Supabase dashboard's API settings",
    algorithms: &["ES256", "RS256"],
    issuer_format: "{location}/auth/v1",
    jwks_path: Some("/.well-known/jwks.json"),
    token_url_format: None,
    audience_param: "resource",
    scope_claims: &["scope"],
    permissions_claim: None,
    roles_claim: None,
    scope_source: ScopeSource::Requested,
    require_at_jwt: false,
    required_claims: &[],
    client_ids_required: false,
    warning: Some(
        "Supabase access tokens are not bound to this server's URL: every token of the project (aud `authenticated`) is accepted; list the OAuth clients allowed to call it with --client-id",
    ),
    shared_secret_flag: Some("--supabase-jwt-secret-env"),
    shared_secret_warning: Some(
        "HS256 tokens are verified with the project's legacy JWT secret: anyone who holds the secret can mint tokens, and it cannot be rotated without logging every user out; migrate the Supabase project to asymmetric JWT signing keys (https://supabase.com/docs/guides/auth/signing-keys) and drop --supabase-jwt-secret-env",
    ),
    introspection: Introspection::Unsupported(
        "Supabase Auth has no token introspection endpoint; its access tokens are JWTs",
    ),
    issuer_doc: "Supabase's issuer is the project URL followed by `/auth/v1`.",
    example_domain: "https://your-project-ref.supabase.co",
    local: false,
};

pub const KEYCLOAK: Provider = Provider {
    id: "keycloak",
    name: "Keycloak",
    hint: "Keycloak realm (--issuer https://HOST/realms/REALM)",
    docs_url: "https://www.keycloak.org/docs/latest/server_admin/#_oidc",
    domain_var: "KEYCLOAK_ISSUER",
    audience_var: "KEYCLOAK_AUDIENCE",
    client_id_var: "KEYCLOAK_CLIENT_ID",
    client_secret_var: "KEYCLOAK_CLIENT_SECRET",
    jwks_path: Some("/protocol/openid-connect/certs"),
    token_url_format: Some("{location}/protocol/openid-connect/token"),
    scope_claims: &["scope"],
    roles_claim: Some("realm_access.roles"),
    // Keycloak's `scope` names client scopes (`openid profile email`, or
    // scopes such as `mcp:tools`) and its realm roles are another
    // vocabulary, so an intersection would be empty for projects that
    // authorize by either. Keycloak itself limits the roles a token carries
    // to those mapped to its client and the client scopes it was given
    // (role scope mappings, once the client's "Full scope allowed" is
    // off): the issuer narrows roles per client, so both kinds count.
    scope_source: ScopeSource::Union,
    issuer_doc: "Keycloak's issuer is the realm URL, `https://HOST/realms/REALM`.",
    example_domain: "https://keycloak.example.com/realms/your-realm",
    ..OIDC
};

pub const OKTA: Provider = Provider {
    id: "okta",
    name: "Okta",
    hint: "Okta custom authorization server (--issuer https://DOMAIN/oauth2/SERVER)",
    docs_url: "https://developer.okta.com/docs/guides/validate-access-tokens/",
    domain_var: "OKTA_ISSUER",
    audience_var: "OKTA_AUDIENCE",
    client_id_var: "OKTA_CLIENT_ID",
    client_secret_var: "OKTA_CLIENT_SECRET",
    jwks_path: Some("/v1/keys"),
    token_url_format: Some("{location}/v1/token"),
    scope_claims: &["scp"],
    issuer_doc: "Okta's issuer is the authorization server URL, `https://DOMAIN/oauth2/SERVER`.",
    example_domain: "https://your-org.okta.com/oauth2/default",
    ..OIDC
};

pub const ENTRA: Provider = Provider {
    id: "entra",
    name: "Microsoft Entra ID",
    hint: "Entra ID v2 (--issuer https://login.microsoftonline.com/TENANT/v2.0), app id audience",
    docs_url: "https://learn.microsoft.com/entra/identity-platform/access-tokens",
    domain_var: "ENTRA_ISSUER",
    audience_var: "ENTRA_AUDIENCE",
    client_id_var: "ENTRA_CLIENT_ID",
    client_secret_var: "ENTRA_CLIENT_SECRET",
    algorithms: &["RS256"],
    scope_claims: &["scp"],
    // Delegated tokens carry `scp` (and the user's app roles in `roles`
    // when some are assigned), app-only tokens `roles` alone: the
    // intersection keeps a client to what it was consented; projects that
    // authorize users by app roles (clients asking for one scope such as
    // `access_as_user`) choose `--scope-source permissions`.
    roles_claim: Some("roles"),
    introspection: Introspection::Unsupported(
        "Entra ID has no token introspection endpoint; access tokens for your API are JWTs",
    ),
    issuer_doc: "Entra's v2 issuer is `https://login.microsoftonline.com/TENANT/v2.0`.",
    example_domain: "https://login.microsoftonline.com/your-tenant-id/v2.0",
    ..OIDC
};

pub const COGNITO: Provider = Provider {
    id: "cognito",
    name: "Amazon Cognito",
    hint: "Cognito user pool (--issuer https://cognito-idp.REGION.amazonaws.com/POOL --client-id ID)",
    docs_url: "https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html",
    domain_var: "COGNITO_ISSUER",
    audience: AudienceCheck::Absent,
    audience_var: "",
    client_id_var: "COGNITO_CLIENT_ID",
    client_secret_var: "COGNITO_CLIENT_SECRET",
    algorithms: &["RS256"],
    jwks_path: Some("/.well-known/jwks.json"),
    scope_claims: &["scope"],
    required_claims: &[("token_use", "access")],
    client_ids_required: true,
    warning: Some(
        "Cognito access tokens carry no audience: the server accepts only tokens with `token_use` `access` whose `client_id` is in MCP_AUTH_CLIENT_IDS",
    ),
    introspection: Introspection::Unsupported(
        "Cognito has no token introspection endpoint; its access tokens are JWTs",
    ),
    issuer_doc: "Cognito's issuer is `https://cognito-idp.REGION.amazonaws.com/POOL_ID`.",
    example_domain: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example",
    ..OIDC
};

pub const WORKOS: Provider = Provider {
    id: "workos",
    name: "WorkOS",
    hint: "WorkOS AuthKit (--issuer https://YOUR-APP.authkit.app), keys found by discovery",
    docs_url: "https://workos.com/docs/authkit/mcp",
    domain_var: "WORKOS_ISSUER",
    audience_var: "WORKOS_AUDIENCE",
    client_id_var: "WORKOS_CLIENT_ID",
    client_secret_var: "WORKOS_CLIENT_SECRET",
    algorithms: &["RS256"],
    scope_claims: &["scope"],
    issuer_doc: "WorkOS's issuer is the AuthKit domain URL.",
    example_domain: "https://your-app.authkit.app",
    ..OIDC
};

/// `mcp-builder auth dev`: a development issuer on 127.0.0.1, trusted
/// through the same discovery path as any OpenID Connect issuer.
pub const DEV: Provider = Provider {
    id: "dev",
    name: "Development issuer",
    hint: "try it locally: `mcp-builder auth dev` issues real tokens on 127.0.0.1, no account needed",
    docs_url: "`mcp-builder auth dev --help`",
    domain_var: "MCP_DEV_ISSUER",
    audience_var: "MCP_DEV_AUDIENCE",
    client_id_var: "MCP_DEV_CLIENT_ID",
    client_secret_var: "MCP_DEV_CLIENT_SECRET",
    setup_hint: "run add-auth with --provider dev again, or set it to the URL `mcp-builder auth dev` prints",
    algorithms: &["ES256"],
    token_url_format: Some("{location}/token"),
    scope_claims: &["scope"],
    // `mcp-builder auth dev` signs RFC 9068 access tokens (`typ` `at+jwt`).
    require_at_jwt: true,
    warning: Some(
        "this server trusts the development issuer (`mcp-builder auth dev`): whoever can read the project's .mcp-builder/dev folder can mint tokens for it; before deploying, run add-auth again with your real provider (--provider auth0, oidc, ...)",
    ),
    introspection: Introspection::Unsupported(
        "the development issuer's access tokens are JWTs, verified with its key set",
    ),
    issuer_doc: "The development issuer is `mcp-builder auth dev` on 127.0.0.1; its URL is the tokens' `iss`, exactly.",
    example_domain: DEV_ISSUER,
    local: true,
    ..OIDC
};

/// Where `mcp-builder auth dev` listens unless the project says otherwise.
pub const DEV_ISSUER: &str = "http://127.0.0.1:9417";

/// Every provider `--provider` accepts.
pub const ALL: &[&Provider] = &[
    &DEV, &AUTH0, &OIDC, &SUPABASE, &KEYCLOAK, &OKTA, &ENTRA, &COGNITO, &WORKOS,
];

pub fn find(id: &str) -> Option<&'static Provider> {
    ALL.iter().copied().find(|provider| provider.id == id)
}

pub fn ids() -> Vec<&'static str> {
    ALL.iter().map(|provider| provider.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_and_key_sets_follow_the_definitions() {
        assert_eq!(AUTH0.issuer_for("t.auth0.com"), "https://t.auth0.com/");
        assert_eq!(
            SUPABASE.issuer_for("https://ref.supabase.co/"),
            "https://ref.supabase.co/auth/v1"
        );
        assert_eq!(
            SUPABASE
                .jwks_url_for(&SUPABASE.issuer_for("https://ref.supabase.co"))
                .unwrap(),
            "https://ref.supabase.co/auth/v1/.well-known/jwks.json"
        );
        assert_eq!(
            OIDC.issuer_for("https://id.example.com/"),
            "https://id.example.com/"
        );
        assert_eq!(OIDC.jwks_url_for("https://id.example.com/"), None);
        assert_eq!(
            KEYCLOAK
                .jwks_url_for("https://kc.example.com/realms/r")
                .unwrap(),
            "https://kc.example.com/realms/r/protocol/openid-connect/certs"
        );
    }

    #[test]
    fn ids_are_unique_and_weaker_audience_checks_say_so() {
        let mut ids = ids();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
        for provider in ALL {
            if !provider.takes_audience() {
                assert!(provider.warning.is_some(), "{}", provider.id);
            }
            assert!(provider.takes_audience() != provider.audience_var.is_empty());
        }
    }
}
