//! Manifest: finds the package (and its workspace) from a path and reads its rmcp dependency with `toml_edit`; it never reads Rust code.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use toml_edit::{DocumentMut, Item, TableLike};

use super::RmcpDep;
use super::rmcp_version::{self, Declared};

/// The package `add-auth` works on, as its manifests describe it.
#[derive(Debug)]
pub(crate) struct Package {
    /// Canonical directory of the package's `Cargo.toml`.
    pub(crate) root: PathBuf,
    pub(crate) name: String,
    /// Canonical workspace root, when it is not `root` itself.
    pub(crate) workspace_root: Option<PathBuf>,
    pub(crate) rmcp: RmcpDep,
}

/// Reads the package at `path`: a package directory, a workspace member
/// directory, or the path of its `Cargo.toml`.
pub(crate) fn read_package(path: &Path) -> Result<Package> {
    let dir = if path.is_file() && path.file_name().is_some_and(|name| name == "Cargo.toml") {
        path.parent().unwrap_or(Path::new("."))
    } else {
        path
    };
    let manifest_path = dir.join("Cargo.toml");
    if !manifest_path.is_file() {
        // A --path that names no project: a usage error (exit 2).
        return Err(crate::resolve::UsageError(format!(
            "`{}` is not a Rust project: no Cargo.toml found\n\
             help: pass --path <dir>, the directory holding the MCP server's Cargo.toml",
            path.display()
        ))
        .into());
    }
    let root = dir
        .canonicalize()
        .with_context(|| format!("failed to resolve `{}`", dir.display()))?;
    let doc = read_manifest(&manifest_path)?;

    let Some(package) = doc.get("package").and_then(Item::as_table_like) else {
        if doc.contains_key("workspace") {
            return Err(virtual_root_error(dir, &doc));
        }
        bail!(
            "`{}` has no [package] table\n\
             help: pass --path <dir>, the directory of the MCP server's package",
            manifest_path.display()
        );
    };
    let name = package
        .get("name")
        .and_then(Item::as_str)
        .ok_or_else(|| {
            anyhow!(
                "`{}` has no package name\nhelp: add `name = \"...\"` under [package]",
                manifest_path.display()
            )
        })?
        .to_string();

    // The manifest that `workspace = true` dependencies inherit from.
    let workspace = if doc.contains_key("workspace") {
        None
    } else {
        find_workspace(&root, package)?
    };
    let workspace_doc = match &workspace {
        Some((_, ws_doc)) => Some(ws_doc),
        None if doc.contains_key("workspace") => Some(&doc),
        None => None,
    };
    let decl = find_rmcp(&name, &doc, workspace_doc)?;
    let workspace_root = workspace.as_ref().map(|(dir, _)| dir.as_path());
    // A path is relative to the manifest that says it.
    let base = match workspace_root {
        Some(ws) if decl.from_workspace => ws,
        _ => root.as_path(),
    };
    let declared = Declared {
        requirement: decl.version_req,
        path: decl.path.as_ref().map(|path| base.join(path)),
        source: decl.source,
    };
    let (version, version_from) = rmcp_version::resolve(&name, &root, workspace_root, &declared)?;
    // Whether add-auth supports this release is a blocker `inspect_with`
    // checks (`rmcp_version::check_supported`), named with any others.
    let rmcp = RmcpDep {
        features: decl.features,
        from_workspace: decl.from_workspace,
        version,
        version_from,
    };
    Ok(Package {
        root,
        name,
        workspace_root: workspace.map(|(dir, _)| dir),
        rmcp,
    })
}

/// Reads and parses one manifest; the error names the file and the line.
pub(crate) fn read_manifest(path: &Path) -> Result<DocumentMut> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    text.parse::<DocumentMut>().map_err(|err| {
        anyhow!(
            "failed to parse `{}`: {}\n\
             help: fix the manifest (`cargo metadata` reports the same error), then run add-auth again",
            path.display(),
            err.to_string().trim_end()
        )
    })
}

/// The workspace the package belongs to: `package.workspace` when set,
/// otherwise the first parent directory whose `Cargo.toml` has a
/// `[workspace]` table (as cargo looks for it).
fn find_workspace(root: &Path, package: &dyn TableLike) -> Result<Option<(PathBuf, DocumentMut)>> {
    if let Some(explicit) = package.get("workspace").and_then(Item::as_str) {
        let dir = root.join(explicit);
        let manifest = dir.join("Cargo.toml");
        let doc = read_manifest(&manifest)?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("failed to resolve `{}`", dir.display()))?;
        return Ok((dir != root).then_some((dir, doc)));
    }
    for dir in root.ancestors().skip(1) {
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let doc = read_manifest(&manifest)?;
        if doc.contains_key("workspace") {
            return Ok(Some((dir.to_path_buf(), doc)));
        }
    }
    Ok(None)
}

