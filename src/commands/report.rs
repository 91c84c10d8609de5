//! The `--json` document of `add-auth` and `auth remove`: each file's
//! action, the warnings and the notes of the run, as one JSON document on
//! stdout. The human lines stay on stderr either way; only what a run
//! would print on stdout (the diffs) moves into the document.

use std::io::Write;

use serde_json::{Value, json};

use crate::{
    apply,
    plan::{FileAction, Plan},
    slash::slash_path,
};

/// What a run said besides its file actions: printed on stderr as it
/// happens, and kept for the document.
#[derive(Debug, Default)]
pub struct Said {
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

impl Said {
    /// `note: ...` on stderr, kept.
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("note: {note}");
        self.notes.push(note);
    }

    /// `warning: ...` on stderr, kept.
    pub fn warning(&mut self, warning: impl Into<String>) {
        let warning = warning.into();
        eprintln!("warning: {warning}");
        self.warnings.push(warning);
    }
}

/// Which diffs the document carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diffs {
    /// Every change's (`--dry-run`, `--check`).
    All,
    /// Only those of generated files skipped because the user changed them
    /// (a run that wrote).
    Skipped,
}

/// One entry per file of the plan: `{"path", "action"}`, where action is
/// create, update, delete, unchanged, kept (the user's version, recorded)
/// or conflict (the user changed a generated file; `"resolution"` says
/// whether it is skipped or overwritten, `"kept_before"` whether the user
/// had kept it and the generated code changed since), with `"diff"` (a
/// unified diff) as `diffs` asks.
pub fn files(plan: &Plan, force: bool, diffs: Diffs) -> Vec<Value> {
    plan.changes
        .iter()
        .map(|change| {
            let action = match &change.action {
                FileAction::Create { .. } => "create",
                FileAction::Update { .. } => "update",
                FileAction::Delete { .. } => "delete",
                FileAction::Identical => "unchanged",
                FileAction::Kept => "kept",
                FileAction::Conflict { .. } => "conflict",
            };
            let mut entry = json!({ "path": slash_path(&change.path), "action": action });
            let skipped = matches!(change.action, FileAction::Conflict { .. }) && !force;
            if let FileAction::Conflict { upstream, .. } = &change.action {
                entry["resolution"] = json!(if force { "overwrite" } else { "skip" });
                entry["kept_before"] = json!(upstream.is_some());
            }
            if diffs == Diffs::All || skipped {
                let diff = apply::change_diff(change);
                if !diff.is_empty() {
                    entry["diff"] = json!(diff);
                }
            }
            entry
        })
        .collect()
}

/// Prints `document` completed with `files`, `warnings` and `notes`, as one
/// pretty JSON document on stdout.
pub fn print(mut document: Value, files: Vec<Value>, said: Said) -> anyhow::Result<()> {
    document["files"] = json!(files);
    document["warnings"] = json!(said.warnings);
    document["notes"] = json!(said.notes);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    Ok(())
}

/// The document of a run that failed: `{"error", "exit_code"}`, so that a
/// script reading stdout always gets one JSON document.
pub fn print_error(err: &anyhow::Error, exit_code: u8) {
    let causes: Vec<String> = err.chain().skip(1).map(ToString::to_string).collect();
    let document = json!({
        "error": err.to_string(),
        "causes": causes,
        "exit_code": exit_code,
    });
    if let Ok(text) = serde_json::to_string_pretty(&document) {
        // stdout may be closed already (the reader went away): nothing to do.
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FileChange;

    #[test]
    fn files_name_each_action_and_carry_the_diffs_asked_for() {
        let plan = Plan {
            root: "/p".into(),
            changes: vec![
                FileChange::new("src/auth/mod.rs", None, "new\n".into()),
                FileChange::new("Cargo.toml", Some("a\n".into()), "a\n".into()),
                FileChange {
                    path: "src/auth/policy.rs".into(),
                    action: FileAction::Conflict {
                        current: "mine\n".into(),
                        desired: "generated\n".into(),
                        upstream: None,
                    },
                },
            ],
            warnings: vec![],
        };
        let all = files(&plan, false, Diffs::All);
        assert_eq!(all[0]["action"], "create");
        assert!(all[0]["diff"].as_str().unwrap().contains("+new\n"));
        assert_eq!(all[1], json!({"path": "Cargo.toml", "action": "unchanged"}));
        assert_eq!(all[2]["resolution"], "skip");
        assert_eq!(all[2]["kept_before"], false);

        let skipped = files(&plan, false, Diffs::Skipped);
        assert!(skipped[0].get("diff").is_none(), "{}", skipped[0]);
        assert!(
            skipped[2]["diff"]
                .as_str()
                .unwrap()
                .contains("+generated\n")
        );

        let forced = files(&plan, true, Diffs::Skipped);
        assert_eq!(forced[2]["resolution"], "overwrite");
        assert!(forced[2].get("diff").is_none());
    }
}
