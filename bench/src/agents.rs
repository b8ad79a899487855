//! `llmux-bench agents`: the agent-state tracker — the daemon's CPU with many idle agents, the
//! delay from a screen change to its `event: state`, and what `prompt --wait` adds to the
//! agent's own reply time. Every agent is the fake Qwen Code TUI (`fake-qwen`, read by the
//! real qwen detector). Prints figures; never passes or fails on them.

mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use llmux_api::{AgentState, CreateSessionRequest, EnvInput};
use llmux_client::{Client, SessionEvent};
use serde_json::json;
use tokio::sync::mpsc;

use crate::attach::procs;
use crate::daemon::Daemon;
use crate::measure;
use crate::setup::{self, Setup};

const USAGE: &str = "\
usage: llmux-bench agents [--llmux PATH] [--idle-sessions N] [--idle-secs S] [--sessions N]
                          [--quiet-sessions N] [--transitions N] [--prompts N] [--think-ms MS]
                          [--out FILE]

  --llmux PATH        llmux binary [default: <workspace>/target/release/llmux]
  --idle-sessions N   idle agents while the daemon's CPU is sampled [default: 100]
  --idle-secs S       length of the CPU sample [default: 30]
  --sessions N        idle agents running during the latency phases [default: 20]
  --quiet-sessions N  `sleep infinity` sessions started first and kept through every phase,
                      for a daemon with many sessions (e.g. 980 for 1,000 in all) [default: 0]
  --transitions N     timed idle → working → idle turns [default: 50]
  --prompts N         timed `send --wait` prompts [default: 30]
  --think-ms MS       how long the fake agent thinks per prompt [default: 1000]
  --out FILE          JSON results [default: <workspace>/bench-results/agents.json]";

/// The agent key in the bench's config (the fake Qwen Code, read with the qwen detector).
const AGENT: &str = "fakeq";
/// The agent of the quiet sessions (`sleep infinity`: no output, no state).
const QUIET: &str = "quiet";
/// In-flight requests while spawning.
const SPAWN_CONCURRENCY: usize = 8;
/// Longest wait for all sessions to be idle after spawning them.
const IDLE_WAIT: Duration = Duration::from_secs(120);
/// Quiet time after every session is idle, before the CPU sample starts (the captures that
/// the agents' first screens caused are over by then).
const SETTLE: Duration = Duration::from_secs(3);
/// Longest wait for one state event, one log line, or the typed text to show.
const WAIT: Duration = Duration::from_secs(10);
/// What the latency phase types (straight into tmux, not through the daemon).
const TYPED: &str = "say hello";
/// Pause before each timed turn: a base, plus a step that walks through the refresher's
/// 250 ms period so the turns do not all fall at the same point of the tick.
const PAUSE_BASE: Duration = Duration::from_millis(200);
const PAUSE_STEP_MS: u64 = 97;
const PAUSE_SPREAD_MS: u64 = 250;
/// `send --wait` timeout, seconds.
const SEND_TIMEOUT_S: u64 = 60;

/// Command-line options of the agents mode.
#[derive(Debug)]
pub struct Args {
    llmux: PathBuf,
    idle_sessions: usize,
    idle_secs: u64,
    sessions: usize,
    quiet_sessions: usize,
    transitions: usize,
    prompts: usize,
    think_ms: u64,
    out: PathBuf,
}

fn parse_args(root: &Path, argv: impl Iterator<Item = String>) -> Result<Option<Args>> {
    let mut args = Args {
        llmux: root.join("target/release/llmux"),
        idle_sessions: 100,
        idle_secs: 30,
        sessions: 20,
        quiet_sessions: 0,
        transitions: 50,
        prompts: 30,
        think_ms: 1000,
        out: root.join("bench-results/agents.json"),
    };
    let Some(flags) = crate::flag_values(argv, USAGE)? else { return Ok(None) };
    for (flag, value) in flags {
        let number = |v: &str| crate::number(&flag, v);
        match flag.as_str() {
            "--llmux" => args.llmux = PathBuf::from(value),
            "--idle-sessions" => args.idle_sessions = number(&value)?.clamp(1, 999),
            "--idle-secs" => args.idle_secs = number(&value)?.clamp(1, 3600) as u64,
            "--sessions" => args.sessions = number(&value)?.clamp(1, 999),
            "--quiet-sessions" => args.quiet_sessions = number(&value)?.clamp(0, 5000),
            "--transitions" => args.transitions = number(&value)?.clamp(1, 10_000),
            "--prompts" => args.prompts = number(&value)?.clamp(1, 10_000),
            "--think-ms" => args.think_ms = number(&value)?.clamp(300, 60_000) as u64,
            "--out" => args.out = PathBuf::from(value),
            _ => bail!("unknown argument {flag:?}\n\n{USAGE}"),
        }
    }
    args.idle_sessions = args.idle_sessions.max(args.sessions);
    Ok(Some(args))
}

