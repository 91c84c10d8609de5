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
        staged.push((stage(&path, contents)?, path, change));
    }
    // Phase 2: rename into place, in plan order (the state file is last).
    // If a rename fails, the files already replaced are put back.
    let mut done: Vec<(&Path, &FileChange)> = Vec::new();
    for (temp, path, change) in &staged {
        if let Err(err) = fs::rename(temp.path(), path) {
            let restored = restore(&done);
            let outcome = match restored {
                Ok(()) => "the files written before it were restored".to_string(),
                Err(restore_err) => {
                    format!("restoring the files written before it failed too: {restore_err:#}")
                }
            };
            return Err(err)
                .with_context(|| format!("cannot write `{}`; {outcome}", path.display()));
        }
        done.push((path, change));
    }
    // The temporary files were renamed away; dropping them removes nothing.
    drop(staged);
    Ok(())
}

/// Puts back what `done` replaced: the old contents of updated files, and
/// no file where one was created.
fn restore(done: &[(&Path, &FileChange)]) -> anyhow::Result<()> {
    for (path, change) in done.iter().rev() {
        match &change.action {
            FileAction::Create { .. } => fs::remove_file(path)
                .with_context(|| format!("cannot remove `{}`", path.display()))?,
            FileAction::Update { before, .. } => {
                let temp = stage(path, before)?;
                temp.persist(path)
                    .with_context(|| format!("cannot restore `{}`", path.display()))?;
            }
            FileAction::Conflict { current, .. } => {
                let temp = stage(path, current)?;
                temp.persist(path)
                    .with_context(|| format!("cannot restore `{}`", path.display()))?;
            }
            FileAction::Identical => {}
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_puts_back_every_file_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("kept.txt"), "before\n").unwrap();
        // A non-empty directory where the last file should go: its rename fails.
        fs::create_dir_all(dir.path().join("blocked/inside")).unwrap();
        let plan = Plan {
            root: dir.path().to_path_buf(),
            changes: vec![
                FileChange::new("new.txt", None, "new\n".into()),
                FileChange::new("kept.txt", Some("before\n".into()), "after\n".into()),
                FileChange::new("blocked", None, "state\n".into()),
            ],
            warnings: vec![],
        };
        let err = apply(&plan, false).unwrap_err();
        assert!(
            format!("{err:#}").contains("the files written before it were restored"),
            "{err:#}"
        );
        assert!(!dir.path().join("new.txt").exists());
        assert_eq!(
            fs::read_to_string(dir.path().join("kept.txt")).unwrap(),
            "before\n"
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with(".mcp-builder-"))
            .collect();
        assert_eq!(
            leftovers,
            Vec::<String>::new(),
            "temporary files are removed"
        );
    }

    #[test]
    fn apply_writes_creates_and_updates_and_skips_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("old.txt"), "old\n").unwrap();
        fs::write(dir.path().join("mine.txt"), "edited by the user\n").unwrap();
        let plan = Plan {
            root: dir.path().to_path_buf(),
            changes: vec![
                FileChange::new("sub/new.txt", None, "new\n".into()),
                FileChange::new("old.txt", Some("old\n".into()), "new\n".into()),
                FileChange {
                    path: "mine.txt".into(),
                    action: FileAction::Conflict {
                        current: "edited by the user\n".into(),
                        desired: "generated\n".into(),
                    },
                },
            ],
            warnings: vec![],
        };
        apply(&plan, false).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("sub/new.txt")).unwrap(),
            "new\n"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("old.txt")).unwrap(),
            "new\n"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("mine.txt")).unwrap(),
            "edited by the user\n"
        );
        apply(&plan, true).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("mine.txt")).unwrap(),
            "generated\n"
        );
    }
}
