//! `mcp-builder auth doctor` on the bundled example as add-auth protects it
//! (inside a git repository, everything committed but the git-ignored
//! `.env`): every item of the security checklist passes; then each item is
//! broken in turn and reported with the right status, file and line, and
//! exit 1 when it fails. Nothing here compiles the generated project.

mod support;

use std::{fs, path::Path, process::Command as Process};

use assert_cmd::Command;
use serde_json::Value;
use support::project::{EXAMPLE, EXAMPLE_FLAGS, copy_project, run_add_auth, tree};
use tempfile::TempDir;

/// Settings a developer's shell might export, which would override `.env`.
const OVERRIDES: &[&str] = &[
    "MCP_RESOURCE_URL",
    "MCP_ALLOWED_ORIGINS",
    "MCP_AUTH_AUDIT_LOG",
    "MCP_AUTH_JWKS_URL",
    "MCP_AUTH_ISSUER",
    "AUTH0_DOMAIN",
    "AUTH0_AUDIENCE",
];

const IDS: [&str; 10] = [
    "keys",
    "tools-mapped",
    "scopes-granular",
    "audit",
    "dotenv-git",
    "secrets",
    "generated",
    "http-loopback",
    "origins",
    "dev-issuer",
];

/// A copy of the example protected by add-auth with `flags`.
fn protected_with(flags: &[&str]) -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_project(Path::new(EXAMPLE), dir.path());
    let (ok, stderr) = run_add_auth(dir.path(), flags);
    assert!(ok, "add-auth failed: {stderr}");
    dir
}

/// The example protected with the README's flags, in a git repository
/// where everything but `.env` is committed.
fn protected() -> TempDir {
    let dir = protected_with(EXAMPLE_FLAGS);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "protected"]);
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let status = Process::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?}");
}

/// Runs `auth doctor --json`: the exit code and the document.
fn doctor(dir: &Path) -> (i32, Value) {
    let (code, stdout, _) = run(dir, &["--json"]);
    let document = serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"));
    (code, document)
}

/// Runs `auth doctor` with `args`: exit code, stdout, stderr.
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run_with(dir, args, &[])
}

/// [`run`] with variables set in its environment.
fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::cargo_bin("mcp-builder").unwrap();
    command.envs(env.iter().copied());
    command
        .args(["auth", "doctor", "--path"])
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .timeout(std::time::Duration::from_secs(60));
    for name in OVERRIDES {
        command.env_remove(name);
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The findings of check `id`.
fn findings<'a>(document: &'a Value, id: &str) -> Vec<&'a Value> {
    document["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["id"] == id)
        .collect()
}

/// The one finding of check `id` (asserting there is one).
fn only<'a>(document: &'a Value, id: &str) -> &'a Value {
    let found = findings(document, id);
    assert_eq!(found.len(), 1, "{id}: {document:#}");
    found[0]
}

/// What a finding should say: its status, its file, the text of its
/// line in that file (`None`: no line), and words of its detail.
struct Expected<'a> {
    status: &'a str,
    file: &'a str,
    line: Option<&'a str>,
    says: &'a str,
}

/// Asserts that `finding` is what `expected` describes, in the project at `dir`.
fn assert_finding(dir: &Path, finding: &Value, expected: Expected) {
    let line = expected
        .line
        .map(|needle| line_of(dir, expected.file, needle));
    assert_eq!(finding["status"], expected.status, "{finding:#}");
    assert_eq!(finding["file"], expected.file, "{finding:#}");
    assert_eq!(finding["line"], serde_json::json!(line), "{finding:#}");
    let detail = finding["detail"].as_str().unwrap();
    assert!(detail.contains(expected.says), "{finding:#}");
}

/// Asserts that check `id` found exactly one thing, as `expected` says.
fn assert_only(dir: &Path, document: &Value, id: &str, expected: Expected) {
    assert_finding(dir, only(document, id), expected);
}

/// Every check other than `except` passed.
fn others_pass(document: &Value, except: &[&str]) {
    for id in IDS.iter().filter(|id| !except.contains(id)) {
        assert_eq!(only(document, id)["status"], "pass", "{id}: {document:#}");
    }
}

