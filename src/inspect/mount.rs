//! Mount: finds, with `syn`, the one place where a `StreamableHttpService` is mounted on an axum router, and explains why when there is none; it reads parsed sources only.
//!
//! The MCP endpoint is identified by `StreamableHttpService::new(..)`, never
//! by `Router::new()` alone (a project may have unrelated routers). A mount is
//! a `.nest_service(<path>, <service>)` or `.route_service(..)` call whose
//! service is that `new` call itself, a `let` binding of it in the same
//! function, or a call wrapping one of those (`service.clone()`, or
//! `mcp_auth.protect(service)` in a project add-auth already wired). When no
//! function both builds and mounts it, a service built in one function and
//! mounted in another is accepted if the mount's argument leads to the
//! building function (a call of it, or a parameter typed as the service);
//! its config is then not wired, and a note says so. Test code is skipped.
//! Code inside macro invocations is not seen (it is not parsed).

use std::collections::{HashMap, HashSet};

use anyhow::{Result, anyhow, bail};
use syn::ext::IdentExt;
use syn::visit::{self, Visit};

use super::Mount;
use super::crate_root::{crate_root_for, mod_insert_at};
use super::offsets::{line_of, span_bounds};
use super::sources::{SourceFile, is_test_only};

/// A mount found, with notes for the user about how it will be wired.
pub(crate) struct Found {
    pub(crate) mount: Mount,
    pub(crate) notes: Vec<String>,
}

/// Finds the MCP endpoint of package `package` among its parsed `files`;
/// `module` is the generated module's name, used to place its `mod` line.
///
/// The usual case is a mount in the function that builds the service. When
/// no function does both, a service built in one function (the only
/// `StreamableHttpService::new` of the package) and mounted in another is
/// accepted when the mount's service argument leads to it: a call of the
/// building function (directly, through a `let`, or `.clone()`), or a
/// parameter whose type names `StreamableHttpService`.
pub(crate) fn find_mount(
    package: &str,
    files: &[SourceFile],
    module: &str,
    checks_host: bool,
) -> Result<Found> {
    let aliases = service_aliases(files);
    let scans: Vec<Scan> = files
        .iter()
        .map(|file| {
            let mut scan = Scan::new(&aliases);
            scan.visit_file(&file.ast);
            scan
        })
        .collect();

    let mut found = Vec::new();
    for (file, scan) in files.iter().zip(&scans) {
        for mount in &scan.mounts {
            if let Some(new) = scan.service_of(mount) {
                found.push((file, scan, mount, new));
            }
        }
    }
    match found.as_slice() {
        [(file, scan, mount, new)] => {
            let stmt = common_statement(&new.frames, &mount.frames).ok_or_else(|| {
                anyhow!(
                    "cannot find the statement that builds the MCP service at `{}`\n\
                     help: build the service with `let service = StreamableHttpService::new(..);` in the function that mounts it, then run add-auth again",
                    file.location(&mount.call.method)
                )
            })?;
            let config = new.call.args.iter().nth(2);
            let mount = build_mount(files, file, scan, mount, stmt, config, module)?;
            Ok(Found {
                mount,
                notes: Vec::new(),
            })
        }
        [] => match split_mount(files, &scans, module, checks_host)? {
            Some(found) => Ok(found),
            None => Err(explain_missing(package, files, &scans)),
        },
        several => {
            let listed: Vec<String> = several
                .iter()
                .map(|(file, scan, mount, _)| {
                    format!(
                        "`{}` (in {})",
                        file.location(&mount.call.method),
                        scan.fn_label(mount.fn_idx)
                    )
                })
                .collect();
            // Examples are crates of their own: one cannot be picked here.
            let help = if several.iter().all(|(file, ..)| {
                file.rel.starts_with("examples")
                    || matches!(file.target, Some(super::targets::Kind::Example))
            }) {
                "these are examples, each a crate of its own: copy the one to protect into a package of \
                 its own (or its own workspace member) and run add-auth there"
            } else {
                "if these are different servers, split them into workspace members and pass --path <member>"
            };
            bail!(
                "`{package}` mounts a `StreamableHttpService` in {} places: {}; add-auth wires exactly one\n\
                 help: {help}",
                several.len(),
                listed.join(", ")
            )
        }
    }
}

