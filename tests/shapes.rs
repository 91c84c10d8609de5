//! Project shapes: add-auth on the fixture projects of `tests/fixtures/shapes/`
//! (one per shape of real rmcp servers, see the README there).
//!
//! Each wireable shape is copied, changed by the real `mcp-builder` binary,
//! compiled, started, and probed over HTTP against a test issuer on
//! 127.0.0.1: the MCP endpoint answers 401 without a token and 200 to an
//! `initialize` with one, a tool call gets through with the right scope, and
//! the other routes (`/health`, the metadata document) stay public. The
//! shapes are built one after another into one target directory
//! (`<target>/e2e-projects`); their dependency sets are identical, so
//! only the first build compiles the dependencies.
//!
//! Each refused shape gets its message checked whole, and its tree byte for
//! byte.
//!
//! Run: `cargo test --test shapes -- --nocapture` (`SHAPES=split-service,sync-main`
//! picks some of the wireable shapes).

mod support;

use std::{
    fs,
    path::Path,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::json;
use support::{
    http::{RawMcp, Reply, client, initialize_body, tools_call_body},
    issuer::Issuer,
    project::{
        ServerProcess, copy_project, copy_shape, free_port, run_add_auth, this_crate_target_dir,
        tree, try_cargo,
    },
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shapes");
const DOMAIN: &str = "shapes-test.auth0.com";
const AUDIENCE: &str = "https://shapes.example.com/mcp";
const ALL_SCOPES: &str = "read:echo write:echo delete:echo";
const FLAGS: &[&str] = &[
    "--provider",
    "auth0",
    "--domain",
    DOMAIN,
    "--audience",
    AUDIENCE,
    "--scopes",
    "read:echo,write:echo,delete:echo",
    "--yes",
];

/// A wireable shape and what to expect of it.
struct Shape {
    fixture: &'static str,
    /// Flags besides [`FLAGS`].
    args: &'static [&'static str],
    /// The package directory inside the fixture (where `.env` goes and the
    /// server runs).
    package_dir: &'static str,
    cargo_build: &'static [&'static str],
    binary: &'static str,
    /// Lines add-auth must print (stderr), besides the usual ones.
    says: &'static [&'static str],
    /// Files add-auth must write, and their lines that show where the
    /// wiring went.
    wiring: &'static [(&'static str, &'static str)],
    /// A tool call and the scope it needs.
    tool: (&'static str, &'static str),
    /// Other public routes to check (GET, 200 without a token).
    public: &'static [&'static str],
}

const ECHO: (&str, &str) = ("echo", "read:echo");

