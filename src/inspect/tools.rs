//! Tools: lists the MCP tools declared with rmcp's `#[tool]` attribute, with their names and annotations; it reads parsed sources only and never fails on attribute arguments it does not understand.

use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Meta, Token};

use super::Tool;
use super::sources::{SourceFile, is_test_only};

/// Every method marked `#[tool(..)]` (or `#[rmcp::tool(..)]`, or
/// `#[cfg_attr(.., tool(..))]`) in an `impl` block of any file, sorted by
/// name. Duplicate names are kept.
///
/// rmcp 3 accepts tool methods in impls with `#[tool_router]` as well as in
/// plain impls combined by hand, so every impl is searched.
pub(crate) fn find_tools(files: &[SourceFile]) -> Vec<Tool> {
    let mut tools = Vec::new();
    for file in files {
        let mut finder = Finder {
            file,
            tools: &mut tools,
        };
        finder.visit_file(&file.ast);
    }
    tools.sort_by(|a, b| (&a.name, &a.file, &a.fn_name).cmp(&(&b.name, &b.file, &b.fn_name)));
    tools
}

/// Where a `ServerHandler` impl writes `call_tool` by hand (`file:line`),
/// when one does: its tools are not declared with `#[tool]`, so no list of
/// them exists before the server runs.
pub(crate) fn hand_written_tools(files: &[SourceFile]) -> Option<String> {
    struct Finder<'a> {
        file: &'a SourceFile,
        found: Option<String>,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
            if !is_test_only(&item.attrs) {
                visit::visit_item_mod(self, item);
            }
        }
        fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
            let handler = item.trait_.as_ref().is_some_and(|(_, path, _)| {
                path.segments
                    .last()
                    .is_some_and(|last| last.ident == "ServerHandler")
            });
            if handler && self.found.is_none() {
                self.found = item.items.iter().find_map(|impl_item| match impl_item {
                    syn::ImplItem::Fn(method) if method.sig.ident == "call_tool" => {
                        Some(self.file.location(&method.sig.ident))
                    }
                    _ => None,
                });
            }
            visit::visit_item_impl(self, item);
        }
    }
    files.iter().find_map(|file| {
        let mut finder = Finder { file, found: None };
        finder.visit_file(&file.ast);
        finder.found
    })
}

struct Finder<'a> {
    file: &'a SourceFile,
    tools: &'a mut Vec<Tool>,
}

/// Test code (`#[cfg(test)]` modules) is skipped.
impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_only(&item.attrs) {
            visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        for impl_item in &item.items {
            if let syn::ImplItem::Fn(method) = impl_item {
                let fn_name = method.sig.ident.unraw().to_string();
                if let Some(args) = method.attrs.iter().find_map(tool_args) {
                    self.tools
                        .push(tool_from_args(&fn_name, &args, &self.file.rel));
                }
            }
        }
        visit::visit_item_impl(self, item);
    }
}

/// The arguments of a tool attribute, or `None` for any other attribute.
///
/// `#[tool]` gives an empty list; `#[cfg_attr(pred, tool(..))]` gives the
/// inner attribute's arguments.
fn tool_args(attr: &syn::Attribute) -> Option<Vec<Meta>> {
    tool_meta_args(&attr.meta)
}

fn tool_meta_args(meta: &Meta) -> Option<Vec<Meta>> {
    let is_tool = |path: &syn::Path| {
        path.segments
            .last()
            .is_some_and(|last| last.ident == "tool")
    };
    match meta {
        Meta::Path(path) if is_tool(path) => Some(Vec::new()),
        Meta::List(list) if is_tool(&list.path) => Some(
            list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .map(|args| args.into_iter().collect())
                .unwrap_or_else(|_| lenient_args(&list.tokens)),
        ),
        Meta::List(list) if list.path.is_ident("cfg_attr") => list
            .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            .ok()?
            .iter()
            .skip(1)
            .find_map(tool_meta_args),
        _ => None,
    }
}

