//! Fixture trees: each case under `tests/fixtures/trees/<case>/` is a
//! project, the commands run on it, and the expected result.
//!
//! - `steps`: one step a line (`#` comments). `base example` (the bundled
//!   example) or `base shapes/<name>` (a layout fixture) comes first; then
//!   `run CODE ARGS..` runs mcp-builder (`$ROOT` is the project, `$FLAGS` the
//!   example's add-auth flags) and expects exit code CODE; `replace PATH FROM
//!   => TO` edits a file of the project (`\n` for line breaks); `append PATH
//!   TEXT` appends a line.
//! - `in/` (optional): files laid over the base before the steps.
//! - `out/`: every file that, after the steps, differs from the input tree
//!   or is new; `deleted`: the input files that are gone. The comparison is
//!   of the whole tree: every other file must be byte for byte as it was.
//! - `stderr`, `stdout`: of every `run`, each after a `$ mcp-builder ..` line.
//!
//! Generated module files that are exactly what `mcp-builder.json` records
//! are compared as `<generated>` (the module has its own snapshots), and the
//! hashes in `mcp-builder.json` (and in diffs on stdout) as `<sha256>`; a
//! generated file the user changed is compared in full. On stdout, the
//! diffs that create or delete a whole generated file keep their headers.
//!
//! `TREES_UPDATE=1 cargo test --test trees` rewrites the expectations;
//! review them with `git diff tests/fixtures/trees`.

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

use support::project::{EXAMPLE, EXAMPLE_FLAGS, copy_project};

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/trees");
const SHAPES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shapes");

type Tree = BTreeMap<String, Vec<u8>>;

fn tree(dir: &Path) -> Tree {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let path = entry.path().strip_prefix(dir).unwrap();
            let key = path
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            (key, fs::read(entry.path()).unwrap())
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Replaces pristine generated files by `<generated>` and hashes in state
/// files by `<sha256>`.
fn redact(tree: &Tree) -> Tree {
    let mut pristine = BTreeSet::new();
    for (path, bytes) in tree {
        let Some(dir) = path.strip_suffix("mcp-builder.json") else {
            continue;
        };
        let Ok(state) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            continue;
        };
        let files = state
            .pointer("/generator/files")
            .and_then(|f| f.as_object());
        for (file, hash) in files.into_iter().flatten() {
            let full = format!("{dir}{file}");
            if tree.get(&full).map(|b| sha256_hex(b)).as_deref() == hash.as_str() {
                pristine.insert(full);
            }
        }
    }
    let hash = regex_free_hash_redaction;
    tree.iter()
        .map(|(path, bytes)| {
            let bytes = if pristine.contains(path) {
                b"<generated>\n".to_vec()
            } else if path.ends_with("mcp-builder.json") {
                hash(&String::from_utf8_lossy(bytes)).into_bytes()
            } else {
                bytes.clone()
            };
            (path.clone(), bytes)
        })
        .collect()
}

/// `"<64 hex digits>"` -> `"<sha256>"`.
fn regex_free_hash_redaction(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('"') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let hex = rest.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        // Every quote may open a hash: quotes in the rest of the text
        // (diffs of source files) need not pair up.
        if hex == 64 && rest[64..].starts_with('"') {
            out.push_str("<sha256>");
            rest = &rest[64..];
        }
    }
    out.push_str(rest);
    out
}

/// Creations and deletions of generated module files (`/auth/`) in a diff
/// keep their headers only: the module has its own snapshots.
fn collapse_generated_diffs(diff: &str) -> String {
    let mut out = String::new();
    let mut lines = diff.lines().peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        let Some(next) = lines.peek() else { break };
        let whole_file = line.starts_with("--- ")
            && next.starts_with("+++ ")
            && (line.ends_with("/dev/null") || next.ends_with("/dev/null"))
            && (line.contains("/auth/") || next.contains("/auth/"));
        if whole_file {
            out.push_str(lines.next().unwrap());
            out.push_str("\n[whole generated file]\n");
            while lines
                .peek()
                .is_some_and(|l| !l.starts_with("--- ") && !l.starts_with("$ "))
            {
                lines.next();
            }
        }
    }
    out
}

struct Outcome {
    before: Tree,
    after: Tree,
    stderr: String,
    stdout: String,
}

