//! `mcp-builder auth remove`: takes out what add-auth put in, as recorded in
//! `mcp-builder.json`. plan (pure) -> diff | apply, like add-auth.

use std::{fs, io::Write};

use anyhow::Context;

use serde_json::json;

use super::{
    Disk,
    report::{self, Diffs, Said},
};
use crate::{apply, plan::remove, prompt, resolve::UsageError};

/// Typed options of `auth remove`.
pub struct Options {
    pub path: std::path::PathBuf,
    pub dry_run: bool,
    pub yes: bool,
    pub force: bool,
    /// One JSON document on stdout ([`report`]).
    pub json: bool,
}

/// Runs the command.
pub fn run(options: Options) -> anyhow::Result<bool> {
    let root = match fs::canonicalize(&options.path) {
        Ok(root) => root,
        // A --path that names nothing: a usage error, as in every command.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(UsageError(format!(
                "`{}` does not exist\nhelp: pass --path with the package add-auth protected",
                options.path.display()
            ))
            .into());
        }
        Err(err) => {
            return Err(err).with_context(|| format!("cannot open `{}`", options.path.display()));
        }
    };
    let plan = remove::plan_remove(&root, &Disk, options.force)?;
    let mut said = Said::default();
    for warning in &plan.warnings {
        said.warning(warning);
    }
    // The document, when --json asked for one; `outcome` names how the run ended.
    let json_out = |outcome: &str, said: Said, diffs: Diffs| -> anyhow::Result<bool> {
        if options.json {
            let mode = if options.dry_run { "dry-run" } else { "apply" };
            let document = json!({
                "command": "auth remove",
                "path": root.display().to_string(),
                "mode": mode,
                "outcome": outcome,
                "changes": !plan.is_noop(),
            });
            report::print(document, report::files(&plan, options.force, diffs), said)?;
        }
        Ok(true)
    };
    let mut err = std::io::stderr().lock();
    if options.dry_run {
        if !options.json {
            print!("{}", apply::diff_for_stdout(&plan));
        }
        for line in apply::preview_lines(&plan, options.force) {
            writeln!(err, "{line}")?;
        }
        writeln!(err, "--dry-run: no changes were made")?;
        return json_out("dry run", said, Diffs::All);
    }
    if plan.is_noop() {
        writeln!(err, "nothing to do: add-auth's changes are already out")?;
        return json_out("nothing to do", said, Diffs::Skipped);
    }
    // Said before the question, so that the user can stop and commit first.
    if let Some(warning) = apply::uncommitted_changes_warning(&root) {
        said.warning(warning);
    }
    if !options.yes {
        let confirmed = prompt::is_interactive()
            && dialoguer::Confirm::new()
                .with_prompt(format!(
                    "Remove auth from `{}` ({} files change)?",
                    root.display(),
                    plan.changes
                        .iter()
                        .filter(|c| c.action != crate::plan::FileAction::Identical)
                        .count()
                ))
                .default(false)
                .interact()
                .context("cannot read the answer")?;
        if !confirmed {
            if prompt::is_interactive() {
                writeln!(err, "nothing was changed")?;
                return json_out("declined", said, Diffs::Skipped);
            }
            return Err(UsageError(
                "auth remove writes files only after a confirmation in a terminal, or with --yes\nhelp: run it with --dry-run to see the changes, then with --yes to apply them".into(),
            )
            .into());
        }
    }
    apply::apply(&plan, options.force)?;
    for line in apply::status_lines(&plan, options.force) {
        writeln!(err, "{line}")?;
    }
    writeln!(
        err,
        "\nauth was removed: the MCP endpoint no longer asks for tokens."
    )?;
    drop(err);
    json_out("removed", said, Diffs::Skipped)
}
