//! Resolve: turns the answers (flags, an answers file, the previous state,
//! the dialog) into one checked [`Resolved`].
//!
//! Precedence, field by field and tool by tool: flags, then the answers file,
//! then the state recorded by an earlier run, then (with `--yes`) the
//! proposals. Every value is validated here, by the checks in [`validate`]
//! that the dialog's prompts also use, so planning never sees a malformed
//! scope or URL. Problems with what the user gave are [`UsageError`]s (exit
//! code 2). Nothing here prints, asks or touches a terminal: `prompt` does.

pub mod answers;
pub mod defaults;
pub mod dotenv;
pub mod hierarchy;
pub mod propose;
#[cfg(test)]
pub(crate) mod testing;
pub mod validate;

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

pub use answers::{Answers, Given, Source};
use propose::{Access, Fallback};
use validate::{Invalid, TokenFormat};

use crate::{
    inspect::Project,
    providers::{self, AudienceCheck, Introspection, Provider, ScopeSource},
};

/// The generated server's settings for opaque tokens (see the generated
/// `config.rs`): the RFC 7662 endpoint and the client credentials it
/// presents there.
pub const INTROSPECTION_URL_VAR: &str = "MCP_AUTH_INTROSPECTION_URL";
pub const INTROSPECTION_CLIENT_ID_VAR: &str = "MCP_AUTH_INTROSPECTION_CLIENT_ID";
pub const INTROSPECTION_CLIENT_SECRET_VAR: &str = "MCP_AUTH_INTROSPECTION_CLIENT_SECRET";

/// What the user passed as flags, as given (not yet checked).
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    pub provider: Option<String>,
    pub domain: Option<String>,
    pub audience: Option<String>,
    pub resource_url: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// `TOOL=SCOPE[,SCOPE...]` items.
    pub tool_scopes: Vec<String>,
    /// `--issuer`: the location of URL-located providers (OIDC and presets).
    pub issuer: Option<String>,
    /// `--project-ref`: a Supabase project, `https://REF.supabase.co`.
    pub project_ref: Option<String>,
    /// `--supabase-url`: a Supabase project URL (self-hosted, custom domain).
    pub supabase_url: Option<String>,
    pub jwks_uri: Option<String>,
    pub scope_claim: Option<String>,
    pub roles_claim: Option<String>,
    /// `--client-id` values (the client-id allow-list).
    pub client_ids: Vec<String>,
    /// `--supabase-jwt-secret-env`: the variable holding a legacy HS256 secret.
    pub jwt_secret_env: Option<String>,
    /// `--token-format`: `jwt` (the default) or `introspection`.
    pub token_format: Option<String>,
    /// `--introspection-url`: the issuer's RFC 7662 endpoint.
    pub introspection_url: Option<String>,
    /// `--scope-implies` items: `SCOPE=SCOPE[,SCOPE...]`, or `none`.
    pub scope_implies: Vec<String>,
    /// `--challenge-scopes`: the scopes a 401 challenge names.
    pub challenge_scopes: Option<Vec<String>>,
    /// `--strict-tools`: a served tool missing from the scope map stops the
    /// generated server at start-up.
    pub strict_tools: bool,
    /// `--scope-source`: which scopes count when a token has both requested
    /// scopes and permissions or roles.
    pub scope_source: Option<String>,
    /// `--require-at-jwt[=BOOL]`: only RFC 9068 access tokens (`at+jwt`).
    pub require_at_jwt: Option<bool>,
    /// `--add-http`: a stdio-only server gets a streamable HTTP transport.
    pub add_http: bool,
}

/// Provider options: where keys, scopes and roles are when the provider's
/// defaults do not fit, and the client-id allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderOptions {
    /// Key set URL instead of the provider's path or discovery.
    pub jwks_uri: Option<String>,
    /// The claim holding scopes, instead of the provider's.
    pub scope_claim: Option<String>,
    /// A claim holding roles that count as scopes.
    pub roles_claim: Option<String>,
    /// The clients (`client_id`/`azp`) allowed to call; empty: any.
    pub client_ids: Vec<String>,
    /// Which scopes count when a token has both requested scopes and
    /// permissions or roles (`requested`, `permissions`, `union`); `None`:
    /// the provider's default. Once resolved, the id as recorded.
    pub scope_source: Option<String>,
    /// Only `typ` `at+jwt` tokens are accepted (`true`) or also `JWT` and
    /// none (`false`); `None`: the provider's default. Once resolved,
    /// `None` with introspection (the issuer judges opaque tokens).
    pub require_at_jwt: Option<bool>,
    /// The NAME of the environment variable holding the legacy shared secret
    /// (HS256) of providers that have one; the secret itself is never stored.
    pub jwt_secret_env: Option<String>,
    /// How tokens are checked: `jwt` or `introspection` as given; once
    /// resolved, `Some("introspection")` or `None` (JWTs, the default).
    pub token_format: Option<String>,
    /// The RFC 7662 endpoint that judges opaque tokens; once resolved, set
    /// exactly when the token format is `introspection`. The credentials
    /// the server presents there are read from its environment at start-up
    /// and never stored.
    pub introspection_url: Option<String>,
}

impl ProviderOptions {
    /// `self` where it has a value, `lower` elsewhere.
    pub fn or(self, lower: ProviderOptions) -> ProviderOptions {
        ProviderOptions {
            jwks_uri: self.jwks_uri.or(lower.jwks_uri),
            scope_claim: self.scope_claim.or(lower.scope_claim),
            roles_claim: self.roles_claim.or(lower.roles_claim),
            client_ids: if self.client_ids.is_empty() {
                lower.client_ids
            } else {
                self.client_ids
            },
            jwt_secret_env: self.jwt_secret_env.or(lower.jwt_secret_env),
            scope_source: self.scope_source.or(lower.scope_source),
            require_at_jwt: self.require_at_jwt.or(lower.require_at_jwt),
            // A layer that asks for another token format leaves a lower
            // layer's endpoint behind (`--token-format jwt` over a recorded
            // introspection project).
            introspection_url: match &self.token_format {
                Some(format)
                    if validate::token_format(format) != Ok(TokenFormat::Introspection) =>
                {
                    self.introspection_url
                }
                _ => self.introspection_url.or(lower.introspection_url),
            },
            token_format: self.token_format.or(lower.token_format),
        }
    }

    /// Which scopes count when a token has both kinds (resolved options).
    pub fn scope_source(&self, provider: &Provider) -> ScopeSource {
        self.scope_source
            .as_deref()
            .and_then(|id| validate::scope_source(id).ok())
            .unwrap_or(provider.scope_source)
    }

    /// Whether only `at+jwt` tokens are accepted (resolved options).
    pub fn require_at_jwt(&self, provider: &Provider) -> bool {
        self.require_at_jwt.unwrap_or(provider.require_at_jwt)
    }

    /// The introspection endpoint, when tokens are opaque and introspected
    /// (resolved options only).
    pub fn introspection(&self) -> Option<&str> {
        self.introspection_url
            .as_deref()
            .filter(|_| self.token_format.as_deref() == Some(TokenFormat::Introspection.id()))
    }
}

impl Inputs {
    /// The flags as [`Answers`]; a `--tool-scope` that is not `TOOL=SCOPE` is
    /// a usage error.
    pub fn answers(&self) -> anyhow::Result<Answers> {
        let flag = |value: &Option<String>| value.clone().map(|v| Given::new(v, Source::Flag));
        let mut tool_scopes = BTreeMap::new();
        for item in &self.tool_scopes {
            let (tool, scopes) = item.split_once('=').ok_or_else(|| {
                usage(format!(
                    "--tool-scope `{item}` is not TOOL=SCOPE\nhelp: e.g. --tool-scope search-tasks=read:tasks"
                ))
            })?;
            let scopes = validate::split_list(scopes);
            if scopes.is_empty() {
                return Err(usage(format!("--tool-scope `{item}` gives no scope")));
            }
            tool_scopes.insert(tool.trim().to_string(), Given::new(scopes, Source::Flag));
        }
        let location = self.location()?;
        let scope_implies = self.scope_implies()?;
        Ok(Answers {
            provider: flag(&self.provider),
            domain: flag(&location),
            audience: flag(&self.audience),
            resource_url: flag(&self.resource_url),
            scopes: self
                .scopes
                .clone()
                .map(|scopes| Given::new(scopes, Source::Flag)),
            tool_scopes,
            options: ProviderOptions {
                jwks_uri: self.jwks_uri.clone(),
                scope_claim: self.scope_claim.clone(),
                roles_claim: self.roles_claim.clone(),
                client_ids: self
                    .client_ids
                    .iter()
                    .flat_map(|ids| validate::split_list(ids))
                    .collect(),
                jwt_secret_env: self.jwt_secret_env.clone(),
                token_format: self.token_format.clone(),
                introspection_url: self.introspection_url.clone(),
                scope_source: self.scope_source.clone(),
                require_at_jwt: self.require_at_jwt,
            },
            scope_implies: scope_implies.map(|map| Given::new(map, Source::Flag)),
            challenge_scopes: self
                .challenge_scopes
                .clone()
                .map(|scopes| Given::new(scopes, Source::Flag)),
            filter_lists: None,
            strict_tools: self.strict_tools.then(|| Given::new(true, Source::Flag)),
            add_http: self.add_http.then(|| Given::new(true, Source::Flag)),
        })
    }

