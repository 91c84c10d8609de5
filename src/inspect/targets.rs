//! Targets: lists the package's crate roots (library, binaries, examples) as cargo finds them, from explicit `[lib]`, `[[bin]]` and `[[example]]` entries and the `autolib`/`autobins`/`autoexamples` defaults; it reads the manifest and lists directories, never Rust code.

use std::path::{Component, Path, PathBuf};

use toml_edit::{DocumentMut, Item};

use super::manifest;

/// What a crate root is the root of. The order is the one in which crate
/// roots are asked whether they own a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Lib,
    Bin,
    Example,
}

/// One crate root of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) kind: Kind,
    /// Path of the root file relative to the package root, e.g. `src/main.rs`
    /// or `examples/server.rs`.
    pub(crate) path: PathBuf,
}

/// The crate roots of the package at `root` that exist on disk, explicit
/// ones first, then the ones cargo infers (an inferred target whose name an
/// explicit one of its kind takes is not built, as in cargo). A manifest
/// that cannot be read gives the inferred ones (`read_package` reports it).
pub(crate) fn discover(root: &Path) -> Vec<Target> {
    let doc = manifest::read_manifest(&root.join("Cargo.toml")).unwrap_or_default();
    let package_name = doc
        .get("package")
        .and_then(|package| package.get("name"))
        .and_then(Item::as_str)
        .unwrap_or_default()
        .to_string();
    let auto = |key: &str| {
        doc.get("package")
            .and_then(|package| package.get(key))
            .and_then(Item::as_bool)
            .unwrap_or(true)
    };
    let mut targets: Vec<Target> = Vec::new();
    // A root outside the package (`path = "../x.rs"`) is not one add-auth
    // may write into.
    let mut push = |kind: Kind, path: PathBuf| {
        let inside = !path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::RootDir));
        if inside && root.join(&path).is_file() && !targets.iter().any(|t| t.path == path) {
            targets.push(Target { kind, path });
        }
    };

    // The library.
    match doc
        .get("lib")
        .and_then(|lib| lib.get("path"))
        .and_then(Item::as_str)
    {
        Some(path) => push(Kind::Lib, normalize(Path::new(path))),
        None if auto("autolib") => push(Kind::Lib, PathBuf::from("src/lib.rs")),
        None => {}
    }

    for (kind, table, dir, auto_key) in [
        (Kind::Bin, "bin", "src/bin", "autobins"),
        (Kind::Example, "example", "examples", "autoexamples"),
    ] {
        let explicit = explicit_targets(&doc, table);
        for (name, path) in &explicit {
            match path {
                Some(path) => push(kind, normalize(Path::new(path))),
                None => {
                    let mut candidates = vec![
                        Path::new(dir).join(format!("{name}.rs")),
                        Path::new(dir).join(name).join("main.rs"),
                    ];
                    if kind == Kind::Bin && *name == package_name {
                        candidates.push(PathBuf::from("src/main.rs"));
                    }
                    if let Some(found) = candidates.into_iter().find(|c| root.join(c).is_file()) {
                        push(kind, found);
                    }
                }
            }
        }
        if !auto(auto_key) {
            continue;
        }
        let taken = |name: &str| explicit.iter().any(|(explicit, _)| explicit == name);
        if kind == Kind::Bin && !taken(&package_name) {
            push(kind, PathBuf::from("src/main.rs"));
        }
        for (name, path) in inferred_in(root, dir) {
            if !taken(&name) {
                push(kind, path);
            }
        }
    }
    targets
}

