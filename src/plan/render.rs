//! Renders the generated auth module from the templates in `templates/auth/`.
//!
//! The templates are real Rust with a few placeholders; they are embedded in
//! the binary so the tool works from anywhere. Values that become Rust
//! literals are formatted here, the way `rustfmt` would lay them out, so the
//! generated files pass `cargo fmt --check` as written.

use std::collections::BTreeMap;

use anyhow::Context;
use handlebars::Handlebars;
use serde_json::json;

use crate::{
    providers::{Location, ScopeSource},
    resolve::Resolved,
};

/// A file of the module and its template, embedded at build time.
macro_rules! template {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../templates/auth/", $name, ".hbs")),
        )
    };
}

/// The module's files: (file name inside `auth/`, template). Files in
/// [`ONLY_FOR_INTROSPECTION`] exist only in projects whose tokens are opaque.
const TEMPLATES: &[(&str, &str)] = &[
    template!("mod.rs"),
    template!("audit.rs"),
    template!("caller.rs"),
    template!("challenge.rs"),
    template!("config.rs"),
    template!("cors.rs"),
    template!("discovery.rs"),
    template!("introspection.rs"),
    template!("jwks.rs"),
    template!("listing.rs"),
    template!("metadata.rs"),
    template!("middleware.rs"),
    template!("policy.rs"),
    template!("provider.rs"),
    template!("sessions.rs"),
    template!("startup.rs"),
    template!("testing.rs"),
    template!("verify.rs"),
];

/// The files written only for `--token-format introspection`.
const ONLY_FOR_INTROSPECTION: &[&str] = &["introspection.rs"];

/// rustfmt's default widths: `max_width`, `array_width`, `fn_call_width`
/// (also used for tuples) and `short_array_element_width_threshold`.
const MAX_WIDTH: usize = 100;
const ARRAY_WIDTH: usize = 60;
const CALL_WIDTH: usize = 60;
const SHORT_ITEM_WIDTH: usize = 10;

/// What the generated module depends on in the project it is wired into,
/// beyond the answers.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    /// The path the MCP service is mounted at, e.g. `/mcp`.
    pub mcp_path: &'a str,
    /// The module's name (`auth` unless `--module-name` says otherwise).
    pub module: &'a str,
    /// The wiring is in start-up code (`main`, or the function that binds
    /// the listener): `McpAuth::from_env_or_exit`. Otherwise (a router
    /// factory that tests may call) `McpAuth::from_env`, which never exits.
    pub exits: bool,
    /// The project's rmcp checks the `Host` header itself (1.4 and later,
    /// `StreamableHttpServerConfig::allowed_hosts`): `server_config` lets
    /// the public host through. Before 1.4 it leaves the config alone.
    pub host_check: bool,
    /// Lints the project turns on for its own code beyond the defaults,
    /// allowed in the module (e.g. `clippy::pedantic`).
    pub allowed_lints: &'a [String],
}

impl Default for Site<'_> {
    fn default() -> Self {
        Self {
            mcp_path: "/mcp",
            module: "auth",
            exits: true,
            host_check: true,
            allowed_lints: &[],
        }
    }
}

