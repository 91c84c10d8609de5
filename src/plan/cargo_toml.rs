//! Adds the generated code's dependencies to `Cargo.toml` (the package and,
//! when it inherits dependencies, the workspace root), in memory.
//!
//! Edits go through `toml_edit`, so comments, key order, formatting and inline
//! tables the user wrote are kept; a manifest that already has everything comes
//! back byte for byte. This module never reads or writes a file, never removes
//! a feature, never changes a version the user chose and never turns default
//! features off on an existing dependency.
//!
//! Rules, for each wanted [`Dependency`]:
//!
//! - Found in the package (also renamed, `foo = { package = "name", .. }`,
//!   also `name = { workspace = true }` read through the workspace's
//!   `[workspace.dependencies]`): its version requirement must be compatible
//!   with ours (same major version, or same minor for `0.x`), else an error;
//!   features we need that it lacks are added to the package's entry.
//! - Found only in `[workspace.dependencies]` while the package inherits its
//!   dependencies: the package gains `name = { workspace = true }`, plus
//!   `features = [..]` for what the workspace entry lacks.
//! - Absent: the full spec is appended to `[dependencies]`, or to
//!   `[workspace.dependencies]` with `name = { workspace = true }` in the
//!   package when the package inherits its dependencies.
//!
//! A requirement without a version (git or path dependency) is taken as is.
//! A requirement that is a range (`>=9, <12`) is compatible when it admits the
//! lowest or the highest version of our series. Dependencies under
//! `[target.'cfg(..)'.dependencies]` are not looked at.
//!
//! Features are compared by name, except that tokio's `full` covers every
//! tokio feature and `rt-multi-thread` covers `rt`. A default feature the
//! generated code uses ([`Dependency::from_defaults`]) counts as present
//! unless the entry (the workspace's, when inherited) has
//! `default-features = false`; then it is added as a feature, and
//! `default-features` is left alone.
//!
//! Cargo features (`gate`): when the MCP HTTP code is compiled only under a
//! cargo feature `F` of the package, the features `F` enables on a
//! dependency (`"axum/json"`, `"axum?/json"`, through the features it
//! enables) count as present; new entries are added `optional = true` and
//! joined to `F` in `[features]` (`"dep:name"`, or `"name"` in a manifest
//! that never writes `dep:`), and so are existing optional entries `F` does
//! not enable yet. An optional entry the code needs while no feature gates
//! it is an error saying what to do. A dependency never added
//! ([`Dependency::added`], rmcp) only gains features, whatever its version.
//!
//! `jsonwebtoken` takes exactly one crypto backend: when the user's entry
//! enables another backend than ours, this is an error asking them to switch,
//! rather than a manifest that enables two (which does not build).

use anyhow::{Context, Result, bail};
use semver::{Op, Version, VersionReq};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike, Value};

use super::Dependency;

/// Features of one crate of which at most one may be enabled.
const EXCLUSIVE_FEATURES: &[(&str, &[&str])] = &[("jsonwebtoken", &["aws_lc_rs", "rust_crypto"])];

/// Features that enable every other (stable) feature of their crate: an entry
/// that has one lacks nothing.
const UMBRELLA_FEATURES: &[(&str, &str)] = &[("tokio", "full")];

/// `(crate, feature, implied)`: an entry with `feature` has `implied`.
const IMPLIED_FEATURES: &[(&str, &str, &str)] = &[("tokio", "rt-multi-thread", "rt")];

/// The edited manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEdit {
    /// The package's `Cargo.toml`.
    pub member: String,
    /// The workspace root's `Cargo.toml`: `Some` exactly when one was given
    /// (possibly unchanged).
    pub workspace: Option<String>,
}

/// Adds `deps` to the package manifest `member` and, when
/// `use_workspace_deps` is set and a `workspace` root manifest is given, to
/// the root's `[workspace.dependencies]`.
///
/// When `use_workspace_deps` is set but `workspace` is `None` and `member`
/// itself has a `[workspace]` table, `member` is its own workspace root and
/// gets both edits.
///
/// Returns the inputs unchanged (byte for byte) when nothing is missing.
#[cfg(test)]
pub fn add_dependencies(
    member: &str,
    workspace: Option<&str>,
    use_workspace_deps: bool,
    deps: &[Dependency],
) -> Result<ManifestEdit> {
    add_dependencies_under(member, workspace, use_workspace_deps, deps, None)
}

/// [`add_dependencies`] for code compiled only under the package's cargo
/// feature `gate` (see the module docs).
pub fn add_dependencies_under(
    member: &str,
    workspace: Option<&str>,
    use_workspace_deps: bool,
    deps: &[Dependency],
    gate: Option<&str>,
) -> Result<ManifestEdit> {
    let mut member_doc: DocumentMut = member
        .parse()
        .context("could not parse `Cargo.toml` as TOML")?;
    let mut ws_doc: Option<DocumentMut> = workspace
        .map(|ws| ws.parse())
        .transpose()
        .context("could not parse the workspace `Cargo.toml` as TOML")?;
    let root_is_member = workspace.is_none() && member_doc.contains_key("workspace");
    if let Some(gate) = gate
        && !member_doc
            .get("features")
            .and_then(|features| features.get(gate))
            .is_some_and(Item::is_array)
    {
        // `#[cfg(feature = "axum")]` may name an optional dependency's
        // implicit feature, which has no list to join.
        let optional_dep = member_doc
            .get("dependencies")
            .and_then(|deps| deps.get(gate))
            .and_then(|entry| entry.get("optional"))
            .and_then(Item::as_bool)
            == Some(true);
        let declare = if optional_dep {
            format!("`{gate} = [\"dep:{gate}\"]`")
        } else {
            format!("`{gate} = []`")
        };
        bail!(
            "the MCP HTTP code is compiled only with the cargo feature `{gate}`, but `Cargo.toml` \
             declares no such feature in `[features]`\n\
             help: declare it ({declare} under `[features]`), then run add-auth again"
        );
    }

    let mut manifests = Manifests {
        member: &mut member_doc,
        gate,
        workspace: ws_doc.as_mut(),
        root_is_member,
        changed_member: false,
        changed_workspace: false,
    };
    for dep in deps {
        manifests.add(dep, use_workspace_deps)?;
    }
    let (changed_member, changed_workspace) =
        (manifests.changed_member, manifests.changed_workspace);

    let member = if changed_member {
        member_doc.to_string()
    } else {
        member.to_owned()
    };
    let workspace = match (workspace, ws_doc) {
        (Some(_), Some(doc)) if changed_workspace => Some(doc.to_string()),
        (original, _) => original.map(str::to_owned),
    };
    Ok(ManifestEdit { member, workspace })
}

/// The dependency tables [`added`] and [`remove_added`] look at.
const TABLES: &[&str] = &["dependencies", "workspace.dependencies"];

