//! rmcp version: which rmcp release the package really builds with (its `Cargo.lock`, else a path dependency's own manifest, else the requirement's lowest version), and which releases add-auth supports.
//!
//! What the releases differ in, as far as the generated module is concerned
//! (read in each release's source):
//!
//! - 0.1.x has no streamable HTTP server, only the legacy SSE one;
//! - 0.2.0 to 0.6.0 serve streamable HTTP but lack `FromContextPart`, which
//!   the module uses to hand the verified caller to tools;
//! - before 1.4.0, `StreamableHttpServerConfig` has no `allowed_hosts`: rmcp
//!   checks no `Host` header, and the module leaves the config as it is;
//! - from 1.4.0 on, everything the module uses is there (1.x, 2.x, 3.x).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use semver::{Version, VersionReq};
use toml_edit::{DocumentMut, Item};

use super::RmcpDep;

/// The first release with `FromContextPart`, the oldest add-auth supports.
const OLDEST_SUPPORTED: Version = Version::new(0, 6, 1);
/// The first release with a streamable HTTP server (`StreamableHttpService`).
pub(crate) const FIRST_STREAMABLE: Version = Version::new(0, 2, 0);
/// The first release whose server checks the `Host` header
/// (`StreamableHttpServerConfig::allowed_hosts`).
pub(crate) const FIRST_HOST_CHECK: Version = Version::new(1, 4, 0);
/// The newest major line add-auth knows.
const NEWEST_MAJOR: u64 = 3;

/// Where the rmcp version was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    /// The `Cargo.lock` at this path: the version cargo builds.
    Lock(PathBuf),
    /// The own `Cargo.toml` of a path dependency, at this path.
    PathManifest(PathBuf),
    /// No lock: the lowest version the requirement (e.g. `1.2`) allows.
    Requirement(String),
}

impl fmt::Display for VersionSource {
    /// How the `Found` line says it: `Cargo.lock`, `path ../rmcp`,
    /// `lowest of "1.2"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSource::Lock(_) => f.write_str("Cargo.lock"),
            VersionSource::PathManifest(path) => {
                write!(f, "path {}", path.parent().unwrap_or(path).display())
            }
            VersionSource::Requirement(req) => write!(f, "lowest of \"{req}\", no Cargo.lock"),
        }
    }
}

/// What the manifests say about the rmcp dependency, for [`resolve`].
#[derive(Debug, Default)]
pub(crate) struct Declared {
    /// The version requirement, if any.
    pub(crate) requirement: Option<String>,
    /// `path = "..."`, joined to the directory of the manifest that says it.
    pub(crate) path: Option<PathBuf>,
    /// `git = "..."` or `path = "..."`, described for messages.
    pub(crate) source: Option<String>,
}

/// The version of rmcp the package `name` (at `root`) builds with.
///
/// Cargo.lock first (the package's directory, then the workspace root's):
/// the version the package's own lock entry depends on, unless the lock no
/// longer matches the requirement. Then a path dependency's own version,
/// then the lowest version the requirement allows.
pub(crate) fn resolve(
    name: &str,
    root: &Path,
    workspace_root: Option<&Path>,
    declared: &Declared,
) -> Result<(Version, VersionSource)> {
    let requirement = declared
        .requirement
        .as_deref()
        .map(|req| parse_requirement(name, req))
        .transpose()?;
    for dir in std::iter::once(root).chain(workspace_root) {
        let lock = dir.join("Cargo.lock");
        let Ok(text) = std::fs::read_to_string(&lock) else {
            continue;
        };
        if let Some(version) = locked_version(&text, name)
            && requirement.as_ref().is_none_or(|req| req.matches(&version))
        {
            return Ok((version, VersionSource::Lock(lock)));
        }
    }
    if let Some(path) = &declared.path {
        let manifest = path
            .canonicalize()
            .unwrap_or_else(|_| path.clone())
            .join("Cargo.toml");
        if let Some(version) = path_version(&manifest) {
            return Ok((version, VersionSource::PathManifest(manifest)));
        }
    }
    if let (Some(req), Some(text)) = (&requirement, &declared.requirement) {
        return Ok((
            lowest_version(req),
            VersionSource::Requirement(text.clone()),
        ));
    }
    let from = declared
        .source
        .as_ref()
        .map_or(String::new(), |source| format!(" from {source}"));
    bail!(
        "cannot determine which rmcp version `{name}` uses: it takes rmcp{from} without a `version`, \
         and no Cargo.lock says which\n\
         help: run `cargo generate-lockfile` in `{}` (it records the version cargo resolves), then run add-auth again",
        workspace_root.unwrap_or(root).display()
    )
}

