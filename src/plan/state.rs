//! Reads and merges the state file `mcp-builder.json`, in memory.
//!
//! The file records what `add-auth` set up (`auth`) and which generator wrote
//! it (`generator`). Only those two top-level keys are ever replaced; any other
//! key, and the order of all keys, is kept. `generator.added` records what
//! add-auth added to the user's files (merged across runs, see
//! [`merge_added`]) so that `auth remove` takes out exactly that, and
//! [`remove_state`] drops both keys again. Nothing here reads or writes a
//! file: the state file is written last, by `apply`.

use anyhow::{Result, bail};
use serde_json::{Map, Value};

/// The state file's name, relative to the package root.
pub const STATE_FILE: &str = "mcp-builder.json";

/// Returns the new contents of `mcp-builder.json`: `existing` (`None` when
/// there is no such file) with `auth` and `generator` replaced in place, or
/// put first, in that order, when absent. Pretty-printed with two spaces and
/// a trailing newline, so merging the same values again gives the same bytes.
///
/// Errors when `existing` is not valid JSON or not a JSON object.
pub fn merge_state(existing: Option<&str>, auth: Value, generator: Value) -> Result<String> {
    let old = match existing {
        Some(text) => parse_object(text)?,
        None => Map::new(),
    };
    let mut merged = Map::with_capacity(old.len() + 2);
    let (mut auth, mut generator) = (Some(auth), Some(generator));
    if !old.contains_key("auth") {
        merged.insert("auth".to_owned(), auth.take().expect("set above"));
    }
    if !old.contains_key("generator") {
        merged.insert("generator".to_owned(), generator.take().expect("set above"));
    }
    for (key, value) in old {
        let value = match key.as_str() {
            "auth" => auth.take().unwrap_or(value),
            "generator" => generator.take().unwrap_or(value),
            _ => value,
        };
        merged.insert(key, value);
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(merged))
        .expect("a JSON value always serializes");
    text.push('\n');
    Ok(text)
}

/// The `auth` value of an existing `mcp-builder.json`; `None` when the file
/// has no `auth` key or it is `null`.
pub fn read_auth_state(existing: &str) -> Result<Option<Value>> {
    let mut object = parse_object(existing)?;
    Ok(object.remove("auth").filter(|auth| !auth.is_null()))
}

/// `generator.added` of an existing `mcp-builder.json`: what earlier runs
/// of add-auth added to the user's files (`None` when not recorded).
pub fn read_added(existing: &str) -> Result<Option<Value>> {
    let object = parse_object(existing)?;
    Ok(object
        .get("generator")
        .and_then(|generator| generator.get("added"))
        .filter(|added| added.is_object())
        .cloned())
}

/// Merges what this run added into what earlier runs recorded: objects key
/// by key (earlier keys first), lists as a union in order, and for any other
/// value the earlier record wins. A re-run that adds nothing keeps the record.
pub fn merge_added(previous: Option<Value>, now: Value) -> Value {
    match (previous, now) {
        (None, now) => now,
        (Some(Value::Object(mut old)), Value::Object(new)) => {
            for (key, value) in new {
                match old.get_mut(&key) {
                    Some(slot) => {
                        let earlier = slot.take();
                        *slot = merge_added(Some(earlier), value);
                    }
                    None => {
                        old.insert(key, value);
                    }
                }
            }
            Value::Object(old)
        }
        (Some(Value::Array(mut old)), Value::Array(new)) => {
            for item in new {
                if !old.contains(&item) {
                    old.push(item);
                }
            }
            Value::Array(old)
        }
        (Some(old), _) => old,
    }
}

/// The contents of `mcp-builder.json` once `auth remove` has dropped `auth`
/// and `generator`; `None` when nothing else is left (delete the file).
pub fn remove_state(existing: &str) -> Result<Option<String>> {
    let mut object = parse_object(existing)?;
    object.shift_remove("auth");
    object.shift_remove("generator");
    if object.is_empty() {
        return Ok(None);
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(object))
        .expect("a JSON value always serializes");
    text.push('\n');
    Ok(Some(text))
}