/// The mount of a service built in another function (see [`find_mount`]),
/// or `None` when there is no such single pair.
fn split_mount(
    files: &[SourceFile],
    scans: &[Scan],
    module: &str,
    checks_host: bool,
) -> Result<Option<Found>> {
    let news: Vec<(&SourceFile, &Scan, &NewCall)> = files
        .iter()
        .zip(scans)
        .flat_map(|(file, scan)| scan.new_calls.iter().map(move |new| (file, scan, new)))
        .collect();
    let [(new_file, new_scan, new)] = news.as_slice() else {
        return Ok(None);
    };
    let Some(builder_idx) = new.fn_idx else {
        return Ok(None);
    };
    if new_scan.fns[builder_idx].hyper {
        return Ok(None);
    }
    let builder = new_scan.fns[builder_idx].name.as_str();
    let linked: Vec<(&SourceFile, &Scan, &MountCall)> = files
        .iter()
        .zip(scans)
        .flat_map(|(file, scan)| {
            scan.mounts
                .iter()
                .filter(move |mount| {
                    mount.fn_idx.is_some_and(|fn_idx| {
                        scan.links_to(&mount.call.args[1], fn_idx, builder, 0)
                    })
                })
                .map(move |mount| (file, scan, mount))
        })
        .collect();
    let [(file, scan, mount)] = linked.as_slice() else {
        return Ok(None);
    };
    let Some(frame) = mount.frames.last() else {
        return Ok(None);
    };
    let built = build_mount(files, file, scan, mount, frame.stmt, None, module)?;
    let config = new.call.args.iter().nth(2);
    let config_at = config.map_or_else(|| new_file.location(new.call), |c| new_file.location(c));
    // Before rmcp 1.4 there is no Host check to widen (another note says so).
    let hosts = if checks_host {
        ", so rmcp still accepts only the `Host` headers that config allows (loopback by default); \
         behind a public host, add that host (the one of MCP_RESOURCE_URL) with `.with_allowed_hosts(..)` \
         on that config"
    } else {
        ""
    };
    let note = format!(
        "the `StreamableHttpService` is built in `fn {builder}` (`{}`), not where it is mounted (`{}`): \
         add-auth protects it at the mount and leaves its config (`{config_at}`) as it is{hosts}",
        new_file.location(new.call),
        file.location(&mount.call.method),
    );
    Ok(Some(Found {
        mount: built,
        notes: vec![note],
    }))
}

