//! Tests of [`inspect`](super::inspect) on whole projects written into temporary directories, plus the bundled example.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::{Options, Project, Tool, VersionSource, inspect, inspect_with};

/// Writes a project tree into a fresh temporary directory.
pub(super) fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

pub(super) fn manifest(name: &str, rmcp: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\naxum = \"0.8\"\n{rmcp}\ntokio = {{ version = \"1\", features = [\"full\"] }}\n"
    )
}

pub(super) const RMCP_3: &str =
    "rmcp = { version = \"3.11\", features = [\"server\", \"transport-streamable-http-server\"] }";

fn error_of(path: &Path) -> String {
    format!("{:#}", inspect(path).unwrap_err())
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap()
}

/// The source text of the mount's file.
fn mount_text(project: &Project) -> String {
    std::fs::read_to_string(project.root.join(&project.mount.file)).unwrap()
}

/// The line holding a byte offset, for readable assertions.
fn line_at(text: &str, offset: usize) -> &str {
    text[offset..].lines().next().unwrap_or("")
}

/// `(mcp_path, service_arg, config_arg, text before and after nest_call_end
/// on its line, stmt line, indent)` of a project's mount.
fn mount_view(project: &Project) -> (String, String, Option<String>, String, String, String) {
    let text = mount_text(project);
    let mount = &project.mount;
    let end = mount.nest_call_end;
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    assert!(
        mount.stmt_line_start == 0 || text.as_bytes()[mount.stmt_line_start - 1] == b'\n',
        "stmt_line_start is not at the start of a line"
    );
    (
        mount.mcp_path.clone(),
        text[mount.service_arg.clone()].to_string(),
        mount
            .config_arg
            .clone()
            .map(|range| text[range].to_string()),
        format!("{}|{}", &text[line_start..end], line_at(&text, end)),
        line_at(&text, mount.stmt_line_start).to_string(),
        mount.indent.clone(),
    )
}

fn tool(name: &str, fn_name: &str, read_only: bool, destructive: bool, file: &str) -> Tool {
    Tool {
        name: name.into(),
        fn_name: fn_name.into(),
        read_only,
        destructive,
        file: file.into(),
    }
}

#[test]
fn bundled_tasks_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks-server");
    let project = inspect(&root).unwrap();
    assert_eq!(project.root, canonical(&root));
    assert_eq!(project.package_name, "tasks-server");
    assert_eq!(project.workspace_root, None);
    assert_eq!(project.rmcp.version, semver::Version::new(3, 11, 0));
    assert_eq!(
        project.rmcp.version_from,
        VersionSource::Lock(canonical(&root).join("Cargo.lock"))
    );
    assert_eq!(
        project.rmcp.features,
        ["server", "macros", "transport-streamable-http-server"]
    );
    assert!(!project.rmcp.from_workspace);

    let text = mount_text(&project);
    let mount = &project.mount;
    assert_eq!(mount.file, Path::new("src/main.rs"));
    assert_eq!(mount.crate_root, Path::new("src/main.rs"));
    assert_eq!(mount.mcp_path, "/mcp");
    assert_eq!(&text[mount.service_arg.clone()], "service");
    assert_eq!(
        &text[mount.config_arg.clone().unwrap()],
        "StreamableHttpServerConfig::default()"
    );
    assert!(text[..mount.nest_call_end].ends_with("        .nest_service(\"/mcp\", service)"));
    assert!(text[mount.nest_call_end..].starts_with(";\n"));
    assert_eq!(
        mount.stmt_line_start,
        text.find("    let service = StreamableHttpService::new(\n")
            .unwrap()
    );
    assert_eq!(mount.indent, "    ");
    assert_eq!(mount.mod_insert_at, text.find("mod tasks;\n").unwrap());

    assert_eq!(
        project.tools,
        [
            tool("create-task", "create_task", false, false, "src/tasks.rs"),
            tool("delete-task", "delete_task", false, true, "src/tasks.rs"),
            tool("search-tasks", "search_tasks", true, false, "src/tasks.rs"),
        ]
    );
}

const WORKSPACE_ROOT: &str = r#"[workspace]
resolver = "3"
members = ["crates/*"]

[workspace.dependencies]
rmcp = { version = "3.11", features = ["server"] }
"#;

const INLINE_MAIN: &str = r#"mod tools;

