//! Resolve: turns flags and the previous state into one checked [`Resolved`].
//!
//! Flags win over the state recorded by an earlier run. Every value is
//! validated here, so planning never sees a malformed scope or URL. Problems
//! with what the user passed are [`UsageError`]s (exit code 2).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::IpAddr,
};

use serde_json::Value;

use crate::{
    inspect::{Project, Tool},
    providers::{self, Provider},
};

/// What the user asked for, as given (flags, not yet checked).
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    pub provider: Option<String>,
    pub domain: Option<String>,
    pub audience: Option<String>,
    pub resource_url: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// `TOOL=SCOPE[,SCOPE...]` items.
    pub tool_scopes: Vec<String>,
    /// Accept proposed tool scopes without asking.
    pub yes: bool,
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

pub fn resolve(
    project: &Project,
    inputs: &Inputs,
    previous: Option<&Value>,
) -> anyhow::Result<Resolved> {
    let remembered = |key: &str| {
        previous
            .and_then(|auth| auth.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let provider = inputs.provider.clone().or_else(|| remembered("provider"));
    let domain = inputs.domain.clone().or_else(|| remembered("domain"));
    let audience = inputs.audience.clone().or_else(|| remembered("audience"));
    let resource_url = inputs
        .resource_url
        .clone()
        .or_else(|| remembered("resource_url"));
    let scopes = inputs.scopes.clone().or_else(|| {
        let list = previous?.get("scopes")?.as_array()?;
        Some(
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        )
    });

    let missing: Vec<&str> = [
        ("--provider", provider.is_none()),
        ("--domain", domain.is_none()),
        ("--audience", audience.is_none()),
        ("--scopes", scopes.is_none()),
    ]
    .into_iter()
    .filter_map(|(flag, absent)| absent.then_some(flag))
    .collect();
    if !missing.is_empty() {
        return Err(usage(format!(
            "missing required values: {}\nhelp: without a terminal every answer comes from a flag, e.g.\n  mcp-builder add-auth --provider auth0 --domain your-tenant.auth0.com --audience https://api.example.com/mcp --scopes read:tasks,write:tasks --yes",
            missing.join(", ")
        )));
    }
    let (provider, domain, audience, scopes) = (
        provider.unwrap_or_default(),
        domain.unwrap_or_default(),
        audience.unwrap_or_default(),
        scopes.unwrap_or_default(),
    );

    let provider = providers::find(&provider).ok_or_else(|| {
        usage(format!(
            "unknown provider `{provider}`\nhelp: use one of: {}",
            providers::ids().join(", ")
        ))
    })?;
    let domain = check_domain(&domain, provider)?;
    let audience = check_url("--audience", &audience)?;
    let resource_url = resource_url
        .map(|url| check_url("--resource-url", &url))
        .transpose()?
        .filter(|url| *url != audience);
    let scopes = check_scopes(&scopes)?;

    let previous_tool_scopes = previous.and_then(|auth| auth.get("tool_scopes"));
    let tool_scopes = resolve_tool_scopes(project, &scopes, inputs, previous_tool_scopes)?;

    Ok(Resolved {
        provider,
        domain,
        audience,
        resource_url,
        scopes,
        tool_scopes,
    })
}

fn check_domain(domain: &str, provider: &Provider) -> anyhow::Result<String> {
    let domain = domain.trim().trim_end_matches('/').to_ascii_lowercase();
    let valid = !domain.is_empty()
        && domain.contains('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':');
    if !valid {
        return Err(usage(format!(
            "`{domain}` is not a domain name\nhelp: pass the bare host, without https:// or a path, e.g. --domain {}",
            provider.example_domain
        )));
    }
    Ok(domain)
}

/// An absolute https URL (http only for loopback), without fragment or
/// trailing slash.
fn check_url(flag: &str, value: &str) -> anyhow::Result<String> {
    let value = value.trim();
    let bad = |why: &str| {
        usage(format!(
            "{flag} `{value}` {why}\nhelp: pass the full URL, e.g. {flag} https://tasks.example.com/mcp"
        ))
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

fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// RFC 6749 scope tokens: printable ASCII without space, `"` or `\`.
fn check_scopes(scopes: &[String]) -> anyhow::Result<Vec<String>> {
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
            return Err(usage(format!(
                "`{scope}` is not a valid scope: scopes are printable ASCII without spaces, quotes or backslashes\nhelp: e.g. --scopes read:tasks,write:tasks"
            )));
        }
        if scope == "offline_access" {
            return Err(usage(
                "`offline_access` is a scope of the authorization server, not of this MCP server\nhelp: leave it out of --scopes",
            ));
        }
        if seen.insert(scope.to_string()) {
            checked.push(scope.to_string());
        }
    }
    if checked.is_empty() {
        return Err(usage(
            "--scopes is empty\nhelp: e.g. --scopes read:tasks,write:tasks",
        ));
    }
    Ok(checked)
}

fn resolve_tool_scopes(
    project: &Project,
    scopes: &[String],
    inputs: &Inputs,
    previous: Option<&Value>,
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let known: BTreeSet<&str> = project
        .tools
        .iter()
        .map(|tool| tool.name.as_str())
        .collect();
    let known_list = || known.iter().copied().collect::<Vec<_>>().join(", ");
    let check_scope = |tool: &str, scope: &str| -> anyhow::Result<String> {
        if scopes.iter().any(|s| s == scope) {
            Ok(scope.to_string())
        } else {
            Err(usage(format!(
                "tool `{tool}` is given scope `{scope}`, which is not in --scopes ({})\nhelp: add it to --scopes or pick one of those",
                scopes.join(", ")
            )))
        }
    };

    let mut explicit = BTreeMap::new();
    for item in &inputs.tool_scopes {
        let (tool, tool_scopes) = item.split_once('=').ok_or_else(|| {
            usage(format!("--tool-scope `{item}` is not TOOL=SCOPE\nhelp: e.g. --tool-scope search-tasks=read:tasks"))
        })?;
        let tool = tool.trim();
        if !known.contains(tool) {
            return Err(usage(format!(
                "--tool-scope names `{tool}`, but the project has no tool of that name\nhelp: the tools found are: {}",
                known_list()
            )));
        }
        let list = tool_scopes
            .split(',')
            .map(str::trim)
            .filter(|scope| !scope.is_empty())
            .map(|scope| check_scope(tool, scope))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if list.is_empty() {
            return Err(usage(format!("--tool-scope `{item}` gives no scope")));
        }
        explicit.insert(tool.to_string(), list);
    }

    let mut resolved = BTreeMap::new();
    let mut unresolved = Vec::new();
    for tool in &project.tools {
        if resolved.contains_key(&tool.name) {
            continue;
        }
        if let Some(list) = explicit.get(&tool.name) {
            resolved.insert(tool.name.clone(), list.clone());
            continue;
        }
        // A mapping remembered from the last run, if its scopes still exist.
        let remembered = previous
            .and_then(|map| map.get(&tool.name))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|list| !list.is_empty() && list.iter().all(|scope| scopes.contains(scope)));
        if let Some(list) = remembered {
            resolved.insert(tool.name.clone(), list);
            continue;
        }
        match (inputs.yes, propose_scope(tool, scopes)) {
            (true, Some(scope)) => {
                resolved.insert(tool.name.clone(), vec![scope]);
            }
            _ => unresolved.push(tool.name.as_str()),
        }
    }
    if !unresolved.is_empty() {
        let flags: Vec<String> = unresolved
            .iter()
            .map(|tool| format!("--tool-scope {tool}=SCOPE"))
            .collect();
        return Err(usage(format!(
            "no scope chosen for {}: {}\nhelp: pass {} (or --yes to accept the proposed scopes)",
            if unresolved.len() == 1 {
                "tool"
            } else {
                "tools"
            },
            unresolved.join(", "),
            flags.join(" ")
        )));
    }
    Ok(resolved)
}

/// What kind of access a tool needs, by a rule users can predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Delete,
}

const READ_VERBS: &[&str] = &[
    "get", "list", "search", "read", "fetch", "find", "query", "show",
];
const DELETE_VERBS: &[&str] = &["delete", "remove", "destroy", "drop", "purge"];

/// Read-only annotation or a read verb: read; destructive annotation or a
/// delete verb: delete; anything else: write.
pub fn access_of(tool: &Tool) -> Access {
    let words: Vec<String> = tool
        .name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |verbs: &[&str]| words.iter().any(|word| verbs.contains(&word.as_str()));
    if tool.read_only || (!tool.destructive && has(READ_VERBS) && !has(DELETE_VERBS)) {
        Access::Read
    } else if tool.destructive || has(DELETE_VERBS) {
        Access::Delete
    } else {
        Access::Write
    }
}

/// The scope proposed for a tool: the first scope named for its access kind
/// (`read:*`, `tasks:read`, `tasks.read`, ...).
pub fn propose_scope(tool: &Tool, scopes: &[String]) -> Option<String> {
    let words: &[&str] = match access_of(tool) {
        Access::Read => &["read"],
        Access::Write => &["write", "create", "manage"],
        Access::Delete => &["delete", "remove", "manage"],
    };
    words.iter().find_map(|word| {
        scopes
            .iter()
            .find(|scope| {
                scope
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|part| part.eq_ignore_ascii_case(word))
            })
            .cloned()
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn tool(name: &str, read_only: bool, destructive: bool) -> Tool {
        Tool {
            name: name.into(),
            fn_name: name.replace(['-', '.'], "_"),
            read_only,
            destructive,
            file: PathBuf::from("src/main.rs"),
        }
    }

    #[test]
    fn access_follows_annotations_then_verbs() {
        let cases = [
            (tool("search-tasks", false, false), Access::Read),
            (tool("tasks.list", false, false), Access::Read),
            (tool("summarize", true, false), Access::Read),
            (tool("delete-task", false, false), Access::Delete),
            (tool("archive", false, true), Access::Delete),
            (tool("get-or-remove", false, false), Access::Delete),
            (tool("create-task", false, false), Access::Write),
            (tool("send_email", false, false), Access::Write),
        ];
        for (tool, access) in cases {
            assert_eq!(access_of(&tool), access, "{}", tool.name);
        }
    }

    #[test]
    fn proposals_pick_the_scope_named_for_the_access() {
        let scopes: Vec<String> = ["tasks:read", "tasks:write", "admin:delete"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            propose_scope(&tool("search", false, false), &scopes).as_deref(),
            Some("tasks:read")
        );
        assert_eq!(
            propose_scope(&tool("create", false, false), &scopes).as_deref(),
            Some("tasks:write")
        );
        assert_eq!(
            propose_scope(&tool("drop", false, false), &scopes).as_deref(),
            Some("admin:delete")
        );
        let only_read = vec!["read:tasks".to_string()];
        assert_eq!(
            propose_scope(&tool("create", false, false), &only_read),
            None
        );
    }

    #[test]
    fn urls_are_canonical_and_plain_http_only_on_loopback() {
        assert_eq!(
            check_url("--audience", "HTTPS://Tasks.Example.com/mcp/").unwrap(),
            "https://tasks.example.com/mcp"
        );
        assert_eq!(
            check_url("--audience", "http://127.0.0.1:8000/mcp").unwrap(),
            "http://127.0.0.1:8000/mcp"
        );
        assert_eq!(
            check_url("--audience", "http://[::1]:8000/mcp").unwrap(),
            "http://[::1]:8000/mcp"
        );
        for bad in [
            "tasks.example.com/mcp",
            "http://example.com/mcp",
            "ftp://example.com",
            "https://x.com/a#b",
            "https:///mcp",
        ] {
            assert!(check_url("--audience", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_are_rfc_6749_tokens_without_duplicates() {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_scopes(&list(&["a:b", " a:b ", "c"])).unwrap(),
            list(&["a:b", "c"])
        );
        for bad in [
            &["a b"][..],
            &["a\"b"],
            &["a\\b"],
            &["offline_access"],
            &[""],
        ] {
            assert!(check_scopes(&list(bad)).is_err(), "{bad:?}");
        }
    }
}
