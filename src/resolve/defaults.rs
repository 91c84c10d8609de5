//! The dialog's pre-filled answers, decided without a terminal: for each
//! question, the answer of an earlier run (the state file), else the
//! project's `.env`, else the proposal derived from the project.
//!
//! The dialog only asks what the flags and the answers file left open, so
//! these functions only see the lower layers.

use std::collections::BTreeMap;

use super::{Answers, Given, Source, propose};
use crate::{
    inspect::Project,
    providers::{self, Provider},
};

/// The variable `.env` holds the MCP endpoint's public URL in.
pub const RESOURCE_URL_VAR: &str = "MCP_RESOURCE_URL";

/// Index into [`providers::ALL`] of the provider pre-selected: the previous
/// run's, else the first.
pub fn provider(previous: &Answers) -> usize {
    previous
        .provider
        .as_ref()
        .and_then(|given| {
            providers::ALL
                .iter()
                .position(|provider| provider.id == given.value)
        })
        .unwrap_or(0)
}

/// A previous answer that belongs to `provider` (a domain of another
/// provider is no default for this one).
fn previous_for<'a>(
    previous: &'a Answers,
    provider: &Provider,
    value: &'a Option<Given<String>>,
) -> Option<&'a str> {
    let same_provider = previous
        .provider
        .as_ref()
        .is_none_or(|given| given.value == provider.id);
    value
        .as_ref()
        .filter(|_| same_provider)
        .map(|given| given.value.as_str())
}

/// The tenant domain: the previous run's, else `.env`'s, else (a local
/// issuer) where `auth dev` listens.
pub fn domain(
    provider: &Provider,
    previous: &Answers,
    env: &BTreeMap<String, String>,
) -> Option<String> {
    previous_for(previous, provider, &previous.domain)
        .or_else(|| env.get(provider.domain_var).map(String::as_str))
        .or(provider.local.then_some(providers::DEV_ISSUER))
        .map(str::to_string)
}

/// The audience: the previous run's, else `.env`'s, else (a local issuer)
/// the MCP endpoint on this machine.
pub fn audience(
    project: &Project,
    provider: &Provider,
    previous: &Answers,
    env: &BTreeMap<String, String>,
) -> Option<String> {
    previous_for(previous, provider, &previous.audience)
        .or_else(|| env.get(provider.audience_var).map(String::as_str))
        .map(str::to_string)
        .or_else(|| provider.local.then(|| local_endpoint(project).0))
}

/// The port a local endpoint is assumed on when the source names none.
pub const ASSUMED_PORT: u16 = 8000;

/// The MCP endpoint on this machine, `http://127.0.0.1:PORT/PATH`, and
/// whether PORT is the one the source names (else [`ASSUMED_PORT`]).
pub fn local_endpoint(project: &Project) -> (String, bool) {
    let port = project.listen_port.unwrap_or(ASSUMED_PORT);
    let path = &project.mount.mcp_path;
    (
        format!("http://127.0.0.1:{port}{path}"),
        project.listen_port.is_some(),
    )
}

/// The MCP endpoint's public URL: the previous run's, else `.env`'s, else
/// the audience (what the generated server assumes when it is not set).
pub fn resource_url(previous: &Answers, env: &BTreeMap<String, String>, audience: &str) -> String {
    previous
        .resource_url
        .as_ref()
        .map(|given| given.value.clone())
        .or_else(|| env.get(RESOURCE_URL_VAR).cloned())
        .unwrap_or_else(|| audience.to_string())
}

/// The scopes: the previous run's, else the proposal.
pub fn scopes(project: &Project, previous: &Answers) -> Vec<String> {
    previous
        .scopes
        .as_ref()
        .map(|given| given.value.clone())
        .unwrap_or_else(|| propose::propose_scopes(project))
}

/// A tool's scopes as the previous run recorded them, if every one of them
/// is still among `scopes`.
pub fn remembered_tool_scope(
    tool: &str,
    scopes: &[String],
    answers: &Answers,
) -> Option<Vec<String>> {
    answers
        .tool_scopes
        .get(tool)
        .filter(|given| given.source == Source::PreviousRun)
        .map(|given| given.value.clone())
        .filter(|list| !list.is_empty() && list.iter().all(|scope| scopes.contains(scope)))
}