/// The rendered module: file name inside `auth/` -> contents.
pub fn auth_module(
    resolved: &Resolved,
    site: &Site,
) -> anyhow::Result<BTreeMap<&'static str, String>> {
    let mcp_path = site.mcp_path;
    let mut handlebars = Handlebars::new();
    handlebars.set_strict_mode(true);
    // The output is Rust, not HTML; every inserted value was validated.
    handlebars.register_escape_fn(handlebars::no_escape);

    let scopes = rust_strs(&resolved.scopes);
    let provider = resolved.provider;
    let options = &resolved.options;
    let introspection = options.introspection().is_some();
    let mut scope_claims: Vec<String> = match &options.scope_claim {
        Some(claim) => vec![rust_str(claim)],
        None => provider.scope_claims.iter().map(|c| rust_str(c)).collect(),
    };
    // An introspection answer carries the token's scopes in `scope` (RFC
    // 7662 section 2.2), whatever the provider's JWTs use.
    let scope = rust_str("scope");
    if introspection && !scope_claims.contains(&scope) {
        scope_claims.insert(0, scope);
    }
    let roles_claim = options.roles_claim.as_deref().or(provider.roles_claim);
    let scope_source = options.scope_source(provider);
    let required_claims: Vec<String> = provider
        .required_claims
        .iter()
        .map(|(name, value)| format!("({}, {})", rust_str(name), rust_str(value)))
        .collect();
    let data = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "provider": resolved.provider,
        // Everything that differs between providers, as Rust items.
        "location_doc": match provider.location {
            Location::Host => "the issuer's host name (the tenant domain)",
            Location::IssuerUrl => "the issuer URL, exactly as tokens carry it in `iss`",
            Location::SupabaseUrl => "the Supabase project URL",
        },
        "location_is_url": provider.location != Location::Host,
        "audience_var": option_const(
            "AUDIENCE_VAR",
            Some(provider.audience_var).filter(|var| !var.is_empty()),
        ),
        "fixed_audience": option_const("FIXED_AUDIENCE", provider.fixed_audience()),
        "warning": option_const("WARNING", provider.warning),
        // Only with the option: a provider's legacy HS256 shared secret.
        "shared_secret_var": option_const(
            "SHARED_SECRET_VAR",
            provider
                .shared_secret_flag
                .and(options.jwt_secret_env.as_deref()),
        ),
        "shared_secret_warning": option_const(
            "SHARED_SECRET_WARNING",
            options
                .jwt_secret_env
                .as_ref()
                .and(provider.shared_secret_warning),
        ),
        // Opaque tokens, checked at the issuer's RFC 7662 endpoint: the
        // sections of `mod.rs`, `config.rs` and `verify.rs` that use
        // `introspection.rs`, which exists only then.
        "introspection": introspection,
        "setup_hint": str_const("SETUP_HINT", provider.setup_hint),
        "jwks_path": option_const("JWKS_PATH", provider.jwks_path),
        "scope_claims": rust_const("SCOPE_CLAIMS", "&[&str]", &scope_claims),
        "roles_claim": option_const("ROLES_CLAIM", roles_claim),
        "permissions_claim": option_const("PERMISSIONS_CLAIM", provider.permissions_claim),
        "scope_source": format!(
            "pub const SCOPE_SOURCE: ScopeSource = ScopeSource::{};",
            scope_source.variant()
        ),
        "scope_source_doc": match scope_source {
            ScopeSource::Requested => "the requested scopes, narrowed by the permissions or roles (the intersection)",
            ScopeSource::Permissions => "the permissions or roles alone",
            ScopeSource::Union => "either kind (the union)",
        },
        "require_at_jwt": options.require_at_jwt(provider),
        "required_claims": rust_const("REQUIRED_CLAIMS", "&[(&str, &str)]", &required_claims),
        "issuer_expr": issuer_expr(provider.issuer_format),
        "mcp_path": rust_str(mcp_path),
        "module": site.module,
        "exits": site.exits,
        "host_check": site.host_check,
        "allowed_lints": site.allowed_lints.join(", "),
        "scopes_supported": rust_const("SCOPES_SUPPORTED", "&[&str]", &scopes),
        "filter_lists": resolved.filter_lists,
        "strict_tools": resolved.strict_tools,
        "tool_scopes": rust_const("TOOL_SCOPES", "&[(&str, &[&str])]", &pair_items(&resolved.tool_scopes)),
        "scope_implies": rust_const("SCOPE_IMPLIES", "&[(&str, &[&str])]", &pair_items(&resolved.scope_implies)),
        "challenge_scopes": rust_const("CHALLENGE_SCOPES", "&[&str]", &rust_strs(&resolved.challenge_scopes)),
    });

    TEMPLATES
        .iter()
        .filter(|(name, _)| introspection || !ONLY_FOR_INTROSPECTION.contains(name))
        .map(|(name, template)| {
            let rendered = handlebars
                .render_template(template, &data)
                .with_context(|| format!("cannot render template `templates/auth/{name}.hbs`"))?;
            Ok((*name, rendered))
        })
        .collect()
}

