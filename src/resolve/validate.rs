//! Checks of single answers, one function per rule, with two callers:
//! [`resolve`](super::resolve) for flags, the answers file and the state
//! file, and the dialog's prompt validators while the user types.
//!
//! Each check returns the canonical value or an [`Invalid`] saying why the
//! value is refused and what a good one looks like. It never names a flag or
//! a file: the caller says where the value came from. Nothing here reads the
//! project or prints.

use std::{collections::BTreeSet, fmt, net::IpAddr};

use crate::providers::{self, Location, Provider, ScopeSource};

/// Why a value was refused (a phrase naming the value) and what to give
/// instead (a phrase, usually with an example).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub reason: String,
    pub help: String,
}

impl Invalid {
    pub(crate) fn new(reason: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            help: help.into(),
        }
    }
}

/// As a prompt shows it under the answer: the reason, then the help on a
/// line of its own (prompts count lines by newlines, not by wrapping, so
/// short lines keep the redraw right).
impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  {}", self.reason, self.help)
    }
}

/// A provider id that `--provider` accepts.
pub fn provider(id: &str) -> Result<&'static Provider, Invalid> {
    let id = id.trim();
    providers::find(id).ok_or_else(|| {
        Invalid::new(
            format!("unknown provider `{id}`"),
            format!("use one of: {}", providers::ids().join(", ")),
        )
    })
}

/// A bare host name (an optional `:port` allowed), lowercased, without a
/// trailing slash.
pub fn domain(value: &str, provider: &Provider) -> Result<String, Invalid> {
    let domain = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let valid = !domain.is_empty()
        && domain.contains('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':');
    if !valid {
        return Err(Invalid::new(
            format!("`{domain}` is not a domain name"),
            format!(
                "give the bare host, without https:// or a path, e.g. {}",
                provider.example_domain
            ),
        ));
    }
    Ok(domain)
}

/// An absolute https URL (http only for loopback), without fragment or
/// trailing slash; scheme and host lowercased.
pub fn url(value: &str) -> Result<String, Invalid> {
    let value = value.trim();
    let bad = |why: &str| {
        Invalid::new(
            format!("`{value}` {why}"),
            "give the full URL, e.g. https://tasks.example.com/mcp",
        )
    };
    let (scheme, rest) = value
        .split_once("://")
        .ok_or_else(|| bad("is not an absolute URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.is_empty() || authority.contains(char::is_whitespace) || authority.contains('@') {
        return Err(bad("has no valid host"));
    }
    if path.contains('#')
        || path.contains('"')
        || path.contains('\\')
        || path.contains(char::is_whitespace)
    {
        return Err(bad(
            "must not contain a fragment, quotes, backslashes or spaces",
        ));
    }
    match scheme.as_str() {
        "https" => {}
        "http" if is_loopback(authority) => {}
        "http" => {
            return Err(bad(
                "uses http:// for a host that is not loopback; use https://",
            ));
        }
        _ => return Err(bad("must use https://")),
    }
    let path = path.trim_end_matches('/');
    Ok(format!(
        "{scheme}://{}{path}",
        authority.to_ascii_lowercase()
    ))
}

/// An endpoint URL as [`url`] checks it, keeping a trailing slash: the
/// server calls exactly this URL.
pub fn endpoint(value: &str) -> Result<String, Invalid> {
    let trimmed = value.trim();
    let canonical = url(trimmed).map_err(|invalid| {
        Invalid::new(
            invalid.reason,
            "give the full URL of the issuer's endpoint, e.g. https://issuer.example.com/oauth2/introspect",
        )
    })?;
    Ok(if trimmed.ends_with('/') && !canonical.ends_with('/') {
        format!("{canonical}/")
    } else {
        canonical
    })
}

/// How the generated server checks tokens (`--token-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// JWTs, verified locally with the issuer's keys (the default).
    Jwt,
    /// Opaque tokens, each checked at the issuer's RFC 7662 endpoint.
    Introspection,
}

impl TokenFormat {
    pub const ALL: [TokenFormat; 2] = [TokenFormat::Jwt, TokenFormat::Introspection];

    /// The value of `--token-format`.
    pub fn id(self) -> &'static str {
        match self {
            TokenFormat::Jwt => "jwt",
            TokenFormat::Introspection => "introspection",
        }
    }
}

/// A `--token-format` value.
pub fn token_format(value: &str) -> Result<TokenFormat, Invalid> {
    one_of(
        &TokenFormat::ALL,
        TokenFormat::id,
        value,
        "token format",
        "use jwt (tokens verified with the issuer's keys, the default) or introspection (opaque tokens checked at the issuer's RFC 7662 endpoint, with --introspection-url)",
    )
}

/// The item of `all` whose `id` is `value` (trimmed, in any case); else
/// "unknown `what` `value`" with `help`.
fn one_of<T: Copy>(
    all: &[T],
    id: fn(T) -> &'static str,
    value: &str,
    what: &str,
    help: &str,
) -> Result<T, Invalid> {
    let value = value.trim();
    all.iter()
        .copied()
        .find(|item| id(*item).eq_ignore_ascii_case(value))
        .ok_or_else(|| Invalid::new(format!("unknown {what} `{value}`"), help))
}

