//! The commands as a user meets them: re-runs, dry runs, checks, kept
//! edits, bad input, and the exit code of each condition (the README's
//! table). Every failing case asserts that no file was touched.

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
    refuses(empty.path(), FLAGS, 2, &["no Cargo.toml"]);

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

/// Issue 20: `--scope-source` and `--require-at-jwt` are recorded, kept by
/// a re-run without them, turned off by `--require-at-jwt false`, and
/// become constants of the generated `provider.rs`; a bad value is a usage
/// error that changes nothing.
#[test]
fn the_scope_source_and_require_at_jwt_are_recorded_and_kept() {
    let dir = example_copy();
    let bad = [FLAGS, &["--scope-source", "both"]].concat();
    refuses(
        dir.path(),
        &bad,
        2,
        &["--scope-source: unknown scope source `both`"],
    );
    let bad = [FLAGS, &["--require-at-jwt", "yes"]].concat();
    refuses(dir.path(), &bad, 2, &["--require-at-jwt"]);

    let flags = [
        FLAGS,
        &["--scope-source", "permissions", "--require-at-jwt"],
    ]
    .concat();
    mcp_builder(dir.path(), &flags).success();
    let after_first = tree(dir.path());
    let state = fs::read_to_string(dir.path().join("mcp-builder.json")).unwrap();
    assert!(
        state.contains("\"scope_source\": \"permissions\""),
        "{state}"
    );
    assert!(state.contains("\"require_at_jwt\": true"), "{state}");
    let provider = fs::read_to_string(dir.path().join("src/auth/provider.rs")).unwrap();
    assert!(
        provider.contains("pub const SCOPE_SOURCE: ScopeSource = ScopeSource::Permissions;"),
        "{provider}"
    );
    assert!(
        provider.contains("pub const REQUIRE_AT_JWT: bool = true;"),
        "{provider}"
    );

    let rerun = mcp_builder(dir.path(), &["--yes"]).success();
    assert!(
        stderr(&rerun).ends_with("nothing to do: `tasks-server` is already protected as asked\n"),
        "{}",
        stderr(&rerun)
    );
    assert_eq!(tree(dir.path()), after_first);

    mcp_builder(dir.path(), &["--require-at-jwt", "false", "--yes"]).success();
    let state = fs::read_to_string(dir.path().join("mcp-builder.json")).unwrap();
    assert!(state.contains("\"require_at_jwt\": false"), "{state}");
    assert!(
        state.contains("\"scope_source\": \"permissions\""),
        "{state}"
    );
    let provider = fs::read_to_string(dir.path().join("src/auth/provider.rs")).unwrap();
    assert!(
        provider.contains("pub const REQUIRE_AT_JWT: bool = false;"),
        "{provider}"
    );
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn check_args() -> Vec<&'static str> {
    [&FLAGS[..FLAGS.len() - 1], &["--check"]].concat()
}