/// What [`add_dependencies`] added to one manifest, found by comparing it
/// `before` and `after`, per dependency table:
/// `{"dependencies": {"added": [keys], "features": {key: [features]},
/// "inlined": [keys turned from a version string into a table]}}`, and
/// the values added to the lists of `[features]`:
/// `{"features": {"joined": {feature: [values]}}}`.
/// An empty object when nothing was added.
pub fn added(before: &str, after: &str) -> Result<serde_json::Value> {
    use serde_json::{Map, Value as Json, json};
    let before: DocumentMut = before
        .parse()
        .context("could not parse `Cargo.toml` as TOML")?;
    let after: DocumentMut = after
        .parse()
        .context("could not parse `Cargo.toml` as TOML")?;
    let mut record = Map::new();
    for name in TABLES {
        let Some(new) = table_at(&after, name) else {
            continue;
        };
        let old = table_at(&before, name);
        let (mut keys, mut features, mut inlined) = (Vec::new(), Map::new(), Vec::new());
        for (key, item) in new.iter() {
            let Some(old_item) = old.and_then(|old| old.get(key)) else {
                keys.push(key.to_owned());
                continue;
            };
            let had = string_list(old_item.get("features"));
            let gained: Vec<String> = string_list(item.get("features"))
                .into_iter()
                .filter(|feature| !had.contains(feature))
                .collect();
            if !gained.is_empty() {
                features.insert(key.to_owned(), json!(gained));
            }
            if old_item.is_str() && !item.is_str() {
                inlined.push(key.to_owned());
            }
        }
        let mut table = Map::new();
        for (part, value) in [
            ("added", json!(keys)),
            ("features", Json::Object(features)),
            ("inlined", json!(inlined)),
        ] {
            let empty = match &value {
                Json::Array(items) => items.is_empty(),
                Json::Object(items) => items.is_empty(),
                _ => false,
            };
            if !empty {
                table.insert(part.to_owned(), value);
            }
        }
        if !table.is_empty() {
            record.insert((*name).to_owned(), Json::Object(table));
        }
    }
    let mut joined = Map::new();
    let old_features = before.get("features").and_then(Item::as_table_like);
    let new_features = after.get("features").and_then(Item::as_table_like);
    for (feature, list) in new_features.into_iter().flat_map(|table| table.iter()) {
        let Some(old) = old_features.and_then(|table| table.get(feature)) else {
            continue;
        };
        let had = string_list(Some(old));
        let gained: Vec<String> = string_list(Some(list))
            .into_iter()
            .filter(|value| !had.contains(value))
            .collect();
        if !gained.is_empty() {
            joined.insert(feature.to_owned(), json!(gained));
        }
    }
    if !joined.is_empty() {
        record.insert("features".to_owned(), json!({ "joined": joined }));
    }
    Ok(Json::Object(record))
}

/// Takes out of `manifest` what [`added`] recorded: the added entries, the
/// added features (and a `features` key left empty), and turns an inlined
/// entry left with only its version back into a version string. Everything
/// else, comments and layout included, is kept; a manifest with nothing to
/// take out comes back byte for byte.
pub fn remove_added(manifest: &str, record: &serde_json::Value) -> Result<String> {
    let mut doc: DocumentMut = manifest
        .parse()
        .context("could not parse `Cargo.toml` as TOML")?;
    let mut changed = false;
    let names = |value: Option<&serde_json::Value>| -> Vec<String> {
        value
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    for name in TABLES {
        let Some(part) = record.get(*name) else {
            continue;
        };
        let Some(table) = table_at_mut(&mut doc, name) else {
            continue;
        };
        for key in names(part.get("added")) {
            changed |= table.remove(&key).is_some();
        }
        let features = part.get("features").and_then(serde_json::Value::as_object);
        for (key, list) in features.into_iter().flatten() {
            if let Some(entry) = table.get_mut(key) {
                changed |= remove_features(entry, &names(Some(list)));
            }
        }
        for key in names(part.get("inlined")) {
            if let Some(entry) = table.get_mut(&key) {
                changed |= back_to_version_string(entry);
            }
        }
    }
    let joined = record
        .pointer("/features/joined")
        .and_then(serde_json::Value::as_object);
    for (feature, values) in joined.into_iter().flatten() {
        let array = doc
            .get_mut("features")
            .and_then(|features| features.get_mut(feature))
            .and_then(Item::as_array_mut);
        if let Some(array) = array {
            changed |= remove_from_array(array, &names(Some(values)));
        }
    }
    Ok(if changed {
        doc.to_string()
    } else {
        manifest.to_owned()
    })
}

fn table_at<'d>(doc: &'d DocumentMut, name: &str) -> Option<&'d dyn TableLike> {
    let mut item = doc.as_item();
    for part in name.split('.') {
        item = item.get(part)?;
    }
    item.as_table_like()
}

fn table_at_mut<'d>(doc: &'d mut DocumentMut, name: &str) -> Option<&'d mut dyn TableLike> {
    let mut item = doc.as_item_mut();
    for part in name.split('.') {
        item = item.get_mut(part)?;
    }
    item.as_table_like_mut()
}

/// Removes `features` from the entry's `features` array (the last of each),
/// and the key itself when nothing is left in it.
fn remove_features(entry: &mut Item, features: &[String]) -> bool {
    let Some(table) = entry.as_table_like_mut() else {
        return false;
    };
    let Some(array) = table.get_mut("features").and_then(Item::as_array_mut) else {
        return false;
    };
    let changed = remove_from_array(array, features);
    if changed && array.is_empty() {
        match entry {
            Item::Value(Value::InlineTable(table)) => {
                if let Some(removed) = table.remove("features") {
                    let suffix = removed.decor().suffix().cloned();
                    if let (Some(suffix), Some((_, last))) = (suffix, table.iter_mut().last()) {
                        last.decor_mut().set_suffix(suffix);
                    }
                }
            }
            _ => {
                if let Some(table) = entry.as_table_like_mut() {
                    table.remove("features");
                }
            }
        }
    }
    changed
}

/// Removes the last occurrence of each of `values` from `array`, moving the
/// spacing before `]` back to the new last element.
fn remove_from_array(array: &mut Array, values: &[String]) -> bool {
    let mut changed = false;
    for value in values {
        let at = (0..array.len())
            .rev()
            .find(|&i| array.get(i).and_then(Value::as_str) == Some(value.as_str()));
        if let Some(at) = at {
            let suffix = array.get(at).and_then(|v| v.decor().suffix().cloned());
            array.remove(at);
            if at == array.len()
                && let (Some(suffix), Some(last)) = (suffix, array.get_mut(at.wrapping_sub(1)))
            {
                last.decor_mut().set_suffix(suffix);
            }
            changed = true;
        }
    }
    changed
}

/// `{ version = "1" }` back to `"1"`, keeping the decor.
fn back_to_version_string(entry: &mut Item) -> bool {
    let Item::Value(Value::InlineTable(table)) = entry else {
        return false;
    };
    if table.len() != 1 {
        return false;
    }
    let Some(version) = table.get("version").and_then(Value::as_str) else {
        return false;
    };
    let mut value = Value::from(version);
    *value.decor_mut() = table.decor().clone();
    *entry = Item::Value(value);
    true
}

