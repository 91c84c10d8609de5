//! Crate root: decides which crate root (`src/main.rs` or `src/lib.rs`) owns the file that mounts the MCP endpoint, and where a new `mod` line goes in it; it follows `mod` declarations, nothing else.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};
use syn::ext::IdentExt;

use super::sources::SourceFile;

/// The crate root whose module tree holds `mount_file` (paths relative to
/// the package root).
///
/// `src/main.rs` and `src/lib.rs` are their own roots. Another file belongs
/// to `src/lib.rs` when the library declares it (directly or through other
/// modules), otherwise to `src/main.rs` when the binary does, otherwise to
/// the binary under `src/bin/` (`NAME.rs` or `NAME/main.rs`) that is it or
/// declares it: the generated module then lives beside that binary
/// (`src/bin/auth/mod.rs`, a directory without `main.rs`, which cargo does
/// not take for another binary).
pub(crate) fn crate_root_for(mount_file: &Path, files: &[SourceFile]) -> Result<PathBuf> {
    let main = Path::new("src/main.rs");
    let lib = Path::new("src/lib.rs");
    if mount_file == main || mount_file == lib {
        return Ok(mount_file.to_path_buf());
    }
    let by_path: HashMap<&Path, &SourceFile> = files
        .iter()
        .map(|file| (file.rel.as_path(), file))
        .collect();
    for root in [lib, main] {
        if by_path.contains_key(root) && module_tree(root, &by_path).contains(mount_file) {
            return Ok(root.to_path_buf());
        }
    }
    let bin_dir = Path::new("src/bin");
    let owning_bin = files
        .iter()
        .map(|file| file.rel.as_path())
        .filter(|rel| is_bin_root(rel, bin_dir))
        .find(|rel| *rel == mount_file || module_tree(rel, &by_path).contains(mount_file));
    match owning_bin {
        Some(bin) => Ok(bin.to_path_buf()),
        None => bail!(
            "`{}` mounts the MCP endpoint but no `mod` declaration in src/lib.rs, src/main.rs or a binary under src/bin leads to it\n\
             help: declare it as a module of src/lib.rs or src/main.rs, then run add-auth again",
            mount_file.display()
        ),
    }
}

/// `src/bin/NAME.rs` or `src/bin/NAME/main.rs`.
fn is_bin_root(rel: &Path, bin_dir: &Path) -> bool {
    match rel.strip_prefix(bin_dir) {
        Ok(rest) => {
            let parts: Vec<_> = rest.components().collect();
            parts.len() == 1 || (parts.len() == 2 && rest.ends_with("main.rs"))
        }
        Err(_) => false,
    }
}

/// Every file reachable from `root` through `mod name;` declarations
/// (including `#[path = ".."]` ones), `root` included.
fn module_tree(root: &Path, files: &HashMap<&Path, &SourceFile>) -> HashSet<PathBuf> {
    let mut seen = HashSet::new();
    // (file, directory its child modules live in)
    let mut queue = vec![(root.to_path_buf(), parent(root))];
    while let Some((rel, child_dir)) = queue.pop() {
        if !seen.insert(rel.clone()) {
            continue;
        }
        let Some(file) = files.get(rel.as_path()) else {
            continue;
        };
        let mut found = Vec::new();
        collect_mod_files(&file.ast.items, &parent(&rel), &child_dir, true, &mut found);
        for child in found {
            if let Some(candidate) = child
                .into_iter()
                .find(|(path, _)| files.contains_key(path.as_path()))
            {
                queue.push(candidate);
            }
        }
    }
    seen
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

    fn files(tree: &[(&str, &str)]) -> Vec<SourceFile> {
        tree.iter().map(|(rel, text)| parsed(rel, text)).collect()
    }

    #[test]
    fn crate_roots_follow_mod_declarations() {
        let tree = files(&[
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
        ]);
        let root = |rel: &str| {
            crate_root_for(Path::new(rel), &tree)
                .map(|root| root.display().to_string())
                .map_err(|err| err.to_string())
        };
        assert_eq!(root("src/main.rs"), Ok("src/main.rs".into()));
        assert_eq!(root("src/lib.rs"), Ok("src/lib.rs".into()));
        assert_eq!(root("src/cli/run.rs"), Ok("src/main.rs".into()));
        assert_eq!(root("src/server/router.rs"), Ok("src/lib.rs".into()));
        assert_eq!(root("src/other/x.rs"), Ok("src/lib.rs".into()));
        assert_eq!(
            root("src/orphan.rs"),
            Err("`src/orphan.rs` mounts the MCP endpoint but no `mod` declaration in src/lib.rs, src/main.rs or a binary under src/bin leads to it\n\
                 help: declare it as a module of src/lib.rs or src/main.rs, then run add-auth again"
                .into())
        );
        assert_eq!(root("src/bin/http.rs"), Ok("src/bin/http.rs".into()));
        assert_eq!(root("src/bin/http_server.rs"), Ok("src/bin/http.rs".into()));
    }
}
