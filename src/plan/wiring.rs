//! Wires the generated `auth` module into the user's Rust source: a few
//! insertions at the byte offsets the inspector found, in memory.
//!
//! Only insertions are made; every other byte of the user's file stays as it
//! was (no reformatting, no regenerating). Offsets are checked before use, so
//! a bad [`Mount`] is an error, never a panic. Nothing here reads or writes a
//! file.

use anyhow::Result;

use crate::inspect::Mount;

/// The variable holding the `McpAuth` value in the user's function.
pub const AUTH_VAR: &str = "mcp_auth";

/// The `McpAuth` constructor the wiring calls: in start-up code the one that
/// stops the process on a missing setting, elsewhere (a router factory that
/// tests call) the one that fails closed and never exits.
pub fn constructor(startup: bool) -> &'static str {
    if startup {
        "from_env_or_exit"
    } else {
        "from_env"
    }
}

/// Wires auth into `source`, the contents of `mount.file`:
///
/// ```text
///     let mcp_auth = auth::McpAuth::from_env_or_exit();      // new line
///     let service = StreamableHttpService::new(
///         ..,
///         mcp_auth.server_config(StreamableHttpServerConfig::default()),
///     );
///     let app = Router::new()
///         .nest_service("/mcp", mcp_auth.protect(service))
///         .merge(mcp_auth.metadata_router());                 // new
/// ```
///
/// (`from_env()` instead of `from_env_or_exit()` outside start-up code,
/// see [`constructor`].) The `let` line goes at `mount.stmt_line_start` with
/// `mount.indent`, and names the module (`mount.module`) as `crate::NAME` when `mount.file` is
/// not the crate root. It needs no `?`, so it fits any function: `main`
/// returning `()`, a sync `main` around `block_on`, a router factory.
/// `.merge(..)` goes on a line of its own when the `.nest_service(..)` call
/// starts its own line of a method chain (as rustfmt lays chains out), else
/// right after the call. Inserted lines end like the file's lines (`\r\n` or
/// `\n`).
///
/// When the service is built in another function (`mount.config_arg` is
/// `None`), only the mount is wired: `protect` and the metadata routes need
/// nothing from where the service is built, and the config there is left
/// alone (the inspector notes it for the user).
///
/// A source that already calls `mcp_auth.protect(` is returned unchanged.
///
/// When `mount.file` is also the crate root, call this first and
/// [`declare_module`] on its output: `mod_insert_at` comes before every
/// offset used here, so it stays valid.
pub fn wire_router(source: &str, mount: &Mount) -> Result<String> {
    if source.contains(&format!("{AUTH_VAR}.protect(")) {
        return Ok(source.to_owned());
    }
    check_offsets(source, mount)?;

    let eol = line_ending(source);
    let module = if mount.file == mount.crate_root {
        mount.module.clone()
    } else {
        format!("crate::{}", mount.module)
    };
    let service = &mount.service_arg;
    let merge = {
        let line_start = line_start(source, mount.nest_call_end);
        let line = &source[line_start..mount.nest_call_end];
        let chain_indent = &line[..line.len() - line.trim_start().len()];
        if line.trim_start().starts_with('.') {
            format!("{eol}{chain_indent}.merge({AUTH_VAR}.metadata_router())")
        } else {
            format!(".merge({AUTH_VAR}.metadata_router())")
        }
    };
    // (offset, rank, text): at one offset, closing parentheses come first
    // (the inner one first), then `.merge`, the `let` line, and opening
    // parentheses (the outer one first).
    let mut insertions = vec![
        (service.end, 1, ")".to_owned()),
        (mount.nest_call_end, 2, merge),
        (
            mount.stmt_line_start,
            3,
            format!(
                "{}let {AUTH_VAR} = {module}::McpAuth::{}();{eol}",
                mount.indent,
                constructor(mount.startup)
            ),
        ),
        (service.start, 4, format!("{AUTH_VAR}.protect(")),
    ];
    if let Some(config_arg) = &mount.config_arg {
        insertions.push((config_arg.end, 0, ")".to_owned()));
        insertions.push((config_arg.start, 5, format!("{AUTH_VAR}.server_config(")));
    }
    insertions.sort_by_key(|(offset, rank, _)| (*offset, *rank));

    let mut out = String::with_capacity(source.len() + 200);
    let mut copied = 0;
    for (offset, _, text) in &insertions {
        out.push_str(&source[copied..*offset]);
        out.push_str(text);
        copied = *offset;
    }
    out.push_str(&source[copied..]);
    Ok(out)
}