/// `(name, &[scopes])` items of a map from names to scopes.
fn pair_items(map: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    map.iter()
        .map(|(name, scopes)| format!("({}, &[{}])", rust_str(name), rust_strs(scopes).join(", ")))
        .collect()
}

/// Rust string literals.
fn rust_strs(values: &[String]) -> Vec<String> {
    values.iter().map(|value| rust_str(value)).collect()
}

/// `pub const NAME: Option<&str> = ...;` as rustfmt lays it out.
fn option_const(name: &str, value: Option<&str>) -> String {
    match value {
        None => format!("pub const {name}: Option<&str> = None;"),
        Some(value) => {
            let value = rust_str(value);
            assign(
                &format!("pub const {name}: Option<&str> ="),
                &format!("Some({value})"),
            )
            .unwrap_or_else(|| format!("pub const {name}: Option<&str> = Some(\n    {value},\n);"))
        }
    }
}

/// `pub const NAME: &str = "...";` as rustfmt lays it out.
fn str_const(name: &str, value: &str) -> String {
    let head = format!("pub const {name}: &str =");
    let value = rust_str(value);
    assign(&head, &value).unwrap_or_else(|| format!("{head} {value};"))
}

/// `head value;` on one line, or broken after `=` when only that fits;
/// `None` when neither fits.
fn assign(head: &str, value: &str) -> Option<String> {
    if head.len() + value.len() + 2 <= MAX_WIDTH {
        Some(format!("{head} {value};"))
    } else if value.len() + 5 <= MAX_WIDTH {
        Some(format!("{head}\n    {value};"))
    } else {
        None
    }
}

/// The body of the generated `issuer_for(location)`, from the definition's
/// `{location}` pattern. A path after a URL location never doubles its `/`.
fn issuer_expr(format: &str) -> String {
    if format == "{location}" {
        return "location.to_string()".into();
    }
    if let Some(rest) = format.strip_prefix("{location}/") {
        return format!("format!(\"{{}}/{rest}\", location.trim_end_matches('/'))");
    }
    format!("format!({})", rust_str(format))
}

/// A Rust string literal.
fn rust_str(value: &str) -> String {
    format!("{value:?}")
}

/// `pub const NAME: TYPE = &[items];` laid out as rustfmt lays out arrays:
/// on one line when the items fit in `array_width`, else one item per line
/// (several per line when every item is short).
fn rust_const(name: &str, ty: &str, items: &[String]) -> String {
    let joined = items.join(", ");
    let one_line = format!("pub const {name}: {ty} = &[{joined}];");
    if (joined.len() <= ARRAY_WIDTH && one_line.len() <= MAX_WIDTH) || items.is_empty() {
        return one_line;
    }
    let body = if items.iter().all(|item| item.len() <= SHORT_ITEM_WIDTH) {
        mixed_lines(items)
    } else {
        items.iter().map(|item| vertical_item(item)).collect()
    };
    format!("pub const {name}: {ty} = &[\n{body}];")
}

/// One array item at indent 4. A tuple wider than `fn_call_width` is broken
/// into one field per line at indent 8.
fn vertical_item(item: &str) -> String {
    // The item, its indent and its comma must fit on the line.
    let fits = item.len() - 2 <= CALL_WIDTH && 4 + item.len() < MAX_WIDTH;
    match item
        .strip_prefix('(')
        .and_then(|inner| inner.strip_suffix(')'))
    {
        Some(inner) if !fits => {
            let (first, rest) = inner.split_once(", ").unwrap_or((inner, ""));
            format!("    (\n        {first},\n        {rest},\n    ),\n")
        }
        _ => format!("    {item},\n"),
    }
}

