//! Diff, check and apply: the three ways of consuming a [`Plan`].
//!
//! This is the only module that writes to the user's project. Apply writes
//! every changed file to a temporary file beside it first and renames them
//! into place only once all were written, the state file last, so a failure
//! part-way leaves the project as it was.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;
use similar::TextDiff;

use crate::plan::{FileAction, FileChange, Plan};

/// One status line per file, cargo style (`     Created src/auth/mod.rs`).
pub fn status_lines(plan: &Plan, force: bool) -> Vec<String> {
    plan.changes
        .iter()
        .map(|change| {
            let verb = match &change.action {
                FileAction::Create { .. } => "Created",
                FileAction::Update { .. } => "Updated",
                FileAction::Identical => "Unchanged",
                FileAction::Conflict { .. } if force => "Overwrote",
                FileAction::Conflict { .. } => "Skipped",
            };
            let note = match &change.action {
                FileAction::Conflict { .. } if !force => {
                    " (you changed it since it was generated; --force overwrites it, --dry-run shows the diff)"
                }
                _ => "",
            };
            format!("{verb:>12} {}{note}", display(&change.path))
        })
        .collect()
}

/// Unified diffs of every change, for `--dry-run`.
pub fn diff(plan: &Plan) -> String {
    let mut out = String::new();
    for change in &plan.changes {
        let (before, after) = match &change.action {
            FileAction::Create { contents } => ("", contents.as_str()),
            FileAction::Update { before, after } => (before.as_str(), after.as_str()),
            FileAction::Conflict { current, desired } => (current.as_str(), desired.as_str()),
            FileAction::Identical => continue,
        };
        let name = display(&change.path);
        let old = if before.is_empty() {
            "/dev/null".to_string()
        } else {
            format!("a/{name}")
        };
        out.push_str(
            &TextDiff::from_lines(before, after)
                .unified_diff()
                .header(&old, &format!("b/{name}"))
                .to_string(),
        );
    }
    out
}

/// Writes the plan. Conflicting files are skipped unless `force`.
pub fn apply(plan: &Plan, force: bool) -> anyhow::Result<()> {
    let writes: Vec<(&FileChange, &str)> = plan
        .changes
        .iter()
        .filter_map(|change| match &change.action {
            FileAction::Create { contents } => Some((change, contents.as_str())),
            FileAction::Update { after, .. } => Some((change, after.as_str())),
            FileAction::Conflict { desired, .. } if force => Some((change, desired.as_str())),
            FileAction::Conflict { .. } | FileAction::Identical => None,
        })
        .collect();

    // Phase 1: everything to temporary files; any failure drops them all.
    let mut staged = Vec::new();
    for (change, contents) in writes {
        let path = plan.root.join(&change.path);
        staged.push((stage(&path, contents)?, path));
    }
    // Phase 2: rename into place, in plan order (the state file is last).
    for (temp, path) in staged {
        temp.persist(&path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

fn stage(path: &Path, contents: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".mcp-builder-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    temp.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write a temporary file for `{}`", path.display()))?;
    // An updated file keeps its permissions.
    if let Ok(metadata) = fs::metadata(path) {
        fs::set_permissions(temp.path(), metadata.permissions())
            .with_context(|| format!("cannot copy the permissions of `{}`", path.display()))?;
    }
    Ok(temp)
}

fn display(path: &Path) -> String {
    PathBuf::from(path).display().to_string()
}