/// Computes the [`Mount`] of one matched `nest_service` call: `stmt` is
/// the statement the `let mcp_auth` line goes before, `config` the config
/// argument of the `StreamableHttpService::new` call when it is in the same
/// file and function.
fn build_mount(
    files: &[SourceFile],
    file: &SourceFile,
    scan: &Scan,
    mount: &MountCall,
    stmt: &syn::Stmt,
    config: Option<&syn::Expr>,
    module: &str,
) -> Result<Mount> {
    let (text, lines) = (&file.text, &file.lines);
    let path_arg = &mount.call.args[0];
    let mcp_path = match strip(path_arg) {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        syn::Expr::Path(p) if p.qself.is_none() => p
            .path
            .get_ident()
            .and_then(|ident| scan.consts.get(&ident.to_string()).cloned()),
        _ => None,
    }
    .ok_or_else(|| {
        anyhow!(
            "the path `{}` the MCP service is mounted at (`{}`) is not a string literal or a string constant of that file\n\
             help: write the path as a literal, e.g. `.nest_service(\"/mcp\", service)`, then run add-auth again",
            &text[lines.range_of(text, path_arg)],
            file.location(&mount.call.method)
        )
    })?;

    let stmt_start = lines.offset(text, span_bounds(stmt).0);
    let stmt_line_start = lines.line_start(span_bounds(stmt).0.line);
    if !text[stmt_line_start..stmt_start].trim().is_empty() {
        bail!(
            "the statement at `{}` that builds the MCP service shares its line with other code\n\
             help: put it on a line of its own (`cargo fmt` does), then run add-auth again",
            file.location(stmt)
        );
    }
    let indent: String = text[stmt_line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();

    let crate_root = crate_root_for(&file.rel, files)?;
    let root_file = files
        .iter()
        .find(|f| f.rel == crate_root)
        .expect("the crate root is one of the parsed files");

    Ok(Mount {
        file: file.rel.clone(),
        crate_root,
        module: module.to_string(),
        mod_insert_at: mod_insert_at(root_file, module),
        mcp_path,
        service_arg: lines.range_of(text, &mount.call.args[1]),
        nest_call_end: lines.offset(text, mount.call.paren_token.span.close().end()),
        config_arg: config.map(|config| lines.range_of(text, config)),
        stmt_line_start,
        indent,
        startup: mount.fn_idx.is_some_and(|fn_idx| scan.fns[fn_idx].startup),
        function: mount.fn_idx.map(|fn_idx| scan.fns[fn_idx].name.clone()),
    })
}

/// The first statement, in the innermost block holding both the `new` call
/// and the mount, that contains either of them. In a simple function this is
/// a top-level statement of its body; behind a transport switch
/// (`match transport { Http => { .. } }`) it stays inside the HTTP arm.
fn common_statement<'ast>(a: &[Frame<'ast>], b: &[Frame<'ast>]) -> Option<&'ast syn::Stmt> {
    let depth = a
        .iter()
        .zip(b)
        .take_while(|(x, y)| x.block == y.block)
        .count();
    let (x, y) = (a.get(depth.checked_sub(1)?)?, &b[depth - 1]);
    Some(if x.stmt_index <= y.stmt_index {
        x.stmt
    } else {
        y.stmt
    })
}

/// The error for a project where no `StreamableHttpService` is mounted:
/// says what was found instead, and where.
fn explain_missing(package: &str, files: &[SourceFile], scans: &[Scan]) -> anyhow::Error {
    let per_file = || files.iter().zip(scans);
    let built: Vec<String> = per_file()
        .flat_map(|(file, scan)| {
            scan.new_calls.iter().map(move |new| {
                format!(
                    "`{}` (in {})",
                    file.location(new.call),
                    scan.fn_label(new.fn_idx)
                )
            })
        })
        .collect();
    if !built.is_empty() {
        let hyper = per_file().any(|(_, scan)| {
            scan.new_calls
                .iter()
                .any(|new| new.fn_idx.is_some_and(|i| scan.fns[i].hyper))
        });
        let elsewhere: Vec<String> = per_file()
            .flat_map(|(file, scan)| {
                scan.mounts
                    .iter()
                    .filter(|mount| takes_a_variable(&mount.call.args[1]))
                    .map(move |mount| {
                        let call = mount.call;
                        let start = file.lines.offset(&file.text, span_bounds(&call.method).0);
                        let end = file
                            .lines
                            .offset(&file.text, call.paren_token.span.close().end());
                        format!(
                            "`{}` at `{}` (in {}) mounts a service built elsewhere",
                            &file.text[start..end],
                            file.location(&call.method),
                            scan.fn_label(mount.fn_idx)
                        )
                    })
            })
            .collect();
        let what = if hyper {
            "and serves it with hyper (`TowerToHyperService`), without an axum router to add the auth layer to"
                .to_string()
        } else {
            let mut what =
                "but no `.nest_service(..)` or `.route_service(..)` in the same function mounts it"
                    .to_string();
            if !elsewhere.is_empty() {
                what = format!("{what}; {}", elsewhere.join("; "));
            }
            what
        };
        let help = if hyper {
            "serve it through axum instead (`axum::serve(listener, Router::new().nest_service(\"/mcp\", service))`)"
        } else {
            "mount it with `Router::new().nest_service(\"/mcp\", service)` in the same function that builds it \
             (or in a function that calls the one that builds it)"
        };
        return anyhow!(
            "`{package}` builds a `StreamableHttpService` at {} {what}\n\
             help: {help}, then run add-auth again",
            built.join(" and ")
        );
    }
    let first = |pick: fn(&Scan) -> Option<usize>| {
        per_file().find_map(|(file, scan)| {
            pick(scan).map(|line| format!("{}:{line}", file.rel.display()))
        })
    };
    if let Some(at) = first(|scan| scan.sse_lines.first().copied()) {
        return anyhow!(
            "`{package}` serves MCP with rmcp's legacy `SseServer` (`{at}`): the HTTP+SSE transport is deprecated \
             by the MCP specification, and that server has no router to add the auth layer to\n\
             help: serve MCP over streamable HTTP instead (`StreamableHttpService`, rmcp 0.6.1 and later, mounted by \
             `Router::new().nest_service(\"/mcp\", service)`), then run add-auth again"
        );
    }
    if let Some(at) = first(|scan| scan.stdio_lines.first().copied()) {
        return anyhow!(
            "`{package}` serves MCP over stdio only (`{at}`); OAuth applies to HTTP transports\n\
             help: run add-auth again with --add-http to add a streamable HTTP transport (chosen by `MCP_TRANSPORT=http`; \
             stdio stays the default) and protect it, or serve MCP over streamable HTTP yourself (`StreamableHttpService` \
             mounted by `Router::new().nest_service(\"/mcp\", service)`)"
        );
    }
    anyhow!(
        "`{package}` has no MCP HTTP endpoint: nothing under src/ calls `StreamableHttpService::new`\n\
         help: serve MCP over streamable HTTP (`StreamableHttpService` mounted by `Router::new().nest_service(\"/mcp\", service)`), then run add-auth again"
    )
}

/// A service argument naming something (a variable, a field, a clone of
/// one) rather than building a service in place.
fn takes_a_variable(expr: &syn::Expr) -> bool {
    match strip(expr) {
        syn::Expr::Path(p) => p.path.get_ident().is_some(),
        syn::Expr::Field(_) => true,
        syn::Expr::MethodCall(call) if call.method == "clone" => takes_a_variable(&call.receiver),
        _ => false,
    }
}

/// Removes parentheses and `&` around an expression.
pub(crate) fn strip(expr: &syn::Expr) -> &syn::Expr {
    match expr {
        syn::Expr::Paren(inner) => strip(&inner.expr),
        syn::Expr::Reference(inner) => strip(&inner.expr),
        syn::Expr::Group(inner) => strip(&inner.expr),
        _ => expr,
    }
}

/// Names that mean `StreamableHttpService` in the package: the type itself,
/// `use ..::StreamableHttpService as Name;` and
/// `type Name = StreamableHttpService<..>;`.
fn service_aliases(files: &[SourceFile]) -> HashSet<String> {
    struct Aliases(HashSet<String>);
    impl<'ast> Visit<'ast> for Aliases {
        fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
            for (path, rename) in use_paths(&item.tree) {
                if path.last().is_some_and(|last| last == SERVICE)
                    && let Some(rename) = rename
                {
                    self.0.insert(rename);
                }
            }
        }
        fn visit_item_type(&mut self, item: &'ast syn::ItemType) {
            if let syn::Type::Path(ty) = &*item.ty
                && ty
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == SERVICE)
            {
                self.0.insert(item.ident.unraw().to_string());
            }
            visit::visit_item_type(self, item);
        }
    }
    let mut aliases = Aliases(HashSet::from([SERVICE.to_string()]));
    for file in files {
        aliases.visit_file(&file.ast);
    }
    aliases.0
}

