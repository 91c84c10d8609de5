//! `auth doctor`'s checks: the seed's security checklist evaluated on a
//! project protected by add-auth. Each file here owns one group of checks;
//! this one runs them in order and gathers what they found into a
//! [`Report`]. Nothing here writes a file.

mod audit;
mod generated;
mod git;
mod issuer;
mod project;
mod secrets;
mod text;
mod tools;
mod urls;

use std::path::Path;

use serde_json::{Value, json};

use crate::probe::report::{Check, Status};

pub use project::Project;

/// Where a finding applies: a file relative to the project (forward
/// slashes), and a 1-based line when one line is meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
        }
    }

    pub fn line(file: impl Into<String>, line: Option<usize>) -> Self {
        Self {
            file: file.into(),
            line,
        }
    }
}

/// What one check found. A check that finds several problems reports each
/// as its own finding, all with the check's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The check's stable id (`keys`, `tools-mapped`, ...).
    pub id: &'static str,
    pub status: Status,
    /// One line.
    pub detail: String,
    pub at: Option<Location>,
}

impl Finding {
    pub fn pass(id: &'static str, detail: impl Into<String>) -> Self {
        Self::new(id, Status::Pass, detail)
    }

    pub fn warn(id: &'static str, detail: impl Into<String>) -> Self {
        Self::new(id, Status::Warn, detail)
    }

    pub fn fail(id: &'static str, detail: impl Into<String>) -> Self {
        Self::new(id, Status::Fail, detail)
    }

    fn new(id: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            id,
            status,
            detail: detail.into(),
            at: None,
        }
    }

    /// The same finding, placed at `at` (when known).
    pub fn at(mut self, at: impl Into<Option<Location>>) -> Self {
        self.at = at.into();
        self
    }
}

/// Every finding of one run, in the order of the checklist.
#[derive(Debug)]
pub struct Report {
    pub findings: Vec<Finding>,
}

/// Runs every check on the project at `root` (which holds
/// `mcp-builder.json`); a usage error when it does not.
pub fn run(root: &Path) -> anyhow::Result<Report> {
    let project = Project::read(root)?;
    let mut findings = Vec::new();
    findings.extend(issuer::keys(&project));
    findings.extend(tools::check(&project));
    findings.extend(audit::check(&project));
    findings.extend(git::dotenv(&project));
    findings.extend(secrets::check(&project));
    findings.extend(generated::check(&project));
    findings.extend(urls::http_on_loopback_only(&project));
    findings.extend(urls::allowed_origins(&project));
    findings.extend(issuer::development(&project));
    Ok(Report { findings })
}

impl Report {
    /// Whether nothing failed (warnings do not fail).
    pub fn passed(&self) -> bool {
        !self.findings.iter().any(|f| f.status == Status::Fail)
    }

    fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    /// `N passed, W warnings, M failed`.
    pub fn summary(&self) -> String {
        let warnings = self.count(Status::Warn);
        format!(
            "{} passed, {warnings} warning{}, {} failed",
            self.count(Status::Pass),
            if warnings == 1 { "" } else { "s" },
            self.count(Status::Fail)
        )
    }

    /// The findings as `report::Check`s for the shared table printer: the
    /// location leads the detail, as a compiler's `file:line:` does.
    pub fn checks(&self) -> Vec<Check> {
        self.findings
            .iter()
            .map(|finding| {
                let detail = match &finding.at {
                    Some(Location {
                        file,
                        line: Some(line),
                    }) => format!("{file}:{line}: {}", finding.detail),
                    Some(Location { file, line: None }) => format!("{file}: {}", finding.detail),
                    None => finding.detail.clone(),
                };
                match finding.status {
                    Status::Pass => Check::pass(finding.id, detail),
                    Status::Warn => Check::warn(finding.id, detail),
                    Status::Fail => Check::fail(finding.id, detail),
                    Status::Skip => Check::skip(finding.id, detail),
                }
            })
            .collect()
    }

    /// `{"path", "checks": [{"id", "status", "detail", "file", "line"}], "summary": {...}, "passed"}`.
    pub fn json(&self, path: &Path) -> Value {
        let checks: Vec<Value> = self
            .findings
            .iter()
            .map(|finding| {
                let status = match finding.status {
                    Status::Pass => "pass",
                    Status::Warn => "warn",
                    Status::Fail => "fail",
                    Status::Skip => "skip",
                };
                json!({
                    "id": finding.id,
                    "status": status,
                    "detail": finding.detail,
                    "file": finding.at.as_ref().map(|at| &at.file),
                    "line": finding.at.as_ref().and_then(|at| at.line),
                })
            })
            .collect();
        json!({
            "path": path.display().to_string(),
            "checks": checks,
            "summary": {
                "passed": self.count(Status::Pass),
                "warnings": self.count(Status::Warn),
                "failed": self.count(Status::Fail),
            },
            "passed": self.passed(),
        })
    }
}
