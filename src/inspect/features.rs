//! Finds the cargo feature the MCP HTTP code is compiled under, if any: the
//! `#[cfg(feature = "F")]` on a module declaration leading to the mount's
//! file, or on an item, statement or `match` arm holding the mount; else the
//! first `required-features` of the `[[bin]]` or `[[example]]` target whose
//! crate root holds it; else the feature of `[features]` that turns on
//! rmcp's `transport-streamable-http-server` when the rmcp entry itself does
//! not.
//!
//! The generated module is then declared under the same `cfg`, and its
//! dependencies join that feature (see `plan/cargo_toml.rs`).

use std::path::{Path, PathBuf};

use syn::visit::Visit;
use toml_edit::{DocumentMut, Item};

use super::{Mount, offsets::LineIndex, sources::SourceFile};

/// rmcp's feature for `StreamableHttpService`.
const HTTP_TRANSPORT: &str = "transport-streamable-http-server";

/// The cargo feature the HTTP code at `mount` is compiled under (`None`:
/// compiled in every build). `manifest` is the package's `Cargo.toml`.
pub(crate) fn http_feature(
    files: &[SourceFile],
    mount: &Mount,
    manifest: &DocumentMut,
) -> Option<String> {
    let site = Site {
        file: &mount.file,
        crate_root: &mount.crate_root,
        at: mount.nest_call_end.saturating_sub(1),
    };
    find(files, &site, manifest)
}

/// Where the mount is: its file, the crate root declaring it, and a byte
/// offset inside the `nest_service(..)` call.
struct Site<'a> {
    file: &'a Path,
    crate_root: &'a Path,
    at: usize,
}

fn find(files: &[SourceFile], site: &Site, manifest: &DocumentMut) -> Option<String> {
    in_module_path(files, site)
        .or_else(|| around_mount(files, site))
        .or_else(|| required_feature(manifest, site.crate_root))
        .or_else(|| transport_feature(manifest))
}

/// The first `required-features` of the `[[bin]]` or `[[example]]` target
/// whose crate root is `crate_root` (its `path`, or the path cargo infers
/// from its `name`).
fn required_feature(manifest: &DocumentMut, crate_root: &Path) -> Option<String> {
    let package = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(Item::as_str);
    for (kind, dir) in [("bin", "src/bin"), ("example", "examples")] {
        let Some(targets) = manifest.get(kind).and_then(Item::as_array_of_tables) else {
            continue;
        };
        for target in targets.iter() {
            let name = target.get("name").and_then(Item::as_str);
            let roots: Vec<PathBuf> = match (target.get("path").and_then(Item::as_str), name) {
                (Some(path), _) => vec![PathBuf::from(path)],
                (None, Some(name)) => {
                    let mut roots = vec![
                        Path::new(dir).join(format!("{name}.rs")),
                        Path::new(dir).join(name).join("main.rs"),
                    ];
                    if kind == "bin" && Some(name) == package {
                        roots.push(PathBuf::from("src/main.rs"));
                    }
                    roots
                }
                (None, None) => continue,
            };
            if !roots.iter().any(|root| root == crate_root) {
                continue;
            }
            let required = target.get("required-features").and_then(Item::as_array);
            if let Some(first) = required.and_then(|list| list.iter().find_map(|v| v.as_str())) {
                return Some(first.to_owned());
            }
        }
    }
    None
}

/// The feature in `#[cfg(feature = "F")]` or `#[cfg(all(.., feature = "F",
/// ..))]` among `attrs` (`any`, `not` and other forms are not a single
/// feature the code needs).
fn cfg_feature(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        if !attr.path().is_ident("cfg") {
            return None;
        }
        let meta: syn::Meta = attr.parse_args().ok()?;
        feature_of(&meta)
    })
}

fn feature_of(meta: &syn::Meta) -> Option<String> {
    match meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("feature") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        syn::Meta::List(list) if list.path.is_ident("all") => list
            .parse_args_with(
                syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
            )
            .ok()?
            .iter()
            .find_map(feature_of),
        _ => None,
    }
}

