//! `mcp-builder auth dev`: runs the development issuer for a project.

use std::path::PathBuf;

/// Options of `auth dev`, as parsed by the CLI.
#[derive(Debug)]
pub struct Options {
    pub path: PathBuf,
    pub port: Option<u16>,
}

/// Runs the issuer until Ctrl-C.
pub fn run(options: Options) -> anyhow::Result<bool> {
    anyhow::bail!("auth dev is being built (options: {options:?})")
}
