//! Refusal: joins every blocker inspect found in a package into one error, so that the user sees them all at once; it formats only.
//!
//! One blocker keeps its own two-line form (`reason` then `help: step`).
//! Several give:
//!
//! ```text
//! `pkg` cannot be protected by add-auth as it is (2 problems):
//! - first reason
//!   help: its step
//! - second reason
//!   help: its step
//! ```
//!
//! in the order they were found (inspect checks them in a fixed order).

/// `Ok` without blockers; otherwise the error naming them all.
pub(crate) fn refuse(package: &str, mut blockers: Vec<anyhow::Error>) -> anyhow::Result<()> {
    match blockers.len() {
        0 => Ok(()),
        1 => Err(blockers.remove(0)),
        count => {
            let mut message =
                format!("`{package}` cannot be protected by add-auth as it is ({count} problems):");
            for blocker in &blockers {
                for (i, line) in format!("{blocker:#}").lines().enumerate() {
                    message.push_str(if i == 0 { "\n- " } else { "\n  " });
                    message.push_str(line);
                }
            }
            Err(anyhow::anyhow!(message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_blocker_is_kept_and_several_are_listed() {
        assert!(refuse("p", Vec::new()).is_ok());
        let one = refuse("p", vec![anyhow::anyhow!("reason\nhelp: step")]).unwrap_err();
        assert_eq!(one.to_string(), "reason\nhelp: step");
        let two = refuse(
            "p",
            vec![
                anyhow::anyhow!("first\nhelp: one"),
                anyhow::anyhow!("second\nhelp: two"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            two.to_string(),
            "`p` cannot be protected by add-auth as it is (2 problems):\n\
             - first\n  help: one\n\
             - second\n  help: two"
        );
    }
}