const SERVICE: &str = "StreamableHttpService";

/// Every path a `use` tree imports, with its `as` name if renamed.
fn use_paths(tree: &syn::UseTree) -> Vec<(Vec<String>, Option<String>)> {
    fn walk(
        tree: &syn::UseTree,
        prefix: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, Option<String>)>,
    ) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.unraw().to_string());
                walk(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut path = prefix.clone();
                path.push(n.ident.unraw().to_string());
                out.push((path, None));
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                path.push(r.ident.unraw().to_string());
                out.push((path, Some(r.rename.unraw().to_string())));
            }
            syn::UseTree::Glob(_) => {}
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    walk(tree, prefix, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out);
    out
}

/// Where a call sits: one frame per enclosing block, from the function body
/// inwards, with the statement of that block that holds the call.
#[derive(Clone)]
struct Frame<'ast> {
    /// Identifies the block within its file.
    block: usize,
    stmt_index: usize,
    stmt: &'ast syn::Stmt,
}

/// A `StreamableHttpService::new(..)` call.
struct NewCall<'ast> {
    call: &'ast syn::ExprCall,
    frames: Vec<Frame<'ast>>,
    fn_idx: Option<usize>,
}

/// A `.nest_service(path, service)` or `.route_service(path, service)` call.
struct MountCall<'ast> {
    call: &'ast syn::ExprMethodCall,
    frames: Vec<Frame<'ast>>,
    fn_idx: Option<usize>,
}

