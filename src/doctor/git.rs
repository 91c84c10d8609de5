//! The `dotenv-git` check: `.env` holds the project's secrets, so git must
//! ignore it and it must never have been committed (asked of git itself:
//! `git check-ignore`, `git ls-files`).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use super::{Finding, Location, Project, project::DOTENV};

const DOTENV_GIT: &str = "dotenv-git";

pub fn dotenv(project: &Project) -> Vec<Finding> {
    let Some(toplevel) = git(&project.root, &["rev-parse", "--show-toplevel"]) else {
        return vec![
            Finding::warn(
                DOTENV_GIT,
                "not a git repository: cannot tell whether `.env` would be committed; keep it out of version control",
            )
            .at(Location::file(DOTENV)),
        ];
    };
    let mut findings = Vec::new();
    if git(&project.root, &["ls-files", "--", DOTENV]).is_some_and(|out| !out.trim().is_empty()) {
        findings.push(
            Finding::fail(DOTENV_GIT, "`.env` is committed: its secrets are in the history; run `git rm --cached .env`, commit, and rotate every secret it held")
                .at(Location::file(DOTENV)),
        );
    }
    // `--no-index`: whether a rule matches, even when the file is tracked.
    match git(
        &project.root,
        &["check-ignore", "-v", "--no-index", "--", DOTENV],
    ) {
        Some(out) => {
            if findings.is_empty() {
                let at = rule_location(&project.root, Path::new(toplevel.trim()), &out);
                findings.push(
                    Finding::pass(DOTENV_GIT, "`.env` is git-ignored and not committed").at(at),
                );
            }
        }
        None => findings.push(
            Finding::fail(
                DOTENV_GIT,
                "`.env` is not git-ignored: add a line `.env` to `.gitignore`",
            )
            .at(Location::file(".gitignore")),
        ),
    }
    findings
}

/// The `.gitignore` line of `check-ignore -v`'s `source:line:pattern\tpath`,
/// relative to the project when it is inside it.
fn rule_location(root: &Path, toplevel: &Path, out: &str) -> Option<Location> {
    let (rule, _) = out.trim_end().split_once('\t')?;
    let mut parts = rule.splitn(3, ':');
    let source = PathBuf::from(parts.next()?);
    let line = parts.next().and_then(|line| line.parse().ok());
    let absolute = toplevel.join(&source);
    let root = root.canonicalize().ok()?;
    let file = match absolute.canonicalize().ok()?.strip_prefix(&root) {
        Ok(relative) => crate::slash::slash_path(relative),
        Err(_) => absolute.display().to_string(),
    };
    Some(Location::line(file, line))
}

/// Runs git in `dir`; its stdout when it succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
