//! Plan: computes, in memory, every file change `add-auth` would make.
//!
//! Planning is pure: it reads the [`Project`](crate::inspect::Project) and the
//! resolved answers and returns a [`Plan`]. Nothing here touches the disk;
//! `apply` is the only writer.

pub mod adopt;
pub mod cargo_toml;
pub mod dotenv;
pub mod remove;
pub mod render;
pub mod rustfmt;
pub mod state;
pub mod transport;
pub mod wiring;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};

// Named here for plan's own modules too (`super::sha256`).
use crate::{
    digest::sha256,
    inspect::{Mount, Project},
    resolve::Resolved,
    slash::slash_path,
};

use rustfmt::Rustfmt;

pub use state::STATE_FILE;

/// The wired router source with the wired function laid out as rustfmt
/// lays it out, and whether it was: only when that function was laid out by
/// rustfmt before (a project that formats differently keeps its layout),
/// and `auth remove` can undo it (taking the wiring out and laying the
/// function out again gives back `original` byte for byte).
fn lay_out(rustfmt: &Rustfmt, original: &str, wired: String, mount: &Mount) -> (String, bool) {
    if wired == original || !may_need_layout(rustfmt, &wired, mount) {
        return (wired, false);
    }
    let Some(key) = rustfmt::function_at(original, mount.stmt_line_start) else {
        return (wired, false);
    };
    let Some(formatted) = rustfmt.format_function(&wired, &key) else {
        return (wired, false);
    };
    if formatted == wired || !rustfmt.is_formatted(original, &key) {
        return (wired, false);
    }
    let undone = wiring::unwire_router(&formatted, &slash_path(&mount.file), &mount.module)
        .ok()
        .and_then(|unwired| rustfmt.format_function(&unwired, &key));
    if undone.as_deref() == Some(original) {
        (formatted, true)
    } else {
        (wired, false)
    }
}

/// Whether rustfmt might lay out the wired function differently. `false`
/// only in the plain case, where each inserted piece sits on a line rustfmt
/// leaves as it is (no `rustfmt.toml`, no tabs, one-line service and config,
/// `.nest_service(..)` on a chain line of its own with short arguments, the
/// config alone on its line): rustfmt is not run then, which saves most of
/// add-auth's time on a small project.
fn may_need_layout(rustfmt: &Rustfmt, wired: &str, mount: &Mount) -> bool {
    if rustfmt.config_file().is_some() {
        return true;
    }
    let touched = wired
        .lines()
        .filter(|line| line.contains(&format!("{}.", wiring::AUTH_VAR)))
        .filter(|line| !line.trim_start().starts_with("let "));
    let mut seen = 0;
    for line in touched {
        seen += 1;
        let text = line.trim();
        let text = text.strip_suffix(';').unwrap_or(text);
        let plain = !line.contains('\t') && line.chars().count() <= 100;
        let fits = if text.starts_with(&format!("{}.server_config(", wiring::AUTH_VAR)) {
            text.ends_with("),")
        } else if let Some(args) = text
            .strip_prefix(".nest_service(")
            .or_else(|| text.strip_prefix(".route_service("))
        {
            args.ends_with(')') && args.chars().count() <= 61
        } else {
            text == format!(".merge({}.metadata_router())", wiring::AUTH_VAR)
        };
        if !(plain && fits) {
            return true;
        }
    }
    // A wrapped piece spread over several lines is not among those above.
    let expected = if mount.config_arg.is_some() { 3 } else { 2 };
    seen != expected
}

