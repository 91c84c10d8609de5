//! Crate root: decides which crate root (the library, a binary or an example, as `targets` lists them) owns the file that mounts the MCP endpoint, and where a new `mod` line goes in it; it follows `mod` declarations, nothing else.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, anyhow};
use syn::ext::IdentExt;

use super::sources::SourceFile;

/// The crate root whose module tree holds `mount_file` (paths relative to
/// the package root).
///
/// The crate roots are the files `sources::load` marked (`src/lib.rs`,
/// `src/main.rs`, `src/bin/NAME.rs`, `[[bin]]`/`[[example]]` paths,
/// `examples/*.rs`...). A crate root owns itself. Another file belongs to
/// the first root that declares it (directly or through other modules):
/// the library, then the binaries (`src/main.rs` first), then the
/// examples. The generated module then lives beside that root
/// (`src/bin/auth/mod.rs` beside `src/bin/http.rs`, `examples/auth/mod.rs`
/// beside `examples/server.rs`: directories without `main.rs`, which cargo
/// does not take for another target).
pub(crate) fn crate_root_for(mount_file: &Path, files: &[SourceFile]) -> Result<PathBuf> {
    let mut roots: Vec<(super::targets::Kind, &Path)> = files
        .iter()
        .filter_map(|file| Some((file.target?, file.rel.as_path())))
        .collect();
    roots.sort_by_key(|(kind, path)| (*kind, *path != Path::new("src/main.rs"), *path));
    if roots.iter().any(|(_, root)| *root == mount_file) {
        return Ok(mount_file.to_path_buf());
    }
    let by_path: HashMap<&Path, &SourceFile> = files
        .iter()
        .map(|file| (file.rel.as_path(), file))
        .collect();
    roots
        .iter()
        .find(|(_, root)| module_tree(root, &by_path).contains(mount_file))
        .map(|(_, root)| root.to_path_buf())
        .ok_or_else(|| {
            let listed: Vec<String> = roots
                .iter()
                .map(|(_, root)| format!("`{}`", root.display()))
                .collect();
            anyhow!(
                "`{}` mounts the MCP endpoint but no `mod` declaration in a crate root of the package ({}) leads to it\n\
                 help: declare it as a module of the binary or library that serves it (`mod NAME;`), then run add-auth again",
                mount_file.display(),
                if listed.is_empty() {
                    "none found".to_string()
                } else {
                    listed.join(", ")
                }
            )
        })
}

/// Every file reachable from `root` through `mod name;` declarations
/// (including `#[path = ".."]` ones), `root` included.
fn module_tree(root: &Path, files: &HashMap<&Path, &SourceFile>) -> HashSet<PathBuf> {
    walk_modules(
        root,
        |candidate| files.contains_key(candidate),
        |rel, child_dir| files.get(rel).map(|file| module_files(file, child_dir)),
    )
}

/// Walks the module tree from the crate root `root`: `children(file,
/// child_dir)` gives the candidates of each `mod` declaration of `file`
/// (see [`module_files`]; `None` when there is no such file), and the first
/// candidate that `exists` is followed. Returns every file visited, `root`
/// included.
pub(crate) fn walk_modules(
    root: &Path,
    exists: impl Fn(&Path) -> bool,
    mut children: impl FnMut(&Path, &Path) -> Option<Vec<Vec<(PathBuf, PathBuf)>>>,
) -> HashSet<PathBuf> {
    let mut seen = HashSet::new();
    // (file, directory its child modules live in)
    let mut queue = vec![(root.to_path_buf(), parent(root))];
    while let Some((rel, child_dir)) = queue.pop() {
        if !seen.insert(rel.clone()) {
            continue;
        }
        let Some(found) = children(&rel, &child_dir) else {
            continue;
        };
        for candidates in found {
            if let Some(candidate) = candidates.into_iter().find(|(path, _)| exists(path)) {
                queue.push(candidate);
            }
        }
    }
    seen
}

/// For each `mod name;` of `file` (whose child modules live in
/// `child_dir`), the candidate files and the directory of their own child
/// modules.
pub(crate) fn module_files(file: &SourceFile, child_dir: &Path) -> Vec<Vec<(PathBuf, PathBuf)>> {
    let mut found = Vec::new();
    collect_mod_files(
        &file.ast.items,
        &parent(&file.rel),
        child_dir,
        true,
        &mut found,
    );
    found
}

