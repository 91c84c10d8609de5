//! `mcp-builder auth test`: get a client-credentials token, explain it, and
//! optionally check a running server's whole auth behaviour.

use std::{collections::BTreeSet, io::IsTerminal, path::PathBuf, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::probe::{
    explain, http,
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

/// Runs the command; `Ok(false)` when a check failed (exit 1).
pub fn run(options: Options) -> anyhow::Result<bool> {
    let settings = settings::read(&options.path)?;
    let client_id = match &settings.client {
        Ok(credentials) => credentials.id.clone(),
        Err(why) => return Err(crate::resolve::UsageError(why.clone()).into()),
    };
    let client = http::client(options.timeout)?;
    let progress = Progress::new();

    progress.step(format!("finding the token endpoint of {}", settings.issuer));
    let endpoint = token::token_endpoint(&client, &settings)?;
    progress.step(format!("asking {endpoint} for a token"));
    let outcome = token::request(&client, &settings, &endpoint, &options.scopes)?;

    let mut checks = Vec::new();
    let mut document = json!({ "token_endpoint": endpoint, "client_id": client_id });
    let mut text = String::new();
    let (token, token_scopes) = match outcome {
        Outcome::Refused {
            endpoint,
            status,
            error,
            description,
            hint,
        } => {
            let said = description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            checks.push(Check::fail(
                "provider issued a token",
                format!("{endpoint} answered {status} `{error}`{said} (hint: {hint})"),
            ));
            document["provider_error"] = json!({ "status": status, "error": error, "error_description": description, "hint": hint });
            (None, Some(BTreeSet::new()))
        }
        Outcome::Token {
            access_token,
            endpoint,
        } => {
            checks.push(Check::pass(
                "provider issued a token",
                format!("from {endpoint} for client {client_id}"),
            ));
            if let Some(url) = &settings.introspection_url {
                // Opaque to this tool: only the issuer can say what it grants.
                let note = format!(
                    "The server checks tokens at the issuer's introspection endpoint {url} (RFC 7662) with its own credentials; auth test cannot judge an opaque token locally, so it reports no claims or scopes. --server still checks that a running server accepts the token, but not which tools it may call.\n\n"
                );
                text.push_str(&note);
                if options.show_token {
                    text.push_str(&format!(
                        "Token (--show-token; treat it as a password):\n  {access_token}\n\n"
                    ));
                }
                document["token"] = json!({ "introspection_url": url, "note": note.trim() });
                if options.show_token {
                    document["token"]["raw"] = json!(access_token);
                }
                (Some(access_token), None)
            } else {
                progress.step(format!("verifying the token against {}", settings.jwks_url));
                let explained = explain::explain(&client, &settings, &access_token);
                text.push_str(&describe_token(
                    &explained,
                    options.show_token.then_some(access_token.as_str()),
                ));
                text.push_str(&describe_access(&settings, &explained.scopes));
                document["token"] =
                    json!({ "header": explained.header, "claims": explained.claims });
                if options.show_token {
                    document["token"]["raw"] = json!(access_token);
                }
                document["scopes"] = json!(explained.scopes);
                document["tools"] = tool_access(&settings, &explained.scopes);
                checks.extend(explained.checks);
                (Some(access_token), Some(explained.scopes))
            }
        }
    };

    if let Some(server_url) = &options.server {
        progress.step(format!("checking {server_url}"));
        let server_checks = server::check(
            &client,
            &settings,
            server_url,
            token.as_deref(),
            token_scopes.as_ref(),
        );
        document["server"] = json!(server_url);
        checks.extend(server_checks);
    }
    progress.finish();

    let passed = checks.iter().all(|check| check.passed);
    if options.json {
        document["checks"] = json!(checks);
        document["passed"] = json!(passed);
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print!("{text}");
        println!("Checks:");
        print!("{}", report::table(&checks));
        let failed = checks.iter().filter(|check| !check.passed).count();
        println!("\n{} passed, {failed} failed", checks.len() - failed);
    }
    Ok(passed)
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
        .partition(|(_, needed)| needed.iter().all(|scope| scopes.contains(scope)));
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