/// The package's Rust edition, for rustfmt (see [`rustfmt::edition`]).
fn edition(
    project: &Project,
    read: &impl Fn(&Path) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<String> {
    let manifest = read(Path::new("Cargo.toml"))?.unwrap_or_default();
    let workspace = match &project.workspace_root {
        Some(dir) => read(&dir.join("Cargo.toml"))?,
        None => None,
    };
    Ok(rustfmt::edition(&manifest, workspace.as_deref()))
}

/// What the generated module needs, beyond what an rmcp server already has.
///
/// Each entry names every feature the generated code uses (see
/// `cargo_toml.rs` for how they are added): `features` are written on a new
/// entry and added to an existing one; `from_defaults` are default features
/// the code relies on, written out only where the project's entry turns
/// default features off. Proven by `tests/features.rs`, which builds the
/// module in a project whose dependencies all have `default-features = false`.
pub const DEPENDENCIES: &[Dependency] = &[
    // `Json` (challenge and metadata answers); `Router`, `routing::get`,
    // `body`, `extract::Request`, `http` and `response` need no feature.
    dep("axum", "0.8", true, &[]).using_defaults(&["json"]),
    // The random key of the verified-token cache; already built for
    // jsonwebtoken's `aws_lc_rs` backend, so it costs no extra compilation.
    dep("aws-lc-rs", "1", true, &[]),
    dep("dotenvy", "0.15", true, &[]),
    // `Frame`, to stream a trimmed `tools/list` answer (`listing.rs`); part
    // of axum already.
    dep("http-body", "1", true, &[]),
    // The audit records' RFC 3339 time; tiny, no dependencies of its own.
    dep("humantime", "2", true, &[]),
    // Exactly one crypto backend; aws-lc is the one reqwest's rustls uses
    // too. No PEM (`use_pem`): keys come as JWKs or a shared secret.
    dep("jsonwebtoken", "11", false, &["aws_lc_rs"]),
    // TLS for the issuer's JWKS, discovery and introspection endpoints; the
    // code reads bodies as bytes and parses them itself (no `json`), sends
    // the introspection form as a body it encodes (no `form`); timeouts,
    // redirects and `basic_auth` need no feature.
    dep("reqwest", "0.13", false, &["rustls"]),
    // `Caller`'s context extraction and `RoleServer` (`server`), the
    // `StreamableHttpService` it protects (`transport-streamable-http-server`).
    // Never added: the project has it (inspection checks), in any version.
    dep("rmcp", "*", true, &["transport-streamable-http-server"])
        .using_defaults(&["server"])
        .existing_only(),
    dep("serde", "1", true, &["derive"]).using_defaults(&["std"]),
    dep("serde_json", "1", true, &[]).using_defaults(&["std"]),
    // The verified-token cache's keyed hash (SipHash-1-3, 128 bits); tiny,
    // no dependencies of its own.
    dep("siphasher", "1", true, &[]),
    // The names a request body holds, inline for a single message (no
    // allocation per request); hyper, under axum, already builds it.
    dep("smallvec", "1", true, &[]),
    // `sync::Mutex` (key caches), `time` (timeouts, refresh intervals), `rt`
    // (`Handle::try_current`, `spawn`; the generated tests' runtimes).
    dep("tokio", "1", true, &["sync", "time", "rt"]),
    // The `Service` trait the protected MCP endpoint implements; part of
    // axum already.
    dep("tower-service", "0.3", true, &[]),
    dep("tracing", "0.1", true, &[]),
];

pub(crate) const fn dep(
    name: &'static str,
    version: &'static str,
    default_features: bool,
    features: &'static [&'static str],
) -> Dependency {
    Dependency {
        name,
        version,
        default_features,
        features,
        from_defaults: &[],
        added: true,
    }
}

impl Dependency {
    /// Default features the generated code uses.
    pub(crate) const fn using_defaults(mut self, features: &'static [&'static str]) -> Self {
        self.from_defaults = features;
        self
    }

    /// A dependency the project always has: only its features are added.
    pub(crate) const fn existing_only(mut self) -> Self {
        self.added = false;
        self
    }
}

/// One dependency the generated code needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: &'static str,
    /// Version requirement, e.g. `"11"` (`"*"` for a dependency never added).
    pub version: &'static str,
    /// `false` writes `default-features = false`.
    pub default_features: bool,
    pub features: &'static [&'static str],
    /// Default features the generated code uses: added to an existing entry
    /// that has `default-features = false`.
    pub from_defaults: &'static [&'static str],
    /// `false`: never added to a manifest (the project must have it); its
    /// version requirement is the project's, only features are added.
    pub added: bool,
}