/// Short items packed several to a line at indent 4.
fn mixed_lines(items: &[String]) -> String {
    let mut lines = Vec::new();
    let mut line = String::new();
    for item in items {
        let piece = format!("{item},");
        if !line.is_empty() && 4 + line.len() + 1 + piece.len() > MAX_WIDTH {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    lines.push(line);
    lines.iter().map(|line| format!("    {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use std::{
        collections::BTreeMap,
        io::Write,
        process::{Command, Stdio},
    };

    use super::*;
    use crate::{providers::AUTH0, resolve::ProviderOptions};

    fn resolved(scopes: &[&str], tools: &[(&str, &[&str])]) -> Resolved {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        Resolved {
            provider: &AUTH0,
            domain: "tasks-test.auth0.com".into(),
            audience: "https://tasks.example.com/mcp".into(),
            resource_url: None,
            scopes: scopes.clone(),
            tool_scopes: tools
                .iter()
                .map(|(tool, scopes)| {
                    (
                        tool.to_string(),
                        scopes.iter().map(|s| s.to_string()).collect(),
                    )
                })
                .collect::<BTreeMap<_, _>>(),
            options: Default::default(),
            scope_implies: crate::resolve::hierarchy::propose(&scopes),
            challenge_scopes: scopes[..1].to_vec(),
            challenge_scopes_given: false,
            filter_lists: true,
            strict_tools: false,
            add_http: false,
        }
    }

    fn example() -> Resolved {
        resolved(
            &["read:tasks", "write:tasks", "delete:tasks"],
            &[
                ("search-tasks", &["read:tasks"]),
                ("create-task", &["write:tasks"]),
                ("delete-task", &["delete:tasks"]),
            ],
        )
    }

    /// What rustfmt (the toolchain's, default settings) makes of `source`.
    fn rustfmt(source: &str) -> String {
        let mut child = Command::new("rustfmt")
            .args(["--edition", "2024", "--emit", "stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rustfmt is part of the Rust toolchain");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(source.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn every_rendered_file_is_already_rustfmt_formatted() {
        let long_scopes: Vec<String> = (0..12)
            .map(|i| format!("projects.workspace-{i}:manage"))
            .collect();
        let long_scopes: Vec<&str> = long_scopes.iter().map(String::as_str).collect();
        let many_tools: Vec<(String, Vec<&str>)> = (0..15)
            .map(|i| {
                (
                    format!("acme.workspace.tool_number_{i}"),
                    vec![long_scopes[i % 12]],
                )
            })
            .collect();
        let many_tools: Vec<(&str, &[&str])> = many_tools
            .iter()
            .map(|(tool, scopes)| (tool.as_str(), scopes.as_slice()))
            .collect();
        let short_scopes: Vec<&str> = vec![
            "r", "w", "d", "a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2", "c3", "d1", "d2", "d3",
            "e1", "e2", "e3", "f1", "f2", "f3", "g1",
        ];
        let cases = [
            example(),
            resolved(&["mcp"], &[]),
            resolved(
                &["read", "write"],
                &[("get", &["read"]), ("put", &["read", "write"])],
            ),
            resolved(&long_scopes, &many_tools),
            resolved(&short_scopes, &[("tool", &short_scopes[..3])]),
            resolved(
                &[
                    "admin:everything-in-the-workspace",
                    "read:everything-in-workspace",
                ],
                &[],
            ),
        ];
        let providers = crate::providers::ALL.iter().map(|provider| Resolved {
            provider,
            ..example()
        });
        let with_options = Resolved {
            options: ProviderOptions {
                scope_claim: Some("permissions.granted".into()),
                roles_claim: Some("realm_access.roles".into()),
                ..ProviderOptions::default()
            },
            ..example()
        };
        let legacy = Resolved {
            provider: &crate::providers::SUPABASE,
            options: ProviderOptions {
                jwt_secret_env: Some("SUPABASE_JWT_SECRET".into()),
                ..ProviderOptions::default()
            },
            ..example()
        };
        let opaque = [&crate::providers::OIDC, &crate::providers::OKTA].map(|provider| Resolved {
            provider,
            options: introspection_options(),
            ..example()
        });
        for case in cases
            .iter()
            .cloned()
            .chain(providers)
            .chain([with_options, legacy])
            .chain(opaque)
        {
            for (name, source) in auth_module(&case, &Site::default()).unwrap() {
                assert_eq!(
                    rustfmt(&source),
                    source,
                    "{name} for {:?}",
                    case.tool_scopes
                );
            }
        }
    }

    #[test]
    fn rendered_policy_and_provider_for_the_example() {
        let module = auth_module(&example(), &Site::default()).unwrap();
        insta::assert_snapshot!("policy.rs", module["policy.rs"]);
    }

    /// The hierarchy and the challenge scopes are constants of `policy.rs`
    /// only: an empty hierarchy is an empty table, an admin scope's
    /// implications are listed with the others.
    #[test]
    fn the_hierarchy_and_the_challenge_scopes_are_policy_constants() {
        let none = Resolved {
            scope_implies: BTreeMap::new(),
            challenge_scopes: vec!["write:tasks".into(), "read:tasks".into()],
            ..example()
        };
        let module = auth_module(&none, &Site::default()).unwrap();
        let policy = &module["policy.rs"];
        assert!(policy.contains("\npub const SCOPE_IMPLIES: &[(&str, &[&str])] = &[];\n"));
        assert!(policy.contains(
            "\npub const CHALLENGE_SCOPES: &[&str] = &[\"write:tasks\", \"read:tasks\"];\n"
        ));
        let example = auth_module(&example(), &Site::default()).unwrap();
        let differing: Vec<&str> = module
            .keys()
            .copied()
            .filter(|name| module[name] != example[name])
            .collect();
        assert_eq!(differing, ["policy.rs"]);
        let admin = resolved(&["read", "write", "admin"], &[("get", &["read"])]);
        let module = auth_module(&admin, &Site::default()).unwrap();
        assert!(module["policy.rs"].contains(
            "pub const SCOPE_IMPLIES: &[(&str, &[&str])] = &[\n    (\"admin\", &[\"read\", \"write\"]),\n    (\"write\", &[\"read\"]),\n];\n"
        ));
    }

    /// `auth.filter_lists` is one constant of `policy.rs`; `listing.rs`, the
    /// code it turns off, is the same either way.
    #[test]
    fn filtered_listings_can_be_turned_off_in_policy() {
        let on = auth_module(&example(), &Site::default()).unwrap();
        assert!(on["policy.rs"].contains("\npub const FILTER_LISTS: bool = true;\n"));
        let off = Resolved {
            filter_lists: false,
            ..example()
        };
        let off = auth_module(&off, &Site::default()).unwrap();
        assert!(off["policy.rs"].contains("\npub const FILTER_LISTS: bool = false;\n"));
        let differing: Vec<&str> = on
            .keys()
            .copied()
            .filter(|name| on[name] != off[name])
            .collect();
        assert_eq!(differing, ["policy.rs"]);
    }

    /// What differs between providers is all in `provider.rs`: one snapshot
    /// per definition, and one with the claim options.
    #[test]
    fn rendered_provider_for_every_provider() {
        for provider in crate::providers::ALL {
            let resolved = Resolved {
                provider,
                ..example()
            };
            let module = auth_module(&resolved, &Site::default()).unwrap();
            insta::assert_snapshot!(
                format!("provider-{}.rs", provider.id),
                module["provider.rs"]
            );
        }
        let resolved = Resolved {
            provider: &crate::providers::OIDC,
            options: ProviderOptions {
                scope_claim: Some("permissions".into()),
                roles_claim: Some("realm_access.roles".into()),
                ..ProviderOptions::default()
            },
            ..example()
        };
        let module = auth_module(&resolved, &Site::default()).unwrap();
        insta::assert_snapshot!("provider-oidc-claims.rs", module["provider.rs"]);
    }

    /// Issue 20: the scope rule and the token type are constants of
    /// `provider.rs`: the provider's defaults, or the options; nothing else
    /// changes with them.
    #[test]
    fn the_scope_source_and_require_at_jwt_are_provider_constants() {
        let provider_rs = |resolved: &Resolved| {
            auth_module(resolved, &Site::default()).unwrap()["provider.rs"].clone()
        };
        let of = |provider| Resolved {
            provider,
            ..example()
        };
        let auth0 = provider_rs(&example());
        assert!(auth0.contains("pub const SCOPE_CLAIMS: &[&str] = &[\"scope\"];"));
        assert!(
            auth0.contains("pub const PERMISSIONS_CLAIM: Option<&str> = Some(\"permissions\");")
        );
        assert!(auth0.contains("pub const SCOPE_SOURCE: ScopeSource = ScopeSource::Requested;"));
        assert!(auth0.contains("pub const REQUIRE_AT_JWT: bool = false;"));
        let keycloak = provider_rs(&of(&crate::providers::KEYCLOAK));
        assert!(keycloak.contains("pub const SCOPE_SOURCE: ScopeSource = ScopeSource::Union;"));
        assert!(keycloak.contains("pub const PERMISSIONS_CLAIM: Option<&str> = None;"));
        let dev = provider_rs(&of(&crate::providers::DEV));
        assert!(dev.contains("pub const REQUIRE_AT_JWT: bool = true;"));

        let chosen = Resolved {
            options: ProviderOptions {
                scope_source: Some("permissions".into()),
                require_at_jwt: Some(true),
                ..ProviderOptions::default()
            },
            ..example()
        };
        let module = auth_module(&chosen, &Site::default()).unwrap();
        let plain = auth_module(&example(), &Site::default()).unwrap();
        let differing: Vec<&str> = plain
            .keys()
            .copied()
            .filter(|name| plain[name] != module[name])
            .collect();
        assert_eq!(differing, ["provider.rs"]);
        let provider = &module["provider.rs"];
        assert!(
            provider.contains("pub const SCOPE_SOURCE: ScopeSource = ScopeSource::Permissions;")
        );
        assert!(provider.contains("its scopes are the permissions or roles alone;"));
        assert!(provider.contains("pub const REQUIRE_AT_JWT: bool = true;"));
    }

    /// A Supabase legacy project: the variable holding the HS256 secret (its
    /// name only) and the migration warning are all that changes, in
    /// `provider.rs`; a provider without a shared secret ignores the option.
    #[test]
    fn rendered_provider_for_a_supabase_legacy_project() {
        let options = ProviderOptions {
            jwt_secret_env: Some("SUPABASE_JWT_SECRET".into()),
            ..ProviderOptions::default()
        };
        let legacy = Resolved {
            provider: &crate::providers::SUPABASE,
            options: options.clone(),
            ..example()
        };
        let module = auth_module(&legacy, &Site::default()).unwrap();
        insta::assert_snapshot!("provider-supabase-legacy.rs", module["provider.rs"]);
        let plain = auth_module(
            &Resolved {
                provider: &crate::providers::SUPABASE,
                ..example()
            },
            &Site::default(),
        )
        .unwrap();
        let differing: Vec<&str> = plain
            .keys()
            .copied()
            .filter(|name| plain[name] != module[name])
            .collect();
        assert_eq!(differing, ["provider.rs"]);
        let auth0 = Resolved {
            options,
            ..example()
        };
        assert_eq!(
            auth_module(&auth0, &Site::default()).unwrap(),
            auth_module(&example(), &Site::default()).unwrap()
        );
    }

    fn introspection_options() -> ProviderOptions {
        ProviderOptions {
            token_format: Some("introspection".into()),
            introspection_url: Some("https://id.example.com/oauth2/introspect".into()),
            ..ProviderOptions::default()
        }
    }

    /// Opaque tokens: `introspection.rs` exists, `mod.rs`, `config.rs` and
    /// `verify.rs` gain the sections that use it, and `provider.rs` reads
    /// `scope` too (RFC 7662's member); one snapshot per file that differs
    /// from the JWT project of the same provider.
    #[test]
    fn rendered_files_for_opaque_tokens() {
        let opaque = Resolved {
            provider: &crate::providers::OKTA,
            options: introspection_options(),
            ..example()
        };
        let module = auth_module(&opaque, &Site::default()).unwrap();
        let jwt = auth_module(
            &Resolved {
                provider: &crate::providers::OKTA,
                ..example()
            },
            &Site::default(),
        )
        .unwrap();
        let differing: Vec<&str> = module
            .keys()
            .copied()
            .filter(|name| jwt.get(name) != Some(&module[name]))
            .collect();
        assert_eq!(
            differing,
            [
                "config.rs",
                "introspection.rs",
                "mod.rs",
                "provider.rs",
                "testing.rs",
                "verify.rs"
            ]
        );
        for name in differing {
            insta::assert_snapshot!(format!("introspection-{name}"), module[name]);
        }
        assert!(!jwt.contains_key("introspection.rs"));
        assert!(!jwt["mod.rs"].contains("introspection"));
    }

    #[test]
    fn only_provider_varies_with_the_provider() {
        let a = auth_module(&example(), &Site::default()).unwrap();
        let others = crate::providers::ALL
            .iter()
            .filter(|provider| provider.id != example().provider.id);
        for provider in others {
            let resolved = Resolved {
                provider,
                ..example()
            };
            let b = auth_module(&resolved, &Site::default()).unwrap();
            let differing: Vec<&str> = a
                .keys()
                .copied()
                .filter(|name| a[name] != b[name])
                .collect();
            assert_eq!(differing, ["provider.rs"], "{}", provider.id);
        }
    }

    /// `auth.strict_tools` is the default of `MCP_AUTH_STRICT_TOOLS`, one
    /// constant of `config.rs`.
    #[test]
    fn strict_tools_is_the_default_of_the_start_up_setting() {
        let lenient = auth_module(&example(), &Site::default()).unwrap();
        assert!(lenient["config.rs"].contains("\npub const DEFAULT_STRICT_TOOLS: bool = false;\n"));
        let strict = Resolved {
            strict_tools: true,
            ..example()
        };
        let strict = auth_module(&strict, &Site::default()).unwrap();
        assert!(strict["config.rs"].contains("\npub const DEFAULT_STRICT_TOOLS: bool = true;\n"));
        let differing: Vec<&str> = lenient
            .keys()
            .copied()
            .filter(|name| lenient[name] != strict[name])
            .collect();
        assert_eq!(differing, ["config.rs"]);
    }

    #[test]
    fn without_rmcp_host_check_server_config_leaves_the_config_alone() {
        let checked = auth_module(&example(), &Site::default()).unwrap();
        let unchecked = auth_module(
            &example(),
            &Site {
                host_check: false,
                ..Site::default()
            },
        )
        .unwrap();
        assert!(checked["mod.rs"].contains("config.allowed_hosts.push(host.to_string());"));
        // rmcp before 1.4 has no `allowed_hosts`: the module must not name it.
        assert!(!unchecked["mod.rs"].contains("allowed_hosts"));
        assert!(checked["startup.rs"].contains(".allowed_hosts"));
        assert!(!unchecked["startup.rs"].contains("allowed_hosts"));
        assert!(unchecked["mod.rs"].contains(
            "    pub fn server_config(&self, config: StreamableHttpServerConfig) -> StreamableHttpServerConfig {\n"
        ));
        let differing: Vec<&str> = checked
            .keys()
            .copied()
            .filter(|name| checked[name] != unchecked[name])
            .collect();
        assert_eq!(differing, ["mod.rs", "startup.rs"]);
    }

    /// The stricter lints a project sets for its own code are allowed in
    /// the module, by name, and only then.
    #[test]
    fn the_projects_stricter_lints_are_allowed_in_the_module() {
        let lints = ["clippy::pedantic".to_string(), "missing_docs".to_string()];
        let module = auth_module(
            &example(),
            &Site {
                allowed_lints: &lints,
                ..Site::default()
            },
        )
        .unwrap();
        assert!(
            module["mod.rs"].contains(
                "//! Your own tests get valid tokens, without any network, from `testing.rs`.\n\n\
                 // Held to rustc's and clippy's default lints; the stricter ones this\n\
                 // project turns on for its own code are left to it.\n\
                 #![allow(clippy::pedantic, missing_docs)]\n\nmod audit;\n"
            ),
            "{}",
            module["mod.rs"]
        );
        let plain = auth_module(&example(), &Site::default()).unwrap();
        assert!(!plain["mod.rs"].contains("#![allow"));
    }

    #[test]
    fn only_policy_and_provider_vary_with_the_answers() {
        let a = auth_module(&example(), &Site::default()).unwrap();
        let b = auth_module(
            &resolved(&["x"], &[("t", &["x"])]),
            &Site {
                mcp_path: "/api/mcp",
                ..Site::default()
            },
        )
        .unwrap();
        let differing: Vec<&str> = a
            .keys()
            .copied()
            .filter(|name| a[name] != b[name])
            .collect();
        assert_eq!(differing, ["policy.rs"]);
    }
}