/// Runs the agents mode with the arguments after `agents`.
pub async fn run(root: &Path, argv: impl Iterator<Item = String>) -> Result<()> {
    let Some(args) = parse_args(root, argv)? else { return Ok(()) };
    let fake = root.join("crates/llmux/tests/fixtures/fake-qwen");
    if !fake.is_file() {
        bail!("no fake agent at {}", fake.display());
    }
    let setup = Setup::new(root, &args.llmux, "agents")?;
    let state = setup.state();
    std::fs::create_dir(state.join("fq"))?;
    let config = setup.write_config(&format!(
        "agents:\n  {AGENT}:\n    cmd: {:?}\n    detector: qwen\n  {QUIET}:\n    cmd: sleep\n    \
         flags: infinity\n",
        fake.display()
    ))?;
    let run =
        setup.run(&config, "llmux-bench agents", async |d| bench(&args, d, state).await).await?;
    let detail = format!("agent `{AGENT}` (fake-qwen, qwen detector), think {} ms", args.think_ms);
    setup.print("llmux-bench agents", &detail, &run, &report::table(&run.results));
    let meta = setup.meta(
        &run,
        json!({"agent": {"key": AGENT, "cmd": fake.display().to_string(), "detector": "qwen",
                         "think_ms": args.think_ms},
                "quiet_sessions": {"count": args.quiet_sessions, "cmd": "sleep infinity"}}),
    );
    setup::write_json(&args.out, &report::json(&run.results, meta))
}

/// CPU clock ticks of one process: its own and its reaped children's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ticks {
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
}

impl Ticks {
    /// Reads `/proc/<pid>/stat`.
    fn of(pid: u32) -> Result<Ticks> {
        let path = format!("/proc/{pid}/stat");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        // After `pid (comm)`: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
        let rest = text.rsplit_once(')').map(|(_, r)| r).context("no command name in stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| -> Result<u64> {
            fields.get(i).context("short stat line")?.parse().context("bad tick count")
        };
        Ok(Ticks { utime: field(11)?, stime: field(12)?, cutime: field(13)?, cstime: field(14)? })
    }

    fn since(self, before: Ticks) -> Ticks {
        Ticks {
            utime: self.utime.saturating_sub(before.utime),
            stime: self.stime.saturating_sub(before.stime),
            cutime: self.cutime.saturating_sub(before.cutime),
            cstime: self.cstime.saturating_sub(before.cstime),
        }
    }

    /// All four.
    pub fn total(self) -> u64 {
        self.utime + self.stime + self.cutime + self.cstime
    }
}

/// The idle phase: N agents sitting at their composer.
#[derive(Debug)]
pub struct Idle {
    pub sessions: usize,
    /// Spawn requests: wall time and failures.
    pub spawn_wall: Duration,
    pub spawn_errors: Vec<String>,
    /// From the first spawn request to every session `idle`.
    pub all_idle_after: Duration,
    /// The sample window.
    pub window: Duration,
    pub daemon: Ticks,
    pub tmux_server: Ticks,
    /// Daemon CPU (all four counters) per 5-second slice of the window, in ticks.
    pub daemon_slices: Vec<u64>,
    pub clock_ticks: u64,
    pub daemon_rss_kib: u64,
    pub daemon_hwm_kib: u64,
    pub tmux_server_rss_kib: u64,
    /// State events on `/api/events` during the window (should be none).
    pub events_in_window: usize,
    /// Sessions still idle at the end of the window.
    pub idle_at_end: usize,
    pub load_start: f64,
    pub load_end: f64,
}

/// The screen → event phase.
#[derive(Debug, Default)]
pub struct Latency {
    pub sessions: usize,
    /// Fake drew its working screen → `event: state` working arrived, ms.
    pub to_working: Vec<f64>,
    /// Fake drew its idle screen → `event: state` idle arrived, ms.
    pub to_idle: Vec<f64>,
    /// Turns whose working (or idle) event never came within the deadline.
    pub missed_working: usize,
    pub missed_idle: usize,
    /// Working events whose `previous` was not `idle`.
    pub odd_previous: usize,
    pub load_start: f64,
}

