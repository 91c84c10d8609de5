//! Existing auth: finds, with `syn` and a look at `Cargo.toml`, auth the project already has on or around its MCP endpoint, so that add-auth never stacks a second check on it; it reads parsed sources and the manifest, never writes.
//!
//! What counts, each reported as `file:line` and what it is:
//! - a middleware layer over the router holding the MCP endpoint
//!   (`from_fn`, `from_fn_with_state`, `map_request`, `from_extractor`)
//!   whose function answers 401, reads the `Authorization` header, checks a
//!   `Bearer` token or takes `TypedHeader<Authorization<..>>`; tower-http's
//!   `ValidateRequestHeaderLayer::bearer`/`basic` and
//!   `(Async)RequireAuthorizationLayer`; a `Layer`/`Service` type of the
//!   project's own that does such a check;
//! - an MCP handler (`impl ServerHandler`, `#[tool_router]`,
//!   `#[tool_handler]`) that reads the `Authorization` header;
//! - a JWT library (`jsonwebtoken`, any crate named `*jwt*`) the package
//!   depends on, unless add-auth added it or the code only signs tokens
//!   (`jsonwebtoken::encode` for an upstream API): see `existing_auth/jwt.rs`;
//! - a route of its own under `/.well-known/oauth-`.
//!
//! "Over the router holding the MCP endpoint": in the function that mounts
//! it or one that (transitively) calls that function, and not confined to
//! other routes (an argument of `.route(..)` for another path, a router
//! given to `.nest(..)`/`.merge(..)` that does not hold the endpoint, or a
//! layer on a `Router::new()` chain before the endpoint is added). When the
//! endpoint was not found, every function counts. Test code and the
//! generated module (recorded in `mcp-builder.json`, or carrying the
//! generated header) are skipped, so a re-run on a wired project finds
//! nothing.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};

use super::Mount;
use super::module_name::{self, GENERATED_MARK};
use super::offsets::span_bounds;
use super::sources::{SourceFile, is_test_only};

/// One piece of existing auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// `file:line`, the file relative to the package root.
    pub(crate) at: String,
    /// What it is, e.g. "a `from_fn(require_bearer)` layer over the MCP
    /// endpoint: `require_bearer` (`src/main.rs:40`) answers 401".
    pub(crate) what: String,
}

/// The error for a package with existing auth, or `None` without any.
pub(crate) fn refusal(package: &str, findings: &[Finding]) -> Option<anyhow::Error> {
    if findings.is_empty() {
        return None;
    }
    let found: Vec<String> = findings
        .iter()
        .map(|finding| format!("`{}` {}", finding.at, finding.what))
        .collect();
    let lines: Vec<String> = findings
        .iter()
        .map(|finding| format!("`{}`", finding.at))
        .collect();
    Some(anyhow::anyhow!(
        "`{package}` already has auth of its own, and add-auth never stacks a second one on it: {}\n\
         help: remove or disable yours first ({}), then run add-auth again; to keep your own auth instead, \
         do not use add-auth on this endpoint",
        found.join("; "),
        lines.join(", ")
    ))
}

/// Finds existing auth in the package at `root` (canonical) among its
/// parsed `files`; `mount` is the MCP endpoint when it was found.
pub(crate) fn find(root: &Path, files: &[SourceFile], mount: Option<&Mount>) -> Vec<Finding> {
    let ours = generated_dirs(root, files, mount);
    let files: Vec<&SourceFile> = files
        .iter()
        .filter(|file| {
            let rel = crate::slash::slash_path(&file.rel);
            !ours.iter().any(|dir| rel.starts_with(dir.as_str()))
        })
        .collect();
    let index = Index::new(&files, mount);
    let mut findings = Vec::new();
    index.layers(&mut findings);
    index.request_reads(&mut findings);
    jwt::libraries(root, &index, !ours.is_empty(), &mut findings);
    let consts: Vec<HashMap<String, String>> =
        files.iter().map(|file| string_consts(&file.ast)).collect();
    for f in &index.fns {
        let mut routes = WellKnown {
            file: files[f.file],
            consts: &consts[f.file],
            findings: &mut findings,
        };
        routes.visit_block(f.block);
    }
    let mut seen = HashSet::new();
    findings.retain(|finding| seen.insert(finding.at.clone()));
    // In file and line order, whatever found them.
    findings.sort_by_cached_key(|finding| {
        let (file, line) = finding.at.rsplit_once(':').unwrap_or((&finding.at, ""));
        (file.to_string(), line.parse::<usize>().unwrap_or(0))
    });
    findings
}

