//! Stdio: finds where a stdio-only server starts serving (`handler.serve(stdio()).await`
//! or `serve_server(handler, stdio()).await`), the place `add-auth --add-http` puts an
//! HTTP branch before; it reads, never writes.
//!
//! The site is the statement holding that call, in the innermost block
//! holding it, so the branch runs in the same async context with the same
//! variables in scope: the handler expression is evaluated there once and
//! cloned for each HTTP session, which needs the handler type to be `Clone`
//! (rmcp's `StreamableHttpService` builds one handler per session). Whether
//! it is, is read from the source where it can be: a `#[derive(Clone)]` or
//! an `impl Clone for` of the type named by the expression.

use std::path::PathBuf;

use anyhow::{Result, bail};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::mount::strip;
use super::offsets::span_bounds;
use super::sources::{SourceFile, is_test_only};

/// Where a stdio-only server starts serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdioSite {
    /// File (relative to the package root) holding the serve call.
    pub file: PathBuf,
    /// `file:line` of the serve call, for messages.
    pub at: String,
    /// Byte offset of the start of the line of the statement holding it.
    pub stmt_line_start: usize,
    /// Leading whitespace of that line.
    pub indent: String,
    /// Source text of the handler expression (`Counter::new()`, `server`).
    pub handler: String,
    /// The handler's type when the expression names one (`Counter`).
    pub handler_type: Option<String>,
    /// Whether that type is `Clone`, when the source says (`None`: the type
    /// is not known or not defined in this package).
    pub clone: Option<bool>,
}

/// The site of the stdio server in `files`, `None` when no function serves
/// stdio as this module recognises it. More than one site is an error: the
/// branch would have to go in front of each.
pub(crate) fn find_site(package: &str, files: &[SourceFile]) -> Result<Option<StdioSite>> {
    let mut found: Vec<(usize, Serve)> = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let mut finder = Finder::default();
        finder.visit_file(&file.ast);
        found.extend(finder.found.into_iter().map(|serve| (index, serve)));
    }
    match found.len() {
        0 => return Ok(None),
        1 => {}
        _ => {
            let places: Vec<String> = found
                .iter()
                .map(|(index, serve)| format!("`{}`", files[*index].location(&serve.call_span)))
                .collect();
            bail!(
                "`{package}` serves stdio in {} places ({}): add-auth can add an HTTP transport in front of one only\n\
                 help: keep one `.serve(stdio())` (or move the others behind a function that calls it), then run add-auth again with --add-http",
                found.len(),
                places.join(", ")
            );
        }
    }
    let (index, serve) = found.pop().expect("one site");
    let file = &files[index];
    let (text, lines) = (&file.text, &file.lines);
    let stmt_start = lines.offset(text, serve.stmt_start);
    let stmt_line_start = lines.line_start(serve.stmt_start.line);
    if !text[stmt_line_start..stmt_start].trim().is_empty() {
        bail!(
            "the statement at `{}` that serves stdio shares its line with other code\n\
             help: put it on a line of its own (`cargo fmt` does), then run add-auth again with --add-http",
            file.location(&serve.call_span)
        );
    }
    let indent: String = text[stmt_line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let handler =
        text[lines.offset(text, serve.handler.0)..lines.offset(text, serve.handler.1)].to_string();
    let handler_type = serve.handler_type;
    let clone = handler_type
        .as_deref()
        .and_then(|name| is_clone(files, name));
    Ok(Some(StdioSite {
        file: file.rel.clone(),
        at: file.location(&serve.call_span),
        stmt_line_start,
        indent,
        handler,
        handler_type,
        clone,
    }))
}

/// One `.serve(stdio()).await` found, with positions in its file.
struct Serve {
    call_span: proc_macro2::Span,
    /// Start of the innermost statement holding the call.
    stmt_start: proc_macro2::LineColumn,
    /// Bounds of the handler expression.
    handler: (proc_macro2::LineColumn, proc_macro2::LineColumn),
    handler_type: Option<String>,
}

