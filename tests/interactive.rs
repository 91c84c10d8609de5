//! The add-auth dialog as a person meets it: the real binary in a
//! pseudo-terminal (rexpect), keys typed one prompt at a time. Every dialog
//! that writes must end in the same files as the equivalent flag-only run;
//! every one that does not must leave the project byte for byte as it was.
//! Each wait is bounded, so a prompt that hangs fails the test.
#![cfg(unix)]

mod support;

use std::{
    fs,
    io::Read,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use rexpect::{
    process::WaitStatus,
    session::{PtySession, spawn_command},
};
use support::project::{EXAMPLE, EXAMPLE_FLAGS, copy_project, tree};
use tempfile::TempDir;

/// Longest wait for any expected output.
const STEP_TIMEOUT_MS: u64 = 30_000;

const ENTER: &str = "\r";
const DOWN: &str = "\x1b[B";
const ESCAPE: &str = "\x1b";
const BACKSPACE: &str = "\x7f";
const CTRL_U: &str = "\x15";
const SHOW_CURSOR: &str = "\x1b[?25h";
const HIDE_CURSOR: &str = "\x1b[?25l";

/// `.env` values matching [`EXAMPLE_FLAGS`], so that every default is right.
const DOTENV: &str =
    "AUTH0_DOMAIN=tasks-test.auth0.com\nAUTH0_AUDIENCE=https://tasks.example.com/mcp\n";

fn example_copy() -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    dir
}

/// Asserts two trees are equal, naming the files that differ.
fn assert_same_tree(dialog: &Path, flags: &Path) {
    let (a, b) = (tree(dialog), tree(flags));
    let differing: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|path| a.get(*path) != b.get(*path))
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        differing.is_empty(),
        "the dialog and the flags wrote different files: {differing:?}"
    );
}

/// The flag-only run (no terminal) on a fresh copy prepared like the
/// dialog's; returns that copy.
fn flag_run(prepare: impl Fn(&Path), flags: &[&str]) -> TempDir {
    let dir = example_copy();
    prepare(dir.path());
    assert_cmd::Command::cargo_bin("mcp-builder")
        .unwrap()
        .arg("add-auth")
        .arg("--no-verify")
        .arg("--path")
        .arg(dir.path())
        .args(flags)
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    dir
}

/// `mcp-builder add-auth --path DIR` in a pseudo-terminal, with everything
/// it printed kept for assertions.
struct Dialog {
    session: PtySession,
    transcript: String,
}

impl Dialog {
    fn start(dir: &Path, args: &[&str]) -> Dialog {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-builder"));
        command
            .arg("add-auth")
            .arg("--no-verify")
            .arg("--path")
            .arg(dir)
            .args(args)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
        let session = spawn_command(command, Some(STEP_TIMEOUT_MS)).expect("start in a pty");
        Dialog {
            session,
            transcript: String::new(),
        }
    }

    /// Waits for `text`; fails with the transcript if it does not come.
    fn expect(&mut self, text: &str) -> &mut Self {
        match self.session.exp_string(text) {
            Ok(before) => {
                self.transcript.push_str(&before);
                self.transcript.push_str(text);
            }
            Err(err) => panic!(
                "expected {text:?}: {err}\n--- transcript ---\n{}",
                self.transcript
            ),
        }
        self
    }

    /// Types `keys`.
    fn send(&mut self, keys: &str) -> &mut Self {
        self.session.send(keys).expect("type into the pty");
        self.session.flush().expect("flush the pty");
        self
    }

    fn ctrl_c(&mut self) -> &mut Self {
        self.session.send_control('c').expect("send Ctrl-C");
        self
    }

    /// Reads to the end and returns the exit code (`None`: killed by a
    /// signal) with the whole transcript.
    fn finish(mut self) -> (Option<i32>, String) {
        match self.session.exp_eof() {
            Ok(rest) => self.transcript.push_str(&rest),
            Err(err) => panic!(
                "the command did not end: {err}\n--- transcript ---\n{}",
                self.transcript
            ),
        }
        let status = self.session.process().wait().expect("wait for the command");
        let code = match status {
            WaitStatus::Exited(_, code) => Some(code),
            _ => None,
        };
        (code, self.transcript)
    }

    /// Everything up to the provider question, answered with Auth0 (the
    /// second item: the development issuer is offered first).
    fn accept_provider(&mut self) -> &mut Self {
        self.expect("Found `tasks-server`")
            .expect("Identity provider")
            .expect("Development issuer - try it locally")
            .expect("Auth0 - Auth0 tenant")
            .send(DOWN)
            .send(ENTER)
    }
}