use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = StreamableHttpService::new(
        || Ok(tools::Server::new()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
"#;

const TOOLS_RS: &str = r#"use rmcp::{tool, tool_router};

pub struct Server;

#[tool_router]
impl Server {
    #[rmcp::tool(
        name = "tasks.create",
        annotations(destructive_hint = true))]
    async fn create(&self) -> String {
        String::new()
    }

    #[tool(description = concat!("Lists ", "tasks"), annotations(read_only_hint = true))]
    async fn list(&self) -> String {
        String::new()
    }
}
"#;

fn workspace() -> TempDir {
    tree(&[
        ("Cargo.toml", WORKSPACE_ROOT),
        (
            "crates/core/Cargo.toml",
            "[package]\nname = \"core\"\nversion = \"0.1.0\"\n",
        ),
        ("crates/core/src/lib.rs", ""),
        (
            "crates/server/Cargo.toml",
            "[package]\nname = \"server\"\nversion = \"0.1.0\"\n\n[dependencies]\n\
             rmcp = { workspace = true, features = [\"macros\", \"transport-streamable-http-server\"] }\n",
        ),
        ("crates/server/src/main.rs", INLINE_MAIN),
        ("crates/server/src/tools.rs", TOOLS_RS),
    ])
}

#[test]
fn workspace_member_inherits_rmcp() {
    let ws = workspace();
    let project = inspect(&ws.path().join("crates/server")).unwrap();
    assert_eq!(project.root, canonical(&ws.path().join("crates/server")));
    assert_eq!(project.package_name, "server");
    assert_eq!(project.workspace_root, Some(canonical(ws.path())));
    // No Cargo.lock: the requirement's lowest version.
    assert_eq!(project.rmcp.version, semver::Version::new(3, 11, 0));
    assert_eq!(
        project.rmcp.version_from,
        VersionSource::Requirement("3.11".into())
    );
    assert_eq!(
        project.rmcp.features,
        ["server", "macros", "transport-streamable-http-server"]
    );
    assert!(project.rmcp.from_workspace);
    assert_eq!(
        mount_view(&project),
        (
            "/mcp".into(),
            "service".into(),
            Some("StreamableHttpServerConfig::default()".into()),
            "    let app = axum::Router::new().nest_service(\"/mcp\", service)|;".into(),
            "    let service = StreamableHttpService::new(".into(),
            "    ".into(),
        )
    );
    assert_eq!(project.mount.mod_insert_at, 0);
    assert_eq!(
        project.tools,
        [
            tool("list", "list", true, false, "src/tools.rs"),
            tool("tasks.create", "create", false, true, "src/tools.rs"),
        ]
    );
    // The member's Cargo.toml path works as well as its directory.
    let by_manifest = inspect(&ws.path().join("crates/server/Cargo.toml")).unwrap();
    assert_eq!(by_manifest.root, project.root);
}

#[test]
fn virtual_workspace_root_picks_its_one_mcp_member() {
    let ws = workspace();
    let project = inspect(ws.path()).unwrap();
    assert_eq!(project.root, canonical(&ws.path().join("crates/server")));
    assert_eq!(project.workspace_root, Some(canonical(ws.path())));
    let by_name = Options {
        package: Some("server".into()),
        ..Options::default()
    };
    assert_eq!(
        inspect_with(ws.path(), &by_name).unwrap().root,
        project.root
    );
    let wrong = Options {
        package: Some("core".into()),
        ..Options::default()
    };
    assert_eq!(
        format!("{:#}", inspect_with(ws.path(), &wrong).unwrap_err()),
        "`core` does not depend on rmcp: add-auth works on MCP servers built on the rmcp crate\n\
         help: pass --path <dir> pointing at the package that depends on rmcp (a workspace member, say)"
    );
    assert_eq!(
        format!(
            "{:#}",
            inspect_with(&ws.path().join("crates/server"), &wrong).unwrap_err()
        ),
        format!(
            "`{}` is the package `server`, not `core`\n\
             help: pass --path <dir> of the package `core` (or its workspace root), or leave --package out",
            ws.path().join("crates/server").display()
        )
    );
}