fn run_case(case: &Path) -> Outcome {
    let steps = fs::read_to_string(case.join("steps")).unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let root = dir.path().join("project");
    let mut lines = steps
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    match lines.next().unwrap().split_whitespace().collect::<Vec<_>>()[..] {
        ["base", "example"] => copy_project(Path::new(EXAMPLE), &root),
        ["base", shape] => copy_project(
            &Path::new(SHAPES).join(shape.strip_prefix("shapes/").unwrap()),
            &root,
        ),
        ref other => panic!("first step must be `base ..`, not {other:?}"),
    }
    if case.join("in").is_dir() {
        copy_project(&case.join("in"), &root);
    }
    let before = tree(&root);
    let root_text = root.to_string_lossy().into_owned();
    let canonical = fs::canonicalize(&root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let (mut stderr, mut stdout) = (String::new(), String::new());
    for line in lines {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "run" => {
                let (code, args) = rest.split_once(' ').unwrap();
                let mut argv: Vec<String> = Vec::new();
                for arg in args.split_whitespace() {
                    if arg == "$FLAGS" {
                        argv.extend(EXAMPLE_FLAGS.iter().map(|f| f.to_string()));
                    } else {
                        argv.push(arg.replace("$ROOT", &root_text));
                    }
                }
                // These cases are about files; `cargo check` after writing
                // is tested by `tests/project_tests.rs`.
                if argv.first().is_some_and(|command| command == "add-auth") {
                    argv.insert(1, "--no-verify".into());
                }
                let output = assert_cmd::Command::cargo_bin("mcp-builder")
                    .unwrap()
                    .args(&argv)
                    .env("NO_COLOR", "1")
                    .write_stdin("")
                    .output()
                    .unwrap();
                let header = format!("$ mcp-builder {args}\n");
                let clean = |bytes: &[u8]| {
                    String::from_utf8_lossy(bytes)
                        .replace(&canonical, "[ROOT]")
                        .replace(&root_text, "[ROOT]")
                };
                stderr.push_str(&header);
                stderr.push_str(&clean(&output.stderr));
                stdout.push_str(&header);
                // Diffs of the state file show its hashes.
                stdout.push_str(&collapse_generated_diffs(&regex_free_hash_redaction(
                    &clean(&output.stdout),
                )));
                assert_eq!(
                    output.status.code(),
                    Some(code.parse().unwrap()),
                    "{}: `{line}`\n{stderr}",
                    case.display()
                );
            }
            "replace" => {
                let (path, change) = rest.split_once(' ').unwrap();
                let (from, to) = change.split_once(" => ").unwrap();
                let (from, to) = (from.replace("\\n", "\n"), to.replace("\\n", "\n"));
                let file = root.join(path);
                let text = fs::read_to_string(&file).unwrap();
                assert_eq!(text.matches(&from).count(), 1, "{path}: {from:?}");
                fs::write(&file, text.replacen(&from, &to, 1)).unwrap();
            }
            "append" => {
                let (path, text) = rest.split_once(' ').unwrap();
                let file = root.join(path);
                let old = fs::read_to_string(&file).unwrap();
                fs::write(&file, format!("{old}{text}\n")).unwrap();
            }
            other => panic!("unknown step `{other}`"),
        }
    }
    let after = tree(&root);
    Outcome {
        before,
        after,
        stderr,
        stdout,
    }
}

fn check(name: &str) {
    let case = Path::new(CASES).join(name);
    let outcome = run_case(&case);
    let before = redact(&outcome.before);
    let after = redact(&outcome.after);
    let changed: Tree = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    let deleted: Vec<&String> = before.keys().filter(|p| !after.contains_key(*p)).collect();
    let deleted_text: String = deleted.iter().map(|p| format!("{p}\n")).collect();

    if std::env::var_os("TREES_UPDATE").is_some() {
        let out = case.join("out");
        let _ = fs::remove_dir_all(&out);
        fs::create_dir_all(&out).unwrap();
        for (path, bytes) in &changed {
            let file = out.join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, bytes).unwrap();
        }
        if changed.is_empty() {
            // Keeps an empty `out/` in git.
            fs::write(out.join(".keep"), "").unwrap();
        }
        fs::write(case.join("deleted"), &deleted_text).unwrap();
        fs::write(case.join("stderr"), &outcome.stderr).unwrap();
        fs::write(case.join("stdout"), &outcome.stdout).unwrap();
        return;
    }

    // The expected whole tree: the input, with `out/` laid over it, less `deleted`.
    let mut expected = before.clone();
    let mut expected_out = tree(&case.join("out"));
    expected_out.remove(".keep");
    expected.extend(expected_out);
    let expected_deleted = fs::read_to_string(case.join("deleted")).unwrap_or_default();
    for path in expected_deleted.lines() {
        expected.remove(path);
    }
    let mut problems = String::new();
    let paths: BTreeSet<&String> = expected.keys().chain(after.keys()).collect();
    for path in paths {
        let (want, got) = (expected.get(path), after.get(path));
        if want != got {
            let text = |b: Option<&Vec<u8>>| b.map(|b| String::from_utf8_lossy(b).into_owned());
            problems.push_str(&difference(path, text(want), text(got)));
        }
    }
    for (file, got) in [("stderr", &outcome.stderr), ("stdout", &outcome.stdout)] {
        let want = fs::read_to_string(case.join(file)).ok();
        if want.as_ref() != Some(got) {
            problems.push_str(&difference(file, want, Some(got.clone())));
        }
    }
    assert!(
        problems.is_empty(),
        "{name}: not as expected (TREES_UPDATE=1 rewrites the expectations)\n{problems}"
    );
}

fn difference(what: &str, want: Option<String>, got: Option<String>) -> String {
    let (a, b) = (want.unwrap_or_default(), got.unwrap_or_default());
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .header(&format!("expected {what}"), &format!("actual {what}"))
        .to_string()
}

/// Every case folder has a test below, and every test a folder.
#[test]
fn every_case_is_tested() {
    let mut folders: Vec<String> = fs::read_dir(CASES)
        .unwrap()
        .map(Result::unwrap)
        .filter(|entry| entry.file_type().unwrap().is_dir())
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect();
    folders.sort();
    let source = include_str!("trees.rs");
    for folder in &folders {
        assert!(
            source.contains(&format!("case!({folder});")),
            "no test for tests/fixtures/trees/{folder}"
        );
    }
}

macro_rules! case {
    ($name:ident) => {
        #[test]
        fn $name() {
            check(stringify!($name));
        }
    };
}

case!(first_run);
case!(noop_rerun);
case!(new_tool);
case!(renamed_scope);
case!(edited_generated_file);
case!(edited_generated_file_forced);
case!(dry_run);
case!(check_outdated);
case!(check_up_to_date);
case!(add_then_remove);
case!(add_then_remove_workspace);
case!(remove_keeps_edited_file);
case!(remove_refuses_changed_wiring);
case!(cargo_layouts);
case!(cargo_layouts_removed);
case!(preexisting_settings_kept);
case!(rerun_then_remove);
case!(token_format_switch);
case!(token_format_switch_edited);
case!(adopted_edit);