/// A kept edit is settled until the generated code changes: a template
/// change is simulated honestly by recording that the user's version was
/// kept against another generated text (one line more than today's).
#[test]
fn a_kept_edit_is_settled_until_the_generated_code_changes() {
    let dir = example_copy();
    mcp_builder(dir.path(), FLAGS).success();
    let policy = dir.path().join("src/auth/policy.rs");
    let generated = fs::read_to_string(&policy).unwrap();
    let edited = generated.clone() + "// my own note\n";
    fs::write(&policy, &edited).unwrap();
    let check = mcp_builder(dir.path(), &check_args()).code(1);
    assert!(
        stderr(&check).contains("  Would skip src/auth/policy.rs (you changed it"),
        "{}",
        stderr(&check)
    );

    // Not a generated file: a usage error naming the one that can be kept.
    let before = tree(dir.path());
    let wrong = mcp_builder(dir.path(), &["--adopt", "src/main.rs", "--yes"]).code(2);
    assert!(
        stderr(&wrong).contains(
            "--adopt src/main.rs: `src/main.rs` is not a file add-auth generates\nhelp: name one of the generated files you changed (`src/auth/policy.rs`)"
        ),
        "{}",
        stderr(&wrong)
    );
    assert_eq!(tree(dir.path()), before);

    let adopt = mcp_builder(dir.path(), &["--adopt", "./src/auth/policy.rs", "--yes"]).success();
    assert!(
        stderr(&adopt).contains(
            "\n        Kept src/auth/policy.rs (yours, as recorded in mcp-builder.json)\n"
        ) && stderr(&adopt).contains("\n     Updated mcp-builder.json\n"),
        "{}",
        stderr(&adopt)
    );
    let settled = tree(dir.path());
    let rerun = mcp_builder(dir.path(), FLAGS).success();
    assert!(
        stderr(&rerun).ends_with("nothing to do: `tasks-server` is already protected as asked\n")
    );
    mcp_builder(dir.path(), &check_args()).success();
    assert_eq!(tree(dir.path()), settled);
    assert_eq!(fs::read_to_string(&policy).unwrap(), edited);

    // The template generated one line more when the edit was kept.
    let state_path = dir.path().join("mcp-builder.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&state_path).unwrap()).unwrap();
    let record = &mut state["generator"]["yours"]["src/auth/policy.rs"];
    assert_eq!(record["sha256"], sha256_hex(&edited));
    assert_eq!(record["generated"], sha256_hex(&generated));
    let older = generated.clone() + "// a line an older template wrote\n";
    let last = edited.lines().count();
    record["generated"] = sha256_hex(&older).into();
    record["to_generated"] = serde_json::json!([
        { "line": last, "remove": 1, "insert": ["// a line an older template wrote\n"] }
    ]);
    fs::write(
        &state_path,
        serde_json::to_string_pretty(&state).unwrap() + "\n",
    )
    .unwrap();
    let changed = tree(dir.path());

    let check = mcp_builder(dir.path(), &check_args()).code(1);
    assert!(
        stderr(&check).contains(
            "  Would skip src/auth/policy.rs (yours, but the generated code changed since you kept it"
        ),
        "{}",
        stderr(&check)
    );
    let dry = mcp_builder(dir.path(), &["--dry-run"]).success();
    let diff = String::from_utf8_lossy(&dry.get_output().stdout).into_owned();
    assert!(
        diff.starts_with(
            "--- a/src/auth/policy.rs\t(generated when you kept yours)\n+++ b/src/auth/policy.rs\t(generated now)\n"
        ),
        "{diff}"
    );
    assert!(
        diff.contains("\n-// a line an older template wrote\n"),
        "{diff}"
    );
    assert!(
        !diff.contains("my own note"),
        "only the template's change: {diff}"
    );
    assert_eq!(tree(dir.path()), changed);

    // Kept again: settled again, the file still the user's.
    mcp_builder(dir.path(), &["--adopt", "--yes"]).success();
    mcp_builder(dir.path(), &check_args()).success();
    assert_eq!(fs::read_to_string(&policy).unwrap(), edited);
}

/// A tool added since the last run has no recorded scope: `--check` names
/// that drift (exit 1) instead of failing as a usage error.
#[test]
fn check_reports_a_new_tool_without_a_scope_as_drift() {
    let dir = example_copy();
    mcp_builder(dir.path(), FLAGS).success();
    let tasks = dir.path().join("src/tasks.rs");
    let source = fs::read_to_string(&tasks).unwrap();
    let added = source.replacen(
        "    #[tool(\n        name = \"delete-task\",",
        "    #[tool(name = \"count-tasks\", description = \"Count your tasks\")]\n    fn count_tasks(&self, ctx: RequestContext<RoleServer>) -> String {\n        self.store.search(&owner_of(&ctx), \"\").len().to_string()\n    }\n\n    #[tool(\n        name = \"delete-task\",",
        1,
    );
    assert_ne!(added, source);
    fs::write(&tasks, added).unwrap();
    let before = tree(dir.path());
    let check = mcp_builder(dir.path(), &["--check"]).code(1);
    let err = stderr(&check);
    assert!(err.contains("\nWould update src/auth/policy.rs\n"), "{err}");
    assert!(
        err.contains("note: no scope is recorded for tool `count-tasks`: the lines above use the proposed one"),
        "{err}"
    );
    assert!(
        err.ends_with(
            "error: `tasks-server` is not up to date; run `mcp-builder add-auth` without --check\n"
        ),
        "{err}"
    );
    assert_eq!(tree(dir.path()), before);
}

/// A preview says what would happen, never that it happened.
#[test]
fn dry_runs_say_would() {
    let dir = example_copy();
    let dry = mcp_builder(dir.path(), &[FLAGS, &["--dry-run"]].concat()).success();
    let err = stderr(&dry);
    assert!(err.contains("\nWould create src/auth/mod.rs\n"), "{err}");
    assert!(err.contains("\nWould update src/main.rs\n"), "{err}");
    assert!(
        !err.contains("Created") && !err.contains("Updated"),
        "{err}"
    );
    assert!(err.ends_with("--dry-run: no changes were made\n"), "{err}");

    mcp_builder(dir.path(), FLAGS).success();
    let protected = tree(dir.path());
    let remove = auth(dir.path(), &["remove", "--dry-run"]).success();
    let err = stderr(&remove);
    assert!(err.contains("\nWould delete src/auth/mod.rs\n"), "{err}");
    assert!(!err.contains("Deleted"), "{err}");
    assert_eq!(tree(dir.path()), protected);
}

fn auth(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("mcp-builder")
        .unwrap()
        .arg("auth")
        .args(args)
        .arg("--path")
        .arg(dir)
        .env("NO_COLOR", "1")
        .env_remove("AUTH0_CLIENT_ID")
        .env_remove("AUTH0_CLIENT_SECRET")
        .timeout(std::time::Duration::from_secs(30))
        .assert()
}

/// The README's exit-code table: the same condition, the same code in
/// every command.
#[test]
fn the_same_condition_has_the_same_exit_code_in_every_command() {
    let empty = TempDir::new().unwrap();
    let missing = empty.path().join("nope");
    let broken = TempDir::new().unwrap();
    fs::write(broken.path().join("mcp-builder.json"), "{\n").unwrap();
    let commands: [&[&str]; 5] = [
        &["remove", "--yes"],
        &["test"],
        &["token"],
        &["doctor"],
        &["dev"],
    ];
    for command in commands {
        // No mcp-builder.json, or no directory at all: 2 (a usage error).
        for dir in [empty.path(), missing.as_path()] {
            let run = auth(dir, command).code(2);
            assert!(
                stderr(&run).starts_with("error: `"),
                "auth {command:?}: {}",
                stderr(&run)
            );
        }
        // An unreadable mcp-builder.json: 1 (the project is broken).
        let run = auth(broken.path(), command).code(1);
        assert!(
            stderr(&run).contains("`mcp-builder.json`"),
            "auth {command:?}: {}",
            stderr(&run)
        );
    }
    refuses(
        empty.path(),
        FLAGS,
        2,
        &["is not a Rust project: no Cargo.toml found"],
    );
    refuses(empty.path(), &["--check"], 2, &["no Cargo.toml found"]);
    for args in [FLAGS, &["--check"]] {
        let run = mcp_builder(&missing, args).code(2);
        assert!(
            stderr(&run).contains("is not a Rust project: no Cargo.toml found"),
            "{}",
            stderr(&run)
        );
    }
    assert!(!missing.exists());
}

/// `auth test --timeout 2` against a server that accepts connections and
/// never answers, and one that sends its headers but never the whole body:
/// said as a timeout, and waited for once, not per check.
#[test]
fn a_server_that_never_answers_times_out_once_and_says_so() {
    use std::io::{Read, Write};
    let dir = example_copy();
    mcp_builder(dir.path(), FLAGS).success();
    for headers_only in [false, true] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Holds every connection open, unanswered (or answered with
        // headers and the first byte of the body), until the test ends.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for mut stream in listener.incoming().take(16).flatten() {
                if headers_only {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request);
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
                    );
                }
                held.push(stream);
            }
        });
        let started = std::time::Instant::now();
        let server = format!("http://127.0.0.1:{port}/mcp");
        let run = auth(dir.path(), &["test", "--server", &server, "--timeout", "2"]).code(1);
        let elapsed = started.elapsed();
        let out = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
        assert!(
            out.contains(&format!(
                "GET http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp: timed out after 2 s"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "POST {server}: not sent: http://127.0.0.1:{port} did not answer an earlier request within 2 s"
            )),
            "{out}"
        );
        assert!(!out.contains("error sending request"), "{out}");
        assert!(!out.contains("error decoding"), "{out}");
        // Four requests to the server: 8 s when each waited its 2 s.
        assert!(
            elapsed < std::time::Duration::from_secs(6),
            "took {elapsed:?}"
        );
    }
}