/// The rest of the dialog after the domain and audience: resource URL and
/// scopes accepted, every tool's proposal accepted, the proposed scope
/// hierarchy accepted with one Enter, then the summary.
fn accept_scopes_and_tools(dialog: &mut Dialog) {
    dialog
        .expect("Public URL of the MCP endpoint")
        .expect("(https://tasks.example.com/mcp)")
        .send(ENTER)
        .expect("Scopes (comma-separated)")
        .expect("read:tasks,write:tasks,delete:tasks")
        .send(ENTER)
        .expect("create-task   write:tasks   neither a read nor a delete verb")
        .expect("delete-task   delete:tasks  destructive annotation")
        .expect("search-tasks  read:tasks    read-only annotation")
        .expect("Tool scopes")
        .expect("Accept all")
        .send(ENTER)
        .expect("delete:tasks  implies  read:tasks, write:tasks")
        .expect("write:tasks   implies  read:tasks")
        .expect("Scope hierarchy")
        .expect("Accept")
        .send(ENTER);
}

#[test]
fn the_whole_dialog_accepting_defaults_writes_what_the_flags_write() {
    let with_dotenv = |dir: &Path| fs::write(dir.join(".env"), DOTENV).unwrap();
    let dir = example_copy();
    with_dotenv(dir.path());

    let mut dialog = Dialog::start(dir.path(), &[]);
    dialog
        .accept_provider()
        .expect("Auth0 domain (no https://)")
        .expect("(tasks-test.auth0.com)")
        .send(ENTER)
        .expect("API audience (an https URL)")
        .expect("(https://tasks.example.com/mcp)")
        .send(ENTER);
    accept_scopes_and_tools(&mut dialog);
    dialog
        .expect("add-auth will protect `tasks-server`:")
        .expect("create      src/auth/audit.rs")
        .expect("update      src/main.rs")
        .expect("dependency  tokio: features +sync, time")
        .expect("siphasher = \"1\"")
        .expect("Apply these changes?")
        .send(ENTER)
        .expect("     Created src/auth/mod.rs");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");

    let flags = flag_run(with_dotenv, EXAMPLE_FLAGS);
    assert_same_tree(dir.path(), flags.path());
}

/// The first offer, "try it locally": every question has its answer
/// pre-filled (the issuer `auth dev` runs, the endpoint on this machine),
/// so Enter all the way writes what `--provider dev --yes` writes.
#[test]
fn trying_it_locally_is_the_first_offer_and_needs_only_enter() {
    let dir = example_copy();
    let mut dialog = Dialog::start(dir.path(), &[]);
    dialog
        .expect("Found `tasks-server`")
        .expect("Identity provider")
        .expect("Development issuer - try it locally")
        .send(ENTER)
        .expect("Development issuer URL")
        .expect("(http://127.0.0.1:9417)")
        .send(ENTER)
        .expect("API audience (the `aud` tokens carry)")
        .expect("(http://127.0.0.1:8000/mcp)")
        .send(ENTER)
        .expect("Public URL of the MCP endpoint")
        .expect("(http://127.0.0.1:8000/mcp)")
        .send(ENTER)
        .expect("read:tasks,write:tasks,delete:tasks")
        .send(ENTER)
        .expect("Accept all")
        .send(ENTER)
        .expect("Scope hierarchy")
        .send(ENTER)
        .expect("Apply these changes?")
        .send(ENTER)
        .expect("     Created src/auth/mod.rs");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");

    let flags = flag_run(|_| {}, &["--provider", "dev", "--yes"]);
    assert_same_tree(dir.path(), flags.path());
}

#[test]
fn a_bad_domain_is_refused_with_its_reason_and_a_tool_scope_can_be_edited() {
    let dir = example_copy();
    let mut dialog = Dialog::start(dir.path(), &[]);
    dialog
        .accept_provider()
        .expect("Auth0 domain (no https://)")
        .send("https://tasks-test.auth0.com/tenant")
        .send(ENTER)
        .expect("`https://tasks-test.auth0.com/tenant` is not a domain name\r\n")
        .expect("  give the bare host, without https:// or a path, e.g. your-tenant.auth0.com")
        .expect("Auth0 domain")
        // The refused answer stays in the field: Ctrl-U empties it.
        .send(CTRL_U)
        .send("tasks-test.auth0.com")
        .send(ENTER)
        .expect("API audience (an https URL)")
        .send("https://tasks.example.com/mcp")
        .send(ENTER)
        .expect("Public URL of the MCP endpoint")
        .send(ENTER)
        .expect("read:tasks,write:tasks,delete:tasks")
        .send(ENTER)
        .expect("Accept all")
        .expect("Edit create-task   (write:tasks)")
        // Edit create-task: add read:tasks (the cursor starts on it).
        .send(DOWN)
        .send(ENTER)
        .expect("Scopes `create-task` needs (space toggles, enter accepts)")
        .expect("delete:tasks")
        .send(" ")
        .send(ENTER)
        .expect("Edit create-task   (read:tasks, write:tasks)")
        .send(ENTER)
        // No scope hierarchy: the third choice.
        .expect("Scope hierarchy")
        .expect("None (each scope grants only itself)")
        .send(DOWN)
        .send(DOWN)
        .send(ENTER)
        .expect("tool        create-task -> read:tasks, write:tasks")
        .expect("hierarchy   none (each scope grants only itself)")
        .expect("Apply these changes?")
        .send("y")
        .expect("     Created src/auth/policy.rs");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");

    let mut flags: Vec<&str> = EXAMPLE_FLAGS
        .iter()
        .map(|flag| match *flag {
            "create-task=write:tasks" => "create-task=read:tasks,write:tasks",
            other => other,
        })
        .collect();
    flags.extend(["--scope-implies", "none"]);
    let by_flags = flag_run(|_| {}, &flags);
    assert_same_tree(dir.path(), by_flags.path());
}

