//! mcp-builder's benchmark (issue 9): what the generated auth costs.
//!
//! 1. Builds `mcp-builder` (release) from this working tree, unless
//!    `--mcp-builder` names a binary.
//! 2. Copies `examples/tasks-server` twice: as is (unprotected) and after
//!    `mcp-builder add-auth` with the README's flags (protected); builds both
//!    in release mode in one shared `CARGO_TARGET_DIR` (`target/bench/cargo`).
//! 3. Starts a test issuer on 127.0.0.1 (JWKS from the key fixtures in
//!    `tests/fixtures/keys/`, fetches counted) and both servers on
//!    127.0.0.1, and drives `tools/call` (search-tasks) and `tools/list` with
//!    1 and 8 keep-alive connections, each in its own MCP session, for a
//!    fixed number of requests, in rounds that alternate the order of the
//!    servers. Prints requests/s, p50 and p99 latency, the server's CPU time
//!    per request (from `/proc`), and the protected/unprotected ratio for
//!    RS256 and ES256 tokens.
//! 4. Diagnostic: every request with a never-seen token (the cost of the
//!    signature check without the verified-token cache); with valgrind,
//!    instructions per request of each server.
//! 5. Wall time of `mcp-builder add-auth` on the example and on a generated
//!    large workspace.
//!
//! Everything runs on loopback; only the builds need crates.io.
//! Run: `scripts/bench` or `cargo run --release --manifest-path bench/Cargo.toml -- --help`.

mod instructions;
mod issuer;
mod load;
mod project;
mod workspace;

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Parser;

use issuer::{Alg, Issuer, Signer};
use load::{Call, Outcome, Series, Tokens};
use project::Server;

/// The audience the example is protected for (the README's `--audience`).
const AUDIENCE: &str = "https://tasks.example.com/mcp";
/// The tenant the example is protected for (the README's `--domain`).
const DOMAIN: &str = "tasks-test.auth0.com";
/// Longest a single cargo build may take.
const BUILD_LIMIT: Duration = Duration::from_secs(45 * 60);
/// A median latency above this on loopback means answers wait for a
/// delayed ACK (a server without TCP_NODELAY).
const STALL_MS: f64 = 20.0;
/// Requests per series when answers stall (each takes ~40 ms).
const STALLED_REQUESTS: usize = 100;

/// Issue 9's targets.
const TARGET_RATIO_RS256: f64 = 0.95;
const TARGET_RATIO_ES256: f64 = 0.90;
const TARGET_ADD_AUTH_EXAMPLE: Duration = Duration::from_millis(50);
const TARGET_ADD_AUTH_WORKSPACE: Duration = Duration::from_millis(500);
/// The protected server's background key refresh interval, set through
/// `MCP_AUTH_JWKS_REFRESH_SECS` (the generated default): a run longer than
/// this sees a scheduled refresh, not a fetch caused by requests.
const JWKS_REFRESH_SECS: u64 = 300;

/// Measures the generated auth's throughput cost and add-auth's wall time.
#[derive(Parser, Debug)]
#[command(name = "mcp-builder-bench", version, about)]
struct Args {
    /// Measured requests per series (one server, one call, one connection count).
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Requests sent before each series' clock starts.
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    /// Rounds over every series: 1, or an even number. The order of the
    /// servers alternates, and the ratio pairs each round with the next.
    #[arg(long, default_value_t = 6)]
    rounds: usize,
    /// Concurrent connections (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    connections: Vec<usize>,
    /// A series stops after this many seconds even if requests remain.
    #[arg(long, default_value_t = 20)]
    series_time_cap: u64,
    /// Requests in the diagnostic where every request carries a new token (0: skip).
    #[arg(long, default_value_t = 3_000)]
    uncached_requests: usize,
    /// Use this mcp-builder binary instead of building the working tree's.
    #[arg(long)]
    mcp_builder: Option<PathBuf>,
    /// Timed add-auth runs per project (0: skip the add-auth timing).
    #[arg(long, default_value_t = 10)]
    add_auth_runs: usize,
    /// Members of the generated workspace (the server is one of them).
    #[arg(long, default_value_t = 200)]
    members: usize,
    /// Rust source files in the generated workspace.
    #[arg(long, default_value_t = 2_000)]
    source_files: usize,
    /// Requests per series when counting instructions under valgrind's
    /// callgrind (0: skip; skipped too when valgrind is not installed).
    #[arg(long, default_value_t = 1_000)]
    instruction_requests: usize,
    /// Only time add-auth (no server builds, no load).
    #[arg(long)]
    add_auth_only: bool,
    /// Measure the copies in target/bench/projects as they are (rebuilt, not
    /// re-copied, add-auth not run again): for trying changes to the
    /// generated code before changing the templates.
    #[arg(long)]
    reuse_projects: bool,
}

