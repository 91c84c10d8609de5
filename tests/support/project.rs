//! A user's project on disk: copying it, building it with cargo, and
//! running its server as a child process that is killed on drop.

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The bundled example project.
pub const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tasks-server");

/// `add-auth` flags for the bundled example: the CI form.
pub const EXAMPLE_FLAGS: &[&str] = &[
    "--provider",
    "auth0",
    "--domain",
    "tasks-test.auth0.com",
    "--audience",
    "https://tasks.example.com/mcp",
    "--scopes",
    "read:tasks,write:tasks,delete:tasks",
    "--tool-scope",
    "search-tasks=read:tasks",
    "--tool-scope",
    "create-task=write:tasks",
    "--tool-scope",
    "delete-task=delete:tasks",
    "--yes",
];

/// The target directory of this crate (`<crate>/target` unless
/// `CARGO_TARGET_DIR` moved it): `CARGO_TARGET_TMPDIR` is `<target>/tmp`.
pub fn this_crate_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent")
        .to_path_buf()
}

/// Environment for every cargo run on a generated test project. Each one is
/// built once into the shared target directory, so incremental state and
/// debug info only cost disk (about 10 GB of a full run's 15 GB before):
/// without them the whole suite fits on a small CI disk.
pub const GENERATED_BUILD_ENV: [(&str, &str); 2] =
    [("CARGO_INCREMENTAL", "0"), ("CARGO_PROFILE_DEV_DEBUG", "0")];

/// Copies the directory tree `from` into `to` (created), skipping a
/// top-level `target/` directory.
pub fn copy_project(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|error| panic!("create {}: {error}", to.display()));
    let walker = walkdir::WalkDir::new(from)
        .min_depth(1)
        .into_iter()
        .filter_entry(|entry| !(entry.depth() == 1 && entry.file_name() == "target"));
    for entry in walker {
        let entry = entry.unwrap_or_else(|error| panic!("walk {}: {error}", from.display()));
        let relative = entry
            .path()
            .strip_prefix(from)
            .expect("walked path under root");
        let destination = to.join(relative);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&destination)
                .unwrap_or_else(|error| panic!("create {}: {error}", destination.display()));
        } else if entry.file_type().is_file() {
            fs::copy(entry.path(), &destination).unwrap_or_else(|error| {
                panic!(
                    "copy {} -> {}: {error}",
                    entry.path().display(),
                    destination.display()
                )
            });
        }
    }
}

/// The shapes' fixtures (one small project per shape of real servers).
pub const SHAPES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shapes");

/// Copies the shape `name` of `tests/fixtures/shapes` to `to` with the lock
/// the shapes share (into the fixture's root, the workspace root for the
/// workspace shape).
pub fn copy_shape(name: &str, to: &Path) {
    copy_project(&Path::new(SHAPES).join(name), to);
    fs::copy(Path::new(SHAPES).join("Cargo.lock"), to.join("Cargo.lock"))
        .expect("copy the shapes' shared Cargo.lock");
}

/// Every file under `dir` (path relative to `dir`) with its bytes: what a
/// test compares to prove a run changed nothing, or changed exactly this.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let path = entry.path().strip_prefix(dir).unwrap().to_path_buf();
            (path, fs::read(entry.path()).unwrap())
        })
        .collect()
}

/// Runs `cargo <args>` in `project` with `CARGO_TARGET_DIR=target_dir`,
/// bounded by `timeout`; panics with the captured output unless it succeeds.
pub fn cargo(project: &Path, target_dir: &Path, args: &[&str], timeout: Duration) {
    if let Err(failure) = try_cargo(project, target_dir, args, timeout) {
        panic!("{failure}");
    }
}

/// Like [`cargo`], but returns the failure (command, status, stdout and
/// stderr) instead of panicking.
pub fn try_cargo(
    project: &Path,
    target_dir: &Path,
    args: &[&str],
    timeout: Duration,
) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let output = assert_cmd::Command::new(cargo)
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .envs(GENERATED_BUILD_ENV)
        .timeout(timeout)
        .output()
        .map_err(|error| format!("`cargo {}` did not finish: {error}", args.join(" ")))?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "`cargo {}` in {} failed ({}) after {:.0?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            args.join(" "),
            project.display(),
            output.status,
            elapsed,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ));
    }
    eprintln!("cargo {} ok in {:.1?}", args.join(" "), elapsed);
    Ok(())
}

/// Runs the real `mcp-builder add-auth --path <project> ARGS` (no terminal,
/// `NO_COLOR`), bounded to two minutes; (success, stderr).
pub fn run_add_auth(project: &Path, args: &[&str]) -> (bool, String) {
    let output = assert_cmd::Command::cargo_bin("mcp-builder")
        .expect("the mcp-builder binary")
        .args(["add-auth", "--no-verify", "--path"])
        .arg(project)
        .args(args)
        .env("NO_COLOR", "1")
        .write_stdin("")
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run mcp-builder add-auth");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stderr)
}

/// Removes what earlier runs left in `parent` (a copy of the project and
/// the binary each) once it is an hour old: a run in progress elsewhere
/// keeps its own.
pub fn remove_stale_runs(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| {
                modified.elapsed().unwrap_or_default() > Duration::from_secs(3600)
            });
        if stale {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh copy of the bundled example after add-auth (`--no-verify`,
/// [`EXAMPLE_FLAGS`]), in `<target>/<runs>/<this process id>/tasks-server`;
/// runs there older than an hour are removed first. (run directory, project)
pub fn protected_example_copy(runs: &str) -> (PathBuf, PathBuf) {
    let parent = this_crate_target_dir().join(runs);
    remove_stale_runs(&parent);
    let root = parent.join(std::process::id().to_string());
    let _ = fs::remove_dir_all(&root);
    let project = root.join("tasks-server");
    copy_project(Path::new(EXAMPLE), &project);
    let (ok, stderr) = run_add_auth(&project, EXAMPLE_FLAGS);
    assert!(ok, "add-auth failed\n{stderr}");
    (root, project)
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("find a free port")
        .port()
}

/// A server child process; killed (and its log printed, if the test is
/// failing) on drop.
pub struct ServerProcess {
    child: Child,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `binary` in `cwd` with `env`, stdout and stderr going to `log`.
    pub fn spawn(binary: &Path, cwd: &Path, env: &[(&str, String)], log: PathBuf) -> ServerProcess {
        ServerProcess::spawn_with_args(binary, &[], cwd, env, log)
    }

    /// Like [`ServerProcess::spawn`], with command-line arguments.
    pub fn spawn_with_args(
        binary: &Path,
        args: &[&str],
        cwd: &Path,
        env: &[(&str, String)],
        log: PathBuf,
    ) -> ServerProcess {
        let log_file = fs::File::create(&log)
            .unwrap_or_else(|error| panic!("create {}: {error}", log.display()));
        let log_file_2 = log_file.try_clone().expect("clone the log file handle");
        let mut command = Command::new(binary);
        command
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_file_2);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()));
        ServerProcess { child, log }
    }

    /// The process id (to read its memory use in `/proc`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `GET url` answers 200, at most `limit`; panics with the
    /// server's log if the process exits or the limit passes.
    pub async fn wait_healthy(&mut self, url: &str, limit: Duration) {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("health client");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server process") {
                panic!(
                    "the server exited ({status}) before {url} answered\n--- server log ---\n{}",
                    self.log()
                );
            }
            if let Ok(response) = http.get(url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{url} did not answer 200 within {limit:?}\n--- server log ---\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- server log ({}) ---\n{}",
                self.log.display(),
                self.log()
            );
        }
    }
}
