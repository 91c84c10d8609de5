//! Plans `auth remove`: the file changes that take out what add-auth put
//! in, as recorded in `mcp-builder.json` (`generator.files` and
//! `generator.added`), in memory.
//!
//! Pure like [`super::plan`]: reads through a [`Snapshot`], writes nothing.
//! It only ever takes out what the record says add-auth added; what was
//! there before add-auth, and what the user added since, stays.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{
    FileAction, FileChange, Plan, STATE_FILE, Snapshot, cargo_toml, dotenv, recorded_hashes,
    rustfmt::{self, Rustfmt},
    sha256, state, transport, wiring,
};

/// Computes the plan of `auth remove` for the package at `root`. Generated
/// files the user changed are kept (with a warning) unless `force`.
pub fn plan_remove(root: &Path, snapshot: &dyn Snapshot, force: bool) -> Result<Plan> {
    let read = |relative: &Path| snapshot.read(&root.join(relative));
    // Like every command that needs the state file: a usage error (exit 2).
    let Some(state_text) = read(Path::new(STATE_FILE))? else {
        return Err(crate::resolve::UsageError(format!(
            "`{}` has no `{STATE_FILE}`: add-auth was not run here\nhelp: pass --path with the package add-auth protected",
            root.display()
        ))
        .into());
    };
    let hashes = recorded_hashes(&state_text)?;
    let added = state::read_added(&state_text)?;
    if hashes.is_empty() {
        bail!(
            "`{STATE_FILE}` records no files written by add-auth: nothing to remove\nhelp: pass --path with the package add-auth protected"
        );
    }
    let Some(added) = added else {
        bail!(
            "`{STATE_FILE}` does not record what add-auth added to your files (it was written by an older mcp-builder)\nhelp: take the auth module, its wiring and dependencies out by hand, or restore them from version control"
        );
    };
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    let mut change = |path: PathBuf, before: Option<String>, after: Option<String>| {
        let action = match (before, after) {
            (None, _) => return,
            (Some(before), None) => FileAction::Delete { before },
            (Some(before), Some(after)) => FileChange::new(&path, Some(before), after).action,
        };
        changes.push(FileChange { path, action });
    };

    // The generated files, unless the user changed them.
    for (key, hash) in &hashes {
        let path = PathBuf::from(key);
        let Some(current) = read(&path)? else {
            continue;
        };
        if &sha256(&current) == hash || force {
            change(path, Some(current), None);
        } else {
            warnings.push(format!(
                "kept `{key}`: you changed it since add-auth wrote it (--force deletes it); it is no longer compiled"
            ));
        }
    }

    // The wiring: the router's file, then the crate root (maybe the same).
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let wiring = added.get("wiring");
    let module = text(wiring.and_then(|w| w.get("module"))).unwrap_or_else(|| "auth".into());
    let router = text(wiring.and_then(|w| w.get("router")));
    let declared_in = text(wiring.and_then(|w| w.get("mod")));
    let formatted = wiring
        .and_then(|w| w.get("formatted"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut edited: Vec<(String, String, String)> = Vec::new(); // (path, before, after)
    for (path, declaration) in [(router, false), (declared_in, true)] {
        let Some(path) = path else { continue };
        let at = edited.iter().position(|(p, _, _)| *p == path);
        let current = match at {
            Some(i) => edited[i].2.clone(),
            None => read(Path::new(&path))?
                .with_context(|| format!("`{path}` disappeared since add-auth wired it"))?,
        };
        let after = if declaration {
            wiring::undeclare_module(&current, &path, &module)?
        } else {
            let unwired = wiring::unwire_router(&current, &path, &module)?;
            if formatted {
                lay_out_again(root, &read, &current, unwired)?
            } else {
                unwired
            }
        };
        match at {
            Some(i) => edited[i].2 = after,
            None => edited.push((path, current, after)),
        }
    }
    // The HTTP transport `--add-http` put in front of a stdio server, once
    // its wiring is out.
    if let Some(path) = text(wiring.and_then(|w| w.get("transport"))) {
        let at = edited.iter().position(|(p, _, _)| *p == path);
        let current = match at {
            Some(i) => edited[i].2.clone(),
            None => read(Path::new(&path))?.with_context(|| {
                format!("`{path}` disappeared since add-auth added an HTTP transport to it")
            })?,
        };
        let after = transport::remove_branch(&current, &path)?;
        match at {
            Some(i) => edited[i].2 = after,
            None => edited.push((path, current, after)),
        }
    }
    for (path, before, after) in edited {
        change(PathBuf::from(path), Some(before), Some(after));
    }

    let created: Vec<&str> = added
        .get("created")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    // A file add-auth created goes when nothing is left in it.
    let mut settle = |path: &str, before: String, after: String| {
        let after = (!(after.is_empty() && created.contains(&path))).then_some(after);
        change(PathBuf::from(path), Some(before), after);
    };

    // Dependencies, in every manifest add-auth edited.
    if let Some(cargo) = added.get("cargo").and_then(Value::as_object) {
        for (path, record) in cargo {
            let Some(current) = read(Path::new(path))? else {
                continue;
            };
            let after = cargo_toml::remove_added(&current, record)
                .with_context(|| format!("cannot take add-auth's dependencies out of `{path}`"))?;
            settle(path, current, after);
        }
    }

    // Settings.
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    if let Some(env) = added.get("env").and_then(Value::as_object) {
        for (path, keys) in env {
            if let Some(current) = read(Path::new(path))? {
                let after = dotenv::remove_env(&current, &strings(keys));
                settle(path, current, after);
            }
        }
    }
    if let Some(entries) = added.get("gitignore")
        && let Some(current) = read(Path::new(".gitignore"))?
    {
        let mut after = current.clone();
        for entry in strings(entries) {
            after = dotenv::remove_gitignored(&after, &entry);
        }
        settle(".gitignore", current, after);
    }

    // The state file goes last.
    let after = state::remove_state(&state_text)?;
    change(PathBuf::from(STATE_FILE), Some(state_text), after);

    Ok(Plan {
        root: root.to_path_buf(),
        changes,
        warnings,
    })
}

/// `unwired` (the router file once the wiring is out) with the wired
/// function laid out by rustfmt again, as add-auth found it: add-auth laid
/// that function out after wiring it (`"formatted"` in the record), so
/// taking the insertions out leaves rustfmt's layout of the wired code.
fn lay_out_again(
    root: &Path,
    read: &impl Fn(&Path) -> Result<Option<String>>,
    wired: &str,
    unwired: String,
) -> Result<String> {
    let Some(key) = wired
        .find(&format!("let {} = ", wiring::AUTH_VAR))
        .and_then(|at| rustfmt::function_at(wired, at))
    else {
        return Ok(unwired);
    };
    let manifest = read(Path::new("Cargo.toml"))?.unwrap_or_default();
    // An inherited edition is the nearest workspace's.
    let mut workspace = None;
    for dir in root.ancestors().skip(1) {
        if let Some(text) = read(&dir.join("Cargo.toml"))?
            && text.contains("[workspace")
        {
            workspace = Some(text);
            break;
        }
    }
    let edition = rustfmt::edition(&manifest, workspace.as_deref());
    Ok(Rustfmt::new(root, &edition)
        .format_function(&unwired, &key)
        .unwrap_or(unwired))
}
