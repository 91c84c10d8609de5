//! What a token says and whether the project's server would accept it.
//!
//! The checks mirror the generated `src/auth/verify.rs`: algorithm in the
//! provider's allow-list, a key of that algorithm with the token's `kid` in
//! the issuer's JWKS, a valid signature, `iss` exactly the issuer, `aud`
//! containing the audience, `exp` in the future and `nbf` in the past
//! (with the configured leeway). Each is reported on its own.

use std::{
    collections::BTreeSet,
    time::{SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{AlgorithmParameters, JwkSet},
};
use serde_json::Value;

use super::{
    http::{self, Client},
    report::Check,
    settings::Settings,
};
use crate::providers::ScopeSource;

/// A token taken apart.
pub struct Explained {
    /// `None` for an opaque (non-JWT) token.
    pub header: Option<Value>,
    pub claims: Option<Value>,
    pub checks: Vec<Check>,
    /// The token's scopes as the server reads them ([`token_scopes`]).
    pub scopes: BTreeSet<String>,
}

/// Takes `token` apart and checks it like the server; `jwks` is the key
/// set's URL, or why it is unknown.
pub fn explain(
    client: &Client,
    settings: &Settings,
    jwks: Result<&str, &str>,
    token: &str,
) -> Explained {
    let Some((header, claims)) = decode_unverified(token) else {
        return Explained {
            header: None,
            claims: None,
            checks: vec![Check::fail(
                "token is a JWT",
                format!(
                    "the provider issued an opaque token, which the server cannot verify: `{}` is not set up at the provider as an API that issues JWT access tokens",
                    settings.audience
                ),
            )],
            scopes: BTreeSet::new(),
        };
    };
    let mut checks = vec![Check::pass(
        "token is a JWT",
        "three base64url parts with a JSON header and claims",
    )];

    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    let allowed: Vec<&str> = settings.provider.algorithms.to_vec();
    let algorithm = alg_name
        .parse::<Algorithm>()
        .ok()
        .filter(|_| allowed.contains(&alg_name));
    checks.push(match algorithm {
        Some(_) => Check::pass("algorithm is allowed", alg_name),
        None => Check::fail(
            "algorithm is allowed",
            format!("`{alg_name}` is not one of {}", allowed.join(", ")),
        ),
    });
    let kid = header.get("kid").and_then(Value::as_str);
    checks.push(signature_check(client, jwks, token, algorithm, kid));

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    checks.extend(claim_checks(settings, &claims, now));

    let scopes = token_scopes(settings, &claims);
    Explained {
        header: Some(header),
        claims: Some(claims),
        checks,
        scopes,
    }
}

/// The scopes the server reads from `claims`, as the generated
/// `verify::scopes_of` does: the requested scopes and the permissions or
/// roles, each kind expanded by the hierarchy, combined by the project's
/// scope source when the token has both. Strings split on U+0020 only;
/// array items are one scope each.
fn token_scopes(settings: &Settings, claims: &Value) -> BTreeSet<String> {
    let kind = |names: &[String]| -> Option<BTreeSet<String>> {
        let mut found: Option<BTreeSet<String>> = None;
        for name in names {
            let Some(value) = name
                .split('.')
                .try_fold(claims, |value, part| value.get(part))
            else {
                continue;
            };
            let scopes = found.get_or_insert_with(BTreeSet::new);
            let items: Vec<&str> = match value {
                Value::String(text) => text.split(' ').collect(),
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            scopes.extend(
                items
                    .into_iter()
                    .filter(|scope| !scope.is_empty())
                    .map(str::to_string),
            );
        }
        found.map(|scopes| crate::resolve::hierarchy::expand(&scopes, &settings.scope_implies))
    };
    match (kind(&settings.scope_claims), kind(&settings.granted_claims)) {
        (Some(mut requested), Some(granted)) => match settings.scope_source {
            ScopeSource::Requested => {
                requested.retain(|scope| granted.contains(scope));
                requested
            }
            ScopeSource::Permissions => granted,
            ScopeSource::Union => {
                requested.extend(granted);
                requested
            }
        },
        (Some(only), None) | (None, Some(only)) => only,
        (None, None) => BTreeSet::new(),
    }
}

/// Header and claims of a JWT, without any verification (for display).
fn decode_unverified(token: &str) -> Option<(Value, Value)> {
    if token.split('.').count() != 3 {
        return None;
    }
    let data = jsonwebtoken::dangerous::insecure_decode::<Value>(token).ok()?;
    let header = serde_json::to_value(&data.header).ok()?;
    Some((header, data.claims))
}

fn signature_check(
    client: &Client,
    jwks: Result<&str, &str>,
    token: &str,
    algorithm: Option<Algorithm>,
    kid: Option<&str>,
) -> Check {
    const NAME: &str = "signed by a key of the issuer";
    let Some(algorithm) = algorithm else {
        return Check::fail(NAME, "not checked: the algorithm is not allowed");
    };
    let Some(kid) = kid else {
        return Check::fail(NAME, "the token has no `kid`: the server cannot pick a key");
    };
    let jwks_url = match jwks {
        Ok(url) => url,
        Err(why) => return Check::fail(NAME, format!("no key set to check it with: {why}")),
    };
    let set = match fetch_jwks(client, jwks_url) {
        Ok(set) => set,
        Err(err) => {
            return Check::fail(
                NAME,
                format!("cannot read the JWKS at `{jwks_url}`: {err:#}"),
            );
        }
    };
    let Some(jwk) = set.find(kid) else {
        return Check::fail(NAME, format!("no key `{kid}` in `{jwks_url}`"));
    };
    let fits = matches!(
        (&jwk.algorithm, algorithm),
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ) | (
            AlgorithmParameters::EllipticCurve(_),
            Algorithm::ES256 | Algorithm::ES384
        )
    );
    let key = match DecodingKey::from_jwk(jwk) {
        Ok(key) if fits => key,
        _ => {
            return Check::fail(
                NAME,
                format!("key `{kid}` is not a {algorithm:?} signing key"),
            );
        }
    };
    // Signature only: the claims are checked one by one below.
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    match jsonwebtoken::decode::<Value>(token, &key, &validation) {
        Ok(_) => Check::pass(NAME, format!("key `{kid}` from {jwks_url}")),
        Err(err) => Check::fail(
            NAME,
            format!("the signature does not verify with key `{kid}`: {err}"),
        ),
    }
}

fn fetch_jwks(client: &Client, url: &str) -> anyhow::Result<JwkSet> {
    let response = client
        .send(client.get(http::url("JWKS URL", url)?))?
        .error_for_status()?;
    Ok(serde_json::from_str(&client.text(response)?)?)
}

fn claim_checks(settings: &Settings, claims: &Value, now: u64) -> Vec<Check> {
    let mut checks = Vec::new();
    let iss = claims.get("iss").and_then(Value::as_str);
    checks.push(match iss {
        Some(iss) if iss == settings.issuer => Check::pass("issuer matches", iss),
        Some(iss) => Check::fail(
            "issuer matches",
            format!(
                "`{iss}`, but the server expects `{}` exactly",
                settings.issuer
            ),
        ),
        None => Check::fail("issuer matches", "the token has no `iss`"),
    });

    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    checks.push(if audiences.contains(&settings.audience.as_str()) {
        Check::pass("audience matches", audiences.join(", "))
    } else if audiences.is_empty() {
        Check::fail("audience matches", "the token has no `aud`")
    } else {
        Check::fail(
            "audience matches",
            format!(
                "`{}`, but the server expects `{}`",
                audiences.join(", "),
                settings.audience
            ),
        )
    });

    let leeway = settings.leeway_secs;
    checks.push(match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp + leeway > now => Check::pass(
            "not expired",
            format!("expires in {}", duration(exp.saturating_sub(now))),
        ),
        Some(exp) => Check::fail(
            "not expired",
            format!("expired {} ago", duration(now - exp)),
        ),
        None => Check::fail("not expired", "the token has no `exp`"),
    });
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_u64)
        && nbf > now + leeway
    {
        checks.push(Check::fail(
            "already valid",
            format!("valid only in {}", duration(nbf - now)),
        ));
    }
    checks.push(match claims.get("sub").and_then(Value::as_str) {
        Some(sub) => Check::pass("has a subject", sub),
        None => Check::fail(
            "has a subject",
            "the token has no `sub`: the server refuses it",
        ),
    });
    checks
}

