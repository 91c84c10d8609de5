//! Merges keys into `.env` / `.env.example` and makes `.gitignore` cover
//! `.env`, line by line, in memory.
//!
//! Every existing line is kept byte for byte (comments, blank lines,
//! `export KEY=...`, quoting, CRLF line endings). A key that is already set,
//! even to an empty value, is never changed: new keys are only ever appended.
//! Nothing here reads or writes a file.

/// The comment line written above the keys `add-auth` appends.
pub const ADDED_COMMENT: &str = "# Added by mcp-builder add-auth";

/// Appends the `entries` whose key is not already set in `existing` (a `.env`
/// file's contents, `None` when there is none), after one [`ADDED_COMMENT`]
/// line. Returns `existing` unchanged when every key is set.
///
/// A key counts as set when a line reads `KEY=...` or `export KEY=...`
/// (spaces around the key and `=` allowed). Values are written bare when they
/// only hold characters that neither `dotenvy` nor a shell sourcing the
/// file treats specially, else double-quoted with `\`, `"`, `$` and line
/// breaks escaped, the way `dotenvy` reads them back.
pub fn merge_env(existing: Option<&str>, entries: &[(&str, &str)]) -> String {
    let existing = existing.unwrap_or("");
    let mut present: Vec<&str> = existing.lines().filter_map(key_of).collect();

    let mut added = Vec::new();
    for (key, value) in entries {
        if present.contains(key) {
            continue;
        }
        present.push(key);
        added.push(format!("{key}={}", quote(value)));
    }
    if added.is_empty() {
        return existing.to_owned();
    }

    let eol = line_ending(existing);
    let mut out = String::with_capacity(existing.len() + 64 * added.len());
    out.push_str(existing);
    if !existing.is_empty() && !existing.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str(ADDED_COMMENT);
    out.push_str(eol);
    for line in added {
        out.push_str(&line);
        out.push_str(eol);
    }
    out
}

/// The keys `after` sets that `before` (`None`: no file) does not: what
/// [`merge_env`] added.
pub fn added_keys(before: Option<&str>, after: &str) -> Vec<String> {
    let present: Vec<&str> = before.unwrap_or("").lines().filter_map(key_of).collect();
    let mut added: Vec<String> = Vec::new();
    for key in after.lines().filter_map(key_of) {
        if !present.contains(&key) && !added.iter().any(|k| k == key) {
            added.push(key.to_owned());
        }
    }
    added
}

/// Takes out of `existing` the lines [`merge_env`] appended for `keys`: the
/// last line setting each key, and an [`ADDED_COMMENT`] line left heading no
/// key. Every other line stays byte for byte.
pub fn remove_env(existing: &str, keys: &[String]) -> String {
    let lines: Vec<&str> = existing.split_inclusive('\n').collect();
    let mut removed = vec![false; lines.len()];
    for key in keys {
        if let Some(i) = (0..lines.len())
            .rev()
            .find(|&i| !removed[i] && key_of(lines[i]) == Some(key.as_str()))
        {
            removed[i] = true;
        }
    }
    for i in 0..lines.len() {
        if removed[i] || lines[i].trim_end() != ADDED_COMMENT {
            continue;
        }
        let next = (i + 1..lines.len()).find(|&j| !removed[j]);
        if next.is_none_or(|j| key_of(lines[j]).is_none()) {
            removed[i] = true;
        }
    }
    lines
        .iter()
        .zip(removed)
        .filter(|(_, removed)| !removed)
        .map(|(line, _)| *line)
        .collect()
}

/// Takes out of a `.gitignore` the last line that reads exactly `entry`,
/// which [`ensure_gitignored`] appended.
pub fn remove_gitignored(existing: &str, entry: &str) -> String {
    let lines: Vec<&str> = existing.split_inclusive('\n').collect();
    match lines.iter().rposition(|line| line.trim_end() == entry) {
        Some(at) => lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, line)| *line)
            .collect(),
        None => existing.to_owned(),
    }
}

/// Appends `entry` (e.g. `.env`) as a line of `existing` (a `.gitignore`'s
/// contents, `None` when there is none) unless a line already ignores it.
///
/// A line covers `entry` when it reads `entry`, `/entry`, `**/entry`,
/// `entry*` or `*entry` (so `.env*` and `*.env` cover `.env`). A later
/// negation (`!.env`) does not count: the file is returned unchanged and the
/// caller can warn using [`is_negated`].
pub fn ensure_gitignored(existing: Option<&str>, entry: &str) -> String {
    let existing = existing.unwrap_or("");
    let covered = existing
        .lines()
        .map(|line| line.trim_end())
        .any(|line| covers(line, entry));
    if covered {
        return existing.to_owned();
    }
    let eol = line_ending(existing);
    let mut out = existing.to_owned();
    if !existing.is_empty() && !existing.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str(entry);
    out.push_str(eol);
    out
}

