//! Generated files the user owns: their version of a generated file they
//! changed, kept ("adopted") and recorded in `mcp-builder.json`.
//!
//! The record (`generator.yours`, one entry per file) holds the hash of the
//! user's version, the hash of the generated text it was kept against, and
//! the few line edits that turn the user's version back into that generated
//! text (`to_generated`: usually a handful of lines, never the whole file).
//! While the file is still the user's version and the template still
//! generates the same text, the file is settled ([`FileAction::Kept`]); when
//! the template's output changes, the old generated text is rebuilt from
//! the record, so that the update can be shown as the template's own diff.
//! Pure like the rest of `plan`: nothing here touches the disk.

use std::{collections::BTreeMap, path::Path};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use similar::{Algorithm, DiffTag};

use super::{FileAction, FileChange, Plan, STATE_FILE, Snapshot, sha256, slash_path};

/// One recorded file: see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yours {
    /// The hash of the user's version.
    pub sha256: String,
    /// The hash of the generated text it was kept against.
    pub generated: String,
    /// `to_generated`, as recorded (applied by [`Yours::generated_text`]).
    edits: Value,
}

impl Yours {
    /// The record for keeping `current` against the generated `desired`.
    pub fn new(current: &str, desired: &str) -> Self {
        Self {
            sha256: sha256(current),
            generated: sha256(desired),
            edits: edits(current, desired),
        }
    }

    /// The generated text this version was kept against, rebuilt from
    /// `current` (the user's version); `None` when `current` is not that
    /// version or the record does not rebuild the recorded hash.
    pub fn generated_text(&self, current: &str) -> Option<String> {
        if sha256(current) != self.sha256 {
            return None;
        }
        let text = apply_edits(current, &self.edits)?;
        (sha256(&text) == self.generated).then_some(text)
    }

    fn to_json(&self) -> Value {
        json!({
            "sha256": self.sha256,
            "generated": self.generated,
            "to_generated": self.edits,
        })
    }
}

/// The records of `generator.yours` in a state file's text.
pub fn recorded(state: &str) -> Result<BTreeMap<String, Yours>> {
    let value: Value = serde_json::from_str(state)
        .with_context(|| format!("`{STATE_FILE}` is not valid JSON\nhelp: fix or remove it"))?;
    let records = value.pointer("/generator/yours").and_then(Value::as_object);
    Ok(records
        .into_iter()
        .flatten()
        .filter_map(|(path, record)| {
            let text = |key: &str| record.get(key).and_then(Value::as_str).map(str::to_owned);
            Some((
                path.clone(),
                Yours {
                    sha256: text("sha256")?,
                    generated: text("generated")?,
                    edits: record.get("to_generated").cloned().unwrap_or(json!([])),
                },
            ))
        })
        .collect())
}

/// `generator.yours` for the records in `records` (`None` when empty).
pub fn to_json(records: &BTreeMap<String, Yours>) -> Option<Value> {
    (!records.is_empty()).then(|| {
        Value::Object(
            records
                .iter()
                .map(|(path, record)| (path.clone(), record.to_json()))
                .collect(),
        )
    })
}

/// Which changed generated files `--adopt` keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// `--adopt` alone: every generated file the user changed.
    All,
    /// `--adopt FILE`..: these (paths relative to the package root).
    Files(Vec<String>),
}

impl Which {
    /// From the values of `--adopt` (an empty value is `--adopt` alone);
    /// `None` when the flag was not given.
    pub fn from_flags(values: &[String]) -> Option<Self> {
        if values.is_empty() {
            None
        } else if values.iter().any(String::is_empty) {
            Some(Self::All)
        } else {
            Some(Self::Files(values.to_vec()))
        }
    }
}