/// The dialog on the example with `.env`'s answers, every question
/// accepted, up to the final confirmation.
fn dialog_to_the_confirmation(dir: &Path) -> Dialog {
    let mut dialog = Dialog::start(dir, &[]);
    dialog
        .accept_provider()
        .expect("(tasks-test.auth0.com)")
        .send(ENTER)
        .expect("(https://tasks.example.com/mcp)")
        .send(ENTER);
    accept_scopes_and_tools(&mut dialog);
    dialog
}

#[test]
fn no_at_the_confirmation_changes_nothing_and_exits_0() {
    let dir = example_copy();
    fs::write(dir.path().join(".env"), DOTENV).unwrap();
    let before = tree(dir.path());

    let mut dialog = dialog_to_the_confirmation(dir.path());
    dialog
        .expect("Apply these changes?")
        .send("n")
        .expect("nothing was changed");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");
    assert!(!transcript.contains("Created"), "{transcript}");
    assert_eq!(tree(dir.path()), before, "answering n must not write");
}

/// Ctrl-C at `stop` (a prompt that hides the cursor): exit 130, nothing
/// written, and the cursor shown again after it was last hidden.
fn interrupt_at(stop: &str) {
    let dir = example_copy();
    fs::write(dir.path().join(".env"), DOTENV).unwrap();
    let before = tree(dir.path());

    let mut dialog = Dialog::start(dir.path(), &[]);
    if stop == "Identity provider" {
        dialog.expect(stop).expect("Auth0 - Auth0 tenant");
    } else {
        dialog
            .accept_provider()
            .expect("(tasks-test.auth0.com)")
            .send(ENTER)
            .expect("(https://tasks.example.com/mcp)")
            .send(ENTER)
            .expect("Public URL of the MCP endpoint")
            .send(ENTER)
            .expect("read:tasks,write:tasks,delete:tasks")
            .send(ENTER)
            .expect(stop)
            .expect("Accept all");
    }
    dialog.ctrl_c().expect("interrupted: nothing was changed");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(130), "{transcript}");
    let hidden = transcript
        .rfind(HIDE_CURSOR)
        .unwrap_or_else(|| panic!("the prompt at {stop:?} did not hide the cursor:\n{transcript}"));
    assert!(
        transcript[hidden..].contains(SHOW_CURSOR),
        "the cursor stayed hidden after Ctrl-C at {stop:?}:\n{transcript:?}"
    );
    assert_eq!(tree(dir.path()), before, "Ctrl-C must not write");
}

#[test]
fn ctrl_c_at_the_first_prompt_changes_nothing_and_shows_the_cursor() {
    interrupt_at("Identity provider");
}

#[test]
fn ctrl_c_at_the_tool_scopes_changes_nothing_and_shows_the_cursor() {
    interrupt_at("Tool scopes");
}

