//! Project copies on disk, cargo builds, and the child processes the
//! benchmark starts (mcp-builder, the servers).
//!
//! A benchmark copy is prepared in a fresh temp directory, then synced into
//! a stable directory under `target/bench/projects/` writing only the files
//! whose content changed. Unchanged files keep their mtime, so a re-run with
//! the same templates rebuilds nothing, and a changed template rebuilds only
//! the project's own crate. Dependencies live in one shared
//! `CARGO_TARGET_DIR` (`target/bench/cargo`).

use std::{
    collections::BTreeSet,
    fs,
    io::Read,
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use walkdir::WalkDir;

/// Copies the tree `from` into `to` (created), skipping a top-level
/// `target/` directory.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for (relative, source) in files_of(from)? {
        let destination = to.join(&relative);
        if let Some(parent) = destination.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create `{}`", parent.display()))?;
        }
        fs::copy(&source, &destination).with_context(|| {
            format!("copy `{}` to `{}`", source.display(), destination.display())
        })?;
    }
    Ok(())
}

/// Makes `to` hold the same files as `from`, touching only files whose
/// content differs. `to/target/` and an existing `to/Cargo.lock` are left
/// alone (the lock file cargo completed on the first build is reused).
pub fn sync_tree(from: &Path, to: &Path) -> Result<()> {
    let wanted = files_of(from)?;
    let mut keep = BTreeSet::new();
    for (relative, source) in &wanted {
        keep.insert(relative.clone());
        let destination = to.join(relative);
        if relative == Path::new("Cargo.lock") && destination.exists() {
            continue;
        }
        let content = fs::read(source).with_context(|| format!("read `{}`", source.display()))?;
        if fs::read(&destination).ok().as_deref() == Some(content.as_slice()) {
            continue;
        }
        if let Some(parent) = destination.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create `{}`", parent.display()))?;
        }
        fs::write(&destination, content)
            .with_context(|| format!("write `{}`", destination.display()))?;
    }
    if to.exists() {
        for (relative, stale) in files_of(to)? {
            if !keep.contains(&relative) && relative != Path::new("Cargo.lock") {
                fs::remove_file(&stale).with_context(|| format!("remove `{}`", stale.display()))?;
            }
        }
    }
    Ok(())
}

/// Every file under `root` (relative path, full path), without `root/target`.
fn files_of(root: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let walker = WalkDir::new(root)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| !(entry.depth() == 1 && entry.file_name() == "target"));
    let mut files = Vec::new();
    for entry in walker {
        let entry = entry.with_context(|| format!("walk `{}`", root.display()))?;
        if entry.file_type().is_file() {
            let relative = entry.path().strip_prefix(root)?.to_path_buf();
            files.push((relative, entry.into_path()));
        }
    }
    Ok(files)
}

/// Whether any `src/**/*.rs` file of the project sets TCP_NODELAY on the
/// sockets it accepts (`set_nodelay`, usually through axum's `tap_io`).
pub fn sets_server_nodelay(project: &Path) -> Result<bool> {
    for (relative, path) in files_of(project)? {
        if relative.starts_with("src") && relative.extension().is_some_and(|ext| ext == "rs") {
            let text =
                fs::read_to_string(&path).with_context(|| format!("read `{}`", path.display()))?;
            if text.contains("set_nodelay") {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The `cargo` that runs this benchmark, or the one on `PATH`.
pub fn cargo_command() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cargo build --release [extra]` in `dir` with `CARGO_TARGET_DIR`
/// `target_dir`, output to `log`, bounded by `limit`. Returns the time taken.
pub fn cargo_build(
    dir: &Path,
    target_dir: &Path,
    extra: &[&str],
    log: &Path,
    limit: Duration,
) -> Result<Duration> {
    let mut command = cargo_command();
    command
        .arg("build")
        .arg("--release")
        .args(extra)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    let started = Instant::now();
    let status = run_logged(command, log, limit)
        .with_context(|| format!("`cargo build --release` in `{}`", dir.display()))?;
    if !status.success() {
        bail!(
            "`cargo build --release` in `{}` failed ({status}); last lines of `{}`:\n{}",
            dir.display(),
            log.display(),
            tail(log, 40)
        );
    }
    Ok(started.elapsed())
}

/// Runs `command` with stdout and stderr to `log`; kills it after `limit`.
pub fn run_logged(mut command: Command, log: &Path, limit: Duration) -> Result<ExitStatus> {
    let file = fs::File::create(log).with_context(|| format!("create `{}`", log.display()))?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .context("start")?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("did not finish within {limit:?} (see `{}`)", log.display());
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The last `lines` lines of a text file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A free port on 127.0.0.1 (bound, then released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A server child process, killed on drop.
pub struct Server {
    pub name: String,
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `binary` listening on `addr` (`TASKS_ADDR`) with `env`, in
    /// `cwd`, output to `log`; waits until `/health` answers 200. The binary
    /// is run by `wrapper` (a program and its arguments, such as valgrind)
    /// when that is not empty.
    pub fn start(
        wrapper: &[String],
        name: &str,
        binary: &Path,
        addr: SocketAddr,
        env: &[(&str, String)],
        cwd: &Path,
        log: PathBuf,
    ) -> Result<Server> {
        let file = fs::File::create(&log).with_context(|| format!("create `{}`", log.display()))?;
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .current_dir(cwd)
            .env("TASKS_ADDR", addr.to_string())
            // The servers log at their default level (info), as users run them.
            .env_remove("RUST_LOG")
            // Plain text in the log files (tracing-subscriber honours NO_COLOR).
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("start `{}`", binary.display()))?;
        let mut server = Server {
            name: name.to_string(),
            addr,
            child,
            log,
        };
        // A wrapped server (valgrind) starts many times slower.
        let limit = if wrapper.is_empty() { 30 } else { 300 };
        server.wait_healthy(Duration::from_secs(limit))?;
        Ok(server)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the server's process has used so far, all threads, user
    /// and system (Linux: `/proc/<pid>/stat`); `None` elsewhere.
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // The kernel reports in USER_HZ, 100 on every Linux ABI.
        Some(Duration::from_millis(ticks * 10))
    }

    fn wait_healthy(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the {} server exited ({status}) before answering; its log:\n{}",
                    self.name,
                    tail(&self.log, 30)
                );
            }
            if health(self.addr).unwrap_or(false) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the {} server did not answer /health within {limit:?}; its log:\n{}",
                    self.name,
                    tail(&self.log, 30)
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Lines of the server's log that contain `needle`.
    pub fn log_lines_with(&self, needle: &str) -> usize {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn health(addr: SocketAddr) -> Result<bool> {
    use std::io::Write;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.starts_with("HTTP/1.1 200"))
}
