//! Endpoint tests: finds the project's own tests that send requests to the
//! MCP endpoint (and so need a token once it is protected). Read-only; it
//! looks at test code only (`#[cfg(test)]` modules, test functions, files
//! under `tests/`).
//!
//! A test reaches the endpoint when its body, or a helper function of the
//! test code that it calls, names the function that mounts the service (a
//! router factory such as `build_router`) or the MCP path as a string
//! literal (`"/mcp"`). One level of helpers is followed: that is how test
//! suites are written (a `send(..)` or `app()` helper used by every test);
//! a test that goes through such a helper but names only other paths
//! (`send("/health")`) is not counted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};
use walkdir::WalkDir;

use super::Mount;
use super::sources::{SourceFile, is_test_only};

/// One test that sends requests to the MCP endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointTest {
    /// The test function's name.
    pub name: String,
    /// The file of the test, relative to the package root (no line: the
    /// wiring add-auth inserts may move it).
    pub at: String,
    /// The helper it reaches the endpoint through (`None`: directly).
    pub helper: Option<String>,
    /// Under `tests/`: an integration test, compiled against the library
    /// without `cfg(test)`.
    pub integration: bool,
}

/// The tests of the package at `root` (whose parsed sources are `files`)
/// that reach the endpoint at `mount`. Files under `tests/` are read here;
/// one that does not parse is skipped (it does not change what add-auth
/// writes, only what it tells).
pub(crate) fn find(root: &Path, files: &[SourceFile], mount: &Mount) -> Vec<EndpointTest> {
    let integration = integration_files(root);
    let mut fns = Vec::new();
    for file in files {
        collect(file, false, &mut fns);
    }
    for file in &integration {
        collect(file, true, &mut fns);
    }

    let reaches = |f: &TestFn| {
        f.strings
            .iter()
            .any(|text| text.ends_with(mount.mcp_path.as_str()))
            || (!mount.startup
                && mount
                    .function
                    .as_ref()
                    .is_some_and(|name| f.names.contains(name)))
    };
    let helpers: Vec<&TestFn> = fns.iter().filter(|f| !f.is_test && reaches(f)).collect();
    fns.iter()
        .filter(|f| f.is_test)
        .filter_map(|f| {
            let helper = if reaches(f) {
                None
            } else if f.strings.iter().any(|text| text.starts_with('/')) {
                // Through a helper, but to other paths only (`/health`).
                return None;
            } else {
                Some(
                    helpers
                        .iter()
                        .find(|helper| helper.file == f.file && f.names.contains(&helper.name))?
                        .name
                        .clone(),
                )
            };
            Some(EndpointTest {
                name: f.name.clone(),
                at: f.at.clone(),
                helper,
                integration: f.integration,
            })
        })
        .collect()
}

/// `tests/**/*.rs`, parsed; files that do not parse are left out.
fn integration_files(root: &Path) -> Vec<SourceFile> {
    let dir = root.join("tests");
    if !dir.is_dir() {
        return Vec::new();
    }
    WalkDir::new(&dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.file_type().is_file() && entry.path().extension().is_some_and(|ext| ext == "rs")
        })
        .filter_map(|entry| {
            let rel: PathBuf = entry.path().strip_prefix(root).ok()?.to_path_buf();
            let text = std::fs::read_to_string(entry.path()).ok()?;
            SourceFile::parse(rel, text).ok()
        })
        .collect()
}

/// A function of test code, with what its body names.
struct TestFn {
    name: String,
    file: PathBuf,
    at: String,
    is_test: bool,
    integration: bool,
    /// Identifiers called or named: path segments and method names.
    names: HashSet<String>,
    /// String literals.
    strings: HashSet<String>,
}

