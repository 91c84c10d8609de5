//! Results of `auth test` and `auth doctor`: named checks that pass, warn,
//! fail or were skipped (with a reason each), as a table for people or JSON
//! for machines.

use serde::{Serialize, Serializer, ser::SerializeStruct};

/// What became of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// Not run, because something it needs is missing (said in the detail);
    /// a skipped check does not fail the run.
    Skip,
    /// Ran and found something to look at that is not a failure: a warning
    /// does not fail the run either.
    Warn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    /// One line: what was found, why it failed, or why it was skipped.
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Self {
        let status = if passed { Status::Pass } else { Status::Fail };
        Self {
            name: name.into(),
            status,
            detail: detail.into(),
        }
    }

    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, true, detail)
    }

    pub fn fail(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, false, detail)
    }

    pub fn skip(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: Status::Skip,
            detail: format!("skipped: {}", why.into()),
        }
    }

    pub fn warn(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: Status::Warn,
            detail: detail.into(),
        }
    }

    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }

    pub fn failed(&self) -> bool {
        self.status == Status::Fail
    }

    pub fn skipped(&self) -> bool {
        self.status == Status::Skip
    }
}

/// `{"name", "status": "pass"|"fail"|"skip"|"warn", "passed", "skipped", "detail"}`.
impl Serialize for Check {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let status = match self.status {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Warn => "warn",
        };
        let mut check = serializer.serialize_struct("Check", 5)?;
        check.serialize_field("name", &self.name)?;
        check.serialize_field("status", status)?;
        check.serialize_field("passed", &self.passed())?;
        check.serialize_field("skipped", &self.skipped())?;
        check.serialize_field("detail", &self.detail)?;
        check.end()
    }
}

/// The checks as aligned `PASS`/`FAIL`/`SKIP`/`WARN` lines.
pub fn table(checks: &[Check]) -> String {
    let width = checks
        .iter()
        .map(|check| check.name.len())
        .max()
        .unwrap_or(0);
    checks
        .iter()
        .map(|check| {
            let mark = match check.status {
                Status::Pass => "PASS",
                Status::Fail => "FAIL",
                Status::Skip => "SKIP",
                Status::Warn => "WARN",
            };
            format!("  {mark}  {:<width$}  {}\n", check.name, check.detail)
        })
        .collect()
}

/// `N passed, M failed, K skipped`.
pub fn summary(checks: &[Check]) -> String {
    let count = |status| checks.iter().filter(|check| check.status == status).count();
    format!(
        "{} passed, {} failed, {} skipped",
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Skip)
    )
}

/// Whether the run passed: no check that ran failed.
pub fn passed(checks: &[Check]) -> bool {
    !checks.iter().any(Check::failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_checks_are_listed_and_do_not_fail_the_run() {
        let checks = [
            Check::pass("metadata", "found"),
            Check::skip("token accepted", "no client credentials: X not set"),
        ];
        assert_eq!(
            table(&checks),
            "  PASS  metadata        found\n  SKIP  token accepted  skipped: no client credentials: X not set\n"
        );
        assert_eq!(summary(&checks), "1 passed, 0 failed, 1 skipped");
        assert!(passed(&checks));
        assert_eq!(
            serde_json::to_value(&checks[1]).unwrap(),
            serde_json::json!({
                "name": "token accepted", "status": "skip", "passed": false,
                "skipped": true, "detail": "skipped: no client credentials: X not set"
            })
        );
        let failing = [checks[1].clone(), Check::fail("401", "got 200")];
        assert!(!passed(&failing));
        assert_eq!(summary(&failing), "0 passed, 1 failed, 1 skipped");
    }
}
