//! Transport: the streamable HTTP branch `add-auth --add-http` puts in front of a
//! stdio-only server's serve call, the dependencies it needs, and taking it out again.
//!
//! The branch is plain code in the user's function, marked by a comment:
//! with `MCP_TRANSPORT=http` the server listens on `MCP_BIND` (default
//! `127.0.0.1:8000`) and serves MCP at `/mcp` with a clone of the handler
//! per session; otherwise nothing in it runs and stdio works as before. It
//! ends the process itself (never returns), so it fits any `main` signature.
//! The rest of add-auth then finds and wires it like any HTTP mount.
//!
//! Its text is laid out as rustfmt lays it out, so that formatting the
//! function (as add-auth does when the project is rustfmt-clean) leaves it
//! as it is; `auth remove` finds it by its marker and its `if`, not by its
//! exact bytes.

use anyhow::{Result, bail};

use super::{Dependency, dep};
use crate::inspect::{Insertion, StdioSite};

/// The first line of the branch (after the indent): how `auth remove` finds it.
const MARKER: &str = "// Streamable HTTP instead of stdio when MCP_TRANSPORT=http: added by";
/// The lines after it up to the `if` that `auth remove` takes out with it.
const HEAD: [&str; 2] = [
    "// `mcp-builder add-auth --add-http` (`mcp-builder auth remove` takes it out).",
    r#"if std::env::var("MCP_TRANSPORT").as_deref() == Ok("http") {"#,
];

/// What the branch itself uses beyond the auth module's dependencies:
/// axum's server (`tokio`, `http1`) and tokio's listener (`net`). It runs
/// on whatever runtime the serve call already runs on, so it needs no
/// runtime feature of its own.
pub const DEPENDENCIES: &[Dependency] = &[
    dep("axum", "0.8", true, &[]).using_defaults(&["tokio", "http1"]),
    dep("tokio", "1", true, &["net"]),
];

/// The branch for `site`, inserted at the start of its statement's line.
pub fn branch(site: &StdioSite) -> Insertion {
    let lines = [
        MARKER,
        HEAD[0],
        HEAD[1],
        "    use rmcp::transport::streamable_http_server as mcp_http;",
        &format!("    let handler = {};", site.handler),
        "    let service = mcp_http::StreamableHttpService::new(",
        "        move || Ok(handler.clone()),",
        "        std::sync::Arc::new(mcp_http::session::local::LocalSessionManager::default()),",
        "        mcp_http::StreamableHttpServerConfig::default(),",
        "    );",
        r#"    let router = axum::Router::new().nest_service("/mcp", service);"#,
        r#"    let bind = std::env::var("MCP_BIND").unwrap_or_else(|_| "127.0.0.1:8000".into());"#,
        "    let listener = match tokio::net::TcpListener::bind(&bind).await {",
        "        Ok(listener) => listener,",
        "        Err(err) => {",
        r#"            eprintln!("error: cannot listen on {bind}: {err}");"#,
        "            std::process::exit(1);",
        "        }",
        "    };",
        "    if let Err(err) = axum::serve(listener, router).await {",
        r#"        eprintln!("error: the MCP HTTP server stopped: {err}");"#,
        "        std::process::exit(1);",
        "    }",
        "    std::process::exit(0);",
        "}",
    ];
    let mut text = String::new();
    for line in lines {
        text.push_str(&site.indent);
        text.push_str(line);
        text.push('\n');
    }
    Insertion {
        file: site.file.clone(),
        at: site.stmt_line_start,
        text,
    }
}

/// `text` without the branch: from its marker line to the line closing its
/// `if`. An error when the marker is missing or found more than once, or
/// the lines after it are not the ones add-auth wrote (the user changed
/// them): nothing is guessed.
pub fn remove_branch(text: &str, path: &str) -> Result<String> {
    let starts: Vec<usize> = text
        .match_indices(MARKER)
        .map(|(at, _)| text[..at].rfind('\n').map_or(0, |newline| newline + 1))
        .collect();
    let [start] = starts[..] else {
        bail!(
            "`{path}` has {} HTTP transport branches marked as add-auth's (`{MARKER}`), not one\n\
             help: take the branch out by hand, or restore `{path}` from version control",
            starts.len()
        );
    };
    let indent: String = text[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let head: String = [MARKER, HEAD[0], HEAD[1]]
        .iter()
        .map(|line| format!("{indent}{line}\n"))
        .collect();
    let closing = format!("\n{indent}}}\n");
    let Some(end) = text[start..]
        .strip_prefix(&head)
        .and_then(|body| body.find(&closing))
        .map(|close| start + head.len() + close + closing.len())
    else {
        bail!(
            "the HTTP transport branch in `{path}` is not as add-auth wrote it\n\
             help: take the branch out by hand, or restore `{path}` from version control"
        );
    };
    let mut removed = text[..start].to_string();
    removed.push_str(&text[end..]);
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn site(indent: &str, at: usize) -> StdioSite {
        StdioSite {
            file: PathBuf::from("src/main.rs"),
            at: "src/main.rs:3".into(),
            stmt_line_start: at,
            indent: indent.into(),
            handler: "Counter::new()".into(),
            handler_type: Some("Counter".into()),
            clone: Some(true),
        }
    }

    #[test]
    fn the_branch_goes_before_the_statement_and_comes_out_byte_for_byte() {
        let original = "async fn main() {\n    let s = Counter::new().serve(stdio()).await;\n}\n";
        let at = original.find("    let s").unwrap();
        let insertion = branch(&site("    ", at));
        let with = insertion.apply(original);
        assert!(with.starts_with("async fn main() {\n    // Streamable HTTP"));
        assert!(with.contains("    let handler = Counter::new();\n"));
        assert!(with.ends_with("    }\n    let s = Counter::new().serve(stdio()).await;\n}\n"));
        syn::parse_file(&with).expect("the branch is valid Rust");
        assert_eq!(remove_branch(&with, "src/main.rs").unwrap(), original);
    }

    #[test]
    fn a_branch_changed_or_doubled_is_not_guessed_at() {
        let original = "fn main() {\n    run();\n}\n";
        let with = branch(&site("    ", original.find("    run").unwrap())).apply(original);
        let err = remove_branch(original, "src/main.rs")
            .unwrap_err()
            .to_string();
        assert!(err.contains("has 0 HTTP transport branches"), "{err}");
        let doubled = format!("{with}{with}");
        assert!(remove_branch(&doubled, "src/main.rs").is_err());
        let edited = with.replace("    if std::env::var", "    if true || std::env::var");
        let err = remove_branch(&edited, "src/main.rs")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not as add-auth wrote it"), "{err}");
    }
}