/// Whether a `.gitignore` re-includes `entry` with a negation such as
/// `!.env` or `!/.env`, which would defeat the line [`ensure_gitignored`]
/// relies on.
pub fn is_negated(gitignore: &str, entry: &str) -> bool {
    gitignore
        .lines()
        .filter_map(|line| line.trim_end().strip_prefix('!'))
        .any(|pattern| covers(pattern, entry))
}

fn covers(pattern: &str, entry: &str) -> bool {
    let pattern = pattern
        .strip_prefix("**/")
        .or_else(|| pattern.strip_prefix('/'))
        .unwrap_or(pattern);
    pattern == entry
        || pattern.strip_suffix('*') == Some(entry)
        || pattern.strip_prefix('*') == Some(entry)
}

/// The key a `.env` line sets, if any.
fn key_of(line: &str) -> Option<&str> {
    let line = line.trim_start();
    if line.starts_with('#') {
        return None;
    }
    let line = match line.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
        _ => line,
    };
    let (key, _) = line.split_once('=')?;
    let key = key.trim_end();
    (!key.is_empty()).then_some(key)
}

/// `\r\n` when the file's first line ends that way, else `\n`.
fn line_ending(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if text[..i].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

fn quote(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:,@+=%".contains(c));
    if plain {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRIES: &[(&str, &str)] = &[
        ("MCP_AUTH_ISSUER", "https://example.eu.auth0.com/"),
        ("MCP_AUTH_AUDIENCE", "https://api.example.com/mcp"),
        ("MCP_AUTH_SCOPES", "tasks:read tasks:write"),
    ];

    #[test]
    fn new_file() {
        assert_eq!(
            merge_env(None, ENTRIES),
            "# Added by mcp-builder add-auth\n\
             MCP_AUTH_ISSUER=https://example.eu.auth0.com/\n\
             MCP_AUTH_AUDIENCE=https://api.example.com/mcp\n\
             MCP_AUTH_SCOPES=\"tasks:read tasks:write\"\n"
        );
    }

    #[test]
    fn existing_lines_are_kept_and_set_keys_untouched() {
        let before = "# My settings\n\
                      TASKS_ADDR = 0.0.0.0:8000   # all interfaces\n\
                      \n\
                      export MCP_AUTH_ISSUER='https://other.example/'\n\
                      MCP_AUTH_AUDIENCE=\n";
        assert_eq!(
            merge_env(Some(before), ENTRIES),
            format!(
                "{before}# Added by mcp-builder add-auth\n\
                 MCP_AUTH_SCOPES=\"tasks:read tasks:write\"\n"
            )
        );
    }

    #[test]
    fn crlf_file_stays_crlf() {
        let before = "# Windows\r\nTASKS_ADDR=127.0.0.1:9000\r\n";
        assert_eq!(
            merge_env(Some(before), &ENTRIES[..1]),
            "# Windows\r\nTASKS_ADDR=127.0.0.1:9000\r\n\
             # Added by mcp-builder add-auth\r\n\
             MCP_AUTH_ISSUER=https://example.eu.auth0.com/\r\n"
        );
    }

    #[test]
    fn missing_trailing_newline_is_added_first() {
        assert_eq!(
            merge_env(Some("A=1"), &ENTRIES[..1]),
            "A=1\n# Added by mcp-builder add-auth\nMCP_AUTH_ISSUER=https://example.eu.auth0.com/\n"
        );
        assert_eq!(
            merge_env(Some("A=1\r\nB=2"), &[("C", "3")]),
            "A=1\r\nB=2\r\n# Added by mcp-builder add-auth\r\nC=3\r\n"
        );
    }

    #[test]
    fn every_key_present_returns_input_unchanged() {
        let before = "export MCP_AUTH_ISSUER=x\nMCP_AUTH_AUDIENCE=\"y\"\n\tMCP_AUTH_SCOPES =";
        assert_eq!(merge_env(Some(before), ENTRIES), before);
        assert_eq!(merge_env(Some(""), &[]), "");
    }

    #[test]
    fn commented_out_key_is_not_set() {
        let before = "# MCP_AUTH_ISSUER=old\n";
        assert_eq!(
            merge_env(Some(before), &ENTRIES[..1]),
            "# MCP_AUTH_ISSUER=old\n# Added by mcp-builder add-auth\n\
             MCP_AUTH_ISSUER=https://example.eu.auth0.com/\n"
        );
    }

    #[test]
    fn duplicate_entries_are_written_once() {
        assert_eq!(
            merge_env(None, &[("A", "1"), ("A", "2")]),
            "# Added by mcp-builder add-auth\nA=1\n"
        );
    }

    #[test]
    fn values_are_quoted_when_needed() {
        let cases = [
            ("plain", "plain"),
            ("", ""),
            (
                "https://x.example/a,b@c+d=e%20",
                "https://x.example/a,b@c+d=e%20",
            ),
            (
                "https://x.example/?a=1&b=2",
                r#""https://x.example/?a=1&b=2""#,
            ),
            ("two words", r#""two words""#),
            ("a#b", r##""a#b""##),
            ("say \"hi\"", r#""say \"hi\"""#),
            ("it's", r#""it's""#),
            ("$HOME", r#""\$HOME""#),
            ("back\\slash", r#""back\\slash""#),
            ("line\nbreak", r#""line\nbreak""#),
        ];
        for (value, written) in cases {
            assert_eq!(quote(value), written, "{value:?}");
        }
    }

    #[test]
    fn merge_env_noop() {
        for before in [
            None,
            Some("A=1"),
            Some("X=1\r\n"),
            Some("# c\n\nexport B=2\n"),
        ] {
            let once = merge_env(before, ENTRIES);
            assert_eq!(merge_env(Some(&once), ENTRIES), once);
        }
    }

    #[test]
    fn gitignore_gains_env() {
        assert_eq!(ensure_gitignored(None, ".env"), ".env\n");
        assert_eq!(ensure_gitignored(Some(""), ".env"), ".env\n");
        assert_eq!(
            ensure_gitignored(Some("/target\n"), ".env"),
            "/target\n.env\n"
        );
        assert_eq!(
            ensure_gitignored(Some("/target"), ".env"),
            "/target\n.env\n"
        );
        assert_eq!(
            ensure_gitignored(Some("/target\r\n"), ".env"),
            "/target\r\n.env\r\n"
        );
        // Not the same file.
        assert_eq!(
            ensure_gitignored(Some(".env.local\n# .env\n"), ".env"),
            ".env.local\n# .env\n.env\n"
        );
    }

    #[test]
    fn gitignore_already_covering_env_is_unchanged() {
        for before in [
            ".env\n",
            "/target\n/.env",
            "**/.env\n",
            ".env*\n",
            "*.env\r\n",
            ".env   \n",
            ".env\n!.env\n",
        ] {
            assert_eq!(
                ensure_gitignored(Some(before), ".env"),
                before,
                "{before:?}"
            );
        }
    }

    #[test]
    fn negation_is_reported() {
        assert!(is_negated(".env*\n!.env\n", ".env"));
        assert!(is_negated("!/.env", ".env"));
        assert!(!is_negated(".env\n!.env.example\n", ".env"));
    }

    #[test]
    fn remove_env_reverses_merge_env() {
        for before in [
            None,
            Some("A=1\n"),
            Some("# c\r\n\r\nexport MCP_AUTH_ISSUER=x\r\n"),
            Some("# Added by mcp-builder add-auth\nOLD=1\n"),
        ] {
            let merged = merge_env(before, ENTRIES);
            let keys = added_keys(before, &merged);
            assert_eq!(
                remove_env(&merged, &keys),
                before.unwrap_or(""),
                "{before:?}"
            );
        }
        // A key the user added after the block stays, and so does the comment.
        let merged = merge_env(None, &ENTRIES[..1]) + "MINE=1\n";
        assert_eq!(
            remove_env(&merged, &["MCP_AUTH_ISSUER".into()]),
            "# Added by mcp-builder add-auth\nMINE=1\n"
        );
    }

    #[test]
    fn remove_gitignored_reverses_ensure_gitignored() {
        for before in [None, Some("/target\n"), Some("a\r\nb\r\n")] {
            let once = ensure_gitignored(before, ".env");
            assert_eq!(remove_gitignored(&once, ".env"), before.unwrap_or(""));
        }
        assert_eq!(remove_gitignored("/target\n", ".env"), "/target\n");
    }

    #[test]
    fn ensure_gitignored_noop() {
        for before in [None, Some("/target"), Some("a\r\nb\r\n")] {
            let once = ensure_gitignored(before, ".env");
            assert_eq!(ensure_gitignored(Some(&once), ".env"), once);
        }
    }
}
