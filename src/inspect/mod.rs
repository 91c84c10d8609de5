//! Inspect: reads a target project and describes it as a [`Project`].
//!
//! Everything here is read-only. Nothing in this module writes a file; a
//! project the tool cannot handle is reported as an error that says what was
//! found and what the user can do instead.

mod crate_root;
mod endpoint_tests;
mod existing_auth;
mod features;
mod lints;
mod listen;
mod manifest;
mod module_name;
mod mount;
mod offsets;
mod refusal;
mod rmcp_version;
mod sources;
mod stdio;
mod targets;
mod tools;
mod workspace;

#[cfg(test)]
mod tests;

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use endpoint_tests::EndpointTest;
pub(crate) use module_name::module_dir;

pub use rmcp_version::VersionSource;
pub use stdio::StdioSite;

/// The name of the generated module unless the user picks another.
pub const DEFAULT_MODULE: &str = "auth";

/// Choices the user makes on the command line that change what is inspected.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--package NAME`: the package to work on, when `path` is a workspace
    /// root (or to check that `path` is that package).
    pub package: Option<String>,
    /// `--module-name NAME`: the generated module's name. Default: the name
    /// an earlier run used (from `mcp-builder.json`), else `auth`.
    pub module_name: Option<String>,
    /// Text to inspect the project with, as if it were already in its file
    /// (`add-auth --add-http`: the HTTP branch of a stdio-only server).
    pub insertion: Option<Insertion>,
}

/// Text inserted into one source file, at a byte offset of its text on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insertion {
    /// File relative to the package root.
    pub file: PathBuf,
    pub at: usize,
    pub text: String,
}

impl Insertion {
    /// `original` with the text inserted.
    pub fn apply(&self, original: &str) -> String {
        let mut text = original.to_string();
        text.insert_str(self.at, &self.text);
        text
    }
}

/// Where the package at `path` serves MCP over stdio (see `stdio.rs`),
/// `None` when it does not in a way add-auth recognises.
pub fn stdio_site(path: &Path, options: &Options) -> Result<Option<StdioSite>> {
    let dir = workspace::choose_package(path, options.package.as_deref())?;
    let package = manifest::read_package(&dir)?;
    let files = sources::load(&package.root)?;
    stdio::find_site(&package.name, &files)
}

/// [`inspect_with`] with the default options (for tests).
#[cfg(test)]
pub fn inspect(path: &Path) -> Result<Project> {
    inspect_with(path, &Options::default())
}

