//! A parser for `WWW-Authenticate` headers (RFC 9110 section 11.6.1), as
//! RFC 6750 and RFC 9728 use them.
//!
//! It is strict where a client would trip: unterminated quotes, parameters
//! without `=` and repeated parameters are errors, not guesses.

use std::fmt;

/// One challenge: its scheme and its `name=value` parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (names are case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Parses every challenge of one header value.
pub fn parse(header: &str) -> Result<Vec<Challenge>, ParseError> {
    let mut parser = Parser {
        rest: header,
        challenges: Vec::new(),
    };
    parser.challenges()?;
    if parser.challenges.is_empty() {
        return Err(ParseError("the header holds no challenge".into()));
    }
    Ok(parser.challenges)
}

/// The `Bearer` challenge of a header value, if it has one.
pub fn bearer(header: &str) -> Result<Challenge, ParseError> {
    parse(header)?
        .into_iter()
        .find(|challenge| challenge.scheme.eq_ignore_ascii_case("bearer"))
        .ok_or_else(|| ParseError("the header holds no Bearer challenge".into()))
}

struct Parser<'a> {
    rest: &'a str,
    challenges: Vec<Challenge>,
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn token(&mut self) -> Option<String> {
        let end = self
            .rest
            .find(|c: char| !is_tchar(c))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(token.to_string())
    }

    fn challenges(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_space();
            while let Some(rest) = self.rest.strip_prefix(',') {
                self.rest = rest.trim_start_matches([' ', '\t']);
            }
            if self.rest.is_empty() {
                return Ok(());
            }
            let scheme = self
                .token()
                .ok_or_else(|| ParseError(format!("expected an auth scheme at `{}`", self.rest)))?;
            let mut challenge = Challenge {
                scheme,
                params: Vec::new(),
            };
            self.params(&mut challenge)?;
            self.challenges.push(challenge);
        }
    }

    /// Parameters up to the end or to the start of the next challenge.
    fn params(&mut self, challenge: &mut Challenge) -> Result<(), ParseError> {
        loop {
            self.skip_space();
            if self.rest.is_empty() {
                return Ok(());
            }
            // `name =` starts a parameter; a bare token starts the next challenge.
            let saved = self.rest;
            let Some(name) = self.token() else {
                return Err(ParseError(format!(
                    "expected a parameter at `{}`",
                    self.rest
                )));
            };
            self.skip_space();
            let Some(rest) = self.rest.strip_prefix('=') else {
                self.rest = saved;
                if challenge.params.is_empty() {
                    return Err(ParseError(format!(
                        "parameter `{name}` of `{}` has no value",
                        challenge.scheme
                    )));
                }
                return Ok(());
            };
            self.rest = rest;
            self.skip_space();
            let value = if self.rest.starts_with('"') {
                self.quoted()?
            } else {
                self.token()
                    .ok_or_else(|| ParseError(format!("parameter `{name}` has no value")))?
            };
            if challenge.param(&name).is_some() {
                return Err(ParseError(format!("parameter `{name}` appears twice")));
            }
            challenge.params.push((name, value));
            self.skip_space();
            match self.rest.strip_prefix(',') {
                Some(rest) => self.rest = rest,
                None if self.rest.is_empty() => return Ok(()),
                None => return Err(ParseError(format!("expected `,` at `{}`", self.rest))),
            }
        }
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        let mut value = String::new();
        let mut chars = self.rest.char_indices().skip(1);
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[at + 1..];
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(ParseError("a quoted value is not terminated".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(challenge: &Challenge) -> Vec<(&str, &str)> {
        challenge
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn rfc_6750_examples() {
        let header = r#"Bearer realm="example""#;
        assert_eq!(params(&bearer(header).unwrap()), [("realm", "example")]);

        let header = "Bearer realm=\"example\",\n error=\"invalid_token\",\n error_description=\"The access token expired\""
            .replace('\n', "");
        let challenge = bearer(&header).unwrap();
        assert_eq!(
            params(&challenge),
            [
                ("realm", "example"),
                ("error", "invalid_token"),
                ("error_description", "The access token expired")
            ]
        );
    }

    #[test]
    fn rfc_9728_example() {
        let header = r#"Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource""#;
        assert_eq!(
            bearer(header).unwrap().param("RESOURCE_METADATA"),
            Some("https://resource.example.com/.well-known/oauth-protected-resource")
        );
    }

    #[test]
    fn several_challenges_tokens_and_escapes() {
        let header =
            r#"Basic realm="a, b", Bearer error=insufficient_scope, scope="x \"y\"", Negotiate"#;
        let challenges = parse(header).unwrap();
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "Bearer", "Negotiate"]);
        assert_eq!(
            params(&challenges[1]),
            [("error", "insufficient_scope"), ("scope", "x \"y\"")]
        );
    }

    #[test]
    fn malformed_headers_are_errors() {
        let cases = [
            ("", "the header holds no challenge"),
            (
                r#"Bearer error="unterminated"#,
                "a quoted value is not terminated",
            ),
            (
                r#"Bearer error="a", error="b""#,
                "parameter `error` appears twice",
            ),
            (
                r#"Bearer error="a" scope="b""#,
                "expected `,` at `scope=\"b\"`",
            ),
            ("Bearer =x", "expected a parameter at `=x`"),
            (r#"Basic realm="x""#, "the header holds no Bearer challenge"),
        ];
        for (header, message) in cases {
            assert_eq!(bearer(header).unwrap_err().to_string(), message, "{header}");
        }
    }
}
