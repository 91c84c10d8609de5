//! Verify: after add-auth has written its changes, `cargo check` on the
//! package says whether the project still compiles. It runs cargo and reads
//! its output; it writes nothing itself (cargo writes its own `target/`).
//!
//! The check covers what `cargo test` builds (library, binaries, tests and
//! examples, in test and normal builds), with the cargo feature the MCP HTTP
//! code needs, so that the project's own tests compile as well.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

/// How many compiler errors are shown when the check fails.
const ERRORS_SHOWN: usize = 3;

/// What `cargo check` said.
#[derive(Debug)]
pub enum Outcome {
    Passed,
    /// The first errors, rendered as rustc prints them, and how many there
    /// were in all.
    Failed {
        errors: Vec<String>,
        total: usize,
    },
    /// Cargo failed before compiling anything of the package (a toolchain
    /// the project pins that is not installed, an unreachable git
    /// dependency, a manifest error): what cargo said.
    NotChecked {
        cargo_said: String,
    },
}

/// The last lines of cargo's own messages kept for [`Outcome::NotChecked`].
const CARGO_LINES_KEPT: usize = 6;

/// Runs `cargo check` on the package at `root`, named `package`, with
/// `features` enabled, showing progress on stderr (a spinner on a
/// terminal, one line otherwise).
pub fn cargo_check(root: &Path, package: &str, features: Option<&str>) -> Result<Outcome> {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .arg("check")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args(["--package", package])
        .args(["--bins", "--tests", "--examples"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .current_dir(root);
    if has_library(root) {
        command.arg("--lib");
    }
    if let Some(features) = features {
        command.args(["--features", features]);
    }
    command.arg(if console::colors_enabled_stderr() {
        "--message-format=json-diagnostic-rendered-ansi"
    } else {
        "--message-format=json"
    });
    let mut child = command
        .spawn()
        .context("cannot run `cargo check` (is cargo on the PATH?)")?;

    let progress = progress_bar(package);
    // Cargo's own status lines ("Compiling serde ...") name what it works on.
    let stderr = child.stderr.take().expect("stderr is piped");
    let status_bar = progress.clone();
    let status_lines = std::thread::spawn(move || {
        let mut said: Vec<String> = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let trimmed = line.trim();
            if let Some(crate_name) = trimmed
                .strip_prefix("Compiling ")
                .or_else(|| trimmed.strip_prefix("Checking "))
            {
                status_bar.set_message(crate_name.to_string());
            } else if !trimmed.is_empty() {
                said.push(line);
            }
        }
        let from = said.len().saturating_sub(CARGO_LINES_KEPT);
        said.split_off(from).join("\n")
    });
    // The same error comes once per target that compiles the file (the
    // library, then its tests): each is counted and shown once.
    let mut errors: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if message["reason"] == "compiler-message"
            && message["message"]["level"] == "error"
            && let Some(rendered) = message["message"]["rendered"].as_str()
            // rustc's closing "aborting due to .." line is not an error of its own.
            && !message["message"]["message"]
                .as_str()
                .is_some_and(|text| text.starts_with("aborting due to"))
            && seen.insert(rendered.to_string())
        {
            total += 1;
            if errors.len() < ERRORS_SHOWN {
                errors.push(rendered.trim_end().to_string());
            }
        }
    }
    let cargo_said = status_lines.join().unwrap_or_default();
    let status = child.wait().context("`cargo check` did not finish")?;
    progress.finish_and_clear();
    if status.success() {
        Ok(Outcome::Passed)
    } else if errors.is_empty() {
        // Not a compile error: cargo itself failed.
        Ok(Outcome::NotChecked {
            cargo_said: if cargo_said.is_empty() {
                format!("`cargo check` exited with {status}")
            } else {
                cargo_said
            },
        })
    } else {
        Ok(Outcome::Failed { errors, total })
    }
}

/// Whether the package has a library target (`--lib` is an error without).
fn has_library(root: &Path) -> bool {
    root.join("src/lib.rs").is_file()
        || std::fs::read_to_string(root.join("Cargo.toml"))
            .ok()
            .and_then(|text| text.parse::<toml_edit::DocumentMut>().ok())
            .is_some_and(|doc| doc.contains_key("lib"))
}

fn progress_bar(package: &str) -> ProgressBar {
    let message = format!("`{package}` with cargo check (--no-verify skips this)");
    if console::Term::stderr().is_term() {
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} {:>12} {message}: {{msg}}",
                "Verifying"
            ))
            .expect("a valid progress template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        eprintln!("{:>12} {message}", "Verifying");
        ProgressBar::hidden()
    }
}