/// One `send --wait` prompt, unix ms.
#[derive(Debug, Clone, Copy)]
pub struct Prompt {
    pub sent: f64,
    pub working_drawn: i64,
    pub idle_drawn: i64,
    pub answered: f64,
    pub state: AgentState,
    pub timed_out: bool,
}

impl Prompt {
    /// Response arrived − the fake drew its idle screen.
    pub fn overhead(&self) -> f64 {
        self.answered - self.idle_drawn as f64
    }

    pub fn end_to_end(&self) -> f64 {
        self.answered - self.sent
    }

    /// Request sent → the fake drew its working screen (typing, settle, Enter, reaction).
    pub fn until_working(&self) -> f64 {
        self.working_drawn as f64 - self.sent
    }

    /// The agent's own turn: working drawn → idle drawn.
    pub fn agent(&self) -> f64 {
        (self.idle_drawn - self.working_drawn) as f64
    }
}

/// Everything the agents mode measured.
#[derive(Debug)]
pub struct Results {
    pub ready_after: Duration,
    pub think_ms: u64,
    pub latency: Latency,
    pub prompts: Vec<Prompt>,
    pub prompts_load_start: f64,
    pub idle: Idle,
}

async fn bench(args: &Args, daemon: &Daemon, state: &Path) -> Result<Results> {
    let client = daemon.client();
    let tmux_socket = daemon.paths().tmux_socket.clone();
    let names: Vec<String> = (0..args.idle_sessions).map(|i| format!("q-{i:03}")).collect();
    let log_of = |name: &str| state.join("fq").join(format!("{name}.log"));

    if args.quiet_sessions > 0 {
        step(&format!("spawning {} `{QUIET}` sessions", args.quiet_sessions));
        spawn_quiet(&client, args.quiet_sessions, state).await?;
    }
    step(&format!("spawning {} `{AGENT}` sessions", args.sessions));
    let started = Instant::now();
    let (_, errors) = spawn(&client, &names[..args.sessions], state, args.think_ms).await;
    if !errors.is_empty() {
        bail!("cannot spawn the sessions: {}", errors.join("; "));
    }
    wait_idle(&client, args.sessions, started).await?;

    // 2. Screen change → state event, typing straight into tmux.
    let mut events = listen(&client).await?;
    let mut latency = Latency {
        sessions: args.sessions,
        load_start: crate::load_average(),
        ..Default::default()
    };
    step(&format!(
        "{} idle → working → idle turns typed with `tmux send-keys`, {} sessions running",
        args.transitions, args.sessions
    ));
    for k in 0..args.transitions {
        let name = &names[k % args.sessions];
        tokio::time::sleep(pause(k)).await;
        events.drain();
        let sent = now_ms();
        tmux(&tmux_socket, &["send-keys", "-t", &target(name), "-l", TYPED]).await?;
        // Enter only once the fake has read the text (one read of `say hello\r` would be
        // taken as typed text): its composer line, not the history's `  > say hello`.
        wait_screen(&tmux_socket, name, &format!("> {TYPED}")).await?;
        tmux(&tmux_socket, &["send-keys", "-t", &target(name), "Enter"]).await?;
        let log = log_of(name);
        let working_drawn = log_time(&log, "working", sent as i64).await?;
        match events.wait(name, &[AgentState::Working, AgentState::Idle]).await {
            Some(e) if e.state == AgentState::Working => {
                latency.to_working.push(e.at - working_drawn as f64);
                latency.odd_previous += usize::from(e.previous != AgentState::Idle);
            }
            _ => latency.missed_working += 1,
        }
        let idle_drawn = log_time(&log, "idle", working_drawn).await?;
        match events.wait(name, &[AgentState::Idle]).await {
            Some(e) => latency.to_idle.push(e.at - idle_drawn as f64),
            None => latency.missed_idle += 1,
        }
    }
    drop(events);

    // 3. `send --wait` overhead over the agent's own turn.
    let prompts_load_start = crate::load_average();
    step(&format!("{} prompts with `send --wait`", args.prompts));
    let mut prompts = Vec::with_capacity(args.prompts);
    for k in 0..args.prompts {
        let name = &names[k % args.sessions];
        tokio::time::sleep(pause(k)).await;
        let sent = now_ms();
        let res = client
            .send_wait(name, &format!("bench prompt {k}"), SEND_TIMEOUT_S)
            .await
            .with_context(|| format!("send --wait to {name}"))?;
        let answered = now_ms();
        let log = log_of(name);
        let working_drawn = log_time(&log, "working", sent as i64).await?;
        let idle_drawn = log_time(&log, "idle", working_drawn).await?;
        prompts.push(Prompt {
            sent,
            working_drawn,
            idle_drawn,
            answered,
            state: res.state.unwrap_or(AgentState::Exited),
            timed_out: res.timed_out,
        });
    }

    // 1. Daemon CPU with N idle agents.
    let more = args.idle_sessions - args.sessions;
    step(&format!("spawning {more} more sessions ({} in all)", args.idle_sessions));
    let started = Instant::now();
    let (mut spawn_wall, spawn_errors) =
        spawn(&client, &names[args.sessions..], state, args.think_ms).await;
    for e in spawn_errors.iter().take(5) {
        eprintln!("llmux-bench agents: spawn failed: {e}");
    }
    let all_idle_after = wait_idle(&client, args.idle_sessions - spawn_errors.len(), started)
        .await
        .context("waiting for the idle sessions")?;
    if more == 0 {
        spawn_wall = Duration::ZERO;
    }
    tokio::time::sleep(SETTLE).await;
    let server = procs::tmux_server(&tmux_socket).context("cannot find the tmux server's pid")?;
    let window = Duration::from_secs(args.idle_secs);
    step(&format!("sampling CPU for {window:?} with {} idle sessions", args.idle_sessions));
    let mut events = listen(&client).await?;
    let load_start = crate::load_average();
    let (d0, s0) = (Ticks::of(daemon.pid())?, Ticks::of(server)?);
    let start = Instant::now();
    let mut slices = Vec::new();
    let mut last = d0;
    let slice = Duration::from_secs(5);
    while start.elapsed() < window {
        let left = window.saturating_sub(start.elapsed());
        tokio::time::sleep(left.min(slice)).await;
        let now = Ticks::of(daemon.pid())?;
        slices.push(now.since(last).total());
        last = now;
    }
    let (d1, s1) = (Ticks::of(daemon.pid())?, Ticks::of(server)?);
    let measured = start.elapsed();
    let load_end = crate::load_average();
    let events_in_window = events.drain();
    drop(events);
    let list = client.list_sessions().await?;
    let idle_at_end =
        list.iter().filter(|s| s.agent == AGENT && s.state == AgentState::Idle).count();
    let idle = Idle {
        sessions: args.idle_sessions,
        spawn_wall,
        spawn_errors,
        all_idle_after,
        window: measured,
        daemon: d1.since(d0),
        tmux_server: s1.since(s0),
        daemon_slices: slices,
        clock_ticks: crate::daemon::clock_ticks(),
        daemon_rss_kib: daemon.rss_kib()?,
        daemon_hwm_kib: daemon.peak_rss_kib()?,
        tmux_server_rss_kib: procs::kib(server, "status", "VmRSS:").unwrap_or(0),
        events_in_window,
        idle_at_end,
        load_start,
        load_end,
    };

    Ok(Results {
        ready_after: daemon.ready_after,
        think_ms: args.think_ms,
        latency,
        prompts,
        prompts_load_start,
        idle,
    })
}

