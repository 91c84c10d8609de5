//! Reads a project's `.env` for the dialog's default answers (say, the
//! tenant domain the user already wrote there). Nothing here writes
//! (`plan::dotenv` edits the file).

use std::collections::BTreeMap;

/// The non-empty values of the file, parsed as dotenv loaders parse it
/// (`export`, quotes, comments); lines it cannot parse are skipped, and a
/// repeated key keeps its first value, as a loader that never overrides does.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for (key, value) in dotenvy::from_read_iter(text.as_bytes()).flatten() {
        if !value.trim().is_empty() {
            values.entry(key).or_insert(value);
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_lines_are_read() {
        let values = parse(
            "# settings\nAUTH0_DOMAIN=a.auth0.com\nexport AUTH0_AUDIENCE=\"https://x/mcp\"\n\
             AUTH0_CLIENT_ID=\nAUTH0_DOMAIN=b.auth0.com\nnot a pair\n  MCP_RESOURCE_URL = 'https://y'  \n",
        );
        assert_eq!(
            values.into_iter().collect::<Vec<_>>(),
            [
                ("AUTH0_AUDIENCE".to_string(), "https://x/mcp".to_string()),
                ("AUTH0_DOMAIN".to_string(), "a.auth0.com".to_string()),
                ("MCP_RESOURCE_URL".to_string(), "https://y".to_string()),
            ]
        );
    }
}