/// Directories (`src/auth/`, `/`-separated, with the final slash) of the
/// generated module: recorded in the state file, or holding a `mod.rs`
/// with the generated header.
fn generated_dirs(root: &Path, files: &[SourceFile], mount: Option<&Mount>) -> Vec<String> {
    let mut dirs: Vec<String> = module_name::recorded_hashes(root)
        .into_keys()
        .filter_map(|file| Some(file.strip_suffix("mod.rs")?.to_string()))
        .collect();
    let marked = |text: &str| text.contains(GENERATED_MARK);
    for file in files {
        let rel = crate::slash::slash_path(&file.rel);
        if let Some(dir) = rel.strip_suffix("mod.rs")
            && marked(&file.text)
        {
            dirs.push(dir.to_string());
        }
    }
    if let Some(mount) = mount {
        let dir = module_name::module_dir(mount);
        if std::fs::read_to_string(root.join(&dir).join("mod.rs")).is_ok_and(|text| marked(&text)) {
            dirs.push(format!("{}/", crate::slash::slash_path(&dir)));
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

/// A non-test function of the package.
struct FnInfo<'ast> {
    file: usize,
    name: String,
    /// Byte range in its file.
    range: std::ops::Range<usize>,
    sig: &'ast syn::Signature,
    block: &'ast syn::Block,
    /// Names of the functions and methods it calls.
    calls: HashSet<String>,
    /// The type of the `impl` block holding it, if any.
    owner: Option<String>,
    /// In an MCP handler impl (`ServerHandler`, `#[tool_router]`,
    /// `#[tool_handler]`).
    in_handler: bool,
    /// In an impl of one of [`CHECK_TRAITS`] (judged as a type instead).
    in_check_trait: bool,
}

/// A type of the project's own that checks requests: an impl of a
/// middleware or extractor trait whose body shows auth.
struct AuthType {
    /// `file:line` of the impl's type.
    at: String,
    /// The trait implemented, e.g. `Layer`.
    trait_name: String,
    /// What its body does, e.g. "answers 401".
    evidence: String,
}

impl AuthType {
    /// "`ApiKey`'s `Service` impl (`src/main.rs:30`) answers 401".
    fn describe(&self, name: &str) -> String {
        format!(
            "`{name}`'s `{}` impl (`{}`) {}",
            self.trait_name, self.at, self.evidence
        )
    }
}

/// What one pass over the package collects.
struct Index<'f, 'ast> {
    files: &'f [&'ast SourceFile],
    fns: Vec<FnInfo<'ast>>,
    uses: Vec<(usize, &'ast syn::ItemUse)>,
    auth_types: HashMap<String, AuthType>,
    /// Functions holding the MCP endpoint: the mounting one, its callers,
    /// and functions they hand the router to (`protect(router)`); `None`
    /// when the endpoint was not found: all count.
    relevant: Option<HashSet<usize>>,
    relevant_names: HashSet<String>,
    mcp_path: Option<String>,
}

/// Traits whose impls put a check in front of requests.
const CHECK_TRAITS: &[&str] = &[
    "Service",
    "Layer",
    "FromRequestParts",
    "FromRequest",
    "AsyncAuthorizeRequest",
    "AuthorizeRequest",
    "ValidateRequest",
];

impl<'f, 'ast> Index<'f, 'ast> {
    fn new(files: &'f [&'ast SourceFile], mount: Option<&Mount>) -> Self {
        let mut collect = Collect::default();
        for (idx, file) in files.iter().enumerate() {
            collect.file = idx;
            collect.source = Some(file);
            collect.visit_file(&file.ast);
        }
        let mut index = Index {
            files,
            fns: collect.fns,
            uses: collect.uses,
            auth_types: HashMap::new(),
            relevant: None,
            relevant_names: HashSet::new(),
            mcp_path: mount.map(|mount| mount.mcp_path.clone()),
        };
        // Twice: a `Layer` whose `type Service = Checked<S>` names a checking
        // service found in the first round.
        for _ in 0..2 {
            for &(file, item) in &collect.trait_impls {
                let Some(name) = type_name(&item.self_ty) else {
                    continue;
                };
                if index.auth_types.contains_key(&name) {
                    continue;
                }
                let evidence = index.evidence_of(|e| e.visit_item_impl(item), 0);
                if let Some(evidence) = evidence {
                    let trait_name = item
                        .trait_
                        .as_ref()
                        .and_then(|(_, path, _)| path.segments.last())
                        .map(|last| last.ident.to_string())
                        .unwrap_or_default();
                    index.auth_types.insert(
                        name,
                        AuthType {
                            at: files[file].location(&item.self_ty),
                            trait_name,
                            evidence,
                        },
                    );
                }
            }
        }
        if let Some(mount) = mount {
            index.find_relevant(mount);
        }
        index
    }

    /// The function that mounts the endpoint and every function that calls
    /// one of those, transitively.
    fn find_relevant(&mut self, mount: &Mount) {
        let at = mount.nest_call_end.saturating_sub(1);
        let Some(mounting) = self
            .fns
            .iter()
            .enumerate()
            .filter(|(_, f)| self.files[f.file].rel == mount.file && f.range.contains(&at))
            .min_by_key(|(_, f)| f.range.len())
            .map(|(i, _)| i)
        else {
            return;
        };
        let mut relevant = HashSet::from([mounting]);
        let mut names = HashSet::from([self.fns[mounting].name.clone()]);
        loop {
            let before = relevant.len();
            for (i, f) in self.fns.iter().enumerate() {
                if !relevant.contains(&i) && f.calls.iter().any(|call| names.contains(call)) {
                    relevant.insert(i);
                    names.insert(f.name.clone());
                }
            }
            let holding: Vec<usize> = relevant.iter().copied().collect();
            for i in holding {
                let mut passes = Passes {
                    names: &names,
                    vars: HashSet::new(),
                    callees: Vec::new(),
                };
                passes.visit_block(self.fns[i].block);
                for path in passes.callees {
                    relevant.extend(self.callees(path));
                }
            }
            if relevant.len() == before {
                break;
            }
        }
        self.relevant = Some(relevant);
        self.relevant_names = names;
    }

    /// The package functions a call path can name: `name(..)` a free
    /// function, `Type::name(..)` (or `Self::name`) one in an impl.
    fn callees(&self, path: &syn::Path) -> Vec<usize> {
        let segments: Vec<&syn::PathSegment> = path.segments.iter().collect();
        let Some(last) = segments.last() else {
            return Vec::new();
        };
        let name = last.ident.unraw().to_string();
        let owner = segments
            .len()
            .checked_sub(2)
            .map(|i| segments[i].ident.unraw().to_string())
            .filter(|owner| owner.starts_with(char::is_uppercase));
        (0..self.fns.len())
            .filter(|&i| {
                let f = &self.fns[i];
                f.name == name
                    && match owner.as_deref() {
                        Some("Self") => f.owner.is_some(),
                        Some(owner) => f.owner.as_deref() == Some(owner),
                        None => f.owner.is_none(),
                    }
            })
            .collect()
    }

    /// Evidence of auth in some syntax (and, `depth` permitting, in the
    /// package functions it calls), described: "answers 401", ...
    fn evidence_of(&self, walk: impl FnOnce(&mut Evidence<'_>), depth: usize) -> Option<String> {
        let mut evidence = Evidence {
            auth_types: &self.auth_types,
            answers_401: false,
            reads_header: false,
            bearer: false,
            typed_header: false,
            extractor: None,
            calls: Vec::new(),
        };
        walk(&mut evidence);
        if let Some(found) = evidence.describe() {
            return Some(found);
        }
        if depth > 0 {
            return None;
        }
        evidence.calls.iter().find_map(|call| {
            self.fns.iter().filter(|f| f.name == *call).find_map(|f| {
                let found = self.fn_evidence(f, depth + 1)?;
                Some(format!(
                    "calls `{}` (`{}`), which {found}",
                    f.name,
                    self.files[f.file].location(&f.sig.ident)
                ))
            })
        })
    }

    fn fn_evidence(&self, f: &FnInfo<'ast>, depth: usize) -> Option<String> {
        self.evidence_of(
            |e| {
                for input in &f.sig.inputs {
                    e.visit_fn_arg(input);
                }
                e.visit_block(f.block);
            },
            depth,
        )
    }

    /// Auth layers over the MCP endpoint, in the functions that hold it.
    fn layers(&self, findings: &mut Vec<Finding>) {
        for (i, f) in self.fns.iter().enumerate() {
            if self.relevant.as_ref().is_some_and(|set| !set.contains(&i)) {
                continue;
            }
            let mut layers = Layers {
                index: self,
                file: self.files[f.file],
                covering: true,
                helper: false,
                bindings: HashMap::new(),
                visited: HashSet::from([i]),
                findings: &mut *findings,
            };
            layers.visit_block(f.block);
        }
    }

    /// Reads of the `Authorization` header of MCP requests: in an MCP
    /// handler, or in a function that takes the request from rmcp's
    /// context (`RequestContext`, `Parts`).
    fn request_reads(&self, findings: &mut Vec<Finding>) {
        struct Reads<'s>(&'s SourceFile, Vec<String>);
        impl<'ast> Visit<'ast> for Reads<'_> {
            fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
                if matches!(
                    call.method.to_string().as_str(),
                    "get" | "get_all" | "contains_key"
                ) && call.args.first().is_some_and(names_authorization)
                {
                    self.1.push(self.0.location(call));
                }
                visit::visit_expr_method_call(self, call);
            }
        }
        for f in &self.fns {
            let mut names = PathNames::default();
            names.visit_signature(f.sig);
            names.visit_block(f.block);
            let from_context = names
                .0
                .iter()
                .any(|name| name == "RequestContext" || name == "Parts");
            if f.in_check_trait || !(f.in_handler || from_context) {
                continue;
            }
            let mut reads = Reads(self.files[f.file], Vec::new());
            reads.visit_block(f.block);
            for at in reads.1 {
                findings.push(Finding {
                    at,
                    what: format!(
                        "reads the `Authorization` header of MCP requests (`fn {}`), a check of its own",
                        f.name
                    ),
                });
            }
        }
    }

    /// Whether an expression holds the MCP endpoint: mounts a service,
    /// names `StreamableHttpService`, or calls a function that holds it.
    fn holds_mcp(&self, expr: &syn::Expr) -> bool {
        holds_mcp(expr, &self.relevant_names)
    }

    /// Whether the receiver of `.layer(..)` is a `Router::new()` chain
    /// that does not (yet) hold the MCP endpoint: the layer then covers
    /// other routes only.
    fn fresh_router_without_mcp(&self, receiver: &syn::Expr) -> bool {
        let mut expr = receiver;
        loop {
            match expr {
                syn::Expr::MethodCall(call) => expr = &call.receiver,
                syn::Expr::Paren(inner) => expr = &inner.expr,
                syn::Expr::Call(call) => {
                    let fresh = matches!(&*call.func, syn::Expr::Path(path)
                        if path.path.segments.iter().any(|s| s.ident == "Router")
                            && path.path.segments.last().is_some_and(|s| s.ident == "new" || s.ident == "default"));
                    return fresh && !self.holds_mcp(receiver);
                }
                _ => return false,
            }
        }
    }
}

