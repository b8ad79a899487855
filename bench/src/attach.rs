//! `llmux-bench attach`: the terminal WebSocket (`GET /ws/{name}`) against a plain
//! `tmux attach` on a PTY — keystroke echo latency, output throughput, time to first byte,
//! and the daemon's memory per viewer. Prints figures; never passes or fails on them.

pub(crate) mod echo;
mod fanout;
pub(crate) mod procs;
mod report;
pub(crate) mod viewer;
mod vt;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use llmux_api::{CreateSessionRequest, SessionStatus};
use serde_json::json;

use crate::daemon::{self, Daemon};
use crate::setup::{self, Setup};
use procs::Group;
use viewer::{Kind, Viewer};

const USAGE: &str = "\
usage: llmux-bench attach [--llmux PATH] [--keystrokes N] [--burst-mb N] [--bursts N]
                          [--connects N] [--viewers N] [--out FILE]

  --llmux PATH      llmux binary [default: <workspace>/target/release/llmux]
  --keystrokes N    timed keystrokes per path (WebSocket, plain tmux) [default: 1000]
  --burst-mb N      size of the output burst, MB (10^6 bytes) [default: 50]
  --bursts N        timed bursts per path [default: 3]
  --connects N      timed connects per history setting [default: 25]
  --viewers N       idle viewers in the memory phase, and viewers of the 1 MiB dump
                    in the fan-out phase [default: 50]
  --out FILE        JSON results [default: <workspace>/bench-results/issue4.json]";

/// Longest wait for one echo, one first frame, or `READY`.
const WAIT: Duration = Duration::from_secs(10);
/// Longest wait for one burst's end marker.
const BURST_WAIT: Duration = Duration::from_secs(300);
/// Pause after closing a viewer before the next connect (the daemon reaps its tmux client).
const CONNECT_PAUSE: Duration = Duration::from_millis(50);
/// Scrollback lines the `scroll` agent prints (the default replay is 1000 lines).
const SCROLL_LINES: usize = 3000;

/// Which session each measurement uses, and its agent.
const ECHO_WS: &str = "echo-ws";
const ECHO_TMUX: &str = "echo-tmux";
const BURST_WS: &str = "burst-ws";
const BURST_TMUX: &str = "burst-tmux";
const SCROLL: &str = "scroll";
const FANOUT_WS: &str = "fanout-ws";
const FANOUT_TMUX: &str = "fanout-tmux";
const SESSIONS: [(&str, &str); 7] = [
    (ECHO_WS, "echo"),
    (ECHO_TMUX, "echo"),
    (BURST_WS, "burst"),
    (BURST_TMUX, "burst"),
    (SCROLL, "scroll"),
    (FANOUT_WS, "dump"),
    (FANOUT_TMUX, "dump"),
];
/// What the `dump` agent prints at once, for every viewer of the fan-out phase.
const DUMP_BYTES: usize = 1 << 20;
/// Timed fan-out rounds per path.
const FANOUT_ROUNDS: usize = 3;

/// Command-line options of the attach mode.
#[derive(Debug)]
pub struct Args {
    llmux: PathBuf,
    keystrokes: usize,
    burst_bytes: usize,
    bursts: usize,
    connects: usize,
    viewers: usize,
    out: PathBuf,
}

fn parse_args(root: &Path, argv: impl Iterator<Item = String>) -> Result<Option<Args>> {
    let mut args = Args {
        llmux: root.join("target/release/llmux"),
        keystrokes: 1000,
        burst_bytes: 50_000_000,
        bursts: 3,
        connects: 25,
        viewers: 50,
        out: root.join("bench-results/issue4.json"),
    };
    let Some(flags) = crate::flag_values(argv, USAGE)? else { return Ok(None) };
    for (flag, value) in flags {
        let number = |v: &str| crate::number(&flag, v);
        match flag.as_str() {
            "--llmux" => args.llmux = PathBuf::from(value),
            "--keystrokes" => args.keystrokes = number(&value)?.clamp(1, 100_000),
            "--burst-mb" => args.burst_bytes = number(&value)?.clamp(1, 1000) * 1_000_000,
            "--bursts" => args.bursts = number(&value)?.clamp(1, 100),
            "--connects" => args.connects = number(&value)?.clamp(1, 10_000),
            "--viewers" => args.viewers = number(&value)?.clamp(2, 500),
            "--out" => args.out = PathBuf::from(value),
            _ => bail!("unknown argument {flag:?}\n\n{USAGE}"),
        }
    }
    Ok(Some(args))
}

