//! The URLs the server is configured with: plain `http://` only to this
//! machine (`http-loopback`), and an Origin allow-list for a public
//! endpoint (`origins`; by default the generated layer allows only the
//! resource's own origin).

use reqwest::Url;

use super::{Finding, Location, Project, project::DOTENV};
use crate::{dev::clients::is_loopback, resolve::defaults::RESOURCE_URL_VAR};

const HTTP: &str = "http-loopback";
const ORIGINS: &str = "origins";
const ORIGINS_VAR: &str = "MCP_ALLOWED_ORIGINS";

/// Every URL in `.env` (values may list several, comma-separated).
pub fn http_on_loopback_only(project: &Project) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut urls = 0;
    for (key, value, line) in project.dotenv_entries() {
        for url in value
            .split([',', ' '])
            .filter_map(|part| Url::parse(part.trim()).ok())
        {
            urls += 1;
            if url.scheme() == "http" && !is_loopback(&url) {
                findings.push(
                    Finding::fail(HTTP, format!(
                        "`{key}` is `{url}`: plain http:// to a host that is not this machine sends tokens and metadata in clear; use https://"
                    ))
                    .at(Location::line(DOTENV, line)),
                );
            }
        }
    }
    if findings.is_empty() {
        let detail = match urls {
            0 => "no URL in `.env`".to_string(),
            1 => "the URL in `.env` is https:// or loopback".to_string(),
            _ => format!("the {urls} URLs in `.env` are https:// or loopback"),
        };
        findings.push(Finding::pass(HTTP, detail).at(Location::file(DOTENV)));
    }
    findings
}

/// `MCP_ALLOWED_ORIGINS` (or the state's `allowed_origins`) when the
/// resource URL is public.
pub fn allowed_origins(project: &Project) -> Vec<Finding> {
    let (resource, resource_at) = match project.setting(RESOURCE_URL_VAR) {
        Some(setting) => (setting.value, setting.at),
        None => match project
            .auth_text("resource_url")
            .map(|url| (url, "resource_url"))
            .or_else(|| project.auth_text("audience").map(|url| (url, "audience")))
        {
            Some((url, key)) => (url.to_string(), Some(project.state_location(key))),
            None => {
                return vec![Finding::warn(
                    ORIGINS,
                    format!("no resource URL: set `{RESOURCE_URL_VAR}`"),
                )];
            }
        },
    };
    let Ok(url) = Url::parse(resource.trim()) else {
        return vec![
            Finding::warn(
                ORIGINS,
                format!("the resource URL `{resource}` is not a URL"),
            )
            .at(resource_at),
        ];
    };
    let listed = project
        .setting(ORIGINS_VAR)
        .map(|setting| (setting.value, setting.at))
        .or_else(|| {
            let origins = project.auth.get("allowed_origins")?;
            let text = match origins {
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.as_str()?.to_string(),
            };
            Some((text, Some(project.state_location("allowed_origins"))))
        });
    let own = url.origin().ascii_serialization();
    match listed {
        Some((origins, at)) => {
            let odd: Vec<&str> = origins
                .split(',')
                .map(str::trim)
                .filter(|origin| !origin.is_empty() && !is_origin(origin))
                .collect();
            let finding = if odd.is_empty() {
                Finding::pass(ORIGINS, format!("browsers may call from: {}", origins.trim()))
            } else {
                Finding::warn(ORIGINS, format!(
                    "`{ORIGINS_VAR}` holds {}, which is not an exact origin (scheme://host[:port], no path, no `*`): it matches no browser",
                    odd.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")
                ))
            };
            vec![finding.at(at)]
        }
        None if is_loopback(&url) => vec![
            Finding::pass(
                ORIGINS,
                format!("the resource `{url}` is loopback; browsers may call only from `{own}` (the default)"),
            )
            .at(resource_at),
        ],
        None => vec![
            Finding::warn(ORIGINS, format!(
                "the resource `{url}` is public and `{ORIGINS_VAR}` is not set: browsers may call only from its own origin `{own}` (the default); set `{ORIGINS_VAR}` to the exact origins of your web clients"
            ))
            .at(resource_at),
        ],
    }
}

/// Whether `text` is an exact origin: `scheme://host[:port]` and nothing more.
fn is_origin(text: &str) -> bool {
    !text.contains('*')
        && Url::parse(text).is_ok_and(|url| {
            url.has_host() && url.origin().ascii_serialization() == text.trim_end_matches('/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_origins() {
        assert!(is_origin("https://app.example.com"));
        assert!(is_origin("http://127.0.0.1:3000"));
        assert!(!is_origin("https://app.example.com/mcp"));
        assert!(!is_origin("*"));
        assert!(!is_origin("https://*.example.com"));
    }
}