/// Declares the generated module in `crate_root_source`, the contents of
/// `mount.crate_root`: inserts `mod auth;` (`mod NAME;` for `mount.module`)
/// at `mount.mod_insert_at`, unless the crate root already declares it
/// (with any visibility; a commented-out line does not count).
///
/// The line ends like the file's lines. At the end of a file that does not
/// end in a line break, a line break is put first. An offset past the end,
/// inside a character or inside a line (which the inspector does not
/// produce) is moved back to the start of its line rather than panicking.
#[cfg(test)]
pub fn declare_module(crate_root_source: &str, mount: &Mount) -> String {
    declare_module_under(crate_root_source, mount, None)
}

/// [`declare_module`], with `#[cfg(feature = "F")]` on a line of its own
/// before `mod auth;` when `gate` is `Some("F")`: the module is compiled
/// exactly when the HTTP code is.
pub fn declare_module_under(crate_root_source: &str, mount: &Mount, gate: Option<&str>) -> String {
    if declares_module(crate_root_source, &mount.module) {
        return crate_root_source.to_owned();
    }
    let source = crate_root_source;
    let eol = line_ending(source);
    let mut at = mount.mod_insert_at.min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    let mut text = format!("mod {};{eol}", mount.module);
    if let Some(feature) = gate {
        text.insert_str(0, &format!("#[cfg(feature = \"{feature}\")]{eol}"));
    }
    if at == source.len() && !source.is_empty() && !source.ends_with('\n') {
        text.insert_str(0, eol);
    } else {
        at = line_start(source, at);
    }
    let mut out = String::with_capacity(source.len() + text.len());
    out.push_str(&source[..at]);
    out.push_str(&text);
    out.push_str(&source[at..]);
    out
}

/// Whether the file declares a module `name` from its own file
/// (`mod name;`), read with `syn`; line by line when the file does not parse.
fn declares_module(source: &str, name: &str) -> bool {
    match syn::parse_file(source) {
        Ok(file) => file.items.iter().any(|item| {
            matches!(item, syn::Item::Mod(module) if module.ident == name && module.content.is_none())
        }),
        Err(_) => source.lines().any(|line| {
            let line = line.trim();
            let line = line
                .strip_prefix("pub")
                .map(|rest| match rest.trim_start().strip_prefix('(') {
                    Some(restricted) => restricted.split_once(')').map_or("", |(_, r)| r),
                    None => rest,
                })
                .unwrap_or(line);
            let line: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
            line == format!("mod {name};")
        }),
    }
}