/// Keeps the user's version of the changed generated files `which` names:
/// their conflicts become [`FileAction::Kept`] and the state file's change
/// records them. Returns a note for each named file there was nothing to
/// keep of; an error naming the files that can be kept when a named file is
/// not a generated file.
pub fn adopt(plan: &mut Plan, snapshot: &dyn Snapshot, which: &Which) -> Result<Vec<String>> {
    let state = state_text(plan, snapshot)?
        .with_context(|| format!("the plan has no `{STATE_FILE}` to record kept files in"))?;
    let generated = super::recorded_hashes(&state)?;
    let named = |key: &str| match which {
        Which::All => true,
        Which::Files(files) => files.iter().any(|file| same_file(&plan.root, file, key)),
    };
    let mut kept = BTreeMap::new();
    let mut changed = Vec::new();
    for change in &plan.changes {
        if let FileAction::Conflict {
            current, desired, ..
        } = &change.action
        {
            let key = slash_path(&change.path);
            changed.push(format!("`{key}`"));
            if named(&key) {
                kept.insert(key, Yours::new(current, desired));
            }
        }
    }
    let mut notes = Vec::new();
    if let Which::Files(files) = which {
        for file in files {
            let Some(key) = generated
                .keys()
                .find(|key| same_file(&plan.root, file, key))
            else {
                let help = if changed.is_empty() {
                    "every generated file is as add-auth wrote it: there is nothing to keep"
                        .to_string()
                } else {
                    format!(
                        "name one of the generated files you changed ({}), or pass --adopt alone for all of them",
                        changed.join(", ")
                    )
                };
                return Err(crate::resolve::UsageError(format!(
                    "--adopt {file}: `{file}` is not a file add-auth generates\nhelp: {help}"
                ))
                .into());
            };
            if !kept.contains_key(key) {
                let kept_already = plan.changes.iter().any(|change| {
                    change.action == FileAction::Kept && slash_path(&change.path) == *key
                });
                notes.push(if kept_already {
                    format!("`{key}` is already kept as yours")
                } else {
                    format!(
                        "`{key}` is as add-auth generates it: there is nothing of yours to keep"
                    )
                });
            }
        }
    }
    if kept.is_empty() {
        return Ok(notes);
    }
    for change in &mut plan.changes {
        if kept.contains_key(&slash_path(&change.path)) {
            change.action = FileAction::Kept;
        }
    }
    record(plan, snapshot, &state, kept)?;
    Ok(notes)
}

/// Whether `given` (as the user typed it) names `key`: relative to the
/// package root, with or without `./`, or a path that resolves there.
fn same_file(root: &Path, given: &str, key: &str) -> bool {
    let plain = given.trim_start_matches("./").replace('\\', "/");
    if plain == key {
        return true;
    }
    let resolved = std::fs::canonicalize(given).ok();
    let root = std::fs::canonicalize(root).ok();
    match (resolved, root) {
        (Some(resolved), Some(root)) => resolved
            .strip_prefix(&root)
            .is_ok_and(|relative| slash_path(relative) == key),
        _ => false,
    }
}

/// The state file's planned text (what the run writes, or what is there
/// when it is unchanged: read through `snapshot`).
fn state_text(plan: &Plan, snapshot: &dyn Snapshot) -> Result<Option<String>> {
    let Some(change) = plan
        .changes
        .iter()
        .rev()
        .find(|c| c.path == Path::new(STATE_FILE))
    else {
        return Ok(None);
    };
    Ok(match &change.action {
        FileAction::Create { contents } => Some(contents.clone()),
        FileAction::Update { after, .. } => Some(after.clone()),
        FileAction::Identical => snapshot.read(&plan.root.join(STATE_FILE))?,
        _ => None,
    })
}

/// Adds `kept` to `generator.yours` of the planned state file `text`.
fn record(
    plan: &mut Plan,
    snapshot: &dyn Snapshot,
    text: &str,
    kept: BTreeMap<String, Yours>,
) -> Result<()> {
    let before = snapshot.read(&plan.root.join(STATE_FILE))?;
    let mut state: Value = serde_json::from_str(text).context("the planned state is JSON")?;
    let mut records = recorded(text)?;
    records.extend(kept);
    state["generator"]["yours"] = to_json(&records).expect("at least one record");
    let mut after = serde_json::to_string_pretty(&state).expect("a JSON value always serializes");
    after.push('\n');
    let index = plan
        .changes
        .iter()
        .rposition(|c| c.path == Path::new(STATE_FILE))
        .expect("the state file is planned");
    plan.changes[index] = FileChange::new(STATE_FILE, before, after);
    Ok(())
}