    /// The `--scope-implies` items as one map: `none` alone turns the
    /// hierarchy off; items naming the same scope add up.
    fn scope_implies(&self) -> anyhow::Result<Option<hierarchy::Hierarchy>> {
        let items: Vec<&str> = self.scope_implies.iter().map(|item| item.trim()).collect();
        if items.is_empty() {
            return Ok(None);
        }
        if items.iter().any(|item| item.eq_ignore_ascii_case("none")) {
            if items.len() > 1 {
                return Err(usage(
                    "--scope-implies none turns the hierarchy off, so it goes alone\nhelp: give either --scope-implies none or SCOPE=SCOPE items",
                ));
            }
            return Ok(Some(hierarchy::Hierarchy::new()));
        }
        let mut map = hierarchy::Hierarchy::new();
        for item in items {
            let (scope, implied) = item.split_once('=').ok_or_else(|| {
                usage(format!(
                    "--scope-implies `{item}` is not SCOPE=SCOPE[,SCOPE]\nhelp: e.g. --scope-implies delete:tasks=write:tasks,read:tasks, or --scope-implies none"
                ))
            })?;
            let implied = validate::split_list(implied);
            if implied.is_empty() {
                return Err(usage(format!(
                    "--scope-implies `{item}` gives no implied scope"
                )));
            }
            map.entry(scope.trim().to_string())
                .or_default()
                .extend(implied);
        }
        Ok(Some(map))
    }

    /// The one flag that names where the issuer is (`--domain`, `--issuer`,
    /// `--supabase-url`, `--project-ref`), checked against `--provider`.
    fn location(&self) -> anyhow::Result<Option<String>> {
        let given: Vec<(&str, &String)> = [
            ("--domain", &self.domain),
            ("--issuer", &self.issuer),
            ("--supabase-url", &self.supabase_url),
            ("--project-ref", &self.project_ref),
        ]
        .into_iter()
        .filter_map(|(flag, value)| Some((flag, value.as_ref()?)))
        .collect();
        if let [first, second, ..] = given.as_slice() {
            return Err(usage(format!(
                "{} and {} both say where the issuer is; give one",
                first.0, second.0
            )));
        }
        let provider = self
            .provider
            .as_deref()
            .and_then(|id| providers::find(id.trim()));
        if let Some(provider) = provider {
            if let Some((flag, _)) = given.first()
                && !provider.location_flags().contains(flag)
            {
                return Err(usage(format!(
                    "{flag} does not apply to --provider {}\nhelp: it takes {}",
                    provider.id,
                    provider.location_flags()
                )));
            }
            if self.jwt_secret_env.is_some() && provider.shared_secret_flag.is_none() {
                return Err(usage(format!(
                    "--supabase-jwt-secret-env does not apply to --provider {}: its tokens are verified with the issuer's public keys only\nhelp: leave --supabase-jwt-secret-env out",
                    provider.id
                )));
            }
            if let (Introspection::Unsupported(why), Some(format)) =
                (provider.introspection, &self.token_format)
                && validate::token_format(format) == Ok(TokenFormat::Introspection)
            {
                return Err(introspection_refused(provider, why));
            }
            if self.audience.is_some() && !provider.takes_audience() {
                return Err(usage(format!(
                    "--audience does not apply to --provider {}: {}\nhelp: leave --audience out",
                    provider.id,
                    match provider.fixed_audience() {
                        Some(audience) => format!("its tokens always carry `aud` `{audience}`"),
                        None => "its access tokens carry no `aud`".to_string(),
                    }
                )));
            }
        }
        if self.require_at_jwt == Some(true)
            && self.token_format.as_deref().is_some_and(|format| {
                validate::token_format(format) == Ok(TokenFormat::Introspection)
            })
        {
            return Err(usage(
                "--require-at-jwt applies to JWT access tokens: with --token-format introspection the issuer judges each opaque token and no `typ` is seen\nhelp: leave --require-at-jwt out",
            ));
        }
        match given.first() {
            Some(("--project-ref", reference)) => validate::project_ref(reference)
                .map(Some)
                .map_err(|invalid| refused("--project-ref", invalid)),
            Some((_, value)) => Ok(Some(value.to_string())),
            None => Ok(None),
        }
    }
}

/// Everything `plan` needs besides the project, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub provider: &'static Provider,
    pub domain: String,
    pub audience: String,
    /// Canonical URL of the MCP endpoint, if it differs from the audience.
    pub resource_url: Option<String>,
    pub scopes: Vec<String>,
    /// Scopes each tool needs, by MCP tool name.
    pub tool_scopes: BTreeMap<String, Vec<String>>,
    /// Checked provider options.
    pub options: ProviderOptions,
    /// Which scopes each scope implies (a broader scope grants the narrower
    /// ones); empty: none does.
    pub scope_implies: hierarchy::Hierarchy,
    /// The scopes a 401 challenge names.
    pub challenge_scopes: Vec<String>,
    /// `challenge_scopes` was given (and is recorded); otherwise it is the
    /// default ([`hierarchy::default_challenge`]), worked out at every run.
    pub challenge_scopes_given: bool,
    /// `tools/list` (and mapped prompt and resource listings) show each
    /// caller only what it may use (`auth.filter_lists`, default true).
    pub filter_lists: bool,
    /// A served tool missing from the scope map stops the generated server
    /// at start-up instead of needing every scope (`auth.strict_tools`,
    /// default false; `MCP_AUTH_STRICT_TOOLS` overrides it at run time).
    pub strict_tools: bool,
    /// The server serves MCP over an HTTP transport add-auth added to a
    /// stdio-only server (`auth.add_http`; `--add-http`).
    pub add_http: bool,
}

impl Resolved {
    /// The public URL of the MCP endpoint: `--resource-url`, else the audience.
    pub fn resource(&self) -> &str {
        self.resource_url.as_deref().unwrap_or(&self.audience)
    }

    /// The `.env` entries of the provider: (variable, real value, placeholder
    /// for `.env.example`). Empty values are written as `KEY=`.
    pub fn env_entries(&self) -> Vec<(&str, String, String)> {
        let provider = self.provider;
        let mut entries = vec![(
            provider.domain_var,
            self.domain.clone(),
            provider.example_domain.to_string(),
        )];
        if provider.takes_audience() {
            entries.push((
                provider.audience_var,
                self.audience.clone(),
                "https://api.example.com/mcp".into(),
            ));
        }
        entries.push((
            "MCP_RESOURCE_URL",
            self.resource().to_string(),
            "https://api.example.com/mcp".into(),
        ));
        if let Some(url) = &self.options.jwks_uri {
            entries.push(("MCP_AUTH_JWKS_URL", url.clone(), String::new()));
        }
        // The secret itself is set by the user: never written here, and an
        // existing value in `.env` is kept.
        if let Some(name) = &self.options.jwt_secret_env {
            entries.push((name.as_str(), String::new(), String::new()));
        }
        // Opaque tokens: the endpoint, and the credentials this server
        // presents there, which the user sets (never written here).
        if let Some(url) = self.options.introspection() {
            entries.push((INTROSPECTION_URL_VAR, url.to_string(), String::new()));
            entries.push((INTROSPECTION_CLIENT_ID_VAR, String::new(), String::new()));
            entries.push((
                INTROSPECTION_CLIENT_SECRET_VAR,
                String::new(),
                String::new(),
            ));
        }
        if !self.options.client_ids.is_empty() || provider.client_ids_required {
            entries.push((
                "MCP_AUTH_CLIENT_IDS",
                self.options.client_ids.join(","),
                String::new(),
            ));
        }
        // A local issuer's client lives with its key (`.mcp-builder/dev`).
        if !provider.local {
            entries.push((provider.client_id_var, String::new(), String::new()));
            entries.push((provider.client_secret_var, String::new(), String::new()));
        }
        entries
    }
}

/// A problem with the command line: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// A usage error for a refused value, naming where it came from.
fn refused(given_as: &str, invalid: Invalid) -> anyhow::Error {
    usage(format!(
        "{given_as}: {}\nhelp: {}",
        invalid.reason, invalid.help
    ))
}