fn parse_requirement(name: &str, req: &str) -> Result<VersionReq> {
    VersionReq::parse(req).map_err(|err| {
        anyhow!(
            "`{name}` depends on rmcp `{req}`, which is not a valid version requirement: {err}\n\
             help: fix the rmcp version in Cargo.toml (for example `rmcp = \"3\"`), then run add-auth again"
        )
    })
}

/// The rmcp version that the lock entry of the package `name` (a local
/// package: no `source`) depends on. `None` when the lock does not parse,
/// has no such entry, or the entry does not depend on rmcp (a stale lock).
fn locked_version(lock: &str, name: &str) -> Option<Version> {
    let doc: DocumentMut = lock.parse().ok()?;
    let packages = doc.get("package")?.as_array_of_tables()?;
    fn field<'a>(table: &'a toml_edit::Table, key: &str) -> Option<&'a str> {
        table.get(key).and_then(Item::as_str)
    }
    let rmcps: Vec<Version> = packages
        .iter()
        .filter(|package| field(package, "name") == Some("rmcp"))
        .filter_map(|package| Version::parse(field(package, "version")?).ok())
        .collect();
    let own = packages
        .iter()
        .find(|package| field(package, "name") == Some(name) && package.get("source").is_none())?;
    let dependencies = own.get("dependencies")?.as_array()?;
    dependencies.iter().find_map(|dependency| {
        // `rmcp`, or `rmcp 1.2.0` (with ` (source)`) when the lock holds several.
        let mut words = dependency.as_str()?.split_whitespace();
        if words.next()? != "rmcp" {
            return None;
        }
        match words.next() {
            Some(version) => Version::parse(version).ok(),
            None => match rmcps.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        }
    })
}

/// The `version` of the package whose manifest is at `manifest`, following
/// `version.workspace = true` to the nearest workspace root above it.
fn path_version(manifest: &Path) -> Option<Version> {
    let doc = super::manifest::read_manifest(manifest).ok()?;
    let version = doc.get("package")?.get("version")?;
    if let Some(version) = version.as_str() {
        return Version::parse(version).ok();
    }
    let inherited = version
        .as_table_like()?
        .get("workspace")
        .and_then(Item::as_bool)?;
    if !inherited {
        return None;
    }
    manifest.parent()?.ancestors().skip(1).find_map(|dir| {
        let doc = super::manifest::read_manifest(&dir.join("Cargo.toml")).ok()?;
        let version = doc.get("workspace")?.get("package")?.get("version")?;
        Version::parse(version.as_str()?).ok()
    })
}

/// The lowest version a requirement allows (`0.0.0` when it has no lower
/// bound): the highest of its comparators' lower bounds.
pub(crate) fn lowest_version(req: &VersionReq) -> Version {
    req.comparators
        .iter()
        .map(lower_bound)
        .max()
        .unwrap_or(Version::new(0, 0, 0))
}

