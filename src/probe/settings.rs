//! What `auth test` needs to know, from the project's state file and its
//! environment (process environment first, then `.env`), read the way the
//! generated server reads them.
//!
//! Secrets (the client secret) come only from the environment or `.env`,
//! never from the state file or a flag.

use std::{collections::BTreeMap, path::Path};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::{
    plan::{STATE_FILE, state},
    providers::{self, Provider, ScopeSource},
    resolve::{INTROSPECTION_URL_VAR, UsageError, dotenv},
};

/// Settings of one project, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub provider: &'static Provider,
    /// The exact `iss` the server expects.
    pub issuer: String,
    pub audience: String,
    /// Where the server gets its keys without discovery
    /// (`MCP_AUTH_JWKS_URL`, else the provider's fixed path); `None` when
    /// they are discovered or its tokens are opaque.
    pub jwks_url: Option<Known>,
    /// The RFC 7662 endpoint that judges the server's tokens, when they are
    /// opaque (`--token-format introspection`): then no key set is used,
    /// and this tool cannot judge a token itself.
    pub introspection_url: Option<String>,
    /// The token endpoint without discovery (`MCP_AUTH_TOKEN_URL`, else
    /// the provider's pattern); `None` when it is discovered.
    pub token_url: Option<Known>,
    pub leeway_secs: u64,
    /// The MCP endpoint's public URL (`MCP_RESOURCE_URL`, else the audience).
    pub resource_url: String,
    pub scopes: Vec<String>,
    pub tool_scopes: BTreeMap<String, Vec<String>>,
    /// The scope hierarchy the server honours (`auth.scope_implies`).
    pub scope_implies: BTreeMap<String, Vec<String>>,
    /// Where the server reads scopes: the claims of requested scopes
    /// (`auth.scope_claim`, else the provider's), of permissions or roles
    /// (the provider's permissions claim, `auth.roles_claim` or the
    /// provider's roles claim), and which count when a token has both.
    pub scope_claims: Vec<String>,
    pub granted_claims: Vec<String>,
    pub scope_source: ScopeSource,
    /// The client-credentials client, or why there is none (then the checks
    /// that need a token are skipped).
    pub client: Result<ClientCredentials, String>,
}

/// A URL known without discovery, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub url: String,
    pub from: String,
}

impl Known {
    fn new(url: String, from: impl Into<String>) -> Self {
        Self {
            url,
            from: from.into(),
        }
    }
}

/// A confidential client of the issuer, for the client-credentials grant.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub id: String,
    pub secret: String,
}

/// Reads the state file and the environment of the project at `root`.
pub fn read(root: &Path, command: &str) -> anyhow::Result<Settings> {
    let (_, auth) = read_state(root, command)?;
    let env = Environment::of(root)?;
    let mut settings = from_parts(&auth, &env)?;
    if settings.provider.id == providers::DEV.id && settings.client.is_err() {
        // The development issuer's own client, made with its key.
        let (store, _) = crate::dev::store::Store::open_or_create(root)?;
        settings.client = Ok(ClientCredentials {
            id: store.client_id,
            secret: store.client_secret,
        });
    }
    Ok(settings)
}

/// The text of the state file of the project at `root` and its `auth`
/// section; a usage error, naming `command`, when there is no state file.
pub fn read_state(root: &Path, command: &str) -> anyhow::Result<(String, Value)> {
    let state_path = root.join(STATE_FILE);
    let text = match std::fs::read_to_string(&state_path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(UsageError(format!(
                "`{}` has no `{STATE_FILE}`: {command} works on a project protected by add-auth\nhelp: run `mcp-builder add-auth` there first",
                root.display()
            ))
            .into());
        }
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read `{}`", state_path.display()));
        }
    };
    let auth = state::read_auth_state(&text)?.with_context(|| {
        format!("`{STATE_FILE}` has no `auth` section\nhelp: run `mcp-builder add-auth` first")
    })?;
    Ok((text, auth))
}

/// The process environment over the project's `.env`.
pub struct Environment {
    dotenv: BTreeMap<String, String>,
}

