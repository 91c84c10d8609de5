//! Inspect: reads a target project and describes it as a [`Project`].
//!
//! Everything here is read-only. Nothing in this module writes a file; a
//! project the tool cannot handle is reported as an error that says what was
//! found and what the user can do instead.

mod crate_root;
mod manifest;
mod mount;
mod offsets;
mod sources;
mod tools;

#[cfg(test)]
mod tests;

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Result;

/// Reads the package at `path` (a package directory, a workspace member
/// directory, or its `Cargo.toml`) and describes it.
///
/// Errors, each a lowercase sentence with a `help:` line, when `path` holds
/// no package (or only a virtual workspace), when the package does not
/// depend on rmcp 3.x, when a source file does not parse, or when the MCP
/// endpoint cannot be found in exactly one place (stdio only, legacy
/// `SseServer`, a service built but not mounted beside it, several mounts,
/// a mount in a `src/bin/` binary).
pub fn inspect(path: &Path) -> Result<Project> {
    let package = manifest::read_package(path)?;
    let files = sources::load(&package.root)?;
    let mount = mount::find_mount(&package.name, &files)?;
    let tools = tools::find_tools(&files);
    Ok(Project {
        root: package.root,
        package_name: package.name,
        workspace_root: package.workspace_root,
        rmcp: package.rmcp,
        mount,
        tools,
    })
}

/// What `add-auth` needs to know about a project, gathered before any change.
#[derive(Debug, Clone)]
pub struct Project {
    /// Directory holding the package's `Cargo.toml` (canonical, absolute).
    pub root: PathBuf,
    /// The package name from `[package]`.
    pub package_name: String,
    /// The workspace root directory when the package is a member of a
    /// workspace whose manifest is elsewhere (`None` for a lone package or a
    /// package that is its own workspace root). Canonical, absolute.
    pub workspace_root: Option<PathBuf>,
    pub rmcp: RmcpDep,
    pub mount: Mount,
    pub tools: Vec<Tool>,
}

/// The rmcp dependency as the package declares it.
#[derive(Debug, Clone)]
pub struct RmcpDep {
    /// The version requirement, e.g. `3.11` (from the workspace when
    /// `workspace = true`). Its lowest matching version is a 3.x.
    pub version_req: String,
    /// Enabled features: the workspace entry's followed by the member's
    /// own, without duplicates.
    pub features: Vec<String>,
    /// Declared as `rmcp = { workspace = true }` in the member.
    pub from_workspace: bool,
}

/// Where the MCP endpoint is built and mounted, as byte offsets into source
/// files, so that the wiring can be inserted without reformatting anything.
#[derive(Debug, Clone)]
pub struct Mount {
    /// File (relative to `Project::root`) that holds the `nest_service` call.
    pub file: PathBuf,
    /// Crate root (relative to `Project::root`) that declares the file's
    /// modules: `src/main.rs` or `src/lib.rs`. `mod auth;` goes here and the
    /// module lives beside it (`src/auth/`).
    pub crate_root: PathBuf,
    /// Byte offset in `crate_root` where a `mod auth;` line can be inserted
    /// (start of a line): among the `mod x;` declarations at the top of the
    /// file, in the alphabetical order rustfmt keeps; without any, after the
    /// leading `use` items; without those, after the `//!` docs and inner
    /// attributes. (Only at the very end of a file without a final newline
    /// is it not the start of a line.)
    pub mod_insert_at: usize,
    /// The path the MCP service is mounted at, e.g. `/mcp`.
    pub mcp_path: String,
    /// Bytes of the service argument of `.nest_service("/mcp", service)`.
    pub service_arg: Range<usize>,
    /// Byte offset just after the `)` closing that `nest_service(..)` call.
    pub nest_call_end: usize,
    /// Bytes of the config argument of `StreamableHttpService::new(.., .., config)`,
    /// when that call is in the same function as the mount.
    pub config_arg: Option<Range<usize>>,
    /// Byte offset of the start of the line of the first statement, in the
    /// function holding the mount, that builds the service or the router:
    /// the place for `let mcp_auth = ...;`. The statement is taken from the
    /// innermost block holding both the `StreamableHttpService::new` call
    /// and the mount: the function body in the usual case, the HTTP arm
    /// behind a `match` transport switch. Nothing else shares that line
    /// before the statement.
    pub stmt_line_start: usize,
    /// Leading whitespace of that statement's line.
    pub indent: String,
}

/// One MCP tool found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// The name clients call: `#[tool(name = "...")]` or the fn name.
    pub name: String,
    /// The Rust method name.
    pub fn_name: String,
    pub read_only: bool,
    pub destructive: bool,
    /// File (relative to `Project::root`) that declares it.
    pub file: PathBuf,
}