#[test]
fn virtual_workspace_root_without_an_http_member_lists_members() {
    let ws = workspace();
    std::fs::write(
        ws.path().join("crates/server/src/main.rs"),
        "fn main() { serve(stdio()); }\n",
    )
    .unwrap();
    assert_eq!(
        error_of(ws.path()),
        format!(
            "`{0}` is a virtual workspace root, not a package; members: `crates/core`, `crates/server`\n\
             help: pass --path <member>: `crates/server` depends on rmcp, so `--path {0}/crates/server`",
            ws.path().display()
        )
    );
}

#[test]
fn router_factory_in_lib_beside_test_servers() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("factory", RMCP_3)),
        (
            "src/lib.rs",
            r#"//! The server as a library.

pub mod server;

use std::sync::Arc;

use axum::Router;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

pub fn build_router() -> Router {
    let service = StreamableHttpService::new(
        || Ok(server::Server),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_stateful_mode(false),
    );
    Router::new().nest_service("/mcp", service)
}

#[cfg(test)]
mod tests {
    fn test_router() -> axum::Router {
        let service = StreamableHttpService::new(f, m, c);
        axum::Router::new().nest_service("/mcp", service)
    }
}
"#,
        ),
        (
            "src/server.rs",
            "pub struct Server;\n\n#[tokio::test]\nasync fn serves() {\n    \
             let s = StreamableHttpService::new(f, m, c);\n    let _ = Router::new().nest_service(\"/mcp\", s);\n}\n",
        ),
        (
            "src/main.rs",
            "#[tokio::main]\nasync fn main() {\n    let app = factory::build_router();\n    let _ = app;\n}\n",
        ),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(project.workspace_root, None);
    assert_eq!(project.mount.file, Path::new("src/lib.rs"));
    assert_eq!(project.mount.crate_root, Path::new("src/lib.rs"));
    assert_eq!(
        mount_view(&project),
        (
            "/mcp".into(),
            "service".into(),
            Some("StreamableHttpServerConfig::default().with_stateful_mode(false)".into()),
            "    Router::new().nest_service(\"/mcp\", service)|".into(),
            "    let service = StreamableHttpService::new(".into(),
            "    ".into(),
        )
    );
    let text = mount_text(&project);
    assert_eq!(
        project.mount.mod_insert_at,
        text.find("pub mod server;").unwrap()
    );
    assert_eq!(project.tools, []);
}

#[test]
fn qualified_and_renamed_service_in_a_library_module() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("qualified", RMCP_3)),
        ("src/lib.rs", "mod http;\npub use http::router;\n"),
        ("src/http/mod.rs", "mod routes;\npub use routes::router;\n"),
        (
            "src/http/routes.rs",
            r#"use rmcp::transport::streamable_http_server::StreamableHttpService as McpService;

// Ünïcödé → in a comment before the call: offsets count bytes, not chars.
const MCP_PATH: &str = "/api/mcp";

pub fn router() -> axum::Router {
    let other = rmcp::transport::StreamableHttpService::new(a, b, c);
    let mcp = McpService::new(|| Ok(S), m, /* ✓ */ config("é"));
    axum::Router::new()
        .route_service(MCP_PATH, mcp.clone())
        .nest_service("/other", other_thing)
}
"#,
        ),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(project.mount.file, Path::new("src/http/routes.rs"));
    assert_eq!(project.mount.crate_root, Path::new("src/lib.rs"));
    assert_eq!(
        mount_view(&project),
        (
            "/api/mcp".into(),
            "mcp.clone()".into(),
            Some("config(\"é\")".into()),
            "        .route_service(MCP_PATH, mcp.clone())|".into(),
            "    let mcp = McpService::new(|| Ok(S), m, /* ✓ */ config(\"é\"));".into(),
            "    ".into(),
        )
    );
}

#[test]
fn stateful_router_with_other_routes() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("stateful", RMCP_3)),
        (
            "src/main.rs",
            r#"use axum::{Router, routing::get};
use rmcp::transport::streamable_http_server::{StreamableHttpService, session::local::LocalSessionManager};
use tower_http::services::ServeDir;

#[derive(Clone, Default)]
struct AppState;

#[tokio::main]
async fn main() {
    let state = AppState;
    let web = Router::new().nest_service("/assets", ServeDir::new("assets"));
    #[allow(unused_mut)]
    let mut mcp = StreamableHttpService::new(
        || Ok(Server), LocalSessionManager::default().into(), Default::default(),
    );
    let app: Router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest_service("/mcp", mcp)
        .merge(web)
        .with_state(state);
    serve(app).await;
}
"#,
        ),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(
        mount_view(&project),
        (
            "/mcp".into(),
            "mcp".into(),
            Some("Default::default()".into()),
            "        .nest_service(\"/mcp\", mcp)|".into(),
            "    #[allow(unused_mut)]".into(),
            "    ".into(),
        )
    );
    let text = mount_text(&project);
    assert!(
        text[project.mount.nest_call_end..]
            .starts_with("\n        .merge(web)\n        .with_state(state);")
    );
    assert_eq!(
        project.mount.mod_insert_at,
        text.find("\n\n#[derive").unwrap() + 1
    );
}