/// What happens to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    Create {
        contents: String,
    },
    Update {
        before: String,
        after: String,
    },
    Identical,
    /// A generated file the user has changed since: left alone unless forced.
    Conflict {
        current: String,
        desired: String,
        /// When the user had kept their version (see [`adopt`]) and the
        /// template's output changed since: the generated text they kept it
        /// against, so that the template's own change can be shown.
        upstream: Option<String>,
    },
    /// A generated file the user changed and kept as theirs (recorded in
    /// the state file, see [`adopt`]); the template still generates what it
    /// was kept against: settled, nothing to do.
    Kept,
    /// A file `auth remove` deletes; `before` is what it held.
    Delete {
        before: String,
    },
}

/// One file of the plan, with its path relative to the project root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: PathBuf,
    pub action: FileAction,
}

impl FileChange {
    /// Compares the desired contents with what is on disk now (`None`: absent).
    pub fn new(path: impl Into<PathBuf>, current: Option<String>, desired: String) -> Self {
        let action = match current {
            None => FileAction::Create { contents: desired },
            Some(before) if before == desired => FileAction::Identical,
            Some(before) => FileAction::Update {
                before,
                after: desired,
            },
        };
        Self {
            path: path.into(),
            action,
        }
    }
}

/// Every file change of one `add-auth` run, state file last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The package root; change paths are relative to it.
    pub root: PathBuf,
    pub changes: Vec<FileChange>,
    /// Things the user should know that do not stop the run.
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.changes
            .iter()
            .all(|change| matches!(change.action, FileAction::Identical | FileAction::Kept))
    }
}

/// Reads the current contents of a file of the project (`None`: absent).
pub trait Snapshot {
    fn read(&self, path: &Path) -> anyhow::Result<Option<String>>;
}

