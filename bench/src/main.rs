//! Whole-system benchmark of llmux: starts a real daemon on a throw-away state dir, drives it
//! through the real CLI and the API client, and prints figures. It never passes or fails on
//! a timer; it fails only when the system under test does not work.
//!
//! `cargo run --release -p llmux-bench -- [--llmux PATH] [--sessions 100]`, or
//! `cargo run --release -p llmux-bench -- attach [...]` for the terminal WebSocket figures
//! (`attach.rs`), or `... -- agents [...]` for the agent-state figures (`agents.rs`); see
//! README.md.

mod agents;
mod attach;
mod daemon;
mod fleet;
mod half_open;
mod login_burst;
mod measure;
mod report;
mod setup;
mod stats;
mod stop;
mod transcripts;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use llmux_api::{CreateSessionRequest, SessionStatus};
use serde_json::json;

use crate::daemon::Daemon;
use crate::report::Results;
use crate::stats::Summary;

/// The cheap agent every session runs.
const AGENT: &str = "idle";
const CONFIG: &str = "agents:\n  idle:\n    cmd: \"sleep\"\n    flags: \"infinity\"\n";
/// In-flight requests while spawning and removing.
const BATCH_CONCURRENCY: usize = 8;
/// Concurrency levels of the `GET /api/sessions` load.
const LOAD_LEVELS: [usize; 2] = [1, 16];
/// Untimed warm-up before each load phase.
const LOAD_WARMUP: Duration = Duration::from_millis(500);
/// How long we give the sessions to show up as `running` if they are not at once.
const RUNNING_GRACE: Duration = Duration::from_secs(5);

const USAGE: &str = "\
usage: llmux-bench [--llmux PATH] [--sessions N] [--runs N] [--duration SECS] [--out FILE]
       llmux-bench attach --help     (the terminal WebSocket benchmark)
       llmux-bench agents --help     (agent states: idle CPU, state events, send --wait)
       llmux-bench transcripts --help (live transcript viewers: daemon CPU)
       llmux-bench half-open --help  (half-sent requests: TCP cap, header timeout, the socket)
       llmux-bench login-burst --help  (a burst of bad sign-ins: RSS, another user's sign-in)
       llmux-bench stop --help       (ending sessions: stop and kill latency, 100 kills in a row)
       llmux-bench fleet --help      (a hub and N hosts: list latency, events, RSS, reconnect)

  --llmux PATH      llmux binary [default: <workspace>/target/release/llmux]
  --sessions N      sessions to spawn [default: 100]
  --runs N          timed runs of `llmux session list` per point [default: 25]
  --duration SECS   measured seconds per GET /api/sessions load phase [default: 3]
  --out FILE        JSON results [default: <workspace>/bench-results/issue2.json]";

#[derive(Debug)]
struct Args {
    llmux: PathBuf,
    sessions: usize,
    runs: usize,
    duration: Duration,
    out: PathBuf,
}

/// The `--flag value` / `--flag=value` pairs of a mode's arguments, in order; `None` after
/// printing `usage` for `-h`/`--help`.
pub(crate) fn flag_values(
    argv: impl Iterator<Item = String>,
    usage: &str,
) -> Result<Option<Vec<(String, String)>>> {
    let mut it = argv;
    let mut pairs = Vec::new();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if matches!(flag.as_str(), "-h" | "--help") {
            println!("{usage}");
            return Ok(None);
        }
        let Some(value) = inline.or_else(|| it.next()) else {
            bail!("{flag} needs a value\n\n{usage}");
        };
        pairs.push((flag, value));
    }
    Ok(Some(pairs))
}