/// For each `mod name;` in `items`, the candidate files and the directory of
/// their own child modules.
fn collect_mod_files(
    items: &[syn::Item],
    file_dir: &Path,
    child_dir: &Path,
    file_level: bool,
    found: &mut Vec<Vec<(PathBuf, PathBuf)>>,
) {
    for item in items {
        let syn::Item::Mod(module) = item else {
            continue;
        };
        let name = module.ident.unraw().to_string();
        let path_attr = module.attrs.iter().find_map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        });
        match (&module.content, path_attr) {
            (None, Some(path)) => {
                let base = if file_level { file_dir } else { child_dir };
                let file = normalize(&base.join(path));
                let dir = parent(&file);
                found.push(vec![(file, dir)]);
            }
            (None, None) => {
                let dir = child_dir.join(&name);
                found.push(vec![
                    (child_dir.join(format!("{name}.rs")), dir.clone()),
                    (dir.join("mod.rs"), dir),
                ]);
            }
            (Some((_, inner)), _) => {
                collect_mod_files(inner, file_dir, &child_dir.join(&name), false, found);
            }
        }
    }
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Resolves `.` and `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Byte offset (start of a line) in a crate root where `mod NAME;` goes:
/// among the `mod x;` declarations at the top of the file, in alphabetical
/// order as rustfmt keeps them; without any, after the leading `use` and
/// `extern crate` items; without those either, after the inner attributes
/// and `//!` docs.
pub(crate) fn mod_insert_at(file: &SourceFile, name: &str) -> usize {
    let (text, lines) = (&file.text, &file.lines);
    let leading: Vec<&syn::Item> = file
        .ast
        .items
        .iter()
        .take_while(|item| match item {
            syn::Item::Use(_) | syn::Item::ExternCrate(_) => true,
            syn::Item::Mod(module) => module.content.is_none(),
            _ => false,
        })
        .collect();
    let mods: Vec<&syn::ItemMod> = leading
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(module) => Some(module),
            _ => None,
        })
        .collect();
    if let Some(after) = mods
        .iter()
        .find(|module| module.ident.unraw().to_string().as_str() > name)
    {
        return lines.line_start(super::offsets::span_bounds(*after).0.line);
    }
    if let Some(last) = mods.last() {
        return lines.next_line_start(text, lines.range_of(text, *last).end);
    }
    if let Some(last) = leading.last() {
        return lines.next_line_start(text, lines.range_of(text, *last).end);
    }
    if let Some(last) = file.ast.attrs.last() {
        return lines.next_line_start(text, lines.range_of(text, last).end);
    }
    if file.ast.shebang.is_some() {
        return lines.next_line_start(text, 0);
    }
    lines.offset(text, proc_macro2::LineColumn { line: 1, column: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::targets::Kind;

    fn parsed(rel: &str, text: &str) -> SourceFile {
        SourceFile::parse(PathBuf::from(rel), text.to_string()).unwrap()
    }

    fn insert_auth(text: &str) -> String {
        let file = parsed("src/main.rs", text);
        let at = mod_insert_at(&file, "auth");
        format!("{}mod auth;\n{}", &text[..at], &text[at..])
    }

    #[test]
    fn mod_goes_in_alphabetical_order_among_mod_declarations() {
        assert_eq!(
            insert_auth("//! Docs.\n\nmod tasks;\n\nuse std::sync::Arc;\n\nfn main() {}\n"),
            "//! Docs.\n\nmod auth;\nmod tasks;\n\nuse std::sync::Arc;\n\nfn main() {}\n"
        );
        assert_eq!(
            insert_auth(
                "mod api;\n/// The app.\npub mod app_state;\n#[cfg(test)]\nmod tests;\nfn main() {}\n"
            ),
            "mod api;\n/// The app.\npub mod app_state;\nmod auth;\n#[cfg(test)]\nmod tests;\nfn main() {}\n"
        );
        assert_eq!(
            insert_auth("mod api; // the API\nuse x::y;\nfn main() {}\n"),
            "mod api; // the API\nmod auth;\nuse x::y;\nfn main() {}\n"
        );
    }

    #[test]
    fn mod_goes_after_leading_uses_or_inner_attributes() {
        assert_eq!(
            insert_auth("use a::b;\nuse c::{\n    d,\n};\n\nfn main() {}\nmod late;\n"),
            "use a::b;\nuse c::{\n    d,\n};\nmod auth;\n\nfn main() {}\nmod late;\n"
        );
        assert_eq!(
            insert_auth("//! Docs.\n#![deny(missing_docs)]\n\nfn main() {}\n"),
            "//! Docs.\n#![deny(missing_docs)]\nmod auth;\n\nfn main() {}\n"
        );
        assert_eq!(insert_auth("fn main() {}\n"), "mod auth;\nfn main() {}\n");
    }

    /// Parsed files; those named in `roots` are crate roots of that kind.
    fn files(tree: &[(&str, &str)], roots: &[(&str, Kind)]) -> Vec<SourceFile> {
        tree.iter()
            .map(|(rel, text)| {
                let mut file = parsed(rel, text);
                file.target = roots
                    .iter()
                    .find(|(root, _)| root == rel)
                    .map(|(_, kind)| *kind);
                file
            })
            .collect()
    }

    fn root_of(rel: &str, tree: &[SourceFile]) -> Result<String, String> {
        crate_root_for(Path::new(rel), tree)
            .map(|root| root.display().to_string())
            .map_err(|err| err.to_string())
    }

    #[test]
    fn crate_roots_follow_mod_declarations() {
        let tree = files(
            &[
                ("src/main.rs", "mod cli;\nfn main() {}\n"),
                ("src/cli.rs", "mod run;\n"),
                ("src/cli/run.rs", ""),
                (
                    "src/lib.rs",
                    "pub mod server;\nmod inline { #[path = \"../other/x.rs\"] mod x; }\n",
                ),
                ("src/server/mod.rs", "mod router;\n"),
                ("src/server/router.rs", ""),
                ("src/other/x.rs", ""),
                ("src/orphan.rs", ""),
                ("src/bin/http.rs", "mod http_server;\nfn main() {}\n"),
                ("src/bin/http_server.rs", ""),
            ],
            &[
                ("src/main.rs", Kind::Bin),
                ("src/lib.rs", Kind::Lib),
                ("src/bin/http.rs", Kind::Bin),
            ],
        );
        let root = |rel: &str| root_of(rel, &tree);
        assert_eq!(root("src/main.rs"), Ok("src/main.rs".into()));
        assert_eq!(root("src/lib.rs"), Ok("src/lib.rs".into()));
        assert_eq!(root("src/cli/run.rs"), Ok("src/main.rs".into()));
        assert_eq!(root("src/server/router.rs"), Ok("src/lib.rs".into()));
        assert_eq!(root("src/other/x.rs"), Ok("src/lib.rs".into()));
        assert_eq!(
            root("src/orphan.rs"),
            Err("`src/orphan.rs` mounts the MCP endpoint but no `mod` declaration in a crate root of the package \
                 (`src/lib.rs`, `src/main.rs`, `src/bin/http.rs`) leads to it\n\
                 help: declare it as a module of the binary or library that serves it (`mod NAME;`), then run add-auth again"
                .into())
        );
        assert_eq!(root("src/bin/http.rs"), Ok("src/bin/http.rs".into()));
        assert_eq!(root("src/bin/http_server.rs"), Ok("src/bin/http.rs".into()));
    }

    #[test]
    fn explicit_bins_and_examples_are_crate_roots() {
        let tree = files(
            &[
                ("bin/server.rs", "mod routes;\nfn main() {}\n"),
                ("bin/routes.rs", ""),
                ("examples/demo/main.rs", "mod http;\nfn main() {}\n"),
                ("examples/demo/http.rs", ""),
                ("src/counter_http.rs", "fn main() {}\n"),
                ("src/lib.rs", "pub mod shared;\n"),
                ("src/shared.rs", ""),
            ],
            &[
                ("bin/server.rs", Kind::Bin),
                ("examples/demo/main.rs", Kind::Example),
                ("src/counter_http.rs", Kind::Example),
                ("src/lib.rs", Kind::Lib),
            ],
        );
        let root = |rel: &str| root_of(rel, &tree);
        assert_eq!(root("bin/routes.rs"), Ok("bin/server.rs".into()));
        assert_eq!(
            root("examples/demo/http.rs"),
            Ok("examples/demo/main.rs".into())
        );
        assert_eq!(
            root("src/counter_http.rs"),
            Ok("src/counter_http.rs".into())
        );
        assert_eq!(root("src/shared.rs"), Ok("src/lib.rs".into()));
    }
}
