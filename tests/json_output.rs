//! What scripts and shells read: the `--json` documents of `add-auth`
//! (apply, `--dry-run`, `--check`) and `auth remove`, parsed as JSON; the
//! completion scripts of every shell; add-auth's help in groups.

mod support;

use std::{fs, path::Path, time::Duration};

use assert_cmd::Command;
use serde_json::Value;
use support::project::{EXAMPLE, EXAMPLE_FLAGS as FLAGS, copy_project, tree};
use tempfile::TempDir;

fn example_copy() -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    dir
}

/// `mcp-builder ARGS --path DIR --json`, expecting exit `code`; returns the
/// one JSON document stdout holds (failing on anything else) and stderr.
fn json_run(dir: &Path, args: &[&str], code: i32) -> (Value, String) {
    let out = Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(args)
        .arg("--path")
        .arg(dir)
        .arg("--json")
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60))
        .assert()
        .code(code);
    let output = out.get_output();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let document: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!("stdout is not one JSON document ({err}):\n{stdout}\n--- stderr ---\n{stderr}")
    });
    (document, stderr)
}

/// add-auth with the example's answers (without `--yes`) and `extra`.
fn add_auth(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec!["add-auth", "--no-verify"];
    args.extend(FLAGS.iter().filter(|flag| **flag != "--yes"));
    args.extend(extra);
    args
}

/// The entry of `path` in the document's `files`.
fn file<'a>(document: &'a Value, path: &str) -> &'a Value {
    document["files"]
        .as_array()
        .expect("files is an array")
        .iter()
        .find(|entry| entry["path"] == path)
        .unwrap_or_else(|| panic!("no entry for {path} in {document:#}"))
}

#[test]
fn add_auth_json_for_dry_run_check_apply_and_a_kept_edit() {
    let dir = example_copy();
    let before = tree(dir.path());

    // --dry-run: the diffs move into the document; nothing is written.
    let (dry, stderr) = json_run(dir.path(), &add_auth(&["--dry-run"]), 0);
    assert_eq!(dry["command"], "add-auth");
    assert_eq!(dry["mode"], "dry-run");
    assert_eq!(dry["outcome"], "dry run");
    assert_eq!(dry["package"], "tasks-server");
    assert_eq!(dry["up_to_date"], false);
    let module = file(&dry, "src/auth/mod.rs");
    assert_eq!(module["action"], "create");
    assert!(
        module["diff"]
            .as_str()
            .unwrap()
            .starts_with("--- /dev/null\n+++ b/src/auth/mod.rs\n"),
        "{module}"
    );
    assert_eq!(file(&dry, "src/main.rs")["action"], "update");
    assert!(
        stderr.contains("Would create src/auth/mod.rs"),
        "the human lines stay on stderr: {stderr}"
    );
    assert_eq!(tree(dir.path()), before);

    // --check before the run: exit 1, the same actions.
    let (check, _) = json_run(dir.path(), &add_auth(&["--check"]), 1);
    assert_eq!(check["mode"], "check");
    assert_eq!(check["outcome"], "not up to date");
    assert_eq!(check["up_to_date"], false);
    assert_eq!(file(&check, "mcp-builder.json")["action"], "create");
    assert_eq!(tree(dir.path()), before);

    // The run itself: what it did, without diffs.
    let (applied, stderr) = json_run(dir.path(), &add_auth(&["--yes"]), 0);
    assert_eq!(applied["mode"], "apply");
    assert_eq!(applied["outcome"], "applied");
    assert_eq!(applied["verified"], false, "--no-verify: not checked");
    assert_eq!(file(&applied, "src/auth/policy.rs")["action"], "create");
    assert!(file(&applied, "src/auth/policy.rs").get("diff").is_none());
    assert!(
        stderr.contains("     Created src/auth/policy.rs"),
        "{stderr}"
    );
    assert!(dir.path().join("src/auth/policy.rs").is_file());

    // --check after it: exit 0, every file unchanged.
    let (settled, _) = json_run(dir.path(), &add_auth(&["--check"]), 0);
    assert_eq!(settled["outcome"], "up to date");
    assert_eq!(settled["up_to_date"], true);
    assert!(
        settled["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|entry| entry["action"] == "unchanged"),
        "{settled:#}"
    );

    // An edited generated file a re-run must skip: a conflict, its diff,
    // and the warning, as data.
    let policy = dir.path().join("src/auth/policy.rs");
    let edited = fs::read_to_string(&policy).unwrap() + "// my own note\n";
    fs::write(&policy, &edited).unwrap();
    let mut args = add_auth(&["--yes"]);
    for arg in &mut args {
        if *arg == "search-tasks=read:tasks" {
            *arg = "search-tasks=write:tasks";
        }
    }
    let (skipped, _) = json_run(dir.path(), &args, 0);
    let entry = file(&skipped, "src/auth/policy.rs");
    assert_eq!(entry["action"], "conflict", "{entry}");
    assert_eq!(entry["resolution"], "skip");
    assert_eq!(entry["kept_before"], false);
    assert!(
        entry["diff"]
            .as_str()
            .unwrap()
            .contains("-// my own note\n"),
        "{entry}"
    );
    let warnings = skipped["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|warning| warning.as_str().unwrap().contains(
                "the diffs from your version to the generated one are in the JSON document"
            )),
        "{warnings:?}"
    );
    assert_eq!(fs::read_to_string(&policy).unwrap(), edited);
}

