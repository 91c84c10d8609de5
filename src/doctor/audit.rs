//! The `audit` check: the generated layer still writes a record for every
//! decision, and `MCP_AUTH_AUDIT_LOG` does not throw the records away.

use super::{Finding, Location, Project, text::line_where};

const AUDIT: &str = "audit";

/// Where records are thrown away rather than kept.
const DISCARDING: &[&str] = &["/dev/null", "nul", "nul:"];

/// What each generated file must still contain for records to be written.
const WIRING: &[(&str, &str)] = &[
    ("audit.rs", "pub fn open("),
    ("mod.rs", "audit::open("),
    ("middleware.rs", ".allowed("),
    ("middleware.rs", ".denied("),
];

pub fn check(project: &Project) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, needle) in WIRING {
        let Some(path) = project.generated_path(name) else {
            continue;
        };
        let Some(text) = project.file(path) else {
            findings.push(
                Finding::fail(
                    AUDIT,
                    format!("`{path}` is missing: no audit records are written"),
                )
                .at(Location::file(path)),
            );
            continue;
        };
        if !text.contains(needle) {
            findings.push(
                Finding::fail(AUDIT, format!(
                    "`{path}` no longer calls `{needle}`: decisions are not all recorded; restore it (`mcp-builder add-auth --force`)"
                ))
                .at(Location::file(path)),
            );
        }
    }
    let setting = project.setting("MCP_AUTH_AUDIT_LOG");
    match &setting {
        Some(setting)
            if DISCARDING.contains(&setting.value.trim().to_ascii_lowercase().as_str()) =>
        {
            findings.push(
                Finding::fail(AUDIT, format!(
                    "`MCP_AUTH_AUDIT_LOG={}` throws every audit record away: unset it (records go to stderr) or name a file",
                    setting.value.trim()
                ))
                .at(setting.at.clone()),
            );
        }
        _ => {}
    }
    if findings.is_empty() {
        let finding = match setting {
            Some(setting) => Finding::pass(
                AUDIT,
                format!(
                    "every decision is recorded, appended to `{}` (MCP_AUTH_AUDIT_LOG)",
                    setting.value.trim()
                ),
            )
            .at(setting.at),
            None => {
                let at = project.generated_path("audit.rs").map(|path| {
                    let line = project
                        .file(path)
                        .and_then(|text| line_where(&text, |line| line.contains("pub fn open(")));
                    Location::line(path, line)
                });
                Finding::pass(
                    AUDIT,
                    "every decision is recorded, to stderr (MCP_AUTH_AUDIT_LOG is not set)",
                )
                .at(at)
            }
        };
        findings.push(finding);
    }
    findings
}