const SHAPES: &[Shape] = &[
    Shape {
        fixture: "transport-switch",
        args: &[],
        package_dir: "",
        cargo_build: &["build"],
        binary: "shape-switch",
        says: &[],
        wiring: &[(
            "src/main.rs",
            "            let mcp_auth = auth::McpAuth::from_env_or_exit();",
        )],
        tool: ECHO,
        public: &[],
    },
    Shape {
        fixture: "lib-factory",
        args: &[],
        package_dir: "",
        cargo_build: &["build"],
        binary: "shape-lib-factory",
        says: &[],
        wiring: &[
            ("src/lib.rs", "mod auth;"),
            // A router factory, not start-up code: it never exits.
            (
                "src/lib.rs",
                "    let mcp_auth = auth::McpAuth::from_env();",
            ),
        ],
        tool: ECHO,
        public: &[],
    },
    Shape {
        fixture: "split-service",
        args: &[],
        package_dir: "",
        cargo_build: &["build"],
        binary: "shape-split",
        says: &[
            "warning: the `StreamableHttpService` is built in `fn mcp_service` (`src/service.rs:12`), \
             not where it is mounted (`src/router.rs:10`): add-auth protects it at the mount and leaves \
             its config (`src/service.rs:15`) as it is, so rmcp still accepts only the `Host` headers \
             that config allows (loopback by default); behind a public host, add that host (the one of \
             MCP_RESOURCE_URL) with `.with_allowed_hosts(..)` on that config",
        ],
        wiring: &[
            ("src/main.rs", "mod auth;"),
            (
                "src/router.rs",
                "    let mcp_auth = crate::auth::McpAuth::from_env();",
            ),
            (
                "src/router.rs",
                "        .nest_service(\"/mcp\", mcp_auth.protect(service::mcp_service()))",
            ),
            (
                "src/service.rs",
                "        StreamableHttpServerConfig::default(),",
            ),
        ],
        tool: ECHO,
        public: &[],
    },
    Shape {
        fixture: "stateful-router",
        args: &[],
        package_dir: "",
        cargo_build: &["build"],
        binary: "shape-stateful",
        says: &[],
        wiring: &[
            (
                "src/main.rs",
                "        .nest_service(\"/mcp\", mcp_auth.protect(mcp))",
            ),
            ("src/main.rs", "        .merge(mcp_auth.metadata_router())"),
            ("src/main.rs", "        .with_state(state);"),
        ],
        tool: ECHO,
        public: &["/uptime"],
    },
    Shape {
        fixture: "two-binaries",
        args: &[],
        package_dir: "",
        cargo_build: &["build", "--bins"],
        binary: "http",
        says: &[],
        wiring: &[
            ("src/bin/http.rs", "mod auth;"),
            ("src/bin/auth/mod.rs", "pub struct McpAuth {"),
            ("src/lib.rs", "pub mod server;"),
        ],
        tool: ECHO,
        public: &[],
    },
    Shape {
        fixture: "bin-explicit-path",
        args: &[],
        package_dir: "",
        cargo_build: &["build", "--bins"],
        binary: "shape-bin-path",
        says: &[],
        wiring: &[
            ("bin/server.rs", "mod auth;"),
            ("bin/auth/mod.rs", "pub struct McpAuth {"),
            (
                "bin/http.rs",
                "        .nest_service(\"/mcp\", mcp_auth.protect(service))",
            ),
        ],
        tool: ECHO,
        public: &[],
    },
    Shape {
        fixture: "example-server",
        args: &[],
        package_dir: "",
        cargo_build: &["build", "--example", "http"],
        binary: "examples/http",
        says: &[],
        wiring: &[
            ("examples/http/serve.rs", "mod auth;"),
            ("examples/http/auth/mod.rs", "pub struct McpAuth {"),
        ],
        tool: ECHO,
        public: &[],
    },
    Shape {
        fixture: "workspace",
        args: &["--package", "notes-http"],
        package_dir: "crates/notes-http",
        cargo_build: &["build", "-p", "notes-http"],
        binary: "notes-http",
        says: &[],
        wiring: &[
            ("crates/notes-http/src/main.rs", "mod auth;"),
            (
                "crates/notes-http/Cargo.toml",
                "jsonwebtoken = { workspace = true }",
            ),
            (
                "Cargo.toml",
                "jsonwebtoken = { version = \"11\", default-features = false, features = [\"aws_lc_rs\"] }",
            ),
        ],
        tool: ECHO,
        public: &[],
    },
    Shape {
        fixture: "sync-main",
        args: &[],
        package_dir: "",
        cargo_build: &["build"],
        binary: "shape-sync-main",
        says: &[],
        wiring: &[
            ("src/main.rs", "fn main() {"),
            (
                "src/main.rs",
                "    let mcp_auth = auth::McpAuth::from_env_or_exit();",
            ),
            (
                "src/main.rs",
                "            .nest_service(\"/mcp\", mcp_auth.protect(service))",
            ),
        ],
        tool: ECHO,
        public: &[],
    },
    Shape {
        fixture: "hand-written-tools",
        args: &[],
        package_dir: "",
        cargo_build: &["build"],
        binary: "shape-hand-written",
        says: &[
            "warning: no `#[tool]` methods found; `src/server.rs:37` implements `call_tool` by hand, \
             so add-auth cannot list the tools: every `tools/call` will need all the scopes \
             (`UNLISTED_TOOL_SCOPES` in `src/auth/policy.rs`) until you add entries to `TOOL_SCOPES` there",
        ],
        wiring: &[(
            "src/auth/policy.rs",
            "pub const TOOL_SCOPES: &[(&str, &[&str])] = &[];",
        )],
        // No static list: the one tool needs every scope.
        tool: ("ping", ALL_SCOPES),
        public: &[],
    },
    Shape {
        fixture: "existing-auth-module",
        args: &["--module-name", "mcp_oauth"],
        package_dir: "",
        cargo_build: &["build"],
        binary: "shape-own-auth",
        says: &[],
        wiring: &[
            ("src/main.rs", "mod auth;"),
            ("src/main.rs", "mod mcp_oauth;"),
            (
                "src/main.rs",
                "    let mcp_auth = mcp_oauth::McpAuth::from_env_or_exit();",
            ),
            ("src/auth.rs", "pub fn is_admin_key(key: &str) -> bool {"),
            ("src/mcp_oauth/mod.rs", "pub struct McpAuth {"),
        ],
        tool: ECHO,
        public: &[],
    },
];

