//! The HTML the authorization endpoint shows a person: the one-click
//! consent page and the error page for requests that cannot be sent back
//! to the client. Every value is HTML-escaped; no script runs.

use axum::{
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use handlebars::html_escape;

use super::error::with_outcome;

/// The name the consent page offers to sign in as (the token's `sub`).
pub const DEFAULT_SUBJECT: &str = "dev-user";

/// What the consent page shows.
pub struct Consent<'a> {
    /// The single-use id of the request held in memory.
    pub request_id: &'a str,
    pub client_id: &'a str,
    pub client_name: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    /// The resource (`aud`) the token will be for.
    pub resource: &'a str,
}

/// The consent page: who asks, for which scopes and resource, as whom.
pub fn consent(consent: &Consent) -> Response {
    let name = consent.client_name.unwrap_or(consent.client_id);
    let scopes: String = consent
        .scopes
        .iter()
        .map(|scope| format!("<li><code>{}</code></li>", html_escape(scope)))
        .collect();
    let body = format!(
        r#"<h1>Sign in to {name}</h1>
<p><strong>{name}</strong> (client id <code>{client_id}</code>) asks for an access token for <code>{resource}</code> with these scopes:</p>
<ul>{scopes}</ul>
<form method="post" action="authorize">
<input type="hidden" name="request" value="{request_id}">
<p><label>Sign in as <input type="text" name="subject" value="{subject}" maxlength="200" autofocus></label></p>
<p><button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form>
<p class="note">Your browser then goes back to <code>{redirect_uri}</code>.<br>
This is mcp-builder's development issuer: there is no password, anyone on this machine can sign in. Never trust it in production.</p>"#,
        name = html_escape(name),
        client_id = html_escape(consent.client_id),
        resource = html_escape(consent.resource),
        request_id = html_escape(consent.request_id),
        subject = DEFAULT_SUBJECT,
        redirect_uri = html_escape(consent.redirect_uri),
    );
    let response = page(StatusCode::OK, "Sign in", &body);
    with_outcome(response, "consent page")
}

/// An error shown to the person, not sent to the client (RFC 6749
/// 4.1.2.1: never redirect to an unchecked redirect URI).
pub fn error(status: StatusCode, problem: &str) -> Response {
    let body = format!(
        "<h1>This sign-in cannot go on</h1>\n<p>{}</p>\n<p class=\"note\">mcp-builder development issuer</p>",
        html_escape(problem)
    );
    let response = page(status, "Sign-in error", &body);
    with_outcome(response, format!("error page: {problem}"))
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{title} · mcp-builder auth dev</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}code{{background:#eee;padding:0 .2em;word-break:break-all}}button{{font-size:1rem;padding:.4rem 1.2rem;margin-right:.5rem}}.note{{color:#555;font-size:.9rem}}</style></head>
<body>
{body}
</body>
</html>
"#,
        title = html_escape(title),
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consent_page_escapes_what_the_client_chose() {
        let scopes = vec!["read:tasks".to_string(), "<b>x</b>".to_string()];
        let response = consent(&Consent {
            request_id: "req\"id",
            client_id: "https://app.example.com/c.json",
            client_name: Some("<script>alert(1)</script>"),
            redirect_uri: "http://127.0.0.1/cb?a=1&b=2",
            scopes: &scopes,
            resource: "http://127.0.0.1:8000/mcp",
        });
        let body = futures_body(response);
        assert!(!body.contains("<script>"), "{body}");
        assert!(body.contains("&lt;script&gt;"), "{body}");
        assert!(
            body.contains("<li><code>&lt;b&gt;x&lt;/b&gt;</code></li>"),
            "{body}"
        );
        assert!(body.contains(r#"value="req&quot;id""#), "{body}");
        assert!(body.contains("a&#x3D;1&amp;b&#x3D;2"), "{body}");
        assert!(body.contains(r#"value="dev-user""#), "{body}");
    }

    fn futures_body(response: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = runtime
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
