//! Answers and where they came from: flags, an answers file (`--answers`),
//! the state an earlier run recorded, or the dialog.
//!
//! An [`Answers`] value holds any subset of the answers, each with its
//! [`Source`]; [`Answers::or`] layers them (flags over the answers file over
//! the previous state). The answers file is TOML or JSON with the keys of the
//! `auth` object in `mcp-builder.json`, so a recorded run can be replayed:
//!
//! ```toml
//! provider = "auth0"
//! domain = "your-tenant.auth0.com"
//! audience = "https://tasks.example.com/mcp"
//! resource_url = "https://tasks.example.com/mcp"   # optional
//! scopes = ["read:tasks", "write:tasks"]            # or "read:tasks,write:tasks"
//!
//! [tool_scopes]
//! search-tasks = "read:tasks"                       # or ["read:tasks", ...]
//!
//! [scope_implies]                                   # optional; `{}`: none
//! "delete:tasks" = ["write:tasks", "read:tasks"]     # or "write:tasks,read:tasks"
//! ```
//!
//! `challenge_scopes` (a list) names the scopes a 401 challenge asks for
//! (default: what the read-only tools need). `scope_implies` is taken
//! whole: a higher layer's map replaces a lower one's, and an empty one
//! turns the hierarchy off.
//!
//! Provider options take the keys `jwks_uri`, `scope_claim`, `roles_claim`,
//! `client_ids` (a list), `jwt_secret_env` (the NAME of the variable
//! holding a Supabase legacy JWT secret), `token_format` (`jwt` or
//! `introspection`), `introspection_url`, `scope_source` (`requested`,
//! `permissions` or `union`: which scopes count when a token has both
//! requested scopes and permissions or roles) and `require_at_jwt` (a
//! boolean: only RFC 9068 `at+jwt` tokens); `domain` holds the provider's
//! location (an Auth0 domain, an issuer URL, a Supabase project URL).
//!
//! Values are checked later, by `resolve`; parsing here only rejects what is
//! not this shape (unknown keys included, to catch typos).

use std::{collections::BTreeMap, fmt, fs, path::Path};

use serde::Deserialize;
use serde_json::Value;

use super::{UsageError, hierarchy::Hierarchy, validate};
use crate::plan::STATE_FILE;

/// Where an answer came from; messages about a bad value name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    AnswersFile,
    PreviousRun,
    Dialog,
    /// Known without asking (the development issuer's URL and audience).
    Default,
}

impl Source {
    /// How a message names the value: `--domain`, "`domain` in the answers
    /// file", ...
    pub fn name(self, flag: &str, key: &str) -> String {
        match self {
            Source::Flag => flag.to_string(),
            Source::AnswersFile => format!("`{key}` in the answers file"),
            Source::PreviousRun => format!("`auth.{key}` in `{STATE_FILE}`"),
            Source::Dialog => format!("the {}", key.replace('_', " ")),
            Source::Default => format!("the default {}", key.replace('_', " ")),
        }
    }
}

/// One answer and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Given<T> {
    pub fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}

/// Any subset of the answers add-auth needs, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub provider: Option<Given<String>>,
    pub domain: Option<Given<String>>,
    pub audience: Option<Given<String>>,
    pub resource_url: Option<Given<String>>,
    pub scopes: Option<Given<Vec<String>>>,
    /// Scopes each tool needs, by MCP tool name.
    pub tool_scopes: BTreeMap<String, Given<Vec<String>>>,
    /// Provider options (flags only; checked by `resolve`).
    pub options: super::ProviderOptions,
    /// The scope hierarchy, whole (empty: none).
    pub scope_implies: Option<Given<Hierarchy>>,
    /// The scopes a 401 challenge names.
    pub challenge_scopes: Option<Given<Vec<String>>>,
    /// Listings show each caller only what it may use (default: yes).
    pub filter_lists: Option<Given<bool>>,
    /// A served tool missing from the scope map stops the server.
    pub strict_tools: Option<Given<bool>>,
    /// A stdio-only server gets a streamable HTTP transport (`--add-http`).
    pub add_http: Option<Given<bool>>,
}