/// The 1-based line of `file` in `dir` holding `needle`.
fn line_of(dir: &Path, file: &str, needle: &str) -> usize {
    let text = fs::read_to_string(dir.join(file)).unwrap();
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in {file}"))
        + 1
}

fn append(dir: &Path, file: &str, text: &str) {
    let mut contents = fs::read_to_string(dir.join(file)).unwrap();
    contents.push_str(text);
    fs::write(dir.join(file), contents).unwrap();
}

#[test]
fn a_freshly_protected_project_passes_every_item() {
    let dir = protected();
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0, "{document:#}");
    // The example's endpoint is public: the one warning until origins are listed.
    others_pass(&document, &["origins"]);
    let origins = Expected {
        status: "warn",
        file: ".env",
        line: Some("MCP_RESOURCE_URL="),
        says: "only from its own origin `https://tasks.example.com` (the default)",
    };
    assert_only(dir.path(), &document, "origins", origins);
    let rule = Expected {
        status: "pass",
        file: ".gitignore",
        line: Some(".env"),
        says: "git-ignored and not committed",
    };
    assert_only(dir.path(), &document, "dotenv-git", rule);
    let table = line_of(dir.path(), "src/auth/policy.rs", "TOOL_SCOPES:");
    let tools = only(&document, "tools-mapped");
    assert_eq!(tools["line"], table, "{tools:#}");
    assert!(tools["detail"].as_str().unwrap().contains("all 3 tools"));

    let listed = "https://tasks.example.com,https://app.example.com";
    append(
        dir.path(),
        ".env",
        &format!("MCP_ALLOWED_ORIGINS={listed}\n"),
    );
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0);
    others_pass(&document, &[]);
    assert_eq!(document["checks"].as_array().unwrap().len(), IDS.len());

    let (code, stdout, _) = run(dir.path(), &[]);
    assert_eq!(code, 0);
    assert!(stdout.contains("  PASS  keys "), "{stdout}");
    let at = line_of(dir.path(), ".env", "MCP_ALLOWED_ORIGINS");
    let origins = format!(".env:{at}: browsers may call from: {listed}\n");
    assert!(stdout.contains(&origins), "{stdout}");
    assert!(
        stdout.ends_with("10 passed, 0 warnings, 0 failed\n"),
        "{stdout}"
    );
}

#[test]
fn the_json_document_has_one_entry_per_finding() {
    let dir = protected();
    let (_, document) = doctor(dir.path());
    let keys: Vec<&String> = document.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["path", "checks", "summary", "passed"]);
    assert_eq!(document["path"], dir.path().display().to_string());
    assert_eq!(document["passed"], true);
    assert_eq!(
        document["summary"],
        serde_json::json!({ "passed": 9, "warnings": 1, "failed": 0 })
    );
    for check in document["checks"].as_array().unwrap() {
        let fields: Vec<&String> = check.as_object().unwrap().keys().collect();
        assert_eq!(
            fields,
            ["id", "status", "detail", "file", "line"],
            "{check}"
        );
        assert!(["pass", "warn", "fail"].contains(&check["status"].as_str().unwrap()));
        assert!(check["line"].is_null() || check["line"].is_u64());
    }
    let ids: Vec<&str> = document["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| check["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, IDS);
}

#[test]
fn a_committed_dotenv_fails() {
    let dir = protected();
    git(dir.path(), &["add", "-f", ".env"]);
    git(dir.path(), &["commit", "-q", "-m", "oops"]);
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let committed = Expected {
        status: "fail",
        file: ".env",
        line: None,
        says: "git rm --cached .env",
    };
    assert_only(dir.path(), &document, "dotenv-git", committed);
    others_pass(&document, &["dotenv-git", "origins"]);
}

#[test]
fn outside_git_it_warns_that_it_cannot_tell() {
    let dir = protected_with(EXAMPLE_FLAGS);
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0, "a warning does not fail");
    let unknown = Expected {
        status: "warn",
        file: ".env",
        line: None,
        says: "not a git repository",
    };
    assert_only(dir.path(), &document, "dotenv-git", unknown);
}

