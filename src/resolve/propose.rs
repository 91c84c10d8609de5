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
//! - A tool's scope, among the scopes given: the first named for its access
//!   (`read`; `write`, `create`, `manage`; `delete`, `remove`, `manage`).
//!   Without one, a fallback ([`propose`]): the narrowest scope given that
//!   reads as broad enough (a read tool takes `write` when there is no read
//!   scope), else the broadest given (a destructive tool takes `write` when
//!   there is no delete scope). Breadth is read from the words: read/view,
//!   then words it does not know, then write, then delete/manage, then
//!   admin/all/full.
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

/// The scope proposed for a tool, and whether it is a fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub scope: String,
    /// `None`: the scope is named for the tool's access. Otherwise no scope
    /// is, and this says which way the fallback went.
    pub fallback: Option<Fallback>,
}

/// How a fallback scope relates to the access the tool needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fallback {
    /// The narrowest scope given that reads as allowing that access.
    Narrowest,
    /// No scope given reads as allowing it: the broadest one.
    Broadest,
}

/// How broad a scope reads, from its words (see the module docs).
pub fn breadth(scope: &str) -> u8 {
    words(scope)
        .iter()
        .map(|word| match word.as_str() {
            "admin" | "all" | "full" | "owner" | "root" | "superuser" => 4,
            "delete" | "remove" | "destroy" | "manage" => 3,
            "write" | "create" | "edit" | "update" => 2,
            "read" | "view" => 0,
            _ => 1,
        })
        .max()
        .unwrap_or(1)
}

/// The breadth a scope needs for `access`.
fn needed(access: Access) -> u8 {
    match access {
        Access::Read => 0,
        Access::Write => 2,
        Access::Delete => 3,
    }
}

/// The scope proposed for a tool among `scopes` (`None` only when there
/// are none): the first named for its access kind (`read:*`, `tasks:read`,
/// `tasks.read`, ...; `manage` serves write and delete), else the fallback
/// of the module docs.
pub fn propose(tool: &Tool, scopes: &[String]) -> Option<Proposal> {
    let access = access_of(tool);
    let named: &[&str] = match access {
        Access::Read => &["read"],
        Access::Write => &["write", "create", "manage"],
        Access::Delete => &["delete", "remove", "manage"],
    };
    if let Some(scope) = named.iter().find_map(|word| {
        scopes
            .iter()
            .find(|scope| words(scope).iter().any(|part| part == word))
    }) {
        return Some(Proposal {
            scope: scope.clone(),
            fallback: None,
        });
    }
    // On a tie, the first listed.
    let narrowest = scopes
        .iter()
        .filter(|scope| breadth(scope) >= needed(access))
        .min_by_key(|scope| breadth(scope));
    let (scope, fallback) = match narrowest {
        Some(scope) => (scope, Fallback::Narrowest),
        None => (
            scopes.iter().rev().max_by_key(|scope| breadth(scope))?,
            Fallback::Broadest,
        ),
    };
    Some(Proposal {
        scope: scope.clone(),
        fallback: Some(fallback),
    })
}

/// The scope [`propose`] proposes for a tool.
pub fn propose_scope(tool: &Tool, scopes: &[String]) -> Option<String> {
    propose(tool, scopes).map(|proposal| proposal.scope)
}

/// What to tell the user about `tools` (all of `access`) taking the
/// fallback `scope`: one sentence; `scopes_name` says where the scopes
/// came from (`--scopes`, ...).
pub fn fallback_note(
    access: Access,
    fallback: Fallback,
    scope: &str,
    tools: &[&str],
    scopes_name: &str,
) -> String {
    let word = access.word();
    let (tools_that, need) = match (access, tools.len()) {
        (Access::Read, 1) => ("the tool that only reads".to_string(), "needs"),
        (Access::Read, n) => (format!("the {n} tools that only read"), "need"),
        (_, 1) => (format!("the tool that {word}s"), "needs"),
        (_, n) => (format!("the {n} tools that {word}"), "need"),
    };
    let which = match fallback {
        Fallback::Narrowest => "the narrowest scope given that allows it",
        Fallback::Broadest => "the broadest scope given",
    };
    format!(
        "{scopes_name} has no {word} scope, so {tools_that} {need} `{scope}`, {which}: {}; \
         to choose otherwise, add a {word} scope to the scopes or pass --tool-scope TOOL=SCOPE",
        tools.join(", ")
    )
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
        assert_eq!(propose_scope(&tool("create", false, false), &[]), None);
    }

    fn proposed(tool: &Tool, scopes: &[&str]) -> (String, Option<Fallback>) {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let proposal = propose(tool, &scopes).unwrap();
        (proposal.scope, proposal.fallback)
    }

    #[test]
    fn without_a_scope_named_for_the_access_the_fallback_is_said() {
        let drop = tool("drop_table", false, false);
        let erase = tool("erase", false, true);
        let create = tool("create", false, false);
        let search = tool("search", false, false);
        let broadest = |s: &str| (s.to_string(), Some(Fallback::Broadest));
        let narrowest = |s: &str| (s.to_string(), Some(Fallback::Narrowest));
        // Destructive tools without a delete scope: write, in every style.
        assert_eq!(proposed(&drop, &["read", "write"]), broadest("write"));
        assert_eq!(proposed(&erase, &["read", "write"]), broadest("write"));
        assert_eq!(
            proposed(&drop, &["mcp:read", "mcp:write"]),
            broadest("mcp:write")
        );
        assert_eq!(
            proposed(&drop, &["tools.read", "tools.write"]),
            broadest("tools.write")
        );
        assert_eq!(
            proposed(&drop, &["tasksRead", "tasksWrite"]),
            broadest("tasksWrite")
        );
        // A scope that reads broader than delete covers it.
        assert_eq!(
            proposed(&drop, &["read", "write", "admin"]),
            narrowest("admin")
        );
        // Write without a write scope: delete covers it; else the broadest.
        assert_eq!(proposed(&create, &["read", "delete"]), narrowest("delete"));
        assert_eq!(proposed(&create, &["read", "mcp"]), broadest("mcp"));
        assert_eq!(proposed(&create, &["read"]), broadest("read"));
        // Read without a read scope: the narrowest given (first on a tie).
        assert_eq!(
            proposed(&search, &["tasks:delete", "tasks:write"]),
            narrowest("tasks:write")
        );
        assert_eq!(proposed(&search, &["mcp", "tools"]), narrowest("mcp"));
        // Named scopes are no fallback.
        assert_eq!(
            proposed(&drop, &["read", "write", "delete"]),
            ("delete".to_string(), None)
        );
    }

    #[test]
    fn fallback_notes_name_the_tools_and_the_way_out() {
        assert_eq!(
            fallback_note(
                Access::Delete,
                Fallback::Broadest,
                "write",
                &["drop_table", "erase"],
                "--scopes"
            ),
            "--scopes has no delete scope, so the 2 tools that delete need `write`, the broadest scope given: \
             drop_table, erase; to choose otherwise, add a delete scope to the scopes or pass --tool-scope TOOL=SCOPE"
        );
        assert_eq!(
            fallback_note(
                Access::Read,
                Fallback::Narrowest,
                "tasks:write",
                &["search"],
                "`scopes` in the answers file"
            ),
            "`scopes` in the answers file has no read scope, so the tool that only reads needs `tasks:write`, \
             the narrowest scope given that allows it: search; to choose otherwise, add a read scope to the scopes \
             or pass --tool-scope TOOL=SCOPE"
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