/// Each tool's pre-selected scopes: the previous run's while they fit
/// `scopes`, else the proposal (a fallback when no scope is named for the
/// tool's access; empty only without scopes). By tool name, every tool of
/// the project.
pub fn tool_scopes(
    project: &Project,
    scopes: &[String],
    previous: &Answers,
) -> BTreeMap<String, Vec<String>> {
    project
        .tools
        .iter()
        .map(|tool| {
            let list = remembered_tool_scope(&tool.name, scopes, previous)
                .or_else(|| propose::propose_scope(tool, scopes).map(|scope| vec![scope]))
                .unwrap_or_default();
            (tool.name.clone(), list)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        providers::AUTH0,
        resolve::testing::{project, tasks_project, tool},
    };

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn previous_state_wins_over_dotenv_which_wins_over_nothing() {
        let dotenv = env(&[
            ("AUTH0_DOMAIN", "env.auth0.com"),
            ("AUTH0_AUDIENCE", "https://env.example.com/mcp"),
            ("MCP_RESOURCE_URL", "https://env.example.com/public"),
        ]);
        let none = Answers::default();
        assert_eq!(domain(&AUTH0, &none, &dotenv).unwrap(), "env.auth0.com");
        assert_eq!(
            audience(&tasks_project(), &AUTH0, &none, &dotenv).unwrap(),
            "https://env.example.com/mcp"
        );
        assert_eq!(
            resource_url(&none, &dotenv, "https://a"),
            "https://env.example.com/public"
        );
        assert_eq!(domain(&AUTH0, &none, &env(&[])), None);
        assert_eq!(resource_url(&none, &env(&[]), "https://a"), "https://a");

        let previous = Answers::from_state(Some(&json!({
            "provider": "auth0",
            "domain": "old.auth0.com",
            "audience": "https://old.example.com/mcp",
        })));
        assert_eq!(domain(&AUTH0, &previous, &dotenv).unwrap(), "old.auth0.com");
        assert_eq!(
            audience(&tasks_project(), &AUTH0, &previous, &dotenv).unwrap(),
            "https://old.example.com/mcp"
        );
        // Auth0 is offered second, after the development issuer.
        assert_eq!(providers::ALL[provider(&previous)].id, "auth0");
        assert_eq!(providers::ALL[provider(&Answers::default())].id, "dev");

        // A previous run with another provider gives no default for this one.
        let other = Answers::from_state(Some(&json!({
            "provider": "elsewhere",
            "domain": "old.example.org",
        })));
        assert_eq!(domain(&AUTH0, &other, &dotenv).unwrap(), "env.auth0.com");
    }

    #[test]
    fn tool_scopes_are_remembered_while_they_fit_else_proposed() {
        let p = project(
            "tasks-server",
            vec![
                tool("search-tasks", false, false),
                tool("create-task", false, false),
                tool("delete-task", false, false),
            ],
        );
        let proposed = scopes(&p, &Answers::default());
        assert_eq!(proposed, ["read:tasks", "write:tasks", "delete:tasks"]);
        let previous = Answers::from_state(Some(&json!({
            "scopes": ["read:tasks", "write:tasks", "admin"],
            "tool_scopes": {
                "search-tasks": ["write:tasks"],
                "delete-task": ["admin"],
                "gone": ["read:tasks"]
            }
        })));
        assert_eq!(
            scopes(&p, &previous),
            ["read:tasks", "write:tasks", "admin"]
        );
        let picked = tool_scopes(&p, &proposed, &previous);
        assert_eq!(
            picked.into_iter().collect::<Vec<_>>(),
            [
                ("create-task".to_string(), vec!["write:tasks".to_string()]),
                // `admin` is not among the scopes now: proposed again.
                ("delete-task".to_string(), vec!["delete:tasks".to_string()]),
                ("search-tasks".to_string(), vec!["write:tasks".to_string()]),
            ]
        );
        // No scope is named for the access: the fallback is pre-selected
        // (here the broadest scope given, the only one).
        let only_read = vec!["read:tasks".to_string()];
        assert_eq!(
            tool_scopes(&p, &only_read, &Answers::default())["create-task"],
            ["read:tasks"]
        );
    }
}
