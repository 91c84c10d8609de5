//! The project's own tests after add-auth, and the `cargo check` add-auth
//! runs after writing.
//!
//! `tests/fixtures/shapes/factory-tests` is a library whose router factory
//! (`build_router`) is served by `main` and called by the project's own HTTP
//! tests. After add-auth (which verifies the result with `cargo check`):
//! the factory still never exits the process; the project's test of the MCP
//! endpoint fails with 401 until the one line add-auth suggests is added to
//! its request helper, and then every test passes; a server started without
//! any auth settings answers 503 on `/mcp` and keeps serving `/health`.
//! A project that does not compile after add-auth gets the compiler's
//! errors, exit 1, and its changes kept.
//!
//! The fixtures share the dependency set, the `Cargo.lock` and the target
//! directory of `tests/shapes.rs` (`<target>/e2e-projects`).

mod support;

use std::{fs, path::Path, time::Duration};

use reqwest::StatusCode;
use support::{
    http::{RawMcp, Reply, client, initialize_body},
    project::{
        GENERATED_BUILD_ENV, ServerProcess, copy_shape, free_port, this_crate_target_dir, try_cargo,
    },
};

const FLAGS: &[&str] = &[
    "--provider",
    "auth0",
    "--domain",
    "shapes-test.auth0.com",
    "--audience",
    "https://shapes.example.com/mcp",
    "--scopes",
    "read:echo,write:echo,delete:echo",
    "--yes",
];
const HELPER_ANCHOR: &str =
    "            \"Accept: application/json, text/event-stream\".to_string(),\n";
const HELPER_LINE: &str =
    "            format!(\"Authorization: {}\", crate::auth::testing::bearer()),\n";
const LONG: Duration = Duration::from_secs(1200);

fn target_dir() -> std::path::PathBuf {
    this_crate_target_dir().join("e2e-projects")
}

/// `mcp-builder add-auth --path project FLAGS` (with verification, into the
/// shared target directory): (exit code, stderr).
fn add_auth(project: &Path) -> (Option<i32>, String) {
    let output = assert_cmd::Command::cargo_bin("mcp-builder")
        .expect("the mcp-builder binary")
        .args(["add-auth", "--path"])
        .arg(project)
        .args(FLAGS)
        .env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", target_dir())
        .envs(GENERATED_BUILD_ENV)
        .write_stdin("")
        .timeout(LONG)
        .output()
        .expect("run mcp-builder add-auth");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_factory_and_its_own_tests_keep_working_with_the_documented_helper() {
    let dir = tempfile::TempDir::new().unwrap();
    let project = dir.path().join("factory-tests");
    copy_shape("factory-tests", &project);

    let (code, stderr) = tokio::task::block_in_place(|| add_auth(&project));
    assert_eq!(code, Some(0), "add-auth failed:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    for expected in [
        "    Verified `shape-factory-tests` (cargo check)",
        "note: 1 test of `shape-factory-tests` sends requests to /mcp, which now needs a token: \
         `mcp_initialize_answers` (src/lib.rs)",
        "help: add the header `authorization: crate::auth::testing::bearer()` to those requests \
         (one line in a shared helper); in test builds the endpoint trusts exactly those tokens \
         (see `src/auth/testing.rs`)",
    ] {
        assert!(
            lines.contains(&expected),
            "add-auth did not say\n  {expected}\n--- stderr ---\n{stderr}"
        );
    }
    let lib = fs::read_to_string(project.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("    let mcp_auth = auth::McpAuth::from_env();\n"),
        "a router factory must not exit the process:\n{lib}"
    );

    // Without the helper line, the endpoint test gets a 401, and only it.
    let failed =
        tokio::task::block_in_place(|| try_cargo(&project, &target_dir(), &["test"], LONG))
            .expect_err("the MCP test must need a token now");
    assert!(
        failed.contains("test tests::mcp_initialize_answers ... FAILED")
            && failed.contains("test tests::health_answers ... ok")
            && failed.contains("HTTP/1.1 401 Unauthorized"),
        "{failed}"
    );

    // The one line add-auth suggests, in the request helper.
    assert_eq!(lib.matches(HELPER_ANCHOR).count(), 1);
    fs::write(
        project.join("src/lib.rs"),
        lib.replace(HELPER_ANCHOR, &format!("{HELPER_ANCHOR}{HELPER_LINE}")),
    )
    .unwrap();
    tokio::task::block_in_place(|| {
        for args in [&["test"][..], &["build"], &["fmt", "--check"]] {
            if let Err(failure) = try_cargo(&project, &target_dir(), args, LONG) {
                panic!("{failure}");
            }
        }
    });

    // A fresh checkout without `.env`: the server starts, `/mcp` fails
    // closed with 503, `/health` is served.
    fs::remove_file(project.join(".env")).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let binary = target_dir().join("debug").join(format!(
        "shape-factory-tests{}",
        std::env::consts::EXE_SUFFIX
    ));
    let mut server = ServerProcess::spawn(
        &binary,
        &project,
        &[("ADDR", format!("127.0.0.1:{port}"))],
        dir.path().join("server.log"),
    );
    server
        .wait_healthy(&format!("{base}/health"), Duration::from_secs(30))
        .await;
    let reply = RawMcp::new(format!("{base}/mcp"))
        .send(None, None, &initialize_body(1))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.describe()
    );
    assert!(reply.header_opt("www-authenticate").is_none());
    let metadata =
        Reply::fetch(client().get(format!("{base}/.well-known/oauth-protected-resource/mcp")))
            .await;
    assert_eq!(
        metadata.status,
        StatusCode::NOT_FOUND,
        "no settings, no metadata"
    );
    let health = Reply::fetch(client().get(format!("{base}/health"))).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(
        server.log().contains(
            "error: the MCP endpoint answers 503 until this is fixed: `AUTH0_DOMAIN` is not set"
        ),
        "{}",
        server.log()
    );
}