/// A flag's value as a count.
pub(crate) fn number(flag: &str, value: &str) -> Result<usize> {
    value.parse::<usize>().with_context(|| format!("{flag}: not a number"))
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn parse_args(root: &Path) -> Result<Option<Args>> {
    let mut args = Args {
        llmux: root.join("target/release/llmux"),
        sessions: 100,
        runs: 25,
        duration: Duration::from_secs(3),
        out: root.join("bench-results/issue2.json"),
    };
    let Some(flags) = crate::flag_values(std::env::args().skip(1), USAGE)? else { return Ok(None) };
    for (flag, value) in flags {
        let number = |v: &str| crate::number(&flag, v);
        match flag.as_str() {
            "--llmux" => args.llmux = PathBuf::from(value),
            "--sessions" => args.sessions = number(&value)?.clamp(1, 1000),
            "--runs" => args.runs = number(&value)?.max(1),
            "--duration" => {
                let secs: f64 = value.parse().context("--duration: not a number")?;
                args.duration = Duration::from_secs_f64(secs.clamp(0.1, 600.0));
            }
            "--out" => args.out = PathBuf::from(value),
            _ => bail!("unknown argument {flag:?}\n\n{USAGE}"),
        }
    }
    Ok(Some(args))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llmux-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let root = workspace_root();
    if std::env::args().nth(1).as_deref() == Some("attach") {
        return attach::run(&root, std::env::args().skip(2)).await;
    }
    if std::env::args().nth(1).as_deref() == Some("agents") {
        return agents::run(&root, std::env::args().skip(2)).await;
    }
    if std::env::args().nth(1).as_deref() == Some("transcripts") {
        return transcripts::run(&root, std::env::args().skip(2)).await;
    }
    if std::env::args().nth(1).as_deref() == Some("half-open") {
        return half_open::run(&root, std::env::args().skip(2)).await;
    }
    if std::env::args().nth(1).as_deref() == Some("stop") {
        return stop::run(&root, std::env::args().skip(2)).await;
    }
    if std::env::args().nth(1).as_deref() == Some("fleet") {
        return fleet::run(&root, std::env::args().skip(2)).await;
    }
    if std::env::args().nth(1).as_deref() == Some("login-burst") {
        return login_burst::run(&root, std::env::args().skip(2)).await;
    }
    let Some(args) = parse_args(&root)? else { return Ok(()) };
    let setup = setup::Setup::new(&root, &args.llmux, "sessions")?;
    let config = setup.write_config(CONFIG)?;
    let state = setup.state();
    let run = setup.run(&config, "llmux-bench", async |d| bench(&args, d, state).await).await?;
    let detail = format!("{} sessions of agent `{AGENT}` (sleep infinity)", args.sessions);
    setup.print("llmux-bench", &detail, &run, &report::table(&run.results));
    let meta = setup.meta(
        &run,
        json!({
            "agent": {"key": AGENT, "cmd": "sleep infinity"},
            "cli_runs": args.runs,
            "load_duration_s": args.duration.as_secs_f64(),
        }),
    );
    setup::write_json(&args.out, &report::json(&run.results, meta))
}

/// The measurements, in order. Sessions are removed at the end; the daemon guard kills
/// whatever is left if this fails half-way.
async fn bench(args: &Args, daemon: &Daemon, state: &Path) -> Result<Results> {
    let client = daemon.client();
    let n = args.sessions;
    let names: Vec<String> = (0..n).map(|i| format!("bench-{i:03}")).collect();

    step(&format!("`llmux session list` x{} at 0 sessions", args.runs));
    let empty = measure::cli_list(&args.llmux, state, args.runs).await?;
    let rss_idle_kib = daemon.rss_kib()?;

    step(&format!("spawning {n} sessions, {BATCH_CONCURRENCY} in flight"));
    let cwd = state.to_string_lossy().into_owned();
    let spawn =
        measure::bounded(names.clone(), BATCH_CONCURRENCY, |name| {
            let client = client.clone();
            let req = CreateSessionRequest {
                agent: AGENT.to_owned(),
                name: Some(name.clone()),
                cwd: Some(cwd.clone()),
                ..Default::default()
            };
            async move {
                client.create_session(&req).await.map(drop).map_err(|e| format!("{name}: {e}"))
            }
        })
        .await;
    for e in spawn.errors.iter().take(5) {
        eprintln!("llmux-bench: spawn failed: {e}");
    }
    let running = |list: &[llmux_api::SessionView]| {
        list.iter().filter(|s| s.status == SessionStatus::Running).count()
    };
    let list = client.list_sessions().await.context("listing sessions after the spawns")?;
    let running_after_spawn = running(&list);
    let list_bytes = serde_json::to_vec(&list).map_or(0, |v| v.len());
    let mut running_later = None;
    if running_after_spawn < n {
        eprintln!("llmux-bench: only {running_after_spawn}/{n} sessions are running; waiting");
        let start = Instant::now();
        let mut now_running = running_after_spawn;
        while now_running < n && start.elapsed() < RUNNING_GRACE {
            tokio::time::sleep(Duration::from_millis(100)).await;
            now_running = running(&client.list_sessions().await?);
        }
        running_later = Some((now_running, start.elapsed()));
    }
    let rss_full_kib = daemon.rss_kib()?;
    let rss_full_split = (
        daemon.status_kib("RssAnon:")?,
        daemon.status_kib("RssFile:")?,
        daemon.status_kib("Threads:")?,
    );

    step(&format!("`llmux session list` x{} at {} sessions", args.runs, list.len()));
    let full = measure::cli_list(&args.llmux, state, args.runs).await?;

    let mut loads = Vec::new();
    for level in LOAD_LEVELS {
        step(&format!("GET /api/sessions, concurrency {level}, {:?}", args.duration));
        measure::list_load(&client, level, LOAD_WARMUP, list.len()).await;
        let (daemon_cpu, client_cpu) = (daemon.cpu_time()?, daemon::cpu_time("/proc/self/stat")?);
        let mut load = measure::list_load(&client, level, args.duration, list.len()).await;
        load.daemon_cpu = daemon.cpu_time()?.saturating_sub(daemon_cpu);
        load.client_cpu = daemon::cpu_time("/proc/self/stat")?.saturating_sub(client_cpu);
        loads.push(load);
    }
    let rss_after_load_kib = daemon.rss_kib()?;
    let rss_peak_kib = daemon.peak_rss_kib()?;

    step(&format!("removing {n} sessions"));
    let remove = measure::bounded(names, BATCH_CONCURRENCY, |name| {
        let client = client.clone();
        async move { client.remove_session(&name, true).await.map_err(|e| format!("{name}: {e}")) }
    })
    .await;
    let left_after_remove =
        client.list_sessions().await.context("listing sessions after the removes")?.len();

    let summary = |samples: &[Duration]| Summary::of(samples).context("no samples");
    Ok(Results {
        sessions: n,
        ready_after: daemon.ready_after,
        list_cli_empty: summary(&empty)?,
        list_cli_full: summary(&full)?,
        rss_idle_kib,
        rss_full_kib,
        rss_full_split,
        rss_after_load_kib,
        rss_peak_kib,
        batch_concurrency: BATCH_CONCURRENCY,
        spawn,
        running_after_spawn,
        running_later,
        list_bytes,
        loads,
        remove,
        left_after_remove,
    })
}

pub(crate) fn step(what: &str) {
    eprintln!("llmux-bench: {what}");
}

/// The 1-minute load average (0 if unreadable).
pub(crate) fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(0.0)
}
