//! The scope map against the tools: every `#[tool]` the source declares now
//! has an entry in the generated `TOOL_SCOPES` (`tools-mapped`), and the
//! scopes tell tools apart (`scopes-granular`).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use syn::{spanned::Spanned, visit::Visit};

use super::{Finding, Location, Project};
use crate::probe::report::Status;

const MAPPED: &str = "tools-mapped";
const GRANULAR: &str = "scopes-granular";

/// One entry of `TOOL_SCOPES`.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    tool: String,
    scopes: Vec<String>,
    line: usize,
}

/// Both checks.
pub fn check(project: &Project) -> Vec<Finding> {
    let Some(policy) = project.generated_path("policy.rs") else {
        let why = "the state records no generated `policy.rs`: run `mcp-builder add-auth` again";
        return vec![Finding::fail(MAPPED, why), Finding::fail(GRANULAR, why)];
    };
    let text = project.file(policy);
    let Some(entries) = text.as_deref().and_then(scope_map) else {
        let why = format!("`{policy}` is missing or holds no `TOOL_SCOPES` table");
        return vec![
            Finding::fail(MAPPED, why.clone()).at(Location::file(policy)),
            Finding::fail(GRANULAR, why).at(Location::file(policy)),
        ];
    };
    let table_line = text
        .as_deref()
        .and_then(|text| super::text::line_where(text, |line| line.contains("TOOL_SCOPES:")));
    let mut findings = mapped(project, policy, &entries, table_line);
    findings.extend(granular(policy, &entries, table_line));
    if let Some(index) = findings
        .iter()
        .position(|finding| finding.id == GRANULAR && finding.status == Status::Pass)
        && let Some(warning) = full_challenge(project)
    {
        findings[index] = warning;
    }
    findings
}

fn mapped(
    project: &Project,
    policy: &str,
    entries: &[Entry],
    table_line: Option<usize>,
) -> Vec<Finding> {
    let project_found = match &project.inspected {
        Ok(found) => found,
        Err(why) => {
            return vec![Finding::fail(
                MAPPED,
                format!("cannot list the project's tools: {why}"),
            )];
        }
    };
    let root = project.root.canonicalize().unwrap_or(project.root.clone());
    let mapped: BTreeSet<&str> = entries.iter().map(|entry| entry.tool.as_str()).collect();
    let mut findings = Vec::new();
    for tool in &project_found.tools {
        if mapped.contains(tool.name.as_str()) {
            continue;
        }
        let absolute = project_found.root.join(&tool.file);
        let file = absolute
            .strip_prefix(&root)
            .unwrap_or(&tool.file)
            .to_path_buf();
        let line = std::fs::read_to_string(&absolute)
            .ok()
            .and_then(|text| tool_line(&text, &tool.fn_name));
        findings.push(
            Finding::fail(MAPPED, format!(
                "tool `{}` has no entry in `TOOL_SCOPES` (`{policy}`): it needs every scope until mapped; run `mcp-builder add-auth --tool-scope {}=SCOPE`",
                tool.name, tool.name
            ))
            .at(Location::line(slash(&file), line)),
        );
    }
    let declared: BTreeSet<&str> = project_found
        .tools
        .iter()
        .map(|tool| tool.name.as_str())
        .collect();
    if !declared.is_empty() {
        for entry in entries
            .iter()
            .filter(|entry| !declared.contains(entry.tool.as_str()))
        {
            findings.push(
                Finding::warn(MAPPED, format!(
                    "`TOOL_SCOPES` maps `{}`, which no `#[tool]` declares any more: remove the entry or run add-auth again",
                    entry.tool
                ))
                .at(Location::line(policy, Some(entry.line))),
            );
        }
    }
    if project_found.tools.is_empty() {
        findings.push(
            Finding::warn(
                MAPPED,
                "no `#[tool]` methods found, so the tools served cannot be compared with `TOOL_SCOPES`: unlisted tools need every scope",
            )
            .at(Location::line(policy, table_line)),
        );
    }
    if findings.is_empty() {
        findings.push(
            Finding::pass(
                MAPPED,
                match project_found.tools.len() {
                    1 => "the one tool has scopes in `TOOL_SCOPES`".to_string(),
                    count => format!("all {count} tools have scopes in `TOOL_SCOPES`"),
                },
            )
            .at(Location::line(policy, table_line)),
        );
    }
    findings
}

fn granular(policy: &str, entries: &[Entry], table_line: Option<usize>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = entries
        .iter()
        .filter(|entry| entry.scopes.is_empty())
        .map(|entry| {
            Finding::warn(
                GRANULAR,
                format!(
                    "tool `{}` needs no scope: any valid token may call it",
                    entry.tool
                ),
            )
            .at(Location::line(policy, Some(entry.line)))
        })
        .collect();
    let sets: BTreeSet<BTreeSet<&str>> = entries
        .iter()
        .filter(|entry| !entry.scopes.is_empty())
        .map(|entry| entry.scopes.iter().map(String::as_str).collect())
        .collect();
    let scoped = entries
        .iter()
        .filter(|entry| !entry.scopes.is_empty())
        .count();
    if scoped > 1 && sets.len() == 1 {
        let scopes: Vec<&str> = sets.iter().flatten().copied().collect();
        findings.push(
            Finding::warn(GRANULAR, format!(
                "one scope set (`{}`) guards all {scoped} tools: give reading, writing and deleting their own scopes",
                scopes.join(" ")
            ))
            .at(Location::line(policy, table_line)),
        );
    }
    if findings.is_empty() {
        let distinct: BTreeMap<&str, ()> = entries
            .iter()
            .flat_map(|entry| entry.scopes.iter().map(|scope| (scope.as_str(), ())))
            .collect();
        findings.push(
            Finding::pass(
                GRANULAR,
                format!(
                    "{} tools use {} distinct scopes",
                    entries.len(),
                    distinct.len()
                ),
            )
            .at(Location::line(policy, table_line)),
        );
    }
    findings
}

