//! `mcp-builder auth token`: prints an access token for the project, and
//! nothing else on stdout, so that `$(mcp-builder auth token)` works in curl
//! commands and MCP Inspector's token field.
//!
//! With the development issuer the token is signed with its key (kept in
//! `.mcp-builder/dev`, the one `auth dev` serves); with another provider it
//! comes from the provider's token endpoint by client credentials.

use std::{path::PathBuf, time::Duration};

use crate::{
    dev::store::{Grant, Store},
    probe::{
        http,
        settings::{self, Settings},
        token::{self, Outcome},
    },
    resolve::UsageError,
};

/// The subject of a development token unless `--sub` names another.
pub const DEFAULT_SUBJECT: &str = "dev-user";
/// How long a development token lives.
const LIFETIME_SECS: u64 = 3600;

/// Options of `auth token`, as parsed by the CLI.
#[derive(Debug)]
pub struct Options {
    pub path: PathBuf,
    pub scopes: Vec<String>,
    pub sub: Option<String>,
    pub timeout: Duration,
}

/// Prints the token on stdout.
pub fn run(options: Options) -> anyhow::Result<bool> {
    let settings = settings::read(&options.path, "auth token")?;
    let token = if settings.provider.local {
        development_token(&options, &settings)?
    } else {
        provider_token(&options, &settings)?
    };
    println!("{token}");
    Ok(true)
}

/// Signed here with the development issuer's key.
fn development_token(options: &Options, settings: &Settings) -> anyhow::Result<String> {
    let unknown: Vec<&str> = options
        .scopes
        .iter()
        .filter(|scope| !settings.scopes.contains(scope))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(UsageError(format!(
            "the project has no scope {}\nhelp: its scopes are {}",
            quoted(&unknown),
            quoted(
                &settings
                    .scopes
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            )
        ))
        .into());
    }
    let scopes = if options.scopes.is_empty() {
        settings.scopes.clone()
    } else {
        options.scopes.clone()
    };
    let subject = options.sub.as_deref().unwrap_or(DEFAULT_SUBJECT);
    if subject.trim().is_empty() {
        return Err(
            UsageError("--sub is empty\nhelp: name the caller, e.g. --sub alice".into()).into(),
        );
    }
    let (store, created) = Store::open_or_create(&options.path)?;
    if created {
        eprintln!(
            "note: made the development issuer's key in `{}`",
            store.dir.display()
        );
    }
    let grant = Grant {
        issuer: &settings.issuer,
        subject,
        audience: &settings.audience,
        client_id: &store.client_id,
        scopes: &scopes,
        lifetime_secs: LIFETIME_SECS,
    };
    let token = store.sign(&grant.claims()?)?;
    warn_unless_running(&settings.issuer, &options.path);
    Ok(token)
}

/// The server fetches the key set from the running issuer: say so when it
/// does not answer (the token is still printed; it may be started later).
fn warn_unless_running(issuer: &str, path: &std::path::Path) {
    let url = format!(
        "{}/.well-known/oauth-authorization-server",
        issuer.trim_end_matches('/')
    );
    let running = http::client(Duration::from_secs(2))
        .ok()
        .and_then(|client| client.send(client.get(&url)).ok())
        .is_some_and(|response| response.status().is_success());
    if !running {
        eprintln!(
            "note: the development issuer does not answer at {issuer}: the server cannot check this token until `mcp-builder auth dev --path {}` runs",
            path.display()
        );
    }
}

/// From the provider's token endpoint, by client credentials.
fn provider_token(options: &Options, settings: &Settings) -> anyhow::Result<String> {
    if options.sub.is_some() {
        return Err(UsageError(format!(
            "--sub only works with the development issuer: {} decides the subject of its tokens\nhelp: leave --sub out",
            settings.provider.name
        ))
        .into());
    }
    if let Err(why) = &settings.client {
        return Err(UsageError(why.clone()).into());
    }
    let client = http::client(options.timeout)?;
    let endpoint = token::token_endpoint(&client, settings)?;
    match token::request(&client, settings, &endpoint, &options.scopes)? {
        Outcome::Token { access_token, .. } => Ok(access_token),
        Outcome::Refused {
            endpoint,
            status,
            error,
            description,
            hint,
        } => {
            let said = description.map(|d| format!(": {d}")).unwrap_or_default();
            Err(anyhow::anyhow!(
                "{} refused a token: {endpoint} answered {status} `{error}`{said}\nhelp: {hint}",
                settings.provider.name
            ))
        }
    }
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