/// Walks one file: the statements and `let` bindings of the function being
/// visited, and the serve calls in them.
#[derive(Default)]
struct Finder {
    found: Vec<Serve>,
    /// Statements holding the node being visited, outermost first.
    stmts: Vec<proc_macro2::LineColumn>,
    /// `let NAME = EXPR;` of the blocks being visited: names bound to stdio
    /// transports, and each name's type when its initialiser names one.
    stdio_vars: Vec<String>,
    var_types: Vec<(String, Option<String>)>,
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !is_test_only(&item.attrs) {
            visit::visit_item_fn(self, item);
        }
    }

    /// A block's bindings end with it.
    fn visit_block(&mut self, block: &'ast syn::Block) {
        let (vars, types) = (self.stdio_vars.len(), self.var_types.len());
        visit::visit_block(self, block);
        self.stdio_vars.truncate(vars);
        self.var_types.truncate(types);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !is_test_only(&item.attrs) {
            visit::visit_impl_item_fn(self, item);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_only(&item.attrs) {
            visit::visit_item_mod(self, item);
        }
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        if let syn::Stmt::Local(local) = stmt
            && let syn::Pat::Ident(name) = &local.pat
            && let Some(init) = &local.init
        {
            let name = name.ident.to_string();
            if is_stdio(&init.expr, &self.stdio_vars) {
                self.stdio_vars.push(name.clone());
            }
            let named = self.type_named(&init.expr);
            self.var_types.push((name, named));
        }
        self.stmts.push(span_bounds(stmt).0);
        visit::visit_stmt(self, stmt);
        self.stmts.pop();
    }

    fn visit_expr_await(&mut self, awaited: &'ast syn::ExprAwait) {
        let served = match strip(&awaited.base) {
            syn::Expr::MethodCall(call)
                if call.method == "serve"
                    && call.args.len() == 1
                    && is_stdio(&call.args[0], &self.stdio_vars) =>
            {
                Some((&*call.receiver, call.span()))
            }
            syn::Expr::Call(call)
                if call.args.len() == 2
                    && last_segment(&call.func).is_some_and(|name| name == "serve_server")
                    && is_stdio(&call.args[1], &self.stdio_vars) =>
            {
                Some((&call.args[0], call.span()))
            }
            _ => None,
        };
        if let (Some((handler, call_span)), Some(&stmt_start)) = (served, self.stmts.last()) {
            let handler_type = self.type_named(handler);
            self.found.push(Serve {
                call_span,
                stmt_start,
                handler: span_bounds(handler),
                handler_type,
            });
        }
        visit::visit_expr_await(self, awaited);
    }
}

impl Finder {
    /// The type an expression builds, when it says: `Type::new(..)`,
    /// `Type::default()`, `Type { .. }`, `Type`, a builder chain on one of
    /// those, `expr?`, or a variable bound to one of those.
    fn type_named(&self, expr: &syn::Expr) -> Option<String> {
        match strip(expr) {
            syn::Expr::Call(call) => {
                let syn::Expr::Path(path) = strip(&call.func) else {
                    return None;
                };
                let segments = &path.path.segments;
                (segments.len() >= 2).then(|| segments[segments.len() - 2].ident.to_string())
            }
            syn::Expr::Struct(built) => built.path.segments.last().map(|s| s.ident.to_string()),
            syn::Expr::MethodCall(call) => self.type_named(&call.receiver),
            syn::Expr::Try(tried) => self.type_named(&tried.expr),
            syn::Expr::Path(path) => {
                let name = path.path.segments.last()?.ident.to_string();
                if path.path.segments.len() == 1
                    && let Some((_, named)) =
                        self.var_types.iter().rev().find(|(var, _)| *var == name)
                {
                    return named.clone();
                }
                name.starts_with(char::is_uppercase).then_some(name)
            }
            _ => None,
        }
    }
}

/// `stdio()` (any path), `(stdin(), stdout())`, or a variable bound to one.
fn is_stdio(expr: &syn::Expr, stdio_vars: &[String]) -> bool {
    match strip(expr) {
        syn::Expr::Call(call) => last_segment(&call.func).is_some_and(|name| name == "stdio"),
        syn::Expr::Tuple(pair) if pair.elems.len() == 2 => {
            let names: Vec<Option<String>> = pair
                .elems
                .iter()
                .map(|elem| match strip(elem) {
                    syn::Expr::Call(call) => last_segment(&call.func),
                    _ => None,
                })
                .collect();
            names[0].as_deref() == Some("stdin") && names[1].as_deref() == Some("stdout")
        }
        syn::Expr::Path(path) => path
            .path
            .get_ident()
            .is_some_and(|ident| stdio_vars.iter().any(|var| ident == var)),
        _ => false,
    }
}