#[test]
fn a_secret_or_token_in_the_state_or_manifest_fails() {
    let dir = protected();
    let state = fs::read_to_string(dir.path().join("mcp-builder.json")).unwrap();
    let state = state.replacen(
        "\"provider\": \"auth0\",",
        "\"provider\": \"auth0\",\n    \"client_secret\": \"s3cr3t-value\",",
        1,
    );
    fs::write(dir.path().join("mcp-builder.json"), state).unwrap();
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MX0.c2lnbmF0dXJlLWJ5dGVz";
    let metadata = format!("\n[package.metadata.demo]\nnote = \"{jwt}\"\n");
    append(dir.path(), "Cargo.toml", &metadata);
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let found = findings(&document, "secrets");
    assert_eq!(found.len(), 2, "{document:#}");
    let secret = Expected {
        status: "fail",
        file: "mcp-builder.json",
        line: Some("client_secret"),
        says: "`client_secret` has a value",
    };
    assert_finding(dir.path(), found[0], secret);
    let token = Expected {
        status: "fail",
        file: "Cargo.toml",
        line: Some(jwt),
        says: "a token (a JWT)",
    };
    assert_finding(dir.path(), found[1], token);
}

#[test]
fn a_new_tool_without_a_scope_fails_at_its_line() {
    let dir = protected();
    let path = dir.path().join("src/tasks.rs");
    let source = fs::read_to_string(&path).unwrap().replacen(
        "    }\n}\n\n#[tool_handler",
        "    }\n\n    #[tool(name = \"archive-task\", description = \"Archive a task\")]\n    fn archive_task(&self) -> String {\n        String::new()\n    }\n}\n\n#[tool_handler",
        1,
    );
    fs::write(&path, source).unwrap();
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let unmapped = Expected {
        status: "fail",
        file: "src/tasks.rs",
        line: Some("name = \"archive-task\""),
        says: "tool `archive-task` has no entry in `TOOL_SCOPES`",
    };
    assert_only(dir.path(), &document, "tools-mapped", unmapped);
}

#[test]
fn one_scope_for_every_tool_warns() {
    // The example's flags with one scope, `tasks`, for everything.
    let flags: Vec<String> = EXAMPLE_FLAGS
        .iter()
        .map(|flag| match flag.split_once('=') {
            Some((tool, _)) => format!("{tool}=tasks"),
            None if flag.contains(":tasks") => "tasks".to_string(),
            None => flag.to_string(),
        })
        .collect();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let dir = protected_with(&flags);
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0);
    let coarse = Expected {
        status: "warn",
        file: "src/auth/policy.rs",
        line: Some("TOOL_SCOPES:"),
        says: "(`tasks`) guards all 3 tools",
    };
    assert_only(dir.path(), &document, "scopes-granular", coarse);
}

#[test]
fn a_challenge_for_every_scope_warns() {
    let dir = protected();
    let path = dir.path().join("mcp-builder.json");
    let state = fs::read_to_string(&path).unwrap().replacen(
        "\"provider\": \"auth0\",",
        "\"provider\": \"auth0\",\n    \"challenge_scopes\": [\"read:tasks\", \"write:tasks\", \"delete:tasks\"],",
        1,
    );
    fs::write(&path, state).unwrap();
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0);
    let catalogue = Expected {
        status: "warn",
        file: "mcp-builder.json",
        line: Some("\"challenge_scopes\""),
        says: "a 401 challenge asks for every scope",
    };
    assert_only(dir.path(), &document, "scopes-granular", catalogue);
}

#[test]
fn an_edited_generated_file_warns_and_a_deleted_one_fails() {
    let dir = protected();
    append(dir.path(), "src/auth/caller.rs", "// a local change\n");
    let before = tree(dir.path());
    let (code, document) = doctor(dir.path());
    assert!(tree(dir.path()) == before, "auth doctor changed a file");
    assert_eq!(code, 0, "an edit is listed, not failed");
    let last = line_of(dir.path(), "src/auth/caller.rs", "// a local change");
    let says = format!("was edited since add-auth wrote it, at line {last}:");
    let edited = || Expected {
        status: "warn",
        file: "src/auth/caller.rs",
        line: Some("// a local change"),
        says: &says,
    };
    assert_only(dir.path(), &document, "generated", edited());

    fs::remove_file(dir.path().join("src/auth/testing.rs")).unwrap();
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let found = findings(&document, "generated");
    assert_eq!(found.len(), 2, "{document:#}");
    assert_finding(dir.path(), found[0], edited());
    let missing = Expected {
        status: "fail",
        file: "src/auth/testing.rs",
        line: None,
        says: "is missing",
    };
    assert_finding(dir.path(), found[1], missing);
}

