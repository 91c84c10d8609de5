//! Renders the generated auth module from the templates in `templates/auth/`.
//!
//! The templates are real Rust with a few placeholders; they are embedded in
//! the binary so the tool works from anywhere. Values that become Rust
//! literals are formatted here, the way `rustfmt` would lay them out, so the
//! generated files pass `cargo fmt --check` as written.

use std::collections::BTreeMap;

use anyhow::Context;
use handlebars::Handlebars;
use serde_json::json;

use crate::resolve::Resolved;

/// The module's files: (file name inside `auth/`, template).
const TEMPLATES: &[(&str, &str)] = &[
    ("mod.rs", include_str!("../../templates/auth/mod.rs.hbs")),
    ("audit.rs", include_str!("../../templates/auth/audit.rs.hbs")),
    ("caller.rs", include_str!("../../templates/auth/caller.rs.hbs")),
    ("challenge.rs", include_str!("../../templates/auth/challenge.rs.hbs")),
    ("config.rs", include_str!("../../templates/auth/config.rs.hbs")),
    ("jwks.rs", include_str!("../../templates/auth/jwks.rs.hbs")),
    ("metadata.rs", include_str!("../../templates/auth/metadata.rs.hbs")),
    ("middleware.rs", include_str!("../../templates/auth/middleware.rs.hbs")),
    ("policy.rs", include_str!("../../templates/auth/policy.rs.hbs")),
    ("provider.rs", include_str!("../../templates/auth/provider.rs.hbs")),
    ("verify.rs", include_str!("../../templates/auth/verify.rs.hbs")),
];

/// rustfmt's default line width.
const MAX_WIDTH: usize = 100;

/// The rendered module: file name inside `auth/` -> contents.
pub fn auth_module(resolved: &Resolved, mcp_path: &str) -> anyhow::Result<BTreeMap<&'static str, String>> {
    let mut handlebars = Handlebars::new();
    handlebars.set_strict_mode(true);
    // The output is Rust, not HTML; every inserted value was validated.
    handlebars.register_escape_fn(handlebars::no_escape);

    let scopes: Vec<String> = resolved.scopes.iter().map(|scope| rust_str(scope)).collect();
    let data = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "provider": resolved.provider,
        "mcp_path": rust_str(mcp_path),
        "scopes_supported": rust_const("SCOPES_SUPPORTED", "&[&str]", &scopes),
        "tool_scopes": rust_const("TOOL_SCOPES", "&[(&str, &[&str])]", &tool_scope_items(resolved)),
    });

    TEMPLATES
        .iter()
        .map(|(name, template)| {
            let rendered = handlebars
                .render_template(template, &data)
                .with_context(|| format!("cannot render template `templates/auth/{name}.hbs`"))?;
            Ok((*name, rendered))
        })
        .collect()
}

fn tool_scope_items(resolved: &Resolved) -> Vec<String> {
    resolved
        .tool_scopes
        .iter()
        .map(|(tool, scopes)| {
            let scopes: Vec<String> = scopes.iter().map(|scope| rust_str(scope)).collect();
            format!("({}, &[{}])", rust_str(tool), scopes.join(", "))
        })
        .collect()
}

/// A Rust string literal.
fn rust_str(value: &str) -> String {
    format!("{value:?}")
}

/// `pub const NAME: TYPE = &[items];` on one line when it fits, otherwise
/// one item per line, as rustfmt lays out arrays.
fn rust_const(name: &str, ty: &str, items: &[String]) -> String {
    let one_line = format!("pub const {name}: {ty} = &[{}];", items.join(", "));
    if one_line.len() <= MAX_WIDTH || items.is_empty() {
        return one_line;
    }
    let body: String = items.iter().map(|item| format!("    {item},\n")).collect();
    format!("pub const {name}: {ty} = &[\n{body}];")
}