/// A `cfg` on a `mod` declaration between the crate root and the mount's
/// file (`src/main.rs` → `mod http;` → `src/http.rs` → `mod server;` ..).
fn in_module_path(files: &[SourceFile], site: &Site) -> Option<String> {
    let root_dir = site.crate_root.parent().unwrap_or(Path::new(""));
    let inner = site.file.strip_prefix(root_dir).ok()?;
    let mut names: Vec<String> = inner
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = names.pop()?;
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && site.file != site.crate_root {
        names.push(stem.to_owned());
    }
    let mut file = site.crate_root.to_path_buf();
    let mut dir = root_dir.to_path_buf();
    for name in names {
        let source = files.iter().find(|f| f.rel == file)?;
        let declaration = source.ast.items.iter().find_map(|item| match item {
            syn::Item::Mod(module) if module.ident == name => Some(module),
            _ => None,
        })?;
        if let Some(feature) = cfg_feature(&declaration.attrs) {
            return Some(feature);
        }
        dir = dir.join(&name);
        let flat: PathBuf = dir.with_extension("rs");
        file = if files.iter().any(|f| f.rel == flat) {
            flat
        } else {
            dir.join("mod.rs")
        };
    }
    None
}

/// A `cfg` on an item, statement, block or arm of the mount's file that
/// holds the mount, outermost first.
fn around_mount(files: &[SourceFile], site: &Site) -> Option<String> {
    let source = files.iter().find(|f| f.rel == site.file)?;
    let mut finder = Enclosing {
        text: &source.text,
        lines: &source.lines,
        at: site.at,
        found: None,
    };
    finder.visit_file(&source.ast);
    finder.found
}

struct Enclosing<'a> {
    text: &'a str,
    lines: &'a LineIndex,
    at: usize,
    found: Option<String>,
}

impl Enclosing<'_> {
    fn check(&mut self, node: &impl syn::spanned::Spanned, attrs: &[syn::Attribute]) -> bool {
        let range = self.lines.range_of(self.text, node);
        if !range.contains(&self.at) {
            return false;
        }
        if self.found.is_none() {
            self.found = cfg_feature(attrs);
        }
        true
    }
}

impl<'ast> Visit<'ast> for Enclosing<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            _ => &[],
        };
        if self.check(item, attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if self.check(f, &f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if self.check(local, &local.attrs) {
            syn::visit::visit_local(self, local);
        }
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        if self.check(arm, &arm.attrs) {
            syn::visit::visit_arm(self, arm);
        }
    }

    fn visit_expr_block(&mut self, block: &'ast syn::ExprBlock) {
        if self.check(block, &block.attrs) {
            syn::visit::visit_expr_block(self, block);
        }
    }
}