/// An edit kept with `add-auth --adopt` is the user's: not warned about.
#[test]
fn an_edit_kept_with_adopt_passes() {
    let dir = protected();
    append(dir.path(), "src/auth/caller.rs", "// a local change\n");
    let (ok, stderr) = run_add_auth(dir.path(), &["--adopt", "src/auth/caller.rs", "--yes"]);
    assert!(ok, "{stderr}");
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0, "{document:#}");
    let generated = only(&document, "generated");
    assert_eq!(generated["status"], "pass", "{document:#}");
    assert!(
        generated["detail"]
            .as_str()
            .unwrap()
            .ends_with("as add-auth wrote them or kept as yours (1 kept with `add-auth --adopt`)"),
        "{document:#}"
    );
}

#[test]
fn plain_http_to_a_public_host_fails() {
    let dir = protected();
    let urls = "MCP_AUTH_ISSUER=http://127.0.0.1:9000/\nMCP_AUTH_JWKS_URL=http://keys.example.com/jwks.json\n";
    append(dir.path(), ".env", urls);
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let public = Expected {
        status: "fail",
        file: ".env",
        line: Some("MCP_AUTH_JWKS_URL"),
        says: "`MCP_AUTH_JWKS_URL` is `http://keys.example.com/jwks.json`",
    };
    assert_only(dir.path(), &document, "http-loopback", public);
}

#[test]
fn a_private_key_in_dotenv_fails() {
    let dir = protected();
    let key = "MCP_AUTH_SIGNING_KEY=\"-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\"\n";
    append(dir.path(), ".env", key);
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let pem = Expected {
        status: "fail",
        file: ".env",
        line: Some("BEGIN PRIVATE KEY"),
        says: "a private key (PEM)",
    };
    assert_only(dir.path(), &document, "keys", pem);
}

#[test]
fn a_private_key_in_the_environment_fails() {
    let dir = protected();
    append(dir.path(), ".env.example", "MCP_AUTH_SIGNING_KEY=\n");
    let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBYr\n-----END EC PRIVATE KEY-----";
    let (code, stdout, _) = run_with(dir.path(), &["--json"], &[("MCP_AUTH_SIGNING_KEY", pem)]);
    assert_eq!(code, 1);
    let document: Value = serde_json::from_str(&stdout).unwrap();
    let found = only(&document, "keys");
    assert_eq!(found["status"], "fail");
    assert_eq!(found["file"], Value::Null);
    let detail = found["detail"].as_str().unwrap();
    assert!(
        detail.contains("`MCP_AUTH_SIGNING_KEY` holds a private key"),
        "{detail}"
    );
}

#[test]
fn a_jwt_secret_in_a_committed_file_fails() {
    let dir = protected();
    append(dir.path(), ".env.example", "APP_JWT_SECRET=not-so-secret\n");
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let committed = Expected {
        status: "fail",
        file: ".env.example",
        line: Some("APP_JWT_SECRET"),
        says: "a file that is committed",
    };
    assert_only(dir.path(), &document, "keys", committed);
}