#[test]
fn auth_remove_json_for_dry_run_and_apply() {
    let dir = example_copy();
    let original = tree(dir.path());
    Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--no-verify", "--path"])
        .arg(dir.path())
        .args(FLAGS)
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    let protected = tree(dir.path());

    let (dry, _) = json_run(dir.path(), &["auth", "remove", "--dry-run"], 0);
    assert_eq!(dry["command"], "auth remove");
    assert_eq!(dry["mode"], "dry-run");
    assert_eq!(dry["outcome"], "dry run");
    assert_eq!(file(&dry, "src/auth/mod.rs")["action"], "delete");
    assert!(
        file(&dry, "src/main.rs")["diff"]
            .as_str()
            .unwrap()
            .starts_with("--- a/src/main.rs\n"),
        "{dry:#}"
    );
    assert_eq!(tree(dir.path()), protected);

    let (removed, stderr) = json_run(dir.path(), &["auth", "remove", "--yes"], 0);
    assert_eq!(removed["mode"], "apply");
    assert_eq!(removed["outcome"], "removed");
    assert_eq!(file(&removed, "mcp-builder.json")["action"], "delete");
    assert!(stderr.contains("     Deleted src/auth/mod.rs"), "{stderr}");
    assert_eq!(tree(dir.path()), original);
}

#[test]
fn a_failed_json_run_still_prints_one_document_with_its_exit_code() {
    let dir = example_copy();
    let before = tree(dir.path());
    let (usage, stderr) = json_run(
        dir.path(),
        &["add-auth", "--no-verify", "--provider", "nope", "--yes"],
        2,
    );
    assert_eq!(usage["exit_code"], 2);
    assert!(
        usage["error"]
            .as_str()
            .unwrap()
            .starts_with("--provider: unknown provider `nope`"),
        "{usage:#}"
    );
    assert!(
        stderr.contains("error: --provider: unknown provider"),
        "{stderr}"
    );

    // Not protected: `auth remove` has nothing recorded to take out.
    let (unprotected, _) = json_run(dir.path(), &["auth", "remove", "--yes"], 2);
    assert_eq!(unprotected["exit_code"], 2, "{unprotected:#}");
    assert!(
        unprotected["error"]
            .as_str()
            .unwrap()
            .contains("has no `mcp-builder.json`"),
        "{unprotected:#}"
    );
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn completions_generate_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = Command::cargo_bin("mcp-builder")
            .unwrap()
            .args(["completions", shell])
            .timeout(Duration::from_secs(30))
            .assert()
            .success();
        let script = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(script.len() > 1000, "{shell}: {script}");
        for word in ["add-auth", "dry-run", "tool-scope", "remove"] {
            assert!(script.contains(word), "{shell}: no `{word}` in:\n{script}");
        }
    }
    Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["completions", "tcsh"])
        .assert()
        .code(2);
}

#[test]
fn add_auth_help_groups_its_flags_under_headings() {
    let out = Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--help"])
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let section = |heading: &str| -> String {
        let start = help
            .find(&format!("\n{heading}:\n"))
            .unwrap_or_else(|| panic!("no `{heading}:` heading in:\n{help}"));
        let rest = &help[start + heading.len() + 3..];
        let end = rest.find("\n\n").unwrap_or(rest.len());
        rest[..end].to_string()
    };
    let groups = [
        (
            "Options",
            &[
                "--path",
                "--provider",
                "--audience",
                "--scopes",
                "--tool-scope",
            ][..],
        ),
        (
            "Provider-specific options",
            &[
                "--domain",
                "--issuer",
                "--project-ref",
                "--token-format",
                "--client-id",
            ][..],
        ),
        (
            "Token and scope options",
            &[
                "--scope-claim",
                "--scope-implies",
                "--challenge-scopes",
                "--strict-tools",
            ][..],
        ),
        (
            "Behaviour",
            &[
                "--answers",
                "--yes",
                "--dry-run",
                "--check",
                "--json",
                "--force",
                "--no-verify",
            ][..],
        ),
    ];
    for (heading, flags) in groups {
        let text = section(heading);
        for flag in flags {
            assert!(
                text.contains(&format!("{flag} ")) || text.contains(&format!("{flag}\n")),
                "{flag} is not under `{heading}`:\n{text}"
            );
        }
    }
}