/// Reads the package at `path` (a package directory, a workspace member
/// directory, a workspace root, or a `Cargo.toml`) and describes it.
///
/// Errors, each a lowercase sentence with a `help:` line, when `path` holds
/// no package (or a workspace root where no single member serves MCP over
/// HTTP and `--package` does not name one), when the package does not
/// use an rmcp release add-auth supports (0.6.1 to 3.x), when a source
/// file does not parse, when the MCP endpoint cannot be found in exactly
/// one place (stdio only, legacy `SseServer`, raw hyper, several mounts),
/// when the project has auth of its own on that endpoint (see
/// `existing_auth.rs`), or when the crate root already has a module of the
/// generated module's name that add-auth did not write. The last three
/// (and the rmcp release) are blockers: one error names every one found.
pub fn inspect_with(path: &Path, options: &Options) -> Result<Project> {
    let dir = workspace::choose_package(path, options.package.as_deref())?;
    let package = manifest::read_package(&dir)?;
    if let Some(wanted) = &options.package
        && *wanted != package.name
    {
        anyhow::bail!(
            "`{}` is the package `{}`, not `{wanted}`\n\
             help: pass --path <dir> of the package `{wanted}` (or its workspace root), or leave --package out",
            dir.display(),
            package.name
        );
    }
    let mut files = sources::load(&package.root)?;
    if let Some(insertion) = &options.insertion {
        let file = files
            .iter_mut()
            .find(|file| file.rel == insertion.file)
            .with_context(|| {
                format!(
                    "`{}` is not a source file of the package",
                    insertion.file.display()
                )
            })?;
        let target = file.target;
        *file = sources::SourceFile::parse(file.rel.clone(), insertion.apply(&file.text))?;
        file.target = target;
    }
    let module = match &options.module_name {
        Some(name) => name.clone(),
        None => module_name::recorded(&package.root)?.unwrap_or_else(|| DEFAULT_MODULE.into()),
    };
    // Every blocker is gathered, so that one refusal names them all, in
    // this order: the rmcp release, the endpoint, existing auth, the module
    // name.
    let rmcp = &package.rmcp;
    let mut blockers: Vec<anyhow::Error> = rmcp_version::check_supported(&package.name, rmcp)
        .err()
        .into_iter()
        .collect();
    let found = match mount::find_mount(&package.name, &files, &module, rmcp.checks_host()) {
        Ok(found) => Some(found),
        // A release without a streamable HTTP server has no endpoint to
        // find: its own blocker says so.
        Err(_) if rmcp.version < rmcp_version::FIRST_STREAMABLE => None,
        Err(err) => {
            blockers.push(err);
            None
        }
    };
    let findings = existing_auth::find(&package.root, &files, found.as_ref().map(|f| &f.mount));
    blockers.extend(existing_auth::refusal(&package.name, &findings));
    if let Some(found) = &found
        && let Err(err) = module_name::check_free(
            &package.root,
            &files,
            &found.mount,
            options.module_name.is_some(),
        )
    {
        blockers.push(err);
    }
    refusal::refuse(&package.name, blockers)?;
    let found = found.expect("no blocker, so the mount was found");
    let tools = tools::find_tools(&files);
    let manifest_doc = manifest::read_manifest(&package.root.join("Cargo.toml"))?;
    let http_feature = features::http_feature(&files, &found.mount, &manifest_doc);
    let allowed_lints = lints::stricter(
        &manifest_doc,
        package.workspace_root.as_deref(),
        files.iter().find(|file| file.rel == found.mount.crate_root),
    );
    let mut notes = found.notes;
    notes.extend(rmcp_version::host_check_note(&package.rmcp));
    if tools.is_empty()
        && let Some(at) = tools::hand_written_tools(&files)
    {
        notes.push(format!(
            "no `#[tool]` methods found; `{at}` implements `call_tool` by hand, so add-auth cannot list the tools: \
             every `tools/call` will need all the scopes (`UNLISTED_TOOL_SCOPES` in `{}/policy.rs`) until you add \
             entries to `TOOL_SCOPES` there",
            module_name::module_dir(&found.mount).display()
        ));
    }
    let endpoint_tests = endpoint_tests::find(&package.root, &files, &found.mount);
    let listen_port = files
        .iter()
        .find(|file| file.rel == found.mount.file)
        .and_then(listen::port);
    Ok(Project {
        insertion: options.insertion.clone(),
        listen_port,
        endpoint_tests,
        root: package.root,
        package_name: package.name,
        workspace_root: package.workspace_root,
        rmcp: package.rmcp,
        mount: found.mount,
        http_feature,
        allowed_lints,
        tools,
        notes,
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
    /// Things the user should know about how the project was wired (a
    /// config that could not be wrapped, tools that could not be listed),
    /// each one sentence.
    pub notes: Vec<String>,
    /// The project's own tests that send requests to the MCP endpoint: they
    /// need a token once it is protected (`testing.rs` of the module).
    pub endpoint_tests: Vec<EndpointTest>,
    /// The stricter lints the project sets for its own code (`[lints]`,
    /// `#![warn(..)]` in the crate root), which the generated module allows
    /// (`lints.rs`), e.g. `clippy::pedantic`.
    pub allowed_lints: Vec<String>,
    /// The cargo feature the MCP HTTP code is compiled under (`None`: in
    /// every build); the generated module and its dependencies follow it.
    pub http_feature: Option<String>,
    /// The port the server listens on, when the mounting file names exactly
    /// one local address (`"127.0.0.1:8000"`); see `listen.rs`.
    pub listen_port: Option<u16>,
    /// Text this run adds before wiring (the HTTP transport of a stdio-only
    /// server): the mount above is in the file with it inserted.
    pub insertion: Option<Insertion>,
}

/// The rmcp dependency as the package declares it.
#[derive(Debug, Clone)]
pub struct RmcpDep {
    /// Enabled features: the workspace entry's followed by the member's
    /// own, without duplicates.
    pub features: Vec<String>,
    /// Declared as `rmcp = { workspace = true }` in the member.
    pub from_workspace: bool,
    /// The release the package builds with (see `rmcp_version.rs`): one
    /// add-auth supports, 0.6.1 to 3.x.
    pub version: semver::Version,
    /// Where `version` was read: Cargo.lock, a path dependency's manifest,
    /// or the requirement.
    pub version_from: VersionSource,
}

impl RmcpDep {
    /// rmcp itself checks the `Host` header (1.4 and later), so the
    /// generated `server_config` must let the public host through.
    pub fn checks_host(&self) -> bool {
        rmcp_version::checks_host(&self.version)
    }
}

/// Where the MCP endpoint is built and mounted, as byte offsets into source
/// files, so that the wiring can be inserted without reformatting anything.
#[derive(Debug, Clone)]
pub struct Mount {
    /// File (relative to `Project::root`) that holds the `nest_service` call.
    pub file: PathBuf,
    /// Crate root (relative to `Project::root`) that declares the file's
    /// modules: `src/main.rs`, `src/lib.rs` or a binary under `src/bin/`.
    /// `mod auth;` goes here and the module lives beside it (`src/auth/`).
    pub crate_root: PathBuf,
    /// The generated module's name (`auth` unless `--module-name` says
    /// otherwise).
    pub module: String,
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
    /// when that call is in the same function as the mount (`None` when the
    /// service is built in another function: the config is then left alone
    /// and a note says so).
    pub config_arg: Option<Range<usize>>,
    /// Byte offset of the start of the line of the first statement, in the
    /// function holding the mount, that builds the service or the router:
    /// the place for `let mcp_auth = ...;`. The statement is taken from the
    /// innermost block holding both the `StreamableHttpService::new` call
    /// and the mount: the function body in the usual case, the HTTP arm
    /// behind a `match` transport switch. When the service is built in
    /// another function, it is the statement holding the mount. Nothing
    /// else shares that line before the statement.
    pub stmt_line_start: usize,
    /// Leading whitespace of that statement's line.
    pub indent: String,
    /// The function holding the mount is start-up code: `main`, or one that
    /// binds a listener or serves (`TcpListener::bind`, `axum::serve`). Only
    /// there may the inserted code stop the process on a missing setting;
    /// elsewhere (a router factory that tests call) it fails closed.
    pub startup: bool,
    /// The name of the function holding the mount (`None`: outside any
    /// function), e.g. a router factory `build_router` that tests call.
    pub function: Option<String>,
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