#[test]
fn transport_switch_touches_only_the_http_arm() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("switch", RMCP_3)),
        (
            "src/main.rs",
            r#"use rmcp::{ServiceExt, transport::stdio};

enum Transport { Stdio, Http }

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let transport = parse_args();
    match transport {
        Transport::Stdio => {
            let server = Server.serve(stdio()).await?;
            server.waiting().await?;
        }
        Transport::Http => {
            // Serve at /mcp.
            let service = rmcp::transport::StreamableHttpService::new(
                || Ok(Server),
                LocalSessionManager::default().into(),
                Default::default(),
            );
            let router = axum::Router::new().nest_service("/mcp", service);
            axum::serve(listener().await?, router).await?;
        }
    }
    Ok(())
}
"#,
        ),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(
        mount_view(&project),
        (
            "/mcp".into(),
            "service".into(),
            Some("Default::default()".into()),
            "            let router = axum::Router::new().nest_service(\"/mcp\", service)|;".into(),
            "            let service = rmcp::transport::StreamableHttpService::new(".into(),
            "            ".into(),
        )
    );
}

#[test]
fn service_built_inside_the_mount_call() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("inline", RMCP_3)),
        (
            "src/main.rs",
            r#"mod server;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("http") => run_http().await,
        _ => run_stdio().await,
    }
}

async fn run_http() -> anyhow::Result<()> {
    let config = StreamableHttpServerConfig::default();
    let app = axum::Router::new().nest_service(
        "/mcp",
        StreamableHttpService::new(|| Ok(server::S), Default::default(), config),
    );
    axum::serve(listener, app).await?;
    Ok(())
}
"#,
        ),
        ("src/server.rs", "pub struct S;\n"),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(
        mount_view(&project),
        (
            "/mcp".into(),
            "StreamableHttpService::new(|| Ok(server::S), Default::default(), config)".into(),
            Some("config".into()),
            "    )|;".into(),
            "    let app = axum::Router::new().nest_service(".into(),
            "    ".into(),
        )
    );
    let text = mount_text(&project);
    assert_eq!(project.mount.mod_insert_at, 0);
    assert_eq!(line_at(&text, project.mount.mod_insert_at), "mod server;");
}

#[test]
fn stdio_only_is_refused() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("stdio-server", RMCP_3)),
        (
            "src/main.rs",
            "use rmcp::ServiceExt;\n\n#[tokio::main]\nasync fn main() -> anyhow::Result<()> {\n    \
             let server = Server.serve(rmcp::transport::stdio()).await?;\n    server.waiting().await?;\n    Ok(())\n}\n",
        ),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "`stdio-server` serves MCP over stdio only (`src/main.rs:5`); OAuth applies to HTTP transports\n\
         help: run add-auth again with --add-http to add a streamable HTTP transport (chosen by \
         `MCP_TRANSPORT=http`; stdio stays the default) and protect it, or serve MCP over streamable HTTP \
         yourself (`StreamableHttpService` mounted by `Router::new().nest_service(\"/mcp\", service)`)"
    );
}

#[test]
fn no_http_endpoint_at_all_is_refused() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("nothing", RMCP_3)),
        ("src/main.rs", "fn main() {}\n"),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "`nothing` has no MCP HTTP endpoint: nothing under src/ calls `StreamableHttpService::new`\n\
         help: serve MCP over streamable HTTP (`StreamableHttpService` mounted by \
         `Router::new().nest_service(\"/mcp\", service)`), then run add-auth again"
    );
}

