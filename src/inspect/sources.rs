//! Sources: reads and parses the package's `src/**/*.rs` files with `syn` (all but the generated ones nobody changed); it looks for nothing in them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use walkdir::WalkDir;

use super::{module_name, offsets::LineIndex};
use crate::plan::{sha256, slash_path};

/// One parsed Rust source file of the package.
pub(crate) struct SourceFile {
    /// Path relative to the package root, e.g. `src/main.rs`.
    pub(crate) rel: PathBuf,
    pub(crate) text: String,
    pub(crate) ast: syn::File,
    pub(crate) lines: LineIndex,
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

/// Reads and parses every `.rs` file under `root/src`, in path order, but
/// the generated files an earlier run recorded and nobody has changed since:
/// they hold no tools and no endpoint, and parsing them made a re-run take
/// twice as long as the first run.
///
/// A package without a `src` directory has no sources (not an error here).
pub(crate) fn load(root: &Path) -> Result<Vec<SourceFile>> {
    let src = root.join("src");
    if !src.is_dir() {
        return Ok(Vec::new());
    }
    let generated = module_name::recorded_hashes(root);
    let mut files = Vec::new();
    for entry in WalkDir::new(&src).sort_by_file_name() {
        let entry = entry.with_context(|| format!("failed to list `{}`", src.display()))?;
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read `{}`", path.display()))?;
        let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        if generated
            .get(&slash_path(&rel))
            .is_some_and(|hash| *hash == sha256(&text))
        {
            continue;
        }
        files.push(SourceFile::parse(rel, text)?);
    }
    Ok(files)
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
