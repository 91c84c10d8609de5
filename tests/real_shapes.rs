//! Shapes real projects have that once got in the way of a first run: a
//! workspace root that is a package of its own, binaries and examples
//! outside `src/`, a scope list without a delete scope, a preview without a
//! terminal. Each case runs the real binary and asserts the whole message,
//! the wiring, or that nothing was written. (Building the wired binary and
//! example is `tests/shapes.rs`'s job: `bin-explicit-path`,
//! `example-server`.)

mod support;

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use assert_cmd::Command;
use support::project::{EXAMPLE, copy_project, tree};
use tempfile::TempDir;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shapes");

/// Provider, domain and audience: what add-auth cannot propose.
const ISSUER: &[&str] = &[
    "--provider",
    "auth0",
    "--domain",
    "shapes-test.auth0.com",
    "--audience",
    "https://shapes.example.com/mcp",
];

/// A copy of a fixture (or of the bundled example) in a temp dir.
fn copy(from: &Path) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new().unwrap();
    let project = dir.path().join("project");
    copy_project(from, &project);
    (dir, project)
}

/// `mcp-builder add-auth --path <project> ISSUER args`, no terminal:
/// (exit code, stdout, stderr with the project path as `<root>`).
fn add_auth(project: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--path"])
        .arg(project)
        .args(ISSUER)
        .args(args)
        .env("NO_COLOR", "1")
        .write_stdin("")
        .output()
        .unwrap();
    let text = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes).replace(&project.display().to_string(), "<root>")
    };
    (
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// A second run changes nothing, and `auth remove` gives back the tree
/// as it was before the first.
fn rerun_is_a_noop_and_remove_restores(
    project: &Path,
    args: &[&str],
    before: &BTreeMap<PathBuf, Vec<u8>>,
) {
    let wired = tree(project);
    let (code, _, stderr) = add_auth(project, args);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.ends_with("is already protected as asked\n"),
        "{stderr}"
    );
    assert_eq!(tree(project), wired);
    let removed = Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["auth", "remove", "--yes", "--path"])
        .arg(project)
        .env("NO_COLOR", "1")
        .write_stdin("")
        .output()
        .unwrap();
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(
        tree(project) == *before,
        "auth remove left the tree changed"
    );
}

#[test]
fn a_workspace_root_package_that_is_no_server_names_its_mcp_member() {
    let (_dir, project) = copy(&Path::new(FIXTURES).join("workspace-root-package"));
    let before = tree(&project);
    let (code, _, stderr) = add_auth(&project, &["--scopes", "read:echo", "--yes", "--no-verify"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            Some(1),
            "error: `<root>` is the package `shape-ws-cli`, which does not serve MCP over HTTP (nothing in it \
             calls `StreamableHttpService::new`); its workspace member `shape-ws-server` (server) does\n\
             help: pass --package shape-ws-server to protect that member\n"
        )
    );
    assert_eq!(tree(&project), before);

    // The hint works.
    let (code, stdout, stderr) = add_auth(
        &project,
        &[
            "--package",
            "shape-ws-server",
            "--scopes",
            "read:echo",
            "--dry-run",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.starts_with("       Found `shape-ws-server`: "),
        "{stderr}"
    );
    assert!(stdout.contains("+++ b/src/main.rs"), "{stdout}");
    assert_eq!(tree(&project), before);
}

#[test]
fn a_bin_with_an_explicit_path_gets_the_module_beside_it() {
    let (_dir, project) = copy(&Path::new(FIXTURES).join("bin-explicit-path"));
    let before = tree(&project);
    let args = ["--scopes", "read:echo,write:echo", "--yes", "--no-verify"];
    let (code, _, stderr) = add_auth(&project, &args);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.starts_with("       Found `shape-bin-path`: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("MCP endpoint `/mcp` in `bin/http.rs`, 1 tool (echo)\n"),
        "{stderr}"
    );
    let read = |file: &str| fs::read_to_string(project.join(file)).unwrap();
    assert_eq!(
        read("bin/server.rs"),
        fs::read_to_string(Path::new(FIXTURES).join("bin-explicit-path/bin/server.rs"))
            .unwrap()
            .replace(
                "mod echo;\nmod http;\n",
                "mod auth;\nmod echo;\nmod http;\n"
            )
    );
    let http = read("bin/http.rs");
    // The module is reached from the binary's crate root.
    assert!(
        http.lines()
            .any(|line| line.starts_with("    let mcp_auth = crate::auth::McpAuth::")),
        "{http}"
    );
    assert!(
        http.lines()
            .any(|line| line == "        .nest_service(\"/mcp\", mcp_auth.protect(service))"),
        "{http}"
    );
    assert!(project.join("bin/auth/mod.rs").is_file());
    assert!(!project.join("src").exists());
    rerun_is_a_noop_and_remove_restores(&project, &args, &before);
}

#[test]
fn an_example_with_an_explicit_path_is_the_server_when_the_package_serves_nothing_else() {
    let (_dir, project) = copy(&Path::new(FIXTURES).join("example-server"));
    let before = tree(&project);
    let args = ["--scopes", "read:echo", "--yes", "--no-verify"];
    let (code, _, stderr) = add_auth(&project, &args);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("MCP endpoint `/mcp` in `examples/http/serve.rs`, 1 tool (echo)\n"),
        "{stderr}"
    );
    let serve = fs::read_to_string(project.join("examples/http/serve.rs")).unwrap();
    for line in [
        "mod auth;",
        "    let mcp_auth = auth::McpAuth::from_env_or_exit();",
        "        .nest_service(\"/mcp\", mcp_auth.protect(service))",
    ] {
        assert!(serve.lines().any(|have| have == line), "{line}\n{serve}");
    }
    assert!(project.join("examples/http/auth/mod.rs").is_file());
    // The library is left alone.
    assert_eq!(
        fs::read_to_string(project.join("src/lib.rs")).unwrap(),
        fs::read_to_string(Path::new(FIXTURES).join("example-server/src/lib.rs")).unwrap()
    );
    rerun_is_a_noop_and_remove_restores(&project, &args, &before);
}