/// Whether an expression holds the MCP endpoint: mounts a service, names
/// `StreamableHttpService`, or calls one of the functions `names` that
/// hold it.
fn holds_mcp(expr: &syn::Expr, names: &HashSet<String>) -> bool {
    struct Holds<'s>(&'s HashSet<String>, bool);
    impl<'ast> Visit<'ast> for Holds<'_> {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            let method = call.method.unraw().to_string();
            self.1 |=
                method == "nest_service" || method == "route_service" || self.0.contains(&method);
            visit::visit_expr_method_call(self, call);
        }
        fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
            if let syn::Expr::Path(path) = &*call.func
                && let Some(last) = path.path.segments.last()
            {
                self.1 |= self.0.contains(&last.ident.unraw().to_string());
            }
            visit::visit_expr_call(self, call);
        }
        fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
            self.1 |= segment.ident == "StreamableHttpService";
            visit::visit_path_segment(self, segment);
        }
    }
    let mut holds = Holds(names, false);
    holds.visit_expr(expr);
    holds.1
}

/// The calls of a function body that hand over the MCP endpoint: an
/// argument holds it, or names a variable bound to something that does
/// (`let app = Router::new().nest_service(..); protect(app)`).
struct Passes<'n, 'ast> {
    names: &'n HashSet<String>,
    vars: HashSet<String>,
    callees: Vec<&'ast syn::Path>,
}

