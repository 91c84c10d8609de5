//! Finding things in text by line, for the checks that point at a line:
//! a `.env` key's line, PEM blocks, JWT-shaped strings.

/// The 1-based number of the first line of `text` that `wanted` accepts.
pub fn line_where(text: &str, wanted: impl Fn(&str) -> bool) -> Option<usize> {
    text.lines().position(wanted).map(|index| index + 1)
}

/// The key a `.env` line sets (`KEY=...` or `export KEY=...`), if any.
pub fn dotenv_key(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    let (key, _) = line.split_once('=')?;
    let key = key.trim_end();
    let well_formed = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    well_formed.then_some(key)
}

/// The line of `.env` text that sets `key` first (the value a loader keeps).
pub fn dotenv_line(text: &str, key: &str) -> Option<usize> {
    line_where(text, |line| dotenv_key(line) == Some(key))
}

/// What kind of PEM block starts on this line, if any: `Some(true)` for a
/// private key, `Some(false)` for a public key or certificate.
pub fn pem_begin(line: &str) -> Option<bool> {
    let start = line.find("-----BEGIN ")?;
    let label = &line[start + "-----BEGIN ".len()..];
    let label = &label[..label.find("-----")?];
    if label.ends_with("PRIVATE KEY") {
        Some(true)
    } else if label.ends_with("PUBLIC KEY") || label == "CERTIFICATE" {
        Some(false)
    } else {
        None
    }
}

/// Whether `value` has the shape of a compact JWT: three base64url parts,
/// the first a JSON object's encoding (`eyJ`).
pub fn is_jwt_shaped(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[0].len() >= 10
        && parts[1].len() >= 10
        && parts.iter().all(|part| {
            part.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// The JWT-shaped words of a line (split at quotes, spaces and the usual
/// separators).
pub fn jwt_words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| c.is_whitespace() || "\"'=,:;`{}[]()".contains(c))
        .filter(|word| is_jwt_shaped(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines_and_keys() {
        let text = "# x\nA=1\n  export B = 2\nnot a pair\nA=3\n";
        assert_eq!(dotenv_line(text, "A"), Some(2));
        assert_eq!(dotenv_line(text, "B"), Some(3));
        assert_eq!(dotenv_line(text, "C"), None);
        assert_eq!(dotenv_key("# A=1"), None);
    }

    #[test]
    fn pem_blocks_and_jwts() {
        assert_eq!(pem_begin("K=\"-----BEGIN RSA PRIVATE KEY-----"), Some(true));
        assert_eq!(pem_begin("-----BEGIN PRIVATE KEY-----"), Some(true));
        assert_eq!(pem_begin("-----BEGIN PUBLIC KEY-----"), Some(false));
        assert_eq!(pem_begin("-----BEGIN CERTIFICATE-----"), Some(false));
        assert_eq!(pem_begin("BEGIN PRIVATE KEY"), None);
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl";
        assert!(is_jwt_shaped(jwt));
        assert_eq!(
            jwt_words(&format!("token = \"{jwt}\"")).collect::<Vec<_>>(),
            [jwt]
        );
        assert!(!is_jwt_shaped("read:tasks"));
        assert!(!is_jwt_shaped("a.b.c"));
    }
}
