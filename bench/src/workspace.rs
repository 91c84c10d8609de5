//! Wall time of `mcp-builder add-auth`: on a copy of the bundled example,
//! and on a generated large workspace (many library members, thousands of
//! source files, the example server as one member using
//! `[workspace.dependencies]`).
//!
//! Every timed run starts the real binary on a fresh copy and waits for it
//! to exit: process start, inspection, rendering and writing are all in the
//! figure; no cargo command is involved.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::project::copy_tree;

/// The example's add-auth answers, as the README gives them.
pub const ADD_AUTH_FLAGS: &[&str] = &[
    "--provider",
    "auth0",
    "--domain",
    "tasks-test.auth0.com",
    "--audience",
    "https://tasks.example.com/mcp",
    "--scopes",
    "read:tasks,write:tasks,delete:tasks",
    "--tool-scope",
    "search-tasks=read:tasks",
    "--tool-scope",
    "create-task=write:tasks",
    "--tool-scope",
    "delete-task=delete:tasks",
    "--yes",
];

/// Runs `mcp-builder add-auth --path <path> <flags> [extra]` once and
/// returns its wall time; fails with its output unless it exits 0.
pub fn add_auth(mcp_builder: &Path, path: &Path, extra: &[&str]) -> Result<Duration> {
    let mut command = Command::new(mcp_builder);
    command
        .arg("add-auth")
        .arg("--no-verify")
        .arg("--path")
        .arg(path)
        .args(ADD_AUTH_FLAGS)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("run `{}`", mcp_builder.display()))?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        bail!(
            "`mcp-builder add-auth --path {}` failed ({}):\n{}{}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(elapsed)
}

/// Wall times of one kind of run, in the order measured.
pub struct Timings {
    pub label: String,
    pub samples: Vec<Duration>,
}

impl Timings {
    pub fn sorted(&self) -> Vec<Duration> {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted
    }

    pub fn median(&self) -> Duration {
        let sorted = self.sorted();
        sorted[(sorted.len() - 1) / 2]
    }
}

/// Times `runs` first runs of add-auth, each on a fresh copy of `pristine`
/// (the server at `member` inside it), then `runs` re-runs on the last copy
/// (nothing to do) and `runs` `--check` runs.
pub fn time_add_auth(
    mcp_builder: &Path,
    pristine: &Path,
    member: &Path,
    scratch: &Path,
    runs: usize,
) -> Result<Vec<Timings>> {
    let mut first = Vec::new();
    let mut copy = PathBuf::new();
    for run in 0..runs {
        copy = scratch.join(format!("copy-{run}"));
        copy_tree(pristine, &copy)?;
        first.push(add_auth(mcp_builder, &copy.join(member), &[])?);
    }
    let mut again = Vec::new();
    let mut check = Vec::new();
    for _ in 0..runs {
        again.push(add_auth(mcp_builder, &copy.join(member), &[])?);
        check.push(add_auth(mcp_builder, &copy.join(member), &["--check"])?);
    }
    for run in 0..runs {
        let _ = fs::remove_dir_all(scratch.join(format!("copy-{run}")));
    }
    Ok(vec![
        Timings {
            label: "first run (writes the module)".into(),
            samples: first,
        },
        Timings {
            label: "re-run (nothing to do)".into(),
            samples: again,
        },
        Timings {
            label: "--check".into(),
            samples: check,
        },
    ])
}

/// What [`generate`] made.
pub struct Generated {
    pub members: usize,
    pub source_files: usize,
    pub source_bytes: u64,
    /// The server member, relative to the workspace root.
    pub server_member: PathBuf,
}

/// Writes a virtual workspace into `root`: `members - 1` library crates
/// under `crates/` plus the example server as `crates/tasks-server`, with
/// `source_files` `.rs` files in all. Library members depend on the
/// workspace's serde/anyhow and on their predecessor; the server takes
/// every dependency from `[workspace.dependencies]`.
pub fn generate(
    example: &Path,
    root: &Path,
    members: usize,
    source_files: usize,
) -> Result<Generated> {
    if members < 2 {
        bail!("a workspace needs at least 2 members (got {members})");
    }
    let libraries = members - 1;
    let server_files = rust_files_in(&example.join("src"))?;
    let library_files = source_files.saturating_sub(server_files).max(libraries);
    let write = |path: &Path, text: &str| -> Result<u64> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create `{}`", parent.display()))?;
        }
        fs::write(path, text).with_context(|| format!("write `{}`", path.display()))?;
        Ok(text.len() as u64)
    };

    write(&root.join("Cargo.toml"), WORKSPACE_MANIFEST)?;
    write(&root.join(".gitignore"), "/target\n")?;
    let mut files = 0;
    let mut bytes = 0;
    for lib in 0..libraries {
        let name = format!("member-{lib:03}");
        let dir = root.join("crates").join(&name);
        let previous = lib
            .checked_sub(1)
            .map(|prev| format!("member-{prev:03} = {{ path = \"../member-{prev:03}\" }}\n"))
            .unwrap_or_default();
        write(
            &dir.join("Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion.workspace = true\nedition.workspace = true\n\n[dependencies]\nanyhow.workspace = true\nserde.workspace = true\n{previous}"
            ),
        )?;
        // Spread the files evenly: the first members take the remainder.
        let count = library_files / libraries + usize::from(lib < library_files % libraries);
        let modules: Vec<String> = (1..count).map(|m| format!("module_{m:02}")).collect();
        let mut lib_rs = format!("//! `{name}`: generated for the add-auth benchmark.\n\n");
        for module in &modules {
            lib_rs.push_str(&format!("pub mod {module};\n"));
        }
        lib_rs.push('\n');
        lib_rs.push_str(&module_source(&name, 0));
        bytes += write(&dir.join("src/lib.rs"), &lib_rs)?;
        files += 1;
        for (index, module) in modules.iter().enumerate() {
            bytes += write(
                &dir.join("src").join(format!("{module}.rs")),
                &format!(
                    "//! `{name}::{module}`.\n\n{}",
                    module_source(&name, index + 1)
                ),
            )?;
            files += 1;
        }
    }

    let server_member = PathBuf::from("crates/tasks-server");
    let server = root.join(&server_member);
    copy_tree(&example.join("src"), &server.join("src"))?;
    files += server_files;
    write(&server.join("Cargo.toml"), SERVER_MANIFEST)?;
    Ok(Generated {
        members,
        source_files: files,
        source_bytes: bytes,
        server_member,
    })
}