/// Computes the plan. Reads through `snapshot`, writes nothing.
pub fn plan(
    project: &Project,
    resolved: &Resolved,
    snapshot: &dyn Snapshot,
) -> anyhow::Result<Plan> {
    let root = &project.root;
    let read = |relative: &Path| snapshot.read(&root.join(relative));
    let mut changes = Vec::new();
    // What inspection noticed about the wiring (e.g. a config it left alone).
    let mut warnings = project.notes.clone();

    let state_before = read(Path::new(STATE_FILE))?;
    let recorded = match &state_before {
        Some(text) => recorded_hashes(text)?,
        None => Default::default(),
    };
    let yours = match &state_before {
        Some(text) => adopt::recorded(text)?,
        None => Default::default(),
    };
    // The records still true after this run: files still the user's version.
    let mut still_yours = std::collections::BTreeMap::new();

    // The module, beside the crate root that declares it.
    let module_dir = project
        .mount
        .crate_root
        .parent()
        .unwrap_or(Path::new(""))
        .join(&project.mount.module);
    let single_file = module_dir.with_extension("rs");
    if read(&single_file)?.is_some() {
        bail!(
            "`{}` already exists; add-auth will not overwrite an auth module it did not write\nhelp: rename or remove it, or pass --module-name NAME, then run add-auth again",
            single_file.display()
        );
    }
    let mut generated = serde_json::Map::new();
    let site = render::Site {
        mcp_path: &project.mount.mcp_path,
        module: &project.mount.module,
        exits: project.mount.startup,
        host_check: project.rmcp.checks_host(),
        allowed_lints: &project.allowed_lints,
    };
    let mut module = render::auth_module(resolved, &site)?;
    // In the project's own style when it is not rustfmt's default for
    // edition 2024 (the templates' layout): another edition, a `rustfmt.toml`.
    let rustfmt = Rustfmt::new(&project.root, &edition(project, &read)?);
    rustfmt.format_files(&mut module)?;
    for (name, contents) in module {
        let path = module_dir.join(name);
        let key = slash_path(&path);
        let current = read(&path)?;
        let action = match current {
            Some(current)
                if current != contents && recorded.get(&key) != Some(&sha256(&current)) =>
            {
                if recorded.is_empty() {
                    bail!(
                        "`{key}` already exists and was not written by mcp-builder\nhelp: rename or remove `{}`, then run add-auth again",
                        module_dir.display()
                    );
                }
                // Kept as the user's: settled while the template generates
                // what it was kept against; else the template's change.
                let kept = yours.get(&key).and_then(|record| {
                    let before = record.generated_text(&current)?;
                    still_yours.insert(key.clone(), record.clone());
                    Some(before)
                });
                match kept {
                    Some(before) if before == contents => FileAction::Kept,
                    upstream => FileAction::Conflict {
                        current,
                        desired: contents.clone(),
                        upstream,
                    },
                }
            }
            current => FileChange::new(&path, current, contents.clone()).action,
        };
        generated.insert(key, json!(sha256(&contents)));
        changes.push(FileChange { path, action });
    }
    // Files an earlier run generated that this one does not (such as
    // `introspection.rs` after a switch back to JWTs): deleted when they are
    // as generated, kept and still recorded when the user changed them.
    let module_prefix = format!("{}/", slash_path(&module_dir));
    for (key, hash) in &recorded {
        if generated.contains_key(key) || !key.starts_with(&module_prefix) {
            continue;
        }
        let path = PathBuf::from(key);
        let Some(current) = read(&path)? else {
            continue;
        };
        if &sha256(&current) == hash {
            changes.push(FileChange {
                path,
                action: FileAction::Delete { before: current },
            });
        } else {
            warnings.push(format!(
                "`{key}` is no longer generated, but you changed it, so it is kept; the module no longer declares it"
            ));
            generated.insert(key.clone(), json!(hash));
        }
    }

    // The wiring: the router's file and the crate root (maybe the same file).
    let mount = &project.mount;
    // `mod auth;` under the `cfg` the HTTP code is compiled under.
    let gate = project.http_feature.as_deref();
    let router_on_disk =
        read(&mount.file)?.with_context(|| format!("`{}` disappeared", mount.file.display()))?;
    // A stdio-only server's new HTTP branch: the mount is in it.
    let insertion = project
        .insertion
        .as_ref()
        .filter(|insertion| insertion.file == mount.file);
    let router_source = match insertion {
        Some(insertion) => insertion.apply(&router_on_disk),
        None => router_on_disk.clone(),
    };
    let wired = wiring::wire_router(&router_source, mount)?;
    let (wired, laid_out) = lay_out(&rustfmt, &router_source, wired, mount);
    let mut wiring_record = serde_json::Map::new();
    if wired != router_source {
        wiring_record.insert("router".into(), json!(slash_path(&mount.file)));
    }
    if laid_out {
        // `auth remove` lays the function out again once the wiring is out.
        wiring_record.insert("formatted".into(), json!(true));
    }
    let crate_root_source = if mount.file == mount.crate_root {
        wired.clone()
    } else {
        read(&mount.crate_root)?.unwrap_or_default()
    };
    if wiring::declare_module_under(&crate_root_source, mount, gate) != crate_root_source {
        wiring_record.insert("mod".into(), json!(slash_path(&mount.crate_root)));
    }
    if !wiring_record.is_empty() {
        wiring_record.insert("module".into(), json!(mount.module));
    }
    if insertion.is_some() {
        wiring_record.insert("transport".into(), json!(slash_path(&mount.file)));
    }
    if mount.file == mount.crate_root {
        let declared = wiring::declare_module_under(&wired, mount, gate);
        changes.push(FileChange::new(&mount.file, Some(router_on_disk), declared));
    } else {
        changes.push(FileChange::new(&mount.file, Some(router_on_disk), wired));
        let crate_root = read(&mount.crate_root)?
            .with_context(|| format!("`{}` disappeared", mount.crate_root.display()))?;
        let declared = wiring::declare_module_under(&crate_root, mount, gate);
        changes.push(FileChange::new(
            &mount.crate_root,
            Some(crate_root),
            declared,
        ));
    }

    // Dependencies, following the workspace's convention when there is one.
    let member_path = PathBuf::from("Cargo.toml");
    let member = read(&member_path)?.context("`Cargo.toml` disappeared")?;
    let workspace_path = project
        .workspace_root
        .as_ref()
        .map(|dir| dir.join("Cargo.toml"));
    let workspace = match &workspace_path {
        Some(path) => read(path)?,
        None => None,
    };
    // Under the feature the HTTP code is compiled under, if any. An HTTP
    // transport add-auth added (now or earlier) needs its own.
    let transport_added = insertion.is_some()
        || match &state_before {
            Some(text) => state::read_added(text)?
                .is_some_and(|added| added.pointer("/wiring/transport").is_some()),
            None => false,
        };
    let wanted: Vec<Dependency> = DEPENDENCIES
        .iter()
        .chain(
            transport_added
                .then_some(transport::DEPENDENCIES)
                .into_iter()
                .flatten(),
        )
        .cloned()
        .collect();
    let edit = cargo_toml::add_dependencies_under(
        &member,
        workspace.as_deref(),
        project.rmcp.from_workspace,
        &wanted,
        project.http_feature.as_deref(),
    )?;
    let mut added = serde_json::Map::new();
    let mut cargo = serde_json::Map::new();
    record_manifest(&mut cargo, "Cargo.toml", &member, &edit.member)?;
    if let (Some(before), Some(after), Some(dir)) =
        (&workspace, &edit.workspace, &project.workspace_root)
    {
        record_manifest(&mut cargo, &workspace_manifest(root, dir), before, after)?;
    }
    changes.push(FileChange::new(&member_path, Some(member), edit.member));
    if let (Some(path), Some(after)) = (workspace_path, edit.workspace) {
        changes.push(FileChange::new(path, workspace, after));
    }

    // Settings: real values in .env (kept out of git), placeholders in the example.
    // Which variables depends on the provider (see `Resolved::env_entries`).
    let entries = resolved.env_entries();
    let real: Vec<(&str, &str)> = entries
        .iter()
        .map(|(key, value, _)| (*key, value.as_str()))
        .collect();
    let placeholders: Vec<(&str, &str)> = entries
        .iter()
        .map(|(key, _, example)| (*key, example.as_str()))
        .collect();
    if let Some(warning) = resolved.provider.warning {
        warnings.push(warning.to_string());
    }
    if let (Some(_), Some(warning)) = (
        &resolved.options.jwt_secret_env,
        resolved.provider.shared_secret_warning,
    ) {
        warnings.push(warning.to_string());
    }
    if let Some(url) = resolved.options.introspection() {
        warnings.push(format!(
            "tokens are opaque and checked at {url} (RFC 7662); set `{}` and `{}` (this server's client credentials there) in `.env` or the environment: the server does not start without them",
            crate::resolve::INTROSPECTION_CLIENT_ID_VAR,
            crate::resolve::INTROSPECTION_CLIENT_SECRET_VAR,
        ));
    }
    let mut env_record = serde_json::Map::new();
    let mut created = Vec::new();
    for (file, entries) in [(".env", &real), (".env.example", &placeholders)] {
        let current = read(Path::new(file))?;
        let merged = dotenv::merge_env(current.as_deref(), entries);
        if file == ".env" {
            warnings.extend(kept_values(current.as_deref(), entries));
        }
        let keys = dotenv::added_keys(current.as_deref(), &merged);
        if !keys.is_empty() {
            env_record.insert(file.into(), json!(keys));
        }
        if current.is_none() {
            created.push(file);
        }
        changes.push(FileChange::new(file, current, merged));
    }
    let gitignore = read(Path::new(".gitignore"))?;
    let ignored = dotenv::ensure_gitignored(gitignore.as_deref(), ".env");
    for (key, value) in [
        ("cargo", Value::Object(cargo)),
        ("wiring", Value::Object(wiring_record)),
        ("env", Value::Object(env_record)),
    ] {
        if value.as_object().is_some_and(|object| !object.is_empty()) {
            added.insert(key.into(), value);
        }
    }
    if gitignore.as_deref() != Some(ignored.as_str()) {
        added.insert("gitignore".into(), json!([".env"]));
        if gitignore.is_none() {
            created.push(".gitignore");
        }
    }
    if !created.is_empty() {
        added.insert("created".into(), json!(created));
    }
    if dotenv::is_negated(&ignored, ".env") {
        warnings.push(
            "`.gitignore` un-ignores `.env` (`!.env`): the real settings in `.env` could be committed".into(),
        );
    }
    changes.push(FileChange::new(".gitignore", gitignore, ignored));

    // The state file goes last: it records what the run above produced.
    // What this run adds, on top of what earlier runs recorded: `auth remove`
    // takes exactly that out again.
    let previous_added = match &state_before {
        Some(text) => state::read_added(text)?,
        None => None,
    };
    let added = state::merge_added(previous_added, Value::Object(added));
    let mut generator = json!({
        "name": "mcp-builder",
        "version": env!("CARGO_PKG_VERSION"),
        "files": generated,
    });
    if added.as_object().is_some_and(|object| !object.is_empty()) {
        generator["added"] = added;
    }
    // Last, where `adopt` puts it too.
    if let Some(records) = adopt::to_json(&still_yours) {
        generator["yours"] = records;
    }
    let state = state::merge_state(state_before.as_deref(), auth_state(resolved), generator)?;
    changes.push(FileChange::new(STATE_FILE, state_before, state));

    Ok(Plan {
        root: root.clone(),
        changes,
        warnings,
    })
}