/// `let name = <expr>;`, kept to follow a mount's service argument back to
/// the `StreamableHttpService::new(..)` call it names.
struct Binding<'ast> {
    name: String,
    init: &'ast syn::Expr,
    /// End of the `let` statement: a use after it can name this binding.
    end: proc_macro2::LineColumn,
    fn_idx: Option<usize>,
}

struct FnInfo {
    name: String,
    /// The function mentions `TowerToHyperService`.
    hyper: bool,
    /// `main`, or a function that binds a listener or serves (calls a
    /// function or method named `bind` or `serve`).
    startup: bool,
    /// Parameters whose type names `StreamableHttpService` (or an alias).
    service_params: Vec<String>,
}

/// What one file contains that matters for finding the endpoint.
struct Scan<'a, 'ast> {
    aliases: &'a HashSet<String>,
    fns: Vec<FnInfo>,
    current_fn: Option<usize>,
    frames: Vec<Frame<'ast>>,
    next_block: usize,
    new_calls: Vec<NewCall<'ast>>,
    mounts: Vec<MountCall<'ast>>,
    bindings: Vec<Binding<'ast>>,
    /// `const NAME: &str = "..";` items of the file.
    consts: HashMap<String, String>,
    /// Lines of `stdio()` calls and `transport::stdio` paths.
    stdio_lines: Vec<usize>,
    /// Lines mentioning `SseServer`.
    sse_lines: Vec<usize>,
}

impl<'a, 'ast> Scan<'a, 'ast> {
    fn new(aliases: &'a HashSet<String>) -> Self {
        Scan {
            aliases,
            fns: Vec::new(),
            current_fn: None,
            frames: Vec::new(),
            next_block: 0,
            new_calls: Vec::new(),
            mounts: Vec::new(),
            bindings: Vec::new(),
            consts: HashMap::new(),
            stdio_lines: Vec::new(),
            sse_lines: Vec::new(),
        }
    }