#[test]
fn without_a_terminal_a_missing_answer_fails_within_a_second() {
    let dir = example_copy();
    let started = Instant::now();
    // stdin is a pipe kept open: a command that waited for input would hang.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-builder"))
        .args(["add-auth", "--no-verify", "--path"])
        .arg(dir.path())
        .args([
            "--provider",
            "auth0",
            "--audience",
            "https://tasks.example.com/mcp",
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcp-builder");
    let _stdin = child.stdin.take();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(1) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("add-auth without a terminal did not exit within a second");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: missing required values: --domain, --scopes\n"),
        "{stderr}"
    );
}

#[test]
fn an_answers_file_replaces_flags_and_flags_win_over_it() {
    // Everything in a JSON file: the same files as the flags.
    let dir = example_copy();
    let answers = dir.path().join("answers.json");
    fs::write(
        &answers,
        r#"{
            "provider": "auth0",
            "domain": "tasks-test.auth0.com",
            "audience": "https://tasks.example.com/mcp",
            "scopes": ["read:tasks", "write:tasks", "delete:tasks"],
            "tool_scopes": {"search-tasks": "read:tasks", "create-task": ["write:tasks"], "delete-task": "delete:tasks"}
        }"#,
    )
    .unwrap();
    let run = |dir: &Path, args: &[&str]| {
        assert_cmd::Command::cargo_bin("mcp-builder")
            .unwrap()
            .arg("add-auth")
            .arg("--no-verify")
            .arg("--path")
            .arg(dir)
            .args(args)
            .env("NO_COLOR", "1")
            .timeout(Duration::from_secs(60))
            .assert()
    };
    run(
        dir.path(),
        &["--answers", answers.to_str().unwrap(), "--yes"],
    )
    .success();
    let with_answers_file = |dir: &Path| {
        fs::copy(&answers, dir.join("answers.json"))
            .map(drop)
            .unwrap()
    };
    let flags = flag_run(with_answers_file, EXAMPLE_FLAGS);
    assert_same_tree(dir.path(), flags.path());

    // A partial TOML file, a flag over it, --yes for the proposed tool scopes.
    let partial = example_copy();
    let toml = partial.path().join("answers.toml");
    fs::write(
        &toml,
        "provider = \"auth0\"\ndomain = \"wrong.auth0.com\"\naudience = \"https://tasks.example.com/mcp\"\n",
    )
    .unwrap();
    run(
        partial.path(),
        &[
            "--answers",
            toml.to_str().unwrap(),
            "--domain",
            "tasks-test.auth0.com",
            "--yes",
        ],
    )
    .success();
    let with_toml = |dir: &Path| {
        fs::copy(&toml, dir.join("answers.toml")).unwrap();
    };
    let flags = flag_run(with_toml, EXAMPLE_FLAGS);
    assert_same_tree(partial.path(), flags.path());

    // A typo in the file is a usage error that names the file and the key.
    let typo = example_copy();
    let bad = typo.path().join("answers.toml");
    fs::write(&bad, "scope = \"read:tasks\"\n").unwrap();
    let before = tree(typo.path());
    let out = run(typo.path(), &["--answers", bad.to_str().unwrap(), "--yes"]).code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("answers.toml` is not valid TOML"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `scope`"), "{stderr}");
    assert_eq!(tree(typo.path()), before);
}

#[test]
fn help_documents_every_flag_and_the_ci_form() {
    let out = assert_cmd::Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--help"])
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for flag in [
        "--path",
        "--provider",
        "--domain",
        "--audience",
        "--resource-url",
        "--scopes",
        "--tool-scope",
        "--answers",
        "--yes",
        "--dry-run",
        "--check",
        "--force",
        "--token-format",
        "--introspection-url",
        "--scope-implies",
        "--challenge-scopes",
    ] {
        assert!(
            help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
            "{flag} missing from:\n{help}"
        );
    }
    assert!(
        help.contains(
            "mcp-builder add-auth --path . --provider auth0 --domain your-tenant.auth0.com"
        ),
        "{help}"
    );
    assert!(help.contains("[tool_scopes]"), "{help}");
    assert!(help.contains("[scope_implies]"), "{help}");
}

/// The flags of the first run, with `search-tasks` moved to another scope:
/// a re-run with them would rewrite `src/auth/policy.rs`. Every answer is
/// given, so the dialog asks only about the edited file and the go-ahead.
fn changed_scope_flags() -> Vec<&'static str> {
    let mut flags: Vec<&str> = EXAMPLE_FLAGS
        .iter()
        .filter(|flag| **flag != "--yes")
        .map(|flag| match *flag {
            "search-tasks=read:tasks" => "search-tasks=write:tasks",
            other => other,
        })
        .collect();
    flags.extend(["--resource-url", "https://tasks.example.com/mcp"]);
    flags
}

/// The dialog does not ask for the token format: a re-run in a terminal of
/// a project whose tokens are introspected keeps them so (nothing to do).
#[test]
fn a_dialog_rerun_keeps_the_recorded_token_format() {
    let answers = [
        "--provider",
        "oidc",
        "--issuer",
        "https://id.example.com/",
        "--audience",
        "https://tasks.example.com/mcp",
        "--resource-url",
        "https://tasks.example.com/mcp",
        "--scopes",
        "read:tasks,write:tasks,delete:tasks",
        "--tool-scope",
        "search-tasks=read:tasks",
        "--tool-scope",
        "create-task=write:tasks",
        "--tool-scope",
        "delete-task=delete:tasks",
    ];
    let opaque = [
        "--token-format",
        "introspection",
        "--introspection-url",
        "https://id.example.com/introspect",
        "--yes",
    ];
    let dir = flag_run(|_| {}, &[&answers[..], &opaque[..]].concat());
    let before = tree(dir.path());
    let mut dialog = Dialog::start(dir.path(), &answers);
    dialog.expect("nothing to do");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");
    assert!(tree(dir.path()) == before, "{transcript}");
}

