//! The `generated` check: the files add-auth wrote are still there, and
//! those changed since are listed (their hashes are in `mcp-builder.json`).

use super::{Finding, Location, Project};
use crate::plan::{STATE_FILE, sha256};

const GENERATED: &str = "generated";

pub fn check(project: &Project) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (path, hash) in &project.generated {
        match project.file(path) {
            None => findings.push(
                Finding::fail(GENERATED, format!(
                    "`{path}` is missing: add-auth wrote it and the module needs it; run `mcp-builder add-auth` again to restore it"
                ))
                .at(Location::file(path)),
            ),
            Some(text) if sha256(&text) != *hash => findings.push(
                Finding::warn(GENERATED, format!(
                    "`{path}` was edited since add-auth wrote it: review the edit (add-auth --force rewrites it)"
                ))
                .at(Location::file(path)),
            ),
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
                format!(
                    "the {} generated files are as add-auth wrote them",
                    project.generated.len()
                ),
            )
            .at(project.state_location("files")),
        );
    }
    findings
}