impl Answers {
    /// `self` where it has an answer, `lower` elsewhere (tool by tool for
    /// tool scopes).
    pub fn or(mut self, lower: Answers) -> Answers {
        self.provider = self.provider.or(lower.provider);
        self.domain = self.domain.or(lower.domain);
        self.audience = self.audience.or(lower.audience);
        self.resource_url = self.resource_url.or(lower.resource_url);
        self.scopes = self.scopes.or(lower.scopes);
        self.options = self.options.or(lower.options);
        self.scope_implies = self.scope_implies.or(lower.scope_implies);
        self.challenge_scopes = self.challenge_scopes.or(lower.challenge_scopes);
        self.filter_lists = self.filter_lists.or(lower.filter_lists);
        self.strict_tools = self.strict_tools.or(lower.strict_tools);
        self.add_http = self.add_http.or(lower.add_http);
        for (tool, scopes) in lower.tool_scopes {
            self.tool_scopes.entry(tool).or_insert(scopes);
        }
        self
    }

    /// The `auth` object of the state file, read leniently: a value of the
    /// wrong type is left out (and asked for, or reported missing).
    pub fn from_state(auth: Option<&Value>) -> Answers {
        let Some(auth) = auth else {
            return Answers::default();
        };
        let text = |key: &str| {
            auth.get(key)
                .and_then(Value::as_str)
                .map(|value| Given::new(value.to_string(), Source::PreviousRun))
        };
        let list = |value: &Value| -> Option<Vec<String>> {
            value
                .as_array()?
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect()
        };
        Answers {
            provider: text("provider"),
            domain: text("domain"),
            audience: text("audience"),
            resource_url: text("resource_url"),
            scopes: auth
                .get("scopes")
                .and_then(list)
                .map(|scopes| Given::new(scopes, Source::PreviousRun)),
            tool_scopes: auth
                .get("tool_scopes")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(tool, scopes)| {
                    Some((tool.clone(), Given::new(list(scopes)?, Source::PreviousRun)))
                })
                .collect(),
            // Read when the state records them (keys of the answers file).
            options: super::ProviderOptions {
                jwks_uri: text("jwks_uri").map(|given| given.value),
                scope_claim: text("scope_claim").map(|given| given.value),
                roles_claim: text("roles_claim").map(|given| given.value),
                client_ids: auth.get("client_ids").and_then(list).unwrap_or_default(),
                jwt_secret_env: text("jwt_secret_env").map(|given| given.value),
                token_format: text("token_format").map(|given| given.value),
                introspection_url: text("introspection_url").map(|given| given.value),
                scope_source: text("scope_source").map(|given| given.value),
                require_at_jwt: auth.get("require_at_jwt").and_then(Value::as_bool),
            },
            scope_implies: auth
                .get("scope_implies")
                .and_then(Value::as_object)
                .map(|object| {
                    let map = object
                        .iter()
                        .filter_map(|(scope, implied)| Some((scope.clone(), list(implied)?)))
                        .collect();
                    Given::new(map, Source::PreviousRun)
                }),
            challenge_scopes: auth
                .get("challenge_scopes")
                .and_then(list)
                .map(|scopes| Given::new(scopes, Source::PreviousRun)),
            filter_lists: auth
                .get("filter_lists")
                .and_then(Value::as_bool)
                .map(|filter| Given::new(filter, Source::PreviousRun)),
            strict_tools: auth
                .get("strict_tools")
                .and_then(Value::as_bool)
                .map(|strict| Given::new(strict, Source::PreviousRun)),
            add_http: auth
                .get("add_http")
                .and_then(Value::as_bool)
                .map(|add| Given::new(add, Source::PreviousRun)),
        }
    }
}

/// The answers file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswersFile {
    // Keep `KEYS` in step (a test checks it against serde's own list).
    provider: Option<String>,
    domain: Option<String>,
    audience: Option<String>,
    resource_url: Option<String>,
    scopes: Option<OneOrMany>,
    #[serde(default)]
    tool_scopes: BTreeMap<String, OneOrMany>,
    jwks_uri: Option<String>,
    scope_claim: Option<String>,
    roles_claim: Option<String>,
    client_ids: Option<OneOrMany>,
    jwt_secret_env: Option<String>,
    token_format: Option<String>,
    introspection_url: Option<String>,
    scope_source: Option<String>,
    require_at_jwt: Option<bool>,
    scope_implies: Option<BTreeMap<String, OneOrMany>>,
    challenge_scopes: Option<OneOrMany>,
    filter_lists: Option<bool>,
    strict_tools: Option<bool>,
    add_http: Option<bool>,
}