#[test]
fn legacy_sse_server_is_refused() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("sse", RMCP_3)),
        (
            "src/main.rs",
            "use rmcp::transport::sse_server::SseServer;\n\nasync fn main() {\n    \
             SseServer::serve(addr).await.unwrap().with_service(Server::new);\n}\n",
        ),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "`sse` serves MCP with rmcp's legacy `SseServer` (`src/main.rs:1`): the HTTP+SSE transport is deprecated \
         by the MCP specification, and that server has no router to add the auth layer to\n\
         help: serve MCP over streamable HTTP instead (`StreamableHttpService`, rmcp 0.6.1 and later, mounted by \
         `Router::new().nest_service(\"/mcp\", service)`), then run add-auth again"
    );
}

#[test]
fn service_mounted_in_another_function_without_a_link_is_refused() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("split", RMCP_3)),
        ("src/main.rs", "mod router;\nmod service;\nfn main() {}\n"),
        (
            "src/service.rs",
            "pub fn make_service() -> Svc {\n    StreamableHttpService::new(f, m, c)\n}\n",
        ),
        (
            "src/router.rs",
            "pub fn router(service: Svc) -> Router {\n    Router::new()\n        .nest_service(\"/mcp\", service)\n}\n",
        ),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "`split` builds a `StreamableHttpService` at `src/service.rs:2` (in `fn make_service`) but no \
         `.nest_service(..)` or `.route_service(..)` in the same function mounts it; \
         `nest_service(\"/mcp\", service)` at `src/router.rs:3` (in `fn router`) mounts a service built elsewhere\n\
         help: mount it with `Router::new().nest_service(\"/mcp\", service)` in the same function that builds it \
         (or in a function that calls the one that builds it), then run add-auth again"
    );
}

#[test]
fn raw_hyper_is_refused() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("hyper", RMCP_3)),
        (
            "src/main.rs",
            r#"async fn main() {
    let service = TowerToHyperService::new(StreamableHttpService::new(f, m, c));
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        serve(stream, service.clone());
    }
}
"#,
        ),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "`hyper` builds a `StreamableHttpService` at `src/main.rs:2` (in `fn main`) and serves it with hyper \
         (`TowerToHyperService`), without an axum router to add the auth layer to\n\
         help: serve it through axum instead (`axum::serve(listener, Router::new().nest_service(\"/mcp\", service))`), \
         then run add-auth again"
    );
}

#[test]
fn several_mounts_are_refused() {
    let body = "    let s = StreamableHttpService::new(f, m, c);\n    Router::new().nest_service(\"/mcp\", s)\n";
    let dir = tree(&[
        ("Cargo.toml", &manifest("twice", RMCP_3)),
        (
            "src/main.rs",
            &format!("fn a() -> Router {{\n{body}}}\n\nfn b() -> Router {{\n{body}}}\n"),
        ),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "`twice` mounts a `StreamableHttpService` in 2 places: `src/main.rs:3` (in `fn a`), \
         `src/main.rs:8` (in `fn b`); add-auth wires exactly one\n\
         help: if these are different servers, split them into workspace members and pass --path <member>"
    );

    // Examples are each a crate of their own (a package of examples only).
    let server = format!("async fn main() {{\n{body}}}\n");
    let dir = tree(&[
        ("Cargo.toml", &manifest("demos", RMCP_3)),
        ("examples/one.rs", &server),
        ("examples/two.rs", &server),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "`demos` mounts a `StreamableHttpService` in 2 places: `examples/one.rs:3` (in `fn main`), \
         `examples/two.rs:3` (in `fn main`); add-auth wires exactly one\n\
         help: these are examples, each a crate of its own: copy the one to protect into a package of \
         its own (or its own workspace member) and run add-auth there"
    );
    // The same, declared as `[[example]]` targets with paths under `src/`.
    let manifest = format!(
        "{}\n[[example]]\nname = \"one\"\npath = \"src/one.rs\"\n\n[[example]]\nname = \"two\"\npath = \"src/two.rs\"\n",
        manifest("demos", RMCP_3)
    );
    let dir = tree(&[
        ("Cargo.toml", &manifest),
        ("src/one.rs", &server),
        ("src/two.rs", &server),
    ]);
    assert!(
        error_of(dir.path()).ends_with("help: these are examples, each a crate of its own: copy the one to protect into a package of \
         its own (or its own workspace member) and run add-auth there"),
        "{}",
        error_of(dir.path())
    );
}

#[test]
fn binary_under_src_bin_gets_the_module_beside_it() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("bins", RMCP_3)),
        ("src/lib.rs", "pub mod server;\n"),
        ("src/server.rs", "pub struct S;\n"),
        (
            "src/bin/http.rs",
            "use bins::server;\n\nfn main() {\n    let s = StreamableHttpService::new(f, m, c);\n    let app = Router::new().nest_service(\"/mcp\", s);\n}\n",
        ),
        ("src/bin/stdio.rs", "fn main() { serve(stdio()); }\n"),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(project.mount.file, Path::new("src/bin/http.rs"));
    assert_eq!(project.mount.crate_root, Path::new("src/bin/http.rs"));
    let text = mount_text(&project);
    assert_eq!(line_at(&text, project.mount.mod_insert_at), "");
    assert_eq!(project.mount.mod_insert_at, text.find("\nfn main").unwrap());
    assert_eq!(
        super::module_name::module_dir(&project.mount),
        Path::new("src/bin/auth")
    );
}