/// One dependency entry, in any of its forms.
#[derive(Debug, Default)]
struct DepDecl {
    /// `package = "..."`, for a renamed dependency.
    package: Option<String>,
    version: Option<String>,
    features: Vec<String>,
    workspace: bool,
    /// `path = "..."` as written.
    path: Option<String>,
    /// `git = "..."` or `path = "..."`, described for messages.
    source: Option<String>,
}

impl DepDecl {
    fn from_item(item: &Item) -> Option<Self> {
        if let Some(version) = item.as_str() {
            return Some(DepDecl {
                version: Some(version.to_string()),
                ..DepDecl::default()
            });
        }
        let table = item.as_table_like()?;
        let string = |key: &str| table.get(key).and_then(Item::as_str).map(str::to_string);
        let features = string_array(table.get("features"));
        let source = string("git")
            .map(|git| format!("git `{git}`"))
            .or_else(|| string("path").map(|path| format!("path `{path}`")));
        Some(DepDecl {
            package: string("package"),
            version: string("version"),
            features,
            workspace: table
                .get("workspace")
                .and_then(Item::as_bool)
                .unwrap_or(false),
            path: string("path"),
            source,
        })
    }
}

/// `[dependencies]` first, then every `[target.'cfg(..)'.dependencies]`.
fn dependency_tables(doc: &DocumentMut) -> Vec<&dyn TableLike> {
    let mut tables = Vec::new();
    if let Some(deps) = doc.get("dependencies").and_then(Item::as_table_like) {
        tables.push(deps);
    }
    if let Some(targets) = doc.get("target").and_then(Item::as_table_like) {
        for (_, target) in targets.iter() {
            if let Some(deps) = target
                .as_table_like()
                .and_then(|target| target.get("dependencies"))
                .and_then(Item::as_table_like)
            {
                tables.push(deps);
            }
        }
    }
    tables
}

/// The rmcp dependency entry of a manifest, merged with the workspace entry
/// it inherits from: `(key, member entry, workspace entry)`.
fn find_rmcp_decl(
    doc: &DocumentMut,
    workspace_doc: Option<&DocumentMut>,
) -> Option<(String, DepDecl, Option<DepDecl>)> {
    let workspace_deps = workspace_doc
        .and_then(|ws| ws.get("workspace"))
        .and_then(Item::as_table_like)
        .and_then(|ws| ws.get("dependencies"))
        .and_then(Item::as_table_like);
    for table in dependency_tables(doc) {
        for (key, item) in table.iter() {
            let Some(decl) = DepDecl::from_item(item) else {
                continue;
            };
            if decl.workspace {
                let inherited = workspace_deps
                    .and_then(|deps| deps.get(key))
                    .and_then(DepDecl::from_item);
                let package = inherited
                    .as_ref()
                    .and_then(|ws| ws.package.as_deref())
                    .unwrap_or(key);
                if package == "rmcp" {
                    return Some((key.to_string(), decl, inherited));
                }
            } else if decl.package.as_deref().unwrap_or(key) == "rmcp" {
                return Some((key.to_string(), decl, None));
            }
        }
    }
    None
}

/// The rmcp dependency as the manifests declare it, before its version is
/// resolved.
#[derive(Debug)]
struct RmcpDecl {
    version_req: Option<String>,
    features: Vec<String>,
    from_workspace: bool,
    /// `path = "..."`: relative to the workspace root when `from_workspace`,
    /// else to the package.
    path: Option<String>,
    source: Option<String>,
}

fn find_rmcp(
    name: &str,
    doc: &DocumentMut,
    workspace_doc: Option<&DocumentMut>,
) -> Result<RmcpDecl> {
    let Some((key, member, inherited)) = find_rmcp_decl(doc, workspace_doc) else {
        bail!(
            "`{name}` does not depend on rmcp: add-auth works on MCP servers built on the rmcp crate\n\
             help: pass --path <dir> pointing at the package that depends on rmcp (a workspace member, say)"
        );
    };
    if !member.workspace {
        return Ok(RmcpDecl {
            version_req: member.version,
            features: member.features,
            from_workspace: false,
            path: member.path,
            source: member.source,
        });
    }
    let Some(inherited) = inherited else {
        bail!(
            "`{name}` declares `{key} = {{ workspace = true }}` but no [workspace.dependencies] entry `{key}` was found\n\
             help: add `{key} = \"3\"` under [workspace.dependencies] of the workspace root (cargo requires it too)"
        );
    };
    let mut features = inherited.features;
    for feature in member.features {
        if !features.contains(&feature) {
            features.push(feature);
        }
    }
    Ok(RmcpDecl {
        version_req: inherited.version,
        features,
        from_workspace: true,
        path: inherited.path,
        source: inherited.source,
    })
}