/// Checks `given` with `check`; a refusal names the value's source.
fn checked<T>(
    given: &Given<String>,
    flag: &str,
    key: &str,
    check: impl FnOnce(&str) -> Result<T, Invalid>,
) -> anyhow::Result<T> {
    check(&given.value).map_err(|invalid| refused(&given.source.name(flag, key), invalid))
}

/// [`resolve_noted`] without the notes (for tests).
#[cfg(test)]
pub fn resolve(project: &Project, answers: &Answers, yes: bool) -> anyhow::Result<Resolved> {
    resolve_noted(project, answers, yes).map(|resolution| resolution.resolved)
}

/// What resolving decided, with what the user should be told about it.
#[derive(Debug)]
pub struct Resolution {
    pub resolved: Resolved,
    /// One sentence per group of tools given a fallback scope (the scopes
    /// have none named for their access: see [`propose`]).
    pub notes: Vec<String>,
    /// Whether a proposal filled in the scopes or a tool's scope.
    pub proposed: bool,
    /// The scope hierarchy, when it was proposed rather than given: what a
    /// preview says about it.
    pub hierarchy_note: Option<String>,
}

/// Resolves the layered `answers` (see [`Answers::or`]). With `yes`
/// (`--yes`, or a `--dry-run` without a terminal), a missing scope list or
/// tool scope takes the proposal; a missing provider, domain or audience is
/// always an error naming its flag.
pub fn resolve_noted(
    project: &Project,
    answers: &Answers,
    yes: bool,
) -> anyhow::Result<Resolution> {
    let provider = answers
        .provider
        .as_ref()
        .map(|p| checked(p, "--provider", "provider", validate::provider))
        .transpose()?;
    // What is required depends on the provider (Auth0's when none is given).
    let shape = provider.unwrap_or(&providers::AUTH0);
    let mut local_notes = Vec::new();
    let with_defaults;
    let answers = if shape.local {
        with_defaults = local_defaults(project, shape, answers, &mut local_notes);
        &with_defaults
    } else {
        answers
    };
    let missing: Vec<&str> = [
        ("--provider", answers.provider.is_none()),
        (shape.location_flags(), answers.domain.is_none()),
        (
            "--audience",
            shape.takes_audience() && answers.audience.is_none(),
        ),
        (
            "--client-id",
            shape.client_ids_required && answers.options.client_ids.is_empty(),
        ),
        (
            "--resource-url",
            !shape.takes_audience() && answers.resource_url.is_none(),
        ),
        ("--scopes", answers.scopes.is_none() && !yes),
    ]
    .into_iter()
    .filter_map(|(flag, absent)| absent.then_some(flag))
    .collect();
    let (Some(provider), Some(domain), true) = (provider, &answers.domain, missing.is_empty())
    else {
        return Err(usage(format!(
            "missing required values: {}\nhelp: without a terminal every answer comes from a flag or --answers FILE, e.g.\n  mcp-builder add-auth --provider auth0 --domain your-tenant.auth0.com --audience https://api.example.com/mcp --scopes read:tasks,write:tasks --yes",
            missing.join(", ")
        )));
    };

    let domain = checked(domain, provider.location_flags(), "domain", |v| {
        validate::location(v, provider)
    })?;
    let audience = match (provider.audience, &answers.audience) {
        (AudienceCheck::Url, Some(given)) => {
            checked(given, "--audience", "audience", validate::url)?
        }
        (AudienceCheck::Identifier, Some(given)) => {
            checked(given, "--audience", "audience", validate::identifier)?
        }
        (AudienceCheck::Fixed(audience), _) => audience.to_string(),
        _ => String::new(),
    };
    let resource_url = answers
        .resource_url
        .as_ref()
        .map(|url| checked(url, "--resource-url", "resource_url", validate::url))
        .transpose()?
        .filter(|url| *url != audience);
    if resource_url.is_none() && validate::url(&audience).is_err() {
        return Err(usage(format!(
            "missing required values: --resource-url\nhelp: the audience `{audience}` is not the MCP endpoint's URL, so give its public URL, e.g. --resource-url https://tasks.example.com/mcp"
        )));
    }
    let mut options = resolve_options(&answers.options)?;
    match (&options.jwt_secret_env, provider.shared_secret_flag) {
        (Some(name), Some(flag)) => {
            let taken = [
                provider.domain_var,
                provider.audience_var,
                provider.client_id_var,
                provider.client_secret_var,
            ];
            if taken.contains(&name.as_str()) || name.starts_with("MCP_") {
                return Err(usage(format!(
                    "{flag}: `{name}` already holds another setting\nhelp: name the variable that holds only the JWT secret, e.g. {flag} SUPABASE_JWT_SECRET"
                )));
            }
        }
        // Recorded for another provider (the flag itself is refused above):
        // this provider's tokens are verified with its public keys only.
        (Some(_), None) => options.jwt_secret_env = None,
        (None, _) => {}
    }
    check_introspection(provider, &mut options)?;
    let (scopes, scopes_name) = match &answers.scopes {
        Some(given) => (
            validate::scopes(&given.value)
                .map_err(|invalid| refused(&given.source.name("--scopes", "scopes"), invalid))?,
            given.source.name("--scopes", "scopes"),
        ),
        None => (
            propose::propose_scopes(project),
            "the proposed scopes".to_string(),
        ),
    };
    let tool_scopes = resolve_tool_scopes(project, &scopes, &scopes_name, answers, yes)?;
    let (scope_implies, hierarchy_note) = resolve_hierarchy(answers, &scopes, &scopes_name, yes)?;
    let challenge_scopes = answers
        .challenge_scopes
        .as_ref()
        .map(|given| {
            hierarchy::check_challenge(&given.value, &scopes, &scopes_name).map_err(|invalid| {
                refused(
                    &given.source.name("--challenge-scopes", "challenge_scopes"),
                    invalid,
                )
            })
        })
        .transpose()?;
    let notes = local_notes
        .into_iter()
        .chain(
            tool_scopes
                .fallbacks
                .iter()
                .map(|((access, fallback, scope), tools)| {
                    propose::fallback_note(*access, *fallback, scope, tools, &scopes_name)
                }),
        )
        .collect();

    Ok(Resolution {
        resolved: Resolved {
            provider,
            domain,
            audience,
            resource_url,
            challenge_scopes_given: challenge_scopes.is_some(),
            challenge_scopes: challenge_scopes.unwrap_or_else(|| {
                hierarchy::default_challenge(project, &scopes, &tool_scopes.scopes)
            }),
            scopes,
            tool_scopes: tool_scopes.scopes,
            options,
            scope_implies,
            filter_lists: answers
                .filter_lists
                .as_ref()
                .is_none_or(|given| given.value),
            strict_tools: answers
                .strict_tools
                .as_ref()
                .is_some_and(|given| given.value),
            add_http: project.insertion.is_some()
                || answers.add_http.as_ref().is_some_and(|given| given.value),
        },
        notes,
        proposed: answers.scopes.is_none() || tool_scopes.proposed,
        hierarchy_note,
    })
}

/// The scope hierarchy: given (checked), recorded (what still fits), else
/// with `yes` proposed (and said), else none.
fn resolve_hierarchy(
    answers: &Answers,
    scopes: &[String],
    scopes_name: &str,
    yes: bool,
) -> anyhow::Result<(hierarchy::Hierarchy, Option<String>)> {
    match &answers.scope_implies {
        Some(given) if given.source == Source::PreviousRun => {
            Ok((hierarchy::fit(&given.value, scopes), None))
        }
        Some(given) => {
            let checked =
                hierarchy::check(&given.value, scopes, scopes_name).map_err(|invalid| {
                    refused(
                        &given.source.name("--scope-implies", "scope_implies"),
                        invalid,
                    )
                })?;
            Ok((checked, None))
        }
        None if yes => {
            let proposed = hierarchy::propose(scopes);
            let note = (!proposed.is_empty()).then(|| {
                format!(
                    "the proposed scope hierarchy (a broader scope grants the narrower ones): {}; \
                     to choose otherwise pass --scope-implies SCOPE=SCOPE[,SCOPE] (repeatable), or --scope-implies none",
                    hierarchy::describe(&proposed)
                )
            });
            Ok((proposed, note))
        }
        None => Ok((hierarchy::Hierarchy::new(), None)),
    }
}

/// Each tool's scopes, and how the proposals were used.
struct ToolScopes<'p> {
    scopes: BTreeMap<String, Vec<String>>,
    /// Tools given a fallback scope, by their access, the fallback and the
    /// scope.
    fallbacks: BTreeMap<(Access, Fallback, String), Vec<&'p str>>,
    /// Whether a tool's scope was proposed.
    proposed: bool,
}