/// The three servers a series runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Unprotected,
    Protected(AlgKey),
}

/// `Alg` with an order, for table keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AlgKey {
    Rs256,
    Es256,
}

impl AlgKey {
    fn alg(self) -> Alg {
        match self {
            AlgKey::Rs256 => Alg::Rs256,
            AlgKey::Es256 => Alg::Es256,
        }
    }
}

impl Kind {
    const ALL: [Kind; 3] = [
        Kind::Unprotected,
        Kind::Protected(AlgKey::Rs256),
        Kind::Protected(AlgKey::Es256),
    ];

    fn label(self) -> String {
        match self {
            Kind::Unprotected => "unprotected".into(),
            Kind::Protected(alg) => format!("protected {}", alg.alg().name()),
        }
    }
}

/// The figures the closing summary compares with the issue's targets.
#[derive(Default)]
struct Summary {
    ratios: BTreeMap<(String, usize, AlgKey), f64>,
    /// Served, and expected (1, plus the scheduled refreshes).
    jwks_fetches: Option<(usize, usize)>,
    /// Instructions per tools/call: unprotected, protected (RS256).
    instructions: Option<[f64; 2]>,
    add_auth_example: Option<Duration>,
    add_auth_workspace: Option<Duration>,
    /// The servers' answers stall (no TCP_NODELAY): ratios are not the auth's.
    stalled: bool,
    notes: Vec<String>,
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => {}
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(1);
        }
    }
}

fn run(args: &Args) -> Result<()> {
    if args.requests == 0 || args.rounds == 0 || args.connections.contains(&0) {
        bail!("--requests, --rounds and --connections must be positive");
    }
    if args.rounds > 1 && args.rounds % 2 == 1 {
        bail!(
            "--rounds must be 1 or even: the ratio pairs each round with the next, which runs the servers in the other order"
        );
    }
    let root = repo_root()?;
    let work = root.join("target").join("bench");
    for dir in ["bin", "logs", "run", "projects"] {
        fs::create_dir_all(work.join(dir))?;
    }
    let started = Instant::now();
    println!("mcp-builder benchmark (issue 9)");
    println!(
        "machine: {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average()
    );

    let mcp_builder = match &args.mcp_builder {
        Some(path) => {
            println!("mcp-builder: {} (given)", path.display());
            path.clone()
        }
        None => build_mcp_builder(&root, &work)?,
    };

    let mut summary = Summary::default();
    if !args.add_auth_only {
        throughput(args, &root, &work, &mcp_builder, &mut summary)?;
    }
    if args.add_auth_runs > 0 {
        add_auth_timing(args, &root, &mcp_builder, &mut summary)?;
    }
    print_summary(&summary);
    println!(
        "\ntotal time {:.0?}; load average now {}",
        started.elapsed(),
        load_average()
    );
    Ok(())
}

