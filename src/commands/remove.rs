//! `mcp-builder auth remove`: takes out what add-auth put in, as recorded in
//! `mcp-builder.json`. plan (pure) -> diff | apply, like add-auth.

use std::{fs, io::Write};

use anyhow::Context;

use super::Disk;
use crate::{apply, plan::remove, prompt, resolve::UsageError};

/// Typed options of `auth remove`.
pub struct Options {
    pub path: std::path::PathBuf,
    pub dry_run: bool,
    pub yes: bool,
    pub force: bool,
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
    let mut err = std::io::stderr().lock();
    for warning in &plan.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    if options.dry_run {
        print!("{}", apply::diff_for_stdout(&plan));
        for line in apply::preview_lines(&plan, options.force) {
            writeln!(err, "{line}")?;
        }
        writeln!(err, "--dry-run: no changes were made")?;
        return Ok(true);
    }
    if plan.is_noop() {
        writeln!(err, "nothing to do: add-auth's changes are already out")?;
        return Ok(true);
    }
    // Said before the question, so that the user can stop and commit first.
    if let Some(warning) = apply::uncommitted_changes_warning(&root) {
        writeln!(err, "warning: {warning}")?;
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
                return Ok(true);
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
    Ok(true)
}
