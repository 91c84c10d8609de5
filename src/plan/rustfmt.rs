//! Rustfmt: lays out the one function add-auth wired the way `rustfmt`
//! would, so that a project whose code passes `cargo fmt --check` still does.
//!
//! It runs the `rustfmt` program on text in memory (`--emit stdout`, in the
//! package directory so the project's `rustfmt.toml` and toolchain apply)
//! and writes nothing. Only the wired function is taken from rustfmt's
//! output; every other byte of the file stays as the user wrote it. Nothing
//! is laid out when rustfmt is missing or fails, or when the function was
//! not laid out by rustfmt before (a project that formats differently keeps
//! its own layout). It also lays out the generated files in the project's
//! style when that is not the templates' (another edition, a `rustfmt.toml`),
//! on copies in a temporary directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use syn::visit::{self, Visit};

use super::wiring::LineStarts;

/// `rustfmt` for one package: its directory and Rust edition.
pub struct Rustfmt {
    dir: PathBuf,
    edition: String,
}

impl Rustfmt {
    pub fn new(dir: &Path, edition: &str) -> Self {
        Self {
            dir: dir.to_path_buf(),
            edition: edition.to_string(),
        }
    }

    /// The whole of `source` as rustfmt lays it out; `None` when rustfmt
    /// cannot be run or refuses the text.
    fn run(&self, source: &str) -> Option<String> {
        let mut child = Command::new("rustfmt")
            .args(["--edition", &self.edition, "--emit", "stdout", "--quiet"])
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let text = source.to_owned();
        // Written from another thread: rustfmt may start answering before it
        // has read everything.
        let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
        let output = child.wait_with_output().ok()?;
        writer.join().ok()?.ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8(output.stdout).ok()
    }

    /// Lays out generated files (name -> contents) in the project's style,
    /// when that is not the one they are written in (rustfmt's defaults for
    /// edition 2024): another edition, or a `rustfmt.toml` in the package
    /// directory or above. One rustfmt run for all, on copies in a
    /// temporary directory. An error when rustfmt cannot be run then: the
    /// files would fail the project's `cargo fmt --check`.
    pub fn format_files(&self, files: &mut BTreeMap<&str, String>) -> Result<()> {
        let config = self.config_file();
        if self.edition == "2024" && config.is_none() {
            return Ok(());
        }
        let scratch = tempfile::TempDir::new().context("cannot make a temporary directory")?;
        let mut paths = Vec::new();
        for (name, contents) in files.iter() {
            let path = scratch.path().join(name);
            std::fs::write(&path, contents)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            paths.push(path);
        }
        let mut command = Command::new("rustfmt");
        command.args(["--edition", &self.edition, "--quiet"]);
        if let Some(config) = &config {
            command.arg("--config-path").arg(config);
        }
        let output = command
            .args(&paths)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .context(
                "cannot run `rustfmt`, which lays the generated code out in this project's style",
            )?;
        if !output.status.success() {
            bail!(
                "`rustfmt` failed to lay out the generated code in this project's style: {}\n\
                 help: check the project's rustfmt configuration with `cargo fmt --check`",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        for ((_, contents), path) in files.iter_mut().zip(&paths) {
            *contents = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
        }
        Ok(())
    }

    /// The rustfmt configuration that applies to the package: the nearest
    /// `rustfmt.toml` or `.rustfmt.toml` in its directory or above.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.dir.ancestors().find_map(|dir| {
            ["rustfmt.toml", ".rustfmt.toml"]
                .iter()
                .map(|name| dir.join(name))
                .find(|path| path.is_file())
        })
    }

    /// `source` with the function named `key` (see [`function_at`]) as
    /// rustfmt lays it out, everything else unchanged.
    pub fn format_function(&self, source: &str, key: &str) -> Option<String> {
        let formatted = self.run(source)?;
        let ours = function_range(source, key)?;
        let theirs = function_range(&formatted, key)?;
        Some(format!(
            "{}{}{}",
            &source[..ours.start],
            &formatted[theirs],
            &source[ours.end..]
        ))
    }

    /// Whether the function named `key` is laid out as rustfmt would.
    pub fn is_formatted(&self, source: &str, key: &str) -> bool {
        self.format_function(source, key).as_deref() == Some(source)
    }
}

/// A name for the innermost function holding byte `offset` of `source`,
/// the same in any layout of the file: the modules, `impl` blocks and
/// functions around it, and which of the same name it is.
pub fn function_at(source: &str, offset: usize) -> Option<String> {
    functions(source)?
        .into_iter()
        .filter(|(_, range)| range.contains(&offset))
        .min_by_key(|(_, range)| range.len())
        .map(|(key, _)| key)
}

fn function_range(source: &str, key: &str) -> Option<Range<usize>> {
    functions(source)?
        .into_iter()
        .find(|(name, _)| name == key)
        .map(|(_, range)| range)
}