/// Runs the attach mode with the arguments after `attach`.
pub async fn run(root: &Path, argv: impl Iterator<Item = String>) -> Result<()> {
    let Some(args) = parse_args(root, argv)? else { return Ok(()) };
    let setup = Setup::new(root, &args.llmux, "attach")?;
    let state = setup.state();
    let config = write_agents(state, args.burst_bytes)?;
    let run =
        setup.run(&config, "llmux-bench attach", async |d| bench(&args, d, state).await).await?;
    let detail = format!("viewers {}x{}", viewer::COLS, viewer::ROWS);
    setup.print("llmux-bench attach", &detail, &run, &report::table(&run.results));
    let meta = setup.meta(
        &run,
        json!({
        "viewer_size": {"cols": viewer::COLS, "rows": viewer::ROWS},
        "agents": {
            "echo": "sh: stty raw -echo; exec cat",
            "burst": "sh: stty -echo; per line read: cat <burst file>; printf '@@END-%s@@\\n'",
            "scroll": format!("sh: {SCROLL_LINES} lines of scrollback, then sleep"),
        },
        }),
    );
    setup::write_json(&args.out, &report::json(&run.results, meta))
}

/// Writes the agents' scripts, the burst's data and the config naming them; returns the
/// config's path.
fn write_agents(state: &Path, burst_bytes: usize) -> Result<PathBuf> {
    let burst = state.join("burst.txt");
    write_burst(&burst, burst_bytes)?;
    let dump = state.join("dump.txt");
    write_burst(&dump, DUMP_BYTES)?;
    let scripts = [
        ("echo", echo::SCRIPT.to_owned()),
        (
            "burst",
            format!(
                "stty -echo\necho READY\nwhile read -r x; do cat '{}'; printf '@@END-%s@@\\n' \"$x\"; done\n",
                burst.display()
            ),
        ),
        (
            "dump",
            format!(
                // READY again after each dump: the next round's viewers wait for it on the screen.
                "stty -echo\necho READY\nwhile read -r x; do cat '{}'; printf '@@END-%s@@\\nREADY\\n' \"$x\"; done\n",
                dump.display()
            ),
        ),
        (
            "scroll",
            format!(
                "seq -f 'scrollback line %04g: the quick brown fox jumps over the lazy dog \
                 0123456789' {SCROLL_LINES}\necho READY\nexec sleep infinity\n"
            ),
        ),
    ];
    let mut config = String::from("agents:\n");
    for (agent, body) in scripts {
        let path = state.join(format!("{agent}.sh"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        config.push_str(&format!("  {agent}:\n    cmd: \"{}\"\n    flags: \"\"\n", path.display()));
    }
    let path = state.join("config.yaml");
    std::fs::write(&path, config)?;
    Ok(path)
}

/// `bytes` of base64-alphabet lines of 79 random characters (no `@`, which the end marker
/// uses).
fn write_burst(path: &Path, bytes: usize) -> Result<()> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut data = vec![0u8; bytes];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut data)?;
    for (i, b) in data.iter_mut().enumerate() {
        *b = if i % 80 == 79 { b'\n' } else { ALPHABET[usize::from(*b & 63)] };
    }
    std::fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))
}

/// Daemon and tmux-client memory at one point.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Idle viewers attached.
    pub viewers: usize,
    /// Daemon `VmRSS`, KiB.
    pub daemon_rss_kib: u64,
    /// The daemon's `tmux attach` children.
    pub tmux_clients: Group,
}

