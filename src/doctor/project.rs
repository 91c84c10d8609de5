//! What the checks read of a protected project, read once: the state file
//! `mcp-builder.json`, the provider it names, `.env` (with line numbers)
//! under the process environment, the generated files it records, and what
//! inspection finds in the package now.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::Context;
use serde_json::Value;

use super::{Location, text};
use crate::{
    inspect,
    plan::{STATE_FILE, recorded_hashes},
    probe::settings,
    providers::{self, Provider},
    resolve::dotenv,
};

/// `.env`'s name, relative to the project.
pub const DOTENV: &str = ".env";

/// A protected project, as the checks see it.
pub struct Project {
    pub root: PathBuf,
    /// `mcp-builder.json`'s text.
    pub state_text: String,
    /// Its `auth` section.
    pub auth: Value,
    /// `None` when this version does not know the provider the state names.
    pub provider: Option<&'static Provider>,
    /// `.env`'s text (empty when there is none).
    pub dotenv_text: String,
    dotenv: BTreeMap<String, String>,
    /// The generated files (relative paths) and the hash of what add-auth
    /// wrote to each.
    pub generated: BTreeMap<String, String>,
    /// The package as add-auth's inspection sees it now, or why it cannot
    /// (the error's first line).
    pub inspected: Result<inspect::Project, String>,
}

/// A setting's value and where it was set: a line of `.env`, or `None`
/// for the process environment.
#[derive(Debug, Clone)]
pub struct Setting {
    pub value: String,
    pub at: Option<Location>,
}

impl Project {
    /// Reads the project at `root`; a usage error when it has no state file.
    pub fn read(root: &Path) -> anyhow::Result<Self> {
        let (state_text, auth) = settings::read_state(root, "auth doctor")?;
        let provider = auth
            .get("provider")
            .and_then(Value::as_str)
            .and_then(providers::find);
        let generated = recorded_hashes(&state_text)?;
        let dotenv_text = read_optional(&root.join(DOTENV))?.unwrap_or_default();
        let inspected = inspect::inspect_with(root, &Default::default()).map_err(|err| {
            let text = format!("{err:#}");
            text.lines().next().unwrap_or_default().to_string()
        });
        Ok(Self {
            inspected,
            root: root.to_path_buf(),
            dotenv: dotenv::parse(&dotenv_text),
            dotenv_text,
            state_text,
            auth,
            provider,
            generated,
        })
    }

    /// A file of the project (relative path), `None` when it does not exist.
    pub fn file(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(relative)).ok()
    }

    /// The relative path of the generated file named `name` (`policy.rs`).
    pub fn generated_path(&self, name: &str) -> Option<&str> {
        self.generated
            .keys()
            .map(String::as_str)
            .find(|path| path.rsplit('/').next() == Some(name))
    }

    /// A string of the state's `auth` section.
    pub fn auth_text(&self, key: &str) -> Option<&str> {
        self.auth.get(key).and_then(Value::as_str)
    }

    /// Where `"key":` is first written in the state file.
    pub fn state_location(&self, key: &str) -> Location {
        let quoted = format!("\"{key}\":");
        Location::line(
            STATE_FILE,
            text::line_where(&self.state_text, |line| line.contains(&quoted)),
        )
    }

    /// A setting as the generated server reads it: the process environment,
    /// then `.env`; blank values count as unset.
    pub fn setting(&self, name: &str) -> Option<Setting> {
        if let Some(value) = std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
        {
            return Some(Setting { value, at: None });
        }
        let value = self.dotenv.get(name)?.clone();
        let line = text::dotenv_line(&self.dotenv_text, name);
        Some(Setting {
            value,
            at: Some(Location::line(DOTENV, line)),
        })
    }

    /// The non-empty values `.env` sets, with their lines.
    pub fn dotenv_entries(&self) -> impl Iterator<Item = (&str, &str, Option<usize>)> {
        self.dotenv.iter().map(|(key, value)| {
            (
                key.as_str(),
                value.as_str(),
                text::dotenv_line(&self.dotenv_text, key),
            )
        })
    }
}

fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read `{}`", path.display())),
    }
}