#[test]
fn service_built_in_one_function_and_mounted_in_another() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("split", RMCP_3)),
        (
            "src/main.rs",
            "mod router;\nmod service;\nfn main() {\n    let _ = router::router();\n}\n",
        ),
        (
            "src/service.rs",
            "pub type Svc = StreamableHttpService<S, LocalSessionManager>;\n\n\
             pub fn make_service() -> Svc {\n    StreamableHttpService::new(f, m, config())\n}\n",
        ),
        (
            "src/router.rs",
            "pub fn router() -> Router {\n    let web = Router::new().nest_service(\"/assets\", ServeDir::new(\"a\"));\n    \
             let mcp = crate::service::make_service();\n    Router::new()\n        .nest_service(\"/mcp\", mcp.clone())\n        .merge(web)\n}\n\n\
             pub fn with_param(service: Svc) -> Router {\n    let _ = service;\n    Router::new()\n}\n",
        ),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(project.mount.file, Path::new("src/router.rs"));
    assert_eq!(project.mount.crate_root, Path::new("src/main.rs"));
    assert_eq!(
        mount_view(&project),
        (
            "/mcp".into(),
            "mcp.clone()".into(),
            None,
            "        .nest_service(\"/mcp\", mcp.clone())|".into(),
            "    Router::new()".into(),
            "    ".into(),
        )
    );
    assert_eq!(
        project.notes,
        [
            "the `StreamableHttpService` is built in `fn make_service` (`src/service.rs:4`), not where it is \
          mounted (`src/router.rs:5`): add-auth protects it at the mount and leaves its config \
          (`src/service.rs:4`) as it is, so rmcp still accepts only the `Host` headers that config allows \
          (loopback by default); behind a public host, add that host (the one of MCP_RESOURCE_URL) with \
          `.with_allowed_hosts(..)` on that config"
        ]
    );
}

#[test]
fn service_passed_as_a_typed_parameter() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("param", RMCP_3)),
        (
            "src/main.rs",
            "mod http;\n\nfn build() -> StreamableHttpService<S, M> {\n    StreamableHttpService::new(f, m, c)\n}\n\n\
             fn main() {\n    let app = http::app(build());\n}\n",
        ),
        (
            "src/http.rs",
            "pub fn app(mcp: rmcp::transport::StreamableHttpService<S, M>) -> Router {\n    \
             Router::new().nest_service(\"/mcp\", mcp)\n}\n",
        ),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(project.mount.file, Path::new("src/http.rs"));
    assert_eq!(project.mount.config_arg, None);
    assert_eq!(
        mount_view(&project).4,
        "    Router::new().nest_service(\"/mcp\", mcp)"
    );
}

#[test]
fn hand_written_call_tool_is_noted() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("manual", RMCP_3)),
        ("src/main.rs", INLINE_MAIN),
        (
            "src/tools.rs",
            "pub struct Server;\n\nimpl rmcp::ServerHandler for Server {\n    \
             async fn call_tool(&self, r: P, c: C) -> R {\n        todo!()\n    }\n}\n",
        ),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(project.tools, []);
    assert_eq!(
        project.notes,
        [
            "no `#[tool]` methods found; `src/tools.rs:4` implements `call_tool` by hand, so add-auth cannot \
          list the tools: every `tools/call` will need all the scopes (`UNLISTED_TOOL_SCOPES` in \
          `src/auth/policy.rs`) until you add entries to `TOOL_SCOPES` there"
        ]
    );
}

