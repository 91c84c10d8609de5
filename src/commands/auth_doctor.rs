//! `mcp-builder auth doctor`: the security checklist on a protected
//! project, printed as a table (or one JSON document); `Ok(false)` when an
//! item failed (exit 1). Warnings do not fail.

use std::path::PathBuf;

use crate::{doctor, probe::report};

/// Options of `auth doctor`, as parsed by the CLI.
#[derive(Debug)]
pub struct Options {
    pub path: PathBuf,
    pub json: bool,
}

pub fn run(options: Options) -> anyhow::Result<bool> {
    let found = doctor::run(&options.path)?;
    if options.json {
        let document = found.json(&options.path);
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!("Security checklist for `{}`:", options.path.display());
        print!("{}", report::table(&found.checks()));
        println!("\n{}", found.summary());
    }
    Ok(found.passed())
}