/// Which manifest an entry lives in; used for messages.
#[derive(Debug, Clone, Copy)]
enum Location {
    Member,
    Workspace,
}

impl Location {
    fn manifest(self) -> &'static str {
        match self {
            Location::Member => "`Cargo.toml`",
            Location::Workspace => "the workspace `Cargo.toml`",
        }
    }
}

/// What an existing entry declares, merged through workspace inheritance.
#[derive(Debug)]
struct Existing {
    /// The key under `[dependencies]` (differs from the package when renamed).
    key: String,
    /// `None`: git or path dependency, or inherited from a workspace we
    /// cannot see.
    version: Option<String>,
    /// Where `version` is declared.
    version_at: Location,
    /// Features enabled by the package entry and, when inherited, the
    /// workspace entry.
    features: Vec<String>,
    /// The entry that declares the version keeps default features on.
    default_features: bool,
    /// `optional = true` in the package entry.
    optional: bool,
}

struct Manifests<'a> {
    member: &'a mut DocumentMut,
    /// The cargo feature the generated code is compiled under.
    gate: Option<&'a str>,
    workspace: Option<&'a mut DocumentMut>,
    root_is_member: bool,
    changed_member: bool,
    changed_workspace: bool,
}

impl Manifests<'_> {
    fn workspace_doc(&self) -> Option<&DocumentMut> {
        if self.root_is_member {
            Some(self.member)
        } else {
            self.workspace.as_deref()
        }
    }

    fn workspace_deps(&self) -> Option<&dyn TableLike> {
        self.workspace_doc()?
            .get("workspace")?
            .get("dependencies")?
            .as_table_like()
    }

    fn member_deps(&self) -> Option<&dyn TableLike> {
        self.member.get("dependencies")?.as_table_like()
    }

    fn add(&mut self, dep: &Dependency, use_workspace_deps: bool) -> Result<()> {
        if let Some(existing) = self.find_in_member(dep)? {
            check_compatible(dep, &existing)?;
            let mut have = existing.features.clone();
            have.extend(self.gate_enables_on(&existing.key));
            let missing = missing_features(dep, &have, existing.default_features);
            if !missing.is_empty() {
                let entry = member_deps_mut(self.member)?
                    .get_mut(&existing.key)
                    .expect("the entry was just found");
                add_features(entry, &missing);
                self.changed_member = true;
            }
            if existing.optional {
                self.join_gate(&existing.key, false)?;
            }
            return Ok(());
        }
        if !dep.added {
            bail!(
                "`Cargo.toml` has no `{name}` dependency, which the generated code needs\n\
                 help: add `{name}` to `[dependencies]`, then run add-auth again",
                name = dep.name
            );
        }

        let optional = self.gate.is_some();
        let inherit = use_workspace_deps && self.workspace_doc().is_some();
        if !inherit {
            member_deps_mut(self.member)?.insert(dep.name, Item::Value(full_spec(dep, optional)));
            self.changed_member = true;
            if optional {
                self.join_gate(dep.name, true)?;
            }
            return Ok(());
        }

        let (key, missing) = match self.find_in_workspace(dep)? {
            Some(existing) => {
                check_compatible(dep, &existing)?;
                let missing = missing_features(dep, &existing.features, existing.default_features);
                (existing.key, missing)
            }
            None => {
                let doc = match self.workspace.as_deref_mut() {
                    Some(doc) if !self.root_is_member => doc,
                    _ => &mut *self.member,
                };
                workspace_deps_mut(doc)?.insert(dep.name, Item::Value(full_spec(dep, false)));
                if self.root_is_member {
                    self.changed_member = true;
                } else {
                    self.changed_workspace = true;
                }
                (dep.name.to_owned(), Vec::new())
            }
        };
        let mut reference = InlineTable::new();
        reference.insert("workspace", true.into());
        if !missing.is_empty() {
            reference.insert("features", Value::Array(string_array(&missing)));
        }
        if optional {
            reference.insert("optional", true.into());
        }
        member_deps_mut(self.member)?.insert(&key, Item::Value(Value::InlineTable(reference)));
        self.changed_member = true;
        if optional {
            self.join_gate(&key, true)?;
        }
        Ok(())
    }

    /// The features the gate enables on the dependency `key`
    /// (`"key/feature"` or `"key?/feature"`, through the features it enables).
    fn gate_enables_on(&self, key: &str) -> Vec<String> {
        let Some(gate) = self.gate else {
            return Vec::new();
        };
        enabled_by(self.member, gate)
            .into_iter()
            .filter_map(|value| {
                let (dep, feature) = value.split_once('/')?;
                (dep.trim_end_matches('?') == key).then(|| feature.to_owned())
            })
            .collect()
    }

    /// Makes the gate enable the optional dependency `key` (`new`: just
    /// added by us), or fails when there is no gate.
    fn join_gate(&mut self, key: &str, new: bool) -> Result<()> {
        let Some(gate) = self.gate else {
            let enabling = features_enabling(self.member, key);
            let by = match enabling.as_slice() {
                [] => String::new(),
                names => format!(
                    " (enabled by {})",
                    names
                        .iter()
                        .map(|name| format!("the feature `{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            bail!(
                "`{key}` is `optional = true` in `Cargo.toml`{by}, but the MCP HTTP code is compiled \
                 whatever the features, and the generated module needs `{key}` in every build\n\
                 help: compile the HTTP code only under the feature that enables `{key}` \
                 (`#[cfg(feature = \"NAME\")]` on its module or function), or make `{key}` \
                 non-optional, then run add-auth again"
            );
        };
        let enabled = enabled_by(self.member, gate);
        let dep_form = format!("dep:{key}");
        let already = enabled.iter().any(|value| {
            *value == dep_form
                || value == key
                || value.split_once('/').is_some_and(|(dep, _)| dep == key)
        });
        if already {
            return Ok(());
        }
        let explicit = if new {
            uses_dep_syntax(self.member)
        } else {
            mentions(self.member, &dep_form)
        };
        let value = if explicit { dep_form } else { key.to_owned() };
        let array = self
            .member
            .get_mut("features")
            .and_then(|features| features.get_mut(gate))
            .and_then(Item::as_array_mut)
            .expect("checked in add_dependencies_under");
        push_formatted_like(array, &value);
        self.changed_member = true;
        Ok(())
    }

    /// The package's entry for `dep`, read through the workspace when inherited.
    fn find_in_member(&self, dep: &Dependency) -> Result<Option<Existing>> {
        let Some(deps) = self.member_deps() else {
            return Ok(None);
        };
        let Some((key, item)) = find_entry(deps, dep.name, Location::Member)? else {
            return Ok(None);
        };
        let mut features = string_list(item.get("features"));
        let optional = item.get("optional").and_then(Item::as_bool) == Some(true);
        let inherits = item.get("workspace").and_then(Item::as_bool) == Some(true);
        if !inherits {
            return Ok(Some(Existing {
                key,
                version: version_of(item),
                version_at: Location::Member,
                features,
                default_features: default_features(item),
                optional,
            }));
        }
        let Some(ws_deps) = self.workspace_deps() else {
            // A workspace we were not given: only the package side is known.
            return Ok(Some(Existing {
                key,
                version: None,
                version_at: Location::Workspace,
                features,
                default_features: true,
                optional,
            }));
        };
        let Some(ws_item) = ws_deps.get(&key) else {
            bail!(
                "`{key}` in `Cargo.toml` is inherited from the workspace, but the workspace \
                 `Cargo.toml` has no `[workspace.dependencies]` entry for it\n\
                 help: add `{key}` to `[workspace.dependencies]`, then run add-auth again"
            );
        };
        features.extend(string_list(ws_item.get("features")));
        Ok(Some(Existing {
            key,
            version: version_of(ws_item),
            version_at: Location::Workspace,
            features,
            default_features: default_features(ws_item),
            optional,
        }))
    }

    fn find_in_workspace(&self, dep: &Dependency) -> Result<Option<Existing>> {
        let Some(deps) = self.workspace_deps() else {
            return Ok(None);
        };
        Ok(
            find_entry(deps, dep.name, Location::Workspace)?.map(|(key, item)| Existing {
                key,
                version: version_of(item),
                version_at: Location::Workspace,
                features: string_list(item.get("features")),
                default_features: default_features(item),
                optional: false,
            }),
        )
    }
}

/// Finds the entry whose package is `name` (under its own name or renamed).
fn find_entry<'t>(
    deps: &'t dyn TableLike,
    name: &str,
    at: Location,
) -> Result<Option<(String, &'t Item)>> {
    for (key, item) in deps.iter() {
        let package = item.get("package").and_then(Item::as_str).unwrap_or(key);
        if package == name {
            return Ok(Some((key.to_owned(), item)));
        }
        if key == name {
            bail!(
                "{} uses the name `{name}` for the package `{package}`, but the generated code \
                 needs the package `{name}` under that name\n\
                 help: rename that dependency in {}, then run add-auth again",
                at.manifest(),
                at.manifest()
            );
        }
    }
    Ok(None)
}

fn member_deps_mut(doc: &mut DocumentMut) -> Result<&mut dyn TableLike> {
    doc.entry("dependencies")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .context("`dependencies` in `Cargo.toml` is not a table")
}

fn workspace_deps_mut(doc: &mut DocumentMut) -> Result<&mut dyn TableLike> {
    let workspace = doc
        .entry("workspace")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .context("`workspace` in the workspace `Cargo.toml` is not a table")?;
    workspace
        .entry("dependencies")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .context("`workspace.dependencies` in the workspace `Cargo.toml` is not a table")
}

/// `"1"`, or `{ version = "1", default-features = false, features = [..],
/// optional = true }`.
fn full_spec(dep: &Dependency, optional: bool) -> Value {
    if dep.default_features && dep.features.is_empty() && !optional {
        return dep.version.into();
    }
    let mut table = InlineTable::new();
    table.insert("version", dep.version.into());
    if !dep.default_features {
        table.insert("default-features", false.into());
    }
    if !dep.features.is_empty() {
        table.insert("features", Value::Array(string_array(dep.features)));
    }
    if optional {
        table.insert("optional", true.into());
    }
    Value::InlineTable(table)
}

/// Whether an entry keeps its default features (`default-features`, or the
/// older `default_features`, not `false`).
fn default_features(item: &Item) -> bool {
    ["default-features", "default_features"]
        .iter()
        .all(|key| item.get(key).and_then(Item::as_bool) != Some(false))
}

/// Every value of `[features]` that the feature `name` enables, through the
/// features it names, `name`'s own list first.
fn enabled_by(doc: &DocumentMut, name: &str) -> Vec<String> {
    let features = doc.get("features").and_then(Item::as_table_like);
    let mut seen = vec![name.to_owned()];
    let mut values = Vec::new();
    let mut queue = vec![name.to_owned()];
    while let Some(feature) = queue.pop() {
        let list = string_list(features.and_then(|table| table.get(&feature)));
        for value in list {
            let is_feature = !value.contains(['/', ':'])
                && features.is_some_and(|table| table.contains_key(&value));
            if is_feature && !seen.contains(&value) {
                seen.push(value.clone());
                queue.push(value.clone());
            }
            if !values.contains(&value) {
                values.push(value);
            }
        }
    }
    values
}

/// The features whose own list enables the optional dependency `key`.
fn features_enabling(doc: &DocumentMut, key: &str) -> Vec<String> {
    let Some(features) = doc.get("features").and_then(Item::as_table_like) else {
        return Vec::new();
    };
    let dep_form = format!("dep:{key}");
    features
        .iter()
        .filter(|(_, list)| {
            string_list(Some(list)).iter().any(|value| {
                *value == dep_form
                    || value == key
                    || value.split_once('/').is_some_and(|(dep, _)| dep == key)
            })
        })
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// Whether `[features]` uses the explicit `"dep:name"` form anywhere.
fn uses_dep_syntax(doc: &DocumentMut) -> bool {
    doc.get("features")
        .and_then(Item::as_table_like)
        .is_some_and(|features| {
            features.iter().any(|(_, list)| {
                string_list(Some(list))
                    .iter()
                    .any(|v| v.starts_with("dep:"))
            })
        })
}

/// Whether some list of `[features]` holds `value`.
fn mentions(doc: &DocumentMut, value: &str) -> bool {
    doc.get("features")
        .and_then(Item::as_table_like)
        .is_some_and(|features| {
            features
                .iter()
                .any(|(_, list)| string_list(Some(list)).iter().any(|v| v == value))
        })
}

fn string_array(items: &[impl AsRef<str>]) -> Array {
    items.iter().map(AsRef::as_ref).collect()
}

/// The version requirement of an entry: `"1"` or `{ version = "1" }`.
fn version_of(item: &Item) -> Option<String> {
    match item {
        Item::Value(Value::String(version)) => Some(version.value().clone()),
        _ => item.get("version")?.as_str().map(str::to_owned),
    }
}

fn string_list(item: Option<&Item>) -> Vec<String> {
    item.and_then(Item::as_array)
        .map(|array| {
            array
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The features of `dep` an entry with `have` (and default features on or
/// off) lacks, in `dep`'s order.
fn missing_features(dep: &Dependency, have: &[String], defaults_on: bool) -> Vec<String> {
    let umbrella = UMBRELLA_FEATURES
        .iter()
        .any(|(name, all)| *name == dep.name && have.iter().any(|f| f == all));
    if umbrella {
        return Vec::new();
    }
    let has = |wanted: &str| {
        have.iter().any(|f| f == wanted)
            || IMPLIED_FEATURES.iter().any(|(name, feature, implied)| {
                *name == dep.name && *implied == wanted && have.iter().any(|f| f == feature)
            })
    };
    let from_defaults = dep.from_defaults.iter().filter(|_| !defaults_on);
    dep.features
        .iter()
        .chain(from_defaults)
        .filter(|wanted| !has(wanted))
        .map(|f| (*f).to_owned())
        .collect()
}

/// Appends `features` to the entry, keeping its style: a bare version string
/// becomes an inline table, an array keeps its spacing and line breaks.
fn add_features(entry: &mut Item, features: &[String]) {
    if let Item::Value(Value::String(version)) = entry {
        let decor = version.decor().clone();
        let mut table = InlineTable::new();
        table.insert("version", Value::from(version.value().as_str()));
        let mut value = Value::InlineTable(table);
        *value.decor_mut() = decor;
        *entry = Item::Value(value);
    }
    let table = entry
        .as_table_like_mut()
        .expect("a dependency is a version string or a table");
    if let Some(array) = table.get_mut("features").and_then(Item::as_array_mut) {
        for feature in features {
            push_formatted_like(array, feature);
        }
        return;
    }
    let features = Value::Array(string_array(features));
    match entry {
        Item::Value(Value::InlineTable(table)) => {
            append_to_inline_table(table, "features", features)
        }
        _ => {
            entry
                .as_table_like_mut()
                .expect("checked above")
                .insert("features", Item::Value(features));
        }
    }
}

/// Inserts `key = value` after the last entry of `table`, moving the spacing
/// before `}` along so that `{ a = 1 }` becomes `{ a = 1, b = 2 }`.
fn append_to_inline_table(table: &mut InlineTable, key: &str, mut value: Value) {
    let closing = table.iter_mut().last().map(|(_, last)| {
        let decor = last.decor_mut();
        let suffix = decor.suffix().cloned();
        decor.set_suffix("");
        suffix
    });
    if let Some(Some(suffix)) = closing {
        value.decor_mut().set_suffix(suffix);
    }
    value.decor_mut().set_prefix(" ");
    table.insert(key, value);
}

/// Pushes a string onto `array` spaced like the element before it, moving
/// the spacing before `]` along when there is no trailing comma.
fn push_formatted_like(array: &mut Array, feature: &str) {
    let mut value = Value::from(feature);
    let len = array.len();
    if let Some(last) = array.get_mut(len.wrapping_sub(1)) {
        let decor = last.decor_mut();
        let prefix = decor.prefix().and_then(|p| p.as_str()).unwrap_or("");
        let prefix = if len >= 2 || prefix.contains('\n') {
            prefix.to_owned()
        } else {
            " ".to_owned()
        };
        let suffix = decor.suffix().cloned();
        decor.set_suffix("");
        value.decor_mut().set_prefix(prefix);
        if let Some(suffix) = suffix {
            value.decor_mut().set_suffix(suffix);
        }
    }
    array.push_formatted(value);
}

/// A semver-compatible series: `major`, `0.minor` or `0.0.patch`.
type Series = (u64, Option<u64>, Option<u64>);

/// The series a comparator selects. For `0` or `0.0` the parts that would
/// pick the series are missing, so the series is incomplete.
fn series(major: u64, minor: Option<u64>, patch: Option<u64>) -> Series {
    match (major, minor) {
        (0, Some(0)) => (0, Some(0), patch),
        (0, minor) => (0, minor, None),
        (major, _) => (major, None, None),
    }
}

fn is_complete(series: Series) -> bool {
    match series {
        (0, Some(0), patch) => patch.is_some(),
        (0, minor, _) => minor.is_some(),
        _ => true,
    }
}

fn check_compatible(dep: &Dependency, existing: &Existing) -> Result<()> {
    if let Some(theirs) = existing.version.as_ref().filter(|_| dep.added) {
        let manifest = existing.version_at.manifest();
        let key = &existing.key;
        let compatible = compatible(theirs, dep.version).with_context(|| {
            format!("could not read the version requirement \"{theirs}\" of `{key}` in {manifest}")
        })?;
        if !compatible {
            bail!(
                "`{key}` {theirs:?} in {manifest} is not compatible with {ours:?}, the version \
                 the generated code needs\n\
                 help: upgrade `{key}` to {ours} in {manifest}, then run add-auth again",
                ours = dep.version,
            );
        }
    }
    for (name, group) in EXCLUSIVE_FEATURES {
        if *name != dep.name {
            continue;
        }
        let Some(ours) = dep.features.iter().find(|f| group.contains(f)) else {
            continue;
        };
        if let Some(theirs) = existing
            .features
            .iter()
            .find(|f| f != ours && group.contains(&f.as_str()))
        {
            bail!(
                "`{key}` in {manifest} enables the `{theirs}` feature, but the generated code \
                 uses `{ours}`, and `{key}` takes exactly one of {choices}\n\
                 help: replace `{theirs}` with `{ours}` in the features of `{key}` in {manifest}, \
                 then run add-auth again",
                key = existing.key,
                manifest = existing.version_at.manifest(),
                choices = group
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
    }
    Ok(())
}

/// Whether the requirement `theirs` can resolve to a version of the series
/// `ours` asks for.
fn compatible(theirs: &str, ours: &str) -> Result<bool> {
    let ours_req = VersionReq::parse(ours).expect("our own version requirements are valid");
    let ours_first = &ours_req.comparators[0];
    let ours_series = series(ours_first.major, ours_first.minor, ours_first.patch);

    let req = VersionReq::parse(theirs)?;
    if let [only] = req.comparators.as_slice()
        && matches!(only.op, Op::Caret | Op::Tilde | Op::Exact)
    {
        let theirs_series = series(only.major, only.minor, only.patch);
        if theirs_series == ours_series || is_complete(theirs_series) {
            return Ok(theirs_series == ours_series);
        }
    }
    // A range (`>=9, <12`, `11.*`, `*`, `0`): does it admit our series?
    let lowest = Version::new(
        ours_series.0,
        ours_series.1.unwrap_or(0),
        ours_series.2.unwrap_or(0),
    );
    let highest = match ours_series {
        (major, None, _) => Version::new(major, u64::MAX, u64::MAX),
        (major, Some(minor), None) => Version::new(major, minor, u64::MAX),
        (major, Some(minor), Some(patch)) => Version::new(major, minor, patch),
    };
    Ok(req.matches(&lowest) || req.matches(&highest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::dep;

    /// What the generated code asks for, in the shapes that matter here.
    const DEPS: &[Dependency] = &[
        dep("jsonwebtoken", "11", false, &["aws_lc_rs"]),
        dep("reqwest", "0.13", false, &["json", "rustls"]),
        dep("serde", "1", true, &["derive"]),
        dep("serde_json", "1", true, &[]),
    ];

    fn add(member: &str) -> Result<String> {
        let edit = add_dependencies(member, None, false, DEPS)?;
        assert_eq!(edit.workspace, None);
        Ok(edit.member)
    }

    /// add, record, remove: back to the bytes it started from.
    fn round_trip(member: &str, workspace: Option<&str>, inherit: bool) {
        let edit = add_dependencies(member, workspace, inherit, DEPS).unwrap();
        assert_ne!(
            (&edit.member, &edit.workspace),
            (&member.to_owned(), &workspace.map(str::to_owned))
        );
        let record = added(member, &edit.member).unwrap();
        assert_eq!(remove_added(&edit.member, &record).unwrap(), member);
        if let (Some(before), Some(after)) = (workspace, &edit.workspace) {
            let record = added(before, after).unwrap();
            assert_eq!(remove_added(after, &record).unwrap(), before);
        }
    }

    #[test]
    fn remove_added_reverses_add_dependencies() {
        round_trip(
            r#"# A server someone wrote by hand.
[package]
name    =   "my-server"   # odd spacing
version = "0.1.0"

[dependencies]
# The MCP SDK.
rmcp = { version = "3.11", features = [ "server",  "transport-streamable-http-server" ] }   # pinned
serde = "1" # bare
reqwest = {version="0.13",default-features=false}
tokio = { version = "1", features = [
    "macros",
] }
zeta = "1"
alpha = "1"

# Tests only.
[dev-dependencies]
insta = "1"
"#,
            None,
            false,
        );
        round_trip(
            "[package]\nname = \"m\"\n\n[dependencies]\nrmcp = { workspace = true }\nserde = { workspace = true }\n",
            Some(
                "# ws\n[workspace]\nmembers = [\"m\"]\n\n[workspace.dependencies]\nrmcp = \"3.11\" # sdk\nserde = { version = \"1\" }\n",
            ),
            true,
        );
        round_trip(
            "[package]\nname = \"m\"\n\n[workspace]\n\n[workspace.dependencies]\nrmcp = \"3.11\"\n\n[dependencies]\nrmcp.workspace = true\n",
            None,
            true,
        );
    }

    #[test]
    fn remove_added_keeps_what_the_user_added_since() {
        let before = "[dependencies]\nrmcp = \"3.11\"\n";
        let edit = add(before).unwrap();
        let record = added(before, &edit).unwrap();
        let edited = edit.replace("rmcp = \"3.11\"\n", "rmcp = \"3.11\"\nmine = \"2\"\n");
        assert_eq!(
            remove_added(&edited, &record).unwrap(),
            "[dependencies]\nrmcp = \"3.11\"\nmine = \"2\"\n"
        );
        assert_eq!(remove_added(before, &record).unwrap(), before);
    }

    #[test]
    fn plain_manifest_keeps_comments_and_formatting() {
        let before = r#"# A server someone wrote by hand.
[package]
name    =   "my-server"   # odd spacing
version = "0.1.0"
edition = "2024"

[dependencies]
# The MCP SDK.
rmcp = { version = "3.11", features = [ "server",  "transport-streamable-http-server" ] }   # pinned
tokio = {version="1",features=["full"]}
axum    = "0.8"

# Tests only.
[dev-dependencies]
insta = "1"
"#;
        insta::assert_snapshot!(add(before).unwrap());
    }

    #[test]
    fn existing_dependencies_gain_only_missing_features() {
        let before = r#"[package]
name = "my-server"
version = "0.1.0"

[dependencies]
serde = "1.0.200" # no derive yet
http-client = { package = "reqwest", version = "0.13.1", features = ["json"] }
jsonwebtoken = { version = "11.1", features = [
    "aws_lc_rs",
    "use_pem",
] }

[dependencies.serde_json]
version = "1"
features = ["preserve_order"]
"#;
        insta::assert_snapshot!(add(before).unwrap());
    }

    #[test]
    fn multi_line_feature_arrays_stay_multi_line() {
        let before = r#"[dependencies]
reqwest = { version = "0.13", default-features = false, features = [
    "json",
] }
"#;
        let deps = &DEPS[1..2];
        let after = add_dependencies(before, None, false, deps).unwrap().member;
        assert_eq!(
            after,
            r#"[dependencies]
reqwest = { version = "0.13", default-features = false, features = [
    "json",
    "rustls",
] }
"#
        );
    }

    #[test]
    fn table_and_dotted_entries_gain_features() {
        let before = r#"[dependencies]
serde.version = "1"

[dependencies.reqwest]
version = "0.13"
default-features = false # we pick the TLS stack
"#;
        let after = add_dependencies(before, None, false, &DEPS[1..3])
            .unwrap()
            .member;
        assert_eq!(
            after,
            r#"[dependencies]
serde.version = "1"
serde.features = ["derive"]

[dependencies.reqwest]
version = "0.13"
default-features = false # we pick the TLS stack
features = ["json", "rustls"]
"#
        );
    }

    #[test]
    fn umbrella_feature_covers_the_others() {
        let tokio = [dep("tokio", "1", true, &["sync", "time"])];
        let full = "[dependencies]\ntokio = { version = \"1.40\", features = [\"full\"] }\n";
        assert_eq!(
            add_dependencies(full, None, false, &tokio).unwrap().member,
            full
        );
        let some =
            "[dependencies]\ntokio = { version = \"1\", features = [\"macros\", \"sync\"] }\n";
        assert_eq!(
            add_dependencies(some, None, false, &tokio).unwrap().member,
            "[dependencies]\ntokio = { version = \"1\", features = [\"macros\", \"sync\", \"time\"] }\n"
        );
    }

    #[test]
    fn missing_dependencies_table_is_created() {
        let before = "[package]\nname = \"bare\"\nversion = \"0.1.0\"\n";
        insta::assert_snapshot!(add(before).unwrap());
    }

    #[test]
    fn workspace_member_and_root() {
        let member = r#"[package]
name = "my-server"
version.workspace = true

[dependencies]
rmcp = { workspace = true }
serde = { workspace = true }
anyhow = "1"
"#;
        let root = r#"[workspace]
members = ["crates/*"]
resolver = "3"

[workspace.package]
version = "0.2.0"

# Shared versions.
[workspace.dependencies]
rmcp = { version = "3.11", features = ["server"] }
serde = "1"
serde_json = { version = "1", features = ["preserve_order"] }
"#;
        let edit = add_dependencies(member, Some(root), true, DEPS).unwrap();
        insta::assert_snapshot!("workspace_member", edit.member);
        insta::assert_snapshot!("workspace_root", edit.workspace.unwrap());
    }

    #[test]
    fn workspace_without_dependencies_table() {
        let member = "[package]\nname = \"m\"\n\n[dependencies]\nrmcp.workspace = true\n";
        let root = "[workspace]\nmembers = [\"m\"]\n";
        let edit = add_dependencies(member, Some(root), true, &DEPS[2..3]).unwrap();
        assert_eq!(
            edit.member,
            "[package]\nname = \"m\"\n\n[dependencies]\nrmcp.workspace = true\nserde = { workspace = true }\n"
        );
        assert_eq!(
            edit.workspace.unwrap(),
            "[workspace]\nmembers = [\"m\"]\n\n[workspace.dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\n"
        );
    }

    #[test]
    fn package_that_is_its_own_workspace_root() {
        let member = r#"[package]
name = "solo"

[workspace]

[workspace.dependencies]
rmcp = "3.11"

[dependencies]
rmcp = { workspace = true }
"#;
        let edit = add_dependencies(member, None, true, &DEPS[2..4]).unwrap();
        assert_eq!(edit.workspace, None);
        assert_eq!(
            edit.member,
            r#"[package]
name = "solo"

[workspace]

[workspace.dependencies]
rmcp = "3.11"
serde = { version = "1", features = ["derive"] }
serde_json = "1"

[dependencies]
rmcp = { workspace = true }
serde = { workspace = true }
serde_json = { workspace = true }
"#
        );
    }

    #[test]
    fn unchanged_workspace_is_returned_as_is() {
        let member = "[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\n";
        let root = "[workspace]   # odd\nmembers=[\"a\"]\n";
        let edit = add_dependencies(member, Some(root), false, &DEPS[2..3]).unwrap();
        assert_eq!(edit.member, member);
        assert_eq!(edit.workspace.as_deref(), Some(root));
    }

    #[test]
    fn incompatible_version_is_an_error() {
        let before = "[dependencies]\njsonwebtoken = \"9\"\n";
        let err = add(before).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"));
    }

    #[test]
    fn incompatible_minor_of_zero_major_is_an_error() {
        let before = "[dependencies]\nhttp = { package = \"reqwest\", version = \"0.12\" }\n";
        let err = add(before).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"));
    }

    #[test]
    fn incompatible_workspace_version_is_an_error() {
        let member = "[dependencies]\nrmcp = { workspace = true }\n";
        let root = "[workspace]\n\n[workspace.dependencies]\nreqwest = \"0.11\"\n";
        let err = add_dependencies(member, Some(root), true, DEPS).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"));
    }

    #[test]
    fn other_jsonwebtoken_backend_is_an_error() {
        let before =
            "[dependencies]\njsonwebtoken = { version = \"11\", features = [\"rust_crypto\"] }\n";
        let err = add(before).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"));
    }

    #[test]
    fn name_taken_by_another_package_is_an_error() {
        let before = "[dependencies]\nserde = { package = \"serde-fork\", version = \"1\" }\n";
        let err = add(before).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"));
    }

    #[test]
    fn add_dependencies_noop() {
        let manifests = [
            "# nothing yet\n[package]\nname = \"a\"\n",
            "[dependencies]\nserde = \"1\"\nreqwest = { version = \"0.13.2\", features = [\"json\"] }\n",
            "[dependencies]\r\ntokio = \"1\"\r\n",
        ];
        for before in manifests {
            let once = add(before).unwrap();
            let twice = add(&once).unwrap();
            assert_eq!(once, twice, "second run changed:\n{once}");
        }

        let complete = r#"[dependencies]
jsonwebtoken = { version = "11.0.2", features = ["aws_lc_rs", "use_pem"] }  # keep
reqwest   = { version = "0.13", features = ["rustls", "json", "stream"] }
serde = { version = "1.0.219", features = ["derive"] }
serde_json = "1"
"#;
        assert_eq!(add(complete).unwrap(), complete);
    }

    #[test]
    fn workspace_noop() {
        let member = "[dependencies]\nrmcp = { workspace = true }\n";
        let root = "[workspace]\nmembers = [\"m\"]\n\n[workspace.dependencies]\nrmcp = \"3.11\"\nserde = \"1\"\n";
        let once = add_dependencies(member, Some(root), true, DEPS).unwrap();
        let twice = add_dependencies(&once.member, once.workspace.as_deref(), true, DEPS).unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn version_compatibility() {
        let cases = [
            ("11", "11", true),
            ("11.0.3", "11", true),
            ("^11.2", "11", true),
            ("~11.2", "11", true),
            ("=11.0.1", "11", true),
            ("11.*", "11", true),
            ("*", "11", true),
            (">=9, <12", "11", true),
            (">=11.5", "11", true),
            ("9", "11", false),
            ("12", "11", false),
            ("<11", "11", false),
            ("=10.3.0", "11", false),
            ("0.13", "0.13", true),
            ("0.13.1", "0.13", true),
            ("0.12", "0.13", false),
            ("0.14", "0.13", false),
            ("0", "0.13", true),
            ("0.*", "0.13", true),
            ("1", "0.13", false),
            ("0.0.3", "0.0.3", true),
            ("0.0.4", "0.0.3", false),
        ];
        for (theirs, ours, expected) in cases {
            assert_eq!(
                compatible(theirs, ours).unwrap(),
                expected,
                "{theirs:?} against {ours:?}"
            );
        }
        assert!(compatible("eleven", "11").is_err());
    }

    #[test]
    fn unreadable_version_is_an_error() {
        let err = add("[dependencies]\nserde = \"one\"\n").unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"));
    }

    #[test]
    fn git_and_path_dependencies_are_taken_as_is() {
        let before = r#"[dependencies]
serde = { git = "https://github.com/serde-rs/serde" }
serde_json = { path = "../json" }
"#;
        let after = add_dependencies(before, None, false, &DEPS[2..4])
            .unwrap()
            .member;
        assert_eq!(
            after,
            r#"[dependencies]
serde = { git = "https://github.com/serde-rs/serde", features = ["derive"] }
serde_json = { path = "../json" }
"#
        );
    }

    #[test]
    fn invalid_manifest_is_an_error() {
        let err = add("[dependencies\n").unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"));
    }

    /// axum as the generated code needs it, and one dependency to add.
    const GATED: &[Dependency] = &[
        dep("axum", "0.8", true, &[]).using_defaults(&["json"]),
        dep("jsonwebtoken", "11", false, &["aws_lc_rs"]),
        dep("rmcp", "*", true, &["transport-streamable-http-server"])
            .using_defaults(&["server"])
            .existing_only(),
        dep("tokio", "1", true, &["sync", "rt"]),
    ];

    /// add (under `gate`), compare whole, then record and remove: back to
    /// the bytes it started from.
    fn gated(before: &str, gate: Option<&str>, expected: &str) {
        let after = add_dependencies_under(before, None, false, GATED, gate)
            .unwrap()
            .member;
        assert_eq!(after, expected);
        let record = added(before, &after).unwrap();
        assert_eq!(remove_added(&after, &record).unwrap(), before);
        let again = add_dependencies_under(&after, None, false, GATED, gate).unwrap();
        assert_eq!(again.member, after, "a second run changes nothing");
    }

    #[test]
    fn default_features_off_gains_the_defaults_the_code_uses() {
        gated(
            r#"[dependencies]
axum = { version = "0.8", default-features = false, features = ["http1", "tokio"] } # lean
rmcp = { version = "1.7", default-features = false, features = ["macros"] }
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
jsonwebtoken = { version = "11", default-features = false, features = ["aws_lc_rs"] }
"#,
            None,
            r#"[dependencies]
axum = { version = "0.8", default-features = false, features = ["http1", "tokio", "json"] } # lean
rmcp = { version = "1.7", default-features = false, features = ["macros", "transport-streamable-http-server", "server"] }
tokio = { version = "1", features = ["rt-multi-thread", "macros", "sync"] }
jsonwebtoken = { version = "11", default-features = false, features = ["aws_lc_rs"] }
"#,
        );
    }

    #[test]
    fn table_form_entry_gains_features_in_its_table() {
        gated(
            r#"[dependencies.axum]
version = "0.8"
default-features = false # no hyper server features we do not use
features = [
    "http1",
    "tokio",
]

[dependencies]
rmcp = { version = "3.11", features = ["transport-streamable-http-server"] }
tokio = { version = "1", features = ["full"] }
jsonwebtoken = { version = "11", default-features = false, features = ["aws_lc_rs"] }
"#,
            None,
            r#"[dependencies.axum]
version = "0.8"
default-features = false # no hyper server features we do not use
features = [
    "http1",
    "tokio",
    "json",
]

[dependencies]
rmcp = { version = "3.11", features = ["transport-streamable-http-server"] }
tokio = { version = "1", features = ["full"] }
jsonwebtoken = { version = "11", default-features = false, features = ["aws_lc_rs"] }
"#,
        );
    }

    #[test]
    fn workspace_entry_without_defaults_gains_them_in_the_member() {
        let member = "[dependencies]\naxum = { workspace = true, features = [\"macros\"] }\nrmcp.workspace = true\n";
        let root = "[workspace]\n\n[workspace.dependencies]\naxum = { version = \"0.8\", default-features = false, features = [\"http1\"] }\nrmcp = { version = \"3.11\", features = [\"transport-streamable-http-server\"] }\ntokio = { version = \"1\", features = [\"rt\", \"sync\"] }\n";
        let edit = add_dependencies(member, Some(root), true, GATED).unwrap();
        assert_eq!(
            edit.member,
            "[dependencies]\naxum = { workspace = true, features = [\"macros\", \"json\"] }\nrmcp.workspace = true\njsonwebtoken = { workspace = true }\ntokio = { workspace = true }\n"
        );
        assert_eq!(
            edit.workspace.as_deref().unwrap(),
            format!(
                "{root}jsonwebtoken = {{ version = \"11\", default-features = false, features = [\"aws_lc_rs\"] }}\n"
            )
        );
        let record = added(member, &edit.member).unwrap();
        assert_eq!(remove_added(&edit.member, &record).unwrap(), member);
    }

    #[test]
    fn code_behind_a_feature_joins_its_dependencies_to_it() {
        gated(
            r#"[dependencies]
axum = { version = "0.8", optional = true, default-features = false, features = ["http1", "tokio"] }
rmcp = { version = "3.11", features = ["server"] }
tokio = { version = "1", features = ["rt-multi-thread"] }

[features]
default = ["http"]
# Streamable HTTP; stdio without it.
http = ["dep:axum", "rmcp/transport-streamable-http-server"]
"#,
            Some("http"),
            r#"[dependencies]
axum = { version = "0.8", optional = true, default-features = false, features = ["http1", "tokio", "json"] }
rmcp = { version = "3.11", features = ["server"] }
tokio = { version = "1", features = ["rt-multi-thread", "sync"] }
jsonwebtoken = { version = "11", default-features = false, features = ["aws_lc_rs"], optional = true }

[features]
default = ["http"]
# Streamable HTTP; stdio without it.
http = ["dep:axum", "rmcp/transport-streamable-http-server", "dep:jsonwebtoken"]
"#,
        );
    }

    #[test]
    fn workspace_member_behind_a_feature_inherits_optional_entries() {
        let member = "[dependencies]\naxum = { workspace = true, optional = true }\nrmcp.workspace = true\ntokio.workspace = true\n\n[features]\nhttp = [\"dep:axum\", \"rmcp/transport-streamable-http-server\"]\n";
        let root = "[workspace]\n\n[workspace.dependencies]\naxum = \"0.8\"\nrmcp = \"3.11\"\ntokio = { version = \"1\", features = [\"full\"] }\n";
        let edit = add_dependencies_under(member, Some(root), true, GATED, Some("http")).unwrap();
        assert_eq!(
            edit.member,
            "[dependencies]\naxum = { workspace = true, optional = true }\nrmcp.workspace = true\ntokio.workspace = true\njsonwebtoken = { workspace = true, optional = true }\n\n[features]\nhttp = [\"dep:axum\", \"rmcp/transport-streamable-http-server\", \"dep:jsonwebtoken\"]\n"
        );
        let workspace = edit.workspace.unwrap();
        assert_eq!(
            workspace,
            format!(
                "{root}jsonwebtoken = {{ version = \"11\", default-features = false, features = [\"aws_lc_rs\"] }}\n"
            )
        );
        let record = added(member, &edit.member).unwrap();
        assert_eq!(remove_added(&edit.member, &record).unwrap(), member);
        let record = added(root, &workspace).unwrap();
        assert_eq!(remove_added(&workspace, &record).unwrap(), root);
    }

    #[test]
    fn implicit_feature_style_is_followed() {
        gated(
            r#"[dependencies]
axum = { version = "0.8", optional = true }
rmcp = { version = "3.11", optional = true, features = ["transport-streamable-http-server"] }
tokio = { version = "1", features = ["rt", "sync"] }

[features]
serve = ["web"]
web = [
    "rmcp",
]
"#,
            Some("serve"),
            r#"[dependencies]
axum = { version = "0.8", optional = true }
rmcp = { version = "3.11", optional = true, features = ["transport-streamable-http-server"] }
tokio = { version = "1", features = ["rt", "sync"] }
jsonwebtoken = { version = "11", default-features = false, features = ["aws_lc_rs"], optional = true }

[features]
serve = ["web", "axum", "jsonwebtoken"]
web = [
    "rmcp",
]
"#,
        );
    }

    #[test]
    fn optional_dependency_without_a_gate_is_an_error() {
        let before = "[dependencies]\naxum = { version = \"0.8\", optional = true }\nrmcp = \"3.11\"\n\n[features]\nweb = [\"dep:axum\"]\n";
        let err = add_dependencies(before, None, false, GATED).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "`axum` is `optional = true` in `Cargo.toml` (enabled by the feature `web`), but the MCP HTTP code \
             is compiled whatever the features, and the generated module needs `axum` in every build\n\
             help: compile the HTTP code only under the feature that enables `axum` \
             (`#[cfg(feature = \"NAME\")]` on its module or function), or make `axum` non-optional, \
             then run add-auth again"
        );
        let err = add_dependencies_under(before, None, false, GATED, Some("http")).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "the MCP HTTP code is compiled only with the cargo feature `http`, but `Cargo.toml` declares \
             no such feature in `[features]`\n\
             help: declare it (`http = []` under `[features]`), then run add-auth again"
        );
        let implicit = "[dependencies]\naxum = { version = \"0.8\", optional = true }\n";
        let err = add_dependencies_under(implicit, None, false, GATED, Some("axum")).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "the MCP HTTP code is compiled only with the cargo feature `axum`, but `Cargo.toml` declares \
             no such feature in `[features]`\n\
             help: declare it (`axum = [\"dep:axum\"]` under `[features]`), then run add-auth again"
        );
    }
}
