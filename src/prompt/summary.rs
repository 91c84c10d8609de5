//! The summary shown before the confirmation: the answers, the files the
//! plan creates, updates or skips, and the dependencies it adds. Pure text
//! from the plan; nothing here prints.

use std::path::Path;

use toml_edit::{DocumentMut, Item};

use crate::{
    inspect::Project,
    plan::{FileAction, Plan},
    providers::Location,
    resolve::Resolved,
};

/// The summary, one fact per line, ending with a newline.
pub fn render(project: &Project, resolved: &Resolved, plan: &Plan, force: bool) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        (
            "provider",
            format!(
                "{}, {} {}",
                resolved.provider.name,
                match resolved.provider.location {
                    Location::Host => "tenant",
                    Location::IssuerUrl => "issuer",
                    Location::SupabaseUrl => "project",
                },
                resolved.domain
            ),
        ),
        (
            "audience",
            if resolved.audience.is_empty() {
                "none in the tokens (client ids are checked)".to_string()
            } else {
                resolved.audience.clone()
            },
        ),
    ];
    if !resolved.options.client_ids.is_empty() {
        rows.push(("client ids", resolved.options.client_ids.join(", ")));
    }
    if let Some(url) = resolved.options.introspection() {
        rows.push(("tokens", format!("opaque, checked at {url} (RFC 7662)")));
    }
    if let Some(url) = &resolved.resource_url {
        rows.push(("resource URL", url.clone()));
    }
    rows.push(("scopes", resolved.scopes.join(", ")));
    for (tool, scopes) in &resolved.tool_scopes {
        rows.push(("tool", format!("{tool} -> {}", scopes.join(", "))));
    }
    if resolved.scope_implies.is_empty() {
        rows.push(("hierarchy", "none (each scope grants only itself)".into()));
    }
    for (scope, implied) in &resolved.scope_implies {
        rows.push((
            "hierarchy",
            format!("{scope} implies {}", implied.join(", ")),
        ));
    }
    rows.push((
        "challenge",
        format!(
            "{} (what a 401 asks for)",
            resolved.challenge_scopes.join(", ")
        ),
    ));
    // Files grouped by what happens to them, in the plan's order.
    let mut files: Vec<(&str, String)> = plan
        .changes
        .iter()
        .filter_map(|change| {
            let path = shown(&plan.root, &change.path);
            Some(match &change.action {
                FileAction::Create { .. } => ("create", path),
                FileAction::Update { .. } => ("update", path),
                FileAction::Delete { .. } => ("delete", path),
                FileAction::Identical => return None,
                FileAction::Kept => (
                    "keep",
                    format!("{path} (yours: recorded in mcp-builder.json)"),
                ),
                FileAction::Conflict { .. } if force => (
                    "overwrite",
                    format!("{path} (you changed it since it was generated)"),
                ),
                FileAction::Conflict { .. } => (
                    "skip",
                    format!(
                        "{path} (you changed it since it was generated; --force overwrites it)"
                    ),
                ),
            })
        })
        .collect();
    let order = ["create", "update", "delete", "overwrite", "skip", "keep"];
    files.sort_by_key(|(label, _)| order.iter().position(|o| o == label));
    rows.extend(files);
    for change in &plan.changes {
        if let FileAction::Update { before, after } = &change.action
            && change
                .path
                .file_name()
                .is_some_and(|name| name == "Cargo.toml")
        {
            for dependency in added_dependencies(before, after) {
                rows.push(("dependency", dependency));
            }
        }
    }

    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let mut out = format!("\nadd-auth will protect `{}`:\n", project.package_name);
    let mut previous = "";
    for (label, value) in rows {
        let shown_label = if label == previous { "" } else { label };
        out.push_str(&format!("  {shown_label:width$}  {value}\n"));
        previous = label;
    }
    out
}

/// A plan path as the user knows it: relative to the package root.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Entries of `[dependencies]` and `[workspace.dependencies]` that `after`
/// adds to `before`, as `name = value`, or `name: features +a, b` for an
/// entry that gains features. Manifests that do not parse give nothing.
pub fn added_dependencies(before: &str, after: &str) -> Vec<String> {
    let (Ok(before), Ok(after)) = (before.parse::<DocumentMut>(), after.parse::<DocumentMut>())
    else {
        return Vec::new();
    };
    let mut added = Vec::new();
    for path in [&["dependencies"][..], &["workspace", "dependencies"]] {
        let table = |doc: &DocumentMut| -> Option<toml_edit::Table> {
            let mut item = doc.as_item();
            for key in path {
                item = item.get(key)?;
            }
            match item {
                Item::Table(table) => Some(table.clone()),
                _ => None,
            }
        };
        let Some(new) = table(&after) else { continue };
        let old = table(&before).unwrap_or_default();
        let prefix = if path.len() == 2 { "workspace: " } else { "" };
        for (name, item) in new.iter() {
            match old.get(name) {
                None => added.push(format!("{prefix}{name} = {}", inline(item))),
                Some(previous) if inline(previous) != inline(item) => {
                    let had = features(previous);
                    let gained: Vec<String> = features(item)
                        .into_iter()
                        .filter(|feature| !had.contains(feature))
                        .collect();
                    if gained.is_empty() {
                        added.push(format!(
                            "{prefix}{name}: {} -> {}",
                            inline(previous),
                            inline(item)
                        ));
                    } else {
                        added.push(format!("{prefix}{name}: features +{}", gained.join(", ")));
                    }
                }
                Some(_) => {}
            }
        }
    }
    added
}