/// Takes out of `source` exactly what [`wire_router`] inserted: the
/// `let mcp_auth = ..::McpAuth::from_env_or_exit();` (or `from_env()`) line, the
/// `mcp_auth.server_config(..)` and `mcp_auth.protect(..)` wrappers (their
/// argument stays, byte for byte) and `.merge(mcp_auth.metadata_router())`
/// with the line break before it. The calls are found by parsing with `syn`
/// and each must read exactly as inserted.
///
/// A source with none of them is returned unchanged. One where some are
/// missing or were edited, or that still uses `mcp_auth` once they are
/// out, is an error: the user changed the wiring and takes it out by hand.
pub fn unwire_router(source: &str, path: &str, module: &str) -> Result<String> {
    use syn::visit::Visit;

    let refuse = |what: &str| {
        anyhow::anyhow!(
            "cannot take the auth wiring out of `{path}`: {what}\n\
             help: the wiring was changed since add-auth wrote it; remove the uses of `{AUTH_VAR}` \
             from `{path}` by hand, then run `mcp-builder auth remove` again"
        )
    };
    let file =
        syn::parse_file(source).map_err(|err| refuse(&format!("it does not parse ({err})")))?;
    let lines = LineStarts::new(source);

    struct Calls<'s> {
        source: &'s str,
        lines: &'s LineStarts,
        /// (byte range of the call, byte range of its argument, method)
        wrappers: Vec<(std::ops::Range<usize>, std::ops::Range<usize>, String)>,
        /// (end of the receiver, end of the `.merge(..)` call)
        merges: Vec<std::ops::Range<usize>>,
    }
    fn is_auth_var(expr: &syn::Expr) -> bool {
        matches!(expr, syn::Expr::Path(path) if path.path.is_ident(AUTH_VAR))
    }
    impl<'ast> Visit<'ast> for Calls<'_> {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            let method = call.method.to_string();
            let range = self.lines.range(self.source, call);
            if is_auth_var(&call.receiver)
                && (method == "protect" || method == "server_config")
                && call.args.len() == 1
            {
                let arg = self.lines.range(self.source, &call.args[0]);
                self.wrappers.push((range.clone(), arg, method.clone()));
            }
            if method == "merge"
                && call.args.len() == 1
                && matches!(&call.args[0], syn::Expr::MethodCall(inner)
                    if is_auth_var(&inner.receiver) && inner.method == "metadata_router" && inner.args.is_empty())
            {
                let receiver = self.lines.range(self.source, &*call.receiver);
                self.merges.push(receiver.end..range.end);
            }
            syn::visit::visit_expr_method_call(self, call);
        }
    }
    let mut calls = Calls {
        source,
        lines: &lines,
        wrappers: Vec::new(),
        merges: Vec::new(),
    };
    calls.visit_file(&file);

    // The `let` line, found by its exact text.
    let eol = line_ending(source);
    let lets: Vec<std::ops::Range<usize>> = source
        .split_inclusive('\n')
        .scan(0, |at, line| {
            let start = *at;
            *at += line.len();
            Some((start, line))
        })
        .filter(|(_, line)| {
            let text = line
                .trim_start_matches([' ', '\t'])
                .trim_end_matches(['\r', '\n']);
            [module.to_owned(), format!("crate::{module}")]
                .iter()
                .any(|path| {
                    [true, false].iter().any(|&startup| {
                        text == format!(
                            "let {AUTH_VAR} = {path}::McpAuth::{}();",
                            constructor(startup)
                        )
                    })
                })
        })
        .map(|(start, line)| start..start + line.len())
        .collect();

    let protects = calls
        .wrappers
        .iter()
        .filter(|(_, _, m)| m == "protect")
        .count();
    if lets.is_empty() && calls.wrappers.is_empty() && calls.merges.is_empty() {
        return Ok(source.to_owned());
    }
    if lets.len() != 1 {
        return Err(refuse(&format!(
            "expected one `let {AUTH_VAR} = {module}::McpAuth::from_env_or_exit();` line, found {}",
            lets.len()
        )));
    }
    if protects != 1 || calls.merges.len() != 1 {
        return Err(refuse(&format!(
            "expected one `{AUTH_VAR}.protect(..)` and one `.merge({AUTH_VAR}.metadata_router())`, found {protects} and {}",
            calls.merges.len()
        )));
    }

    let mut cuts: Vec<std::ops::Range<usize>> = lets;
    for (call, arg, method) in &calls.wrappers {
        let opening = format!("{AUTH_VAR}.{method}(");
        // As inserted, or as rustfmt laid it out: the argument on lines of
        // its own, with a trailing comma.
        let closing = source[arg.end..call.end].trim_start();
        let closing = closing.strip_prefix(',').unwrap_or(closing).trim_start();
        if source[call.start..arg.start].trim_end() != opening || closing != ")" {
            return Err(refuse(&format!(
                "`{}` is not the call add-auth wrote",
                &source[call.clone()]
            )));
        }
        cuts.push(call.start..arg.start);
        cuts.push(arg.end..call.end);
    }
    let merge = &calls.merges[0];
    let text = &source[merge.clone()];
    let inserted = format!(".merge({AUTH_VAR}.metadata_router())");
    let spacing = &text[..text.len() - text.trim_start().len()];
    let spacing_ok = spacing.is_empty()
        || (spacing.starts_with(eol)
            && spacing[eol.len()..].chars().all(|c| c == ' ' || c == '\t'));
    if text.trim_start() != inserted || !spacing_ok {
        return Err(refuse(&format!(
            "`{}` is not the call add-auth wrote",
            text.trim()
        )));
    }
    cuts.push(merge.clone());

    cuts.sort_by_key(|cut| cut.start);
    if cuts.windows(2).any(|pair| pair[0].end > pair[1].start) {
        return Err(refuse("the inserted pieces overlap"));
    }
    let mut out = String::with_capacity(source.len());
    let mut copied = 0;
    for cut in &cuts {
        out.push_str(&source[copied..cut.start]);
        copied = cut.end;
    }
    out.push_str(&source[copied..]);
    let still_used = syn::parse_file(&out)
        .map(|_| out.contains(AUTH_VAR))
        .unwrap_or(true);
    if still_used {
        return Err(refuse(&format!(
            "`{AUTH_VAR}` is still used once add-auth's insertions are out"
        )));
    }
    Ok(out)
}