fn lower_bound(comparator: &semver::Comparator) -> Version {
    use semver::Op;
    let semver::Comparator {
        op,
        major,
        minor,
        patch,
        pre,
    } = comparator;
    let (major, minor_or_0, patch_or_0) = (*major, minor.unwrap_or(0), patch.unwrap_or(0));
    match op {
        Op::Exact | Op::GreaterEq | Op::Tilde | Op::Caret | Op::Wildcard => Version {
            pre: pre.clone(),
            ..Version::new(major, minor_or_0, patch_or_0)
        },
        Op::Greater => match (minor, patch) {
            (Some(minor), Some(patch)) => Version::new(major, *minor, patch + 1),
            (Some(minor), None) => Version::new(major, minor + 1, 0),
            (None, _) => Version::new(major + 1, 0, 0),
        },
        _ => Version::new(0, 0, 0),
    }
}

/// Whether rmcp `version` checks the `Host` header itself
/// (`StreamableHttpServerConfig::allowed_hosts`), so the generated
/// `server_config` must let the public host through.
pub fn checks_host(version: &Version) -> bool {
    *version >= FIRST_HOST_CHECK
}

/// The step that moves rmcp to `req`, where the project declares it: `cargo
/// add` for the package's own entry (it keeps the features); by hand for an
/// entry inherited from `[workspace.dependencies]`, which `cargo add` in the
/// member would replace by a plain one without the features.
fn move_to(rmcp: &RmcpDep, req: &str, features: &[&str]) -> String {
    if rmcp.from_workspace {
        let with = if features.is_empty() {
            String::new()
        } else {
            format!(" with the features {}", features.join(", "))
        };
        format!(
            "set the `rmcp` version under [workspace.dependencies] of the workspace root's Cargo.toml to \"{req}\"{with}"
        )
    } else if features.is_empty() {
        format!("`cargo add rmcp@{req}`")
    } else {
        format!("`cargo add rmcp@{req} --features {}`", features.join(","))
    }
}

/// Refuses the releases the generated module cannot work with, each with
/// the upgrade step that gets a supported one.
pub(crate) fn check_supported(name: &str, rmcp: &RmcpDep) -> Result<()> {
    let (version, from) = (&rmcp.version, &rmcp.version_from);
    let uses = format!("`{name}` uses rmcp {version} ({from})");
    if version.major > NEWEST_MAJOR {
        bail!(
            "{uses}, a major line newer than add-auth knows (it supports rmcp {OLDEST_SUPPORTED} to {NEWEST_MAJOR}.x)\n\
             help: use an mcp-builder release that supports rmcp {}, or pin rmcp to {NEWEST_MAJOR}.x ({}), then run add-auth again",
            version.major,
            move_to(rmcp, &NEWEST_MAJOR.to_string(), &[])
        );
    }
    if *version < FIRST_STREAMABLE {
        bail!(
            "{uses}, which has no streamable HTTP server: it serves MCP over the legacy SSE transport only, \
             which the MCP specification deprecated (2025-03-26) in favour of streamable HTTP\n\
             help: upgrade rmcp ({}), serve MCP with `StreamableHttpService` mounted by \
             `Router::new().nest_service(\"/mcp\", service)`, then run add-auth again",
            move_to(
                rmcp,
                &NEWEST_MAJOR.to_string(),
                &["server", "macros", "transport-streamable-http-server"]
            )
        );
    }
    if *version < OLDEST_SUPPORTED {
        let step = if version.minor == OLDEST_SUPPORTED.minor {
            "`cargo update -p rmcp` (a compatible update within 0.6)".to_string()
        } else {
            format!(
                "{} (the smallest step; rmcp {NEWEST_MAJOR} has the current API), \
                 then follow the compiler through the API changes",
                move_to(rmcp, &format!("0.{}", OLDEST_SUPPORTED.minor), &[])
            )
        };
        bail!(
            "{uses}, whose server API lacks `FromContextPart` (added in rmcp {OLDEST_SUPPORTED}), which the generated \
             module needs to hand the verified caller to tools\n\
             help: upgrade rmcp to {OLDEST_SUPPORTED} or later: {step}, then run add-auth again"
        );
    }
    Ok(())
}