/// Opaque tokens: the provider must have an introspection endpoint, and
/// its URL must be given. `jwt` is the default and is not recorded.
fn check_introspection(provider: &Provider, options: &mut ProviderOptions) -> anyhow::Result<()> {
    if options.token_format.as_deref() != Some(TokenFormat::Introspection.id()) {
        if options.introspection_url.is_some() {
            return Err(usage(
                "--introspection-url applies only to --token-format introspection\nhelp: add --token-format introspection, or leave --introspection-url out",
            ));
        }
        options.token_format = None;
        return Ok(());
    }
    if let Introspection::Unsupported(why) = provider.introspection {
        return Err(introspection_refused(provider, why));
    }
    // Recorded for JWTs (the flag itself is refused with introspection):
    // an opaque token has no `typ` to check.
    options.require_at_jwt = None;
    if options.introspection_url.is_none() {
        return Err(usage(
            "missing required values: --introspection-url\nhelp: with --token-format introspection, give the issuer's RFC 7662 token introspection endpoint, e.g. --introspection-url https://issuer.example.com/oauth2/introspect",
        ));
    }
    Ok(())
}

fn introspection_refused(provider: &Provider, why: &str) -> anyhow::Error {
    usage(format!(
        "--token-format introspection does not apply to --provider {}: {why}\nhelp: leave --token-format out (JWTs verified with the issuer's keys), or use --provider oidc with an issuer that has an introspection endpoint",
        provider.id
    ))
}

fn resolve_options(given: &ProviderOptions) -> anyhow::Result<ProviderOptions> {
    let claim = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|value| {
                validate::claim_or_client(value, "claim name")
                    .map_err(|invalid| refused(flag, invalid))
            })
            .transpose()
    };
    Ok(ProviderOptions {
        jwks_uri: given
            .jwks_uri
            .as_deref()
            .map(|url| validate::url(url).map_err(|invalid| refused("--jwks-uri", invalid)))
            .transpose()?,
        scope_claim: claim("--scope-claim", &given.scope_claim)?,
        roles_claim: claim("--roles-claim", &given.roles_claim)?,
        client_ids: given
            .client_ids
            .iter()
            .map(|id| {
                validate::claim_or_client(id, "client id")
                    .map_err(|invalid| refused("--client-id", invalid))
            })
            .collect::<anyhow::Result<_>>()?,
        jwt_secret_env: given
            .jwt_secret_env
            .as_deref()
            .map(|name| {
                validate::env_var_name(name)
                    .map_err(|invalid| refused("--supabase-jwt-secret-env", invalid))
            })
            .transpose()?,
        token_format: given
            .token_format
            .as_deref()
            .map(|format| {
                validate::token_format(format)
                    .map(|format| format.id().to_string())
                    .map_err(|invalid| refused("--token-format", invalid))
            })
            .transpose()?,
        introspection_url: given
            .introspection_url
            .as_deref()
            .map(|url| {
                validate::endpoint(url).map_err(|invalid| refused("--introspection-url", invalid))
            })
            .transpose()?,
        scope_source: given
            .scope_source
            .as_deref()
            .map(|id| {
                validate::scope_source(id)
                    .map(|source| source.id().to_string())
                    .map_err(|invalid| refused("--scope-source", invalid))
            })
            .transpose()?,
        require_at_jwt: given.require_at_jwt,
    })
}

/// A local issuer's location and audience, where no answer names them: the
/// URL `auth dev` listens on and the MCP endpoint on this machine (a note
/// says when its port is assumed).
fn local_defaults(
    project: &Project,
    provider: &Provider,
    answers: &Answers,
    notes: &mut Vec<String>,
) -> Answers {
    let mut answers = answers.clone();
    let empty = BTreeMap::new();
    if answers.domain.is_none() {
        answers.domain = defaults::domain(provider, &Answers::default(), &empty)
            .map(|value| Given::new(value, Source::Default));
    }
    if answers.audience.is_none() {
        let (endpoint, port_known) = defaults::local_endpoint(project);
        if !port_known && answers.resource_url.is_none() {
            notes.push(format!(
                "the source names no port the server listens on, so its tokens are for `{endpoint}`; if it listens elsewhere, run again with --audience http://127.0.0.1:PORT{}",
                project.mount.mcp_path
            ));
        }
        let value = answers
            .resource_url
            .as_ref()
            .map_or(endpoint, |given| given.value.clone());
        answers.audience = Some(Given::new(value, Source::Default));
    }
    answers
}

/// Checks the answers given before the dialog starts (flags, answers file),
/// so that a bad one is reported before any question rather than after all.
pub fn check_given(project: &Project, given: &Answers) -> anyhow::Result<()> {
    let provider = given
        .provider
        .as_ref()
        .map(|p| checked(p, "--provider", "provider", validate::provider))
        .transpose()?
        .unwrap_or(crate::providers::ALL[0]);
    if let Some(domain) = &given.domain {
        checked(domain, provider.location_flags(), "domain", |v| {
            validate::location(v, provider)
        })?;
    }
    if let Some(audience) = &given.audience {
        match provider.audience {
            AudienceCheck::Url => checked(audience, "--audience", "audience", validate::url)?,
            _ => checked(audience, "--audience", "audience", validate::identifier)?,
        };
    }
    if let Some(url) = &given.resource_url {
        checked(url, "--resource-url", "resource_url", validate::url)?;
    }
    resolve_options(&given.options)?;
    if let Some(scopes) = &given.scopes {
        validate::scopes(&scopes.value)
            .map_err(|invalid| refused(&scopes.source.name("--scopes", "scopes"), invalid))?;
    }
    for (tool, scopes) in &given.tool_scopes {
        check_tool_named(project, tool, scopes.source)?;
    }
    // The hierarchy and the challenge scopes name scopes: checked against
    // the given ones here, against the answered ones by `resolve_noted`.
    if let Some(scopes) = &given.scopes {
        let scopes_name = scopes.source.name("--scopes", "scopes");
        let scopes = validate::scopes(&scopes.value).unwrap_or_default();
        if let Some(map) = &given.scope_implies {
            hierarchy::check(&map.value, &scopes, &scopes_name).map_err(|invalid| {
                refused(
                    &map.source.name("--scope-implies", "scope_implies"),
                    invalid,
                )
            })?;
        }
        if let Some(list) = &given.challenge_scopes {
            hierarchy::check_challenge(&list.value, &scopes, &scopes_name).map_err(|invalid| {
                refused(
                    &list.source.name("--challenge-scopes", "challenge_scopes"),
                    invalid,
                )
            })?;
        }
    }
    Ok(())
}

/// A tool named by the user must exist.
fn check_tool_named(project: &Project, tool: &str, source: Source) -> anyhow::Result<()> {
    if project.tools.iter().any(|known| known.name == tool) {
        return Ok(());
    }
    let known: BTreeSet<&str> = project.tools.iter().map(|t| t.name.as_str()).collect();
    Err(usage(format!(
        "{} names `{tool}`, but the project has no tool of that name\nhelp: the tools found are: {}",
        source.name("--tool-scope", "tool_scopes"),
        known.into_iter().collect::<Vec<_>>().join(", ")
    )))
}