/// Creates `names` (agent `fakeq`, each logging to `<state>/fq/<name>.log`), a few in flight.
async fn spawn(
    client: &Client,
    names: &[String],
    state: &Path,
    think_ms: u64,
) -> (Duration, Vec<String>) {
    let cwd = state.to_string_lossy().into_owned();
    let batch =
        measure::bounded(names.to_vec(), SPAWN_CONCURRENCY, |name| {
            let client = client.clone();
            let log = state.join("fq").join(format!("{name}.log"));
            let env = BTreeMap::from([
                ("FAKE_QWEN_LOG".to_owned(), log.display().to_string()),
                ("FAKE_THINK_MS".to_owned(), think_ms.to_string()),
            ]);
            let req = CreateSessionRequest {
                agent: AGENT.to_owned(),
                name: Some(name.clone()),
                cwd: Some(cwd.clone()),
                env: Some(EnvInput::Map(env)),
                ..Default::default()
            };
            async move {
                client.create_session(&req).await.map(drop).map_err(|e| format!("{name}: {e}"))
            }
        })
        .await;
    (batch.wall, batch.errors)
}

/// Creates `n` sessions of the quiet agent, a few in flight; fails if any cannot start.
async fn spawn_quiet(client: &Client, n: usize, state: &Path) -> Result<()> {
    let cwd = state.to_string_lossy().into_owned();
    let names = (0..n).map(|i| format!("z-{i:04}")).collect();
    let batch =
        measure::bounded(names, SPAWN_CONCURRENCY, |name| {
            let client = client.clone();
            let req = CreateSessionRequest {
                agent: QUIET.to_owned(),
                name: Some(name.clone()),
                cwd: Some(cwd.clone()),
                ..Default::default()
            };
            async move {
                client.create_session(&req).await.map(drop).map_err(|e| format!("{name}: {e}"))
            }
        })
        .await;
    if let Some(e) = batch.errors.first() {
        bail!("{} quiet sessions could not start, the first: {e}", batch.errors.len());
    }
    Ok(())
}