/// The `auth` object of the state file. Never holds a secret.
pub fn auth_state(resolved: &Resolved) -> Value {
    let mut auth = json!({
        "provider": resolved.provider.id,
        "domain": resolved.domain,
        "audience": resolved.audience,
        "scopes": resolved.scopes,
        "tool_scopes": resolved.tool_scopes,
        // Always recorded, empty too: a re-run keeps a hierarchy turned off.
        "scope_implies": resolved.scope_implies,
        "filter_lists": resolved.filter_lists,
    });
    // Only when strict: lenient is the default.
    if resolved.add_http {
        auth["add_http"] = json!(true);
    }
    if resolved.strict_tools {
        auth["strict_tools"] = json!(true);
    }
    // Only when given: the default follows the tools at every run.
    if resolved.challenge_scopes_given {
        auth["challenge_scopes"] = json!(resolved.challenge_scopes);
    }
    if let Some(url) = &resolved.resource_url {
        auth["resource_url"] = json!(url);
    }
    // Provider options, so that a re-run without the flags keeps them.
    let options = &resolved.options;
    for (key, value) in [
        ("jwks_uri", &options.jwks_uri),
        ("scope_claim", &options.scope_claim),
        ("roles_claim", &options.roles_claim),
        // The variable's name only: the secret is read at start-up.
        ("jwt_secret_env", &options.jwt_secret_env),
        // Only `introspection` is recorded (`jwt` is the default); the
        // credentials for the endpoint are read at start-up, never stored.
        ("token_format", &options.token_format),
        ("introspection_url", &options.introspection_url),
        // Only when given: the default follows the provider.
        ("scope_source", &options.scope_source),
    ] {
        if let Some(value) = value {
            auth[key] = json!(value);
        }
    }
    if let Some(require) = options.require_at_jwt {
        auth["require_at_jwt"] = json!(require);
    }
    if !options.client_ids.is_empty() {
        auth["client_ids"] = json!(options.client_ids);
    }
    auth
}