#[tokio::test(flavor = "multi_thread")]
async fn wireable_shapes_compile_and_protect_only_the_mcp_endpoint() {
    let only: Option<Vec<String>> = std::env::var("SHAPES")
        .ok()
        .map(|list| list.split(',').map(str::to_string).collect());
    let target_dir = this_crate_target_dir().join("e2e-projects");
    let issuer = Issuer::start();
    let mut failures = Vec::new();
    let mut timings = Vec::new();
    for shape in SHAPES {
        if only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|name| name == shape.fixture))
        {
            continue;
        }
        let started = Instant::now();
        let workspace = tempfile::TempDir::new().expect("temp dir");
        let result = check_shape(shape, workspace.path(), &target_dir, &issuer).await;
        timings.push(format!("{}: {:.1?}", shape.fixture, started.elapsed()));
        if let Err(failure) = result {
            failures.push(format!("[{}] {failure}", shape.fixture));
        }
    }
    eprintln!("shape timings:\n  {}", timings.join("\n  "));
    assert!(
        failures.is_empty(),
        "{} shape(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Copy, add-auth, build, run, probe.
async fn check_shape(
    shape: &Shape,
    workspace: &Path,
    target_dir: &Path,
    issuer: &Issuer,
) -> Result<(), String> {
    let project = workspace.join(shape.fixture);
    copy_shape(shape.fixture, &project);
    let package = project.join(shape.package_dir);

    let args: Vec<&str> = FLAGS.iter().chain(shape.args).copied().collect();
    let (ok, stderr) = run_add_auth(&project, &args);
    if !ok {
        return Err(format!("add-auth failed:\n{stderr}"));
    }
    for line in shape.says {
        if !stderr.lines().any(|said| said == *line) {
            return Err(format!(
                "add-auth did not say\n  {line}\n--- stderr ---\n{stderr}"
            ));
        }
    }
    for (file, line) in shape.wiring {
        let text = fs::read_to_string(project.join(file))
            .map_err(|error| format!("read {file}: {error}"))?;
        if !text.lines().any(|have| have == *line) {
            return Err(format!(
                "`{file}` has no line\n  {line}\n--- {file} ---\n{text}"
            ));
        }
    }

    let build = tokio::task::block_in_place(|| {
        try_cargo(
            &project,
            target_dir,
            shape.cargo_build,
            Duration::from_secs(1200),
        )?;
        // The wiring keeps the project's `cargo fmt --check` clean.
        try_cargo(
            &package,
            target_dir,
            &["fmt", "--check"],
            Duration::from_secs(120),
        )
    });
    build?;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{base}/mcp");
    let binary =
        target_dir
            .join("debug")
            .join(format!("{}{}", shape.binary, std::env::consts::EXE_SUFFIX));
    let mut server = ServerProcess::spawn(
        &binary,
        &package,
        &issuer.auth0_server_env(&format!("127.0.0.1:{port}"), DOMAIN, AUDIENCE, &mcp_url),
        workspace.join("server.log"),
    );
    server
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;
    let result = probe(shape, &base, &mcp_url, issuer).await;
    if result.is_err() {
        eprintln!("--- {} server log ---\n{}", shape.fixture, server.log());
    }
    result
}

/// The HTTP checks against a running wired shape.
async fn probe(shape: &Shape, base: &str, mcp_url: &str, issuer: &Issuer) -> Result<(), String> {
    let raw = RawMcp::new(mcp_url);
    raw.expect_challenge().await?;

    let (tool, scopes) = shape.tool;
    let token = issuer.token(&issuer.claims_for("alice", scopes, AUDIENCE));
    let initialized = raw.send(Some(&token), None, &initialize_body(1)).await;
    initialized.expect(StatusCode::OK, "initialize with a valid token")?;

    let session = raw.open_session(&token).await;
    let arguments = if tool == "echo" {
        json!({ "text": "hello" })
    } else {
        json!({})
    };
    let call = tools_call_body(2, tool, arguments.clone());
    let called = raw.send(Some(&token), Some(&session), &call).await;
    called.expect(StatusCode::OK, "tools/call with the tool's scope")?;
    let expected = if tool == "echo" { "hello" } else { "pong" };
    if !called.body.contains(expected) {
        return Err(format!(
            "tools/call did not answer {expected:?}: {}",
            called.describe()
        ));
    }
    if scopes.contains(' ') {
        // Every scope needed: one of them is not enough.
        let partial = issuer.token(&issuer.claims_for("alice", "read:echo", AUDIENCE));
        let session = raw.open_session(&partial).await;
        let refused = raw
            .send(
                Some(&partial),
                Some(&session),
                &tools_call_body(3, tool, arguments),
            )
            .await;
        refused.expect(StatusCode::FORBIDDEN, "tools/call with only read:echo")?;
    }

    for path in ["/health", "/.well-known/oauth-protected-resource/mcp"]
        .iter()
        .chain(shape.public)
    {
        let reply = Reply::fetch(client().get(format!("{base}{path}"))).await;
        reply.expect(StatusCode::OK, &format!("GET {path} without a token"))?;
    }
    let metadata =
        Reply::fetch(client().get(format!("{base}/.well-known/oauth-protected-resource/mcp")))
            .await
            .json();
    if metadata["resource"] != mcp_url {
        return Err(format!("metadata `resource` is not {mcp_url}: {metadata}"));
    }
    if shape.fixture == "stateful-router" {
        // The project's global layer still wraps every route.
        let health = Reply::fetch(client().get(format!("{base}/health"))).await;
        if health.header_opt("access-control-allow-origin") != Some("*") {
            return Err(format!("the global layer is gone: {}", health.describe()));
        }
    }
    Ok(())
}

#[test]
fn refused_shapes_get_the_reason_and_stay_untouched() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "stdio-only",
            &[],
            "error: `shape-stdio` serves MCP over stdio only (`src/main.rs:5`); OAuth applies to HTTP transports\n\
             help: run add-auth again with --add-http to add a streamable HTTP transport (chosen by \
             `MCP_TRANSPORT=http`; stdio stays the default) and protect it, or serve MCP over streamable HTTP \
             yourself (`StreamableHttpService` mounted by `Router::new().nest_service(\"/mcp\", service)`)",
        ),
        (
            "raw-hyper",
            &[],
            "error: `shape-hyper` builds a `StreamableHttpService` at `src/main.rs:14` (in `fn main`) and serves it \
             with hyper (`TowerToHyperService`), without an axum router to add the auth layer to\n\
             help: serve it through axum instead (`axum::serve(listener, Router::new().nest_service(\"/mcp\", service))`), \
             then run add-auth again",
        ),
        (
            "existing-bearer",
            &[],
            "error: `shape-bearer` already has auth of its own, and add-auth never stacks a second one on it: \
             `src/main.rs:29` a `from_fn(require_token)` layer over the MCP endpoint, where `require_token` \
             (`src/main.rs:38`) reads the `Authorization` header, checks a `Bearer` token, answers 401\n\
             help: remove or disable yours first (`src/main.rs:29`), then run add-auth again; \
             to keep your own auth instead, do not use add-auth on this endpoint",
        ),
        (
            "own-oauth-metadata",
            &[],
            "error: `shape-own-metadata` already has auth of its own, and add-auth never stacks a second one on it: \
             `src/main.rs:24` serves `/.well-known/oauth-protected-resource` itself (add-auth serves its own \
             OAuth metadata there, and two answers cannot share a route)\n\
             help: remove or disable yours first (`src/main.rs:24`), then run add-auth again; \
             to keep your own auth instead, do not use add-auth on this endpoint",
        ),
        (
            "stdio-jwt",
            &[],
            "error: `shape-stdio-jwt` cannot be protected by add-auth as it is (2 problems):\n\
             - `shape-stdio-jwt` serves MCP over stdio only (`src/main.rs:8`); OAuth applies to HTTP transports\n  \
             help: run add-auth again with --add-http to add a streamable HTTP transport (chosen by \
             `MCP_TRANSPORT=http`; stdio stays the default) and protect it, or serve MCP over streamable HTTP \
             yourself (`StreamableHttpService` mounted by `Router::new().nest_service(\"/mcp\", service)`)\n\
             - `shape-stdio-jwt` already has auth of its own, and add-auth never stacks a second one on it: \
             `src/main.rs:7` checks JWTs of its own with `jsonwebtoken` (`jsonwebtoken::DecodingKey`)\n  \
             help: remove or disable yours first (`src/main.rs:7`), then run add-auth again; \
             to keep your own auth instead, do not use add-auth on this endpoint",
        ),
        (
            "existing-auth-module",
            &[],
            "error: `src/auth.rs` already exists: the crate already has a module `auth` that add-auth did not write\n\
             help: pass --module-name NAME to put the generated module under another name (e.g. --module-name mcp_oauth), \
             or rename your `auth` module, then run add-auth again",
        ),
        (
            "existing-auth-module",
            &["--module-name", "server"],
            "error: `src/server.rs` already exists: the crate already has a module `server` that add-auth did not write\n\
             help: pass another --module-name, then run add-auth again",
        ),
        (
            "workspace",
            &[],
            "error: `<root>` is a workspace with 2 members that serve MCP over HTTP: `admin-http` (crates/admin-http), \
             `notes-http` (crates/notes-http); add-auth protects one at a time\n\
             help: pass --package NAME to choose one, e.g. --package admin-http",
        ),
        (
            "workspace",
            &["--package", "notes"],
            "error: the workspace `<root>` has no package `notes`; its packages: `admin-http` (crates/admin-http), \
             `notes-core` (crates/core), `notes-http` (crates/notes-http)\n\
             help: pass --package with one of those names",
        ),
    ];
    let mut failures = Vec::new();
    for (fixture, args, expected) in cases {
        let dir = tempfile::TempDir::new().unwrap();
        let project = dir.path().join(fixture);
        copy_project(&Path::new(FIXTURES).join(fixture), &project);
        let before = tree(&project);
        let output = assert_cmd::Command::cargo_bin("mcp-builder")
            .unwrap()
            .args(["add-auth", "--no-verify", "--path"])
            .arg(&project)
            .args(FLAGS)
            .args(*args)
            .env("NO_COLOR", "1")
            .write_stdin("")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr)
            .replace(&project.display().to_string(), "<root>");
        if output.status.code() != Some(1) || stderr.trim_end() != *expected {
            failures.push(format!(
                "{fixture} {args:?}: exit {:?}\n--- expected ---\n{expected}\n--- stderr ---\n{stderr}",
                output.status.code()
            ));
        }
        if tree(&project) != before {
            failures.push(format!("{fixture} {args:?}: files changed"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