fn last_segment(expr: &syn::Expr) -> Option<String> {
    match strip(expr) {
        syn::Expr::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Whether the type `name` defined in `files` is `Clone` (`None`: no such
/// struct or enum in the package).
fn is_clone(files: &[SourceFile], name: &str) -> Option<bool> {
    #[derive(Default)]
    struct Types<'n> {
        name: &'n str,
        defined: bool,
        clone: bool,
    }
    impl<'ast> Visit<'ast> for Types<'_> {
        fn visit_item_struct(&mut self, item: &'ast syn::ItemStruct) {
            if item.ident == self.name {
                self.defined = true;
                self.clone |= derives_clone(&item.attrs);
            }
        }
        fn visit_item_enum(&mut self, item: &'ast syn::ItemEnum) {
            if item.ident == self.name {
                self.defined = true;
                self.clone |= derives_clone(&item.attrs);
            }
        }
        fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
            let for_name = matches!(&*item.self_ty, syn::Type::Path(ty)
                if ty.path.segments.last().is_some_and(|s| s.ident == self.name));
            let is_clone_trait = item.trait_.as_ref().is_some_and(|(_, path, _)| {
                path.segments.last().is_some_and(|s| s.ident == "Clone")
            });
            self.clone |= for_name && is_clone_trait;
        }
    }
    let mut types = Types {
        name,
        ..Types::default()
    };
    for file in files {
        types.visit_file(&file.ast);
    }
    types.defined.then_some(types.clone)
}

fn derives_clone(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("derive") && {
            let mut clone = false;
            let _ = attr.parse_nested_meta(|meta| {
                clone |= meta
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Clone");
                Ok(())
            });
            clone
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(sources: &[(&str, &str)]) -> Vec<SourceFile> {
        sources
            .iter()
            .map(|(rel, text)| SourceFile::parse(PathBuf::from(rel), text.to_string()).unwrap())
            .collect()
    }

    fn site(text: &str) -> Option<StdioSite> {
        find_site("demo", &files(&[("src/main.rs", text)])).unwrap()
    }

    #[test]
    fn the_statement_serving_stdio_and_its_handler_are_found() {
        let text = "use rmcp::{ServiceExt, transport::stdio};\n\
                    #[derive(Clone)]\nstruct Counter;\n\
                    #[tokio::main]\nasync fn main() -> anyhow::Result<()> {\n    \
                    tracing_subscriber::fmt().init();\n    \
                    let service = Counter::new().serve(stdio()).await?;\n    \
                    service.waiting().await?;\n    Ok(())\n}\n";
        let site = site(text).expect("a site");
        assert_eq!(site.handler, "Counter::new()");
        assert_eq!(site.handler_type.as_deref(), Some("Counter"));
        assert_eq!(site.clone, Some(true));
        assert_eq!(site.indent, "    ");
        assert!(text[site.stmt_line_start..].starts_with("    let service = Counter"));
        assert_eq!(site.at, "src/main.rs:7");
    }

    #[test]
    fn variables_serve_server_and_stdin_stdout_pairs_are_followed() {
        let text = "struct Tools { n: u8 }\n\
                    async fn run() {\n    let server = Tools { n: 1 };\n    \
                    let transport = (tokio::io::stdin(), tokio::io::stdout());\n    \
                    let running = rmcp::serve_server(server, transport).await.unwrap();\n}\n";
        let site = site(text).expect("a site");
        assert_eq!(site.handler, "server");
        assert_eq!(site.handler_type.as_deref(), Some("Tools"));
        assert_eq!(site.clone, Some(false), "no derive, no impl");
        let with_impl =
            format!("{text}impl Clone for Tools {{ fn clone(&self) -> Self {{ todo!() }} }}\n");
        assert_eq!(self::site(&with_impl).unwrap().clone, Some(true));
    }

    #[test]
    fn no_stdio_no_site_and_two_sites_are_refused() {
        assert_eq!(site("async fn main() { let x = 1; }\n"), None);
        assert_eq!(
            site("async fn a() {\n    { let t = stdio(); }\n    S.serve(t).await;\n}\n"),
            None,
            "a binding ends with its block"
        );
        assert_eq!(
            site("#[cfg(test)]\nmod tests { async fn t() { S.serve(stdio()).await; } }\n"),
            None,
            "test code is not the server"
        );
        let two = files(&[(
            "src/main.rs",
            "async fn a() { S.serve(stdio()).await; }\nasync fn b() { S.serve(stdio()).await; }\n",
        )]);
        let err = find_site("demo", &two).unwrap_err().to_string();
        assert!(
            err.contains("2 places") && err.contains("src/main.rs:1"),
            "{err}"
        );
        let one_line = files(&[(
            "src/main.rs",
            "async fn a() { let s = S; s.serve(stdio()).await; }\n",
        )]);
        let err = find_site("demo", &one_line).unwrap_err().to_string();
        assert!(err.contains("shares its line"), "{err}");
    }
}
