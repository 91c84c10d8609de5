//! Workspace: picks the package to work on when `--path` is a workspace root (by `--package`, or the one member that serves MCP over HTTP); it reads manifests and sources, never writes.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use toml_edit::Item;

use super::manifest::{self, Member};
use super::{mount, sources};

/// The directory of the package to inspect.
///
/// `path` (a directory or a `Cargo.toml`) that is not a workspace root is
/// returned as it is. At a workspace root, `--package NAME` picks the root
/// package or the member of that name. Without it, a root that is itself a
/// package is that package; a virtual root picks the one member that serves
/// MCP over HTTP, and refuses (listing them) when there are several or none.
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
    match package {
        Some(wanted) if root_name == Some(wanted) => Ok(dir.to_path_buf()),
        Some(wanted) => match members
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
        },
        None if root_name.is_some() => Ok(dir.to_path_buf()),
        None => {
            let servers: Vec<&Member> = members
                .iter()
                .filter(|member| member.uses_rmcp && serves_http(&dir.join(&member.dir)))
                .collect();
            match servers.as_slice() {
                [one] => Ok(dir.join(&one.dir)),
                [] => Err(manifest::virtual_root_error(dir, &doc)),
                several => {
                    let first = several[0].name.as_deref().unwrap_or("NAME");
                    bail!(
                        "`{}` is a workspace with {} members that serve MCP over HTTP: {}; add-auth protects one at a time\n\
                         help: pass --package NAME to choose one, e.g. --package {first}",
                        dir.display(),
                        several.len(),
                        several
                            .iter()
                            .map(|member| describe(member))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            }
        }
    }
}

/// `` `name` (dir) `` for messages.
fn describe(member: &Member) -> String {
    match &member.name {
        Some(name) => format!("`{name}` ({})", member.dir),
        None => format!("`{}`", member.dir),
    }
}

/// Whether the package in `dir` mounts a `StreamableHttpService` that
/// add-auth can find.
fn serves_http(dir: &Path) -> bool {
    sources::load(dir)
        .ok()
        .is_some_and(|files| mount::find_mount("member", &files, super::DEFAULT_MODULE).is_ok())
}
