//! Scope hierarchies and the scopes a 401 challenge names: what add-auth
//! proposes, and the checks a given hierarchy or challenge list passes.
//!
//! A hierarchy maps a scope to the narrower scopes it implies; the generated
//! server grants a token the scopes its scopes imply (transitively) when it
//! decides whether the token is enough (MCP authorization 2026-07-28: "a
//! broader scope implies narrower ones").
//!
//! The proposal reads each scope's words ([`propose::words`]) as a grant and
//! a resource: `read`/`view` read; `write`/`create`/`edit`/`update` write;
//! `delete`/`remove`/`destroy`/`manage` delete; `admin`/`all`/`full`/
//! `owner`/`root`/`superuser`, or a `*` anywhere, admin. The other words
//! name the resource (`delete:tasks`, `tasks.delete` and `tasksDelete` are
//! all delete on `tasks`). Then:
//! - a scope implies the scopes of the same resource with a lower grant
//!   (`delete:tasks` implies `write:tasks` and `read:tasks`, `write:tasks`
//!   implies `read:tasks`);
//! - an admin scope of a resource (`admin:tasks`, `tasks:*`) implies every
//!   other scope of that resource; one of no resource (`admin`, `*`) implies
//!   every scope but the other admin scopes of no resource.
//!
//! Scopes that name no grant (`mcp`, `profile`) imply nothing.
//!
//! A given hierarchy names only the server's scopes, no scope implies
//! itself, and cycles are refused (`a` implies `b` implies `a` would make
//! the two one scope under two names, which is always a mistake here); the
//! proposal has none by construction.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    propose::{self, words},
    validate::{self, Invalid},
};
use crate::inspect::Project;

/// Scope -> the scopes it implies, in the order of the server's scopes.
pub type Hierarchy = BTreeMap<String, Vec<String>>;

/// What a scope grants, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    Read,
    Write,
    Delete,
    Admin,
}

/// A scope's grant and resource (its other words), when it names a grant.
fn grant_of(scope: &str) -> Option<(Grant, String)> {
    let mut grant = scope.contains('*').then_some(Grant::Admin);
    let mut resource = Vec::new();
    for word in words(scope) {
        let named = match word.as_str() {
            "read" | "view" => Grant::Read,
            "write" | "create" | "edit" | "update" => Grant::Write,
            "delete" | "remove" | "destroy" | "manage" => Grant::Delete,
            "admin" | "all" | "full" | "owner" | "root" | "superuser" => Grant::Admin,
            _ => {
                resource.push(word);
                continue;
            }
        };
        grant = grant.max(Some(named));
    }
    Some((grant?, resource.join("-")))
}

/// Whether a scope of `grant` on `resource` implies one read as `other`.
fn implies(grant: Grant, resource: &str, other: Option<&(Grant, String)>) -> bool {
    match (grant, other) {
        (Grant::Admin, _) if resource.is_empty() => {
            !matches!(other, Some((Grant::Admin, other)) if other.is_empty())
        }
        (Grant::Admin, Some((other, of))) => of == resource && *other != Grant::Admin,
        (_, Some((other, of))) => of == resource && *other < grant,
        (_, None) => false,
    }
}

/// The hierarchy proposed for `scopes` (see the module docs); empty when no
/// scope implies another.
pub fn propose(scopes: &[String]) -> Hierarchy {
    let grants: Vec<Option<(Grant, String)>> = scopes.iter().map(|s| grant_of(s)).collect();
    let mut hierarchy = Hierarchy::new();
    for (i, scope) in scopes.iter().enumerate() {
        let Some((grant, resource)) = &grants[i] else {
            continue;
        };
        let implied: Vec<String> = scopes
            .iter()
            .zip(&grants)
            .enumerate()
            .filter(|(j, (_, other))| *j != i && implies(*grant, resource, other.as_ref()))
            .map(|(_, (other, _))| other.clone())
            .collect();
        if !implied.is_empty() {
            hierarchy.insert(scope.clone(), implied);
        }
    }
    hierarchy
}