/// An entry's value as one line of TOML.
fn inline(item: &Item) -> String {
    match item.clone().into_value() {
        Ok(mut value) => {
            value.decor_mut().clear();
            if let Some(table) = value.as_inline_table_mut() {
                table.fmt();
            }
            value.to_string()
        }
        Err(item) => item.to_string().trim().to_string(),
    }
}

fn features(item: &Item) -> Vec<String> {
    item.get("features")
        .and_then(Item::as_array)
        .map(|array| {
            array
                .iter()
                .filter_map(|value| value.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{plan::FileChange, providers::AUTH0, resolve::testing::tasks_project};

    #[test]
    fn new_entries_and_new_features_are_listed() {
        let before = "[package]\nname = \"x\"\n\n[dependencies]\nrmcp = \"3.11\"\ntokio = { version = \"1\", features = [\"macros\"] }\nserde = \"1\"\n";
        let after = "[package]\nname = \"x\"\n\n[dependencies]\nrmcp = \"3.11\"\ntokio = { version = \"1\", features = [\"macros\", \"sync\", \"time\"] }\nserde = { version = \"1\", features = [\"derive\"] }\njsonwebtoken = { version = \"11\", default-features = false, features = [\"aws_lc_rs\"] }\n\n[dependencies.dotenvy]\nversion = \"0.15\"\n";
        assert_eq!(
            added_dependencies(before, after),
            [
                "tokio: features +sync, time",
                "serde: features +derive",
                "jsonwebtoken = { version = \"11\", default-features = false, features = [\"aws_lc_rs\"] }",
                "dotenvy = { version = \"0.15\" }",
            ]
        );
        let ws_before = "[workspace]\nmembers = [\"a\"]\n";
        let ws_after =
            "[workspace]\nmembers = [\"a\"]\n\n[workspace.dependencies]\ntracing = \"0.1\"\n";
        assert_eq!(
            added_dependencies(ws_before, ws_after),
            ["workspace: tracing = \"0.1\""]
        );
        assert!(added_dependencies("[dependencies", "").is_empty());
    }

    #[test]
    fn the_summary_lists_answers_files_and_dependencies() {
        let project = tasks_project();
        let resolved = Resolved {
            provider: &AUTH0,
            domain: "tasks-test.auth0.com".into(),
            audience: "https://tasks.example.com/mcp".into(),
            resource_url: None,
            scopes: vec!["read:tasks".into(), "write:tasks".into()],
            tool_scopes: BTreeMap::from([
                ("create-task".to_string(), vec!["write:tasks".to_string()]),
                ("search-tasks".to_string(), vec!["read:tasks".to_string()]),
            ]),
            options: Default::default(),
            scope_implies: BTreeMap::from([(
                "write:tasks".to_string(),
                vec!["read:tasks".to_string()],
            )]),
            challenge_scopes: vec!["read:tasks".into()],
            challenge_scopes_given: false,
            filter_lists: true,
            strict_tools: false,
            add_http: false,
        };
        let change = |path: &str, action: FileAction| FileChange {
            path: path.into(),
            action,
        };
        let plan = Plan {
            root: "/p".into(),
            changes: vec![
                change(
                    "src/auth/mod.rs",
                    FileAction::Create {
                        contents: "x".into(),
                    },
                ),
                change(
                    "src/auth/policy.rs",
                    FileAction::Conflict {
                        current: "a".into(),
                        desired: "b".into(),
                        upstream: None,
                    },
                ),
                change(
                    "src/main.rs",
                    FileAction::Update {
                        before: "a".into(),
                        after: "b".into(),
                    },
                ),
                change(".gitignore", FileAction::Identical),
                change(
                    "Cargo.toml",
                    FileAction::Update {
                        before: "[dependencies]\nrmcp = \"3\"\n".into(),
                        after: "[dependencies]\nrmcp = \"3\"\ndotenvy = \"0.15\"\n".into(),
                    },
                ),
            ],
            warnings: vec![],
        };
        assert_eq!(
            render(&project, &resolved, &plan, false),
            "
add-auth will protect `tasks-server`:
  provider    Auth0, tenant tasks-test.auth0.com
  audience    https://tasks.example.com/mcp
  scopes      read:tasks, write:tasks
  tool        create-task -> write:tasks
              search-tasks -> read:tasks
  hierarchy   write:tasks implies read:tasks
  challenge   read:tasks (what a 401 asks for)
  create      src/auth/mod.rs
  update      src/main.rs
              Cargo.toml
  skip        src/auth/policy.rs (you changed it since it was generated; --force overwrites it)
  dependency  dotenvy = \"0.15\"
"
        );
    }
}
