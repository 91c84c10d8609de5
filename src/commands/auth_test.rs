//! `mcp-builder auth test`: get a client-credentials token, explain it, and
//! optionally check a running server's whole auth behaviour (without client
//! credentials, the server checks that need no token).

use std::{collections::BTreeSet, io::IsTerminal, path::PathBuf, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::probe::{
    explain, http,
    issuer::Issuer,
    report::{self, Check},
    server, settings,
    token::{self, Outcome},
};

/// Options of `auth test`, as parsed by the CLI.
#[derive(Debug)]
pub struct Options {
    pub path: PathBuf,
    pub server: Option<String>,
    pub scopes: Vec<String>,
    pub json: bool,
    pub timeout: Duration,
    pub show_token: bool,
}

/// Runs the command; `Ok(false)` when a check that ran failed (exit 1).
///
/// Without client credentials only `--server`'s checks that need no token
/// run; the others are listed as skipped, with the reason.
pub fn run(options: Options) -> anyhow::Result<bool> {
    let settings = settings::read(&options.path, "auth test")?;
    let credentials = match (&settings.client, &options.server) {
        (Ok(credentials), _) => Some(credentials),
        (Err(why), None) => {
            let why = format!(
                "{why}; without them, `--server URL` still runs the checks that need no token"
            );
            return Err(crate::resolve::UsageError(why).into());
        }
        (Err(_), Some(_)) => None,
    };
    let client = http::client(options.timeout)?;
    let progress = Progress::new();

    progress.step(format!("finding the endpoints of {}", settings.issuer));
    let issuer = Issuer::resolve(&client, &settings, credentials.is_some());
    let mut run = Run {
        checks: issuer.metadata_check(&settings).into_iter().collect(),
        document: json!({ "issuer": settings.issuer }),
        text: String::new(),
    };
    if let Some(Ok(metadata)) = &issuer.metadata {
        run.document["metadata_url"] = json!(metadata.url);
    }
    if let Some(Ok(jwks)) = &issuer.jwks {
        run.document["jwks_url"] = json!(jwks.url);
    }

    let (token, token_scopes) = match credentials {
        Some(credentials) => run.get_token(
            &client,
            &settings,
            &issuer,
            credentials,
            &options,
            &progress,
        )?,
        None => {
            let why = settings.client.as_ref().err().map_or("", String::as_str);
            let (reason, help) = why.split_once('\n').unwrap_or((why, ""));
            let skipped = format!("no client credentials: {reason}");
            run.checks
                .push(Check::skip("provider issued a token", skipped.clone()));
            run.text.push_str(&format!(
                "No client credentials ({reason}): the checks that need a token are skipped.\n{help}\n\n"
            ));
            run.document["client_credentials"] = json!({ "error": reason });
            (TokenState::Skipped(skipped), None)
        }
    };

    if let Some(server_url) = &options.server {
        progress.step(format!("checking {server_url}"));
        let token = match &token {
            TokenState::Got(token) => server::Token::Got {
                token,
                scopes: token_scopes.as_ref(),
            },
            TokenState::Missing => server::Token::Missing,
            TokenState::Skipped(why) => server::Token::Skipped(why),
        };
        let server_checks = server::check(&client, &settings, server_url, token);
        run.document["server"] = json!(server_url);
        run.checks.extend(server_checks);
    }
    progress.finish();

    let Run {
        checks,
        mut document,
        text,
    } = run;
    let passed = report::passed(&checks);
    if options.json {
        document["checks"] = json!(checks);
        document["passed"] = json!(passed);
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print!("{text}");
        println!("Checks:");
        print!("{}", report::table(&checks));
        println!("\n{}", report::summary(&checks));
    }
    Ok(passed)
}

/// The token for the server checks.
enum TokenState {
    Got(String),
    /// Asked for, but not had: a check says why.
    Missing,
    /// Not asked for, for this reason (no client credentials).
    Skipped(String),
}

/// What a run has found so far.
struct Run {
    checks: Vec<Check>,
    document: Value,
    text: String,
}

impl Run {
    /// Asks for a token and explains it; its scopes when they are known.
    fn get_token(
        &mut self,
        client: &http::Client,
        settings: &settings::Settings,
        issuer: &Issuer,
        credentials: &settings::ClientCredentials,
        options: &Options,
        progress: &Progress,
    ) -> anyhow::Result<(TokenState, Option<BTreeSet<String>>)> {
        const ISSUED: &str = "provider issued a token";
        self.document["client_id"] = json!(credentials.id);
        let endpoint = match issuer.endpoint() {
            Ok(endpoint) => endpoint,
            Err(why) => {
                self.checks.push(Check::fail(ISSUED, why));
                return Ok((TokenState::Missing, Some(BTreeSet::new())));
            }
        };
        let method = endpoint.auth.name();
        self.document["token_endpoint"] = json!(endpoint.url);
        self.document["client_auth"] = json!({ "method": method, "why": endpoint.why });

        progress.step(format!("asking {} for a token", endpoint.url));
        let outcome = token::request(client, settings, &endpoint, &options.scopes)?;
        let refusal = outcome.refusal();
        let access_token = match outcome {
            Outcome::Refused {
                status,
                error,
                description,
                hint,
                ..
            } => {
                self.checks.push(Check::fail(
                    ISSUED,
                    format!("{} ({method}; hint: {hint})", refusal.unwrap_or_default()),
                ));
                self.document["provider_error"] = json!({ "status": status, "error": error, "error_description": description, "hint": hint });
                return Ok((TokenState::Missing, Some(BTreeSet::new())));
            }
            Outcome::Token {
                access_token,
                endpoint: from,
            } => {
                self.checks.push(Check::pass(
                    ISSUED,
                    format!(
                        "from {from} for client {}, authenticated with {method} ({})",
                        credentials.id, endpoint.why
                    ),
                ));
                access_token
            }
        };

        if let Some(url) = &settings.introspection_url {
            // Opaque to this tool: only the issuer can say what it grants.
            let note = format!(
                "The server checks tokens at the issuer's introspection endpoint {url} (RFC 7662) with its own credentials; auth test cannot judge an opaque token locally, so it reports no claims or scopes. --server still checks that a running server accepts the token, but not which tools it may call.\n\n"
            );
            self.text.push_str(&note);
            if options.show_token {
                self.text.push_str(&format!(
                    "Token (--show-token; treat it as a password):\n  {access_token}\n\n"
                ));
            }
            self.document["token"] = json!({ "introspection_url": url, "note": note.trim() });
            if options.show_token {
                self.document["token"]["raw"] = json!(access_token);
            }
            return Ok((TokenState::Got(access_token), None));
        }

        let jwks = match &issuer.jwks {
            Some(Ok(jwks)) => Ok(jwks.url.as_str()),
            Some(Err(why)) => Err(why.as_str()),
            None => Err("the project's tokens are opaque"),
        };
        progress.step(format!(
            "verifying the token against {}",
            jwks.unwrap_or("")
        ));
        let explained = explain::explain(client, settings, jwks, &access_token);
        self.text.push_str(&describe_token(
            &explained,
            options.show_token.then_some(access_token.as_str()),
        ));
        self.text
            .push_str(&describe_access(settings, &explained.scopes));
        self.document["token"] = json!({ "header": explained.header, "claims": explained.claims });
        if options.show_token {
            self.document["token"]["raw"] = json!(access_token);
        }
        self.document["scopes"] = json!(explained.scopes);
        self.document["tools"] = tool_access(settings, &explained.scopes);
        self.checks.extend(explained.checks);
        Ok((TokenState::Got(access_token), Some(explained.scopes)))
    }
}

/// Header and claims, pretty-printed; never the signature, and the raw
/// token only when asked for.
fn describe_token(explained: &explain::Explained, raw: Option<&str>) -> String {
    let mut text = String::new();
    let pretty = |value: &Option<Value>| {
        value
            .as_ref()
            .and_then(|value| serde_json::to_string_pretty(value).ok())
            .unwrap_or_else(|| "(opaque token: nothing to decode)".into())
    };
    text.push_str(&format!(
        "Token header:\n{}\n",
        indent(&pretty(&explained.header))
    ));
    text.push_str(&format!(
        "Token claims:\n{}\n",
        indent(&pretty(&explained.claims))
    ));
    if let Some(raw) = raw {
        text.push_str(&format!(
            "Token (--show-token; treat it as a password):\n  {raw}\n"
        ));
    }
    text
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

/// Which of the project's scopes the token carries and which tools it can call.
fn describe_access(settings: &settings::Settings, scopes: &BTreeSet<String>) -> String {
    let carried: Vec<&str> = settings
        .scopes
        .iter()
        .filter(|scope| scopes.contains(*scope))
        .map(String::as_str)
        .collect();
    let access = tool_access(settings, scopes);
    let list = |key: &str| -> String {
        let names: Vec<&str> = access[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    };
    format!(
        "Scopes of this project it carries: {} (of {})\nTools it can call: {}\nTools it cannot call: {}\n\n",
        if carried.is_empty() {
            "none".to_string()
        } else {
            carried.join(", ")
        },
        settings.scopes.join(", "),
        list("callable"),
        list("denied"),
    )
}

fn tool_access(settings: &settings::Settings, scopes: &BTreeSet<String>) -> Value {
    let (callable, denied): (Vec<_>, Vec<_>) = settings
        .tool_scopes
        .iter()
        .partition(|(_, needed)| settings.grants(scopes, needed));
    json!({
        "callable": callable.iter().map(|(tool, _)| tool).collect::<Vec<_>>(),
        "denied": denied.iter().map(|(tool, _)| tool).collect::<Vec<_>>(),
    })
}

/// A spinner on stderr when it is a terminal; silent otherwise.
struct Progress(Option<ProgressBar>);

impl Progress {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(Some(bar))
    }

    fn step(&self, message: String) {
        if let Some(bar) = &self.0 {
            bar.set_message(message);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
