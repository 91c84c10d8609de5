//! One module per subcommand.

pub mod add_auth;
pub mod auth_dev;
pub mod auth_doctor;
pub mod auth_test;
pub mod auth_token;
pub mod remove;
pub mod report;

use std::{fs, path::Path};

use anyhow::Context;

use crate::plan::Snapshot;

/// Reads the real file system: what the commands hand to the pure planners.
pub struct Disk;

impl Snapshot for Disk {
    fn read(&self, path: &Path) -> anyhow::Result<Option<String>> {
        match fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("cannot read `{}`", path.display())),
        }
    }
}
