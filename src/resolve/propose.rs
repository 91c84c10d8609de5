//! Proposals: the scopes and the per-tool scope that add-auth suggests when
//! the user has not said, by rules a user can predict from the names alone.
//!
//! - A name is read as words: split at every character that is not a letter
//!   or digit and where a lowercase letter or digit is followed by an
//!   uppercase one (`getUser` -> `get`, `user`), then lowercased.
//! - A tool's access: read-only annotation, or a read verb and no delete
//!   verb -> read; destructive annotation or a delete verb -> delete;
//!   anything else -> write ([`access_of`]).
//! - The resource: the package name without the words `mcp`, `server`,
//!   `service`, `api`, `rs`, `rust` (`tasks-server` -> `tasks`); when nothing
//!   is left, the word most tool names share that is no verb; else `mcp`.
//! - The scopes: `read:`, `write:`, `delete:` + resource, for the kinds of
//!   access the tools need, in that order (`read:` alone without tools).
//!
//! Pure functions of the project: nothing here reads a file or asks.

use std::collections::BTreeMap;

use crate::inspect::{Project, Tool};

/// What kind of access a tool needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
    Delete,
}

impl Access {
    /// The word that names the access in proposed scopes.
    pub fn word(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Delete => "delete",
        }
    }
}

const READ_VERBS: &[&str] = &[
    "get", "list", "search", "read", "fetch", "find", "query", "show",
];
const DELETE_VERBS: &[&str] = &["delete", "remove", "destroy", "drop", "purge"];
/// Verbs that mean write; they only matter for finding the resource noun.
const WRITE_VERBS: &[&str] = &[
    "create", "add", "update", "set", "put", "post", "edit", "write", "save", "send", "make",
    "new", "insert", "upsert", "patch", "modify", "change", "rename", "move", "archive",
];
/// Words of a package name that name the kind of program, not its resource.
const NOISE_WORDS: &[&str] = &["mcp", "server", "service", "api", "rs", "rust"];