/// `delete:tasks -> write:tasks, read:tasks; write:tasks -> read:tasks`, or
/// `none`.
pub fn describe(hierarchy: &Hierarchy) -> String {
    if hierarchy.is_empty() {
        return "none".to_string();
    }
    hierarchy
        .iter()
        .map(|(scope, implied)| format!("{scope} -> {}", implied.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A given hierarchy, checked against the server's `scopes` (which messages
/// call `scopes_name`): names trimmed, duplicates and empty lists dropped,
/// each list in the order of `scopes`.
pub fn check(
    given: &Hierarchy,
    scopes: &[String],
    scopes_name: &str,
) -> Result<Hierarchy, Invalid> {
    let known = |scope: &str| -> Result<(), Invalid> {
        if scopes.iter().any(|known| known == scope) {
            return Ok(());
        }
        Err(Invalid::new(
            format!(
                "the scope hierarchy names `{scope}`, which is not in {scopes_name} ({})",
                scopes.join(", ")
            ),
            "name only the server's scopes, e.g. delete:tasks=write:tasks,read:tasks",
        ))
    };
    let mut checked = Hierarchy::new();
    for (scope, implied) in given {
        let scope = scope.trim();
        known(scope)?;
        let mut set = BTreeSet::new();
        for item in implied {
            let item = item.trim();
            known(item)?;
            if item == scope {
                return Err(Invalid::new(
                    format!("in the scope hierarchy `{scope}` implies itself"),
                    "leave it out of its own list",
                ));
            }
            set.insert(item);
        }
        let list: Vec<String> = scopes
            .iter()
            .filter(|known| set.contains(known.as_str()))
            .cloned()
            .collect();
        if !list.is_empty() {
            checked.entry(scope.to_string()).or_default().extend(list);
        }
    }
    for list in checked.values_mut() {
        let mut seen = BTreeSet::new();
        list.retain(|scope| seen.insert(scope.clone()));
    }
    if let Some(cycle) = find_cycle(&checked) {
        return Err(Invalid::new(
            format!("the scope hierarchy has a cycle: {}", cycle.join(" -> ")),
            "a broader scope implies narrower ones only; drop one of these implications",
        ));
    }
    Ok(checked)
}

/// A recorded hierarchy that may no longer fit `scopes`: what still fits,
/// without a word (as remembered tool scopes are).
pub fn fit(recorded: &Hierarchy, scopes: &[String]) -> Hierarchy {
    let kept: Hierarchy = recorded
        .iter()
        .filter(|(scope, _)| scopes.contains(scope))
        .map(|(scope, implied)| {
            let implied = implied
                .iter()
                .filter(|item| scopes.contains(item) && *item != scope)
                .cloned()
                .collect::<Vec<_>>();
            (scope.clone(), implied)
        })
        .filter(|(_, implied)| !implied.is_empty())
        .collect();
    check(&kept, scopes, "the scopes").unwrap_or_default()
}

/// `granted` with every scope `hierarchy` says they imply, transitively
/// (what the generated server's `policy::expand` grants).
pub fn expand(granted: &BTreeSet<String>, hierarchy: &Hierarchy) -> BTreeSet<String> {
    let mut all = granted.clone();
    let mut pending: Vec<&String> = granted.iter().collect();
    while let Some(scope) = pending.pop() {
        for implied in hierarchy.get(scope).into_iter().flatten() {
            if all.insert(implied.clone()) {
                pending.push(implied);
            }
        }
    }
    all
}

/// A cycle, as the scopes on it with the first repeated at the end.
fn find_cycle(hierarchy: &Hierarchy) -> Option<Vec<String>> {
    fn visit<'a>(
        scope: &'a str,
        hierarchy: &'a Hierarchy,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|on| *on == scope) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(scope.to_string());
            return Some(cycle);
        }
        if !done.insert(scope) {
            return None;
        }
        path.push(scope);
        for next in hierarchy.get(scope).into_iter().flatten() {
            if let Some(cycle) = visit(next, hierarchy, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    hierarchy
        .keys()
        .find_map(|scope| visit(scope, hierarchy, &mut Vec::new(), &mut done))
}

/// A given list of challenge scopes: valid scopes, at least one, each one
/// of the server's `scopes`.
pub fn check_challenge(
    given: &[String],
    scopes: &[String],
    scopes_name: &str,
) -> Result<Vec<String>, Invalid> {
    let list = validate::scopes(given)?;
    if let Some(unknown) = list.iter().find(|scope| !scopes.contains(scope)) {
        return Err(Invalid::new(
            format!(
                "challenge scope `{unknown}` is not in {scopes_name} ({})",
                scopes.join(", ")
            ),
            "name scopes of the server, e.g. the read scope",
        ));
    }
    Ok(list)
}

/// The scopes a 401 challenge names when none are given: what a client
/// needs for basic use, not the whole catalogue (which the metadata's
/// `scopes_supported` lists).
///
/// - The scopes of the read-only tools: those with the read-only annotation,
///   and those whose every scope reads as a read scope (`read`/`view`).
/// - Without one: the scopes of the tool that needs the fewest, then the
///   narrowest ([`propose::breadth`]), then the first by name. With them a
///   client can list the tools (which needs no scope) and call one.
/// - Without tools: the narrowest scope (the first on a tie), so that the
///   challenge still names one.
///
/// In the order of `scopes`.
pub fn default_challenge(
    project: &Project,
    scopes: &[String],
    tool_scopes: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let reads = |list: &[String]| {
        !list.is_empty()
            && list
                .iter()
                .all(|scope| grant_of(scope).is_some_and(|(grant, _)| grant == Grant::Read))
    };
    let read_only = |tool: &str, list: &[String]| {
        reads(list)
            || project
                .tools
                .iter()
                .any(|known| known.name == tool && known.read_only)
    };
    let mut wanted: BTreeSet<&str> = tool_scopes
        .iter()
        .filter(|(tool, list)| read_only(tool, list))
        .flat_map(|(_, list)| list.iter().map(String::as_str))
        .collect();
    if wanted.is_empty() {
        let widest = |list: &[String]| list.iter().map(|s| propose::breadth(s)).max();
        if let Some((_, list)) = tool_scopes
            .iter()
            .filter(|(_, list)| !list.is_empty())
            .min_by_key(|(tool, list)| (list.len(), widest(list), tool.as_str()))
        {
            wanted.extend(list.iter().map(String::as_str));
        }
    }
    if wanted.is_empty()
        && let Some(narrowest) = scopes.iter().min_by_key(|s| propose::breadth(s))
    {
        wanted.insert(narrowest);
    }
    scopes
        .iter()
        .filter(|scope| wanted.contains(scope.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::testing::{project, tool};

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn map(pairs: &[(&str, &[&str])]) -> Hierarchy {
        pairs
            .iter()
            .map(|(scope, implied)| (scope.to_string(), list(implied)))
            .collect()
    }

    #[test]
    fn the_proposal_orders_scopes_of_a_resource_and_admin_implies_all() {
        let scopes = list(&["read:tasks", "write:tasks", "delete:tasks"]);
        assert_eq!(
            propose(&scopes),
            map(&[
                ("delete:tasks", &["read:tasks", "write:tasks"]),
                ("write:tasks", &["read:tasks"]),
            ])
        );
        // Every naming style; other resources and unknown words stay apart.
        let scopes = list(&[
            "tasks.read",
            "tasks.manage",
            "users:read",
            "usersWrite",
            "mcp",
        ]);
        assert_eq!(
            propose(&scopes),
            map(&[
                ("tasks.manage", &["tasks.read"]),
                ("usersWrite", &["users:read"])
            ])
        );
        // Admin: of no resource, everything; of a resource, that resource.
        let scopes = list(&[
            "read",
            "write",
            "admin",
            "*",
            "tasks:*",
            "read:tasks",
            "mcp",
        ]);
        assert_eq!(
            propose(&scopes),
            map(&[
                ("*", &["read", "write", "tasks:*", "read:tasks", "mcp"]),
                ("admin", &["read", "write", "tasks:*", "read:tasks", "mcp"]),
                ("tasks:*", &["read:tasks"]),
                ("write", &["read"]),
            ])
        );
        assert_eq!(propose(&list(&["mcp", "profile"])), Hierarchy::new());
        // Never a cycle.
        for scopes in [
            &scopes,
            &list(&["read:tasks", "write:tasks", "delete:tasks"]),
        ] {
            assert_eq!(check(&propose(scopes), scopes, "s"), Ok(propose(scopes)));
        }
        assert_eq!(
            describe(&propose(&list(&["read:tasks", "write:tasks"]))),
            "write:tasks -> read:tasks"
        );
        assert_eq!(describe(&Hierarchy::new()), "none");
        // What `auth test` grants a token: transitively, nothing more.
        let chain = map(&[
            ("admin", &["delete"]),
            ("delete", &["write"]),
            ("write", &["read"]),
        ]);
        let granted =
            |scopes: &[&str]| expand(&scopes.iter().map(|s| s.to_string()).collect(), &chain);
        assert_eq!(
            granted(&["delete"]),
            ["delete", "read", "write"].map(String::from).into()
        );
        assert_eq!(granted(&["other"]), ["other".to_string()].into());
    }

    #[test]
    fn a_given_hierarchy_names_known_scopes_without_loops() {
        let scopes = list(&["read:tasks", "write:tasks", "delete:tasks", "admin"]);
        assert_eq!(
            check(
                &map(&[
                    (" admin ", &["delete:tasks", "read:tasks", "read:tasks"]),
                    ("write:tasks", &[])
                ]),
                &scopes,
                "--scopes"
            ),
            Ok(map(&[("admin", &["read:tasks", "delete:tasks"])]))
        );
        let reason = |given: Hierarchy| check(&given, &scopes, "--scopes").unwrap_err().reason;
        assert_eq!(
            reason(map(&[("owner", &["read:tasks"])])),
            "the scope hierarchy names `owner`, which is not in --scopes \
             (read:tasks, write:tasks, delete:tasks, admin)"
        );
        assert_eq!(
            reason(map(&[("admin", &["everything"])])),
            "the scope hierarchy names `everything`, which is not in --scopes \
             (read:tasks, write:tasks, delete:tasks, admin)"
        );
        assert_eq!(
            reason(map(&[("admin", &["admin"])])),
            "in the scope hierarchy `admin` implies itself"
        );
        assert_eq!(
            reason(map(&[
                ("admin", &["delete:tasks"]),
                ("delete:tasks", &["write:tasks"]),
                ("write:tasks", &["admin"]),
            ])),
            "the scope hierarchy has a cycle: admin -> delete:tasks -> write:tasks -> admin"
        );
        // A recorded one is trimmed to what still fits, without a word.
        let recorded = map(&[
            ("admin", &["gone", "read:tasks"]),
            ("gone", &["read:tasks"]),
        ]);
        assert_eq!(fit(&recorded, &scopes), map(&[("admin", &["read:tasks"])]));
    }

    #[test]
    fn challenge_scopes_default_to_what_the_read_only_tools_need() {
        let tasks = project(
            "tasks-server",
            vec![
                tool("search-tasks", true, false),
                tool("create-task", false, false),
                tool("delete-task", false, true),
            ],
        );
        let scopes = list(&["read:tasks", "write:tasks", "delete:tasks"]);
        let mapped = |pairs: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> { map(pairs) };
        let tools = mapped(&[
            ("search-tasks", &["read:tasks"]),
            ("create-task", &["write:tasks"]),
            ("delete-task", &["delete:tasks"]),
        ]);
        assert_eq!(default_challenge(&tasks, &scopes, &tools), ["read:tasks"]);
        // The read-only annotation counts whatever the scope is called.
        let tools = mapped(&[
            ("search-tasks", &["tasks"]),
            ("create-task", &["write:tasks"]),
        ]);
        let scopes2 = list(&["write:tasks", "tasks"]);
        assert_eq!(default_challenge(&tasks, &scopes2, &tools), ["tasks"]);
        // No read-only tool: the tool needing the fewest, then narrowest.
        let tools = mapped(&[
            ("create-task", &["write:tasks"]),
            ("delete-task", &["delete:tasks"]),
        ]);
        let writer = project("tasks-server", vec![tool("create-task", false, false)]);
        assert_eq!(default_challenge(&writer, &scopes, &tools), ["write:tasks"]);
        let tools = mapped(&[
            ("create-task", &["write:tasks", "read:tasks"]),
            ("delete-task", &["delete:tasks"]),
        ]);
        assert_eq!(
            default_challenge(&writer, &scopes, &tools),
            ["delete:tasks"]
        );
        // No tools: the narrowest scope.
        let none = project("tasks-server", vec![]);
        assert_eq!(
            default_challenge(&none, &list(&["admin", "write", "read"]), &BTreeMap::new()),
            ["read"]
        );
        // Given ones must be the server's.
        assert_eq!(
            check_challenge(&list(&["read:tasks", " read:tasks"]), &scopes, "--scopes"),
            Ok(list(&["read:tasks"]))
        );
        assert_eq!(
            check_challenge(&list(&["admin"]), &scopes, "--scopes")
                .unwrap_err()
                .reason,
            "challenge scope `admin` is not in --scopes (read:tasks, write:tasks, delete:tasks)"
        );
        assert!(check_challenge(&[], &scopes, "--scopes").is_err());
    }
}