/// A protected copy whose generated `policy.rs` the user then edited.
fn protected_with_edited_policy() -> (TempDir, String) {
    let dir = flag_run(|_| {}, EXAMPLE_FLAGS);
    let policy = dir.path().join("src/auth/policy.rs");
    let edited = fs::read_to_string(&policy).unwrap() + "// my own note\n";
    fs::write(&policy, &edited).unwrap();
    (dir, edited)
}

#[test]
fn an_edited_generated_file_can_be_diffed_then_overwritten_in_the_dialog() {
    let (dir, _) = protected_with_edited_policy();
    let mut dialog = Dialog::start(dir.path(), &changed_scope_flags());
    dialog
        .expect("You changed `src/auth/policy.rs` since add-auth generated it")
        .expect("show the diff")
        .send(DOWN)
        .send(DOWN)
        .send(ENTER)
        .expect("-// my own note")
        .expect("You changed `src/auth/policy.rs` since add-auth generated it")
        .expect("show the diff")
        .send(DOWN)
        .send(ENTER)
        .expect("Apply these changes?")
        .send(ENTER)
        .expect("     Updated src/auth/policy.rs");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");
    let policy = fs::read_to_string(dir.path().join("src/auth/policy.rs")).unwrap();
    assert!(!policy.contains("my own note"), "{policy}");
    assert!(
        policy.contains(r#"("search-tasks", &["write:tasks"])"#),
        "{policy}"
    );
}

#[test]
fn an_edited_generated_file_kept_in_the_dialog_is_not_touched() {
    let (dir, edited) = protected_with_edited_policy();
    let mut dialog = Dialog::start(dir.path(), &changed_scope_flags());
    dialog
        .expect("You changed `src/auth/policy.rs` since add-auth generated it")
        .expect("show the diff")
        .send(ENTER)
        .expect("Apply these changes?")
        .send(ENTER)
        .expect("        Kept src/auth/policy.rs (yours, as recorded in mcp-builder.json)");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");
    assert_eq!(
        fs::read_to_string(dir.path().join("src/auth/policy.rs")).unwrap(),
        edited
    );
    // Kept is recorded: a re-run without a terminal finds nothing to do.
    assert_cmd::Command::cargo_bin("mcp-builder")
        .unwrap()
        .args(["add-auth", "--no-verify", "--check", "--path"])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
}

/// Uncommitted changes are said before the first question, so that the
/// user can stop and commit first.
#[test]
fn the_uncommitted_changes_warning_comes_before_any_question() {
    let dir = example_copy();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if !git(&["init", "-q"]) {
        return; // no git here: nothing to warn about
    }
    assert!(git(&["add", "."]) && git(&["commit", "-qm", "x"]));
    fs::write(dir.path().join("notes.txt"), "work in progress\n").unwrap();
    let main = fs::read_to_string(dir.path().join("src/main.rs")).unwrap();
    let mut dialog = Dialog::start(dir.path(), &[]);
    dialog
        .expect("Found `tasks-server`")
        .expect("has uncommitted changes (1 file)")
        .expect("Identity provider")
        .ctrl_c();
    let (_, transcript) = dialog.finish();
    let warned = transcript.find("uncommitted changes").unwrap();
    let asked = transcript.find("Identity provider").unwrap();
    assert!(warned < asked, "{transcript}");
    // `git status` may refresh git's index; the project itself is as it was.
    assert!(!dir.path().join("mcp-builder.json").exists());
    assert_eq!(
        fs::read_to_string(dir.path().join("src/main.rs")).unwrap(),
        main
    );
}

/// A server that speaks only stdio is offered an HTTP transport (issue 22):
/// Enter takes it, and the rest of the dialog is the usual one; the result
/// is what `--add-http --provider dev --yes` writes. Declining changes
/// nothing and ends with the refusal.
#[test]
fn a_stdio_server_is_offered_an_http_transport() {
    let stdio_fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stdio/single-bin");
    let copy = || {
        let dir = TempDir::new().unwrap();
        copy_project(&stdio_fixture, dir.path());
        dir
    };

    // `n` declines, and so does Escape: there is no question before this one.
    let dir = copy();
    let before = tree(dir.path());
    for decline in ["n\r", ESCAPE] {
        let mut dialog = Dialog::start(dir.path(), &[]);
        dialog
            .expect("serves MCP over stdio only (`src/main.rs:14`)")
            .expect("Add a protected HTTP transport?")
            .send(decline);
        let (code, transcript) = dialog.finish();
        assert_eq!(code, Some(1), "{decline:?}: {transcript}");
        assert!(
            transcript.contains("run add-auth again with --add-http"),
            "{transcript}"
        );
        assert_eq!(tree(dir.path()), before);
    }

    let dir = copy();
    let mut dialog = Dialog::start(dir.path(), &[]);
    dialog
        .expect("Add a protected HTTP transport?")
        .send(ENTER)
        .expect("this run adds a streamable HTTP transport")
        .expect("Found `stdio-single-bin`")
        .expect("Development issuer - try it locally")
        .send(ENTER)
        .expect("Development issuer URL")
        .send(ENTER)
        .expect("(http://127.0.0.1:8000/mcp)")
        .send(ENTER)
        .expect("Public URL of the MCP endpoint")
        .send(ENTER)
        .expect("Scopes (comma-separated)")
        .send(ENTER)
        .expect("Accept all")
        .send(ENTER)
        .expect("Apply these changes?")
        .send(ENTER)
        .expect("     Created src/auth/mod.rs");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");

    let flags = copy();
    assert_cmd::Command::cargo_bin("mcp-builder")
        .unwrap()
        .args([
            "add-auth",
            "--no-verify",
            "--add-http",
            "--provider",
            "dev",
            "--yes",
            "--path",
        ])
        .arg(flags.path())
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    assert_same_tree(dir.path(), flags.path());
}

/// The end of a dialog: the proposed hierarchy (Enter), the go-ahead
/// (Enter), the files written.
fn accept_hierarchy_and_apply(dialog: &mut Dialog) {
    dialog
        .expect("Scope hierarchy")
        .expect("None (each scope grants only itself)")
        .send(ENTER)
        .expect("Apply these changes?")
        .send(ENTER)
        .expect("     Created src/auth/mod.rs");
}

/// The dialog's answers for the example with the development scopes, as
/// the flags give them (no `.env`: every value is typed).
fn typed_domain_and_audience(dialog: &mut Dialog) -> &mut Dialog {
    dialog
        .expect("Auth0 domain (no https://)")
        .send("tasks-test.auth0.com")
        .send(ENTER)
        .expect("API audience (an https URL)")
        .send("https://tasks.example.com/mcp")
        .send(ENTER)
}

/// The dialog on the example without `.env`, domain and audience typed,
/// up to the scopes, whose proposal is taken out of the field (Ctrl-U).
fn dialog_to_empty_scopes(dir: &Path) -> Dialog {
    let mut dialog = Dialog::start(dir, &[]);
    dialog.accept_provider();
    typed_domain_and_audience(&mut dialog)
        .expect("Public URL of the MCP endpoint")
        .send(ENTER)
        .expect("read:tasks,write:tasks,delete:tasks")
        .send(CTRL_U);
    dialog
}

#[test]
fn escape_goes_back_one_question_keeping_the_answers_given() {
    let dir = example_copy();
    let mut dialog = Dialog::start(dir.path(), &[]);
    dialog.accept_provider();
    typed_domain_and_audience(&mut dialog)
        .expect("Public URL of the MCP endpoint")
        // Back to the audience, then the domain: each offers what was typed.
        .send(ESCAPE)
        .expect("API audience (an https URL) (https://tasks.example.com/mcp)")
        .send(ESCAPE)
        .expect("Auth0 domain (no https://) (tasks-test.auth0.com)")
        // Back to the provider menu, Auth0 still chosen.
        .send(ESCAPE)
        .expect("Identity provider")
        .expect("WorkOS AuthKit")
        .send(ENTER)
        .expect("Auth0 domain (no https://) (tasks-test.auth0.com)")
        .send(ENTER)
        .expect("API audience (an https URL) (https://tasks.example.com/mcp)")
        .send(ENTER)
        .expect("Public URL of the MCP endpoint")
        .send(ENTER)
        .expect("read:tasks,write:tasks,delete:tasks")
        .send(ENTER)
        .expect("Accept all")
        // From the tool scopes back to the scopes, and forward again.
        .send(ESCAPE)
        .expect("Scopes (comma-separated)")
        .expect("read:tasks,write:tasks,delete:tasks")
        .send(ENTER)
        .expect("Accept all")
        .send(ENTER)
        // From the hierarchy back to the tool scopes.
        .expect("Scope hierarchy")
        .expect("None (each scope grants only itself)")
        .send(ESCAPE)
        .expect("Tool scopes")
        .expect("Edit search-tasks")
        .send(ENTER)
        .expect("Scope hierarchy")
        .expect("None (each scope grants only itself)")
        .send(ENTER)
        // From the final confirmation back to the last question.
        .expect("Apply these changes?")
        .send(ESCAPE);
    accept_hierarchy_and_apply(&mut dialog);
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");
    assert!(
        transcript.contains("(Esc goes back one question; Ctrl-C stops, changing nothing)"),
        "{transcript}"
    );
    let flags = flag_run(|_| {}, EXAMPLE_FLAGS);
    assert_same_tree(dir.path(), flags.path());
}

#[test]
fn a_refused_answer_stays_in_the_field_for_correction() {
    let dir = example_copy();
    let mut dialog = dialog_to_empty_scopes(dir.path());
    dialog
        .send("read:tasks,write tasks")
        .send(ENTER)
        .expect("`write tasks` is not a valid scope")
        .expect("separate scopes with commas")
        // Drawn again with what was typed, not the proposal.
        .expect("Scopes (comma-separated)")
        .expect("read:tasks,write tasks");
    // Mend it: take back " tasks", then finish the list.
    for _ in 0.." tasks".len() {
        dialog.send(BACKSPACE);
    }
    dialog
        .send(":tasks,delete:tasks")
        .send(ENTER)
        .expect("Accept all")
        .send(ENTER);
    accept_hierarchy_and_apply(&mut dialog);
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");
    let flags = flag_run(|_| {}, EXAMPLE_FLAGS);
    assert_same_tree(dir.path(), flags.path());
}

#[test]
fn enter_on_an_empty_domain_says_why_an_answer_is_needed() {
    let dir = example_copy();
    let before = tree(dir.path());
    let mut dialog = Dialog::start(dir.path(), &[]);
    dialog
        .accept_provider()
        .expect("Auth0 domain (no https://)")
        .send(ENTER)
        .expect("an answer is required: tokens are accepted only from the issuer it names (e.g. ")
        .expect("Auth0 domain (no https://)")
        .send("tasks-test.auth0.com")
        .send(ENTER)
        .expect("API audience (an https URL)")
        .send(ENTER)
        .expect("an answer is required: tokens are accepted only when their `aud` names it")
        .ctrl_c()
        .expect("interrupted: nothing was changed");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(130), "{transcript}");
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn accept_all_without_a_delete_scope_gives_the_write_scope_and_says_so() {
    let dir = example_copy();
    let mut dialog = dialog_to_empty_scopes(dir.path());
    dialog
        .send("read:tasks,write:tasks")
        .send(ENTER)
        .expect("delete-task   write:tasks")
        .expect("Accept all")
        .send(ENTER)
        .expect(
            "note: the scopes has no delete scope, so the tool that deletes needs `write:tasks`, \
             the broadest scope given: delete-task",
        );
    accept_hierarchy_and_apply(&mut dialog);
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");
    assert!(!transcript.contains("pick one with Edit"), "{transcript}");

    // --yes resolves the same case the same way.
    // (EXAMPLE_FLAGS begins with the provider, domain and audience.)
    let flags = [
        &EXAMPLE_FLAGS[..6],
        &["--scopes", "read:tasks,write:tasks", "--yes"],
    ]
    .concat();
    let flags = flag_run(|_| {}, &flags);
    assert_same_tree(dir.path(), flags.path());
}

#[test]
fn the_confirmation_shows_the_diff_then_asks_again() {
    let dir = example_copy();
    fs::write(dir.path().join(".env"), DOTENV).unwrap();
    let before = tree(dir.path());
    let mut dialog = dialog_to_the_confirmation(dir.path());
    dialog
        .expect("Apply these changes? (Y/n, d shows the diff)")
        .send("d")
        .expect("--- /dev/null")
        .expect("+++ b/src/auth/mod.rs")
        .expect("+++ b/src/main.rs")
        .expect("Apply these changes? (Y/n, d shows the diff)")
        .send("n")
        .expect("nothing was changed");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");
    assert_eq!(tree(dir.path()), before, "n after the diff must not write");
}

#[test]
fn ctrl_c_in_the_provider_menu_leaves_no_menu_on_screen() {
    let dir = example_copy();
    let before = tree(dir.path());
    let mut dialog = Dialog::start(dir.path(), &[]);
    dialog
        .expect("Identity provider")
        .expect("WorkOS AuthKit")
        .ctrl_c()
        .expect("interrupted: nothing was changed");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(130), "{transcript}");
    assert_eq!(tree(dir.path()), before);
    let screen = screen(&transcript);
    assert!(
        screen
            .iter()
            .any(|line| line.contains("Found `tasks-server`")),
        "what came before the menu stays:\n{}",
        screen.join("\n")
    );
    assert!(
        screen
            .iter()
            .all(|line| !line.contains("Identity provider") && !line.contains(" - ")),
        "the menu is still on screen:\n{}",
        screen.join("\n")
    );
    ends_interrupted(&screen);
}