/// Records, under `cargo[path]`, what add-auth adds to one manifest.
fn record_manifest(
    cargo: &mut serde_json::Map<String, Value>,
    path: &str,
    before: &str,
    after: &str,
) -> anyhow::Result<()> {
    let record = cargo_toml::added(before, after)?;
    if record.as_object().is_some_and(|object| !object.is_empty()) {
        cargo.insert(path.to_owned(), record);
    }
    Ok(())
}

/// The workspace root's manifest, relative to the package root
/// (`../../Cargo.toml`), so the state file holds no absolute path.
fn workspace_manifest(root: &Path, workspace_root: &Path) -> String {
    let depth = root
        .strip_prefix(workspace_root)
        .map(|inner| inner.components().count())
        .unwrap_or(0);
    let mut path = "../".repeat(depth);
    path.push_str("Cargo.toml");
    path
}

/// The hashes of the generated files, as recorded by the last run.
pub(crate) fn recorded_hashes(
    state: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let value: Value = serde_json::from_str(state)
        .with_context(|| format!("`{STATE_FILE}` is not valid JSON\nhelp: fix or remove it"))?;
    let files = value.pointer("/generator/files").and_then(Value::as_object);
    Ok(files
        .into_iter()
        .flatten()
        .filter_map(|(path, hash)| Some((path.clone(), hash.as_str()?.to_string())))
        .collect())
}