/// Takes out the `mod NAME;` line [`declare_module`] inserted. A crate root
/// without the declaration is returned unchanged; one that declares the
/// module otherwise (`pub mod`, attributes, same line as other code) is an
/// error.
pub fn undeclare_module(source: &str, path: &str, module: &str) -> Result<String> {
    let file = syn::parse_file(source).map_err(|err| {
        anyhow::anyhow!("cannot take `mod {module};` out of `{path}`: it does not parse ({err})")
    })?;
    let lines = LineStarts::new(source);
    let Some(item) = file.items.iter().find_map(|item| match item {
        syn::Item::Mod(decl) if decl.ident == module && decl.content.is_none() => Some(decl),
        _ => None,
    }) else {
        return Ok(source.to_owned());
    };
    let range = lines.range(source, item);
    let start = line_start(source, range.start);
    let end = source[range.end..]
        .find('\n')
        .map_or(source.len(), |i| range.end + i + 1);
    let declared = source[start..end].trim_end();
    let plain = format!("mod {module};");
    // `#[cfg(feature = "F")]` then `mod auth;`, as `declare_module_under` writes it.
    let gated = declared.strip_suffix(&plain).is_some_and(|head| {
        let head = head.trim_end();
        head.strip_prefix("#[cfg(feature = \"")
            .and_then(|rest| rest.strip_suffix("\")]"))
            .is_some_and(|feature| !feature.contains(['"', '\n']))
            && declared[head.len()..].trim_start() == plain
    });
    if declared != plain && !gated {
        bail_declaration(path, module, declared)?;
    }
    let mut out = String::with_capacity(source.len());
    out.push_str(&source[..start]);
    out.push_str(&source[end..]);
    Ok(out)
}

fn bail_declaration(path: &str, module: &str, line: &str) -> Result<()> {
    anyhow::bail!(
        "cannot take the module declaration out of `{path}`: `{line}` is not the `mod {module};` line add-auth wrote\n\
         help: remove it by hand, then run `mcp-builder auth remove` again"
    )
}

/// Byte offsets of `proc-macro2` span positions (1-based lines, columns in
/// `char`s).
pub(super) struct LineStarts(Vec<usize>);

impl LineStarts {
    pub(super) fn new(text: &str) -> Self {
        LineStarts(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        )
    }

    fn offset(&self, text: &str, at: proc_macro2::LineColumn) -> usize {
        let start = self.0[at.line.clamp(1, self.0.len()) - 1];
        text[start..]
            .char_indices()
            .nth(at.column)
            .map_or(text.len(), |(i, _)| start + i)
    }

    pub(super) fn range(
        &self,
        text: &str,
        node: &impl syn::spanned::Spanned,
    ) -> std::ops::Range<usize> {
        let span = node.span();
        self.offset(text, span.start())..self.offset(text, span.end())
    }
}

/// Checks that every offset of `mount` lies inside `source` on a character
/// boundary, and that the spans are in the order the insertions need.
fn check_offsets(source: &str, mount: &Mount) -> Result<()> {
    let file = mount.file.display();
    let invalid = |what: &str| {
        anyhow::anyhow!(
            "internal error: the MCP mount found in `{file}` has {what}\n\
             help: this is a bug in mcp-builder; please report it with the function that mounts \
             the MCP service"
        )
    };
    // Without a config to wrap, the service's span stands in for it.
    let config_arg = &mount
        .config_arg
        .clone()
        .unwrap_or_else(|| mount.service_arg.clone());
    let offsets = [
        ("service_arg.start", mount.service_arg.start),
        ("service_arg.end", mount.service_arg.end),
        ("config_arg.start", config_arg.start),
        ("config_arg.end", config_arg.end),
        ("nest_call_end", mount.nest_call_end),
        ("stmt_line_start", mount.stmt_line_start),
    ];
    for (name, offset) in offsets {
        if offset > source.len() {
            return Err(invalid(&format!(
                "`{name}` {offset} past the end of the file ({} bytes)",
                source.len()
            )));
        }
        if !source.is_char_boundary(offset) {
            return Err(invalid(&format!("`{name}` {offset} inside a character")));
        }
    }
    let service = &mount.service_arg;
    for (name, range) in [("service_arg", service), ("config_arg", config_arg)] {
        if range.start >= range.end {
            return Err(invalid(&format!("an empty `{name}` {range:?}")));
        }
    }
    if line_start(source, mount.stmt_line_start) != mount.stmt_line_start {
        return Err(invalid(
            "a `stmt_line_start` that is not the start of a line",
        ));
    }
    if !mount.indent.chars().all(|c| c == ' ' || c == '\t') {
        return Err(invalid(&format!(
            "an indent {:?} that is not blank",
            mount.indent
        )));
    }
    if mount.stmt_line_start > service.start.min(config_arg.start) {
        return Err(invalid(
            "a `stmt_line_start` after the service or the config it should come before",
        ));
    }
    if mount.nest_call_end < service.end {
        return Err(invalid("a `nest_call_end` before the end of `service_arg`"));
    }
    let disjoint = config_arg.end <= service.start || service.end <= config_arg.start;
    let nested = service.start <= config_arg.start && config_arg.end <= service.end;
    if !disjoint && !nested {
        return Err(invalid("`config_arg` and `service_arg` partly overlapping"));
    }
    Ok(())
}

