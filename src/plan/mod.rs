//! Plan: computes, in memory, every file change `add-auth` would make.
//!
//! Planning is pure: it reads the [`Project`](crate::inspect::Project) and the
//! resolved answers and returns a [`Plan`]. Nothing here touches the disk;
//! `apply` is the only writer.

pub mod cargo_toml;
pub mod dotenv;
pub mod state;
pub mod wiring;

use std::path::PathBuf;

/// One dependency the generated code needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: &'static str,
    /// Version requirement, e.g. `"11"`.
    pub version: &'static str,
    /// `false` writes `default-features = false`.
    pub default_features: bool,
    pub features: &'static [&'static str],
}

/// What happens to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    Create { contents: String },
    Update { before: String, after: String },
    Identical,
}

/// One file of the plan, with its path relative to the project root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: PathBuf,
    pub action: FileAction,
}

impl FileChange {
    /// Compares the desired contents with what is on disk now (`None`: absent).
    pub fn new(path: impl Into<PathBuf>, current: Option<String>, desired: String) -> Self {
        let action = match current {
            None => FileAction::Create { contents: desired },
            Some(before) if before == desired => FileAction::Identical,
            Some(before) => FileAction::Update {
                before,
                after: desired,
            },
        };
        Self {
            path: path.into(),
            action,
        }
    }
}