/// A warning for each key `.env` already sets to another value than this
/// run resolved (add-auth never changes a set value): after a change of
/// provider or URL, the old value would otherwise win silently.
fn kept_values(current: Option<&str>, entries: &[(&str, &str)]) -> Vec<String> {
    let set = crate::resolve::dotenv::parse(current.unwrap_or(""));
    entries
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .filter_map(|(key, value)| {
            let old = set.get(*key).filter(|old| !old.is_empty() && old != value)?;
            Some(format!(
                "`.env` keeps {key}={old} (add-auth never changes a value that is set), but this run resolved `{value}`: edit `.env` if the new value is right"
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiring::tests::{EXAMPLE, MERGE, example_mount};

    /// A provider switch (dev to Auth0) leaves the local resource URL in
    /// `.env`: said, since add-auth does not change it.
    #[test]
    fn a_set_env_value_that_differs_from_the_resolved_one_is_warned_about() {
        let current = "MCP_RESOURCE_URL=http://127.0.0.1:8000/mcp\nAUTH0_CLIENT_ID=\nSAME=x\n";
        let warnings = kept_values(
            Some(current),
            &[
                ("MCP_RESOURCE_URL", "https://tasks.example.com/mcp"),
                ("AUTH0_CLIENT_ID", "abc"),
                ("SAME", "x"),
                ("NEW", "y"),
            ],
        );
        assert_eq!(
            warnings,
            [
                "`.env` keeps MCP_RESOURCE_URL=http://127.0.0.1:8000/mcp (add-auth never changes a value that is set), but this run resolved `https://tasks.example.com/mcp`: edit `.env` if the new value is right"
            ]
        );
    }

    /// rustfmt is started only where the wiring might need laying out: not
    /// for the example's plain wiring, but for an inline chain, a config
    /// over several lines, or a project with a `rustfmt.toml`.
    #[test]
    fn rustfmt_is_started_only_where_the_wiring_might_need_it() {
        let plain_dir = tempfile::TempDir::new().unwrap();
        let rustfmt = Rustfmt::new(plain_dir.path(), "2024");
        let mount = example_mount();
        let wired = wiring::wire_router(EXAMPLE, &mount).unwrap();
        assert!(!may_need_layout(&rustfmt, &wired, &mount), "{wired}");

        let inline = wired.replacen(MERGE, ".merge(mcp_auth.metadata_router())", 1);
        assert!(may_need_layout(&rustfmt, &inline, &mount), "{inline}");

        let spread = wired.replacen(
            "mcp_auth.server_config(StreamableHttpServerConfig::default()),",
            "mcp_auth.server_config(\n            StreamableHttpServerConfig::default(),\n        ),",
            1,
        );
        assert_ne!(spread, wired);
        assert!(may_need_layout(&rustfmt, &spread, &mount), "{spread}");

        let configured = tempfile::TempDir::new().unwrap();
        std::fs::write(configured.path().join("rustfmt.toml"), "max_width = 80\n").unwrap();
        let rustfmt = Rustfmt::new(configured.path(), "2024");
        assert!(may_need_layout(&rustfmt, &wired, &mount));
    }
}