/// The start of the line holding byte `offset` (a character boundary).
fn line_start(source: &str, offset: usize) -> usize {
    source[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// `\r\n` when the file's first line ends that way, else `\n`.
fn line_ending(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if text[..i].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::PathBuf;

    use super::*;

    pub(in crate::plan) const EXAMPLE: &str =
        include_str!("../../examples/tasks-server/src/main.rs");

    const LET_LINE: &str = "    let mcp_auth = auth::McpAuth::from_env_or_exit();\n";
    pub(in crate::plan) const MERGE: &str = "\n        .merge(mcp_auth.metadata_router())";

    /// Where the inspector would find the mount in `source`, located by hand.
    fn mount_at(source: &str, stmt: &str, service_call: &str, config: &str) -> Mount {
        let stmt_line_start = source.find(stmt).expect("statement");
        assert!(stmt_line_start == 0 || source[..stmt_line_start].ends_with('\n'));
        let call = source.find(service_call).expect("nest_service call");
        let service_start = call + service_call.find("\", ").unwrap() + 3;
        let nest_call_end = call + service_call.len();
        let config_start = source.find(config).expect("config");
        let indent = &stmt[..stmt.len() - stmt.trim_start().len()];
        Mount {
            file: PathBuf::from("src/main.rs"),
            crate_root: PathBuf::from("src/main.rs"),
            module: "auth".to_owned(),
            mod_insert_at: source.find("mod ").unwrap_or(0),
            mcp_path: "/mcp".to_owned(),
            service_arg: service_start..nest_call_end - 1,
            nest_call_end,
            config_arg: Some(config_start..config_start + config.len()),
            stmt_line_start,
            indent: indent.to_owned(),
            startup: true,
            function: None,
        }
    }

    pub(in crate::plan) fn example_mount() -> Mount {
        mount_at(
            EXAMPLE,
            "    let service = StreamableHttpService::new(",
            ".nest_service(\"/mcp\", service)",
            "StreamableHttpServerConfig::default()",
        )
    }

    #[test]
    fn wires_the_example() {
        let mount = example_mount();
        assert_eq!(&EXAMPLE[mount.service_arg.clone()], "service");
        assert_eq!(&EXAMPLE[mount.mod_insert_at..][..10], "mod tasks;");

        let wired = wire_router(EXAMPLE, &mount).unwrap();
        let declared = declare_module(&wired, &mount);
        insta::assert_snapshot!(declared);
        syn::parse_file(&declared).expect("the wired source parses");

        // Taking the insertions out again gives back the original, byte for byte.
        let restored = declared
            .replacen("mod auth;\n", "", 1)
            .replacen(LET_LINE, "", 1)
            .replacen(
                "mcp_auth.server_config(StreamableHttpServerConfig::default())",
                "StreamableHttpServerConfig::default()",
                1,
            )
            .replacen("mcp_auth.protect(service)", "service", 1)
            .replacen(MERGE, "", 1);
        assert_eq!(restored, EXAMPLE);
    }

    #[test]
    fn unwire_reverses_wire_router() {
        let mount = example_mount();
        let declared = declare_module(&wire_router(EXAMPLE, &mount).unwrap(), &mount);
        let unwired = unwire_router(&declared, "src/main.rs", "auth").unwrap();
        assert_eq!(
            undeclare_module(&unwired, "src/main.rs", "auth").unwrap(),
            EXAMPLE
        );
        // Nothing left to take out: unchanged.
        assert_eq!(
            unwire_router(EXAMPLE, "src/main.rs", "auth").unwrap(),
            EXAMPLE
        );
        assert_eq!(
            undeclare_module(EXAMPLE, "src/main.rs", "auth").unwrap(),
            EXAMPLE
        );
    }

    #[test]
    fn unwire_reverses_odd_and_split_wiring() {
        let source = "pub fn router() -> Router {\n    Router::new()\n        .route(\"/health\", get(health))\n        .nest_service(\"/mcp\", crate::service::make())\n}\n";
        let wired = "pub fn router() -> Router {\n    let mcp_auth = crate::oauth::McpAuth::from_env_or_exit();\n    Router::new()\n        .route(\"/health\", get(health))\n        .nest_service(\"/mcp\", mcp_auth.protect(crate::service::make()))\n        .merge(mcp_auth.metadata_router())\n}\n";
        assert_eq!(
            unwire_router(wired, "src/router.rs", "oauth").unwrap(),
            source
        );
        let crlf = "fn f() {\r\n\tlet mcp_auth = auth::McpAuth::from_env_or_exit();\r\n\tlet r=Router::new().nest_service( \"/mcp\" ,mcp_auth.protect(S::new(mcp_auth.server_config(cfg) /* c */)) ).merge(mcp_auth.metadata_router());\r\n}\r\n";
        assert_eq!(
            unwire_router(crlf, "src/main.rs", "auth").unwrap(),
            "fn f() {\r\n\tlet r=Router::new().nest_service( \"/mcp\" ,S::new(cfg /* c */) );\r\n}\r\n"
        );
    }

    #[test]
    fn unwire_refuses_changed_wiring() {
        let mount = example_mount();
        let wired = wire_router(EXAMPLE, &mount).unwrap();
        let cases = [
            wired.replace("mcp_auth.protect(service)", "mcp_auth .protect(service)"),
            wired.replace(LET_LINE, ""),
            wired.replace(
                MERGE,
                "\n        // metadata\n        .merge(mcp_auth.metadata_router())",
            ),
            wired.replace(
                "mcp_auth.protect(service)",
                "mcp_auth.protect(service).layer(mcp_auth.extra())",
            ),
        ];
        for case in cases {
            let err = unwire_router(&case, "src/main.rs", "auth").unwrap_err();
            assert!(
                format!("{err:#}").starts_with("cannot take the auth wiring out of `src/main.rs`"),
                "{err:#}"
            );
        }
        let err = undeclare_module("pub mod auth;\n", "src/lib.rs", "auth").unwrap_err();
        assert!(
            format!("{err:#}").contains("`pub mod auth;` is not"),
            "{err:#}"
        );
    }

    #[test]
    fn wire_router_noop() {
        let mount = example_mount();
        let wired = wire_router(EXAMPLE, &mount).unwrap();
        assert_eq!(wire_router(&wired, &mount).unwrap(), wired);
        let declared = declare_module(&wired, &mount);
        assert_eq!(declare_module(&declared, &mount), declared);
    }

    /// Comments, odd spacing, a one-line chain, the service built inline in
    /// the mount, CRLF line endings, a module other than the crate root.
    #[test]
    fn odd_source_keeps_every_other_byte() {
        let source = "use std::sync::Arc; // ok\r\n\r\n\
            pub fn router( cfg:StreamableHttpServerConfig )->Router{\r\n\
            \t/* the endpoint */ let r=Router::new().nest_service( \"/mcp\" ,StreamableHttpService::new(|| Ok(S), Arc::default(), cfg /* config */) );\r\n\
            \tr // done\r\n\
            }\r\n";
        let stmt_line_start = source.find("\t/*").unwrap();
        let service_start = source.find("StreamableHttpService::new(||").unwrap();
        let service_end = source.find(" );").unwrap();
        let config_start = source.find("cfg /*").unwrap();
        let mount = Mount {
            file: PathBuf::from("src/http.rs"),
            crate_root: PathBuf::from("src/lib.rs"),
            module: "auth".to_owned(),
            mod_insert_at: 0,
            mcp_path: "/mcp".to_owned(),
            service_arg: service_start..service_end - 1,
            nest_call_end: service_end + 2,
            config_arg: Some(config_start..config_start + 3),
            stmt_line_start,
            indent: "\t".to_owned(),
            startup: true,
            function: None,
        };
        let wired = wire_router(source, &mount).unwrap();
        assert_eq!(
            wired,
            "use std::sync::Arc; // ok\r\n\r\n\
            pub fn router( cfg:StreamableHttpServerConfig )->Router{\r\n\
            \tlet mcp_auth = crate::auth::McpAuth::from_env_or_exit();\r\n\
            \t/* the endpoint */ let r=Router::new().nest_service( \"/mcp\" ,mcp_auth.protect(StreamableHttpService::new(|| Ok(S), Arc::default(), mcp_auth.server_config(cfg) /* config */)) ).merge(mcp_auth.metadata_router());\r\n\
            \tr // done\r\n\
            }\r\n"
        );
        syn::parse_file(&wired).expect("the wired source parses");
    }

    /// The service built in another function: only the mount is wired, and
    /// the module has the name the user chose.
    #[test]
    fn service_built_elsewhere_wires_only_the_mount() {
        let source = "pub fn router() -> Router {\n    Router::new()\n        .route(\"/health\", get(health))\n        .nest_service(\"/mcp\", crate::service::make())\n}\n";
        let start = source.find("crate::service::make()").unwrap();
        let mount = Mount {
            file: PathBuf::from("src/router.rs"),
            crate_root: PathBuf::from("src/main.rs"),
            module: "oauth".to_owned(),
            mod_insert_at: 0,
            mcp_path: "/mcp".to_owned(),
            service_arg: start..start + "crate::service::make()".len(),
            nest_call_end: start + "crate::service::make()".len() + 1,
            config_arg: None,
            stmt_line_start: source.find("    Router::new()").unwrap(),
            indent: "    ".to_owned(),
            startup: true,
            function: None,
        };
        let wired = wire_router(source, &mount).unwrap();
        assert_eq!(
            wired,
            "pub fn router() -> Router {\n    let mcp_auth = crate::oauth::McpAuth::from_env_or_exit();\n    Router::new()\n        .route(\"/health\", get(health))\n        .nest_service(\"/mcp\", mcp_auth.protect(crate::service::make()))\n        .merge(mcp_auth.metadata_router())\n}\n"
        );
        syn::parse_file(&wired).expect("the wired source parses");
        assert_eq!(wire_router(&wired, &mount).unwrap(), wired);
        assert_eq!(
            declare_module("mod router;\nmod service;\n", &mount),
            "mod oauth;\nmod router;\nmod service;\n"
        );
        assert_eq!(
            declare_module("mod oauth;\nmod router;\n", &mount),
            "mod oauth;\nmod router;\n"
        );
    }

    #[test]
    fn bad_offsets_are_errors_not_panics() {
        let source = "fn main() {\n    let é = r.nest_service(\"/mcp\", s);\n}\n";
        let good = mount_at(source, "    let é", ".nest_service(\"/mcp\", s)", "s");
        wire_router(source, &good).expect("the hand-made mount is valid");
        let e_acute = source.find('é').unwrap();
        let bad = [
            Mount {
                nest_call_end: source.len() + 1,
                ..good.clone()
            },
            Mount {
                stmt_line_start: e_acute + 1,
                ..good.clone()
            },
            Mount {
                stmt_line_start: 4,
                ..good.clone()
            },
            Mount {
                service_arg: 5..5,
                ..good.clone()
            },
            Mount {
                config_arg: Some(good.service_arg.start - 1..good.service_arg.start + 1),
                ..good.clone()
            },
            Mount {
                nest_call_end: good.service_arg.start,
                ..good.clone()
            },
            Mount {
                indent: "x".to_owned(),
                startup: true,
                function: None,
                ..good.clone()
            },
            Mount {
                stmt_line_start: source.find("}\n").unwrap(),
                ..good.clone()
            },
        ];
        let errors: Vec<String> = bad
            .iter()
            .map(|mount| format!("{:#}", wire_router(source, mount).unwrap_err()))
            .map(|err| err.lines().next().unwrap().to_owned())
            .collect();
        insta::assert_snapshot!(errors.join("\n"), @r#"
        internal error: the MCP mount found in `src/main.rs` has `nest_call_end` 55 past the end of the file (54 bytes)
        internal error: the MCP mount found in `src/main.rs` has `stmt_line_start` 21 inside a character
        internal error: the MCP mount found in `src/main.rs` has a `stmt_line_start` that is not the start of a line
        internal error: the MCP mount found in `src/main.rs` has an empty `service_arg` 5..5
        internal error: the MCP mount found in `src/main.rs` has `config_arg` and `service_arg` partly overlapping
        internal error: the MCP mount found in `src/main.rs` has a `nest_call_end` before the end of `service_arg`
        internal error: the MCP mount found in `src/main.rs` has an indent "x" that is not blank
        internal error: the MCP mount found in `src/main.rs` has a `stmt_line_start` after the service or the config it should come before
        "#);
    }

    #[test]
    fn declare_module_inserts_at_the_offset() {
        let mount = example_mount();
        let source = "//! docs\n\nmod tasks;\n";
        let mount = Mount {
            mod_insert_at: source.find("mod tasks").unwrap(),
            ..mount
        };
        assert_eq!(
            declare_module(source, &mount),
            "//! docs\n\nmod auth;\nmod tasks;\n"
        );
        let crlf = "//! docs\r\nmod tasks;\r\n";
        let at_end = Mount {
            mod_insert_at: crlf.len(),
            ..mount.clone()
        };
        assert_eq!(
            declare_module(crlf, &at_end),
            "//! docs\r\nmod tasks;\r\nmod auth;\r\n"
        );
    }

    #[test]
    fn gated_module_declaration_and_its_removal() {
        let source =
            "//! Server.\n\n#[cfg(feature = \"http\")]\nmod http;\nmod tools;\n\nfn main() {}\n";
        let mount = Mount {
            mod_insert_at: source.find("#[cfg").unwrap(),
            ..example_mount()
        };
        let declared = declare_module_under(source, &mount, Some("http"));
        assert_eq!(
            declared,
            "//! Server.\n\n#[cfg(feature = \"http\")]\nmod auth;\n#[cfg(feature = \"http\")]\nmod http;\nmod tools;\n\nfn main() {}\n"
        );
        assert_eq!(
            declare_module_under(&declared, &mount, Some("http")),
            declared
        );
        assert_eq!(
            undeclare_module(&declared, "src/main.rs", "auth").unwrap(),
            source
        );
        let crlf = declare_module_under("fn main() {}\r\n", &mount, Some("web"));
        assert_eq!(
            crlf,
            "#[cfg(feature = \"web\")]\r\nmod auth;\r\nfn main() {}\r\n"
        );
        assert_eq!(
            undeclare_module(&crlf, "src/main.rs", "auth").unwrap(),
            "fn main() {}\r\n"
        );
        // Another attribute is the user's: refused, not taken out.
        let theirs = "#[cfg(test)]\nmod auth;\n";
        assert!(undeclare_module(theirs, "src/main.rs", "auth").is_err());
    }

    #[test]
    fn declare_module_at_end_without_newline() {
        let source = "fn main() {}";
        let mount = Mount {
            mod_insert_at: source.len(),
            ..example_mount()
        };
        assert_eq!(declare_module(source, &mount), "fn main() {}\nmod auth;\n");
        assert_eq!(declare_module("", &mount), "mod auth;\n");
    }

    #[test]
    fn declare_module_keeps_an_existing_declaration() {
        let mount = Mount {
            mod_insert_at: 0,
            ..example_mount()
        };
        for source in [
            "mod auth;\nfn main() {}\n",
            "#[path = \"oauth/mod.rs\"]\npub mod auth;\n",
            "pub(crate) mod auth;\n",
            // Does not parse: read line by line.
            "pub(crate)  mod auth;\nfn main( {}\n",
        ] {
            assert_eq!(declare_module(source, &mount), source, "{source:?}");
        }
        for source in ["// mod auth;\nfn main() {}\n", "mod tasks { mod auth; }\n"] {
            assert_eq!(
                declare_module(source, &mount),
                format!("mod auth;\n{source}"),
                "{source:?}"
            );
        }
    }

    #[test]
    fn declare_module_clamps_bad_offsets() {
        let source = "//! é\nmod tasks;\n";
        for at in [3, 5, 999] {
            let mount = Mount {
                mod_insert_at: at,
                ..example_mount()
            };
            let out = declare_module(source, &mount);
            assert!(out.contains("mod auth;\n"), "{at}: {out:?}");
            assert_eq!(out.replacen("mod auth;\n", "", 1), source);
        }
    }
}