/// `(name, path)` of each `[[table]]` entry (the path when given).
fn explicit_targets(doc: &DocumentMut, table: &str) -> Vec<(String, Option<String>)> {
    let Some(entries) = doc.get(table).and_then(Item::as_array_of_tables) else {
        return Vec::new();
    };
    entries
        .iter()
        .map(|entry| {
            let text = |key: &str| entry.get(key).and_then(Item::as_str).map(str::to_string);
            let path = text("path");
            let name = text("name").unwrap_or_else(|| {
                path.as_deref()
                    .and_then(|path| Path::new(path).file_stem())
                    .map(|stem| stem.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            (name, path)
        })
        .collect()
}

/// The targets cargo infers in `dir`: `NAME.rs` and `NAME/main.rs`, by name.
fn inferred_in(root: &Path, dir: &str) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let path = Path::new(dir).join(&name);
            if entry.path().is_dir() {
                entry
                    .path()
                    .join("main.rs")
                    .is_file()
                    .then(|| (name, path.join("main.rs")))
            } else {
                let stem = name.strip_suffix(".rs")?.to_string();
                Some((stem, path))
            }
        })
        .collect();
    found.sort();
    found
}

/// A manifest path as a relative path without `.` parts.
fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|component| !matches!(component, Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(files: &[(&str, &str)]) -> Vec<(Kind, String)> {
        let dir = crate::inspect::tests::tree(files);
        discover(dir.path())
            .into_iter()
            .map(|target| (target.kind, target.path.display().to_string()))
            .collect()
    }

    #[test]
    fn inferred_targets_follow_cargo_layout() {
        assert_eq!(
            found(&[
                ("Cargo.toml", "[package]\nname = \"p\"\n"),
                ("src/main.rs", ""),
                ("src/lib.rs", ""),
                ("src/bin/http.rs", ""),
                ("src/bin/tool/main.rs", ""),
                ("src/bin/helpers/mod.rs", ""),
                ("examples/demo.rs", ""),
                ("examples/server/main.rs", ""),
                ("examples/README.md", ""),
            ]),
            [
                (Kind::Lib, "src/lib.rs".into()),
                (Kind::Bin, "src/main.rs".into()),
                (Kind::Bin, "src/bin/http.rs".into()),
                (Kind::Bin, "src/bin/tool/main.rs".into()),
                (Kind::Example, "examples/demo.rs".into()),
                (Kind::Example, "examples/server/main.rs".into()),
            ]
        );
    }

    #[test]
    fn explicit_paths_and_auto_switches() {
        assert_eq!(
            found(&[
                (
                    "Cargo.toml",
                    "[package]\nname = \"p\"\nautoexamples = false\n\
                     [lib]\npath = \"./core/lib.rs\"\n\
                     [[bin]]\nname = \"server\"\npath = \"bin/server.rs\"\n\
                     [[bin]]\nname = \"http\"\npath = \"src/bin/other.rs\"\n\
                     [[bin]]\nname = \"tool\"\n\
                     [[example]]\nname = \"counter\"\npath = \"src/counter_http.rs\"\n\
                     [[example]]\nname = \"missing\"\npath = \"examples/missing.rs\"\n",
                ),
                ("core/lib.rs", ""),
                ("src/lib.rs", ""),
                ("bin/server.rs", ""),
                ("src/bin/http.rs", ""),
                ("src/bin/other.rs", ""),
                ("src/bin/tool/main.rs", ""),
                ("src/counter_http.rs", ""),
                ("examples/demo.rs", ""),
            ]),
            [
                (Kind::Lib, "core/lib.rs".into()),
                (Kind::Bin, "bin/server.rs".into()),
                (Kind::Bin, "src/bin/other.rs".into()),
                (Kind::Bin, "src/bin/tool/main.rs".into()),
                (Kind::Example, "src/counter_http.rs".into()),
            ]
        );
        // A root outside the package is none add-auth would write into.
        let dir = crate::inspect::tests::tree(&[
            (
                "pkg/Cargo.toml",
                "[package]\nname = \"p\"\n[[bin]]\nname = \"out\"\npath = \"../shared/main.rs\"\n",
            ),
            ("shared/main.rs", ""),
        ]);
        assert_eq!(discover(&dir.path().join("pkg")), []);
        assert_eq!(
            found(&[
                ("Cargo.toml", "[package]\nname = \"p\"\nautobins = false\n"),
                ("src/main.rs", ""),
                ("examples/demo.rs", ""),
            ]),
            [(Kind::Example, "examples/demo.rs".into())]
        );
    }
}