/// Polls the session list until `n` sessions of the fake agent are `idle`; returns the time since `since`.
async fn wait_idle(client: &Client, n: usize, since: Instant) -> Result<Duration> {
    let deadline = Instant::now() + IDLE_WAIT;
    loop {
        let list = client.list_sessions().await?;
        let idle = list.iter().filter(|s| s.agent == AGENT && s.state == AgentState::Idle).count();
        if idle >= n {
            return Ok(since.elapsed());
        }
        if Instant::now() > deadline {
            let mut states = BTreeMap::<&str, usize>::new();
            for s in &list {
                *states.entry(s.state.as_str()).or_default() += 1;
            }
            bail!("only {idle}/{n} sessions are idle after {IDLE_WAIT:?}: {states:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pause before turn `k`.
fn pause(k: usize) -> Duration {
    PAUSE_BASE + Duration::from_millis(k as u64 * PAUSE_STEP_MS % PAUSE_SPREAD_MS)
}

/// Unix time in ms, with sub-millisecond digits.
fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// `=NAME:`, the active pane of exactly that session.
fn target(name: &str) -> String {
    format!("={}:", llmux_core::tmux::tmux_name(name))
}

/// Runs the tmux binary on the daemon's socket; returns its stdout.
async fn tmux(socket: &Path, args: &[&str]) -> Result<String> {
    let out = tokio::process::Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .context("cannot run tmux")?;
    if !out.status.success() {
        bail!("tmux {args:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `capture-pane` until a line of the session's screen is `line` (trailing blanks
/// aside).
async fn wait_screen(socket: &Path, name: &str, line: &str) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let screen = tmux(socket, &["capture-pane", "-p", "-t", &target(name)]).await?;
        if screen.lines().any(|l| l.trim_end() == line) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{name} did not show {line:?} within {WAIT:?}; its screen:\n{screen}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The first `{"<kind>": ms}` line of a fake's log at or after `after` (unix ms); polled,
/// because the fake writes it just after drawing.
async fn log_time(log: &Path, kind: &str, after: i64) -> Result<i64> {
    let deadline = Instant::now() + WAIT + WAIT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get(kind).and_then(serde_json::Value::as_i64))
            .find(|&t| t >= after);
        if let Some(t) = found {
            return Ok(t);
        }
        if Instant::now() > deadline {
            bail!("no {kind:?} line at or after {after} in {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A state event, stamped when it arrived.
#[derive(Debug)]
struct Seen {
    /// Unix ms.
    at: f64,
    name: String,
    state: AgentState,
    previous: AgentState,
}

/// An open `GET /api/events` stream, read by its own task so that every event is stamped as
/// it arrives.
struct Events {
    rx: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

async fn listen(client: &Client) -> Result<Events> {
    let mut stream = client.events().await.context("cannot open /api/events")?;
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(event) = stream.next().await {
            let at = now_ms();
            match event {
                Ok(SessionEvent::State(e)) => {
                    let seen = Seen { at, name: e.name, state: e.state, previous: e.previous };
                    if tx.send(seen).is_err() {
                        break;
                    }
                }
                Ok(SessionEvent::Sessions(_)) => {}
                Err(e) => {
                    eprintln!("llmux-bench agents: the event stream failed: {e}");
                    break;
                }
            }
        }
    });
    Ok(Events { rx, task })
}

impl Events {
    /// Drops the events received so far; returns how many there were.
    fn drain(&mut self) -> usize {
        let mut n = 0;
        while self.rx.try_recv().is_ok() {
            n += 1;
        }
        n
    }

    /// The next event of `name` entering one of `states`, within [`WAIT`].
    async fn wait(&mut self, name: &str, states: &[AgentState]) -> Option<Seen> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(e)) if e.name == name && states.contains(&e.state) => return Some(e),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn step(what: &str) {
    eprintln!("llmux-bench agents: {what}");
}