impl Environment {
    pub fn of(root: &Path) -> anyhow::Result<Self> {
        let path = root.join(".env");
        let dotenv = match std::fs::read_to_string(&path) {
            Ok(text) => dotenv::parse(&text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read `{}`", path.display()));
            }
        };
        Ok(Self { dotenv })
    }

    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| self.dotenv.get(name).cloned())
            .filter(|value| !value.trim().is_empty())
    }
}

fn from_parts(auth: &Value, env: &Environment) -> anyhow::Result<Settings> {
    let text = |key: &str| auth.get(key).and_then(Value::as_str).map(str::to_string);
    let provider_id = text("provider").context("the state has no `auth.provider`")?;
    let Some(provider) = providers::find(&provider_id) else {
        bail!(
            "the state names provider `{provider_id}`, which this version of mcp-builder does not know"
        );
    };
    let domain = env
        .get(provider.domain_var)
        .or_else(|| text("domain"))
        .with_context(|| format!("no domain: set `{}` or run add-auth", provider.domain_var))?;
    let audience = match provider.fixed_audience() {
        Some(audience) => audience.to_string(),
        None if !provider.takes_audience() => String::new(),
        None => env
            .get(provider.audience_var)
            .or_else(|| text("audience"))
            .with_context(|| {
                format!(
                    "no audience: set `{}` or run add-auth",
                    provider.audience_var
                )
            })?,
    };
    let issuer = env
        .get("MCP_AUTH_ISSUER")
        .unwrap_or_else(|| provider.issuer_for(domain.trim()));
    let introspection_url = (text("token_format").as_deref() == Some("introspection")).then(|| {
        env.get(INTROSPECTION_URL_VAR)
            .or_else(|| text("introspection_url"))
            .unwrap_or_else(|| format!("`{INTROSPECTION_URL_VAR}` (not set)"))
    });
    let jwks_url = match &introspection_url {
        Some(_) => None,
        None => env
            .get("MCP_AUTH_JWKS_URL")
            .map(|url| Known::new(url, "MCP_AUTH_JWKS_URL"))
            .or_else(|| {
                let url = provider.jwks_url_for(&issuer)?;
                Some(Known::new(url, format!("{}'s key set path", provider.name)))
            }),
    };
    let token_url = env
        .get("MCP_AUTH_TOKEN_URL")
        .map(|url| Known::new(url, "MCP_AUTH_TOKEN_URL"))
        .or_else(|| {
            let format = provider.token_url_format?;
            let url = format.replace("{location}", domain.trim().trim_end_matches('/'));
            Some(Known::new(
                url,
                format!("{}'s token endpoint", provider.name),
            ))
        });
    let leeway_secs = env
        .get("MCP_AUTH_LEEWAY_SECS")
        .and_then(|secs| secs.trim().parse().ok())
        .unwrap_or(60);

    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let scopes = auth.get("scopes").map(strings).unwrap_or_default();
    let tool_scopes = auth
        .get("tool_scopes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(tool, scopes)| (tool.clone(), strings(scopes)))
        .collect();
    let scope_implies = auth
        .get("scope_implies")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(scope, implied)| (scope.clone(), strings(implied)))
        .collect();

    let scope_claims = match text("scope_claim") {
        Some(claim) => vec![claim],
        None => provider
            .scope_claims
            .iter()
            .map(|c| c.to_string())
            .collect(),
    };
    let granted_claims = provider
        .permissions_claim
        .map(str::to_string)
        .into_iter()
        .chain(text("roles_claim").or(provider.roles_claim.map(str::to_string)))
        .collect();
    let scope_source = text("scope_source")
        .and_then(|id| crate::resolve::validate::scope_source(&id).ok())
        .unwrap_or(provider.scope_source);

    let client = match (
        env.get(provider.client_id_var),
        env.get(provider.client_secret_var),
    ) {
        (Some(id), Some(secret)) => Ok(ClientCredentials { id, secret }),
        (id, secret) => {
            let missing: Vec<&str> = [
                (provider.client_id_var, id.is_none()),
                (provider.client_secret_var, secret.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, absent)| absent.then_some(name))
            .collect();
            Err(format!(
                "{} not set\nhelp: put the client id and secret of a machine-to-machine application authorized for `{audience}` in the project's `.env` (never in flags or the state file)",
                missing.join(" and ")
            ))
        }
    };
    let resource_url = env
        .get(crate::resolve::defaults::RESOURCE_URL_VAR)
        .or_else(|| text("resource_url"))
        .unwrap_or_else(|| audience.clone());

    Ok(Settings {
        provider,
        issuer,
        audience,
        jwks_url,
        introspection_url,
        token_url,
        leeway_secs,
        resource_url,
        scopes,
        tool_scopes,
        scope_implies,
        scope_claims,
        granted_claims,
        scope_source,
        client,
    })
}

