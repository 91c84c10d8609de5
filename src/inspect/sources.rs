//! Sources: reads and parses the package's Rust files with `syn` (`src/**/*.rs`, the crate roots cargo builds from elsewhere and the modules they declare; examples only when nothing else builds an MCP HTTP service), all but the generated ones nobody changed; it looks for nothing in them but that service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use syn::visit::{self, Visit};
use walkdir::WalkDir;

use super::targets::{self, Kind};
use super::{crate_root, module_name, offsets::LineIndex};
use crate::{digest::sha256, slash::slash_path};

/// One parsed Rust source file of the package.
pub(crate) struct SourceFile {
    /// Path relative to the package root, e.g. `src/main.rs`.
    pub(crate) rel: PathBuf,
    pub(crate) text: String,
    pub(crate) ast: syn::File,
    pub(crate) lines: LineIndex,
    /// What the file is the crate root of (`None`: a module, or a file no
    /// target builds).
    pub(crate) target: Option<Kind>,
}

impl SourceFile {
    pub(crate) fn parse(rel: PathBuf, text: String) -> Result<Self> {
        let ast = match syn::parse_file(&text) {
            Ok(ast) => ast,
            Err(err) => {
                let at = err.span().start();
                bail!(
                    "failed to parse `{}` at line {}, column {}: {err}\n\
                     help: fix the syntax error (`cargo check` shows it too), then run add-auth again",
                    rel.display(),
                    at.line,
                    at.column + 1,
                );
            }
        };
        let lines = LineIndex::new(&text);
        Ok(SourceFile {
            rel,
            text,
            ast,
            lines,
            target: None,
        })
    }

    /// `file:line` of a syntax node, for messages.
    pub(crate) fn location(&self, node: &impl syn::spanned::Spanned) -> String {
        format!("{}:{}", self.rel.display(), super::offsets::line_of(node))
    }
}

/// Whether an item is compiled for tests only: `#[cfg(test)]`, or a test
/// function (`#[test]`, `#[tokio::test]`, ...). Test code often builds its
/// own server; it is not the project's endpoint.
pub(crate) fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| match &attr.meta {
        syn::Meta::Path(path) => path
            .segments
            .last()
            .is_some_and(|last| last.ident == "test"),
        syn::Meta::List(list) if list.path.is_ident("cfg") => {
            matches!(list.parse_args::<syn::Meta>(), Ok(syn::Meta::Path(p)) if p.is_ident("test"))
        }
        syn::Meta::List(list) => list
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "test"),
        syn::Meta::NameValue(_) => false,
    })
}

