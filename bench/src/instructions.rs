//! Instructions per request, counted by valgrind's callgrind.
//!
//! Requests per second on a shared 2-core machine move by several percent
//! from one round to the next; instruction counts do not, so they show what
//! the generated code costs even where the throughput ratio is noise.
//!
//! Each server runs under callgrind. After a warm-up (the JWKS fetch, the
//! token verified once), the counters are dumped (which zeroes them), then
//! a series of `n` requests runs and is dumped, then a series of `2n`. Both
//! series open their session the same way, so the difference of the two
//! dumps, divided by `n`, is the cost of one request: start-up, session
//! set-up and the background tasks' steady ticking largely cancel out.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{
    load::{self, Series},
    project::Server,
};

/// Whether valgrind (with callgrind and `callgrind_control`) is installed.
pub fn available() -> bool {
    let runs = |program: &str| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    runs("valgrind") && runs("callgrind_control")
}

/// A server started under callgrind.
pub struct Counted {
    server: Server,
    out_file: PathBuf,
    dumps: usize,
}

impl Counted {
    /// Starts `binary` under callgrind (see [`Server::start`]).
    pub fn start(
        name: &str,
        binary: &Path,
        addr: std::net::SocketAddr,
        env: &[(&str, String)],
        run_dir: &Path,
        log: PathBuf,
    ) -> Result<Counted> {
        let out_file = run_dir.join(format!("{name}.callgrind"));
        for stale in dumps_of(&out_file)? {
            fs::remove_file(stale)?;
        }
        let wrapper = [
            "valgrind".to_string(),
            "--tool=callgrind".to_string(),
            format!("--callgrind-out-file={}", out_file.display()),
        ];
        let server = Server::start(&wrapper, name, binary, addr, env, run_dir, log)?;
        Ok(Counted {
            server,
            out_file,
            dumps: 0,
        })
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr
    }

    /// Instructions since the last dump (or start-up), and zeroes the count.
    fn dump(&mut self) -> Result<u64> {
        let status = Command::new("callgrind_control")
            .arg("--dump")
            .arg(self.server.pid().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("run callgrind_control")?;
        if !status.success() {
            bail!("callgrind_control --dump failed ({status})");
        }
        self.dumps += 1;
        let dump = PathBuf::from(format!("{}.{}", self.out_file.display(), self.dumps));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // Written in one go; `totals:` is its last line.
            if let Ok(text) = fs::read_to_string(&dump)
                && let Some(total) = text.lines().find_map(|line| line.strip_prefix("totals:"))
            {
                return total
                    .trim()
                    .parse()
                    .with_context(|| format!("the totals line of `{}`", dump.display()));
            }
            if Instant::now() >= deadline {
                bail!("callgrind wrote no `{}` within a minute", dump.display());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Instructions per request of `series` (its `requests` and `warmup`
    /// are set here), as the module documentation describes.
    pub fn per_request(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        series: &Series,
        requests: usize,
    ) -> Result<f64> {
        let run = |requests: usize| {
            runtime.block_on(load::run(Series {
                warmup: 0,
                requests,
                time_cap: Duration::from_secs(600),
                ..series.clone()
            }))
        };
        run(requests.div_ceil(10).max(20)).context("warm-up under callgrind")?;
        self.dump()?;
        let short = run(requests)?;
        let short_count = self.dump()?;
        let long = run(2 * requests)?;
        let long_count = self.dump()?;
        if short.completed != requests || long.completed != 2 * requests {
            bail!("a series under callgrind did not complete");
        }
        Ok(long_count.saturating_sub(short_count) as f64 / requests as f64)
    }
}

/// Dump files of an earlier run (`<out_file>.<n>`).
fn dumps_of(out_file: &Path) -> Result<Vec<PathBuf>> {
    let (Some(dir), Some(name)) = (out_file.parent(), out_file.file_name()) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|file| file.to_string_lossy().starts_with(&prefix))
        {
            found.push(path);
        }
    }
    Ok(found)
}
