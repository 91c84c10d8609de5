//! Diff, check and apply: the three ways of consuming a [`Plan`].
//!
//! This is the only module that writes to the user's project. Apply writes
//! every changed file to a temporary file beside it first and renames them
//! into place (or deletes, for `auth remove`) only once all were written, the
//! state file last; if one fails, the files already replaced or deleted are
//! put back, so a failure part-way leaves the project as it was.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;
use similar::TextDiff;

use crate::plan::{FileAction, FileChange, Plan};

/// One status line per file, cargo style (`     Created src/auth/mod.rs`):
/// what was done.
pub fn status_lines(plan: &Plan, force: bool) -> Vec<String> {
    lines(plan, force, false)
}

/// [`status_lines`] for a preview (`--dry-run`, `--check`): what would be
/// done (`Would create src/auth/mod.rs`).
pub fn preview_lines(plan: &Plan, force: bool) -> Vec<String> {
    lines(plan, force, true)
}

fn lines(plan: &Plan, force: bool, preview: bool) -> Vec<String> {
    plan.changes
        .iter()
        .map(|change| {
            let (done, would) = match &change.action {
                FileAction::Create { .. } => ("Created", "Would create"),
                FileAction::Update { .. } => ("Updated", "Would update"),
                FileAction::Identical => ("Unchanged", "Unchanged"),
                FileAction::Kept => ("Kept", "Kept"),
                FileAction::Conflict { .. } if force => ("Overwrote", "Would overwrite"),
                FileAction::Conflict { .. } => ("Skipped", "Would skip"),
                FileAction::Delete { .. } => ("Deleted", "Would delete"),
            };
            let verb = if preview { would } else { done };
            let note = match &change.action {
                FileAction::Kept => " (yours, as recorded in mcp-builder.json)",
                FileAction::Conflict {
                    upstream: Some(_), ..
                } if !force => {
                    " (yours, but the generated code changed since you kept it: --dry-run shows the template's change; --adopt FILE keeps yours again, --force overwrites it)"
                }
                FileAction::Conflict { .. } if !force => {
                    " (you changed it since it was generated; --adopt FILE keeps yours, --force overwrites it, --dry-run shows the diff)"
                }
                _ => "",
            };
            format!("{verb:>12} {}{note}", display(&change.path))
        })
        .collect()
}

/// Unified diffs of every change, for `--dry-run`.
pub fn diff(plan: &Plan) -> String {
    plan.changes.iter().map(change_diff).collect()
}

/// The unified diff of one change (empty for an unchanged file). For a
/// file the user kept whose generated code changed since, the template's
/// change: from the generated text they kept it against to the new one.
pub fn change_diff(change: &FileChange) -> String {
    let name = display(&change.path);
    let (before, after) = match &change.action {
        FileAction::Create { contents } => ("", contents.as_str()),
        FileAction::Update { before, after } => (before.as_str(), after.as_str()),
        FileAction::Conflict {
            desired,
            upstream: Some(generated),
            ..
        } => {
            return TextDiff::from_lines(generated.as_str(), desired.as_str())
                .unified_diff()
                .header(
                    &format!("a/{name}\t(generated when you kept yours)"),
                    &format!("b/{name}\t(generated now)"),
                )
                .to_string();
        }
        FileAction::Conflict {
            current, desired, ..
        } => (current.as_str(), desired.as_str()),
        FileAction::Delete { before } => (before.as_str(), ""),
        FileAction::Identical | FileAction::Kept => return String::new(),
    };
    let old = match &change.action {
        FileAction::Create { .. } => "/dev/null".to_string(),
        _ => format!("a/{name}"),
    };
    let new = match &change.action {
        FileAction::Delete { .. } => "/dev/null".to_string(),
        _ => format!("b/{name}"),
    };
    TextDiff::from_lines(before, after)
        .unified_diff()
        .header(&old, &new)
        .to_string()
}

pub fn diff_for_stdout(plan: &Plan) -> String {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let text = diff(plan);
    if no_color || !std::io::stdout().is_terminal() {
        text
    } else {
        colour(&text)
    }
}

/// Colours a unified diff: headers bold, hunks cyan, removals red,
/// additions green.
fn colour(diff: &str) -> String {
    use console::Style;
    let (bold, cyan, red, green) = (
        Style::new().bold().force_styling(true),
        Style::new().cyan().force_styling(true),
        Style::new().red().force_styling(true),
        Style::new().green().force_styling(true),
    );
    diff.split_inclusive('\n')
        .map(|line| {
            let (text, eol) = match line.strip_suffix('\n') {
                Some(text) => (text, "\n"),
                None => (line, ""),
            };
            let style = if text.starts_with("--- ") || text.starts_with("+++ ") {
                &bold
            } else if text.starts_with("@@") {
                &cyan
            } else if text.starts_with('-') {
                &red
            } else if text.starts_with('+') {
                &green
            } else {
                return line.to_owned();
            };
            format!("{}{eol}", style.apply_to(text))
        })
        .collect()
}

/// A warning when the project has uncommitted changes (`git status
/// --porcelain` run in `root` prints anything, anywhere in the repository:
/// a workspace root's manifest may be edited too); `None` without git,
/// outside a repository, or when the tree is clean. Never an error.
pub fn uncommitted_changes_warning(root: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .arg("status")
        .arg("--porcelain")
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() || output.stdout.is_empty() {
        return None;
    }
    let files = output
        .stdout
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .count();
    Some(format!(
        "`{}` has uncommitted changes ({files} file{}); commit or stash them first to review this run's changes on their own",
        root.display(),
        if files == 1 { "" } else { "s" }
    ))
}