#[test]
fn the_legacy_supabase_shared_secret_warns() {
    let dir = protected_with(&[
        "--provider",
        "supabase",
        "--project-ref",
        "abcdefghijklmnop",
        "--supabase-jwt-secret-env",
        "SUPABASE_JWT_SECRET",
        "--resource-url",
        "https://tasks.example.com/mcp",
        "--yes",
    ]);
    let secret = "SUPABASE_JWT_SECRET=0123456789abcdef0123456789abcdef\n";
    append(dir.path(), ".env", secret);
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0, "{document:#}");
    let legacy = Expected {
        status: "warn",
        file: ".env",
        line: Some("SUPABASE_JWT_SECRET="),
        says: "legacy Supabase shared-secret mode",
    };
    assert_only(dir.path(), &document, "keys", legacy);

    append(dir.path(), ".env.example", secret);
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let found = findings(&document, "keys");
    assert_eq!(found.len(), 2, "{document:#}");
    let committed = Expected {
        status: "fail",
        file: ".env.example",
        line: Some("SUPABASE_JWT_SECRET=0"),
        says: "`SUPABASE_JWT_SECRET` holds a token-verification secret",
    };
    assert_finding(dir.path(), found[0], committed);
}

#[test]
fn audit_records_thrown_away_or_no_longer_written_fail() {
    let dir = protected();
    append(dir.path(), ".env", "MCP_AUTH_AUDIT_LOG=/dev/null\n");
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let discarded = Expected {
        status: "fail",
        file: ".env",
        line: Some("MCP_AUTH_AUDIT_LOG"),
        says: "throws every audit record away",
    };
    assert_only(dir.path(), &document, "audit", discarded);

    let dir = protected();
    let path = dir.path().join("src/auth/middleware.rs");
    let middleware = fs::read_to_string(&path).unwrap();
    assert!(middleware.contains("audit.allowed("));
    fs::write(&path, middleware.replace("audit.allowed(", "drop(")).unwrap();
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 1);
    let unwired = Expected {
        status: "fail",
        file: "src/auth/middleware.rs",
        line: None,
        says: "no longer calls `.allowed(`",
    };
    assert_only(dir.path(), &document, "audit", unwired);

    let dir = protected();
    append(
        dir.path(),
        ".env",
        "MCP_AUTH_AUDIT_LOG=/var/log/tasks-audit.jsonl\n",
    );
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0);
    let kept = Expected {
        status: "pass",
        file: ".env",
        line: Some("MCP_AUTH_AUDIT_LOG"),
        says: "appended to `/var/log/tasks-audit.jsonl`",
    };
    assert_only(dir.path(), &document, "audit", kept);
}

#[test]
fn origins_are_needed_only_for_a_public_resource() {
    let dir = protected();
    append(
        dir.path(),
        ".env",
        "MCP_ALLOWED_ORIGINS=https://app.example.com/mcp\n",
    );
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0);
    let with_path = Expected {
        status: "warn",
        file: ".env",
        line: Some("MCP_ALLOWED_ORIGINS"),
        says: "`https://app.example.com/mcp`, which is not an exact origin",
    };
    assert_only(dir.path(), &document, "origins", with_path);

    let dir = protected();
    let env = fs::read_to_string(dir.path().join(".env"))
        .unwrap()
        .replace(
            "MCP_RESOURCE_URL=https://tasks.example.com/mcp",
            "MCP_RESOURCE_URL=http://127.0.0.1:8000/mcp",
        );
    fs::write(dir.path().join(".env"), env).unwrap();
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0);
    others_pass(&document, &[]);
    let local = Expected {
        status: "pass",
        file: ".env",
        line: Some("MCP_RESOURCE_URL="),
        says: "is loopback",
    };
    assert_only(dir.path(), &document, "origins", local);
}

#[test]
fn the_development_issuer_warns() {
    let dir = protected_with(&["--provider", "dev", "--yes"]);
    let (code, document) = doctor(dir.path());
    assert_eq!(code, 0, "{document:#}");
    let dev = Expected {
        status: "warn",
        file: "mcp-builder.json",
        line: Some("\"provider\": \"dev\""),
        says: "never deploy it",
    };
    assert_only(dir.path(), &document, "dev-issuer", dev);
    others_pass(&document, &["dev-issuer", "dotenv-git"]);
}

#[test]
fn without_a_state_file_it_is_a_usage_error() {
    let dir = TempDir::new().unwrap();
    let (code, stdout, stderr) = run(dir.path(), &[]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    let refusal = "has no `mcp-builder.json`: auth doctor works on a project protected by add-auth\nhelp: run `mcp-builder add-auth` there first";
    assert!(stderr.contains(refusal), "{stderr}");
}