fn collect(file: &SourceFile, integration: bool, out: &mut Vec<TestFn>) {
    struct Walk<'a> {
        file: &'a SourceFile,
        integration: bool,
        /// Inside a `#[cfg(test)]` module (or a file under `tests/`).
        in_tests: bool,
        out: &'a mut Vec<TestFn>,
    }
    impl Walk<'_> {
        fn function(&mut self, attrs: &[syn::Attribute], sig: &syn::Signature, block: &syn::Block) {
            let is_test = is_test_function(attrs);
            if !(self.in_tests || is_test) {
                return;
            }
            let mut body = Body::default();
            body.visit_block(block);
            self.out.push(TestFn {
                name: sig.ident.to_string(),
                file: self.file.rel.clone(),
                at: self.file.rel.display().to_string(),
                is_test,
                integration: self.integration,
                names: body.names,
                strings: body.strings,
            });
        }
    }
    impl<'ast> Visit<'ast> for Walk<'_> {
        fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
            let outer = self.in_tests;
            self.in_tests |= is_test_only(&item.attrs);
            visit::visit_item_mod(self, item);
            self.in_tests = outer;
        }
        fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
            self.function(&item.attrs, &item.sig, &item.block);
        }
        fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
            self.function(&item.attrs, &item.sig, &item.block);
        }
    }
    Walk {
        file,
        integration,
        in_tests: integration,
        out,
    }
    .visit_file(&file.ast);
}

/// `#[test]`, `#[tokio::test]`, `#[rstest]`-like attributes ending in `test`.
fn is_test_function(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|last| last.ident == "test")
    })
}

#[derive(Default)]
struct Body {
    names: HashSet<String>,
    strings: HashSet<String>,
}

impl<'ast> Visit<'ast> for Body {
    fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
        self.names.insert(segment.ident.to_string());
        visit::visit_path_segment(self, segment);
    }
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.names.insert(call.method.to_string());
        visit::visit_expr_method_call(self, call);
    }
    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.strings.insert(lit.value());
    }
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // `format!("{base}/mcp")`, `assert!(..)`: read the tokens of the call.
        if let Ok(args) = mac.parse_body_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        ) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(startup: bool) -> Mount {
        Mount {
            file: "src/lib.rs".into(),
            crate_root: "src/lib.rs".into(),
            module: "auth".into(),
            mod_insert_at: 0,
            mcp_path: "/mcp".into(),
            service_arg: 0..0,
            nest_call_end: 0,
            config_arg: None,
            stmt_line_start: 0,
            indent: String::new(),
            startup,
            function: Some("build_router".into()),
        }
    }

    fn file(rel: &str, text: &str) -> SourceFile {
        SourceFile::parse(rel.into(), text.into()).unwrap()
    }

    #[test]
    fn tests_reaching_the_endpoint_directly_or_through_one_helper() {
        let lib = file(
            "src/lib.rs",
            r#"
pub fn build_router() {}
fn not_a_test() { build_router(); }
#[cfg(test)]
mod tests {
    async fn send(path: &str) { let _ = super::build_router(); }
    fn unrelated() {}
    #[tokio::test]
    async fn health() { send("/health").await; }
    #[tokio::test]
    async fn list() { send(ROOT).await; }
    #[test]
    fn direct() { let url = format!("{}/mcp", "http://x"); let _ = "/mcp"; }
    #[test]
    fn other() { unrelated(); }
}
"#,
        );
        let found = find(Path::new("/nonexistent"), &[lib], &mount(false));
        let names: Vec<(&str, Option<&str>)> = found
            .iter()
            .map(|t| (t.name.as_str(), t.helper.as_deref()))
            .collect();
        assert_eq!(names, [("list", Some("send")), ("direct", None)]);
        assert_eq!(found[0].at, "src/lib.rs");
        assert!(!found[0].integration);
    }

    #[test]
    fn main_is_not_a_factory_tests_call() {
        let main = file(
            "src/main.rs",
            "fn main() {}\n#[cfg(test)]\nmod tests {\n#[test]\nfn t() { main(); }\n}\n",
        );
        let mut at_main = mount(true);
        at_main.function = Some("main".into());
        assert!(find(Path::new("/nonexistent"), &[main], &at_main).is_empty());
    }
}