    fn in_fn(&mut self, sig: &syn::Signature, walk: impl FnOnce(&mut Self)) {
        let service_params = sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                syn::FnArg::Typed(typed) => Some(typed),
                syn::FnArg::Receiver(_) => None,
            })
            .filter(|typed| self.type_names_service(&typed.ty))
            .filter_map(|typed| match &*typed.pat {
                syn::Pat::Ident(name) => Some(name.ident.unraw().to_string()),
                _ => None,
            })
            .collect();
        let name = sig.ident.unraw().to_string();
        self.fns.push(FnInfo {
            startup: name == "main",
            name,
            hyper: false,
            service_params,
        });
        let outer_fn = self.current_fn.replace(self.fns.len() - 1);
        let outer_frames = std::mem::take(&mut self.frames);
        walk(self);
        self.current_fn = outer_fn;
        self.frames = outer_frames;
    }

    /// The current function binds a listener or serves.
    fn mark_startup(&mut self) {
        if let Some(fn_idx) = self.current_fn {
            self.fns[fn_idx].startup = true;
        }
    }

    fn fn_label(&self, fn_idx: Option<usize>) -> String {
        match fn_idx {
            Some(i) => format!("`fn {}`", self.fns[i].name),
            None => "no function".to_string(),
        }
    }

    fn is_service_new(&self, func: &syn::Expr) -> bool {
        let syn::Expr::Path(path) = func else {
            return false;
        };
        let segments: Vec<&syn::PathSegment> = path.path.segments.iter().collect();
        match (&path.qself, segments.as_slice()) {
            (None, [.., ty, new]) => new.ident == "new" && self.names_service(&ty.ident),
            (Some(qself), [new]) => {
                new.ident == "new"
                    && matches!(&*qself.ty, syn::Type::Path(ty)
                        if ty.path.segments.last().is_some_and(|last| self.names_service(&last.ident)))
            }
            _ => false,
        }
    }

    fn names_service(&self, ident: &syn::Ident) -> bool {
        self.aliases.contains(&ident.unraw().to_string())
    }

    /// Whether a type mentions `StreamableHttpService` (or an alias)
    /// anywhere: `StreamableHttpService<S, M>`, `&Svc`, `Option<Svc>`.
    fn type_names_service(&self, ty: &syn::Type) -> bool {
        struct Names<'s, 'a, 'ast>(&'s Scan<'a, 'ast>, bool);
        impl<'t> Visit<'t> for Names<'_, '_, '_> {
            fn visit_path_segment(&mut self, segment: &'t syn::PathSegment) {
                self.1 |= self.0.names_service(&segment.ident);
                visit::visit_path_segment(self, segment);
            }
        }
        let mut names = Names(self, false);
        names.visit_type(ty);
        names.1
    }

    /// Whether a mount's service argument, in function `fn_idx`, is the
    /// service `builder` returns: a call of `builder` (a function or a
    /// method), a variable bound to one earlier in the function, a clone
    /// or a wrapping call of those, or a parameter typed as the service.
    fn links_to(&self, expr: &'ast syn::Expr, fn_idx: usize, builder: &str, depth: usize) -> bool {
        if depth > 32 {
            return false;
        }
        let inner = |expr: &'ast syn::Expr| self.links_to(expr, fn_idx, builder, depth + 1);
        match strip(expr) {
            syn::Expr::Call(call) => {
                // `new` names too many other constructors to link anything.
                let named = builder != "new"
                    && matches!(&*call.func, syn::Expr::Path(path)
                        if path.path.segments.last().is_some_and(|last| last.ident == builder));
                named || call.args.iter().any(inner)
            }
            syn::Expr::MethodCall(call) => {
                (call.method == builder && builder != "new")
                    || inner(&call.receiver)
                    || call.args.iter().any(inner)
            }
            syn::Expr::Await(awaited) => inner(&awaited.base),
            syn::Expr::Try(tried) => inner(&tried.expr),
            syn::Expr::Path(path) if path.qself.is_none() => {
                let Some(ident) = path.path.get_ident() else {
                    return false;
                };
                let name = ident.unraw().to_string();
                let used_at = span_bounds(path).0;
                match self.bindings.iter().rfind(|binding| {
                    binding.fn_idx == Some(fn_idx) && binding.name == name && binding.end <= used_at
                }) {
                    Some(binding) => inner(binding.init),
                    None => self.fns[fn_idx].service_params.contains(&name),
                }
            }
            _ => false,
        }
    }

    /// The `new` call a mount's service argument stands for, in the same
    /// function.
    fn service_of(&self, mount: &MountCall<'ast>) -> Option<&NewCall<'ast>> {
        let fn_idx = mount.fn_idx?;
        let call = self.service_call(&mount.call.args[1], fn_idx, 0)?;
        self.new_calls
            .iter()
            .find(|new| std::ptr::eq(new.call, call) && new.fn_idx == Some(fn_idx))
    }

    /// The `StreamableHttpService::new(..)` call an expression is or wraps:
    /// the call itself, a variable bound to it earlier in the function, or a
    /// call taking one of those (`service.clone()`,
    /// `mcp_auth.protect(service)` once add-auth has wired the project,
    /// `ServiceBuilder::new().layer(..).service(service)`).
    fn service_call(
        &self,
        expr: &'ast syn::Expr,
        fn_idx: usize,
        depth: usize,
    ) -> Option<&'ast syn::ExprCall> {
        if depth > 32 {
            return None;
        }
        let inner = |expr: &'ast syn::Expr| self.service_call(expr, fn_idx, depth + 1);
        match strip(expr) {
            syn::Expr::Call(call) if self.is_service_new(&call.func) => Some(call),
            syn::Expr::Call(call) => call.args.iter().find_map(inner),
            syn::Expr::MethodCall(call) => {
                inner(&call.receiver).or_else(|| call.args.iter().find_map(inner))
            }
            syn::Expr::Path(path) if path.qself.is_none() => {
                let name = path.path.get_ident()?.unraw().to_string();
                let used_at = span_bounds(path).0;
                let binding = self.bindings.iter().rfind(|binding| {
                    binding.fn_idx == Some(fn_idx) && binding.name == name && binding.end <= used_at
                })?;
                inner(binding.init)
            }
            _ => None,
        }
    }
}