/// Lines with their line breaks (the last may have none).
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The edits that turn `from` into `to`: `{line, remove, insert}` each,
/// `line` 1-based in `from`, in order.
fn edits(from: &str, to: &str) -> Value {
    let (old, new) = (lines(from), lines(to));
    let ops = similar::capture_diff_slices(Algorithm::Myers, &old, &new);
    Value::Array(
        ops.iter()
            .filter(|op| op.tag() != DiffTag::Equal)
            .map(|op| {
                let (removed, inserted) = (op.old_range(), op.new_range());
                json!({
                    "line": removed.start + 1,
                    "remove": removed.len(),
                    "insert": new[inserted].to_vec(),
                })
            })
            .collect(),
    )
}

/// Applies [`edits`] to `from`; `None` when they do not fit it.
fn apply_edits(from: &str, edits: &Value) -> Option<String> {
    let old = lines(from);
    let mut out = String::with_capacity(from.len());
    let mut next = 0; // the first line of `old` not yet copied
    for edit in edits.as_array()? {
        let start = usize::try_from(edit.get("line")?.as_u64()?.checked_sub(1)?).ok()?;
        let remove = usize::try_from(edit.get("remove")?.as_u64()?).ok()?;
        if start < next || start.checked_add(remove)? > old.len() {
            return None;
        }
        out.extend(old[next..start].iter().copied());
        for line in edit.get("insert")?.as_array()? {
            out.push_str(line.as_str()?);
        }
        next = start + remove;
    }
    out.extend(old[next..].iter().copied());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_rebuild_the_generated_text_exactly() {
        let generated = "a\nb\nc\nd";
        for yours in [
            "a\nb\nc\nd\n// mine\n",
            "// top\na\nB\nc\n",
            "",
            "a\nb\nc\nd",
            "x\ny\n",
        ] {
            let record = Yours::new(yours, generated);
            assert_eq!(
                record.generated_text(yours).as_deref(),
                Some(generated),
                "{yours:?}"
            );
            assert_eq!(record.generated_text("other\n"), None);
        }
        // An appended comment is recorded as one small edit, not the file.
        assert_eq!(
            Yours::new("a\nb\n// mine\n", "a\nb\n").to_json()["to_generated"],
            json!([{ "line": 3, "remove": 1, "insert": [] }])
        );
    }

    #[test]
    fn a_record_that_does_not_rebuild_its_hash_rebuilds_nothing() {
        let mut record = Yours::new("a\n// mine\n", "a\n");
        record.edits = json!([{ "line": 2, "remove": 1, "insert": ["b\n"] }]);
        assert_eq!(record.generated_text("a\n// mine\n"), None);
        record.edits = json!([{ "line": 9, "remove": 1, "insert": [] }]);
        assert_eq!(record.generated_text("a\n// mine\n"), None);
    }

    #[test]
    fn records_round_trip_through_the_state_file() {
        let mut records = BTreeMap::new();
        records.insert("src/auth/policy.rs".to_string(), Yours::new("x\n", "y\n"));
        let state = json!({ "generator": { "yours": to_json(&records) } }).to_string();
        assert_eq!(recorded(&state).unwrap(), records);
        assert_eq!(to_json(&BTreeMap::new()), None);
        assert!(recorded("{}").unwrap().is_empty());
    }

    #[test]
    fn adopt_flag_values() {
        assert_eq!(Which::from_flags(&[]), None);
        assert_eq!(Which::from_flags(&["".into()]), Some(Which::All));
        assert_eq!(
            Which::from_flags(&["src/auth/a.rs".into()]),
            Some(Which::Files(vec!["src/auth/a.rs".into()]))
        );
    }
}
