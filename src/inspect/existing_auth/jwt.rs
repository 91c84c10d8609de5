//! JWT libraries: finds a JWT library (`jsonwebtoken`, any crate named `*jwt*`) the package depends on and checks tokens with, from `Cargo.toml` and the parsed sources; add-auth's own `jsonwebtoken` (recorded in `mcp-builder.json`, or beside the generated module) and a library used only to sign tokens do not count.

use std::collections::HashSet;
use std::path::Path;

use syn::ext::IdentExt;
use syn::visit::{self, Visit};

use super::{Finding, Index};
use crate::inspect::sources::SourceFile;

/// JWT libraries the package depends on (see the module docs).
/// `generated`: the generated module is present (its `jsonwebtoken` use is
/// add-auth's own even when the state file is lost).
pub(super) fn libraries(root: &Path, index: &Index, generated: bool, findings: &mut Vec<Finding>) {
    let Ok(manifest) = std::fs::read_to_string(root.join("Cargo.toml")) else {
        return;
    };
    let ours = added_dependencies(root);
    for (line, key, package) in dependency_lines(&manifest) {
        let is_jwt = |name: &str| name == "jsonwebtoken" || name.contains("jwt");
        if !is_jwt(&package) {
            continue;
        }
        let krate = key.replace('-', "_");
        let uses = crate_uses(index, &krate);
        let decodes = |name: &String| {
            !matches!(
                name.as_str(),
                "encode" | "EncodingKey" | "Header" | "Algorithm" | "get_current_timestamp"
            )
        };
        if package == "jsonwebtoken"
            && !uses.is_empty()
            && !uses.iter().any(|(_, name)| decodes(name))
        {
            // Signs tokens only (an upstream API's), checks none.
            continue;
        }
        if let Some((at, name)) = uses.iter().find(|(_, name)| decodes(name)) {
            findings.push(Finding {
                at: at.clone(),
                what: format!("checks JWTs of its own with `{package}` (`{krate}::{name}`)"),
            });
        } else if uses.is_empty()
            && !(ours.contains(&key) || package == "jsonwebtoken" && generated)
        {
            findings.push(Finding {
                at: format!("Cargo.toml:{line}"),
                what: format!("depends on `{package}`, a JWT library"),
            });
        }
    }
}

/// `(line, key, package)` of each entry of `[dependencies]` and
/// `[target.'..'.dependencies]` (inline or as its own table), read line by
/// line: `toml_edit` keeps no line numbers.
fn dependency_lines(manifest: &str) -> Vec<(usize, String, String)> {
    let mut found = Vec::new();
    let mut in_deps = false;
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
    let package_of = |text: &str| {
        let rest = text
            .split("package")
            .nth(1)?
            .trim_start()
            .strip_prefix('=')?;
        let value = rest.trim_start().strip_prefix('"')?;
        Some(value.split('"').next()?.to_string())
    };
    let mut table: Option<(usize, String)> = None;
    let mut table_package = None;
    fn flush(
        table: &mut Option<(usize, String)>,
        package: &mut Option<String>,
        found: &mut Vec<(usize, String, String)>,
    ) {
        if let Some((line, key)) = table.take() {
            let package = package.take().unwrap_or_else(|| key.clone());
            found.push((line, key, package));
        }
    }
    for (n, text) in manifest.lines().enumerate() {
        let line = text.trim();
        if line.starts_with('[') {
            flush(&mut table, &mut table_package, &mut found);
            let header = line.trim_matches(|c| c == '[' || c == ']');
            let parts: Vec<String> = header.split('.').map(unquote).collect();
            let deps_at = parts.iter().position(|part| part == "dependencies");
            let dependency_table = deps_at.is_some_and(|i| {
                parts[..i].is_empty() || (parts.first().is_some_and(|p| p == "target") && i >= 2)
            });
            in_deps = dependency_table && deps_at == Some(parts.len() - 1);
            if dependency_table && let Some(name) = deps_at.and_then(|i| parts.get(i + 1)) {
                table = Some((n + 1, name.clone()));
            }
            continue;
        }
        if table.is_some() && line.starts_with("package") {
            table_package = package_of(line);
        }
        if in_deps && let Some((key, value)) = line.split_once('=') {
            let key = unquote(key.split('.').next().unwrap_or_default());
            if key.is_empty() || key.starts_with('#') {
                continue;
            }
            let package = package_of(value).unwrap_or_else(|| key.clone());
            found.push((n + 1, key, package));
        }
    }
    flush(&mut table, &mut table_package, &mut found);
    found
}

/// The dependencies earlier runs of add-auth added (`generator.added` in
/// `mcp-builder.json`).
fn added_dependencies(root: &Path) -> HashSet<String> {
    fn walk(value: &serde_json::Value, key: Option<&str>, out: &mut HashSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    walk(v, Some(k), out);
                }
            }
            serde_json::Value::Array(items) if key == Some("added") => {
                out.extend(
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_string)),
                );
            }
            _ => {}
        }
    }
    let mut out = HashSet::new();
    let added = std::fs::read_to_string(root.join(crate::plan::STATE_FILE))
        .ok()
        .and_then(|text| crate::plan::state::read_added(&text).ok().flatten());
    if let Some(cargo) = added.as_ref().and_then(|added| added.get("cargo")) {
        walk(cargo, None, &mut out);
    }
    out
}

/// `(file:line, name)` of each name the sources take from crate `krate`:
/// `use krate::{a, b}` and paths `krate::a` in function bodies (`use`
/// items first, each name once).
fn crate_uses(index: &Index, krate: &str) -> Vec<(String, String)> {
    struct Uses<'a> {
        krate: &'a str,
        file: &'a SourceFile,
        found: Vec<(String, String)>,
    }
    impl Uses<'_> {
        fn add(&mut self, name: String, node: &impl syn::spanned::Spanned) {
            if !self.found.iter().any(|(_, known)| *known == name) {
                self.found.push((self.file.location(node), name));
            }
        }
        fn tree(&mut self, tree: &syn::UseTree, under: bool, item: &syn::ItemUse) {
            match tree {
                syn::UseTree::Path(p) if under => self.tree(&p.tree, true, item),
                syn::UseTree::Path(p) => {
                    let name = p.ident.unraw().to_string();
                    self.tree(&p.tree, name == self.krate, item);
                }
                syn::UseTree::Name(n) if under => self.add(n.ident.unraw().to_string(), item),
                syn::UseTree::Rename(r) if under => self.add(r.ident.unraw().to_string(), item),
                syn::UseTree::Glob(_) if under => self.add("*".into(), item),
                syn::UseTree::Group(g) => {
                    for tree in &g.items {
                        self.tree(tree, under, item);
                    }
                }
                _ => {}
            }
        }
    }
    impl<'ast> Visit<'ast> for Uses<'_> {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            let mut segments = path.segments.iter();
            if segments
                .next()
                .is_some_and(|first| first.ident == self.krate)
                && let Some(next) = segments.next()
            {
                self.add(next.ident.unraw().to_string(), path);
            }
            visit::visit_path(self, path);
        }
    }
    let Some(first) = index.files.first() else {
        return Vec::new();
    };
    let mut uses = Uses {
        krate,
        file: first,
        found: Vec::new(),
    };
    for &(file, item) in &index.uses {
        uses.file = index.files[file];
        uses.tree(&item.tree, false, item);
    }
    for f in &index.fns {
        uses.file = index.files[f.file];
        uses.visit_block(f.block);
    }
    uses.found
}
