//! `mcp-builder auth token`: prints an access token for the project.

use std::{path::PathBuf, time::Duration};

/// Options of `auth token`, as parsed by the CLI.
#[derive(Debug)]
pub struct Options {
    pub path: PathBuf,
    pub scopes: Vec<String>,
    pub sub: Option<String>,
    pub timeout: Duration,
}

/// Prints the token on stdout.
pub fn run(options: Options) -> anyhow::Result<bool> {
    anyhow::bail!("auth token is being built (options: {options:?})")
}