/// The words of a name: split at non-alphanumerics and lower-to-upper case
/// changes, lowercased.
pub fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        if c.is_ascii_uppercase()
            && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
            && !current.is_empty()
        {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// A tool's access and the reason, for showing next to the proposal.
pub fn assess(tool: &Tool) -> (Access, String) {
    let words = words(&tool.name);
    let first = |verbs: &[&str]| {
        words
            .iter()
            .find(|word| verbs.contains(&word.as_str()))
            .cloned()
    };
    let (read, delete) = (first(READ_VERBS), first(DELETE_VERBS));
    if tool.read_only {
        (Access::Read, "read-only annotation".into())
    } else if tool.destructive {
        (Access::Delete, "destructive annotation".into())
    } else if let Some(verb) = delete {
        (Access::Delete, format!("delete verb `{verb}`"))
    } else if let Some(verb) = read {
        (Access::Read, format!("read verb `{verb}`"))
    } else {
        (Access::Write, "neither a read nor a delete verb".into())
    }
}

/// Read-only annotation or a read verb: read; destructive annotation or a
/// delete verb: delete; anything else: write. An annotation wins over the
/// name, and read-only wins over destructive.
pub fn access_of(tool: &Tool) -> Access {
    assess(tool).0
}

/// The scope proposed for a tool: the first of `scopes` named for its access
/// kind (`read:*`, `tasks:read`, `tasks.read`, ...; `manage` serves write and
/// delete).
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

/// What the scopes are named after: see the module docs.
pub fn resource_name(project: &Project) -> String {
    let from_package: Vec<String> = words(&project.package_name)
        .into_iter()
        .filter(|word| !NOISE_WORDS.contains(&word.as_str()))
        .collect();
    if !from_package.is_empty() {
        return from_package.join("-");
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for tool in &project.tools {
        let mut seen = Vec::new();
        for word in words(&tool.name) {
            let verb = [READ_VERBS, DELETE_VERBS, WRITE_VERBS, NOISE_WORDS]
                .iter()
                .any(|verbs| verbs.contains(&word.as_str()));
            if !verb && !word.chars().all(|c| c.is_ascii_digit()) && !seen.contains(&word) {
                seen.push(word);
            }
        }
        for word in seen {
            *counts.entry(word).or_default() += 1;
        }
    }
    // Most tools first; on a tie, the first in alphabetical order.
    counts
        .into_iter()
        .fold(
            None,
            |best: Option<(String, usize)>, (word, count)| match best {
                Some((_, most)) if most >= count => best,
                _ => Some((word, count)),
            },
        )
        .map(|(word, _)| word)
        .unwrap_or_else(|| "mcp".to_string())
}

/// The scopes proposed for a project: see the module docs.
pub fn propose_scopes(project: &Project) -> Vec<String> {
    let resource = resource_name(project);
    let mut kinds: Vec<Access> = project.tools.iter().map(access_of).collect();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        kinds.push(Access::Read);
    }
    kinds
        .into_iter()
        .map(|kind| format!("{}:{resource}", kind.word()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::testing::{project, tool};

    #[test]
    fn names_split_into_words() {
        assert_eq!(words("getUser"), ["get", "user"]);
        assert_eq!(words("tasks.delete"), ["tasks", "delete"]);
        assert_eq!(words("list_tasks"), ["list", "tasks"]);
        assert_eq!(words("HTTPServer"), ["httpserver"]);
        assert_eq!(words("v2Fetch--x"), ["v2", "fetch", "x"]);
        assert_eq!(words("__"), Vec::<String>::new());
    }

    #[test]
    fn access_follows_annotations_then_verbs() {
        let cases = [
            (tool("search-tasks", false, false), Access::Read),
            (tool("list_tasks", false, false), Access::Read),
            (tool("tasks.list", false, false), Access::Read),
            (tool("getUser", false, false), Access::Read),
            (tool("summarize", true, false), Access::Read),
            (tool("annotated_readonly_create", true, false), Access::Read),
            (tool("read-and-destroy", true, true), Access::Read),
            (tool("tasks.delete", false, false), Access::Delete),
            (tool("delete-task", false, false), Access::Delete),
            (tool("purge", false, false), Access::Delete),
            (tool("archive", false, true), Access::Delete),
            (tool("get-or-remove", false, false), Access::Delete),
            (tool("list-destructive", false, true), Access::Delete),
            (tool("create-task", false, false), Access::Write),
            (tool("send_email", false, false), Access::Write),
            (tool("getaway", false, false), Access::Write),
            (tool("targets", false, false), Access::Write),
        ];
        for (tool, access) in cases {
            assert_eq!(access_of(&tool), access, "{}", tool.name);
        }
    }

    #[test]
    fn the_reason_names_what_decided() {
        let reason = |t: Tool| assess(&t).1;
        assert_eq!(reason(tool("getUser", false, false)), "read verb `get`");
        assert_eq!(reason(tool("purge", false, false)), "delete verb `purge`");
        assert_eq!(
            reason(tool("annotated_readonly_create", true, false)),
            "read-only annotation"
        );
        assert_eq!(
            reason(tool("archive", false, true)),
            "destructive annotation"
        );
        assert_eq!(
            reason(tool("create-task", false, false)),
            "neither a read nor a delete verb"
        );
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
        let manage = vec!["tasks.read".to_string(), "tasks.manage".to_string()];
        assert_eq!(
            propose_scope(&tool("tasks.delete", false, false), &manage).as_deref(),
            Some("tasks.manage")
        );
        let only_read = vec!["read:tasks".to_string()];
        assert_eq!(
            propose_scope(&tool("create", false, false), &only_read),
            None
        );
    }

    #[test]
    fn the_resource_comes_from_the_package_then_the_tools() {
        let tasks = vec![
            tool("search-tasks", false, false),
            tool("create-task", false, false),
            tool("delete-task", false, false),
        ];
        assert_eq!(
            resource_name(&project("tasks-server", tasks.clone())),
            "tasks"
        );
        assert_eq!(
            resource_name(&project("mcp-server-github", vec![])),
            "github"
        );
        assert_eq!(resource_name(&project("acme_crm_mcp", vec![])), "acme-crm");
        assert_eq!(resource_name(&project("McpServer", vec![])), "mcp");
        // Nothing left of the package name: the noun most tools share.
        assert_eq!(resource_name(&project("mcp-server", tasks)), "task");
        assert_eq!(
            resource_name(&project(
                "server",
                vec![
                    tool("getUser", false, false),
                    tool("list_users", false, false),
                    tool("deleteUser", false, false),
                ]
            )),
            "user"
        );
        // A tie goes to the first word in alphabetical order.
        assert_eq!(
            resource_name(&project(
                "mcp",
                vec![
                    tool("get-note", false, false),
                    tool("add-file", false, false)
                ]
            )),
            "file"
        );
        assert_eq!(
            resource_name(&project("rust-mcp", vec![tool("purge", false, false)])),
            "mcp"
        );
    }

    #[test]
    fn scopes_are_proposed_for_the_access_the_tools_need() {
        let tasks = vec![
            tool("search-tasks", false, false),
            tool("create-task", false, false),
            tool("delete-task", false, false),
        ];
        assert_eq!(
            propose_scopes(&project("tasks-server", tasks)),
            ["read:tasks", "write:tasks", "delete:tasks"]
        );
        assert_eq!(
            propose_scopes(&project(
                "notes-mcp",
                vec![
                    tool("list-notes", false, false),
                    tool("getNote", false, false)
                ]
            )),
            ["read:notes"]
        );
        assert_eq!(
            propose_scopes(&project(
                "crm",
                vec![tool("purge", false, false), tool("lookup", true, false)]
            )),
            ["read:crm", "delete:crm"]
        );
        assert_eq!(
            propose_scopes(&project("empty-server", vec![])),
            ["read:empty"]
        );
        // Every proposed tool scope is among the proposed scopes.
        let p = project(
            "crm",
            vec![
                tool("send", false, false),
                tool("tasks.delete", false, false),
            ],
        );
        let scopes = propose_scopes(&p);
        for tool in &p.tools {
            assert!(scopes.contains(&propose_scope(tool, &scopes).unwrap()));
        }
    }
}
