//! The `add-auth` command as a user meets it: re-runs, dry runs, checks and
//! bad input. Every failing case asserts that no file was touched.

mod support;

use std::{fs, path::Path};

use assert_cmd::Command;
use support::project::{EXAMPLE, EXAMPLE_FLAGS as FLAGS, copy_project, tree};
use tempfile::TempDir;

fn example_copy() -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    dir
}

fn mcp_builder(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("mcp-builder")
        .unwrap()
        .arg("add-auth")
        .arg("--no-verify")
        .arg("--path")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .assert()
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

#[test]
fn second_run_with_the_same_flags_changes_no_byte() {
    let dir = example_copy();
    let first = mcp_builder(dir.path(), FLAGS).success();
    let first_err = stderr(&first);
    assert!(
        first_err.contains("     Created src/auth/mod.rs"),
        "{first_err}"
    );
    assert!(
        first_err.contains("     Updated src/main.rs"),
        "{first_err}"
    );
    assert!(first_err.contains("     Updated Cargo.toml"), "{first_err}");
    assert!(
        first_err.contains("     Created mcp-builder.json"),
        "{first_err}"
    );
    let after_first = tree(dir.path());

    let second = mcp_builder(dir.path(), FLAGS).success();
    assert_eq!(
        stderr(&second),
        "       Found `tasks-server`: rmcp 3.11.0 (Cargo.lock) [server, macros, transport-streamable-http-server], \
         MCP endpoint `/mcp` in `src/main.rs`, 3 tools (create-task, delete-task, search-tasks)\n\
         nothing to do: `tasks-server` is already protected as asked\n"
    );
    assert_eq!(tree(dir.path()), after_first);

    // Flags may be left out on a re-run: the state file remembers them.
    let third = mcp_builder(dir.path(), &["--yes"]).success();
    assert!(
        stderr(&third).ends_with("nothing to do: `tasks-server` is already protected as asked\n")
    );
    assert_eq!(tree(dir.path()), after_first);
}

#[test]
fn check_and_dry_run_change_nothing() {
    let dir = example_copy();
    let before = tree(dir.path());

    let check = mcp_builder(
        dir.path(),
        &[&FLAGS[..FLAGS.len() - 1], &["--check"]].concat(),
    )
    .code(1);
    assert!(
        stderr(&check).contains("is not up to date"),
        "{}",
        stderr(&check)
    );

    let dry = mcp_builder(dir.path(), &[FLAGS, &["--dry-run"]].concat()).success();
    let diff = String::from_utf8_lossy(&dry.get_output().stdout).into_owned();
    assert!(diff.contains("+++ b/src/auth/verify.rs"), "{diff}");
    assert!(
        diff.contains("+        .nest_service(\"/mcp\", mcp_auth.protect(service))"),
        "{diff}"
    );
    assert_eq!(
        tree(dir.path()),
        before,
        "--check and --dry-run must not write"
    );

    mcp_builder(dir.path(), FLAGS).success();
    mcp_builder(
        dir.path(),
        &[&FLAGS[..FLAGS.len() - 1], &["--check"]].concat(),
    )
    .success();
}

#[test]
fn a_generated_file_the_user_changed_is_not_overwritten() {
    let dir = example_copy();
    mcp_builder(dir.path(), FLAGS).success();
    let policy = dir.path().join("src/auth/policy.rs");
    let edited = fs::read_to_string(&policy).unwrap() + "// my own note\n";
    fs::write(&policy, &edited).unwrap();

    // Another scope for a tool: policy.rs would change, but the user's edit wins.
    let flags: Vec<&str> = FLAGS
        .iter()
        .map(|flag| match *flag {
            "search-tasks=read:tasks" => "search-tasks=write:tasks",
            other => other,
        })
        .collect();
    let run = mcp_builder(dir.path(), &flags).success();
    assert!(
        stderr(&run).contains("     Skipped src/auth/policy.rs"),
        "{}",
        stderr(&run)
    );
    assert_eq!(fs::read_to_string(&policy).unwrap(), edited);

    let forced = mcp_builder(dir.path(), &[&flags[..], &["--force"]].concat()).success();
    assert!(stderr(&forced).contains("   Overwrote src/auth/policy.rs"));
    let policy_text = fs::read_to_string(&policy).unwrap();
    assert!(!policy_text.contains("my own note"));
    assert!(policy_text.contains(r#"("search-tasks", &["write:tasks"])"#));
}

/// Runs a failing command and checks the exit code, the message, and that
/// the project is byte-for-byte as it was.
fn refuses(dir: &Path, args: &[&str], code: i32, expected: &[&str]) {
    let before = tree(dir);
    let run = mcp_builder(dir, args).code(code);
    let err = stderr(&run);
    for part in expected {
        assert!(err.contains(part), "expected `{part}` in:\n{err}");
    }
    assert!(
        err.starts_with("error: ") || err.contains("\nerror: "),
        "{err}"
    );
    assert_eq!(tree(dir), before, "a refused run must not change any file");
}

#[test]
fn missing_values_without_a_terminal_name_every_flag() {
    let dir = example_copy();
    refuses(
        dir.path(),
        &["--scopes", "read:tasks"],
        2,
        &["missing required values: --provider, --domain, --audience\n"],
    );
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let dir = example_copy();
    let with = |flag: &str, value: &str| {
        let mut args = FLAGS.to_vec();
        let at = args.iter().position(|f| *f == flag).unwrap();
        args[at + 1] = value;
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            with("--provider", "okta-ish"),
            "unknown provider `okta-ish`",
        ),
        (
            with("--scopes", "read tasks,write:tasks"),
            "`read tasks` is not a valid scope",
        ),
        (with("--scopes", "read:\"x\""), "is not a valid scope"),
        (
            with("--domain", "https://tasks-test.auth0.com/"),
            "is not a domain name",
        ),
        (
            with("--audience", "http://tasks.example.com/mcp"),
            "uses http:// for a host that is not loopback",
        ),
        (
            with("--tool-scope", "archive-task=read:tasks"),
            "--tool-scope names `archive-task`, but the project has no tool of that name\nhelp: the tools found are: create-task, delete-task, search-tasks",
        ),
        (
            with("--tool-scope", "search-tasks=admin"),
            "tool `search-tasks` is given scope `admin`, which is not in --scopes",
        ),
    ];
    for (args, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refuses(dir.path(), &args, 2, &[message]);
    }
}

#[test]
fn projects_add_auth_cannot_handle_are_refused_untouched() {
    // Not a project at all.
    let empty = TempDir::new().unwrap();
    fs::write(empty.path().join("notes.txt"), "hello").unwrap();
    refuses(empty.path(), FLAGS, 1, &["no Cargo.toml"]);

    // A Rust crate that is not an MCP server.
    let plain = TempDir::new().unwrap();
    fs::create_dir(plain.path().join("src")).unwrap();
    fs::write(
        plain.path().join("Cargo.toml"),
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nserde = \"1\"\n",
    )
    .unwrap();
    fs::write(plain.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    refuses(plain.path(), FLAGS, 1, &["does not depend on rmcp"]);

    // A manifest that is not TOML.
    let broken = example_copy();
    let manifest = broken.path().join("Cargo.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(&manifest, text.replace("[dependencies]", "[dependencies")).unwrap();
    refuses(broken.path(), FLAGS, 1, &["Cargo.toml"]);

    // An auth module that mcp-builder did not write.
    let owned = example_copy();
    fs::write(owned.path().join("src/auth.rs"), "// the user's own auth\n").unwrap();
    refuses(owned.path(), FLAGS, 1, &["`src/auth.rs` already exists"]);
}

#[test]
fn a_rerun_without_flags_keeps_the_provider_options() {
    let dir = example_copy();
    let flags = [
        "--provider",
        "cognito",
        "--issuer",
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
        "--client-id",
        "client-one,client-two",
        "--resource-url",
        "https://tasks.example.com/mcp",
        "--scopes",
        "read:tasks,write:tasks,delete:tasks",
        "--roles-claim",
        "cognito:groups",
        "--yes",
    ];
    mcp_builder(dir.path(), &flags).success();
    let after_first = tree(dir.path());
    let state = fs::read_to_string(dir.path().join("mcp-builder.json")).unwrap();
    assert!(
        state.contains("\"client_ids\": [\n      \"client-one\",\n      \"client-two\"\n    ]"),
        "{state}"
    );
    assert!(
        state.contains("\"roles_claim\": \"cognito:groups\""),
        "{state}"
    );

    let rerun = mcp_builder(dir.path(), &["--yes"]).success();
    assert!(
        stderr(&rerun).ends_with("nothing to do: `tasks-server` is already protected as asked\n"),
        "{}",
        stderr(&rerun)
    );
    assert_eq!(tree(dir.path()), after_first);
}