fn duration(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::providers::AUTH0;

    fn settings() -> Settings {
        Settings {
            provider: &AUTH0,
            issuer: "https://tenant.auth0.com/".into(),
            audience: "https://api.example.com/mcp".into(),
            jwks_url: None,
            introspection_url: None,
            token_url: None,
            leeway_secs: 60,
            scopes: vec![],
            tool_scopes: Default::default(),
            scope_implies: Default::default(),
            scope_claims: vec!["scope".into()],
            granted_claims: vec!["permissions".into()],
            scope_source: ScopeSource::Requested,
            resource_url: "https://api.example.com/mcp".into(),
            client: Ok(super::super::settings::ClientCredentials {
                id: "id".into(),
                secret: "secret".into(),
            }),
        }
    }

    fn failed(checks: &[Check]) -> Vec<(&str, &str)> {
        checks
            .iter()
            .filter(|check| check.failed())
            .map(|check| (check.name.as_str(), check.detail.as_str()))
            .collect()
    }

    #[test]
    fn claims_are_checked_like_the_server_does() {
        let now = 1_000_000;
        let good = serde_json::json!({
            "iss": "https://tenant.auth0.com/", "sub": "client@clients",
            "aud": ["https://api.example.com/mcp", "https://tenant.auth0.com/userinfo"],
            "exp": now + 600,
        });
        assert_eq!(failed(&claim_checks(&settings(), &good, now)), []);

        let bad = serde_json::json!({
            "iss": "https://tenant.auth0.com", "aud": "https://other.example.com",
            "exp": now - 3600, "nbf": now + 7200,
        });
        assert_eq!(
            failed(&claim_checks(&settings(), &bad, now)),
            [
                (
                    "issuer matches",
                    "`https://tenant.auth0.com`, but the server expects `https://tenant.auth0.com/` exactly"
                ),
                (
                    "audience matches",
                    "`https://other.example.com`, but the server expects `https://api.example.com/mcp`"
                ),
                ("not expired", "expired 60 min ago"),
                ("already valid", "valid only in 2 h"),
                (
                    "has a subject",
                    "the token has no `sub`: the server refuses it"
                ),
            ]
        );
    }

    #[test]
    fn an_opaque_token_is_explained() {
        let client = http::client(std::time::Duration::from_secs(1)).unwrap();
        let explained = explain(&client, &settings(), Err("unused"), "3JwPaQhQ6mH2yq0PXx2k");
        assert!(explained.header.is_none());
        assert_eq!(explained.checks.len(), 1);
        assert!(explained.checks[0].failed());
        assert!(
            explained.checks[0]
                .detail
                .starts_with("the provider issued an opaque token")
        );
    }

    /// Issue 20: `auth test` reads a token's scopes as the server does.
    #[test]
    fn scopes_are_read_like_the_server_does() {
        let mut settings = settings();
        settings.scope_implies =
            BTreeMap::from([("delete:x".to_string(), vec!["read:x".to_string()])]);
        let read = |settings: &Settings, claims: Value| -> Vec<String> {
            token_scopes(settings, &claims).into_iter().collect()
        };
        let both = serde_json::json!({
            "scope": "delete:x write:x\u{a0}other",
            "permissions": ["read:x", "write:x\u{a0}other", "admin"],
        });
        assert_eq!(
            read(&settings, both.clone()),
            ["read:x", "write:x\u{a0}other"]
        );
        settings.scope_source = ScopeSource::Permissions;
        assert_eq!(
            read(&settings, both.clone()),
            ["admin", "read:x", "write:x\u{a0}other"]
        );
        settings.scope_source = ScopeSource::Union;
        assert_eq!(
            read(&settings, both),
            ["admin", "delete:x", "read:x", "write:x\u{a0}other"]
        );
        let only = serde_json::json!({ "permissions": ["a b"] });
        assert_eq!(read(&settings, only), ["a b"]);
        assert!(read(&settings, serde_json::json!({})).is_empty());
    }
}
