//! Lints: the stricter lints a project turns on for its own code (`[lints]`
//! in Cargo.toml, the workspace's when inherited, and `#![warn(..)]` /
//! `#![deny(..)]` at the top of the crate root). Read-only.
//!
//! The generated module is held to rustc's and clippy's default lints (its
//! tests check it with `clippy -D warnings`); a project that also asks for
//! `clippy::pedantic` or `missing_docs` would see warnings in code it did
//! not write, and its `-D warnings` CI would fail. The module allows exactly
//! those lints, by name.

use std::path::Path;

use toml_edit::{DocumentMut, Item};

use super::sources::SourceFile;

/// Clippy's groups that are on by default: the generated code passes them.
const DEFAULT_GROUPS: &[&str] = &[
    "all",
    "correctness",
    "suspicious",
    "style",
    "complexity",
    "perf",
];

/// The lints the project sets to `warn` or `deny` (not `forbid`, which no
/// `allow` can lift), as `allow` takes them: `clippy::pedantic`,
/// `missing_docs`. Sorted, without duplicates.
pub(crate) fn stricter(
    manifest: &DocumentMut,
    workspace: Option<&Path>,
    crate_root: Option<&SourceFile>,
) -> Vec<String> {
    let mut lints = Vec::new();
    let inherited = manifest
        .get("lints")
        .and_then(|lints| lints.get("workspace"))
        .and_then(Item::as_bool)
        .unwrap_or(false);
    let workspace_doc = workspace
        .filter(|_| inherited)
        .and_then(|dir| super::manifest::read_manifest(&dir.join("Cargo.toml")).ok());
    let table = match &workspace_doc {
        Some(doc) => doc.get("workspace").and_then(|w| w.get("lints")),
        None => manifest.get("lints"),
    };
    for (tool, prefix) in [("rust", ""), ("clippy", "clippy::")] {
        let Some(entries) = table
            .and_then(|t| t.get(tool))
            .and_then(Item::as_table_like)
        else {
            continue;
        };
        for (name, value) in entries.iter() {
            let level = value
                .as_str()
                .or_else(|| value.get("level").and_then(Item::as_str));
            if matches!(level, Some("warn" | "deny"))
                && !(tool == "clippy" && DEFAULT_GROUPS.contains(&name))
            {
                lints.push(format!("{prefix}{name}"));
            }
        }
    }
    if let Some(root) = crate_root {
        for attr in &root.ast.attrs {
            let syn::Meta::List(list) = &attr.meta else {
                continue;
            };
            if !(list.path.is_ident("warn") || list.path.is_ident("deny")) {
                continue;
            }
            let Ok(paths) = list.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            ) else {
                continue;
            };
            for path in paths {
                let name: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
                let default_group = name.len() == 2
                    && name[0] == "clippy"
                    && DEFAULT_GROUPS.contains(&name[1].as_str());
                if !default_group && name != ["warnings"] {
                    lints.push(name.join("::"));
                }
            }
        }
    }
    lints.sort();
    lints.dedup();
    lints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warn_and_deny_lints_of_the_manifest_and_the_crate_root() {
        let manifest: DocumentMut = "[lints.clippy]\nall = \"warn\"\npedantic = { level = \"warn\", priority = -1 }\nunwrap_used = \"deny\"\nmodule_name_repetitions = \"allow\"\n\n[lints.rust]\nmissing_docs = \"warn\"\nunsafe_code = \"forbid\"\n"
            .parse()
            .unwrap();
        let root = SourceFile::parse(
            "src/lib.rs".into(),
            "#![warn(clippy::nursery, rust_2018_idioms, clippy::style)]\n#![deny(warnings)]\n#![allow(dead_code)]\n".into(),
        )
        .unwrap();
        assert_eq!(
            stricter(&manifest, None, Some(&root)),
            [
                "clippy::nursery",
                "clippy::pedantic",
                "clippy::unwrap_used",
                "missing_docs",
                "rust_2018_idioms"
            ]
        );
        let plain: DocumentMut = "[package]\nname = \"x\"\n".parse().unwrap();
        assert!(stricter(&plain, None, None).is_empty());
    }

    #[test]
    fn inherited_lints_are_the_workspaces() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[workspace]\n[workspace.lints.clippy]\nnursery = \"warn\"\n",
        )
        .unwrap();
        let member: DocumentMut = "[lints]\nworkspace = true\n".parse().unwrap();
        assert_eq!(
            stricter(&member, Some(dir.path()), None),
            ["clippy::nursery"]
        );
    }
}