/// One round of N idle viewers opened, then closed.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    /// Daemon `VmRSS` with the N viewers open, KiB.
    pub open_kib: u64,
    /// Daemon `VmRSS` a second after closing them, KiB.
    pub closed_kib: u64,
    /// The daemon's tmux clients still running then.
    pub clients_left: usize,
}

/// Connect timings for one history setting.
#[derive(Debug, Default)]
pub struct Ttfb {
    /// Connect + upgrade.
    pub upgraded: Vec<Duration>,
    /// Connect + upgrade + first output frame.
    pub first_frame: Vec<Duration>,
    /// Size of each first frame.
    pub first_frame_bytes: Vec<usize>,
    /// Connect + upgrade + the live screen (after the replay, if any) showing `READY`.
    pub screen: Vec<Duration>,
}

/// One timed burst.
#[derive(Debug, Clone, Copy)]
pub struct Burst {
    /// Which path.
    pub kind: Kind,
    /// Trigger sent → first output chunk.
    pub first_chunk: Duration,
    /// Trigger sent → end marker seen.
    pub wall: Duration,
    /// Bytes the viewer received until the end marker.
    pub received: u64,
    /// Output chunks (frames, or PTY reads) until the end marker.
    pub chunks: u64,
    /// CPU of the daemon during the burst.
    pub daemon_cpu: Duration,
    /// CPU of the viewer's tmux client (the daemon's child, or the bench's).
    pub client_cpu: Duration,
    /// CPU of the tmux server.
    pub server_cpu: Duration,
    /// CPU of this process (the WebSocket or PTY reader).
    pub bench_cpu: Duration,
}