/// Each tool's scopes: given, remembered while they fit, else (with `yes`)
/// proposed; with the tools whose proposal is a fallback.
fn resolve_tool_scopes<'p>(
    project: &'p Project,
    scopes: &[String],
    scopes_name: &str,
    answers: &Answers,
    yes: bool,
) -> anyhow::Result<ToolScopes<'p>> {
    // Tool scopes the user gave must name a tool and known scopes; the ones
    // remembered from the last run are only reused while they still fit.
    let mut explicit = BTreeMap::new();
    for (tool, given) in &answers.tool_scopes {
        if given.source == Source::PreviousRun {
            continue;
        }
        check_tool_named(project, tool, given.source)?;
        let given_as = given.source.name("--tool-scope", "tool_scopes");
        if given.value.is_empty() {
            return Err(usage(format!(
                "{given_as}: tool `{tool}` is given no scope"
            )));
        }
        let list = given
            .value
            .iter()
            .map(|scope| {
                validate::tool_scope(tool, scope, scopes, scopes_name)
                    .map_err(|invalid| refused(&given_as, invalid))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        explicit.insert(tool.clone(), list);
    }

    let mut resolved = BTreeMap::new();
    let mut fallbacks = BTreeMap::new();
    let mut proposed = false;
    let mut unresolved = Vec::new();
    for tool in &project.tools {
        if resolved.contains_key(&tool.name) {
            continue;
        }
        if let Some(list) = explicit.get(&tool.name) {
            resolved.insert(tool.name.clone(), list.clone());
            continue;
        }
        if let Some(list) = defaults::remembered_tool_scope(&tool.name, scopes, answers) {
            resolved.insert(tool.name.clone(), list);
            continue;
        }
        match (yes, propose::propose(tool, scopes)) {
            (true, Some(proposal)) => {
                proposed = true;
                if let Some(fallback) = proposal.fallback {
                    fallbacks
                        .entry((propose::access_of(tool), fallback, proposal.scope.clone()))
                        .or_insert_with(Vec::new)
                        .push(tool.name.as_str());
                }
                resolved.insert(tool.name.clone(), vec![proposal.scope]);
            }
            _ => unresolved.push(tool.name.as_str()),
        }
    }
    if !unresolved.is_empty() {
        let flags: Vec<String> = unresolved
            .iter()
            .map(|tool| format!("--tool-scope {tool}=SCOPE"))
            .collect();
        // With `yes` every tool has a proposal (the scopes are never
        // empty); should that change, the help must not ask for `--yes`.
        return Err(usage(format!(
            "no scope chosen for {}: {}\nhelp: pass {}{}",
            if unresolved.len() == 1 {
                "tool"
            } else {
                "tools"
            },
            unresolved.join(", "),
            flags.join(" "),
            if yes {
                ""
            } else {
                " (or --yes to accept the proposed scopes)"
            }
        )));
    }
    Ok(ToolScopes {
        scopes: resolved,
        fallbacks,
        proposed,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resolve::{
        answers::{Format, parse},
        testing::tasks_project,
    };

    fn flags(args: &[(&str, &str)], tool_scopes: &[&str]) -> Answers {
        let get = |name: &str| {
            args.iter()
                .find(|(flag, _)| *flag == name)
                .map(|(_, value)| value.to_string())
        };
        Inputs {
            provider: get("provider"),
            domain: get("domain"),
            issuer: get("issuer"),
            audience: get("audience"),
            resource_url: get("resource-url"),
            scopes: get("scopes").map(|s| validate::split_list(&s)),
            tool_scopes: tool_scopes.iter().map(|s| s.to_string()).collect(),
            ..Inputs::default()
        }
        .answers()
        .unwrap()
    }

    fn err(result: anyhow::Result<Resolved>) -> String {
        let err = result.unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some(), "{err}");
        err.to_string()
    }

    const FULL: &[(&str, &str)] = &[
        ("provider", "auth0"),
        ("domain", "Tasks-Test.auth0.com"),
        ("audience", "https://tasks.example.com/mcp/"),
        ("scopes", "read:tasks,write:tasks,delete:tasks"),
    ];

    /// `--provider dev --yes` needs nothing else: the issuer is where `auth
    /// dev` listens and the audience the endpoint the source binds; without
    /// a port in the source, 8000 is assumed and a note says so.
    #[test]
    fn the_development_issuer_needs_no_answer_but_the_provider() {
        let project = tasks_project();
        let answers = flags(&[("provider", "dev")], &[]);
        let resolution = resolve_noted(&project, &answers, true).unwrap();
        let resolved = resolution.resolved;
        assert_eq!(resolved.provider.id, "dev");
        assert_eq!(resolved.domain, providers::DEV_ISSUER);
        assert_eq!(resolved.audience, "http://127.0.0.1:8000/mcp");
        assert_eq!(resolved.resource(), "http://127.0.0.1:8000/mcp");
        assert!(resolution.notes.is_empty(), "{:?}", resolution.notes);

        let mut elsewhere = tasks_project();
        elsewhere.listen_port = Some(3000);
        let answers = flags(
            &[("provider", "dev"), ("issuer", "http://127.0.0.1:9500")],
            &[],
        );
        let resolved = resolve(&elsewhere, &answers, true).unwrap();
        assert_eq!(resolved.domain, "http://127.0.0.1:9500");
        assert_eq!(resolved.audience, "http://127.0.0.1:3000/mcp");

        let mut unknown = tasks_project();
        unknown.listen_port = None;
        let resolution =
            resolve_noted(&unknown, &flags(&[("provider", "dev")], &[]), true).unwrap();
        assert_eq!(resolution.resolved.audience, "http://127.0.0.1:8000/mcp");
        assert!(
            resolution.notes[0].contains("names no port")
                && resolution.notes[0].contains("--audience"),
            "{:?}",
            resolution.notes
        );
        // An explicit resource URL is the audience too.
        let answers = flags(
            &[
                ("provider", "dev"),
                ("resource-url", "http://127.0.0.1:7000/mcp"),
            ],
            &[],
        );
        let resolution = resolve_noted(&unknown, &answers, true).unwrap();
        assert_eq!(resolution.resolved.audience, "http://127.0.0.1:7000/mcp");
        assert!(resolution.notes.is_empty());
    }

    #[test]
    fn yes_accepts_the_proposed_scopes_and_tool_scopes() {
        let project = tasks_project();
        let answers = flags(&FULL[..3], &[]);
        let resolved = resolve(&project, &answers, true).unwrap();
        assert_eq!(resolved.domain, "tasks-test.auth0.com");
        assert_eq!(resolved.audience, "https://tasks.example.com/mcp");
        assert_eq!(resolved.resource_url, None);
        assert_eq!(
            resolved.scopes,
            ["read:tasks", "write:tasks", "delete:tasks"]
        );
        assert_eq!(
            resolved.tool_scopes.into_iter().collect::<Vec<_>>(),
            [
                ("create-task".to_string(), vec!["write:tasks".to_string()]),
                ("delete-task".to_string(), vec!["delete:tasks".to_string()]),
                ("search-tasks".to_string(), vec!["read:tasks".to_string()]),
            ]
        );
        // Without --yes nothing is assumed.
        assert_eq!(
            err(resolve(&project, &answers, false))
                .lines()
                .next()
                .unwrap(),
            "missing required values: --scopes"
        );
        assert_eq!(
            err(resolve(&project, &flags(FULL, &[]), false))
                .lines()
                .next()
                .unwrap(),
            "no scope chosen for tools: create-task, delete-task, search-tasks"
        );
    }

    #[test]
    fn scopes_without_a_delete_scope_map_destructive_tools_to_write_and_say_so() {
        let project = tasks_project();
        let answers = flags(&[FULL[0], FULL[1], FULL[2], ("scopes", "read,write")], &[]);
        let resolution = resolve_noted(&project, &answers, true).unwrap();
        let tool = |name: &str| resolution.resolved.tool_scopes[name].join(",");
        assert_eq!(tool("delete-task"), "write");
        assert_eq!(tool("create-task"), "write");
        assert_eq!(tool("search-tasks"), "read");
        assert_eq!(
            resolution.notes,
            [
                "--scopes has no delete scope, so the tool that deletes needs `write`, the broadest scope given: \
              delete-task; to choose otherwise, add a delete scope to the scopes or pass --tool-scope TOOL=SCOPE"
            ]
        );
        assert!(resolution.proposed);
        // A tool scope given for it wins, and nothing is said.
        let answers = flags(
            &[FULL[0], FULL[1], FULL[2], ("scopes", "mcp:read,mcp:write")],
            &["delete-task=mcp:read"],
        );
        let resolution = resolve_noted(&project, &answers, true).unwrap();
        assert_eq!(resolution.resolved.tool_scopes["delete-task"], ["mcp:read"]);
        assert_eq!(
            resolution.resolved.tool_scopes["create-task"],
            ["mcp:write"]
        );
        assert!(resolution.notes.is_empty(), "{:?}", resolution.notes);
        // Without --yes, the help offers it; it never does when it was given.
        let message = err(resolve(&project, &answers_without_tools(), false));
        assert!(
            message.ends_with(" (or --yes to accept the proposed scopes)"),
            "{message}"
        );
    }

    fn answers_without_tools() -> Answers {
        flags(
            &[
                FULL[0],
                FULL[1],
                FULL[2],
                ("scopes", "tools.read,tools.write"),
            ],
            &[],
        )
    }

    #[test]
    fn proposing_fills_what_it_can_and_names_what_it_cannot() {
        // What a preview without a terminal resolves with: the proposals.
        let project = tasks_project();
        let resolution = resolve_noted(&project, &flags(&FULL[..3], &[]), true).unwrap();
        assert_eq!(
            resolution.resolved.scopes,
            ["read:tasks", "write:tasks", "delete:tasks"]
        );
        assert_eq!(
            resolution.resolved.tool_scopes["delete-task"],
            ["delete:tasks"]
        );
        assert!(resolution.proposed && resolution.notes.is_empty());
        // Everything given: nothing proposed.
        let given = flags(
            FULL,
            &[
                "create-task=write:tasks",
                "delete-task=delete:tasks",
                "search-tasks=read:tasks",
            ],
        );
        assert!(!resolve_noted(&project, &given, true).unwrap().proposed);
        // Provider, domain and audience cannot be proposed.
        let message = err(resolve(&project, &flags(&FULL[3..], &[]), true));
        assert!(
            message.starts_with("missing required values: --provider, --domain, --audience\n"),
            "{message}"
        );
    }

    #[test]
    fn provider_options_come_from_flags_or_the_answers_file() {
        let project = tasks_project();
        let file = parse(
            "provider = \"cognito\"\ndomain = \"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x/\"\n\
             resource_url = \"https://tasks.example.com/mcp\"\nclient_ids = \"a, b\"\nscope_claim = \"scp\"\n",
            Format::Toml,
        )
        .unwrap();
        let resolved = resolve(&project, &flags(&FULL[3..], &[]).or(file.clone()), true).unwrap();
        assert_eq!(resolved.provider.id, "cognito");
        // An issuer keeps its trailing slash: `iss` is compared exactly.
        assert_eq!(
            resolved.domain,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x/"
        );
        assert_eq!(resolved.audience, "");
        assert_eq!(resolved.options.client_ids, ["a", "b"]);
        assert_eq!(resolved.options.scope_claim.as_deref(), Some("scp"));

        let mut without_clients = file;
        without_clients.options.client_ids.clear();
        assert!(
            err(resolve(&project, &without_clients, true))
                .starts_with("missing required values: --client-id\n")
        );
    }

    /// Filtered listings are on unless the answers file or the state turns
    /// them off, and what was resolved is what the state records.
    #[test]
    fn listings_are_filtered_unless_turned_off() {
        let project = tasks_project();
        let resolved = resolve(&project, &flags(FULL, &[]), true).unwrap();
        assert!(resolved.filter_lists);
        let off = parse("filter_lists = false\n", Format::Toml).unwrap();
        let resolved = resolve(&project, &flags(FULL, &[]).or(off), true).unwrap();
        assert!(!resolved.filter_lists);
        let state = crate::plan::auth_state(&resolved);
        assert_eq!(state["filter_lists"], false);
        let rerun = Answers::from_state(Some(&state));
        let resolved = resolve(&project, &flags(FULL, &[]).or(rerun), true).unwrap();
        assert!(!resolved.filter_lists);
    }

    /// The start-up check is lenient unless a flag, the answers file or
    /// the state makes it strict; the state records only a strict choice.
    #[test]
    fn strict_tools_comes_from_the_flag_the_answers_file_or_the_state() {
        let project = tasks_project();
        let resolved = resolve(&project, &flags(FULL, &[]), true).unwrap();
        assert!(!resolved.strict_tools);
        assert!(
            crate::plan::auth_state(&resolved)
                .get("strict_tools")
                .is_none()
        );
        let strict = Inputs {
            strict_tools: true,
            ..Inputs::default()
        }
        .answers()
        .unwrap();
        let resolved = resolve(&project, &strict.or(flags(FULL, &[])), true).unwrap();
        assert!(resolved.strict_tools);
        let state = crate::plan::auth_state(&resolved);
        assert_eq!(state["strict_tools"], true);
        let rerun = Answers::from_state(Some(&state));
        let resolved = resolve(&project, &flags(FULL, &[]).or(rerun), true).unwrap();
        assert!(resolved.strict_tools);
        let lenient = parse("strict_tools = false\n", Format::Toml).unwrap();
        let rerun = Answers::from_state(Some(&state));
        let resolved = resolve(&project, &flags(FULL, &[]).or(lenient).or(rerun), true).unwrap();
        assert!(!resolved.strict_tools);
    }

    #[test]
    fn missing_values_are_named_by_their_flags() {
        let message = err(resolve(&tasks_project(), &Answers::default(), true));
        assert!(
            message.starts_with("missing required values: --provider, --domain, --audience\n"),
            "{message}"
        );
    }

    #[test]
    fn flags_win_over_the_answers_file_which_wins_over_the_previous_run() {
        let project = tasks_project();
        let file = parse(
            r#"
            domain = "file.auth0.com"
            audience = "https://file.example.com/mcp"
            scopes = ["read:tasks", "write:tasks", "delete:tasks"]
            [tool_scopes]
            search-tasks = "write:tasks"
            create-task = "write:tasks"
            "#,
            Format::Toml,
        )
        .unwrap();
        let previous = Answers::from_state(Some(&json!({
            "provider": "auth0",
            "domain": "old.auth0.com",
            "audience": "https://old.example.com/mcp",
            "resource_url": "https://old.example.com/public",
            "scopes": ["read:tasks"],
            "tool_scopes": {"delete-task": ["delete:tasks"], "create-task": ["read:tasks"]}
        })));
        let answers = flags(
            &[("domain", "flag.auth0.com")],
            &["search-tasks=read:tasks"],
        )
        .or(file)
        .or(previous);
        let resolved = resolve(&project, &answers, false).unwrap();
        assert_eq!(resolved.provider.id, "auth0");
        assert_eq!(resolved.domain, "flag.auth0.com");
        assert_eq!(resolved.audience, "https://file.example.com/mcp");
        assert_eq!(
            resolved.resource_url.as_deref(),
            Some("https://old.example.com/public")
        );
        assert_eq!(
            resolved.scopes,
            ["read:tasks", "write:tasks", "delete:tasks"]
        );
        let tool = |name: &str| resolved.tool_scopes[name].join(",");
        assert_eq!(tool("search-tasks"), "read:tasks");
        assert_eq!(tool("create-task"), "write:tasks");
        assert_eq!(tool("delete-task"), "delete:tasks");
    }

    #[test]
    fn a_bad_value_names_where_it_came_from() {
        let project = tasks_project();
        let file = parse(
            "audience = \"http://tasks.example.com/mcp\"\n[tool_scopes]\narchive = \"read:tasks\"\n",
            Format::Toml,
        )
        .unwrap();
        let answers = flags(&[FULL[0], FULL[1], FULL[3]], &[]).or(file.clone());
        assert_eq!(
            err(resolve(&project, &answers, true)),
            "`audience` in the answers file: `http://tasks.example.com/mcp` uses http:// for a host \
             that is not loopback; use https://\nhelp: give the full URL, e.g. https://tasks.example.com/mcp"
        );
        assert!(check_given(&project, &answers).is_err());

        let answers = flags(FULL, &[]).or(file);
        let message = err(resolve(&project, &answers, true));
        assert_eq!(
            message,
            "`tool_scopes` in the answers file names `archive`, but the project has no tool of that name\n\
             help: the tools found are: create-task, delete-task, search-tasks"
        );
        assert_eq!(
            check_given(&project, &answers).unwrap_err().to_string(),
            message
        );

        let previous = Answers::from_state(Some(&json!({"domain": "https://old.auth0.com"})));
        let answers = flags(&[FULL[0], FULL[2], FULL[3]], &[]).or(previous);
        assert!(err(resolve(&project, &answers, true)).starts_with(
            "`auth.domain` in `mcp-builder.json`: `https://old.auth0.com` is not a domain name\n"
        ),);
    }

    #[test]
    fn a_remembered_tool_scope_is_dropped_when_its_scope_is_gone() {
        let project = tasks_project();
        let previous = Answers::from_state(Some(&json!({
            "tool_scopes": {"search-tasks": ["admin"], "gone": ["read:tasks"]}
        })));
        let answers = flags(FULL, &[]).or(previous);
        let resolved = resolve(&project, &answers, true).unwrap();
        assert_eq!(resolved.tool_scopes["search-tasks"], ["read:tasks"]);
        assert!(!resolved.tool_scopes.contains_key("gone"));
    }

    /// `--token-format introspection` with `--provider oidc`, the issuer
    /// and the endpoint, plus `extra` flags.
    fn opaque(extra: Inputs) -> anyhow::Result<Answers> {
        Inputs {
            provider: Some("oidc".into()),
            issuer: Some("https://id.example.com/".into()),
            audience: Some("api://tasks".into()),
            resource_url: Some("https://tasks.example.com/mcp".into()),
            scopes: Some(validate::split_list("read:tasks,write:tasks,delete:tasks")),
            ..extra
        }
        .answers()
    }

    /// Issue 20: which scopes count when a token has both kinds, and
    /// whether only `at+jwt` passes: the provider's default unless given;
    /// recorded only when given, so that a re-run keeps the choice.
    #[test]
    fn the_scope_source_and_require_at_jwt_default_per_provider_and_are_recorded_when_given() {
        let project = tasks_project();
        let resolved = resolve(&project, &flags(FULL, &[]), true).unwrap();
        assert_eq!(
            resolved.options.scope_source(resolved.provider),
            ScopeSource::Requested
        );
        assert!(!resolved.options.require_at_jwt(resolved.provider));
        let state = crate::plan::auth_state(&resolved);
        assert!(state.get("scope_source").is_none());
        assert!(state.get("require_at_jwt").is_none());
        assert_eq!(providers::KEYCLOAK.scope_source, ScopeSource::Union);
        let dev = Inputs {
            provider: Some("dev".into()),
            scopes: Some(validate::split_list("read:tasks,write:tasks,delete:tasks")),
            ..Inputs::default()
        };
        let dev = resolve(&project, &dev.answers().unwrap(), true).unwrap();
        assert!(dev.options.require_at_jwt(dev.provider));

        let given = Inputs {
            scope_source: Some(" Permissions ".into()),
            require_at_jwt: Some(true),
            ..Inputs::default()
        }
        .answers()
        .unwrap()
        .or(flags(FULL, &[]));
        let resolved = resolve(&project, &given, true).unwrap();
        assert_eq!(
            resolved.options.scope_source(resolved.provider),
            ScopeSource::Permissions
        );
        assert!(resolved.options.require_at_jwt(resolved.provider));
        let state = crate::plan::auth_state(&resolved);
        assert_eq!(state["scope_source"], "permissions");
        assert_eq!(state["require_at_jwt"], true);
        let again = resolve(&project, &Answers::from_state(Some(&state)), true).unwrap();
        assert_eq!(again, resolved);
        // `--require-at-jwt false` over the recorded `true`.
        let off = Inputs {
            require_at_jwt: Some(false),
            ..Inputs::default()
        }
        .answers()
        .unwrap()
        .or(Answers::from_state(Some(&state)));
        let off = resolve(&project, &off, true).unwrap();
        assert!(!off.options.require_at_jwt(off.provider));
        assert_eq!(crate::plan::auth_state(&off)["require_at_jwt"], false);

        let bad = Inputs {
            scope_source: Some("both".into()),
            ..Inputs::default()
        }
        .answers()
        .unwrap()
        .or(flags(FULL, &[]));
        assert!(
            err(resolve(&project, &bad, true))
                .starts_with("--scope-source: unknown scope source `both`\nhelp: use requested")
        );
        // Opaque tokens have no `typ`: the flag is refused, a recorded
        // value dropped.
        let opaque_at_jwt = opaque(Inputs {
            token_format: Some("introspection".into()),
            introspection_url: Some("https://id.example.com/oauth2/introspect".into()),
            require_at_jwt: Some(true),
            ..Inputs::default()
        });
        assert!(
            opaque_at_jwt
                .unwrap_err()
                .to_string()
                .starts_with("--require-at-jwt applies to JWT access tokens")
        );
        let recorded = opaque(Inputs {
            token_format: Some("introspection".into()),
            introspection_url: Some("https://id.example.com/oauth2/introspect".into()),
            ..Inputs::default()
        })
        .unwrap()
        .or(Answers::from_state(Some(
            &json!({ "require_at_jwt": true }),
        )));
        let resolved = resolve(&project, &recorded, true).unwrap();
        assert_eq!(resolved.options.require_at_jwt, None);
    }

    #[test]
    fn opaque_tokens_need_an_introspection_endpoint_that_is_recorded() {
        let project = tasks_project();
        let answers = opaque(Inputs {
            token_format: Some(" Introspection ".into()),
            introspection_url: Some("HTTPS://ID.example.com/oauth2/introspect/".into()),
            ..Inputs::default()
        })
        .unwrap();
        let resolved = resolve(&project, &answers, true).unwrap();
        assert_eq!(
            resolved.options.introspection(),
            Some("https://id.example.com/oauth2/introspect/")
        );
        let state = crate::plan::auth_state(&resolved);
        assert_eq!(state["token_format"], "introspection");
        // A re-run without flags keeps it; `--token-format jwt` drops the
        // recorded endpoint with it.
        let previous = Answers::from_state(Some(&state));
        let again = resolve(&project, &Answers::default().or(previous.clone()), true).unwrap();
        assert_eq!(again, resolved);
        let jwt = opaque(Inputs {
            token_format: Some("jwt".into()),
            ..Inputs::default()
        })
        .unwrap()
        .or(previous);
        let jwt = resolve(&project, &jwt, true).unwrap();
        assert_eq!(jwt.options.introspection(), None);
        assert_eq!(jwt.options.token_format, None);
        assert!(crate::plan::auth_state(&jwt).get("token_format").is_none());

        // The same from an answers file.
        let file = parse(
            "provider = \"okta\"\ndomain = \"https://id.example.com/oauth2/default\"\n\
             audience = \"api://tasks\"\nresource_url = \"https://tasks.example.com/mcp\"\n\
             token_format = \"introspection\"\nintrospection_url = \"https://id.example.com/oauth2/default/v1/introspect\"\n",
            Format::Toml,
        )
        .unwrap();
        let resolved = resolve(&project, &file, true).unwrap();
        assert_eq!(
            resolved.options.introspection(),
            Some("https://id.example.com/oauth2/default/v1/introspect")
        );
        let keys: Vec<&str> = resolved
            .env_entries()
            .iter()
            .map(|(key, ..)| *key)
            .collect();
        assert!(keys.contains(&INTROSPECTION_URL_VAR), "{keys:?}");
        assert!(keys.contains(&INTROSPECTION_CLIENT_SECRET_VAR), "{keys:?}");
    }

    #[test]
    fn bad_token_format_settings_are_usage_errors() {
        let project = tasks_project();
        let url = || Some("https://id.example.com/introspect".to_string());
        let cases: Vec<(Inputs, &str)> = vec![
            (
                Inputs {
                    token_format: Some("introspection".into()),
                    ..Inputs::default()
                },
                "missing required values: --introspection-url\n",
            ),
            (
                Inputs {
                    token_format: Some("paseto".into()),
                    introspection_url: url(),
                    ..Inputs::default()
                },
                "--token-format: unknown token format `paseto`\n",
            ),
            (
                Inputs {
                    introspection_url: url(),
                    ..Inputs::default()
                },
                "--introspection-url applies only to --token-format introspection\n",
            ),
            (
                Inputs {
                    token_format: Some("introspection".into()),
                    introspection_url: Some("http://id.example.com/introspect".into()),
                    ..Inputs::default()
                },
                "--introspection-url: `http://id.example.com/introspect` uses http:// for a host that is not loopback",
            ),
            (
                Inputs {
                    token_format: Some("introspection".into()),
                    introspection_url: Some("id.example.com/introspect".into()),
                    ..Inputs::default()
                },
                "--introspection-url: `id.example.com/introspect` is not an absolute URL",
            ),
        ];
        for (inputs, expected) in cases {
            let message = err(resolve(&project, &opaque(inputs).unwrap(), true));
            assert!(message.starts_with(expected), "{message}");
        }
        // Providers without an introspection endpoint: at the flags already,
        // and from an answers file.
        let supabase = Inputs {
            provider: Some("supabase".into()),
            project_ref: Some("abcdefghij".into()),
            token_format: Some("introspection".into()),
            introspection_url: url(),
            ..Inputs::default()
        };
        let message = supabase.answers().unwrap_err().to_string();
        assert!(
            message.starts_with("--token-format introspection does not apply to --provider supabase: Supabase Auth has no token introspection endpoint"),
            "{message}"
        );
        let file = parse(
            "provider = \"auth0\"\ndomain = \"x.auth0.com\"\naudience = \"https://tasks.example.com/mcp\"\n\
             token_format = \"introspection\"\nintrospection_url = \"https://x.auth0.com/introspect\"\n",
            Format::Toml,
        )
        .unwrap();
        assert!(
            err(resolve(&project, &file, true))
                .starts_with("--token-format introspection does not apply to --provider auth0")
        );
    }

    /// `FULL` plus `--scope-implies` and `--challenge-scopes` flags.
    fn with_hierarchy(implies: &[&str], challenge: Option<&str>) -> anyhow::Result<Answers> {
        let mut answers = flags(FULL, &[]);
        let more = Inputs {
            scope_implies: implies.iter().map(|s| s.to_string()).collect(),
            challenge_scopes: challenge.map(validate::split_list),
            ..Inputs::default()
        }
        .answers()?;
        answers.scope_implies = more.scope_implies;
        answers.challenge_scopes = more.challenge_scopes;
        Ok(answers)
    }

    fn hierarchy_of(pairs: &[(&str, &[&str])]) -> hierarchy::Hierarchy {
        pairs
            .iter()
            .map(|(scope, implied)| {
                let implied = implied.iter().map(|s| s.to_string()).collect();
                (scope.to_string(), implied)
            })
            .collect()
    }

    #[test]
    fn yes_takes_the_proposed_hierarchy_says_so_and_a_rerun_keeps_the_record() {
        let project = tasks_project();
        let proposed = hierarchy_of(&[
            ("delete:tasks", &["read:tasks", "write:tasks"]),
            ("write:tasks", &["read:tasks"]),
        ]);
        let resolution = resolve_noted(&project, &flags(FULL, &[]), true).unwrap();
        assert_eq!(resolution.resolved.scope_implies, proposed);
        assert_eq!(
            resolution.hierarchy_note.as_deref(),
            Some(
                "the proposed scope hierarchy (a broader scope grants the narrower ones): \
                 delete:tasks -> read:tasks, write:tasks; write:tasks -> read:tasks; to choose otherwise \
                 pass --scope-implies SCOPE=SCOPE[,SCOPE] (repeatable), or --scope-implies none"
            )
        );
        // Without --yes nothing is proposed: no hierarchy.
        let resolution = resolve_noted(&project, &flags(FULL, &[]), false);
        let resolution = resolution.unwrap_or_else(|_| {
            let tools = [
                "create-task=write:tasks",
                "delete-task=delete:tasks",
                "search-tasks=read:tasks",
            ];
            resolve_noted(&project, &flags(FULL, &tools), false).unwrap()
        });
        assert!(resolution.resolved.scope_implies.is_empty());
        assert_eq!(resolution.hierarchy_note, None);

        // Recorded always, empty too; a re-run keeps what was recorded,
        // also with --yes, and flags win over the record.
        let state = crate::plan::auth_state(&resolve(&project, &flags(FULL, &[]), true).unwrap());
        assert_eq!(
            state["scope_implies"],
            json!({"delete:tasks": ["read:tasks", "write:tasks"], "write:tasks": ["read:tasks"]})
        );
        let previous = Answers::from_state(Some(&state));
        let again = resolve_noted(&project, &Answers::default().or(previous), true).unwrap();
        assert_eq!(again.resolved.scope_implies, proposed);
        assert_eq!(again.hierarchy_note, None);
        let off = resolve(&project, &with_hierarchy(&["none"], None).unwrap(), true).unwrap();
        assert!(off.scope_implies.is_empty());
        let state = crate::plan::auth_state(&off);
        assert_eq!(state["scope_implies"], json!({}));
        let previous = Answers::from_state(Some(&state));
        let again = resolve(&project, &Answers::default().or(previous.clone()), true).unwrap();
        assert!(again.scope_implies.is_empty());
        let given = with_hierarchy(&["delete:tasks=read:tasks"], None).unwrap();
        let flagged = resolve(&project, &given.or(previous), true).unwrap();
        assert_eq!(
            flagged.scope_implies,
            hierarchy_of(&[("delete:tasks", &["read:tasks"])])
        );
        // A recorded implication whose scope is gone is dropped.
        let previous = Answers::from_state(Some(&json!({
            "scope_implies": {"admin": ["read:tasks"], "delete:tasks": ["gone", "write:tasks"]}
        })));
        let trimmed = resolve(&project, &flags(FULL, &[]).or(previous), true).unwrap();
        assert_eq!(
            trimmed.scope_implies,
            hierarchy_of(&[("delete:tasks", &["write:tasks"])])
        );
    }

    #[test]
    fn the_hierarchy_is_off_with_none_or_an_empty_table_and_checked_by_source() {
        let project = tasks_project();
        for text in ["[scope_implies]\n", "scope_implies = {}\n"] {
            let file = parse(text, Format::Toml).unwrap();
            let resolved = resolve(&project, &flags(FULL, &[]).or(file), true).unwrap();
            assert!(resolved.scope_implies.is_empty(), "{text}");
        }
        let json = parse(
            r#"{"scope_implies": {"delete:tasks": "write:tasks, read:tasks"}}"#,
            Format::Json,
        )
        .unwrap();
        let resolved = resolve(&project, &flags(FULL, &[]).or(json), true).unwrap();
        assert_eq!(
            resolved.scope_implies,
            hierarchy_of(&[("delete:tasks", &["read:tasks", "write:tasks"])])
        );

        let message = err(resolve(
            &project,
            &with_hierarchy(&["admin=read:tasks"], None).unwrap(),
            true,
        ));
        assert_eq!(
            message,
            "--scope-implies: the scope hierarchy names `admin`, which is not in --scopes \
             (read:tasks, write:tasks, delete:tasks)\nhelp: name only the server's scopes, e.g. \
             delete:tasks=write:tasks,read:tasks"
        );
        let file = parse(
            "[scope_implies]\n\"read:tasks\" = \"write:tasks\"\n\"write:tasks\" = [\"read:tasks\"]\n",
            Format::Toml,
        )
        .unwrap();
        let answers = flags(FULL, &[]).or(file.clone());
        assert!(err(resolve(&project, &answers, true)).starts_with(
            "`scope_implies` in the answers file: the scope hierarchy has a cycle: \
                 read:tasks -> write:tasks -> read:tasks\nhelp: "
        ));
        // Before the dialog too.
        assert!(check_given(&project, &answers).is_err());
        let message = err(resolve(
            &project,
            &with_hierarchy(&["read:tasks=read:tasks"], None).unwrap(),
            true,
        ));
        assert!(message.contains("`read:tasks` implies itself"), "{message}");
        for (items, expected) in [
            (
                &["delete:tasks"][..],
                "--scope-implies `delete:tasks` is not SCOPE=SCOPE[,SCOPE]\n",
            ),
            (
                &["delete:tasks= ,"],
                "--scope-implies `delete:tasks= ,` gives no implied scope",
            ),
            (
                &["none", "a=b"],
                "--scope-implies none turns the hierarchy off, so it goes alone\n",
            ),
        ] {
            let message = with_hierarchy(items, None).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{message}");
        }
        // Items naming the same scope add up.
        let answers = with_hierarchy(
            &["delete:tasks=write:tasks", "delete:tasks=read:tasks"],
            None,
        )
        .unwrap();
        assert_eq!(
            resolve(&project, &answers, true).unwrap().scope_implies,
            hierarchy_of(&[("delete:tasks", &["read:tasks", "write:tasks"])])
        );
    }

    #[test]
    fn challenge_scopes_default_to_the_read_tools_and_are_recorded_only_when_given() {
        let project = tasks_project();
        let resolved = resolve(&project, &flags(FULL, &[]), true).unwrap();
        assert_eq!(resolved.challenge_scopes, ["read:tasks"]);
        assert!(!resolved.challenge_scopes_given);
        assert!(
            crate::plan::auth_state(&resolved)
                .get("challenge_scopes")
                .is_none()
        );

        let answers = with_hierarchy(&[], Some("write:tasks, read:tasks")).unwrap();
        let resolved = resolve(&project, &answers, true).unwrap();
        assert_eq!(resolved.challenge_scopes, ["write:tasks", "read:tasks"]);
        let state = crate::plan::auth_state(&resolved);
        assert_eq!(
            state["challenge_scopes"],
            json!(["write:tasks", "read:tasks"])
        );
        let again = resolve(&project, &Answers::from_state(Some(&state)), true).unwrap();
        assert_eq!(again, resolved);

        let answers = with_hierarchy(&[], Some("admin")).unwrap();
        assert_eq!(
            err(resolve(&project, &answers, true)),
            "--challenge-scopes: challenge scope `admin` is not in --scopes (read:tasks, write:tasks, \
             delete:tasks)\nhelp: name scopes of the server, e.g. the read scope"
        );
        let file = parse("challenge_scopes = [\"read tasks\"]\n", Format::Toml).unwrap();
        assert!(
            err(resolve(&project, &flags(FULL, &[]).or(file), true)).starts_with(
                "`challenge_scopes` in the answers file: `read tasks` is not a valid scope"
            )
        );
    }

    #[test]
    fn tool_scope_flags_are_tool_equals_scopes() {
        let bad = Inputs {
            tool_scopes: vec!["search-tasks".into()],
            ..Inputs::default()
        };
        assert!(
            bad.answers()
                .unwrap_err()
                .to_string()
                .starts_with("--tool-scope `search-tasks` is not TOOL=SCOPE\n")
        );
        let empty = Inputs {
            tool_scopes: vec!["search-tasks= ,".into()],
            ..Inputs::default()
        };
        assert_eq!(
            empty.answers().unwrap_err().to_string(),
            "--tool-scope `search-tasks= ,` gives no scope"
        );
        let two = flags(&[], &["a = x, y"]);
        assert_eq!(two.tool_scopes["a"].value, ["x", "y"]);
    }
}