#[test]
fn scopes_without_a_delete_scope_map_destructive_tools_to_write_with_yes() {
    let (_dir, project) = copy(Path::new(EXAMPLE));
    let (code, _, stderr) = add_auth(
        &project,
        &["--scopes", "read,write", "--yes", "--no-verify"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.lines().any(|line| line
            == "note: --scopes has no delete scope, so the tool that deletes needs `write`, the broadest scope \
                given: delete-task; to choose otherwise, add a delete scope to the scopes or pass --tool-scope \
                TOOL=SCOPE"),
        "{stderr}"
    );
    assert!(!stderr.contains("--yes"), "{stderr}");
    let state = fs::read_to_string(project.join("mcp-builder.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(
        state["auth"]["tool_scopes"],
        serde_json::json!({
            "create-task": ["write"],
            "delete-task": ["write"],
            "search-tasks": ["read"]
        })
    );
}

#[test]
fn a_dry_run_without_a_terminal_previews_the_proposals() {
    let (_dir, project) = copy(Path::new(EXAMPLE));
    let before = tree(&project);
    let (code, stdout, stderr) = add_auth(&project, &["--dry-run"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("+++ b/src/main.rs"), "{stdout}");
    assert!(
        stdout.contains("+    (\"delete-task\", &[\"delete:tasks\"]),"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "note: without a terminal to ask, this preview uses the proposed scopes and tool scopes; \
             run with --yes to apply them, or choose with --scopes and --tool-scope TOOL=SCOPE\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("--dry-run: no changes were made\n"),
        "{stderr}"
    );
    // The proposed scope hierarchy is said, and is in the preview.
    assert!(
        stderr.contains(
            "note: the proposed scope hierarchy (a broader scope grants the narrower ones): \
             delete:tasks -> read:tasks, write:tasks; write:tasks -> read:tasks; to choose otherwise \
             pass --scope-implies SCOPE=SCOPE[,SCOPE] (repeatable), or --scope-implies none\n"
        ),
        "{stderr}"
    );
    assert!(
        stdout.contains("+    (\"write:tasks\", &[\"read:tasks\"]),"),
        "{stdout}"
    );
    assert_eq!(tree(&project), before);

    // What cannot be proposed is still required, by its flag.
    let output = Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--path"])
        .arg(&project)
        .args(["--provider", "auth0", "--dry-run"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("       Found `tasks-server`")
            && stderr.contains("\nerror: missing required values: --domain, --audience\n"),
        "{stderr}"
    );
    assert_eq!(tree(&project), before);
}