/// A warning when the state's `challenge_scopes` (absent: the default, the
/// read-only tools' scopes) asks every client for the whole catalogue.
fn full_challenge(project: &Project) -> Option<Finding> {
    let strings = |key: &str| -> Option<BTreeSet<&str>> {
        let items = project.auth.get(key)?.as_array()?;
        Some(items.iter().filter_map(|item| item.as_str()).collect())
    };
    let asked = strings("challenge_scopes")?;
    let catalogue = strings("scopes")?;
    (catalogue.len() > 1 && catalogue.is_subset(&asked)).then(|| {
        Finding::warn(GRANULAR, format!(
            "a 401 challenge asks for every scope ({}): name only the scopes for basic use in `challenge_scopes`",
            catalogue.into_iter().collect::<Vec<_>>().join(" ")
        ))
        .at(project.state_location("challenge_scopes"))
    })
}

/// The entries of the `TOOL_SCOPES` constant: each tuple whose first item
/// is a string literal, with the string literals after it as its scopes.
fn scope_map(text: &str) -> Option<Vec<Entry>> {
    let file = syn::parse_file(text).ok()?;
    let table = file.items.iter().find_map(|item| match item {
        syn::Item::Const(item) if item.ident == "TOOL_SCOPES" => Some(item),
        _ => None,
    })?;
    let mut entries = Entries(Vec::new());
    entries.visit_expr(&table.expr);
    Some(entries.0)
}

struct Entries(Vec<Entry>);

impl<'ast> Visit<'ast> for Entries {
    fn visit_expr_tuple(&mut self, tuple: &'ast syn::ExprTuple) {
        let mut items = tuple.elems.iter();
        let Some(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(tool),
            ..
        })) = items.next()
        else {
            return;
        };
        let mut scopes = Strings(Vec::new());
        items.for_each(|item| scopes.visit_expr(item));
        self.0.push(Entry {
            tool: tool.value(),
            scopes: scopes.0,
            line: tuple.span().start().line,
        });
    }
}

struct Strings(Vec<String>);

impl<'ast> Visit<'ast> for Strings {
    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.0.push(lit.value());
    }
}

/// The line of the `#[tool]` attribute of method `fn_name` (else of the
/// `fn` itself).
fn tool_line(text: &str, fn_name: &str) -> Option<usize> {
    let file = syn::parse_file(text).ok()?;
    let mut finder = FindFn {
        name: fn_name,
        line: None,
    };
    finder.visit_file(&file);
    finder.line
}

struct FindFn<'a> {
    name: &'a str,
    line: Option<usize>,
}

impl FindFn<'_> {
    fn found(&mut self, attrs: &[syn::Attribute], sig: &syn::Signature) {
        if self.line.is_some() || sig.ident != self.name {
            return;
        }
        let attribute = attrs.iter().find(|attr| {
            attr.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "tool")
        });
        self.line = Some(match attribute {
            Some(attr) => attr.span().start().line,
            None => sig.ident.span().start().line,
        });
    }
}

impl<'ast> Visit<'ast> for FindFn<'_> {
    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.found(&item.attrs, &item.sig);
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.found(&item.attrs, &item.sig);
    }
}

fn slash(path: &Path) -> String {
    crate::slash::slash_path(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_table_with_lines() {
        let text = "pub const SCOPES_SUPPORTED: &[&str] = &[\"a\"];\n\
                    pub const TOOL_SCOPES: &[(&str, &[&str])] = &[\n    (\"create-task\", &[\"write:tasks\"]),\n    (\"ping\", &[]),\n];\n";
        assert_eq!(
            scope_map(text).unwrap(),
            [
                Entry {
                    tool: "create-task".into(),
                    scopes: vec!["write:tasks".into()],
                    line: 3
                },
                Entry {
                    tool: "ping".into(),
                    scopes: vec![],
                    line: 4
                },
            ]
        );
        assert_eq!(scope_map("const OTHER: u8 = 1;"), None);
    }

    #[test]
    fn finds_the_tool_attribute_line() {
        let text = "impl S {\n    /// doc\n    #[tool(name = \"x\")]\n    async fn x_tool(&self) {}\n    fn y() {}\n}\n";
        assert_eq!(tool_line(text, "x_tool"), Some(3));
        assert_eq!(tool_line(text, "y"), Some(5));
        assert_eq!(tool_line(text, "z"), None);
    }

    #[test]
    fn one_scope_for_every_tool_is_not_granular() {
        let entry = |tool: &str, scopes: &[&str], line| Entry {
            tool: tool.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            line,
        };
        let same = [entry("a", &["s"], 3), entry("b", &["s"], 4)];
        let found = granular("p.rs", &same, Some(2));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].status, crate::probe::report::Status::Warn);
        let open = [entry("a", &["s"], 3), entry("b", &[], 4)];
        let found = granular("p.rs", &open, Some(2));
        assert_eq!(found[0].at, Some(Location::line("p.rs", Some(4))));
        let fine = [entry("a", &["r"], 3), entry("b", &["w"], 4)];
        assert_eq!(
            granular("p.rs", &fine, Some(2))[0].status,
            crate::probe::report::Status::Pass
        );
    }
}