impl Passes<'_, '_> {
    fn holds(&self, expr: &syn::Expr) -> bool {
        let mut names = PathNames::default();
        names.visit_expr(expr);
        holds_mcp(expr, self.names) || names.0.iter().any(|name| self.vars.contains(name))
    }
}

impl<'ast> Visit<'ast> for Passes<'_, 'ast> {
    fn visit_local(&mut self, local: &'ast syn::Local) {
        visit::visit_local(self, local);
        if let (syn::Pat::Ident(name), Some(init)) = (&local.pat, &local.init)
            && self.holds(&init.expr)
        {
            self.vars.insert(name.ident.unraw().to_string());
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(func) = &*call.func
            && call.args.iter().any(|arg| self.holds(arg))
        {
            self.callees.push(&func.path);
        }
        visit::visit_expr_call(self, call);
    }
}

/// The last identifier of a type path (`Arc<Checked<S>>` gives `Arc`).
fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(path) => Some(path.path.segments.last()?.ident.unraw().to_string()),
        _ => None,
    }
}

/// Whether an expression names the `Authorization` header:
/// `AUTHORIZATION` (any path ending so) or the string `"authorization"`.
fn names_authorization(expr: &syn::Expr) -> bool {
    match expr {
        syn::Expr::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "AUTHORIZATION"),
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => s.value().eq_ignore_ascii_case("authorization"),
        syn::Expr::Reference(inner) => names_authorization(&inner.expr),
        _ => false,
    }
}