/// The last line on `screen` is the interrupt's message.
fn ends_interrupted(screen: &[String]) {
    assert_eq!(
        screen
            .iter()
            .rfind(|line| !line.is_empty())
            .map(String::as_str),
        Some("interrupted: nothing was changed"),
        "{}",
        screen.join("\n")
    );
}

/// What a terminal of console's default width (80 columns: the pty reports
/// no size) shows after `output`: text, CR, LF, automatic wrapping, and the
/// cursor and erase sequences the dialog writes (CSI A B C D G K J); other
/// sequences (colours, cursor visibility) change nothing on screen.
fn screen(output: &str) -> Vec<String> {
    const COLUMNS: usize = 80;
    // rexpect hands over each byte as a char: decode the UTF-8 again.
    let output = if output.chars().all(|c| u32::from(c) < 0x100) {
        let bytes: Vec<u8> = output.chars().map(|c| u32::from(c) as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        output.to_string()
    };
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut column, mut pending_wrap) = (0usize, 0usize, false);
    let mut chars = output.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => (column, pending_wrap) = (0, false),
            '\n' => (row, pending_wrap) = (row + 1, false),
            '\x1b' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut parameters = String::new();
                let mut last = ' ';
                for next in chars.by_ref() {
                    if next.is_ascii_alphabetic() || next == '~' {
                        last = next;
                        break;
                    }
                    parameters.push(next);
                }
                let n: usize = parameters
                    .trim_start_matches('?')
                    .parse()
                    .unwrap_or(1)
                    .max(1);
                let erase: usize = parameters.parse().unwrap_or(0);
                match last {
                    'A' => row = row.saturating_sub(n),
                    'B' => row += n,
                    'C' => column = (column + n).min(COLUMNS - 1),
                    'D' => column = column.saturating_sub(n),
                    'G' => column = (n - 1).min(COLUMNS - 1),
                    'K' => {
                        rows.resize(rows.len().max(row + 1), Vec::new());
                        match erase {
                            2 => rows[row].clear(),
                            _ => rows[row].truncate(column),
                        }
                    }
                    'J' => {
                        rows.resize(rows.len().max(row + 1), Vec::new());
                        rows[row].truncate(column);
                        rows.truncate(row + 1);
                    }
                    _ => continue,
                }
                pending_wrap = false;
            }
            c if c.is_control() => {}
            c => {
                if pending_wrap {
                    (row, column, pending_wrap) = (row + 1, 0, false);
                }
                rows.resize(rows.len().max(row + 1), Vec::new());
                let line = &mut rows[row];
                if line.len() <= column {
                    line.resize(column + 1, ' ');
                }
                line[column] = c;
                if column + 1 == COLUMNS {
                    pending_wrap = true;
                } else {
                    column += 1;
                }
            }
        }
    }
    rows.into_iter()
        .map(|line| line.into_iter().collect::<String>().trim_end().to_string())
        .collect()
}