fn rust_files_in(dir: &Path) -> Result<usize> {
    let mut count = 0;
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.with_context(|| format!("walk `{}`", dir.display()))?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "rs") {
            count += 1;
        }
    }
    Ok(count)
}

/// About 80 lines of ordinary Rust: types, impls, functions, a test module.
fn module_source(crate_name: &str, index: usize) -> String {
    format!(
        r#"use std::collections::BTreeMap;

use serde::{{Deserialize, Serialize}};

/// A record kept by `{crate_name}` (module {index}).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record{index} {{
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
    pub weight: f64,
}}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal{index} {{
    EmptyName,
    TooManyTags(usize),
    Duplicate(u64),
}}

/// Records by id.
#[derive(Debug, Default)]
pub struct Registry{index} {{
    records: BTreeMap<u64, Record{index}>,
}}

impl Registry{index} {{
    pub fn insert(&mut self, record: Record{index}) -> Result<(), Refusal{index}> {{
        if record.name.trim().is_empty() {{
            return Err(Refusal{index}::EmptyName);
        }}
        if record.tags.len() > 16 {{
            return Err(Refusal{index}::TooManyTags(record.tags.len()));
        }}
        if self.records.contains_key(&record.id) {{
            return Err(Refusal{index}::Duplicate(record.id));
        }}
        self.records.insert(record.id, record);
        Ok(())
    }}

    pub fn tagged<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Record{index}> + 'a {{
        self.records
            .values()
            .filter(move |record| record.tags.iter().any(|t| t == tag))
    }}

    pub fn total_weight(&self) -> f64 {{
        self.records.values().map(|record| record.weight).sum()
    }}
}}

/// Parses `id:name:tag,tag` lines, skipping blank ones.
pub fn parse{index}(text: &str) -> anyhow::Result<Vec<Record{index}>> {{
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {{
            let mut parts = line.splitn(3, ':');
            let id = parts.next().unwrap_or_default().trim().parse()?;
            let name = parts.next().unwrap_or_default().trim().to_string();
            let tags = parts
                .next()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_string)
                .collect();
            Ok(Record{index} {{ id, name, tags, weight: 1.0 }})
        }})
        .collect()
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn parses_and_registers() {{
        let records = parse{index}("1:a:x,y\n\n2:b:y").unwrap();
        let mut registry = Registry{index}::default();
        for record in records {{
            registry.insert(record).unwrap();
        }}
        assert_eq!(registry.tagged("y").count(), 2);
        assert_eq!(registry.total_weight(), 2.0);
    }}
}}
"#
    )
}

const WORKSPACE_MANIFEST: &str = r#"# Generated by mcp-builder's benchmark: a large workspace with one MCP server.
[workspace]
resolver = "3"
members = ["crates/*"]

[workspace.package]
version = "0.1.0"
edition = "2024"

[workspace.dependencies]
anyhow = "1"
axum = "0.8"
rmcp = { version = "3.11", features = ["server", "macros", "transport-streamable-http-server"] }
schemars = "1"
serde = { version = "1", features = ["derive"] }
serde_json = "1"
tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "signal"] }
tracing = "0.1"
tracing-subscriber = { version = "0.3", features = ["env-filter"] }
"#;

const SERVER_MANIFEST: &str = r#"[package]
name = "tasks-server"
version.workspace = true
edition.workspace = true
publish = false

[dependencies]
anyhow.workspace = true
axum.workspace = true
rmcp.workspace = true
schemars.workspace = true
serde.workspace = true
serde_json.workspace = true
tokio.workspace = true
tracing.workspace = true
tracing-subscriber.workspace = true
"#;