/// The error for a workspace root without a package: lists the members and
/// points at the one(s) depending on rmcp.
pub(crate) fn virtual_root_error(dir: &Path, doc: &DocumentMut) -> anyhow::Error {
    let members = workspace_members(dir, doc);
    let listed = if members.is_empty() {
        "none found".to_string()
    } else {
        members
            .iter()
            .map(|member| format!("`{}`", member.dir))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let servers: Vec<&Member> = members.iter().filter(|member| member.uses_rmcp).collect();
    let help = match servers.as_slice() {
        [] => "pass --path <member>, the member that serves MCP".to_string(),
        [one] => format!(
            "pass --path <member>: `{}` depends on rmcp, so `--path {}`",
            one.dir,
            dir.join(&one.dir).display()
        ),
        several => format!(
            "pass --path <member>; these depend on rmcp: {}",
            several
                .iter()
                .map(|member| format!("`{}`", member.dir))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    anyhow!(
        "`{}` is a virtual workspace root, not a package; members: {listed}\nhelp: {help}",
        dir.display()
    )
}

pub(crate) struct Member {
    /// Directory relative to the workspace root, with `/` separators.
    pub(crate) dir: String,
    /// The member's package name (`None` when its manifest has none or
    /// does not parse).
    pub(crate) name: Option<String>,
    pub(crate) uses_rmcp: bool,
}

/// The strings of a TOML array (other values and a missing item: none).
fn string_array(item: Option<&Item>) -> Vec<String> {
    item.and_then(Item::as_array)
        .into_iter()
        .flatten()
        .filter_map(|value| value.as_str().map(str::to_string))
        .collect()
}

/// The members `[workspace] members` names. A pattern ending in `/*` lists
/// the sub-directories holding a `Cargo.toml`; any other pattern is shown
/// as written.
pub(crate) fn workspace_members(dir: &Path, doc: &DocumentMut) -> Vec<Member> {
    let workspace = doc.get("workspace").and_then(Item::as_table_like);
    let strings = |key: &str| string_array(workspace.and_then(|ws| ws.get(key)));
    let excluded = strings("exclude");
    let mut dirs = Vec::new();
    for pattern in strings("members") {
        match pattern.strip_suffix("/*") {
            Some(parent) if !parent.contains(['*', '?', '[']) => {
                let Ok(entries) = std::fs::read_dir(dir.join(parent)) else {
                    continue;
                };
                let mut found: Vec<String> = entries
                    .filter_map(|entry| entry.ok())
                    .filter(|entry| entry.path().join("Cargo.toml").is_file())
                    .filter_map(|entry| entry.file_name().into_string().ok())
                    .map(|name| format!("{parent}/{name}"))
                    .collect();
                found.sort();
                dirs.extend(found);
            }
            _ => dirs.push(pattern),
        }
    }
    dirs.retain(|member| !excluded.contains(member));
    dirs.dedup();
    dirs.into_iter()
        .map(|member| {
            let member_doc = read_manifest(&dir.join(&member).join("Cargo.toml")).ok();
            let uses_rmcp = member_doc
                .as_ref()
                .is_some_and(|member_doc| find_rmcp_decl(member_doc, Some(doc)).is_some());
            let name = member_doc.as_ref().and_then(|member_doc| {
                member_doc
                    .get("package")
                    .and_then(|package| package.get("name"))
                    .and_then(Item::as_str)
                    .map(str::to_string)
            });
            Member {
                dir: member,
                name,
                uses_rmcp,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rmcp_of(manifest: &str, workspace: Option<&str>) -> Result<RmcpDecl> {
        let doc: DocumentMut = manifest.parse().unwrap();
        let ws: Option<DocumentMut> = workspace.map(|ws| ws.parse().unwrap());
        find_rmcp("server", &doc, ws.as_ref())
    }

    fn summary(dep: RmcpDecl) -> (String, Vec<String>, bool) {
        (dep.version_req.unwrap(), dep.features, dep.from_workspace)
    }

    #[test]
    fn rmcp_dependency_forms() {
        assert_eq!(
            summary(rmcp_of("[dependencies]\nrmcp = \"3.11\"\n", None).unwrap()),
            ("3.11".into(), vec![], false)
        );
        assert_eq!(
            summary(
                rmcp_of(
                    "[dependencies]\nrmcp = { version = \"3\", features = [\"server\", \"macros\"] }\n",
                    None
                )
                .unwrap()
            ),
            ("3".into(), vec!["server".into(), "macros".into()], false)
        );
        assert_eq!(
            summary(
                rmcp_of(
                    "[dependencies.rmcp]\nversion = \"3.2\"\nfeatures = [\"server\"]\n",
                    None
                )
                .unwrap()
            ),
            ("3.2".into(), vec!["server".into()], false)
        );
        assert_eq!(
            summary(
                rmcp_of(
                    "[dependencies]\nmcp = { package = \"rmcp\", version = \"3.1\" }\n",
                    None
                )
                .unwrap()
            ),
            ("3.1".into(), vec![], false)
        );
        assert_eq!(
            summary(
                rmcp_of(
                    "[target.'cfg(unix)'.dependencies]\nrmcp = { version = \"3.5\", features = [\"server\"] }\n",
                    None
                )
                .unwrap()
            ),
            ("3.5".into(), vec!["server".into()], false)
        );
        assert_eq!(
            summary(
                rmcp_of(
                    "[dependencies]\nrmcp = { workspace = true, features = [\"macros\", \"server\"] }\n",
                    Some(
                        "[workspace]\n[workspace.dependencies]\nrmcp = { version = \"3.11\", features = [\"server\"] }\n"
                    )
                )
                .unwrap()
            ),
            ("3.11".into(), vec!["server".into(), "macros".into()], true)
        );
        assert_eq!(
            summary(
                rmcp_of(
                    "[dependencies]\nmcp = { workspace = true }\n",
                    Some(
                        "[workspace.dependencies]\nmcp = { package = \"rmcp\", version = \"3\" }\n"
                    )
                )
                .unwrap()
            ),
            ("3".into(), vec![], true)
        );
    }

    #[test]
    fn rmcp_path_and_git_dependencies() {
        let git = rmcp_of(
            "[dependencies]\nrmcp = { git = \"https://github.com/modelcontextprotocol/rust-sdk\" }\n",
            None,
        )
        .unwrap();
        assert_eq!(git.version_req, None);
        assert_eq!(
            git.source.as_deref(),
            Some("git `https://github.com/modelcontextprotocol/rust-sdk`")
        );
        let path = rmcp_of(
            "[dependencies]\nrmcp = { workspace = true }\n",
            Some("[workspace.dependencies]\nrmcp = { path = \"../sdk/crates/rmcp\", features = [\"server\"] }\n"),
        )
        .unwrap();
        assert_eq!(path.path.as_deref(), Some("../sdk/crates/rmcp"));
        assert!(path.from_workspace);
    }

    /// A path is relative to the manifest that says it: the workspace
    /// root's for an inherited entry, the member's own otherwise.
    #[test]
    fn path_dependencies_resolve_from_their_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let write = |file: &str, text: &str| {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        let member = |name: &str, rmcp: &str| {
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n\n[dependencies]\n{rmcp}\n")
        };
        write(
            "Cargo.toml",
            "[workspace]\nmembers = [\"a\", \"b\"]\n\n[workspace.dependencies]\nrmcp = { path = \"sdk/rmcp\" }\n",
        );
        write(
            "sdk/rmcp/Cargo.toml",
            "[package]\nname = \"rmcp\"\nversion = \"1.5.0\"\n",
        );
        write("a/Cargo.toml", &member("a", "rmcp = { workspace = true }"));
        write(
            "b/Cargo.toml",
            &member("b", "rmcp = { path = \"../sdk/rmcp\", version = \"1\" }"),
        );
        let sdk = dir
            .path()
            .canonicalize()
            .unwrap()
            .join("sdk/rmcp/Cargo.toml");
        for name in ["a", "b"] {
            let rmcp = read_package(&dir.path().join(name)).unwrap().rmcp;
            assert_eq!(rmcp.version, semver::Version::new(1, 5, 0), "{name}");
            assert_eq!(
                rmcp.version_from,
                super::super::VersionSource::PathManifest(sdk.clone()),
                "{name}"
            );
        }
    }

    #[test]
    fn rmcp_dependency_errors() {
        assert_eq!(
            rmcp_of(
                "[dependencies]\nrmcp = { workspace = true }\n",
                Some("[workspace]\n")
            )
            .unwrap_err()
            .to_string(),
            "`server` declares `rmcp = { workspace = true }` but no [workspace.dependencies] entry `rmcp` was found\n\
             help: add `rmcp = \"3\"` under [workspace.dependencies] of the workspace root (cargo requires it too)"
        );
        assert_eq!(
            rmcp_of("[dev-dependencies]\nrmcp = \"3\"\n", None)
                .unwrap_err()
                .to_string(),
            "`server` does not depend on rmcp: add-auth works on MCP servers built on the rmcp crate\n\
             help: pass --path <dir> pointing at the package that depends on rmcp (a workspace member, say)"
        );
    }
}