/// First pass: functions, handler impls, impls of [`CHECK_TRAITS`] and
/// `use` items, outside test code.
#[derive(Default)]
struct Collect<'ast> {
    file: usize,
    source: Option<&'ast SourceFile>,
    fns: Vec<FnInfo<'ast>>,
    trait_impls: Vec<(usize, &'ast syn::ItemImpl)>,
    uses: Vec<(usize, &'ast syn::ItemUse)>,
    /// The impl block being walked: its type, whether it is an MCP handler,
    /// whether it implements one of [`CHECK_TRAITS`].
    in_impl: Option<(Option<String>, bool, bool)>,
}

impl<'ast> Collect<'ast> {
    fn add_fn(
        &mut self,
        node: &impl syn::spanned::Spanned,
        sig: &'ast syn::Signature,
        block: &'ast syn::Block,
    ) {
        let Some(file) = self.source else {
            return;
        };
        let (start, end) = span_bounds(node);
        let range = file.lines.offset(&file.text, start)..file.lines.offset(&file.text, end);
        let mut calls = Calls::default();
        calls.visit_block(block);
        let (owner, in_handler, in_check_trait) = self.in_impl.clone().unwrap_or_default();
        self.fns.push(FnInfo {
            file: self.file,
            name: sig.ident.unraw().to_string(),
            range,
            sig,
            block,
            calls: calls.0,
            owner,
            in_handler,
            in_check_trait,
        });
    }
}

impl<'ast> Visit<'ast> for Collect<'ast> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.uses.push((self.file, item));
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_only(&item.attrs) {
            visit::visit_item_mod(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !is_test_only(&item.attrs) {
            self.add_fn(item, &item.sig, &item.block);
            visit::visit_impl_item_fn(self, item);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        if is_test_only(&item.attrs) {
            return;
        }
        let trait_name = item
            .trait_
            .as_ref()
            .and_then(|(_, path, _)| path.segments.last())
            .map(|last| last.ident.to_string());
        let tool_attr = item.attrs.iter().any(|attr| {
            attr.path()
                .segments
                .last()
                .is_some_and(|last| last.ident == "tool_router" || last.ident == "tool_handler")
        });
        let handler = tool_attr || trait_name.as_deref() == Some("ServerHandler");
        let check = trait_name.is_some_and(|name| CHECK_TRAITS.contains(&name.as_str()));
        if check {
            self.trait_impls.push((self.file, item));
        }
        let outer = self
            .in_impl
            .replace((type_name(&item.self_ty), handler, check));
        visit::visit_item_impl(self, item);
        self.in_impl = outer;
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        // A function nested in an impl method belongs to no impl.
        let outer = self.in_impl.take();
        if !is_test_only(&item.attrs) {
            self.add_fn(item, &item.sig, &item.block);
            visit::visit_item_fn(self, item);
        }
        self.in_impl = outer;
    }
}

/// Names of the functions and methods a block calls.
#[derive(Default)]
struct Calls(HashSet<String>);

impl<'ast> Visit<'ast> for Calls {
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(path) = &*call.func
            && let Some(last) = path.path.segments.last()
        {
            self.0.insert(last.ident.unraw().to_string());
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.0.insert(call.method.unraw().to_string());
        visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
        // A function passed by name (`from_fn(check)`, `.map(build)`).
        if let Some(ident) = path.path.get_ident() {
            self.0.insert(ident.unraw().to_string());
        }
        visit::visit_expr_path(self, path);
    }
}

/// Signs of auth in a function body, impl or closure.
struct Evidence<'a> {
    auth_types: &'a HashMap<String, AuthType>,
    answers_401: bool,
    reads_header: bool,
    bearer: bool,
    typed_header: bool,
    extractor: Option<String>,
    calls: Vec<String>,
}

impl Evidence<'_> {
    fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.reads_header {
            parts.push("reads the `Authorization` header".to_string());
        }
        if self.typed_header {
            parts.push(
                "takes the `Authorization` header (`TypedHeader<Authorization<..>>`)".to_string(),
            );
        }
        if self.bearer {
            parts.push("checks a `Bearer` token".to_string());
        }
        if let Some(ty) = &self.extractor {
            parts.push(format!("uses `{ty}`, which checks requests"));
        }
        if self.answers_401 {
            parts.push("answers 401".to_string());
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

impl<'ast> Visit<'ast> for Evidence<'_> {
    fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
        let ident = segment.ident.unraw().to_string();
        match ident.as_str() {
            "UNAUTHORIZED" => self.answers_401 = true,
            "AUTHORIZATION" | "PROXY_AUTHORIZATION" => self.reads_header = true,
            "Authorization" | "Bearer" => self.typed_header = true,
            _ if self.auth_types.contains_key(&ident) && self.extractor.is_none() => {
                self.extractor = Some(ident);
            }
            _ => {}
        }
        visit::visit_path_segment(self, segment);
    }

    fn visit_lit(&mut self, lit: &'ast syn::Lit) {
        match lit {
            syn::Lit::Str(s) => {
                let value = s.value();
                self.reads_header |= value.eq_ignore_ascii_case("authorization");
                self.bearer |= value
                    .get(..7)
                    .is_some_and(|start| start.eq_ignore_ascii_case("bearer "));
            }
            syn::Lit::Int(int) => self.answers_401 |= int.base10_digits() == "401",
            _ => {}
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(path) = &*call.func
            && let Some(last) = path.path.segments.last()
        {
            self.calls.push(last.ident.unraw().to_string());
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.calls.push(call.method.unraw().to_string());
        visit::visit_expr_method_call(self, call);
    }
}

/// Middleware constructors taking a function (the last argument).
const FROM_FN: &[&str] = &[
    "from_fn",
    "from_fn_with_state",
    "map_request",
    "map_request_with_state",
];

/// Second pass over a function holding the endpoint: auth layers that
/// cover it.
struct Layers<'i, 'f, 'ast, 'out> {
    index: &'i Index<'f, 'ast>,
    file: &'ast SourceFile,
    /// Whether code here applies to the router holding the endpoint.
    covering: bool,
    /// Walking a helper the endpoint's function calls (`auth_layer()`):
    /// what it builds may become a layer over the endpoint, but a layer it
    /// puts on a router of its own covers that router only.
    helper: bool,
    /// `let` and `if let` bindings of the function being walked, to follow
    /// `.layer(name)` back to what `name` is.
    bindings: HashMap<String, &'ast syn::Expr>,
    /// Functions already walked (the helper of a helper is walked once).
    visited: HashSet<usize>,
    findings: &'out mut Vec<Finding>,
}

impl<'ast> Layers<'_, '_, 'ast, '_> {
    fn with(&mut self, covering: bool, walk: impl FnOnce(&mut Self)) {
        let outer = self.covering;
        self.covering = covering;
        walk(self);
        self.covering = outer;
    }

    fn push(&mut self, node: &impl syn::spanned::Spanned, what: String) {
        self.findings.push(Finding {
            at: self.file.location(node),
            what,
        });
    }

    /// Walks the package functions a call can name, as helpers.
    fn walk_helpers(&mut self, path: &syn::Path) {
        let index = self.index;
        for i in index.callees(path) {
            if index.relevant.as_ref().is_none_or(|set| set.contains(&i)) || !self.visited.insert(i)
            {
                continue;
            }
            let f = &index.fns[i];
            let file = std::mem::replace(&mut self.file, index.files[f.file]);
            let bindings = std::mem::take(&mut self.bindings);
            let helper = std::mem::replace(&mut self.helper, true);
            self.with(true, |this| this.visit_block(f.block));
            (self.file, self.bindings, self.helper) = (file, bindings, helper);
        }
    }

    /// A layer named like auth (`AuthLayer::new(..)`, a crate's
    /// `RequireAuth`), directly or through the variable it is bound to, or
    /// returned by a package function (`let auth = build_auth_layer(..)`).
    fn auth_named_in(&mut self, args: &'ast Punctuated<syn::Expr, syn::Token![,]>) {
        for arg in args {
            let mut expr = arg;
            for _ in 0..4 {
                match expr {
                    syn::Expr::Path(path) if path.path.get_ident().is_some() => {
                        let name = path.path.segments[0].ident.unraw().to_string();
                        match self.bindings.get(&name) {
                            Some(bound) => expr = bound,
                            None => break,
                        }
                    }
                    syn::Expr::Try(inner) => expr = &inner.expr,
                    syn::Expr::MethodCall(call) => expr = &call.receiver,
                    syn::Expr::Paren(inner) => expr = &inner.expr,
                    _ => break,
                }
            }
            let mut names = PathNames::default();
            names.visit_expr(expr);
            let found = match names.0.iter().find(|name| auth_named(name)) {
                Some(name) => Some(format!("a layer `{name}` over the MCP endpoint (auth, by its name)")),
                None => match expr {
                    syn::Expr::Call(call) => match &*call.func {
                        syn::Expr::Path(func) => self.index.callees(&func.path).into_iter().find_map(|i| {
                            let f = &self.index.fns[i];
                            let mut returns = PathNames::default();
                            returns.visit_return_type(&f.sig.output);
                            let name = returns.0.into_iter().find(|name| auth_named(name))?;
                            Some(format!(
                                "a layer `{name}` over the MCP endpoint (auth, by its name), built by `fn {}` (`{}`)",
                                f.name,
                                self.index.files[f.file].location(&f.sig.ident)
                            ))
                        }),
                        _ => None,
                    },
                    _ => None,
                },
            };
            if let Some(what) = found {
                self.push(arg, what);
            }
        }
    }

    /// A checking type of the project's own named in a layer or a mounted
    /// service: `.layer(ApiKeyLayer::new(..))`.
    fn auth_types_in(&mut self, args: &'ast Punctuated<syn::Expr, syn::Token![,]>) {
        for arg in args {
            let mut names = PathNames::default();
            names.visit_expr(arg);
            if let Some((name, auth)) = names
                .0
                .iter()
                .find_map(|name| Some((name, self.index.auth_types.get(name)?)))
            {
                let what = format!(
                    "a layer `{name}` over the MCP endpoint, where {}",
                    auth.describe(name)
                );
                self.push(arg, what);
            }
        }
    }

    /// `from_fn(check)` and the like, when `check` shows auth.
    fn middleware_call(&mut self, call: &'ast syn::ExprCall) {
        let syn::Expr::Path(func) = &*call.func else {
            return;
        };
        let Some(last) = func.path.segments.last() else {
            return;
        };
        let ctor = last.ident.unraw().to_string();
        let index = self.index;
        if FROM_FN.contains(&ctor.as_str()) {
            let Some(arg) = call.args.last() else {
                return;
            };
            let found = match arg {
                syn::Expr::Path(path) => {
                    let Some(name) = path
                        .path
                        .segments
                        .last()
                        .map(|s| s.ident.unraw().to_string())
                    else {
                        return;
                    };
                    index
                        .fns
                        .iter()
                        .filter(|f| f.name == name)
                        .find_map(|f| {
                            let evidence = index.fn_evidence(f, 0)?;
                            let at = index.files[f.file].location(&f.sig.ident);
                            Some(format!("`{ctor}({name})` layer over the MCP endpoint, where `{name}` (`{at}`) {evidence}"))
                        })
                }
                syn::Expr::Closure(closure) => index
                    .evidence_of(|e| e.visit_expr_closure(closure), 0)
                    .map(|evidence| {
                        format!("`{ctor}(..)` layer over the MCP endpoint whose closure {evidence}")
                    }),
                _ => None,
            };
            if let Some(what) = found {
                self.push(call, format!("a {what}"));
            }
        } else if ctor == "from_extractor" || ctor == "from_extractor_with_state" {
            let syn::PathArguments::AngleBracketed(generics) = &last.arguments else {
                return;
            };
            let Some(ty) = generics.args.iter().find_map(|arg| match arg {
                syn::GenericArgument::Type(ty) => type_name(ty),
                _ => None,
            }) else {
                return;
            };
            if let Some(auth) = index.auth_types.get(&ty) {
                let what = format!(
                    "a `{ctor}::<{ty}>` layer over the MCP endpoint, where {}",
                    auth.describe(&ty)
                );
                self.push(call, what);
            }
        }
    }
}

/// Whether a type name says auth: `AuthLayer`, `RequireAuthorization`,
/// `OAuth2Layer` (not `AuthorName`).
fn auth_named(name: &str) -> bool {
    name.starts_with(char::is_uppercase)
        && name.contains("Auth")
        && (!name.contains("Author") || name.contains("Authoriz"))
}

/// Whether a receiver is a router of its own: a `Router::..` chain or a
/// variable (in a helper, one it built).
fn own_router(receiver: &syn::Expr) -> bool {
    let mut expr = receiver;
    loop {
        match expr {
            syn::Expr::MethodCall(call) => expr = &call.receiver,
            syn::Expr::Paren(inner) => expr = &inner.expr,
            syn::Expr::Path(path) => return path.path.get_ident().is_some(),
            syn::Expr::Call(call) => {
                return matches!(&*call.func, syn::Expr::Path(path)
                    if path.path.segments.iter().any(|s| s.ident == "Router"));
            }
            _ => return false,
        }
    }
}

impl<'ast> Visit<'ast> for Layers<'_, '_, 'ast, '_> {
    fn visit_local(&mut self, local: &'ast syn::Local) {
        visit::visit_local(self, local);
        if let (syn::Pat::Ident(name), Some(init)) = (&local.pat, &local.init) {
            self.bindings
                .insert(name.ident.unraw().to_string(), &init.expr);
        }
    }

    fn visit_expr_let(&mut self, expr: &'ast syn::ExprLet) {
        visit::visit_expr_let(self, expr);
        let mut names = PatNames::default();
        names.visit_pat(&expr.pat);
        for name in names.0 {
            self.bindings.insert(name, &expr.expr);
        }
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let method = call.method.unraw().to_string();
        let covering = self.covering;
        match method.as_str() {
            "route" => {
                self.visit_expr(&call.receiver);
                let mcp_route = matches!(call.args.first(), Some(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }))
                    if self.index.mcp_path.as_deref() == Some(s.value().as_str()));
                self.with(covering && mcp_route, |this| {
                    for arg in &call.args {
                        this.visit_expr(arg);
                    }
                });
            }
            "nest" | "merge" => {
                self.visit_expr(&call.receiver);
                for arg in &call.args {
                    let holds = self.index.holds_mcp(arg);
                    self.with(covering && holds, |this| this.visit_expr(arg));
                }
            }
            "layer" | "route_layer" => {
                self.visit_expr(&call.receiver);
                let covers = covering
                    && !self.index.fresh_router_without_mcp(&call.receiver)
                    && !(self.helper && own_router(&call.receiver));
                self.with(covers, |this| {
                    for arg in &call.args {
                        this.visit_expr(arg);
                    }
                });
                if covers {
                    self.auth_types_in(&call.args);
                    self.auth_named_in(&call.args);
                }
            }
            "nest_service" | "route_service" => {
                // A service of the project's own wrapping the endpoint.
                if covering {
                    self.auth_types_in(&call.args);
                }
                visit::visit_expr_method_call(self, call);
            }
            _ => visit::visit_expr_method_call(self, call),
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if self.covering {
            self.middleware_call(call);
            // A layer built by a helper: `.layer(auth_layer())`, or
            // `let auth = auth_layer(); .. .layer(auth)`.
            if let syn::Expr::Path(func) = &*call.func {
                self.walk_helpers(&func.path);
            }
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if self.covering {
            let idents: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            let tower_http = idents
                .windows(2)
                .find(|w| {
                    w[0] == "ValidateRequestHeaderLayer" && (w[1] == "bearer" || w[1] == "basic")
                })
                .map(|w| format!("`{}::{}`", w[0], w[1]))
                .or_else(|| {
                    idents
                        .iter()
                        .find(|i| {
                            *i == "RequireAuthorizationLayer"
                                || *i == "AsyncRequireAuthorizationLayer"
                        })
                        .map(|i| format!("`{i}`"))
                });
            if let Some(layer) = tower_http {
                self.push(
                    path,
                    format!("a tower-http {layer} layer over the MCP endpoint"),
                );
            }
        }
        visit::visit_path(self, path);
    }

    fn visit_item_fn(&mut self, _: &'ast syn::ItemFn) {
        // Nested functions are walked on their own when they hold the
        // endpoint.
    }
}

/// The names a pattern binds.
#[derive(Default)]
struct PatNames(Vec<String>);

impl<'ast> Visit<'ast> for PatNames {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.0.push(pat.ident.unraw().to_string());
        visit::visit_pat_ident(self, pat);
    }
}