#[test]
fn a_module_name_in_use_is_refused_and_another_one_is_taken() {
    let main = INLINE_MAIN.replacen(
        "mod tools;\n",
        "mod tools;\n\npub(crate) mod auth {\n    pub fn check() {}\n}\n",
        1,
    );
    let dir = tree(&[
        ("Cargo.toml", &manifest("taken", RMCP_3)),
        ("src/main.rs", &main),
        ("src/tools.rs", TOOLS_RS),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "`src/main.rs:3` already declares a module `auth` that add-auth did not write\n\
         help: pass --module-name NAME to put the generated module under another name (e.g. --module-name mcp_oauth), \
         or rename your `auth` module, then run add-auth again"
    );
    let options = Options {
        module_name: Some("mcp_oauth".into()),
        ..Options::default()
    };
    let project = inspect_with(dir.path(), &options).unwrap();
    assert_eq!(project.mount.module, "mcp_oauth");
    // After `mod tools;`, in alphabetical order among the `mod` lines.
    assert_eq!(
        project.mount.mod_insert_at,
        main.find("mod tools;").unwrap()
    );
    let taken = Options {
        module_name: Some("tools".into()),
        ..Options::default()
    };
    assert_eq!(
        format!("{:#}", inspect_with(dir.path(), &taken).unwrap_err()),
        "`src/tools.rs` already exists: the crate already has a module `tools` that add-auth did not write\n\
         help: pass another --module-name, then run add-auth again"
    );
    // A later run without the flag takes the name the state file recorded.
    std::fs::write(
        dir.path().join("mcp-builder.json"),
        r#"{"generator": {"files": {"src/mcp_oauth/mod.rs": "x", "src/mcp_oauth/policy.rs": "y"}}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("src/mcp_oauth")).unwrap();
    assert_eq!(inspect(dir.path()).unwrap().mount.module, "mcp_oauth");
}

#[test]
fn rmcp_0_5_is_refused_and_0_8_is_noted() {
    let with = |version: &str| {
        tree(&[
            (
                "Cargo.toml",
                &manifest(
                    "old",
                    &format!("rmcp = {{ version = \"{version}\", features = [\"server\"] }}"),
                ),
            ),
            ("src/main.rs", INLINE_MAIN),
        ])
    };
    assert_eq!(
        error_of(with("0.5").path()),
        "`old` uses rmcp 0.5.0 (lowest of \"0.5\", no Cargo.lock), whose server API lacks `FromContextPart` \
         (added in rmcp 0.6.1), which the generated module needs to hand the verified caller to tools\n\
         help: upgrade rmcp to 0.6.1 or later: `cargo add rmcp@0.6` (the smallest step; rmcp 3 has \
         the current API), then follow the compiler through the API changes, then run add-auth again"
    );
    let dir = with("0.8");
    let project = inspect(dir.path()).unwrap();
    assert_eq!(project.rmcp.version, semver::Version::new(0, 8, 0));
    assert!(!super::rmcp_version::checks_host(&project.rmcp.version));
    assert!(
        project
            .notes
            .iter()
            .any(|note| note.starts_with("rmcp 0.8.0 checks no `Host` header")),
        "{:?}",
        project.notes
    );
}

#[test]
fn package_without_rmcp_is_refused() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("plain", "serde = \"1\"")),
        ("src/main.rs", "fn main() {}\n"),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "`plain` does not depend on rmcp: add-auth works on MCP servers built on the rmcp crate\n\
         help: pass --path <dir> pointing at the package that depends on rmcp (a workspace member, say)"
    );
}

#[test]
fn directory_without_cargo_toml_is_refused() {
    let dir = tree(&[("src/main.rs", "fn main() {}\n")]);
    assert_eq!(
        error_of(dir.path()),
        format!(
            "`{}` is not a Rust project: no Cargo.toml found\n\
             help: pass --path <dir>, the directory holding the MCP server's Cargo.toml",
            dir.path().display()
        )
    );
    let missing = dir.path().join("nope");
    assert_eq!(
        error_of(&missing),
        format!(
            "`{}` is not a Rust project: no Cargo.toml found\n\
             help: pass --path <dir>, the directory holding the MCP server's Cargo.toml",
            missing.display()
        )
    );
}