/// Every function of `source` with its key and byte range (attributes and
/// doc comments included).
fn functions(source: &str) -> Option<Vec<(String, Range<usize>)>> {
    struct Walk<'s> {
        source: &'s str,
        lines: LineStarts,
        path: Vec<String>,
        found: Vec<(String, Range<usize>)>,
    }
    impl Walk<'_> {
        fn function(&mut self, name: &syn::Ident, node: &impl syn::spanned::Spanned) {
            let mut key = self.path.clone();
            key.push(format!("fn {name}"));
            let key = key.join("::");
            let same = self
                .found
                .iter()
                .filter(|(other, _)| other.split('#').next() == Some(key.as_str()))
                .count();
            let range = self.lines.range(self.source, node);
            self.found.push((format!("{key}#{same}"), range));
        }
    }
    impl<'ast> Visit<'ast> for Walk<'_> {
        fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
            self.path.push(format!("mod {}", item.ident));
            visit::visit_item_mod(self, item);
            self.path.pop();
        }
        fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
            let ty: String = self.source[self.lines.range(self.source, &*item.self_ty)]
                .split_whitespace()
                .collect();
            self.path.push(format!("impl {ty}"));
            visit::visit_item_impl(self, item);
            self.path.pop();
        }
        fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
            self.function(&item.sig.ident, item);
            self.path.push(format!("fn {}", item.sig.ident));
            visit::visit_item_fn(self, item);
            self.path.pop();
        }
        fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
            self.function(&item.sig.ident, item);
            self.path.push(format!("fn {}", item.sig.ident));
            visit::visit_impl_item_fn(self, item);
            self.path.pop();
        }
    }
    let file = syn::parse_file(source).ok()?;
    let mut walk = Walk {
        source,
        lines: LineStarts::new(source),
        path: Vec::new(),
        found: Vec::new(),
    };
    walk.visit_file(&file);
    Some(walk.found)
}

/// The edition rustfmt should parse the package with: `[package] edition`,
/// or the workspace's when the package inherits it; 2015 (cargo's default)
/// when none is written.
pub fn edition(manifest: &str, workspace_manifest: Option<&str>) -> String {
    let read = |text: &str, table: &[&str]| -> Option<toml_edit::Item> {
        let doc = text.parse::<toml_edit::DocumentMut>().ok()?;
        let mut item = doc.as_item().clone();
        for key in table {
            item = item.get(key)?.clone();
        }
        Some(item)
    };
    let Some(edition) = read(manifest, &["package", "edition"]) else {
        return "2015".into();
    };
    if let Some(edition) = edition.as_str() {
        return edition.to_string();
    }
    workspace_manifest
        .and_then(|text| read(text, &["workspace", "package", "edition"]))
        .and_then(|item| item.as_str().map(str::to_string))
        .unwrap_or_else(|| "2015".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "mod a {\n    pub fn build() -> u32 {\n        1\n    }\n}\n\nimpl Foo {\n    fn build(&self) {}\n}\n\nfn build() {}\nfn build() {}\n";

    #[test]
    fn functions_are_named_by_where_they_are() {
        let keys: Vec<String> = functions(SOURCE)
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(
            keys,
            [
                "mod a::fn build#0",
                "impl Foo::fn build#0",
                "fn build#0",
                "fn build#1"
            ]
        );
        let inside = SOURCE.find("1\n").unwrap();
        assert_eq!(
            function_at(SOURCE, inside).as_deref(),
            Some("mod a::fn build#0")
        );
    }

    #[test]
    fn only_the_named_function_is_laid_out() {
        let rustfmt = Rustfmt::new(Path::new("."), "2021");
        let source = "fn a( x:u32 ) {}\n\nfn wired() {\n    let app = Router::new().nest_service(\"/mcp\", mcp_auth.protect(service)).merge(mcp_auth.metadata_router());\n}\n";
        let key = function_at(source, source.find("let app").unwrap()).unwrap();
        assert!(!rustfmt.is_formatted(source, &key));
        assert_eq!(
            rustfmt.format_function(source, &key).unwrap(),
            "fn a( x:u32 ) {}\n\nfn wired() {\n    let app = Router::new()\n        .nest_service(\"/mcp\", mcp_auth.protect(service))\n        .merge(mcp_auth.metadata_router());\n}\n"
        );
    }

    #[test]
    fn generated_files_take_the_style_of_the_projects_edition() {
        let dir = tempfile::TempDir::new().unwrap();
        let written = "use std::pin::{Pin, pin};\n";
        let mut files = BTreeMap::from([("a.rs", written.to_string())]);
        Rustfmt::new(dir.path(), "2024")
            .format_files(&mut files)
            .unwrap();
        assert_eq!(files["a.rs"], written, "the templates' own style");
        Rustfmt::new(dir.path(), "2021")
            .format_files(&mut files)
            .unwrap();
        assert_eq!(files["a.rs"], "use std::pin::{pin, Pin};\n");
        // A rustfmt.toml applies too.
        std::fs::write(dir.path().join("rustfmt.toml"), "hard_tabs = true\n").unwrap();
        let mut files = BTreeMap::from([("b.rs", "fn f() {\n    g();\n}\n".to_string())]);
        Rustfmt::new(dir.path(), "2024")
            .format_files(&mut files)
            .unwrap();
        assert_eq!(files["b.rs"], "fn f() {\n\tg();\n}\n");
    }

    #[test]
    fn the_edition_comes_from_the_package_or_its_workspace() {
        assert_eq!(edition("[package]\nedition = \"2024\"\n", None), "2024");
        assert_eq!(
            edition(
                "[package]\nedition.workspace = true\n",
                Some("[workspace.package]\nedition = \"2021\"\n")
            ),
            "2021"
        );
        assert_eq!(edition("[package]\nname = \"x\"\n", None), "2015");
    }
}