/// Every identifier in the paths of an expression.
#[derive(Default)]
struct PathNames(Vec<String>);

impl<'ast> Visit<'ast> for PathNames {
    fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
        self.0.push(segment.ident.unraw().to_string());
        visit::visit_path_segment(self, segment);
    }
}

/// `const NAME: &str = "..";` items of a file (any depth).
fn string_consts(ast: &syn::File) -> HashMap<String, String> {
    struct Consts(HashMap<String, String>);
    impl<'ast> Visit<'ast> for Consts {
        fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &*item.expr
            {
                self.0.insert(item.ident.unraw().to_string(), s.value());
            }
        }
    }
    let mut consts = Consts(HashMap::new());
    consts.visit_file(ast);
    consts.0
}

/// Routes of the project's own under `/.well-known/oauth-`, in one
/// function body.
struct WellKnown<'a> {
    file: &'a SourceFile,
    consts: &'a HashMap<String, String>,
    findings: &'a mut Vec<Finding>,
}

impl<'ast> Visit<'ast> for WellKnown<'_> {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let routing = matches!(
            call.method.to_string().as_str(),
            "route" | "route_service" | "nest" | "nest_service"
        );
        let path = match call.args.first() {
            Some(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            })) => Some(s.value()),
            Some(syn::Expr::Path(p)) => p
                .path
                .get_ident()
                .and_then(|ident| self.consts.get(&ident.unraw().to_string()).cloned()),
            _ => None,
        };
        if routing
            && let Some(path) = path
            && path.contains("/.well-known/oauth-")
        {
            self.findings.push(Finding {
                at: self.file.location(&call.args[0]),
                what: format!(
                    "serves `{path}` itself (add-auth serves its own OAuth metadata there, and two answers cannot share a route)"
                ),
            });
        }
        visit::visit_expr_method_call(self, call);
    }
}

mod jwt;

#[cfg(test)]
mod tests;