/// A `--scope-source` value.
pub fn scope_source(value: &str) -> Result<ScopeSource, Invalid> {
    one_of(
        &ScopeSource::ALL,
        ScopeSource::id,
        value,
        "scope source",
        "use requested (the client's requested scopes are the ceiling; permissions or roles only narrow them), permissions (the permissions or roles claim alone) or union (either counts)",
    )
}

/// Where the provider's issuer is, in the form its definition expects: a
/// bare host, an issuer URL, or a Supabase project URL.
pub fn location(value: &str, provider: &Provider) -> Result<String, Invalid> {
    let example = |invalid: Invalid| {
        Invalid::new(
            invalid.reason,
            format!("give the full URL, e.g. {}", provider.example_domain),
        )
    };
    match provider.location {
        Location::Host => domain(value, provider),
        Location::SupabaseUrl => url(value).map_err(example),
        Location::IssuerUrl => {
            let trimmed = value.trim();
            if trimmed.contains('?') {
                return Err(example(Invalid::new(
                    format!("`{trimmed}` has a query; an issuer URL has none"),
                    "",
                )));
            }
            let canonical = url(trimmed).map_err(example)?;
            // The issuer is compared exactly: its trailing slash is kept.
            Ok(if trimmed.ends_with('/') && !canonical.ends_with('/') {
                format!("{canonical}/")
            } else {
                canonical
            })
        }
    }
}

/// A Supabase project ref (lowercase letters and digits), as the project URL.
pub fn project_ref(value: &str) -> Result<String, Invalid> {
    let reference = value.trim();
    let valid = (1..=63).contains(&reference.len())
        && reference
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !valid {
        return Err(Invalid::new(
            format!("`{reference}` is not a Supabase project ref"),
            "give the ref from the project URL https://REF.supabase.co (lowercase letters and digits), or --supabase-url URL",
        ));
    }
    Ok(format!("https://{reference}.supabase.co"))
}

/// An audience that is not necessarily a URL (Entra's app id, `api://...`):
/// printable ASCII without spaces or quotes; https URLs are checked as URLs.
pub fn identifier(value: &str) -> Result<String, Invalid> {
    let value = value.trim();
    if value.starts_with("http://") || value.starts_with("https://") {
        return url(value);
    }
    if value.is_empty()
        || !value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' && c != ',')
    {
        return Err(Invalid::new(
            format!("`{value}` is not an audience"),
            "give the API identifier tokens carry in `aud`, e.g. api://tasks or https://tasks.example.com/mcp",
        ));
    }
    Ok(value.to_string())
}

/// A claim name (`scp`, `roles`, `realm_access.roles` for a nested claim)
/// or a client id: printable ASCII without spaces, quotes or commas.
pub fn claim_or_client(value: &str, what: &str) -> Result<String, Invalid> {
    let value = value.trim();
    let valid = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' && c != ',');
    if !valid {
        return Err(Invalid::new(
            format!("`{value}` is not a {what}"),
            "use printable characters without spaces, quotes or commas",
        ));
    }
    Ok(value.to_string())
}

/// The name of an environment variable: ASCII letters, digits and `_`, not
/// starting with a digit (what `.env` files and shells accept everywhere).
pub fn env_var_name(value: &str) -> Result<String, Invalid> {
    let value = value.trim();
    let valid = value
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Invalid::new(
            format!("`{value}` is not an environment variable name"),
            "give the NAME of the variable that holds the secret (letters, digits and `_`), e.g. SUPABASE_JWT_SECRET, never the secret itself",
        ));
    }
    Ok(value.to_string())
}

fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Splits a comma-separated list, trimming items and dropping empty ones.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// RFC 6749 scope tokens (printable ASCII without space, `"` or `\`), at
/// least one, duplicates dropped, order kept.
pub fn scopes(scopes: &[String]) -> Result<Vec<String>, Invalid> {
    let mut seen = BTreeSet::new();
    let mut checked = Vec::new();
    for scope in scopes
        .iter()
        .map(|scope| scope.trim())
        .filter(|scope| !scope.is_empty())
    {
        let valid = scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !valid {
            return Err(Invalid::new(
                format!(
                    "`{scope}` is not a valid scope: scopes are printable ASCII without spaces, quotes or backslashes"
                ),
                "separate scopes with commas, e.g. read:tasks,write:tasks",
            ));
        }
        if scope == "offline_access" {
            return Err(Invalid::new(
                "`offline_access` is a scope of the authorization server, not of this MCP server",
                "leave it out",
            ));
        }
        if seen.insert(scope.to_string()) {
            checked.push(scope.to_string());
        }
    }
    if checked.is_empty() {
        return Err(Invalid::new(
            "no scope given",
            "e.g. read:tasks,write:tasks",
        ));
    }
    Ok(checked)
}