#[test]
fn malformed_cargo_toml_is_refused() {
    let dir = tree(&[(
        "Cargo.toml",
        "[package]\nname = \"broken\"\nversion = 0.1.0\"\n",
    )]);
    assert_eq!(
        error_of(dir.path()),
        format!(
            "failed to parse `{}`: TOML parse error at line 3, column 14\n  |\n3 | version = 0.1.0\"\n  |              ^^^\n\
             invalid float, expected nothing\n\
             help: fix the manifest (`cargo metadata` reports the same error), then run add-auth again",
            dir.path().join("Cargo.toml").display()
        )
    );
}

#[test]
fn rust_syntax_error_names_the_file() {
    let dir = tree(&[
        ("Cargo.toml", &manifest("typo", RMCP_3)),
        ("src/main.rs", "mod tools;\nfn main() {}\n"),
        ("src/tools.rs", "pub fn f() {\n    let x = 1\n    x\n}\n"),
    ]);
    assert_eq!(
        error_of(dir.path()),
        "failed to parse `src/tools.rs` at line 3, column 5: expected `;`\n\
         help: fix the syntax error (`cargo check` shows it too), then run add-auth again"
    );
}

#[test]
fn a_wired_project_is_still_found() {
    // The bundled example as add-auth leaves it: a re-run must find the same
    // endpoint (and then change nothing).
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks-server");
    let read = |rel: &str| std::fs::read_to_string(example.join(rel)).unwrap();
    let main = read("src/main.rs")
        .replacen("mod tasks;\n", "mod auth;\nmod tasks;\n", 1)
        .replacen(
            "    let service = ",
            "    let mcp_auth = auth::McpAuth::from_env_or_exit();\n    let service = ",
            1,
        )
        .replacen(
            "StreamableHttpServerConfig::default(),",
            "mcp_auth.server_config(StreamableHttpServerConfig::default()),",
            1,
        )
        .replacen(
            ".nest_service(\"/mcp\", service);",
            ".nest_service(\"/mcp\", mcp_auth.protect(service))\n        .merge(mcp_auth.metadata_router());",
            1,
        );
    let dir = tree(&[
        ("Cargo.toml", &read("Cargo.toml")),
        ("src/main.rs", &main),
        ("src/tasks.rs", &read("src/tasks.rs")),
        (
            "src/auth/mod.rs",
            "//! Generated by mcp-builder 0.1.0; this code is yours now.\npub struct McpAuth;\n",
        ),
    ]);
    let project = inspect(dir.path()).unwrap();
    assert_eq!(
        mount_view(&project),
        (
            "/mcp".into(),
            "mcp_auth.protect(service)".into(),
            Some("mcp_auth.server_config(StreamableHttpServerConfig::default())".into()),
            "        .nest_service(\"/mcp\", mcp_auth.protect(service))|".into(),
            "    let service = StreamableHttpService::new(".into(),
            "    ".into(),
        )
    );
    // Already declared (plan leaves it): the slot stays in alphabetical order.
    assert_eq!(
        project.mount.mod_insert_at,
        main.find("mod tasks;\n").unwrap()
    );
    assert_eq!(project.tools.len(), 3);
}

#[test]
fn unchanged_generated_files_are_not_parsed_again() {
    // Not Rust at all: only skipping the file lets inspect succeed.
    let generated = "this is what add-auth wrote {";
    let dir = tree(&[
        ("Cargo.toml", &manifest("tasks", RMCP_3)),
        ("src/main.rs", INLINE_MAIN),
        ("src/auth/mod.rs", generated),
    ]);
    let state = |hash: &str| {
        let state = format!(r#"{{"generator": {{"files": {{"src/auth/mod.rs": "{hash}"}}}}}}"#);
        std::fs::write(dir.path().join("mcp-builder.json"), state).unwrap();
    };
    state(&crate::digest::sha256(generated));
    assert_eq!(inspect(dir.path()).unwrap().mount.module, "auth");

    // Changed since it was recorded: the user's now, parsed like any file.
    state(&crate::digest::sha256("what add-auth wrote before"));
    assert!(
        error_of(dir.path()).starts_with("failed to parse `src/auth/mod.rs`"),
        "{}",
        error_of(dir.path())
    );
}