/// A list given as an array or as one comma-separated string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_list(self) -> Vec<String> {
        match self {
            OneOrMany::One(text) => validate::split_list(&text),
            OneOrMany::Many(items) => items,
        }
    }
}

/// The format of an answers file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
}

impl Format {
    /// `.json` is JSON, `.toml` is TOML; any other name is JSON when the text
    /// starts with `{`, else TOML.
    pub fn of(path: &Path, text: &str) -> Format {
        match path.extension().and_then(|ext| ext.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            Some(ext) if ext.eq_ignore_ascii_case("toml") => Format::Toml,
            _ if text.trim_start().starts_with('{') => Format::Json,
            _ => Format::Toml,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
        })
    }
}

/// Parses the text of an answers file. The error is a phrase (the parser's
/// message), without the file's name.
pub fn parse(text: &str, format: Format) -> Result<Answers, String> {
    let file: AnswersFile = match format {
        Format::Json => serde_json::from_str(text).map_err(|err| err.to_string())?,
        Format::Toml => toml_edit::de::from_str(text).map_err(|err| err.to_string())?,
    };
    let given = |value: String| Given::new(value, Source::AnswersFile);
    Ok(Answers {
        provider: file.provider.map(given),
        domain: file.domain.map(given),
        audience: file.audience.map(given),
        resource_url: file.resource_url.map(given),
        scopes: file
            .scopes
            .map(|scopes| Given::new(scopes.into_list(), Source::AnswersFile)),
        tool_scopes: file
            .tool_scopes
            .into_iter()
            .map(|(tool, scopes)| (tool, Given::new(scopes.into_list(), Source::AnswersFile)))
            .collect(),
        options: super::ProviderOptions {
            jwks_uri: file.jwks_uri,
            scope_claim: file.scope_claim,
            roles_claim: file.roles_claim,
            client_ids: file
                .client_ids
                .map(OneOrMany::into_list)
                .unwrap_or_default(),
            jwt_secret_env: file.jwt_secret_env,
            token_format: file.token_format,
            introspection_url: file.introspection_url,
            scope_source: file.scope_source,
            require_at_jwt: file.require_at_jwt,
        },
        scope_implies: file.scope_implies.map(|map| {
            let map = map
                .into_iter()
                .map(|(scope, implied)| (scope, implied.into_list()))
                .collect();
            Given::new(map, Source::AnswersFile)
        }),
        challenge_scopes: file
            .challenge_scopes
            .map(|scopes| Given::new(scopes.into_list(), Source::AnswersFile)),
        filter_lists: file
            .filter_lists
            .map(|filter| Given::new(filter, Source::AnswersFile)),
        strict_tools: file
            .strict_tools
            .map(|strict| Given::new(strict, Source::AnswersFile)),
        add_http: file
            .add_http
            .map(|add| Given::new(add, Source::AnswersFile)),
    })
}

/// The keys an answers file takes, as the help names them.
const KEYS: &[&str] = &[
    "provider",
    "domain",
    "audience",
    "resource_url",
    "scopes",
    "tool_scopes",
    "jwks_uri",
    "scope_claim",
    "roles_claim",
    "client_ids",
    "jwt_secret_env",
    "token_format",
    "introspection_url",
    "scope_source",
    "require_at_jwt",
    "scope_implies",
    "challenge_scopes",
    "filter_lists",
    "strict_tools",
    "add_http",
];