#[test]
fn a_project_that_no_longer_compiles_gets_the_errors_and_keeps_the_changes() {
    let dir = tempfile::TempDir::new().unwrap();
    let project = dir.path().join("factory-tests");
    copy_shape("factory-tests", &project);
    // Another name: cargo's fingerprints in the shared target directory do
    // not tell two copies of one package apart, and another test builds the
    // unbroken copy at the same time.
    for file in ["Cargo.toml", "src/main.rs"] {
        let path = project.join(file);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(
            &path,
            text.replace("shape-factory-tests", "shape-factory-broken")
                .replace("shape_factory_tests", "shape_factory_broken"),
        )
        .unwrap();
    }
    // A type error of the project's own, which add-auth's parser cannot see.
    let lib = project.join("src/lib.rs");
    let mut text = fs::read_to_string(&lib).unwrap();
    text.push_str("\npub fn answer() -> u32 {\n    \"forty-two\"\n}\n");
    fs::write(&lib, text).unwrap();

    let (code, stderr) = add_auth(&project);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error[E0308]: mismatched types"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "error: `cargo check` found 1 error in `shape-factory-broken` after add-auth's changes (above)\n\
             help: the changes are kept: fix what the compiler says, or undo them all with \
             `mcp-builder auth remove --path {} --yes`",
            project.canonicalize().unwrap().display()
        )),
        "{stderr}"
    );
    // Kept: the module, the wiring and the state.
    assert!(project.join("src/auth/mod.rs").is_file());
    assert!(project.join("mcp-builder.json").is_file());
    assert!(
        fs::read_to_string(&lib)
            .unwrap()
            .contains("mcp_auth.protect(service)")
    );
}

/// rustfmt lays out the wired function (a builder chain over several lines
/// gets re-indented once wrapped), and `auth remove` gives back the tree
/// byte for byte. No build needed.
#[test]
fn wiring_is_laid_out_by_rustfmt_and_removed_byte_for_byte() {
    let dir = tempfile::TempDir::new().unwrap();
    let project = dir.path().join("factory-tests");
    copy_shape("factory-tests", &project);
    let before = support::project::tree(&project);
    let run = |args: &[&str]| {
        let output = assert_cmd::Command::cargo_bin("mcp-builder")
            .unwrap()
            .args(args)
            .arg("--path")
            .arg(&project)
            .env("NO_COLOR", "1")
            .write_stdin("")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let mut add = vec!["add-auth", "--no-verify"];
    add.extend(FLAGS);
    run(&add);
    let lib = fs::read_to_string(project.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains(
            "        mcp_auth.server_config(\n            StreamableHttpServerConfig::default()\n                .with_allowed_hosts([\"localhost\", \"127.0.0.1\"])\n                .with_json_response(false),\n        ),\n"
        ),
        "{lib}"
    );
    let fmt = std::process::Command::new("cargo")
        .args(["fmt", "--check"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(
        fmt.status.success(),
        "{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    run(&["auth", "remove", "--yes"]);
    assert!(
        support::project::tree(&project) == before,
        "remove left changes"
    );
}

/// `--dry-run` and `--check` never run cargo; a write whose verification
/// cannot run says the changes are written and how to check them.
#[test]
fn only_a_real_write_runs_cargo_check() {
    let dir = tempfile::TempDir::new().unwrap();
    let project = dir.path().join("factory-tests");
    copy_shape("factory-tests", &project);
    let run = |extra: &[&str]| {
        let output = assert_cmd::Command::cargo_bin("mcp-builder")
            .unwrap()
            .args(["add-auth", "--path"])
            .arg(&project)
            .args(FLAGS)
            .args(extra)
            .env("NO_COLOR", "1")
            // Any attempt to run cargo fails at once.
            .env("CARGO", dir.path().join("no-such-cargo"))
            .write_stdin("")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--dry-run"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("Verif"), "{stderr}");
    assert!(!project.join("src/auth").exists());

    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: the changes are written, but they could not be verified: cannot run `cargo check` \
             (is cargo on the PATH?): No such file or directory (os error 2)\n\
             help: run `cargo check` in `{}` yourself, or pass --no-verify",
            project.canonicalize().unwrap().display()
        )),
        "{stderr}"
    );
    assert!(project.join("src/auth/mod.rs").is_file());

    let (code, stderr) = run(&["--check"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("Verif"), "{stderr}");
}

/// When cargo cannot check the package at all (here a path dependency that
/// does not exist; on real projects often a pinned toolchain that is not
/// installed), add-auth says so and shows what cargo said, rather than
/// blaming the code.
#[test]
fn a_check_cargo_cannot_run_is_not_reported_as_compile_errors() {
    let dir = tempfile::TempDir::new().unwrap();
    let project = dir.path().join("factory-tests");
    copy_shape("factory-tests", &project);
    let manifest = project.join("Cargo.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(
        &manifest,
        text.replace(
            "[dependencies]\n",
            "[dependencies]\nnowhere = { path = \"../nowhere\" }\n",
        ),
    )
    .unwrap();
    let (code, stderr) = add_auth(&project);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: the changes are written, but `cargo check` could not check them; cargo said:\n"
        ) && stderr.contains("nowhere")
            && stderr.contains("help: fix that (a toolchain the project pins may need installing)"),
        "{stderr}"
    );
    assert!(!stderr.contains("found 0 errors"), "{stderr}");
    assert!(project.join("src/auth/mod.rs").is_file());
}