/// The note for a release whose server checks no `Host` header, with the
/// step that gets rmcp's own check without upgrading anything else.
pub(crate) fn host_check_note(rmcp: &RmcpDep) -> Option<String> {
    let version = &rmcp.version;
    if checks_host(version) {
        return None;
    }
    let step = if version.major == FIRST_HOST_CHECK.major {
        format!(
            "`cargo update -p rmcp` (a compatible update within {}.x) gets rmcp's own check from {FIRST_HOST_CHECK} on",
            version.major
        )
    } else {
        format!(
            "rmcp's own check comes with rmcp {FIRST_HOST_CHECK} ({}, a major upgrade)",
            move_to(rmcp, &FIRST_HOST_CHECK.major.to_string(), &[])
        )
    };
    Some(format!(
        "rmcp {version} checks no `Host` header, so protection against DNS rebinding relies on the bearer token \
         (a page cannot send one); {step}, and the generated `server_config` then lets the host of \
         MCP_RESOURCE_URL through it once add-auth is run again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lowest(req: &str) -> String {
        lowest_version(&VersionReq::parse(req).unwrap()).to_string()
    }

    #[test]
    fn lowest_versions_of_requirements() {
        assert_eq!(lowest("3.11"), "3.11.0");
        assert_eq!(lowest("3"), "3.0.0");
        assert_eq!(lowest("^3.2.1"), "3.2.1");
        assert_eq!(lowest("~3.1"), "3.1.0");
        assert_eq!(lowest("=3.11.0"), "3.11.0");
        assert_eq!(lowest(">=3.0.0, <4.0.0"), "3.0.0");
        assert_eq!(lowest(">2"), "3.0.0");
        assert_eq!(lowest(">2.9"), "2.10.0");
        assert_eq!(lowest("3.*"), "3.0.0");
        assert_eq!(lowest("*"), "0.0.0");
        assert_eq!(lowest("<4"), "0.0.0");
        assert_eq!(lowest("0.8"), "0.8.0");
    }

    fn dep(version: &str, from_workspace: bool) -> RmcpDep {
        RmcpDep {
            features: vec!["server".into()],
            from_workspace,
            version: Version::parse(version).unwrap(),
            version_from: VersionSource::Lock("Cargo.lock".into()),
        }
    }

    fn check(version: &str) -> Result<()> {
        check_supported("s", &dep(version, false))
    }

    #[test]
    fn supported_releases_are_0_6_1_to_3_x() {
        for ok in [
            "0.6.1", "0.14.0", "0.17.0", "1.2.0", "1.8.0", "2.2.0", "3.0.0", "3.11.0",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            check("0.1.5").unwrap_err().to_string(),
            "`s` uses rmcp 0.1.5 (Cargo.lock), which has no streamable HTTP server: it serves MCP over the legacy \
             SSE transport only, which the MCP specification deprecated (2025-03-26) in favour of streamable HTTP\n\
             help: upgrade rmcp (`cargo add rmcp@3 --features server,macros,transport-streamable-http-server`), \
             serve MCP with `StreamableHttpService` mounted by `Router::new().nest_service(\"/mcp\", service)`, \
             then run add-auth again"
        );
        assert_eq!(
            check("0.5.0").unwrap_err().to_string(),
            "`s` uses rmcp 0.5.0 (Cargo.lock), whose server API lacks `FromContextPart` (added in rmcp 0.6.1), \
             which the generated module needs to hand the verified caller to tools\n\
             help: upgrade rmcp to 0.6.1 or later: `cargo add rmcp@0.6` (the smallest step; rmcp 3 has \
             the current API), then follow the compiler through the API changes, then run add-auth again"
        );
        // Inherited from [workspace.dependencies]: `cargo add` in the member
        // would drop the features, so the step is said for the root.
        assert_eq!(
            check_supported("s", &dep("0.5.0", true))
                .unwrap_err()
                .to_string(),
            "`s` uses rmcp 0.5.0 (Cargo.lock), whose server API lacks `FromContextPart` (added in rmcp 0.6.1), \
             which the generated module needs to hand the verified caller to tools\n\
             help: upgrade rmcp to 0.6.1 or later: set the `rmcp` version under [workspace.dependencies] of the \
             workspace root's Cargo.toml to \"0.6\" (the smallest step; rmcp 3 has the current API), then follow \
             the compiler through the API changes, then run add-auth again"
        );
        assert_eq!(
            check("0.6.0").unwrap_err().to_string(),
            "`s` uses rmcp 0.6.0 (Cargo.lock), whose server API lacks `FromContextPart` (added in rmcp 0.6.1), \
             which the generated module needs to hand the verified caller to tools\n\
             help: upgrade rmcp to 0.6.1 or later: `cargo update -p rmcp` (a compatible update within 0.6), \
             then run add-auth again"
        );
        assert_eq!(
            check("4.0.0").unwrap_err().to_string(),
            "`s` uses rmcp 4.0.0 (Cargo.lock), a major line newer than add-auth knows (it supports rmcp 0.6.1 to 3.x)\n\
             help: use an mcp-builder release that supports rmcp 4, or pin rmcp to 3.x (`cargo add rmcp@3`), \
             then run add-auth again"
        );
    }

    #[test]
    fn host_check_comes_with_1_4() {
        let note = |v: &str| host_check_note(&dep(v, false));
        for checked in ["1.4.0", "1.8.0", "2.2.0", "3.11.0"] {
            assert!(checks_host(&Version::parse(checked).unwrap()), "{checked}");
            assert_eq!(note(checked), None);
        }
        assert_eq!(
            note("1.2.0").unwrap(),
            "rmcp 1.2.0 checks no `Host` header, so protection against DNS rebinding relies on the bearer token \
             (a page cannot send one); `cargo update -p rmcp` (a compatible update within 1.x) gets rmcp's own \
             check from 1.4.0 on, and the generated `server_config` then lets the host of MCP_RESOURCE_URL \
             through it once add-auth is run again"
        );
        assert!(note("0.14.0").unwrap().contains(
            "rmcp's own check comes with rmcp 1.4.0 (`cargo add rmcp@1`, a major upgrade)"
        ));
    }

    /// A lock with the package `server`, its rmcp dependency line, and
    /// the rmcp versions it holds.
    fn lock(dependency: &str, rmcps: &[&str]) -> String {
        let mut text = String::from("version = 4\n");
        for version in rmcps {
            text.push_str(&format!(
                "\n[[package]]\nname = \"rmcp\"\nversion = \"{version}\"\n\
                 source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
            ));
        }
        text.push_str(&format!(
            "\n[[package]]\nname = \"server\"\nversion = \"0.1.0\"\ndependencies = [\n \"axum\",\n \"{dependency}\",\n]\n"
        ));
        text
    }

    #[test]
    fn lock_versions() {
        assert_eq!(
            locked_version(&lock("rmcp", &["1.2.0"]), "server"),
            Some(Version::new(1, 2, 0))
        );
        // Several rmcp versions: the one the package's entry names.
        let several = lock("rmcp 1.8.0", &["0.14.0", "1.8.0", "3.11.0"]);
        assert_eq!(
            locked_version(&several, "server"),
            Some(Version::new(1, 8, 0))
        );
        let with_source = lock(
            "rmcp 2.2.0 (registry+https://github.com/rust-lang/crates.io-index)",
            &["2.2.0", "3.11.0"],
        );
        assert_eq!(
            locked_version(&with_source, "server"),
            Some(Version::new(2, 2, 0))
        );
        // No entry for the package, or one without rmcp: a stale lock.
        assert_eq!(locked_version(&several, "other"), None);
        assert_eq!(locked_version(&lock("tokio", &["1.2.0"]), "server"), None);
        assert_eq!(locked_version("not a lock", "server"), None);
    }

    fn write(dir: &Path, file: &str, text: &str) {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn declared(
        requirement: Option<&str>,
        path: Option<PathBuf>,
        source: Option<&str>,
    ) -> Declared {
        Declared {
            requirement: requirement.map(str::to_string),
            path,
            source: source.map(str::to_string),
        }
    }

    #[test]
    fn resolution_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws/member");
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(&root).unwrap();
        let req = declared(Some("1"), None, None);

        // No lock: the requirement's lowest version.
        assert_eq!(
            resolve("server", &root, Some(&ws), &req).unwrap(),
            (
                Version::new(1, 0, 0),
                VersionSource::Requirement("1".into())
            )
        );
        // The workspace root's lock.
        write(&ws, "Cargo.lock", &lock("rmcp 1.8.0", &["1.8.0", "3.11.0"]));
        assert_eq!(
            resolve("server", &root, Some(&ws), &req).unwrap(),
            (
                Version::new(1, 8, 0),
                VersionSource::Lock(ws.join("Cargo.lock"))
            )
        );
        // The package's own lock first.
        write(&root, "Cargo.lock", &lock("rmcp", &["1.2.0"]));
        assert_eq!(
            resolve("server", &root, Some(&ws), &req).unwrap(),
            (
                Version::new(1, 2, 0),
                VersionSource::Lock(root.join("Cargo.lock"))
            )
        );
        // A lock that no longer matches the requirement is stale.
        let req3 = declared(Some("3.11"), None, None);
        assert_eq!(
            resolve("server", &root, None, &req3).unwrap(),
            (
                Version::new(3, 11, 0),
                VersionSource::Requirement("3.11".into())
            )
        );
    }

    #[test]
    fn path_and_git_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("server");
        std::fs::create_dir_all(&root).unwrap();
        let sdk = dir.path().join("sdk");
        write(
            &sdk,
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/rmcp\"]\n[workspace.package]\nversion = \"3.1.4\"\n",
        );
        write(
            &sdk,
            "crates/rmcp/Cargo.toml",
            "[package]\nname = \"rmcp\"\nversion = { workspace = true }\n",
        );
        write(
            &sdk,
            "plain/Cargo.toml",
            "[package]\nname = \"rmcp\"\nversion = \"1.5.0\"\n",
        );
        let inherited = declared(
            None,
            Some(sdk.join("crates/rmcp")),
            Some("path `../sdk/crates/rmcp`"),
        );
        assert_eq!(
            resolve("server", &root, None, &inherited).unwrap(),
            (
                Version::new(3, 1, 4),
                VersionSource::PathManifest(sdk.join("crates/rmcp/Cargo.toml"))
            )
        );
        // The path's own version is more precise than the requirement.
        let plain = declared(
            Some("1"),
            Some(sdk.join("plain")),
            Some("path `../sdk/plain`"),
        );
        assert_eq!(
            resolve("server", &root, None, &plain).unwrap().0,
            Version::new(1, 5, 0)
        );

        // git without `version`: the lock says, else the error says how to get one.
        let git = declared(None, None, Some("git `https://example.com/sdk`"));
        assert_eq!(
            resolve("server", &root, None, &git)
                .unwrap_err()
                .to_string(),
            format!(
                "cannot determine which rmcp version `server` uses: it takes rmcp from git \
                 `https://example.com/sdk` without a `version`, and no Cargo.lock says which\n\
                 help: run `cargo generate-lockfile` in `{}` (it records the version cargo resolves), \
                 then run add-auth again",
                root.display()
            )
        );
        write(&root, "Cargo.lock", &lock("rmcp", &["0.1.5"]));
        assert_eq!(
            resolve("server", &root, None, &git).unwrap(),
            (
                Version::new(0, 1, 5),
                VersionSource::Lock(root.join("Cargo.lock"))
            )
        );
    }
}