#[test]
fn escape_at_an_edited_file_or_the_confirmation_goes_back_into_the_dialog() {
    let (dir, _) = protected_with_edited_policy();
    let before = tree(dir.path());
    // Without --resource-url the dialog asks one question, pre-filled.
    let mut flags = changed_scope_flags();
    assert_eq!(flags[flags.len() - 2], "--resource-url");
    flags.truncate(flags.len() - 2);
    let mut dialog = Dialog::start(dir.path(), &flags);
    // The URL question (Enter takes the recorded answer), then the file's.
    let to_the_file = |dialog: &mut Dialog| {
        dialog
            .expect("Public URL of the MCP endpoint (https://tasks.example.com/mcp)")
            .send(ENTER)
            .expect("You changed `src/auth/policy.rs` since add-auth generated it")
            .expect("show the diff");
    };
    to_the_file(&mut dialog);
    dialog.send(ESCAPE);
    to_the_file(&mut dialog);
    // Keep it, then back from the confirmation.
    dialog
        .send(ENTER)
        .expect("Apply these changes?")
        .send(ESCAPE);
    to_the_file(&mut dialog);
    dialog
        .send(ENTER)
        .expect("Apply these changes?")
        .send("n")
        .expect("nothing was changed");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(0), "{transcript}");
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn ctrl_c_at_a_wrapped_refused_answer_leaves_a_clean_screen() {
    let dir = example_copy();
    let mut dialog = Dialog::start(dir.path(), &[]);
    // Longer than a row: the field wraps, before and after the refusal.
    let long = "tasks.example.com/".repeat(6);
    dialog
        .accept_provider()
        .expect("Auth0 domain (no https://)")
        .send("tasks-test.auth0.com")
        .send(ENTER)
        .expect("API audience (an https URL)")
        .send(&long)
        .send(ENTER)
        .expect("is not")
        .expect("API audience (an https URL)")
        .expect(&long[long.len() - 20..])
        .ctrl_c()
        .expect("interrupted: nothing was changed");
    let (code, transcript) = dialog.finish();
    assert_eq!(code, Some(130), "{transcript}");
    let screen = screen(&transcript);
    let shown = screen.join("\n");
    assert!(
        shown.contains("Identity provider · Auth0")
            && shown.contains("Auth0 domain (no https://) · tasks-test.auth0.com"),
        "answered questions stay:\n{shown}"
    );
    assert!(
        !shown.contains("Development issuer"),
        "the answered menu left items on screen:\n{shown}"
    );
    assert!(
        !shown.contains("API audience") && !shown.contains("tasks.example.com/tasks"),
        "the prompt, its refusal or the typed text is still on screen:\n{shown}"
    );
    ends_interrupted(&screen);
}
