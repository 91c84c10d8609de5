//! Where the server's trust comes from: its keys from the issuer's key set
//! (not a private key or shared secret held by the project), and an issuer
//! fit to deploy (not the development issuer).

use super::{
    Finding, Location, Project,
    project::DOTENV,
    text::{dotenv_key, dotenv_line, pem_begin},
};
use crate::{plan::STATE_FILE, providers};

const KEYS: &str = "keys";
const DEV: &str = "dev-issuer";

/// The files a key or secret must not be written in: `.env` (local) and
/// the files committed with the project.
fn scanned(project: &Project) -> Vec<String> {
    let mut files: Vec<String> = [DOTENV, ".env.example", "Cargo.toml", STATE_FILE]
        .map(String::from)
        .into();
    for name in ["config.rs", "provider.rs"] {
        files.extend(project.generated_path(name).map(String::from));
    }
    files
}

/// Whether a `.env` key names a shared secret for verifying tokens.
fn is_jwt_secret_name(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    key.ends_with("JWT_SECRET") || key.ends_with("JWT_KEY") || key.ends_with("SIGNING_SECRET")
}

/// The `keys` check: PEM blocks and shared JWT secrets where the server's
/// files are, the legacy Supabase mode, else where the key set comes from.
pub fn keys(project: &Project) -> Vec<Finding> {
    let mut findings = Vec::new();
    let legacy_var = project.auth_text("jwt_secret_env");
    for file in scanned(project) {
        let Some(text) = project.file(&file) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let at = Location::line(&file, Some(index + 1));
            match pem_begin(line) {
                Some(true) => findings.push(
                    Finding::fail(KEYS, format!(
                        "a private key (PEM) is written in `{file}`: tokens must be verified with the issuer's key set (JWKS), never with a key the project holds; remove it and rotate it"
                    ))
                    .at(at.clone()),
                ),
                Some(false) => findings.push(
                    Finding::warn(KEYS, format!(
                        "a public key or certificate (PEM) is written in `{file}`: the generated server takes its keys from the issuer's key set, which follows key rotation; remove it"
                    ))
                    .at(at.clone()),
                ),
                None => {}
            }
            let Some(key) = dotenv_key(line).filter(|key| is_jwt_secret_name(key)) else {
                continue;
            };
            let has_value = line
                .split_once('=')
                .is_some_and(|(_, value)| !value.trim().trim_matches(['"', '\'']).is_empty());
            if !has_value || file == "Cargo.toml" || file == STATE_FILE {
                continue;
            }
            if file != DOTENV {
                findings.push(
                    Finding::fail(KEYS, format!(
                        "`{key}` holds a token-verification secret in `{file}`, a file that is committed: anyone who reads it can forge tokens; move it to `.env` (git-ignored) and rotate it"
                    ))
                    .at(at),
                );
            } else if legacy_var != Some(key) {
                findings.push(
                    Finding::warn(KEYS, format!(
                        "`.env` holds `{key}`, a JWT secret the generated server does not use (it verifies with the issuer's key set): remove it"
                    ))
                    .at(at),
                );
            }
        }
    }
    findings.extend(keys_in_environment(project));
    if let Some(var) = legacy_var {
        let at = match dotenv_line(&project.dotenv_text, var) {
            Some(line) => Location::line(DOTENV, Some(line)),
            None => project.state_location("jwt_secret_env"),
        };
        findings.push(
            Finding::warn(KEYS, format!(
                "legacy Supabase shared-secret mode: HS256 tokens are verified with the secret in `{var}`, which can also sign tokens; switch the Supabase project to JWT signing keys and run add-auth again without --supabase-jwt-secret-env"
            ))
            .at(at),
        );
    }
    if findings.is_empty() {
        let (detail, at) = key_source(project);
        findings.push(Finding::pass(KEYS, detail).at(at));
    }
    findings
}

/// A private key in the process environment, under a name the project's
/// `.env` or `.env.example` uses (the server would read it from there).
fn keys_in_environment(project: &Project) -> Vec<Finding> {
    let example = project.file(".env.example").unwrap_or_default();
    let names: std::collections::BTreeSet<&str> = project
        .dotenv_text
        .lines()
        .chain(example.lines())
        .filter_map(dotenv_key)
        .collect();
    names
        .into_iter()
        .filter(|name| {
            std::env::var(name)
                .is_ok_and(|value| value.lines().any(|line| pem_begin(line) == Some(true)))
        })
        .map(|name| {
            Finding::fail(KEYS, format!(
                "the environment variable `{name}` holds a private key (PEM): tokens must be verified with the issuer's key set (JWKS), never with a key the server holds"
            ))
        })
        .collect()
}

/// Where the server gets the keys that verify tokens, said in a line.
fn key_source(project: &Project) -> (String, Option<Location>) {
    if project.auth_text("token_format") == Some("introspection") {
        return (
            "opaque tokens are judged by the issuer's introspection endpoint: the project holds no key".into(),
            Some(project.state_location("token_format")),
        );
    }
    if let Some(setting) = project.setting("MCP_AUTH_JWKS_URL") {
        return (
            format!(
                "keys from the key set at `{}` (MCP_AUTH_JWKS_URL)",
                setting.value
            ),
            setting.at,
        );
    }
    if let Some(url) = project.auth_text("jwks_uri") {
        return (
            format!("keys from the key set at `{url}` (jwks_uri)"),
            Some(project.state_location("jwks_uri")),
        );
    }
    let Some(provider) = project.provider else {
        return ("keys from the issuer's key set".into(), None);
    };
    let domain = project
        .setting(provider.domain_var)
        .map(|setting| setting.value)
        .or_else(|| project.auth_text("domain").map(String::from));
    let issuer = project
        .setting("MCP_AUTH_ISSUER")
        .map(|setting| setting.value)
        .or_else(|| domain.map(|domain| provider.issuer_for(domain.trim())));
    let url = issuer
        .as_deref()
        .and_then(|issuer| provider.jwks_url_for(issuer));
    let detail = match (url, issuer) {
        (Some(url), _) => format!("keys from {}'s key set at `{url}`", provider.name),
        (None, Some(issuer)) => {
            format!("keys from the key set named by `{issuer}`'s discovery document")
        }
        (None, None) => format!("keys from {}'s key set", provider.name),
    };
    (detail, Some(project.state_location("provider")))
}

/// The `dev-issuer` check: the development issuer is for trying things
/// locally, never for a deployed server.
pub fn development(project: &Project) -> Vec<Finding> {
    let at = project.state_location("provider");
    let finding = match project.provider {
        Some(provider) if provider.id == providers::DEV.id => Finding::warn(
            DEV,
            "the provider is the development issuer (`auth dev`): for trying things on this machine only, never deploy it; run `mcp-builder add-auth --provider <yours>` before deploying",
        ),
        Some(provider) => Finding::pass(DEV, format!("tokens come from {}", provider.name)),
        None => Finding::warn(
            DEV,
            format!(
                "the state names provider `{}`, which this version of mcp-builder does not know",
                project.auth_text("provider").unwrap_or("")
            ),
        ),
    };
    vec![finding.at(at)]
}
