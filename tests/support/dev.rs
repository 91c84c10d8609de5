//! The development issuer (`mcp-builder auth dev`) as a child process of a
//! test, the client it keeps in the project's store, and its one-click
//! consent page clicked without a browser.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use reqwest::{
    StatusCode, Url,
    header::{COOKIE, LOCATION, SET_COOKIE},
    redirect::Policy,
};
use serde_json::Value;

use super::{http::Reply, project::ServerProcess};

/// How long `auth dev` may take to answer its discovery document.
pub const START_LIMIT: Duration = Duration::from_secs(30);

/// A running `mcp-builder auth dev --path <project>`; killed on drop (its
/// output printed if the test is failing).
pub struct DevIssuer {
    pub process: ServerProcess,
    /// The issuer URL as the project names it (`http://127.0.0.1:PORT`).
    pub url: String,
}

impl DevIssuer {
    /// Starts the real binary for `project`, whose `.env` says it listens at
    /// `url`, and waits until its RFC 8414 document answers 200.
    pub async fn start(project: &Path, url: &str, log: PathBuf) -> DevIssuer {
        let binary = Path::new(env!("CARGO_BIN_EXE_mcp-builder"));
        let path = project.to_str().expect("a UTF-8 project path");
        let mut process = ServerProcess::spawn_with_args(
            binary,
            &["auth", "dev", "--path", path],
            project,
            &[("NO_COLOR", "1".to_string())],
            log,
        );
        let url = url.trim_end_matches('/').to_string();
        process
            .wait_healthy(
                &format!("{url}/.well-known/oauth-authorization-server"),
                START_LIMIT,
            )
            .await;
        DevIssuer { process, url }
    }

    /// Its RFC 8414 authorization server metadata.
    pub async fn metadata(&self) -> Value {
        let url = format!("{}/.well-known/oauth-authorization-server", self.url);
        let reply = Reply::fetch(super::http::client().get(&url)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
        reply.json()
    }
}

/// The client-credentials client `auth dev` keeps in the project's
/// `.mcp-builder/dev/issuer.json`: (client id, client secret).
pub fn store_client(project: &Path) -> (String, String) {
    let path = project.join(".mcp-builder/dev/issuer.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    let stored: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
    let field = |name: &str| {
        stored[name]
            .as_str()
            .unwrap_or_else(|| panic!("no `{name}` in {}", path.display()))
            .to_string()
    };
    (field("client_id"), field("client_secret"))
}

/// What a person does on the consent page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// The consent page a person saw, and where their answer sent the browser.
pub struct Consent {
    pub page: String,
    /// The `Location` of the issuer's `303`: the client's `redirect_uri`
    /// with `code`, `state` and `iss` (or `error`).
    pub location: String,
}

/// Opens `authorize_url` as a browser would (GET, no redirects followed),
/// fills the page's form (`user` in its text field, hidden fields as they
/// are, checked boxes kept), presses the Allow or Deny button, and returns
/// the `Location` the issuer redirects to (`303`, to the client's
/// `redirect_uri` with `code`, `state` and `iss`, or `error`).
pub async fn click_consent(
    authorize_url: &str,
    user: &str,
    decision: Decision,
) -> Result<String, String> {
    answer_consent(authorize_url, user, decision)
        .await
        .map(|consent| consent.location)
}

/// [`click_consent`], also returning the page the person saw.
pub async fn answer_consent(
    authorize_url: &str,
    user: &str,
    decision: Decision,
) -> Result<Consent, String> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .timeout(super::http::REQUEST_TIMEOUT)
        .build()
        .map_err(|error| error.to_string())?;
    let page = http
        .get(authorize_url)
        .send()
        .await
        .map_err(|error| format!("GET {authorize_url}: {error}"))?;
    let status = page.status();
    // A session cookie set with the page goes back with the form.
    let cookies: Vec<String> = page
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .map(str::to_string)
        .collect();
    let html = page.text().await.map_err(|error| error.to_string())?;
    if status != StatusCode::OK {
        return Err(format!(
            "GET {authorize_url}: expected the consent page (200), got {status}\n{html}"
        ));
    }
    let (action, fields) = fill_consent_form(&html, user, decision)?;
    let action = Url::parse(authorize_url)
        .and_then(|base| base.join(&action))
        .map_err(|error| format!("form action `{action}`: {error}"))?;
    let mut request = http.post(action.clone()).form(&fields);
    if !cookies.is_empty() {
        request = request.header(COOKIE, cookies.join("; "));
    }
    let answer = request
        .send()
        .await
        .map_err(|error| format!("POST {action}: {error}"))?;
    let status = answer.status();
    let location = answer
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    match location {
        Some(location) if status == StatusCode::SEE_OTHER => Ok(Consent {
            page: html,
            location,
        }),
        _ => Err(format!(
            "POST {action} {fields:?}: expected 303 with a Location, got {status}\n{}",
            answer.text().await.unwrap_or_default()
        )),
    }
}

/// The action and fields of the POST form on `html` as a person sends it:
/// `user` in its text field, hidden fields as they are, checked boxes kept,
/// and the name and value of the button `decision` presses.
pub fn fill_consent_form(
    html: &str,
    user: &str,
    decision: Decision,
) -> Result<(String, Vec<(String, String)>), String> {
    Form::parse(html)?.submit(user, decision)
}

/// The consent page's POST form, as far as a person filling it sees it.
struct Form {
    action: String,
    /// `(tag, inner text)` of every `<input>` and `<button>` in the form.
    controls: Vec<(String, String)>,
}

impl Form {
    fn parse(html: &str) -> Result<Form, String> {
        let lower = html.to_ascii_lowercase();
        let mut from = 0;
        while let Some(start) = lower[from..].find("<form").map(|at| from + at) {
            let tag_end = lower[start..]
                .find('>')
                .map(|at| start + at)
                .ok_or("an unclosed <form> tag")?;
            let end = lower[tag_end..]
                .find("</form")
                .map_or(html.len(), |at| tag_end + at);
            let tag = &html[start..=tag_end];
            from = end;
            if !attribute(tag, "method").is_some_and(|method| method.eq_ignore_ascii_case("post")) {
                continue;
            }
            return Ok(Form {
                action: attribute(tag, "action").unwrap_or_default(),
                controls: controls(&html[tag_end + 1..end]),
            });
        }
        Err(format!("no <form method=\"post\"> on the page:\n{html}"))
    }

