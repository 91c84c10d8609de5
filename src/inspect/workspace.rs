//! Workspace: picks the package to work on when `--path` is a workspace root (by `--package`, the root package when it serves MCP over HTTP, or a virtual root's one member that does), and otherwise refuses naming the members that serve MCP with `--package NAME`; it reads manifests and sources, never writes.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use toml_edit::Item;

use super::manifest::{self, Member};
use super::{mount, sources};

/// The directory of the package to inspect.
///
/// `path` (a directory or a `Cargo.toml`) that is not a workspace root is
/// returned as it is. At a workspace root, `--package NAME` picks the root
/// package or the member of that name. Without it:
///
/// - a root that is itself a package is that package when it serves MCP
///   over HTTP (its sources call `StreamableHttpService::new`) or when no
///   member does (its own refusal then says why); when members do and it
///   does not, it is refused, naming them with `--package NAME`: `--path`
///   at a package names that package (as cargo reads it), so add-auth does
///   not write into another one unasked;
/// - a virtual root, which names no package, is its one member that serves
///   MCP over HTTP; with several it is refused listing them, with none the
///   refusal lists the members that depend on rmcp.
pub(crate) fn choose_package(path: &Path, package: Option<&str>) -> Result<PathBuf> {
    let dir = if path.is_file() && path.file_name().is_some_and(|name| name == "Cargo.toml") {
        path.parent().unwrap_or(Path::new("."))
    } else {
        path
    };
    let manifest_path = dir.join("Cargo.toml");
    if !manifest_path.is_file() {
        // `read_package` explains.
        return Ok(dir.to_path_buf());
    }
    let doc = manifest::read_manifest(&manifest_path)?;
    if !doc.contains_key("workspace") {
        return Ok(dir.to_path_buf());
    }
    let root_name = doc
        .get("package")
        .and_then(|package| package.get("name"))
        .and_then(Item::as_str);
    let members = manifest::workspace_members(dir, &doc);
    if let Some(wanted) = package {
        if root_name == Some(wanted) {
            return Ok(dir.to_path_buf());
        }
        return match members
            .iter()
            .find(|member| member.name.as_deref() == Some(wanted))
        {
            Some(member) => Ok(dir.join(&member.dir)),
            None => {
                let names: Vec<String> = root_name
                    .into_iter()
                    .map(|name| format!("`{name}`"))
                    .chain(members.iter().map(describe))
                    .collect();
                bail!(
                    "the workspace `{}` has no package `{wanted}`; its packages: {}\n\
                     help: pass --package with one of those names",
                    dir.display(),
                    if names.is_empty() {
                        "none found".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            }
        };
    }
    if root_name.is_some() && serves_http(dir) {
        return Ok(dir.to_path_buf());
    }
    let servers: Vec<&Member> = members
        .iter()
        .filter(|member| member.uses_rmcp && serves_http(&dir.join(&member.dir)))
        .collect();
    let listed = || {
        servers
            .iter()
            .map(|member| describe(member))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let first = servers
        .first()
        .and_then(|member| member.name.as_deref())
        .unwrap_or("NAME");
    match (root_name, servers.as_slice()) {
        (Some(_), []) => Ok(dir.to_path_buf()),
        (Some(root), [one]) => bail!(
            "`{}` is the package `{root}`, which does not serve MCP over HTTP (nothing in it calls \
             `StreamableHttpService::new`); its workspace member {} does\n\
             help: pass --package {first} to protect that member",
            dir.display(),
            describe(one)
        ),
        (Some(root), several) => bail!(
            "`{}` is the package `{root}`, which does not serve MCP over HTTP (nothing in it calls \
             `StreamableHttpService::new`); {} of its workspace members do: {}; add-auth protects one at a time\n\
             help: pass --package NAME to choose one, e.g. --package {first}",
            dir.display(),
            several.len(),
            listed()
        ),
        (None, [one]) => Ok(dir.join(&one.dir)),
        (None, []) => Err(manifest::virtual_root_error(dir, &doc)),
        (None, several) => bail!(
            "`{}` is a workspace with {} members that serve MCP over HTTP: {}; add-auth protects one at a time\n\
             help: pass --package NAME to choose one, e.g. --package {first}",
            dir.display(),
            several.len(),
            listed()
        ),
    }
}

/// `` `name` (dir) `` for messages.
fn describe(member: &Member) -> String {
    match &member.name {
        Some(name) => format!("`{name}` ({})", member.dir),
        None => format!("`{}`", member.dir),
    }
}

/// Whether the package in `dir` serves MCP over HTTP: it calls
/// `StreamableHttpService::new`, or add-auth finds its mount (through a
/// renamed import, say). A package that serves it in a way add-auth
/// refuses (several mounts, raw hyper) still counts: `--package` then shows
/// that refusal, which is more use than leaving the package unnamed.
fn serves_http(dir: &Path) -> bool {
    sources::load(dir).ok().is_some_and(|files| {
        sources::builds_http_service(&files)
            || mount::find_mount("member", &files, super::DEFAULT_MODULE, true).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::tests::tree;

    fn member(name: &str) -> String {
        format!("[package]\nname = \"{name}\"\n\n[dependencies]\nrmcp = {{ workspace = true }}\n")
    }

    /// A function that builds and mounts an MCP service.
    fn serving(name: &str) -> String {
        format!(
            "fn {name}() {{ let s = StreamableHttpService::new(f, m, c); \
             let app = Router::new().nest_service(\"/mcp\", s); }}\n"
        )
    }

    #[test]
    fn members_that_serve_mcp_count_even_where_add_auth_would_refuse_them() {
        // Like an SDK's repository: examples with several servers in one
        // package, a conformance server, a client, the SDK itself.
        let twice = serving("main") + &serving("other");
        let serve = serving("main");
        let ws = tree(&[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"crates/*\", \"examples/*\", \"conformance\"]\n\
                 [workspace.dependencies]\nrmcp = \"3.11\"\n",
            ),
            ("crates/sdk/Cargo.toml", "[package]\nname = \"sdk\"\n"),
            (
                "crates/sdk/src/lib.rs",
                "pub struct StreamableHttpService;\n#[cfg(test)]\nmod tests { fn t() { StreamableHttpService::new(); } }\n",
            ),
            ("examples/clients/Cargo.toml", &member("clients")),
            (
                "examples/clients/src/main.rs",
                "fn main() { serve(stdio()); }\n",
            ),
            ("examples/servers/Cargo.toml", &member("servers")),
            ("examples/servers/src/main.rs", &twice),
            ("conformance/Cargo.toml", &member("conformance")),
            ("conformance/src/bin/server.rs", &serve),
        ]);
        let err = choose_package(ws.path(), None).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "`{}` is a workspace with 2 members that serve MCP over HTTP: `servers` (examples/servers), \
                 `conformance` (conformance); add-auth protects one at a time\n\
                 help: pass --package NAME to choose one, e.g. --package servers",
                ws.path().display()
            )
        );
        assert_eq!(
            choose_package(ws.path(), Some("conformance")).unwrap(),
            ws.path().join("conformance")
        );
    }

    #[test]
    fn a_root_package_that_serves_mcp_is_itself_and_one_that_does_not_names_its_members() {
        let serve = serving("main");
        let ws = tree(&[
            (
                "Cargo.toml",
                "[package]\nname = \"root\"\n[workspace]\nmembers = [\"a\", \"b\"]\n\
                 [workspace.dependencies]\nrmcp = \"3.11\"\n",
            ),
            ("src/main.rs", "fn main() {}\n"),
            ("a/Cargo.toml", &member("a")),
            ("a/src/main.rs", &serve),
            ("b/Cargo.toml", &member("b")),
            ("b/src/lib.rs", &serve),
        ]);
        assert_eq!(
            choose_package(ws.path(), None).unwrap_err().to_string(),
            format!(
                "`{}` is the package `root`, which does not serve MCP over HTTP (nothing in it calls \
                 `StreamableHttpService::new`); 2 of its workspace members do: `a` (a), `b` (b); add-auth \
                 protects one at a time\n\
                 help: pass --package NAME to choose one, e.g. --package a",
                ws.path().display()
            )
        );
        std::fs::write(ws.path().join("src/main.rs"), &serve).unwrap();
        assert_eq!(choose_package(ws.path(), None).unwrap(), ws.path());
        // A root whose members serve nothing either is itself: its own
        // refusal says why.
        std::fs::write(ws.path().join("src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(ws.path().join("a/src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(ws.path().join("b/src/lib.rs"), "\n").unwrap();
        assert_eq!(choose_package(ws.path(), None).unwrap(), ws.path());
    }
}
