//! The `secrets` check: nothing secret is written in the files committed
//! with the project's auth, `mcp-builder.json` and `Cargo.toml`: a key such
//! as `client_secret` or `password` with a value, or a JWT-shaped string.

use super::{Finding, Location, Project, text::jwt_words};
use crate::plan::STATE_FILE;

const SECRETS: &str = "secrets";
const FILES: [&str; 2] = [STATE_FILE, "Cargo.toml"];

pub fn check(project: &Project) -> Vec<Finding> {
    let mut findings = Vec::new();
    for file in FILES {
        let Some(text) = project.file(file) else {
            continue;
        };
        let mut table = String::new();
        for (index, line) in text.lines().enumerate() {
            let at = Location::line(file, Some(index + 1));
            if file == "Cargo.toml" && line.trim_start().starts_with('[') {
                table = line.trim().to_string();
            }
            // A dependency's name is not a secret, whatever it is called.
            let in_dependencies = table.contains("dependencies");
            if let Some(key) = secret_key(line).filter(|_| !in_dependencies) {
                findings.push(
                    Finding::fail(SECRETS, format!(
                        "`{key}` has a value in `{file}`, which is committed: move the secret to `.env` (git-ignored) or the environment, and rotate it"
                    ))
                    .at(at),
                );
            } else if jwt_words(line).next().is_some() {
                findings.push(
                    Finding::fail(SECRETS, format!(
                        "a token (a JWT) is written in `{file}`, which is committed: remove it; if it has not expired, revoke it"
                    ))
                    .at(at),
                );
            }
        }
    }
    if findings.is_empty() {
        findings.push(
            Finding::pass(
                SECRETS,
                format!("no secret or token in `{STATE_FILE}` or `Cargo.toml`"),
            )
            .at(Location::file(STATE_FILE)),
        );
    }
    findings
}

/// The key of a `"key": "value"` (JSON) or `key = "value"` (TOML) line
/// when it names a secret and its value is a non-empty string.
fn secret_key(line: &str) -> Option<String> {
    let line = line.trim();
    let (key, value) = if let Some(rest) = line.strip_prefix('"') {
        let (key, rest) = rest.split_once('"')?;
        (key, rest.trim_start().strip_prefix(':')?)
    } else {
        let (key, value) = line.split_once('=')?;
        (key.trim().trim_matches(['"', '\'']), value)
    };
    let value = value.trim().trim_end_matches(',').trim();
    let quoted = value.len() > 2
        && (value.starts_with('"') && value.ends_with('"')
            || value.starts_with('\'') && value.ends_with('\''));
    (quoted && names_a_secret(key)).then(|| key.to_string())
}

/// Whether a key names a secret value (and not the name of a variable or
/// file that holds one, such as `jwt_secret_env`).
fn names_a_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    let holds_a_name = ["_env", "_var", "_file", "_path", "_url", "_format"]
        .iter()
        .any(|suffix| key.ends_with(suffix));
    let secret = key.contains("secret")
        || key.contains("password")
        || key.contains("passwd")
        || key.contains("private_key")
        || key.contains("api_key")
        || key == "token"
        || key.ends_with("_token");
    secret && !holds_a_name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_with_values() {
        assert_eq!(
            secret_key("    \"client_secret\": \"abc\","),
            Some("client_secret".into())
        );
        assert_eq!(secret_key("password = 'hunter2'"), Some("password".into()));
        assert_eq!(secret_key("\"client_secret\": \"\","), None);
        assert_eq!(
            secret_key("\"jwt_secret_env\": \"SUPABASE_JWT_SECRET\","),
            None
        );
        assert_eq!(secret_key("\"token_format\": \"introspection\","), None);
        assert_eq!(secret_key("\"tool_scopes\": {"), None);
        assert_eq!(
            secret_key("secret-sauce = \"1.0\""),
            Some("secret-sauce".into())
        );
    }
}