    /// The action and the fields sent when `decision`'s button is pressed.
    fn submit(
        &self,
        user: &str,
        decision: Decision,
    ) -> Result<(String, Vec<(String, String)>), String> {
        let wanted = match decision {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        };
        let mut fields = Vec::new();
        let mut action = self.action.clone();
        let mut pressed = false;
        for (tag, text) in &self.controls {
            let name = attribute(tag, "name");
            let value = attribute(tag, "value").unwrap_or_default();
            let kind = attribute(tag, "type")
                .unwrap_or_else(|| {
                    if tag[1..].to_ascii_lowercase().starts_with("button") {
                        "submit".into()
                    } else {
                        "text".into()
                    }
                })
                .to_ascii_lowercase();
            match kind.as_str() {
                "submit" => {
                    let label = format!("{value} {text}").to_ascii_lowercase();
                    if pressed || !label.contains(wanted) {
                        continue;
                    }
                    pressed = true;
                    if let Some(target) = attribute(tag, "formaction") {
                        action = target;
                    }
                    if let Some(name) = name {
                        fields.push((name, value));
                    }
                }
                "hidden" => fields.extend(name.map(|name| (name, value))),
                // A checked box without a value sends `on`.
                "checkbox" | "radio" if has_flag(tag, "checked") => {
                    let value = attribute(tag, "value").unwrap_or_else(|| "on".into());
                    fields.extend(name.map(|name| (name, value)));
                }
                "text" | "email" => fields.extend(name.map(|name| (name, user.to_string()))),
                _ => {}
            }
        }
        if pressed {
            Ok((action, fields))
        } else {
            Err(format!(
                "no `{wanted}` button in the consent form: {:?}",
                self.controls
            ))
        }
    }
}

/// Every `<input ...>` and `<button ...>...</button>` in `html`, with a
/// button's inner text.
fn controls(html: &str) -> Vec<(String, String)> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..].find('<').map(|at| from + at) {
        let rest = &lower[start + 1..];
        let is_input = rest.starts_with("input");
        let is_button = rest.starts_with("button");
        let Some(tag_end) = lower[start..].find('>').map(|at| start + at) else {
            break;
        };
        from = tag_end + 1;
        if !(is_input || is_button) {
            continue;
        }
        let mut text = String::new();
        if is_button && let Some(close) = lower[from..].find("</button").map(|at| from + at) {
            text = decode(html[from..close].trim());
            from = close;
        }
        found.push((html[start..=tag_end].to_string(), text));
    }
    found
}

/// The value of attribute `name` in `tag` (`<x a="1" b='2' c=3 d>`), HTML
/// entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    attributes(tag)
        .into_iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value)
}

fn has_flag(tag: &str, name: &str) -> bool {
    attributes(tag)
        .iter()
        .any(|(key, _)| key.eq_ignore_ascii_case(name))
}

fn attributes(tag: &str) -> Vec<(String, Option<String>)> {
    let inner = tag
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_end_matches('/');
    // Skip the element name.
    let mut chars = inner
        .trim_start_matches(|c: char| !c.is_whitespace())
        .chars()
        .peekable();
    let mut found = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == '/').is_some() {}
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        if key.is_empty() {
            return found;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            found.push((key, None));
            continue;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        match chars.next_if(|c| *c == '"' || *c == '\'') {
            Some(quote) => {
                for c in chars.by_ref() {
                    if c == quote {
                        break;
                    }
                    value.push(c);
                }
            }
            None => {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    value.push(c);
                }
            }
        }
        found.push((key, Some(decode(&value))));
    }
}

/// The HTML entities a server escapes attribute values and text with.
fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}