/// Test code (`#[cfg(test)]` modules, `#[test]` functions) is skipped.
impl<'ast> Visit<'ast> for Scan<'_, 'ast> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_only(&item.attrs) {
            visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !is_test_only(&item.attrs) {
            self.in_fn(&item.sig, |scan| visit::visit_item_fn(scan, item));
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !is_test_only(&item.attrs) {
            self.in_fn(&item.sig, |scan| visit::visit_impl_item_fn(scan, item));
        }
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        self.in_fn(&item.sig, |scan| visit::visit_trait_item_fn(scan, item));
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        let id = self.next_block;
        self.next_block += 1;
        for (stmt_index, stmt) in block.stmts.iter().enumerate() {
            self.frames.push(Frame {
                block: id,
                stmt_index,
                stmt,
            });
            self.visit_stmt(stmt);
            self.frames.pop();
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(path) = &*call.func
            && path
                .path
                .segments
                .last()
                .is_some_and(|last| last.ident == "bind" || last.ident == "serve")
        {
            self.mark_startup();
        }
        if self.is_service_new(&call.func) {
            self.new_calls.push(NewCall {
                call,
                frames: self.frames.clone(),
                fn_idx: self.current_fn,
            });
        } else if let syn::Expr::Path(path) = &*call.func
            && path
                .path
                .segments
                .last()
                .is_some_and(|last| last.ident == "stdio")
        {
            self.stdio_lines.push(line_of(call));
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if call.method == "bind" || call.method == "serve" {
            self.mark_startup();
        }
        if (call.method == "nest_service" || call.method == "route_service") && call.args.len() == 2
        {
            self.mounts.push(MountCall {
                call,
                frames: self.frames.clone(),
                fn_idx: self.current_fn,
            });
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        let pat = match &local.pat {
            syn::Pat::Type(typed) => &*typed.pat,
            pat => pat,
        };
        if let (syn::Pat::Ident(name), Some(init)) = (pat, &local.init) {
            self.bindings.push(Binding {
                name: name.ident.unraw().to_string(),
                init: &init.expr,
                end: span_bounds(local).1,
                fn_idx: self.current_fn,
            });
        }
        visit::visit_local(self, local);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let idents: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if idents.iter().any(|ident| ident == "SseServer") {
            self.sse_lines.push(line_of(path));
        }
        if idents
            .windows(2)
            .any(|w| w[0] == "transport" && w[1] == "stdio")
        {
            self.stdio_lines.push(line_of(path));
        }
        if idents.iter().any(|ident| ident == "TowerToHyperService")
            && let Some(i) = self.current_fn
        {
            self.fns[i].hyper = true;
        }
        visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        for (path, _) in use_paths(&item.tree) {
            let line = line_of(item);
            if path.iter().any(|ident| ident == "SseServer") {
                self.sse_lines.push(line);
            }
            if path
                .windows(2)
                .any(|w| w[0] == "transport" && w[1] == "stdio")
            {
                self.stdio_lines.push(line);
            }
        }
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        if let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) = strip(&item.expr)
        {
            self.consts
                .insert(item.ident.unraw().to_string(), s.value());
        }
        visit::visit_item_const(self, item);
    }
}