/// The feature of `[features]` whose own list turns on rmcp's HTTP
/// transport (`"rmcp/transport-streamable-http-server"`, or with `rmcp?/`),
/// when the rmcp entry does not enable it itself.
fn transport_feature(manifest: &DocumentMut) -> Option<String> {
    let deps = manifest.get("dependencies")?.as_table_like()?;
    let (key, entry) = deps
        .iter()
        .find(|(key, item)| item.get("package").and_then(Item::as_str).unwrap_or(key) == "rmcp")?;
    let has = |item: &Item| {
        item.get("features")
            .and_then(Item::as_array)
            .is_some_and(|array| array.iter().any(|v| v.as_str() == Some(HTTP_TRANSPORT)))
    };
    if has(entry) {
        return None;
    }
    let wanted = [
        format!("{key}/{HTTP_TRANSPORT}"),
        format!("{key}?/{HTTP_TRANSPORT}"),
    ];
    let features = manifest.get("features")?.as_table_like()?;
    features.iter().find_map(|(name, list)| {
        let list = list.as_array()?;
        list.iter()
            .any(|v| v.as_str().is_some_and(|v| wanted.iter().any(|w| w == v)))
            .then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mount in `file` (crate root `root`), at the end of `marker`.
    fn mount<'a>(file: &'a str, root: &'a str, text: &str, marker: &str) -> Site<'a> {
        let at = text.find(marker).expect("marker") + marker.len() - 1;
        Site {
            file: Path::new(file),
            crate_root: Path::new(root),
            at,
        }
    }

    fn file(rel: &str, text: &str) -> SourceFile {
        SourceFile::parse(rel.into(), text.into()).unwrap()
    }

    const NO_FEATURES: &str = "[dependencies]\nrmcp = { version = \"3\", features = [\"transport-streamable-http-server\"] }\n";

    fn feature(files: &[SourceFile], site: &Site, manifest: &str) -> Option<String> {
        find(files, site, &manifest.parse().unwrap())
    }

    #[test]
    fn cfg_on_the_module_declaration() {
        let http = "pub fn app() { Router::new().nest_service(\"/mcp\", s); }\n";
        let files = [
            file(
                "src/main.rs",
                "#[cfg(all(unix, feature = \"http\"))]\nmod transport;\nfn main() {}\n",
            ),
            file("src/transport/mod.rs", "pub mod http;\n"),
            file("src/transport/http.rs", http),
        ];
        let at = mount("src/transport/http.rs", "src/main.rs", http, "s)");
        assert_eq!(feature(&files, &at, NO_FEATURES).as_deref(), Some("http"));
        let files = [
            file("src/main.rs", "mod transport;\nfn main() {}\n"),
            file(
                "src/transport/mod.rs",
                "#[cfg(feature = \"web\")]\npub mod http;\n",
            ),
            file("src/transport/http.rs", http),
        ];
        assert_eq!(feature(&files, &at, NO_FEATURES).as_deref(), Some("web"));
        let files = [
            file(
                "src/main.rs",
                "#[cfg(any(feature = \"a\", feature = \"b\"))]\nmod transport;\nfn main() {}\n",
            ),
            file("src/transport/mod.rs", "pub mod http;\n"),
            file("src/transport/http.rs", http),
        ];
        assert_eq!(feature(&files, &at, NO_FEATURES), None);
    }

    #[test]
    fn cfg_around_the_mount() {
        let main = "fn main() {\n    match t {\n        #[cfg(feature = \"http\")]\n        T::Http => { Router::new().nest_service(\"/mcp\", s); }\n        T::Stdio => {}\n    }\n}\n#[cfg(feature = \"other\")]\nfn other() {}\n";
        let files = [file("src/main.rs", main)];
        let at = mount("src/main.rs", "src/main.rs", main, "s)");
        assert_eq!(feature(&files, &at, NO_FEATURES).as_deref(), Some("http"));
        let main = "#[cfg(feature = \"serve\")]\nfn serve() { Router::new().nest_service(\"/mcp\", s); }\n";
        let files = [file("src/main.rs", main)];
        let at = mount("src/main.rs", "src/main.rs", main, "s)");
        assert_eq!(feature(&files, &at, NO_FEATURES).as_deref(), Some("serve"));
        let main = "fn serve() { Router::new().nest_service(\"/mcp\", s); }\n#[cfg(feature = \"x\")]\nfn x() {}\n";
        let files = [file("src/main.rs", main)];
        let at = mount("src/main.rs", "src/main.rs", main, "s)");
        assert_eq!(feature(&files, &at, NO_FEATURES), None);
    }

    #[test]
    fn required_features_of_the_binary() {
        let main = "fn main() { Router::new().nest_service(\"/mcp\", s); }\n";
        let files = [file("src/bin/serve.rs", main)];
        let at = mount("src/bin/serve.rs", "src/bin/serve.rs", main, "s)");
        let manifest = format!(
            "{NO_FEATURES}\n[features]\nweb = []\n\n[[bin]]\nname = \"other\"\nrequired-features = [\"x\"]\n\n[[bin]]\nname = \"serve\"\nrequired-features = [\"web\"]\n"
        );
        assert_eq!(feature(&files, &at, &manifest).as_deref(), Some("web"));
        let manifest = format!(
            "{NO_FEATURES}\n[[bin]]\nname = \"srv\"\npath = \"src/bin/serve.rs\"\nrequired-features = [\"web\", \"tls\"]\n"
        );
        assert_eq!(feature(&files, &at, &manifest).as_deref(), Some("web"));
        let manifest = format!("{NO_FEATURES}\n[[bin]]\nname = \"serve\"\n");
        assert_eq!(feature(&files, &at, &manifest), None);
    }

    #[test]
    fn feature_that_turns_on_the_transport() {
        let main = "fn serve() { Router::new().nest_service(\"/mcp\", s); }\n";
        let files = [file("src/main.rs", main)];
        let at = mount("src/main.rs", "src/main.rs", main, "s)");
        let manifest = "[dependencies]\nsdk = { package = \"rmcp\", version = \"3\", optional = true }\n\n[features]\ndefault = [\"web\"]\nweb = [\"dep:sdk\", \"sdk?/transport-streamable-http-server\"]\n";
        assert_eq!(feature(&files, &at, manifest).as_deref(), Some("web"));
    }
}
