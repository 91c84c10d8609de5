//! The `generated` check: the files add-auth wrote are still there, and
//! those changed since are listed (their hashes are in `mcp-builder.json`),
//! with the lines that differ when what add-auth wrote can be rendered
//! again from the state's answers.

use std::collections::BTreeMap;

use similar::{DiffTag, TextDiff};

use super::{Finding, Location, Project};
use crate::{
    commands::Disk,
    digest::sha256,
    plan::{self, FileAction, STATE_FILE},
    resolve::{self, Answers},
    slash::slash_path,
};

const GENERATED: &str = "generated";

pub fn check(project: &Project) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut rendered: Option<BTreeMap<String, String>> = None;
    // Edits the user kept as theirs (`add-auth --adopt`): settled, not warned about.
    let yours = plan::adopt::recorded(&project.state_text).unwrap_or_default();
    let mut kept = 0;
    for (path, hash) in &project.generated {
        match project.file(path) {
            None => findings.push(
                Finding::fail(GENERATED, format!(
                    "`{path}` is missing: add-auth wrote it and the module needs it; run `mcp-builder add-auth` again to restore it"
                ))
                .at(Location::file(path)),
            ),
            Some(text)
                if yours
                    .get(path)
                    .is_some_and(|record| record.sha256 == sha256(&text)) =>
            {
                kept += 1;
            }
            Some(text) if sha256(&text) != *hash => {
                let rendered = rendered.get_or_insert_with(|| render_again(project));
                // The rendering is what add-auth wrote only if its hash says so.
                let written = rendered.get(path).filter(|written| sha256(written) == *hash);
                let lines = written.map(|written| changed_lines(written, &text));
                let (at, detail) = match lines.as_deref() {
                    Some([first, ..]) => (
                        Location::line(path, Some(first.0)),
                        format!(
                            "`{path}` was edited since add-auth wrote it, at {}: review the edit (add-auth --adopt keeps it, --force rewrites it)",
                            describe(lines.as_deref().unwrap_or_default())
                        ),
                    ),
                    _ => (
                        Location::file(path),
                        format!("`{path}` was edited since add-auth wrote it: review the edit (add-auth --adopt keeps it, --force rewrites it)"),
                    ),
                };
                findings.push(Finding::warn(GENERATED, detail).at(at));
            }
            Some(_) => {}
        }
    }
    if project.generated.is_empty() {
        findings.push(
            Finding::warn(
                GENERATED,
                format!(
                    "`{STATE_FILE}` records no generated files: run `mcp-builder add-auth` again"
                ),
            )
            .at(project.state_location("generator")),
        );
    } else if findings.is_empty() {
        findings.push(
            Finding::pass(
                GENERATED,
                if kept == 0 {
                    format!(
                        "the {} generated files are as add-auth wrote them",
                        project.generated.len()
                    )
                } else {
                    format!(
                        "the {} generated files are as add-auth wrote them or kept as yours ({kept} kept with `add-auth --adopt`)",
                        project.generated.len()
                    )
                },
            )
            .at(project.state_location("files")),
        );
    }
    findings
}

/// What add-auth would write now for each file, from the state's answers
/// (nothing asked, nothing written); empty when that cannot be worked out.
fn render_again(project: &Project) -> BTreeMap<String, String> {
    let Ok(found) = &project.inspected else {
        return BTreeMap::new();
    };
    let answers = Answers::from_state(Some(&project.auth));
    let Ok(resolution) = resolve::resolve_noted(found, &answers, true) else {
        return BTreeMap::new();
    };
    let Ok(planned) = plan::plan(found, &resolution.resolved, &Disk) else {
        return BTreeMap::new();
    };
    planned
        .changes
        .into_iter()
        .filter_map(|change| {
            let contents = match change.action {
                FileAction::Create { contents } => contents,
                FileAction::Update { after, .. } => after,
                FileAction::Conflict { desired, .. } => desired,
                _ => return None,
            };
            Some((slash_path(&change.path), contents))
        })
        .collect()
}

/// The 1-based line ranges of `now` that differ from `written` (a removal
/// is placed at the line after it).
fn changed_lines(written: &str, now: &str) -> Vec<(usize, usize)> {
    TextDiff::from_lines(written, now)
        .ops()
        .iter()
        .filter(|op| op.tag() != DiffTag::Equal)
        .map(|op| {
            let range = op.new_range();
            (range.start + 1, range.end.max(range.start + 1))
        })
        .collect()
}

/// `line 4`, `lines 10-12, 40`.
fn describe(ranges: &[(usize, usize)]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|&(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            }
        })
        .collect();
    let noun = if ranges.len() == 1 && ranges[0].0 == ranges[0].1 {
        "line"
    } else {
        "lines"
    };
    format!("{noun} {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_are_placed_in_the_current_text() {
        let written = "a\nb\nc\nd\n";
        assert_eq!(changed_lines(written, "a\nB\nc\nd\n"), [(2, 2)]);
        assert_eq!(changed_lines(written, "a\nb\nc\nd\ne\nf\n"), [(5, 6)]);
        assert_eq!(changed_lines(written, "a\nc\nd\n"), [(2, 2)]);
        assert_eq!(describe(&[(2, 2)]), "line 2");
        assert_eq!(describe(&[(2, 4), (9, 9)]), "lines 2-4, 9");
    }
}