fn parse_object(text: &str) -> Result<Map<String, Value>> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(err) => bail!(
            "could not parse `{STATE_FILE}`: {err}\n\
             help: fix or remove `{STATE_FILE}`, then run add-auth again"
        ),
    };
    match value {
        Value::Object(object) => Ok(object),
        other => bail!(
            "`{STATE_FILE}` holds a JSON {}, not an object\n\
             help: fix or remove `{STATE_FILE}`, then run add-auth again",
            kind(&other)
        ),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn auth() -> Value {
        json!({
            "provider": "auth0",
            "issuer": "https://example.eu.auth0.com/",
            "scopes": ["tasks:read", "tasks:write"],
        })
    }

    fn generator() -> Value {
        json!({ "name": "mcp-builder", "version": "0.1.0" })
    }

    #[test]
    fn new_file() {
        insta::assert_snapshot!(merge_state(None, auth(), generator()).unwrap(), @r#"
        {
          "auth": {
            "provider": "auth0",
            "issuer": "https://example.eu.auth0.com/",
            "scopes": [
              "tasks:read",
              "tasks:write"
            ]
          },
          "generator": {
            "name": "mcp-builder",
            "version": "0.1.0"
          }
        }
        "#);
    }

    #[test]
    fn unknown_keys_and_order_are_kept() {
        let before = r#"{"zeta": 1, "generator": {"name": "mcp-builder", "version": "0.0.9"},
            "notes": ["hand", "written"], "auth": {"provider": "okta"}, "alpha": null}"#;
        insta::assert_snapshot!(merge_state(Some(before), auth(), generator()).unwrap(), @r#"
        {
          "zeta": 1,
          "generator": {
            "name": "mcp-builder",
            "version": "0.1.0"
          },
          "notes": [
            "hand",
            "written"
          ],
          "auth": {
            "provider": "auth0",
            "issuer": "https://example.eu.auth0.com/",
            "scopes": [
              "tasks:read",
              "tasks:write"
            ]
          },
          "alpha": null
        }
        "#);
    }

    #[test]
    fn absent_keys_go_first() {
        let before = r#"{"custom": true, "generator": "old"}"#;
        let after = merge_state(Some(before), json!(1), json!(2)).unwrap();
        assert_eq!(
            after,
            "{\n  \"auth\": 1,\n  \"custom\": true,\n  \"generator\": 2\n}\n"
        );
    }

    #[test]
    fn merge_state_noop() {
        let before = r#"{"x": {"b": 2, "a": 1}, "auth": 0}"#;
        let once = merge_state(Some(before), auth(), generator()).unwrap();
        let twice = merge_state(Some(&once), auth(), generator()).unwrap();
        assert_eq!(once, twice);
        let fresh = merge_state(None, auth(), generator()).unwrap();
        assert_eq!(
            merge_state(Some(&fresh), auth(), generator()).unwrap(),
            fresh
        );
    }

    #[test]
    fn invalid_json_is_an_error() {
        let err = merge_state(Some("{\n  \"auth\": {,\n}"), auth(), generator()).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"), @r"
        could not parse `mcp-builder.json`: key must be a string at line 2 column 12
        help: fix or remove `mcp-builder.json`, then run add-auth again
        ");
        let err = read_auth_state("").unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"), @r"
        could not parse `mcp-builder.json`: EOF while parsing a value at line 1 column 0
        help: fix or remove `mcp-builder.json`, then run add-auth again
        ");
    }

    #[test]
    fn non_object_is_an_error() {
        let err = merge_state(Some("[1, 2]"), auth(), generator()).unwrap_err();
        insta::assert_snapshot!(format!("{err:#}"), @r"
        `mcp-builder.json` holds a JSON array, not an object
        help: fix or remove `mcp-builder.json`, then run add-auth again
        ");
    }

    #[test]
    fn merge_added_keeps_earlier_records() {
        let first = json!({"cargo": {"Cargo.toml": {"dependencies": {"added": ["a"]}}}, "created": [".env"]});
        let second = json!({"cargo": {"Cargo.toml": {"dependencies": {"added": ["b"]}}}, "gitignore": [".env"]});
        assert_eq!(
            merge_added(Some(first.clone()), second),
            json!({"cargo": {"Cargo.toml": {"dependencies": {"added": ["a", "b"]}}}, "created": [".env"], "gitignore": [".env"]})
        );
        assert_eq!(merge_added(Some(first.clone()), json!({})), first);
        assert_eq!(merge_added(None, json!({"x": 1})), json!({"x": 1}));
    }

    #[test]
    fn remove_state_keeps_other_keys() {
        let text = merge_state(Some(r#"{"notes": 1}"#), auth(), generator()).unwrap();
        assert_eq!(
            remove_state(&text).unwrap().as_deref(),
            Some("{\n  \"notes\": 1\n}\n")
        );
        let only = merge_state(None, auth(), generator()).unwrap();
        assert_eq!(remove_state(&only).unwrap(), None);
        assert_eq!(read_added(&only).unwrap(), None);
        assert_eq!(
            read_added(r#"{"generator": {"added": {"a": 1}}}"#).unwrap(),
            Some(json!({"a": 1}))
        );
    }

    #[test]
    fn reads_auth() {
        let text = merge_state(None, auth(), generator()).unwrap();
        assert_eq!(read_auth_state(&text).unwrap(), Some(auth()));
        assert_eq!(read_auth_state(r#"{"generator": 1}"#).unwrap(), None);
        assert_eq!(read_auth_state(r#"{"auth": null}"#).unwrap(), None);
        assert!(read_auth_state("true").is_err());
    }
}