/// The arguments that parse as `Meta`, when the whole list does not (an
/// argument rmcp accepts but `Meta` cannot express): splits the tokens at
/// top-level commas and keeps what parses.
fn lenient_args(tokens: &proc_macro2::TokenStream) -> Vec<Meta> {
    let mut args = Vec::new();
    let mut current = proc_macro2::TokenStream::new();
    let mut flush = |current: &mut proc_macro2::TokenStream| {
        if let Ok(meta) = syn::parse2::<Meta>(std::mem::take(current)) {
            args.push(meta);
        }
    };
    for tree in tokens.clone() {
        match &tree {
            proc_macro2::TokenTree::Punct(p) if p.as_char() == ',' => flush(&mut current),
            _ => current.extend([tree]),
        }
    }
    flush(&mut current);
    args
}

fn tool_from_args(fn_name: &str, args: &[Meta], file: &std::path::Path) -> Tool {
    let mut tool = Tool {
        name: fn_name.to_string(),
        fn_name: fn_name.to_string(),
        read_only: false,
        destructive: false,
        file: file.to_path_buf(),
    };
    for arg in args {
        match arg {
            Meta::NameValue(nv) if nv.path.is_ident("name") => {
                if let Some(name) = lit_str(&nv.value) {
                    tool.name = name;
                }
            }
            Meta::List(list) if list.path.is_ident("annotations") => {
                let Ok(hints) =
                    list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                else {
                    continue;
                };
                for hint in hints {
                    if let Meta::NameValue(nv) = hint {
                        let value = lit_bool(&nv.value);
                        if nv.path.is_ident("read_only_hint") {
                            tool.read_only = value.unwrap_or(tool.read_only);
                        } else if nv.path.is_ident("destructive_hint") {
                            tool.destructive = value.unwrap_or(tool.destructive);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    tool
}

fn lit_str(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    }
}

fn lit_bool(expr: &syn::Expr) -> Option<bool> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Bool(b),
            ..
        }) => Some(b.value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn tools_of(text: &str) -> Vec<(String, String, bool, bool)> {
        let file = SourceFile::parse(PathBuf::from("src/tools.rs"), text.to_string()).unwrap();
        find_tools(&[file])
            .into_iter()
            .map(|tool| {
                assert_eq!(tool.file, PathBuf::from("src/tools.rs"));
                (tool.name, tool.fn_name, tool.read_only, tool.destructive)
            })
            .collect()
    }

    fn t(
        name: &str,
        fn_name: &str,
        read_only: bool,
        destructive: bool,
    ) -> (String, String, bool, bool) {
        (name.into(), fn_name.into(), read_only, destructive)
    }

    #[test]
    fn names_annotations_and_attribute_forms() {
        let text = r#"
#[tool_router(router = task_router, vis = "pub(crate)")]
impl Server {
    #[rmcp::tool(
        name = "tasks.create",
        annotations(destructive_hint = true))]
    async fn create(&self) -> String { String::new() }

    #[tool(description = concat!("Lists ", "tasks"), annotations(read_only_hint = true, open_world_hint = false))]
    fn r#list(&self) {}

    #[tool]
    fn ping(&self) {}

    #[cfg_attr(feature = "admin", tool(name = "acme_purge", annotations(destructive_hint = true, idempotent_hint = true)))]
    fn purge(&self) {}

    /// Not a tool.
    fn helper(&self) {}
}

mod nested {
    impl super::Other {
        #[tool(name = "ping", input_schema = schema_for!(Empty), meta = Meta(json!({"a": 1})))]
        fn ping_again(&self) {}

        #[tool(annotations(read_only_hint = false, destructive_hint = maybe()))]
        fn odd(&self) {}
    }
}

#[tool_handler(router = self.task_router)]
impl ServerHandler for Server {}
"#;
        assert_eq!(
            tools_of(text),
            vec![
                t("acme_purge", "purge", false, true),
                t("list", "list", true, false),
                t("odd", "odd", false, false),
                t("ping", "ping", false, false),
                t("ping", "ping_again", false, false),
                t("tasks.create", "create", false, true),
            ]
        );
    }

    #[test]
    fn unparsable_arguments_keep_what_parses() {
        let text = r#"
impl S {
    #[tool(name = "weird", description = "x", => odd tokens, annotations(read_only_hint = true))]
    fn w(&self) {}
}
"#;
        assert_eq!(tools_of(text), vec![t("weird", "w", true, false)]);
    }
}
