//! Results of `auth test`: named checks that pass or fail with a reason, as
//! a table for people or JSON for machines.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    /// One line: what was found, or why it failed.
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            passed,
            detail: detail.into(),
        }
    }

    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, true, detail)
    }

    pub fn fail(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, false, detail)
    }
}

/// The checks as aligned `PASS`/`FAIL` lines.
pub fn table(checks: &[Check]) -> String {
    let width = checks
        .iter()
        .map(|check| check.name.len())
        .max()
        .unwrap_or(0);
    checks
        .iter()
        .map(|check| {
            let mark = if check.passed { "PASS" } else { "FAIL" };
            format!("  {mark}  {:<width$}  {}\n", check.name, check.detail)
        })
        .collect()
}