/// Reads and parses the package's Rust files, in path order, and marks the
/// crate roots ([`targets::discover`]): every `.rs` file under `root/src`,
/// then the library and binaries cargo builds from elsewhere (`[[bin]]
/// path = "bin/server.rs"`) with the modules they declare. Examples
/// (`examples/*.rs`, `[[example]]` paths) and their modules are read only
/// when none of those calls `StreamableHttpService::new`: a package whose
/// own targets serve MCP is wired there, not in its demos.
///
/// Skipped: the generated files an earlier run recorded and nobody has
/// changed since: they hold no tools and no endpoint, and parsing them made
/// a re-run take twice as long as the first run.
///
/// A package without sources has none (not an error here).
pub(crate) fn load(root: &Path) -> Result<Vec<SourceFile>> {
    let generated = module_name::recorded_hashes(root);
    let mut files = Vec::new();
    let src = root.join("src");
    if src.is_dir() {
        for entry in WalkDir::new(&src).sort_by_file_name() {
            let entry = entry.with_context(|| format!("failed to list `{}`", src.display()))?;
            let path = entry.path();
            if !entry.file_type().is_file() || path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
            if let Some(file) = read(root, rel, &generated)? {
                files.push(file);
            }
        }
    }
    let targets = targets::discover(root);
    for pass in [false, true] {
        if pass && builds_http_service(&files) {
            break;
        }
        for target in targets.iter().filter(|t| (t.kind == Kind::Example) == pass) {
            load_module_tree(root, &target.path, &generated, &mut files)?;
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    for target in &targets {
        if let Some(file) = files.iter_mut().find(|file| file.rel == target.path) {
            file.target = Some(target.kind);
        }
    }
    Ok(files)
}

/// Reads and parses `root/rel`, unless it is a generated file nobody
/// changed (`None`).
fn read(
    root: &Path,
    rel: PathBuf,
    generated: &BTreeMap<String, String>,
) -> Result<Option<SourceFile>> {
    let path = root.join(&rel);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    if generated
        .get(&slash_path(&rel))
        .is_some_and(|hash| *hash == sha256(&text))
    {
        return Ok(None);
    }
    SourceFile::parse(rel, text).map(Some)
}

/// Adds to `files` the crate root `rel` and the files its `mod`
/// declarations lead to, those not read yet.
fn load_module_tree(
    root: &Path,
    rel: &Path,
    generated: &BTreeMap<String, String>,
    files: &mut Vec<SourceFile>,
) -> Result<()> {
    let mut failed = None;
    crate_root::walk_modules(
        rel,
        |candidate| root.join(candidate).is_file(),
        |rel, child_dir| {
            if failed.is_some() {
                return None;
            }
            if let Some(known) = files.iter().find(|file| file.rel == rel) {
                return Some(crate_root::module_files(known, child_dir));
            }
            match read(root, rel.to_path_buf(), generated) {
                Ok(Some(file)) => {
                    let children = crate_root::module_files(&file, child_dir);
                    files.push(file);
                    Some(children)
                }
                Ok(None) => None,
                Err(err) => {
                    failed = Some(err);
                    None
                }
            }
        },
    );
    failed.map_or(Ok(()), Err)
}

/// Whether non-test code in `files` calls `StreamableHttpService::new`
/// (the path may be qualified or carry generics): the package serves MCP
/// over HTTP, whether or not add-auth can wire it where it does.
pub(crate) fn builds_http_service(files: &[SourceFile]) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
            if !is_test_only(&item.attrs) {
                visit::visit_item_fn(self, item);
            }
        }
        fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
            if !is_test_only(&item.attrs) {
                visit::visit_item_mod(self, item);
            }
        }
        fn visit_expr_path(&mut self, expr: &'ast syn::ExprPath) {
            let names: Vec<String> = expr
                .path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            if names.ends_with(&["StreamableHttpService".into(), "new".into()]) {
                self.0 = true;
            }
        }
    }
    files.iter().any(|file| {
        let mut finder = Finder(false);
        finder.visit_file(&file.ast);
        finder.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_only_items() {
        let attrs = |text: &str| -> bool {
            let item: syn::ItemFn = syn::parse_str(&format!("{text} fn f() {{}}")).unwrap();
            is_test_only(&item.attrs)
        };
        assert!(attrs("#[cfg(test)]"));
        assert!(attrs("#[test]"));
        assert!(attrs("#[tokio::test]"));
        assert!(attrs("#[tokio::test(flavor = \"multi_thread\")]"));
        assert!(!attrs("#[cfg(not(test))]"));
        assert!(!attrs("#[cfg(all(test, unix))]"));
        assert!(!attrs("#[tokio::main]"));
        assert!(!attrs(""));
    }

    /// The files `load` reads from a package made of `files`, with the
    /// kind of target each is the root of.
    fn loaded(files: &[(&str, &str)]) -> Vec<(String, Option<Kind>)> {
        let dir = crate::inspect::tests::tree(files);
        load(dir.path())
            .unwrap()
            .into_iter()
            .map(|file| (file.rel.display().to_string(), file.target))
            .collect()
    }

    #[test]
    fn targets_outside_src_are_read_with_their_modules_and_examples_only_as_a_last_resort() {
        let serve = "fn main() { let s = rmcp::StreamableHttpService::<S>::new(a, b, c); }\n";
        let manifest =
            "[package]\nname = \"p\"\n[[bin]]\nname = \"server\"\npath = \"bin/server.rs\"\n";
        let package = |bin: &'static str| {
            vec![
                ("Cargo.toml", manifest),
                ("bin/server.rs", bin),
                ("bin/http.rs", ""),
                ("bin/unused.rs", ""),
                ("src/lib.rs", "pub mod tools;\n"),
                ("src/tools.rs", ""),
                ("examples/demo/main.rs", "mod router;\nfn main() {}\n"),
                ("examples/demo/router.rs", serve),
                ("tests/http.rs", serve),
            ]
        };
        let own = |rel: &str, target: Option<Kind>| (rel.to_string(), target);
        // The binary serves MCP: its modules are read, the examples are not.
        assert_eq!(
            loaded(&package(
                "mod http;\nfn main() { let s = StreamableHttpService::new(a, b, c); }\n"
            )),
            [
                own("bin/http.rs", None),
                own("bin/server.rs", Some(Kind::Bin)),
                own("src/lib.rs", Some(Kind::Lib)),
                own("src/tools.rs", None),
            ]
        );
        // Nothing but an example does (a path with generics, too).
        assert_eq!(
            loaded(&package("mod http;\nfn main() {}\n")),
            [
                own("bin/http.rs", None),
                own("bin/server.rs", Some(Kind::Bin)),
                own("examples/demo/main.rs", Some(Kind::Example)),
                own("examples/demo/router.rs", None),
                own("src/lib.rs", Some(Kind::Lib)),
                own("src/tools.rs", None),
            ]
        );
    }

    #[test]
    fn a_syntax_error_names_the_file_line_and_column() {
        let err = SourceFile::parse(
            PathBuf::from("src/broken.rs"),
            "// é\nfn main() {\n    let x = ;\n}\n".to_string(),
        )
        .err()
        .unwrap();
        assert_eq!(
            err.to_string(),
            "failed to parse `src/broken.rs` at line 3, column 13: expected an expression\n\
             help: fix the syntax error (`cargo check` shows it too), then run add-auth again"
        );
    }
}