impl Settings {
    /// Whether a token with `scopes` may call a tool that needs `needed`,
    /// as the server decides: with the scopes they imply.
    pub fn grants(&self, scopes: &std::collections::BTreeSet<String>, needed: &[String]) -> bool {
        let granted = crate::resolve::hierarchy::expand(scopes, &self.scope_implies);
        needed.iter().all(|scope| granted.contains(scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(auth: Value, dotenv: &[(&str, &str)]) -> Settings {
        let env = Environment {
            dotenv: dotenv
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        };
        from_parts(&auth, &env).unwrap()
    }

    fn urls(settings: &Settings) -> (Option<Known>, Option<Known>) {
        (settings.jwks_url.clone(), settings.token_url.clone())
    }

    #[test]
    fn discovery_providers_leave_key_set_and_token_endpoint_to_discovery() {
        let oidc = settings(
            json!({ "provider": "oidc", "domain": "https://id.example.com/", "audience": "api" }),
            &[],
        );
        assert_eq!(oidc.issuer, "https://id.example.com/");
        assert_eq!(urls(&oidc), (None, None));
        assert_eq!(
            oidc.client.unwrap_err(),
            "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET not set\nhelp: put the client id and secret of a machine-to-machine application authorized for `api` in the project's `.env` (never in flags or the state file)"
        );

        let dev = settings(
            json!({ "provider": "dev", "domain": "http://127.0.0.1:9417", "audience": "http://127.0.0.1:8000/mcp" }),
            &[],
        );
        assert_eq!(
            urls(&dev),
            (
                None,
                Some(Known::new(
                    "http://127.0.0.1:9417/token".into(),
                    "Development issuer's token endpoint"
                ))
            )
        );
    }

    #[test]
    fn fixed_paths_then_environment_overrides() {
        let auth = json!({
            "provider": "keycloak", "domain": "https://kc.example.com/realms/r", "audience": "api"
        });
        assert_eq!(
            urls(&settings(auth.clone(), &[])),
            (
                Some(Known::new(
                    "https://kc.example.com/realms/r/protocol/openid-connect/certs".into(),
                    "Keycloak's key set path"
                )),
                Some(Known::new(
                    "https://kc.example.com/realms/r/protocol/openid-connect/token".into(),
                    "Keycloak's token endpoint"
                ))
            )
        );
        let overridden = settings(
            auth,
            &[
                ("MCP_AUTH_JWKS_URL", "https://keys.example.com/jwks"),
                ("MCP_AUTH_TOKEN_URL", "https://kc.example.com/token"),
                ("KEYCLOAK_CLIENT_ID", "id"),
                ("KEYCLOAK_CLIENT_SECRET", "secret"),
            ],
        );
        assert_eq!(
            urls(&overridden),
            (
                Some(Known::new(
                    "https://keys.example.com/jwks".into(),
                    "MCP_AUTH_JWKS_URL"
                )),
                Some(Known::new(
                    "https://kc.example.com/token".into(),
                    "MCP_AUTH_TOKEN_URL"
                ))
            )
        );
        assert_eq!(overridden.client.unwrap().secret, "secret");

        let opaque = settings(
            json!({ "provider": "oidc", "domain": "https://id.example.com/", "audience": "api",
                    "token_format": "introspection", "introspection_url": "https://id.example.com/introspect" }),
            &[("MCP_AUTH_JWKS_URL", "https://keys.example.com/jwks")],
        );
        assert_eq!(opaque.jwks_url, None);
    }
}