/// Writes the plan. Conflicting files are skipped unless `force`. Deleted
/// files go in plan order with the renames; a directory a deletion leaves
/// empty is removed too.
pub fn apply(plan: &Plan, force: bool) -> anyhow::Result<()> {
    let writes: Vec<(&FileChange, Option<&str>)> = plan
        .changes
        .iter()
        .filter_map(|change| match &change.action {
            FileAction::Create { contents } => Some((change, Some(contents.as_str()))),
            FileAction::Update { after, .. } => Some((change, Some(after.as_str()))),
            FileAction::Conflict { desired, .. } if force => Some((change, Some(desired.as_str()))),
            FileAction::Delete { .. } => Some((change, None)),
            FileAction::Conflict { .. } | FileAction::Identical | FileAction::Kept => None,
        })
        .collect();

    // Phase 1: everything to temporary files; any failure drops them all.
    let mut staged = Vec::new();
    for (change, contents) in writes {
        let path = plan.root.join(&change.path);
        let temp = match contents {
            Some(contents) => Some(stage(&path, contents)?),
            None => None,
        };
        staged.push((temp, path, change));
    }
    // Phase 2: rename into place (or delete), in plan order (the state file
    // is last). If one fails, the files already replaced are put back.
    let mut done: Vec<(&Path, &FileChange)> = Vec::new();
    for (temp, path, change) in &staged {
        let result = match temp {
            Some(temp) => fs::rename(temp.path(), path),
            None => fs::remove_file(path),
        };
        if let Err(err) = result {
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
    for (path, change) in &done {
        if matches!(change.action, FileAction::Delete { .. })
            && let Some(dir) = path.parent()
        {
            // Fails, as it should, while the directory holds anything else.
            let _ = fs::remove_dir(dir);
        }
    }
    // The temporary files were renamed away; dropping them removes nothing.
    drop(done);
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
            FileAction::Conflict {
                current: before, ..
            }
            | FileAction::Delete { before } => {
                let temp = stage(path, before)?;
                temp.persist(path)
                    .with_context(|| format!("cannot restore `{}`", path.display()))?;
            }
            FileAction::Identical | FileAction::Kept => {}
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
    fn deletes_are_applied_and_restored_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("gen")).unwrap();
        fs::write(dir.path().join("gen/a.rs"), "a\n").unwrap();
        fs::write(dir.path().join("kept.txt"), "before\n").unwrap();
        fs::create_dir_all(dir.path().join("blocked/inside")).unwrap();
        let delete = |path: &str, before: &str| FileChange {
            path: path.into(),
            action: FileAction::Delete {
                before: before.into(),
            },
        };
        let failing = Plan {
            root: dir.path().to_path_buf(),
            changes: vec![
                delete("gen/a.rs", "a\n"),
                FileChange::new("kept.txt", Some("before\n".into()), "after\n".into()),
                FileChange::new("blocked", None, "state\n".into()),
            ],
            warnings: vec![],
        };
        let err = apply(&failing, false).unwrap_err();
        assert!(format!("{err:#}").contains("cannot write `"), "{err:#}");
        assert_eq!(
            fs::read_to_string(dir.path().join("gen/a.rs")).unwrap(),
            "a\n"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("kept.txt")).unwrap(),
            "before\n"
        );

        let plan = Plan {
            changes: failing.changes[..2].to_vec(),
            ..failing
        };
        apply(&plan, false).unwrap();
        assert!(
            !dir.path().join("gen").exists(),
            "the emptied directory goes too"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("kept.txt")).unwrap(),
            "after\n"
        );
        assert_eq!(
            diff(&plan).lines().take(2).collect::<Vec<_>>(),
            ["--- a/gen/a.rs", "+++ /dev/null"]
        );
        assert_eq!(status_lines(&plan, false)[0], "     Deleted gen/a.rs");
    }

    #[test]
    fn colour_only_marks_diff_lines() {
        let coloured = colour("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same\n");
        assert_eq!(
            console::strip_ansi_codes(&coloured),
            "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same\n"
        );
        assert!(
            coloured.contains("\u{1b}[31m-old\u{1b}[0m\n"),
            "{coloured:?}"
        );
        assert!(coloured.ends_with("\n same\n"));
    }

    #[test]
    fn git_warning_only_for_uncommitted_changes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            uncommitted_changes_warning(dir.path()),
            None,
            "not a repository"
        );
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .output();
            status.map(|out| out.status.success()).unwrap_or(false)
        };
        if !git(&["init", "-q"]) {
            return; // no git here: nothing to warn about, nothing to test
        }
        assert_eq!(uncommitted_changes_warning(dir.path()), None, "clean");
        fs::write(dir.path().join("a.txt"), "a\n").unwrap();
        let warning = uncommitted_changes_warning(dir.path()).unwrap();
        assert!(warning.ends_with("has uncommitted changes (1 file); commit or stash them first to review this run's changes on their own"), "{warning}");
        assert!(git(&["add", "."]) && git(&["commit", "-qm", "x"]));
        assert_eq!(uncommitted_changes_warning(dir.path()), None, "committed");
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
                        upstream: None,
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