/// The repository root: the parent of this crate's directory.
fn repo_root() -> Result<PathBuf> {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = bench
        .parent()
        .context("the bench crate has no parent directory")?;
    if !root.join("examples/tasks-server/Cargo.toml").is_file() {
        bail!(
            "`{}` does not hold examples/tasks-server; run the benchmark from the mcp-builder repository",
            root.display()
        );
    }
    Ok(root.to_path_buf())
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn build_mcp_builder(root: &Path, work: &Path) -> Result<PathBuf> {
    let log = work.join("logs").join("build-mcp-builder.log");
    let took = project::cargo_build(
        root,
        &work.join("cargo"),
        &["--bin", "mcp-builder"],
        &log,
        BUILD_LIMIT,
    )
    .context(
        "building mcp-builder from this working tree (pass --mcp-builder to use another binary)",
    )?;
    let binary = work.join("bin").join(exe("mcp-builder"));
    fs::copy(
        work.join("cargo").join("release").join(exe("mcp-builder")),
        &binary,
    )
    .context("copy the mcp-builder binary")?;
    println!("mcp-builder: built from the working tree (release) in {took:.1?}");
    Ok(binary)
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

// ---------------------------------------------------------------------------
// Throughput
// ---------------------------------------------------------------------------

/// Results of one (call, connections) case: per server, one outcome a round.
type Table = BTreeMap<(Call, usize), BTreeMap<Kind, Vec<Outcome>>>;

fn throughput(
    args: &Args,
    root: &Path,
    work: &Path,
    mcp_builder: &Path,
    summary: &mut Summary,
) -> Result<()> {
    println!("\n== building the example, unprotected and protected (release) ==");
    let binaries = build_servers(root, work, mcp_builder, args.reuse_projects, summary)?;

    let issuer = Issuer::start()?;
    let quiet_issuer = Issuer::start()?;
    let signer = issuer.signer(AUDIENCE)?;
    let quiet_signer = quiet_issuer.signer(AUDIENCE)?;
    let run_dir = work.join("run");
    let logs = work.join("logs");
    let unprotected = Server::start(
        &[],
        "unprotected",
        &binaries.unprotected,
        loopback()?,
        &[],
        &run_dir,
        logs.join("server-unprotected.log"),
    )?;
    let protected_addr = loopback()?;
    let protected_started = Instant::now();
    let protected = Server::start(
        &[],
        "protected",
        &binaries.protected,
        protected_addr,
        &protected_env(&issuer, protected_addr),
        &run_dir,
        logs.join("server-protected.log"),
    )?;
    println!(
        "issuer {} (JWKS: one RS256 and one ES256 key from tests/fixtures/keys)",
        issuer.issuer_url()
    );
    println!(
        "servers: unprotected {}, protected {} (log level: default, info; audit records to {})",
        unprotected.addr,
        protected.addr,
        logs.join("server-protected.log").display()
    );
    let max_connections = args.connections.iter().copied().max().unwrap_or(1);
    let tokens_for = |signer: &Signer, alg: Alg| -> Result<Arc<Vec<String>>> {
        let tokens = (0..max_connections)
            .map(|i| signer.token(alg, &format!("bench-client-{i}"), &format!("client-{i}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(tokens))
    };
    let rs256 = tokens_for(&signer, Alg::Rs256)?;
    let es256 = tokens_for(&signer, Alg::Es256)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let series_for = |kind: Kind, call: Call, connections: usize| Series {
        addr: match kind {
            Kind::Unprotected => unprotected.addr,
            Kind::Protected(_) => protected.addr,
        },
        call,
        connections,
        warmup: args.warmup,
        requests: args.requests,
        tokens: match kind {
            Kind::Unprotected => Tokens::None,
            Kind::Protected(AlgKey::Rs256) => Tokens::PerConnection(rs256.clone()),
            Kind::Protected(AlgKey::Es256) => Tokens::PerConnection(es256.clone()),
        },
        time_cap: Duration::from_secs(args.series_time_cap),
    };
    let measure = |series: Series, server: &Server| -> Result<Outcome> {
        let cpu_before = server.cpu_time();
        let mut outcome = runtime.block_on(load::run(series)).with_context(|| {
            format!(
                "load on the {} server failed (its log: target/bench/logs/server-{}.log)",
                server.name, server.name
            )
        })?;
        outcome.server_cpu = cpu_before
            .zip(server.cpu_time())
            .map(|(before, after)| after.saturating_sub(before));
        Ok(outcome)
    };

    // A server without TCP_NODELAY makes every answer wait for the client's
    // delayed ACK (~40 ms): then the figures measure that stall, not the
    // auth, and the full matrix would take many minutes. Probe first, past
    // the first segments of the connection, which Linux ACKs at once.
    let mut stalled = false;
    let mut probes = Vec::new();
    for kind in [Kind::Unprotected, Kind::Protected(AlgKey::Rs256)] {
        let probe = runtime
            .block_on(load::run(Series {
                warmup: 100,
                requests: 40,
                ..series_for(kind, Call::ToolsList, 1)
            }))
            .with_context(|| format!("probe of the {} server", kind.label()))?;
        println!(
            "probe: tools/list, 1 connection, {}: p50 {:.3} ms, p99 {:.3} ms",
            kind.label(),
            probe.quantile_ms(0.5),
            probe.quantile_ms(0.99)
        );
        stalled |= probe.quantile_ms(0.5) > STALL_MS;
        probes.push(format!("{} {:.1} ms", kind.label(), probe.quantile_ms(0.5)));
    }
    let (requests, warmup, rounds) = if stalled {
        let note = format!(
            "answers stall: median latency of tools/list on 1 connection: {}. \
             Without TCP_NODELAY on the server's sockets an answer written in two segments waits \
             for the client's delayed ACK (~40 ms); the figures below measure that stall, not the auth. \
             examples/tasks-server/src/main.rs sets it with `listener.tap_io(...)`: was that removed?",
            probes.join(", ")
        );
        println!("\n! {note}");
        println!(
            "! shortened run: at most {STALLED_REQUESTS} requests per series, one round, no diagnostics"
        );
        summary.stalled = true;
        summary.notes.push(note);
        (args.requests.min(STALLED_REQUESTS), args.warmup.min(10), 1)
    } else {
        (args.requests, args.warmup, args.rounds)
    };
    let series_for = |kind: Kind, call: Call, connections: usize| Series {
        warmup,
        requests,
        ..series_for(kind, call, connections)
    };

    println!(
        "\n== load: {requests} measured requests per series after {warmup} warm-up, {rounds} round(s), loopback, client TCP_NODELAY on =="
    );
    println!(
        "each connection: initialize + notifications/initialized, then every request in that session (keep-alive, HTTP/1.1)"
    );
    println!(
        "tokens: one per connection (a client reusing its token), valid for an hour; load average before: {}",
        load_average()
    );
    let mut table: Table = BTreeMap::new();
    let measured_at = Instant::now();
    for round in 0..rounds {
        for call in [Call::SearchTasks, Call::ToolsList] {
            for &connections in &args.connections {
                let mut order = Kind::ALL.to_vec();
                if round % 2 == 1 {
                    order.reverse();
                }
                for kind in order {
                    let server = match kind {
                        Kind::Unprotected => &unprotected,
                        Kind::Protected(_) => &protected,
                    };
                    let outcome = measure(series_for(kind, call, connections), server)?;
                    table
                        .entry((call, connections))
                        .or_default()
                        .entry(kind)
                        .or_default()
                        .push(outcome);
                }
            }
        }
        eprintln!(
            "round {} of {} done ({:.0?})",
            round + 1,
            rounds,
            measured_at.elapsed()
        );
    }
    print_table(&table, summary);

    if stalled {
        // Diagnostics would only measure the stall again.
    } else if args.uncached_requests > 0
        && let Err(error) = diagnostics(
            args,
            &runtime,
            &unprotected,
            &protected,
            &signer,
            max_connections,
            &rs256,
        )
    {
        println!("  diagnostic failed: {error:#}");
    }
    if !stalled && args.instruction_requests > 0 {
        if instructions::available() {
            let counted = instruction_counts(
                args.instruction_requests,
                &runtime,
                &binaries,
                &run_dir,
                &logs,
                &quiet_issuer,
                &quiet_signer,
            );
            match counted {
                Ok(counts) => summary.instructions = Some(counts),
                Err(error) => println!("  instruction count failed: {error:#}"),
            }
        } else {
            println!(
                "\n(instructions per request not counted: valgrind is not installed; `apt-get install valgrind`)"
            );
        }
    }

    let mut protected = protected;
    if !protected.is_running() {
        bail!("the protected server exited during the benchmark");
    }
    let fetches = issuer.jwks_fetches();
    // The first fetch, plus the background refreshes a server that lived
    // longer than the refresh interval has made on schedule. (The server's
    // clock starts a few milliseconds after this one: a run that ends within
    // those milliseconds of a refresh could count one fetch too few.)
    let scheduled = protected_started.elapsed().as_secs() / JWKS_REFRESH_SECS;
    let expected = 1 + scheduled as usize;
    summary.jwks_fetches = Some((fetches, expected));
    println!(
        "\nJWKS fetches served to the protected server during the whole run: {fetches} (discovery documents: {}); expected {expected}{}",
        issuer.discovery_fetches(),
        if scheduled > 0 {
            format!(
                " (it ran {:.0?}: 1 at start-up, {scheduled} background refresh(es) every {JWKS_REFRESH_SECS} s)",
                protected_started.elapsed()
            )
        } else {
            String::new()
        }
    );
    println!(
        "audit records in its log: {} allowed, {} denied",
        protected.log_lines_with(r#""decision":"allowed""#),
        protected.log_lines_with(r#""decision":"denied""#)
    );
    println!("load average after: {}", load_average());
    Ok(())
}

fn loopback() -> Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], project::free_port()?)))
}

fn protected_env(issuer: &Issuer, addr: SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        ("AUTH0_DOMAIN", DOMAIN.to_string()),
        ("AUTH0_AUDIENCE", AUDIENCE.to_string()),
        ("MCP_RESOURCE_URL", format!("http://{addr}/mcp")),
        ("MCP_AUTH_ISSUER", issuer.issuer_url()),
        ("MCP_AUTH_JWKS_URL", issuer.jwks_url()),
        ("MCP_AUTH_JWKS_REFRESH_SECS", JWKS_REFRESH_SECS.to_string()),
    ]
}

struct Binaries {
    unprotected: PathBuf,
    protected: PathBuf,
}

fn build_servers(
    root: &Path,
    work: &Path,
    mcp_builder: &Path,
    reuse_projects: bool,
    summary: &mut Summary,
) -> Result<Binaries> {
    let example = root.join("examples").join("tasks-server");
    let staging = tempfile::Builder::new()
        .prefix("mcp-builder-bench-")
        .tempdir()?;
    let target_dir = work.join("cargo");
    let mut binaries = Vec::new();
    let mut without_nodelay = Vec::new();
    for protected in [false, true] {
        let variant = if protected {
            "protected"
        } else {
            "unprotected"
        };
        let dir = work.join("projects").join(variant);
        if reuse_projects && dir.join("Cargo.toml").is_file() {
            println!("{variant}: reusing `{}` as it is", dir.display());
        } else {
            let stage = staging.path().join(variant);
            project::copy_tree(&example, &stage)?;
            if protected {
                let took = workspace::add_auth(mcp_builder, &stage, &[])?;
                println!("add-auth on the protected copy: {took:.1?}");
            }
            project::sync_tree(&stage, &dir)?;
        }
        let log = work.join("logs").join(format!("build-{variant}.log"));
        let took = project::cargo_build(&dir, &target_dir, &[], &log, BUILD_LIMIT)?;
        let binary = work
            .join("bin")
            .join(exe(&format!("tasks-server-{variant}")));
        fs::copy(
            target_dir.join("release").join(exe("tasks-server")),
            &binary,
        )
        .with_context(|| format!("copy the {variant} binary"))?;
        let has_auth = contains(&fs::read(&binary)?, b"AUTH0_DOMAIN");
        if has_auth != protected {
            bail!(
                "`{}` is not the {variant} build (cargo output collision?)",
                binary.display()
            );
        }
        let nodelay = project::sets_server_nodelay(&dir)?;
        println!(
            "{variant:<20} built in {took:>7.1?}   {}   server-side TCP_NODELAY: {}",
            dir.display(),
            if nodelay { "set" } else { "NOT set" }
        );
        if !nodelay {
            without_nodelay.push(variant);
        }
        binaries.push(binary);
    }
    if !without_nodelay.is_empty() {
        summary.notes.push(format!(
            "server-side TCP_NODELAY is not set in: {} (examples/tasks-server/src/main.rs should set it \
             with `listener.tap_io(|tcp| {{ let _ = tcp.set_nodelay(true); }})`)",
            without_nodelay.join(", ")
        ));
    }
    let protected = binaries.pop().expect("two builds");
    let unprotected = binaries.pop().expect("two builds");
    Ok(Binaries {
        unprotected,
        protected,
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn print_table(table: &Table, summary: &mut Summary) {
    println!(
        "\n{:<11} {:>5}  {:<17} {:>9} {:>9} {:>9} {:>10}  {:>6}  ratio per round",
        "call", "conns", "server", "req/s", "p50 ms", "p99 ms", "srv us/req", "ratio"
    );
    for ((call, connections), by_kind) in table {
        let unprotected = &by_kind[&Kind::Unprotected];
        for (&kind, outcomes) in by_kind {
            let mut rates: Vec<f64> = outcomes.iter().map(Outcome::requests_per_sec).collect();
            let mut pooled: Vec<u32> = outcomes
                .iter()
                .flat_map(|outcome| outcome.latencies_us.iter().copied())
                .collect();
            pooled.sort_unstable();
            let rate = median(&mut rates);
            let (ratio, per_round) = match kind {
                Kind::Unprotected => ("-".to_string(), String::new()),
                Kind::Protected(alg) => {
                    let ratios: Vec<f64> = outcomes
                        .iter()
                        .zip(unprotected)
                        .map(|(p, u)| p.requests_per_sec() / u.requests_per_sec())
                        .collect();
                    let shown = ratios
                        .iter()
                        .map(|r| format!("{r:.2}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let ratio = order_balanced(&ratios);
                    summary
                        .ratios
                        .insert((call.name().to_string(), *connections, alg), ratio);
                    (format!("{ratio:.3}"), shown)
                }
            };
            if load::quantile_ms(&pooled, 0.5) > STALL_MS {
                summary.stalled = true;
            }
            let capped = if outcomes.iter().any(|o| o.capped) {
                "  (time cap hit: fewer requests)"
            } else {
                ""
            };
            let mut cpu: Vec<f64> = outcomes.iter().filter_map(Outcome::server_cpu_us).collect();
            let cpu = if cpu.is_empty() {
                "-".to_string()
            } else {
                format!("{:.1}", median(&mut cpu))
            };
            println!(
                "{:<11} {:>5}  {:<17} {:>9.0} {:>9.3} {:>9.3} {:>10}  {:>6}  {}{capped}",
                call.name(),
                connections,
                kind.label(),
                rate,
                load::quantile_ms(&pooled, 0.50),
                load::quantile_ms(&pooled, 0.99),
                cpu,
                ratio,
                per_round
            );
        }
    }
    println!(
        "(req/s: median over rounds; p50/p99: all rounds' requests; srv us/req: the server process's CPU time \
         (all threads, user + system) per request sent, warm-up included, median over rounds; \
         ratio: per pair of rounds (one in each server order), the geometric mean of their \
         protected/unprotected req/s ratios; the median over pairs)"
    );
}

/// The protected/unprotected ratio over rounds that alternate the order of
/// the servers: each pair of rounds (one in each order) gives the geometric
/// mean of its two ratios, and the pairs' median is the figure. A server
/// measured first or last in a round can run faster or slower (the machine
/// is still busy with what came before); an odd number of rounds, or a
/// median over single rounds, would let one order outweigh the other. A
/// single round is its own figure.
fn order_balanced(per_round: &[f64]) -> f64 {
    if per_round.len() == 1 {
        return per_round[0];
    }
    let mut pairs: Vec<f64> = per_round
        .chunks_exact(2)
        .map(|pair| (pair[0] * pair[1]).sqrt())
        .collect();
    median(&mut pairs)
}

/// Every request with a token the server has never seen: the signature
/// check on every request, as without a verified-token cache. Compared with
/// adjacent unprotected and cached runs.
fn diagnostics(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    unprotected: &Server,
    protected: &Server,
    signer: &Signer,
    connections: usize,
    rs256: &Arc<Vec<String>>,
) -> Result<()> {
    let warmup = (connections * 25).max(100);
    let requests = args.uncached_requests;
    println!(
        "\n== diagnostic: tools/call, {connections} connections, {requests} requests, every request with a token never seen before =="
    );
    let signing = Instant::now();
    let fresh_rs = Arc::new(signer.distinct_tokens(Alg::Rs256, "fresh-rs", warmup + requests)?);
    let fresh_es = Arc::new(signer.distinct_tokens(Alg::Es256, "fresh-es", warmup + requests)?);
    println!(
        "(signed {} tokens in {:.1?}, before the clock)",
        2 * (warmup + requests),
        signing.elapsed()
    );
    let series = |addr: SocketAddr, tokens: Tokens| Series {
        addr,
        call: Call::SearchTasks,
        connections,
        warmup,
        requests,
        tokens,
        time_cap: Duration::from_secs(args.series_time_cap),
    };
    let cases = [
        ("unprotected", series(unprotected.addr, Tokens::None)),
        (
            "RS256, token reused (cached)",
            series(protected.addr, Tokens::PerConnection(rs256.clone())),
        ),
        (
            "RS256, new token per request",
            series(protected.addr, Tokens::PerRequest(fresh_rs)),
        ),
        (
            "ES256, new token per request",
            series(protected.addr, Tokens::PerRequest(fresh_es)),
        ),
    ];
    let mut baseline = None;
    for (label, series) in cases {
        let outcome = runtime
            .block_on(load::run(series))
            .with_context(|| format!("diagnostic `{label}`"))?;
        let rate = outcome.requests_per_sec();
        let base = *baseline.get_or_insert(rate);
        println!(
            "  {label:<30} {rate:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ratio {:.3}{}",
            outcome.quantile_ms(0.5),
            outcome.quantile_ms(0.99),
            rate / base,
            if outcome.capped {
                "  (time cap hit)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// Instructions per request of each server, under callgrind
/// (`instructions.rs`), for tools/call and then tools/list (the listing is
/// read and trimmed on its way out); returns the tools/call counts.
fn instruction_counts(
    requests: usize,
    runtime: &tokio::runtime::Runtime,
    binaries: &Binaries,
    run_dir: &Path,
    logs: &Path,
    quiet_issuer: &Issuer,
    quiet_signer: &Signer,
) -> Result<[f64; 2]> {
    println!(
        "\n== instructions per request: tools/call and tools/list, 1 connection, valgrind's callgrind, series of {requests} and {} requests ==",
        2 * requests
    );
    let token = Arc::new(vec![quiet_signer.token(
        Alg::Rs256,
        "bench-client-0",
        "counted",
    )?]);
    let servers = [
        ("unprotected", &binaries.unprotected, None),
        ("protected RS256", &binaries.protected, Some("info")),
    ];
    // A token that may call one tool of three: its tools/list is trimmed.
    let reader = Arc::new(vec![quiet_signer.token_with_scope(
        Alg::Rs256,
        "bench-client-0",
        "counted-reader",
        "read:tasks",
    )?]);
    let calls = [Call::SearchTasks, Call::ToolsList];
    let mut counts = [[0.0; 2]; 2];
    let mut trimmed = 0.0;
    for (i, (label, binary, log_level)) in servers.into_iter().enumerate() {
        let addr = loopback()?;
        let mut env = Vec::new();
        if let Some(level) = log_level {
            env = protected_env(quiet_issuer, addr);
            env.push(("RUST_LOG", level.to_string()));
        }
        let name = format!("counted-{i}");
        let mut server = instructions::Counted::start(
            &name,
            binary,
            addr,
            &env,
            run_dir,
            logs.join(format!("server-{name}.log")),
        )?;
        for (c, call) in calls.into_iter().enumerate() {
            let series = Series {
                addr: server.addr(),
                call,
                connections: 1,
                warmup: 0,
                requests,
                tokens: match log_level {
                    None => Tokens::None,
                    Some(_) => Tokens::PerConnection(token.clone()),
                },
                time_cap: Duration::from_secs(600),
            };
            counts[c][i] = server
                .per_request(runtime, &series, requests)
                .with_context(|| format!("the {label} server, {}", call.name()))?;
            if log_level.is_some() && call == Call::ToolsList {
                let series = Series {
                    tokens: Tokens::PerConnection(reader.clone()),
                    ..series
                };
                trimmed = server
                    .per_request(runtime, &series, requests)
                    .with_context(|| format!("the {label} server, trimmed tools/list"))?;
            }
        }
    }
    for (c, call) in calls.into_iter().enumerate() {
        for (i, (label, _, _)) in servers.iter().enumerate() {
            let ratio = if i == 0 {
                String::new()
            } else {
                format!(
                    "   {:.3} of unprotected (+{:.0})",
                    counts[c][i] / counts[c][0],
                    counts[c][i] - counts[c][0]
                )
            };
            println!(
                "  {:<10} {label:<25} {:>9.0}{ratio}",
                call.name(),
                counts[c][i]
            );
        }
    }
    println!(
        "  {:<10} {:<25} {trimmed:>9.0}   {:.3} of unprotected (+{:.0})",
        "tools/list",
        "protected, read:tasks",
        trimmed / counts[1][0],
        trimmed - counts[1][0]
    );
    Ok(counts[0])
}

// ---------------------------------------------------------------------------
// add-auth wall time
// ---------------------------------------------------------------------------

fn add_auth_timing(
    args: &Args,
    root: &Path,
    mcp_builder: &Path,
    summary: &mut Summary,
) -> Result<()> {
    let example = root.join("examples").join("tasks-server");
    let scratch = tempfile::Builder::new()
        .prefix("mcp-builder-bench-add-auth-")
        .tempdir()?;
    println!(
        "\n== add-auth wall time ({} runs each; process start to exit, each first run on a fresh copy) ==",
        args.add_auth_runs
    );

    let pristine = scratch.path().join("example");
    project::copy_tree(&example, &pristine)?;
    let example_timings = workspace::time_add_auth(
        mcp_builder,
        &pristine,
        Path::new(""),
        &scratch.path().join("example-runs"),
        args.add_auth_runs,
    )?;
    println!("examples/tasks-server:");
    print_timings(&example_timings);
    summary.add_auth_example = Some(example_timings[0].median());

    let generating = Instant::now();
    let ws = scratch.path().join("workspace");
    let generated = workspace::generate(&example, &ws, args.members, args.source_files)?;
    println!(
        "generated workspace: {} members, {} .rs files ({:.1} MB of library code), server in `{}` (generated in {:.1?})",
        generated.members,
        generated.source_files,
        generated.source_bytes as f64 / 1e6,
        generated.server_member.display(),
        generating.elapsed()
    );
    let ws_timings = workspace::time_add_auth(
        mcp_builder,
        &ws,
        &generated.server_member,
        &scratch.path().join("workspace-runs"),
        args.add_auth_runs,
    )?;
    print_timings(&ws_timings);
    summary.add_auth_workspace = Some(ws_timings[0].median());
    Ok(())
}

fn print_timings(timings: &[workspace::Timings]) {
    for timing in timings {
        let sorted = timing.sorted();
        println!(
            "  {:<32} median {:>7.1} ms   min {:>7.1} ms   max {:>7.1} ms",
            timing.label,
            ms(timing.median()),
            ms(sorted[0]),
            ms(sorted[sorted.len() - 1])
        );
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------

fn print_summary(summary: &Summary) {
    let mut out = String::from("\n== issue 9 targets ==\n");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    for (alg, target) in [
        (AlgKey::Rs256, TARGET_RATIO_RS256),
        (AlgKey::Es256, TARGET_RATIO_ES256),
    ] {
        let found = summary
            .ratios
            .iter()
            .filter(|((call, _, a), _)| call == "tools/call" && *a == alg)
            .max_by_key(|((_, connections, _), _)| *connections);
        if let Some(((_, connections, _), ratio)) = found {
            let judged = if summary.stalled {
                "not measurable (answers stall without server-side TCP_NODELAY; see the notes)"
            } else {
                verdict(*ratio >= target)
            };
            let _ = writeln!(
                out,
                "tools/call, {connections} connections, {}: ratio {ratio:.3} (target >= {target:.2}): {judged}",
                alg.alg().name(),
            );
        }
    }
    if let Some([unprotected, protected]) = summary.instructions {
        let _ = writeln!(
            out,
            "(instructions per tools/call, protected RS256 / unprotected: {:.3}; no target, the same on any load)",
            protected / unprotected,
        );
    }
    if let Some((fetches, expected)) = summary.jwks_fetches {
        let _ = writeln!(
            out,
            "JWKS fetches in the run: {fetches} (target: exactly 1, plus one per {JWKS_REFRESH_SECS} s background refresh: {expected}): {}",
            verdict(fetches == expected)
        );
    }
    if let Some(took) = summary.add_auth_example {
        let _ = writeln!(
            out,
            "add-auth on the example: median {:.1} ms (target < {} ms): {}",
            ms(took),
            TARGET_ADD_AUTH_EXAMPLE.as_millis(),
            verdict(took < TARGET_ADD_AUTH_EXAMPLE)
        );
    }
    if let Some(took) = summary.add_auth_workspace {
        let _ = writeln!(
            out,
            "add-auth on the large workspace: median {:.1} ms (target < {} ms): {}",
            ms(took),
            TARGET_ADD_AUTH_WORKSPACE.as_millis(),
            verdict(took < TARGET_ADD_AUTH_WORKSPACE)
        );
    }
    for note in &summary.notes {
        let _ = writeln!(out, "note: {note}");
    }
    print!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_effect_cancels_out() {
        // Rounds in the first order measure 0.90, in the other 1.00: the
        // figure is the same whichever order comes first.
        let expected = (0.90_f64 * 1.00).sqrt();
        for rounds in [
            [0.90, 1.00, 0.90, 1.00, 0.90, 1.00],
            [1.00, 0.90, 1.00, 0.90, 1.00, 0.90],
        ] {
            assert!((order_balanced(&rounds) - expected).abs() < 1e-12);
        }
        // A median over single rounds would not be: 3 of 5 in one order.
        assert_eq!(median(&mut [0.90, 1.00, 0.90, 1.00, 0.90]), 0.90);
    }

    #[test]
    fn pairs_then_median() {
        let rounds = [0.81, 1.00, 0.64, 1.00, 0.98, 0.98];
        // Pairs: 0.9, 0.8, 0.98.
        assert!((order_balanced(&rounds) - 0.9).abs() < 1e-12);
        assert_eq!(order_balanced(&[0.93]), 0.93);
    }
}