/// Everything the attach mode measured.
#[derive(Debug)]
pub struct Results {
    /// Spawn of the daemon to its first `/health`.
    pub ready_after: Duration,
    /// 1-minute load average when each phase started.
    pub phase_load: Vec<(&'static str, f64)>,
    /// Memory with 0, 1 and N viewers, and after closing them.
    pub memory: Vec<Memory>,
    /// Idle viewers per round.
    pub viewers: usize,
    /// Each round of N viewers: daemon `VmRSS` with them open and after closing them.
    pub rounds: Vec<Round>,
    /// Time to first byte, `?history=0`.
    pub ttfb_no_history: Ttfb,
    /// Time to first byte, default history.
    pub ttfb_history: Ttfb,
    /// Keystroke → echo over the WebSocket.
    pub echo_ws: Vec<Duration>,
    /// Keystroke → echo through a plain tmux client.
    pub echo_tmux: Vec<Duration>,
    /// Burst size, bytes.
    pub burst_bytes: usize,
    /// Timed bursts, both paths, in the order run.
    pub bursts: Vec<Burst>,
    /// Fan-out rounds, both paths, in the order run.
    pub fanout: Vec<fanout::Fanout>,
}

async fn bench(args: &Args, daemon: &Daemon, state: &Path) -> Result<Results> {
    let client = daemon.client();
    let socket = daemon.paths().socket.clone();
    let tmux_socket = daemon.paths().tmux_socket.clone();
    let mut phase_load = Vec::new();

    step("spawning the sessions");
    let cwd = state.to_string_lossy().into_owned();
    for (name, agent) in SESSIONS {
        let req = CreateSessionRequest {
            agent: agent.to_owned(),
            name: Some(name.to_owned()),
            cwd: Some(cwd.clone()),
            ..Default::default()
        };
        client.create_session(&req).await.with_context(|| format!("cannot spawn {name}"))?;
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let list = client.list_sessions().await?;
        let running = list.iter().filter(|s| s.status == SessionStatus::Running).count();
        if running == SESSIONS.len() {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {running}/{} sessions are running after {WAIT:?}", SESSIONS.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every agent prints READY once it is set up.
    for (name, _) in SESSIONS {
        let (mut v, _) = Viewer::websocket(&socket, name, "?history=0").await?;
        v.wait_text("READY", WAIT).await.with_context(|| format!("session {name}"))?;
        v.close().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Memory first, while the daemon's heap has not yet grown for bursts.
    phase_load.push(("memory", crate::load_average()));
    step(&format!("daemon memory with 0, 1 and {} idle viewers of `{SCROLL}`", args.viewers));
    let memory_at = |viewers: usize| Memory {
        viewers,
        daemon_rss_kib: procs::kib(daemon.pid(), "status", "VmRSS:").unwrap_or(0),
        tmux_clients: Group::of(&procs::tmux_clients(daemon.pid())),
    };
    let mut memory = vec![memory_at(0)];
    let mut rounds = Vec::new();
    // Two rounds: the second tells a leak (RSS keeps growing) from the allocator keeping
    // freed memory for reuse (it does not).
    for round in 0..2 {
        let mut viewers = Vec::with_capacity(args.viewers);
        for i in 0..args.viewers {
            let (mut v, _) = Viewer::websocket(&socket, SCROLL, "").await?;
            v.wait_text("READY", WAIT).await?;
            let first = round == 0 && i == 0;
            v.settle(Duration::from_millis(if first { 300 } else { 20 }), WAIT).await?;
            viewers.push(v);
            if first {
                tokio::time::sleep(Duration::from_millis(500)).await;
                memory.push(memory_at(1));
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let open = memory_at(viewers.len());
        if round == 0 {
            memory.push(open);
        }
        for v in viewers {
            v.close().await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let closed = memory_at(0);
        rounds.push(Round {
            open_kib: open.daemon_rss_kib,
            closed_kib: closed.daemon_rss_kib,
            clients_left: closed.tmux_clients.count,
        });
    }

    phase_load.push(("first byte", crate::load_average()));
    step(&format!("time to first byte, {} connects per history setting", args.connects));
    let (mut ttfb_no_history, mut ttfb_history) = (Ttfb::default(), Ttfb::default());
    // One untimed connect of each first.
    connect_once(&socket, "?history=0", &mut Ttfb::default()).await?;
    connect_once(&socket, "", &mut Ttfb::default()).await?;
    for i in 0..args.connects {
        // Alternate which goes first, so that neither always follows the other.
        if i % 2 == 0 {
            connect_once(&socket, "?history=0", &mut ttfb_no_history).await?;
            connect_once(&socket, "", &mut ttfb_history).await?;
        } else {
            connect_once(&socket, "", &mut ttfb_history).await?;
            connect_once(&socket, "?history=0", &mut ttfb_no_history).await?;
        }
    }

    phase_load.push(("keystrokes", crate::load_average()));
    step(&format!(
        "keystroke → echo, {} per path, alternating blocks of {}",
        args.keystrokes,
        echo::KEY_BLOCK
    ));
    let (mut ws, _) = Viewer::websocket(&socket, ECHO_WS, "?history=0").await?;
    let mut tm = Viewer::tmux(&tmux_socket, &llmux_core::tmux::tmux_name(ECHO_TMUX))?;
    let (echo_ws, echo_tmux) = echo::alternate(&mut ws, &mut tm, args.keystrokes).await?;
    ws.close().await;
    tm.close().await;

    phase_load.push(("fan-out", crate::load_average()));
    step(&format!("{} viewers of a 1 MiB dump, {FANOUT_ROUNDS} rounds per path", args.viewers));
    let mut fanout = Vec::new();
    for round in 0..FANOUT_ROUNDS {
        for kind in [Kind::WebSocket, Kind::Tmux] {
            let session = if kind == Kind::WebSocket { FANOUT_WS } else { FANOUT_TMUX };
            let tmux_name = llmux_core::tmux::tmux_name(session);
            let token = format!("fan{}{round}", kind.label());
            let n = args.viewers;
            fanout.push(
                fanout::measure(kind, &socket, &tmux_socket, session, &tmux_name, n, &token)
                    .await?,
            );
        }
    }

    phase_load.push(("bursts", crate::load_average()));
    let mb = args.burst_bytes as f64 / 1e6;
    step(&format!("{mb:.0} MB bursts, {} per path (after one untimed each)", args.bursts));
    let (mut ws, _) = Viewer::websocket(&socket, BURST_WS, "?history=0").await?;
    let mut tm = Viewer::tmux(&tmux_socket, &llmux_core::tmux::tmux_name(BURST_TMUX))?;
    for v in [&mut ws, &mut tm] {
        v.wait_text("READY", WAIT).await?;
        v.settle(Duration::from_millis(300), WAIT).await?;
    }
    let server = procs::tmux_server(&tmux_socket);
    let ws_client = match procs::tmux_clients(daemon.pid()).as_slice() {
        [pid] => Some(*pid),
        other => {
            eprintln!(
                "llmux-bench: warning: {} tmux clients under the daemon; no client CPU figure",
                other.len()
            );
            None
        }
    };
    let mut bursts = Vec::new();
    for round in 0..=args.bursts {
        let order = if round % 2 == 0 { [&mut ws, &mut tm] } else { [&mut tm, &mut ws] };
        for v in order {
            let client_pid = v.tmux_pid().or(ws_client);
            let token = format!("{}{round}", v.kind().label());
            let burst = burst_once(v, &token, daemon, server, client_pid).await?;
            // Round 0 is the warm-up: it fills tmux's history, as every later burst finds it.
            if round > 0 {
                bursts.push(burst);
            }
        }
    }
    ws.close().await;
    tm.close().await;

    Ok(Results {
        ready_after: daemon.ready_after,
        phase_load,
        memory,
        viewers: args.viewers,
        rounds,
        ttfb_no_history,
        ttfb_history,
        echo_ws,
        echo_tmux,
        burst_bytes: args.burst_bytes,
        bursts,
        fanout,
    })
}

/// One timed connect to `scroll`: connect + upgrade, then the first output frame; then a
/// clean close and a pause.
async fn connect_once(socket: &Path, query: &str, into: &mut Ttfb) -> Result<()> {
    let start = Instant::now();
    let (mut v, c) = Viewer::websocket(socket, SCROLL, query).await?;
    let first = v.recv_within(WAIT, "the first frame").await?;
    into.first_frame.push(start.elapsed());
    into.upgraded.push(c.upgraded);
    into.first_frame_bytes.push(first.len());
    // The live screen: tmux's draw, which shows the agent's READY (never in the replay).
    let mut finder = vt::Finder::new("READY");
    let mut seen = finder.feed(&first);
    while !seen {
        seen = finder.feed(&v.recv_within(WAIT, "the live screen").await?);
    }
    into.screen.push(start.elapsed());
    v.close().await;
    tokio::time::sleep(CONNECT_PAUSE).await;
    Ok(())
}

/// Sends `token` as a line to a `burst` session and reads until `@@END-<token>@@`.
async fn burst_once(
    v: &mut Viewer,
    token: &str,
    daemon: &Daemon,
    server: Option<u32>,
    client: Option<u32>,
) -> Result<Burst> {
    v.settle(Duration::from_millis(300), Duration::from_secs(30)).await?;
    let cpu = || {
        (
            daemon.cpu_time().unwrap_or_default(),
            procs::cpu(client),
            procs::cpu(server),
            daemon::cpu_time("/proc/self/stat").unwrap_or_default(),
        )
    };
    let before = cpu();
    let mut finder = vt::Finder::new(&format!("@@END-{token}@@"));
    let start = Instant::now();
    let deadline = start + BURST_WAIT;
    v.send(format!("{token}\r").as_bytes()).await?;
    let (mut received, mut chunks, mut first_chunk) = (0u64, 0u64, None);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = v.recv_within(left, "the burst's end marker").await?;
        first_chunk.get_or_insert_with(|| start.elapsed());
        received += chunk.len() as u64;
        chunks += 1;
        if finder.feed(&chunk) {
            break;
        }
    }
    let wall = start.elapsed();
    let after = cpu();
    Ok(Burst {
        kind: v.kind(),
        first_chunk: first_chunk.unwrap_or(wall),
        wall,
        received,
        chunks,
        daemon_cpu: after.0.saturating_sub(before.0),
        client_cpu: after.1.saturating_sub(before.1),
        server_cpu: after.2.saturating_sub(before.2),
        bench_cpu: after.3.saturating_sub(before.3),
    })
}

fn step(what: &str) {
    eprintln!("llmux-bench attach: {what}");
}