/// Reads and parses `--answers FILE`. Problems are usage errors (exit 2).
pub fn read(path: &Path) -> anyhow::Result<Answers> {
    let text = fs::read_to_string(path).map_err(|err| {
        UsageError(format!(
            "cannot read the answers file `{}`: {err}\nhelp: pass an existing TOML or JSON file to --answers",
            path.display()
        ))
    })?;
    let format = Format::of(path, &text);
    parse(&text, format).map_err(|err| {
        UsageError(format!(
            "the answers file `{}` is not valid {format} of the expected shape: {}\nhelp: it takes the keys {} (see `mcp-builder add-auth --help`)",
            path.display(),
            err.trim_end(),
            KEYS.join(", ")
        ))
        .into()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn toml_and_json_give_the_same_answers() {
        let toml = r#"
            provider = "auth0"
            domain = "tasks-test.auth0.com"
            scopes = "read:tasks, write:tasks"

            [tool_scopes]
            search-tasks = "read:tasks"
            create-task = ["write:tasks", "read:tasks"]
        "#;
        let json = r#"{
            "provider": "auth0",
            "domain": "tasks-test.auth0.com",
            "scopes": ["read:tasks", "write:tasks"],
            "tool_scopes": {"search-tasks": ["read:tasks"], "create-task": "write:tasks,read:tasks"}
        }"#;
        let from_toml = parse(toml, Format::Toml).unwrap();
        assert_eq!(from_toml, parse(json, Format::Json).unwrap());
        assert_eq!(
            from_toml.provider,
            Some(Given::new("auth0".into(), Source::AnswersFile))
        );
        assert_eq!(from_toml.audience, None);
        assert_eq!(
            from_toml.scopes.unwrap().value,
            list(&["read:tasks", "write:tasks"])
        );
        assert_eq!(
            from_toml.tool_scopes["create-task"].value,
            list(&["write:tasks", "read:tasks"])
        );
    }

    #[test]
    fn the_hierarchy_and_challenge_scopes_read_from_toml_json_and_the_state() {
        let toml = "challenge_scopes = \"read:tasks\"\n[scope_implies]\n\"delete:tasks\" = \"write:tasks, read:tasks\"\n";
        let json = r#"{"challenge_scopes": ["read:tasks"], "scope_implies": {"delete:tasks": ["write:tasks", "read:tasks"]}}"#;
        let from_toml = parse(toml, Format::Toml).unwrap();
        assert_eq!(from_toml, parse(json, Format::Json).unwrap());
        let implies = from_toml.scope_implies.unwrap();
        assert_eq!(implies.source, Source::AnswersFile);
        assert_eq!(
            implies.value["delete:tasks"],
            list(&["write:tasks", "read:tasks"])
        );
        assert_eq!(
            from_toml.challenge_scopes.unwrap().value,
            list(&["read:tasks"])
        );
        // An empty table is an answer: no hierarchy.
        let off = parse("scope_implies = {}\n", Format::Toml).unwrap();
        assert_eq!(off.scope_implies.unwrap().value, Hierarchy::new());
        assert_eq!(parse("", Format::Toml).unwrap().scope_implies, None);
        // The state: leniently, an empty object too.
        let state = Answers::from_state(Some(&json!({
            "scope_implies": {"write:tasks": ["read:tasks"], "broken": 3},
            "challenge_scopes": ["read:tasks"]
        })));
        let implies = state.scope_implies.unwrap();
        assert_eq!(implies.source, Source::PreviousRun);
        assert_eq!(implies.value.keys().collect::<Vec<_>>(), ["write:tasks"]);
        assert_eq!(state.challenge_scopes.unwrap().value, list(&["read:tasks"]));
        let empty = Answers::from_state(Some(&json!({"scope_implies": {}})));
        assert_eq!(empty.scope_implies.unwrap().value, Hierarchy::new());
    }

    #[test]
    fn the_scope_source_and_require_at_jwt_read_from_toml_json_and_the_state() {
        let toml = "scope_source = \"permissions\"\nrequire_at_jwt = true\n";
        let json = r#"{"scope_source": "permissions", "require_at_jwt": true}"#;
        let from_toml = parse(toml, Format::Toml).unwrap();
        assert_eq!(from_toml, parse(json, Format::Json).unwrap());
        assert_eq!(
            from_toml.options.scope_source.as_deref(),
            Some("permissions")
        );
        assert_eq!(from_toml.options.require_at_jwt, Some(true));
        let err = parse("require_at_jwt = \"yes\"\n", Format::Toml).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
        let state = Answers::from_state(Some(&json!({
            "scope_source": "union",
            "require_at_jwt": false
        })));
        assert_eq!(state.options.scope_source.as_deref(), Some("union"));
        assert_eq!(state.options.require_at_jwt, Some(false));
        // Leniently: a value of another type is no answer.
        let odd = Answers::from_state(Some(&json!({"require_at_jwt": "yes"})));
        assert_eq!(odd.options.require_at_jwt, None);
    }

    #[test]
    fn an_empty_file_is_no_answer_and_typos_are_refused() {
        assert_eq!(parse("", Format::Toml).unwrap(), Answers::default());
        assert_eq!(parse("{}", Format::Json).unwrap(), Answers::default());
        let err = parse("scope = \"read:tasks\"\n", Format::Toml).unwrap_err();
        assert!(err.contains("unknown field `scope`"), "{err}");
        // serde lists the fields it expected: the help must name the same.
        let expected: Vec<String> = KEYS.iter().map(|key| format!("`{key}`")).collect();
        assert!(err.contains(&expected.join(", ")), "{err}");
        let err = parse(r#"{"domain": 3}"#, Format::Json).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
        assert!(parse("domain = ", Format::Toml).is_err());
    }

    #[test]
    fn the_format_follows_the_extension_then_the_text() {
        assert_eq!(Format::of(Path::new("a.json"), "x = 1"), Format::Json);
        assert_eq!(Format::of(Path::new("a.TOML"), "{"), Format::Toml);
        assert_eq!(
            Format::of(Path::new("answers"), "  {\"a\": 1}"),
            Format::Json
        );
        assert_eq!(Format::of(Path::new("answers.txt"), "a = 1"), Format::Toml);
    }

    #[test]
    fn the_state_file_replays_as_answers() {
        let auth = json!({
            "provider": "auth0",
            "domain": "tasks-test.auth0.com",
            "audience": "https://tasks.example.com/mcp",
            "scopes": ["read:tasks"],
            "tool_scopes": {"search-tasks": ["read:tasks"], "broken": "x"},
            "resource_url": 7
        });
        let answers = Answers::from_state(Some(&auth));
        assert_eq!(answers.provider.unwrap().source, Source::PreviousRun);
        assert_eq!(answers.resource_url, None);
        assert_eq!(answers.scopes.unwrap().value, list(&["read:tasks"]));
        assert_eq!(
            answers.tool_scopes.keys().collect::<Vec<_>>(),
            ["search-tasks"]
        );
        // The state file's `auth` object is itself a valid answers file.
        let replayed = parse(&auth_without_bad_values(), Format::Json).unwrap();
        assert_eq!(replayed.domain.unwrap().value, "tasks-test.auth0.com");
        assert_eq!(Answers::from_state(None), Answers::default());
    }

    fn auth_without_bad_values() -> String {
        json!({
            "provider": "auth0",
            "domain": "tasks-test.auth0.com",
            "audience": "https://tasks.example.com/mcp",
            "scopes": ["read:tasks"],
            "tool_scopes": {"search-tasks": ["read:tasks"]}
        })
        .to_string()
    }

    #[test]
    fn higher_layers_win_field_by_field_and_tool_by_tool() {
        let flags = Answers {
            domain: Some(Given::new("flag.example.com".into(), Source::Flag)),
            tool_scopes: BTreeMap::from([(
                "a".to_string(),
                Given::new(list(&["write:x"]), Source::Flag),
            )]),
            ..Answers::default()
        };
        let file = parse(
            "domain = \"file.example.com\"\naudience = \"https://file.example.com\"\n[tool_scopes]\na = \"read:x\"\nb = \"read:x\"\n",
            Format::Toml,
        )
        .unwrap();
        let previous = Answers::from_state(Some(&json!({
            "provider": "auth0",
            "domain": "old.example.com",
            "audience": "https://old.example.com",
            "scopes": ["read:x", "write:x"],
            "tool_scopes": {"b": ["write:x"], "c": ["write:x"]}
        })));
        let merged = flags.or(file).or(previous);
        let source = |given: &Option<Given<String>>| given.as_ref().map(|g| g.source);
        assert_eq!(merged.domain.as_ref().unwrap().value, "flag.example.com");
        assert_eq!(source(&merged.domain), Some(Source::Flag));
        assert_eq!(
            merged.audience.as_ref().unwrap().value,
            "https://file.example.com"
        );
        assert_eq!(source(&merged.audience), Some(Source::AnswersFile));
        assert_eq!(source(&merged.provider), Some(Source::PreviousRun));
        assert_eq!(merged.scopes.unwrap().source, Source::PreviousRun);
        let tools: Vec<(&str, &[String], Source)> = merged
            .tool_scopes
            .iter()
            .map(|(tool, given)| (tool.as_str(), &given.value[..], given.source))
            .collect();
        assert_eq!(
            tools,
            [
                ("a", &list(&["write:x"])[..], Source::Flag),
                ("b", &list(&["read:x"])[..], Source::AnswersFile),
                ("c", &list(&["write:x"])[..], Source::PreviousRun),
            ]
        );
    }
}