/// A scope a tool is given must be one of the server's `scopes`, which the
/// message calls `scopes_name` (`--scopes`, ...).
pub fn tool_scope(
    tool: &str,
    scope: &str,
    scopes: &[String],
    scopes_name: &str,
) -> Result<String, Invalid> {
    let scope = scope.trim();
    if scopes.iter().any(|known| known == scope) {
        Ok(scope.to_string())
    } else {
        Err(Invalid::new(
            format!(
                "tool `{tool}` is given scope `{scope}`, which is not in {scopes_name} ({})",
                scopes.join(", ")
            ),
            "add it to the scopes or pick one of those",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::AUTH0;

    #[test]
    fn urls_are_canonical_and_plain_http_only_on_loopback() {
        assert_eq!(
            url("HTTPS://Tasks.Example.com/mcp/").unwrap(),
            "https://tasks.example.com/mcp"
        );
        assert_eq!(
            url("http://127.0.0.1:8000/mcp").unwrap(),
            "http://127.0.0.1:8000/mcp"
        );
        assert_eq!(
            url("http://[::1]:8000/mcp").unwrap(),
            "http://[::1]:8000/mcp"
        );
        for bad in [
            "tasks.example.com/mcp",
            "http://example.com/mcp",
            "ftp://example.com",
            "https://x.com/a#b",
            "https:///mcp",
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            url("http://example.com/mcp").unwrap_err().to_string(),
            "`http://example.com/mcp` uses http:// for a host that is not loopback; use https://\n  \
             give the full URL, e.g. https://tasks.example.com/mcp"
        );
    }

    #[test]
    fn endpoints_keep_their_trailing_slash_and_token_formats_are_two() {
        assert_eq!(
            endpoint(" HTTPS://ID.example.com/oauth2/introspect/ ").unwrap(),
            "https://id.example.com/oauth2/introspect/"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:9000/introspect").unwrap(),
            "http://127.0.0.1:9000/introspect"
        );
        for bad in [
            "http://id.example.com/introspect",
            "id.example.com/introspect",
            "https://id.example.com/introspect#x",
            "ftp://id.example.com/introspect",
        ] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
        assert_eq!(token_format(" JWT ").unwrap(), TokenFormat::Jwt);
        assert_eq!(
            token_format("introspection").unwrap(),
            TokenFormat::Introspection
        );
        assert_eq!(
            token_format("opaque").unwrap_err().reason,
            "unknown token format `opaque`"
        );
        assert_eq!(
            scope_source(" Permissions ").unwrap(),
            ScopeSource::Permissions
        );
        assert_eq!(scope_source("union").unwrap(), ScopeSource::Union);
        assert_eq!(
            scope_source("both").unwrap_err().reason,
            "unknown scope source `both`"
        );
    }

    #[test]
    fn domains_are_bare_hosts() {
        assert_eq!(
            domain(" Tasks-Test.Auth0.com/ ", &AUTH0).unwrap(),
            "tasks-test.auth0.com"
        );
        assert_eq!(
            domain("localhost.test:8443", &AUTH0).unwrap(),
            "localhost.test:8443"
        );
        for bad in ["https://tasks.auth0.com", "tasks.auth0.com/x", "tenant", ""] {
            assert!(domain(bad, &AUTH0).is_err(), "{bad}");
        }
        assert_eq!(
            domain("https://x.auth0.com", &AUTH0)
                .unwrap_err()
                .to_string(),
            "`https://x.auth0.com` is not a domain name\n  \
             give the bare host, without https:// or a path, e.g. your-tenant.auth0.com"
        );
    }

    #[test]
    fn providers_are_looked_up_by_id() {
        assert_eq!(provider(" auth0 ").unwrap().id, "auth0");
        let err = provider("ping").unwrap_err();
        assert_eq!(err.reason, "unknown provider `ping`");
        assert_eq!(
            err.help,
            "use one of: dev, auth0, oidc, supabase, keycloak, okta, entra, cognito, workos"
        );
    }

    #[test]
    fn scopes_are_rfc_6749_tokens_without_duplicates() {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            scopes(&list(&["a:b", " a:b ", "c"])).unwrap(),
            list(&["a:b", "c"])
        );
        assert_eq!(
            split_list(" read:tasks, write:tasks,,"),
            list(&["read:tasks", "write:tasks"])
        );
        for bad in [
            &["a b"][..],
            &["a\"b"],
            &["a\\b"],
            &["offline_access"],
            &[""],
        ] {
            assert!(scopes(&list(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_tool_scope_must_be_a_server_scope() {
        let known = vec!["read:tasks".to_string(), "write:tasks".to_string()];
        assert_eq!(
            tool_scope("t", " read:tasks", &known, "--scopes").unwrap(),
            "read:tasks"
        );
        assert_eq!(
            tool_scope("t", "admin", &known, "--scopes")
                .unwrap_err()
                .reason,
            "tool `t` is given scope `admin`, which is not in --scopes (read:tasks, write:tasks)"
        );
    }
}
