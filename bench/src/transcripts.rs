//! `llmux-bench transcripts`: what live transcript viewers cost the daemon (issue 12,
//! finding 8).
//!
//! One session of a cheap agent read with Claude Code's history adapter (the `claude` agent
//! with its command overridden to `sh -c 'sleep infinity'`, its HOME a temp dir) gets a 15 MB transcript in Claude
//! Code's format, which then grows by one line every 200 ms. The daemon's CPU time (from
//! `/proc/PID/stat`) is measured over a window twice: with nobody watching, then with 10
//! viewers on `GET /api/sessions/NAME/transcript/stream` (over the Unix socket, as the
//! local operator). Printed as % of one core; the target is ≤ 1 % with the viewers.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use llmux_api::CreateSessionRequest;

use crate::daemon::{Daemon, Run};
use crate::setup::Setup;

const USAGE: &str = "\
usage: llmux-bench transcripts [--llmux PATH] [--viewers N] [--mb N] [--every MS] [--window SECS]

  --llmux PATH      llmux binary [default: <workspace>/target/release/llmux]
  --viewers N       transcript stream viewers [default: 10]
  --mb N            transcript size before the run, in MB [default: 15]
  --every MS        one line appended every MS milliseconds [default: 200]
  --window SECS     measured seconds per phase [default: 10]";

/// The agent: the built-in `claude` key (its transcripts are read as Claude Code's; a custom
/// key borrowing the detector would show none), its command overridden to just sleep.
const CONFIG: &str = "agents:\n  claude:\n    cmd: \"sh\"\n    flags: \"-c 'sleep infinity'\"\n";

/// Target: daemon CPU with the viewers, % of one core.
const TARGET_PCT: f64 = 1.0;

struct Args {
    llmux: PathBuf,
    viewers: usize,
    mb: usize,
    every: Duration,
    window: Duration,
}

fn parse_args(root: &Path, argv: impl Iterator<Item = String>) -> Result<Option<Args>> {
    let mut args = Args {
        llmux: root.join("target/release/llmux"),
        viewers: 10,
        mb: 15,
        every: Duration::from_millis(200),
        window: Duration::from_secs(10),
    };
    let Some(flags) = crate::flag_values(argv, USAGE)? else { return Ok(None) };
    for (flag, value) in flags {
        let number = |v: &str| crate::number(&flag, v);
        match flag.as_str() {
            "--llmux" => args.llmux = PathBuf::from(value),
            "--viewers" => args.viewers = number(&value)?.clamp(1, 200),
            "--mb" => args.mb = number(&value)?.clamp(1, 500),
            "--every" => args.every = Duration::from_millis(number(&value)?.max(10) as u64),
            "--window" => args.window = Duration::from_secs(number(&value)?.clamp(1, 600) as u64),
            _ => bail!("unknown argument {flag:?}\n\n{USAGE}"),
        }
    }
    Ok(Some(args))
}

/// What one run measured.
struct Figures {
    first_event: Duration,
    idle_pct: f64,
    viewers_pct: f64,
    events_per_viewer: f64,
    mb_per_viewer: f64,
    lines_appended: u64,
}

/// Runs the transcripts mode with the arguments after `transcripts`.
pub async fn run(root: &Path, argv: impl Iterator<Item = String>) -> Result<()> {
    let Some(args) = parse_args(root, argv)? else { return Ok(()) };
    let setup = Setup::new(root, &args.llmux, "transcripts")?;
    let state = setup.state();
    std::fs::create_dir(state.join("home"))?;
    let config = setup.write_config(CONFIG)?;
    let Run { load_before, load_after, warnings, results: f } = setup
        .run(&config, "llmux-bench transcripts", async |d| bench(&args, d, state).await)
        .await?;
    println!();
    println!(
        "llmux-bench transcripts — {}; {} MB transcript, a line every {} ms, {} viewers, \
         {} s windows",
        setup.version,
        args.mb,
        args.every.as_millis(),
        args.viewers,
        args.window.as_secs()
    );
    println!("load average (1 min) {load_before:.2} before, {load_after:.2} after");
    println!("first event on every viewer after   {:>8.0} ms", f.first_event.as_secs_f64() * 1e3);
    println!("daemon CPU, nobody watching         {:>8.2} % of a core", f.idle_pct);
    println!(
        "daemon CPU, {:>3} viewers             {:>8.2} % of a core   (target ≤ {TARGET_PCT} %: {})",
        args.viewers,
        f.viewers_pct,
        if f.viewers_pct <= TARGET_PCT { "met" } else { "NOT met" }
    );
    println!(
        "per viewer in the window            {:>8.1} events, {:.2} MB ({} lines appended)",
        f.events_per_viewer, f.mb_per_viewer, f.lines_appended
    );
    for w in warnings.iter().take(10) {
        println!("daemon warning: {w}");
    }
    Ok(())
}

async fn bench(args: &Args, d: &Daemon, state: &Path) -> Result<Figures> {
    let home = state.join("home");
    let req = CreateSessionRequest {
        agent: "claude".into(),
        name: Some("tr".into()),
        cwd: Some(state.display().to_string()),
        env: Some(llmux_api::EnvInput::Map(
            [("HOME".to_owned(), home.display().to_string())].into_iter().collect(),
        )),
        ..Default::default()
    };
    let view = d.client().create_session(&req).await.context("create the session")?;
    let id = view.conversation_id.context("llmux chose no conversation id")?;
    let dir: String =
        view.cwd.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let path = home.join(".claude/projects").join(dir).join(format!("{id}.jsonl"));
    std::fs::create_dir_all(path.parent().expect("a parent"))?;
    let mut file = std::fs::File::create(&path)?;
    let mut n = 0u64;
    let mut text = String::new();
    while (text.len() as u64) < args.mb as u64 * 1_000_000 {
        text.push_str(&line(&id, n));
        n += 1;
    }
    file.write_all(text.as_bytes())?;
    drop(text);

    // The writer: a line every `every`, until the end.
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, appended, every, id) = (stop.clone(), appended.clone(), args.every, id.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(every);
                let _ = file.write_all(line(&id, n).as_bytes());
                n += 1;
                appended.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let result = measure(args, d, &stop, &appended).await;
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    result
}

async fn measure(
    args: &Args,
    d: &Daemon,
    stop: &Arc<AtomicBool>,
    appended: &Arc<AtomicU64>,
) -> Result<Figures> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_pct = cpu_pct(d, args.window).await?;

    let socket = d.paths().socket.clone();
    let counters: Vec<Arc<(AtomicU64, AtomicU64)>> =
        (0..args.viewers).map(|_| Arc::new((AtomicU64::new(0), AtomicU64::new(0)))).collect();
    let opened = Instant::now();
    let viewers: Vec<_> = counters
        .iter()
        .map(|c| {
            let (c, stop, socket) = (c.clone(), stop.clone(), socket.clone());
            std::thread::spawn(move || view(&socket, &c, &stop))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while counters.iter().any(|c| c.0.load(Ordering::Relaxed) == 0) {
        if Instant::now() > deadline || viewers.iter().any(|v| v.is_finished()) {
            stop.store(true, Ordering::Relaxed);
            bail!("a viewer got no transcript event");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first_event = opened.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: Vec<(u64, u64)> = counters.iter().map(|c| snapshot(c)).collect();
    let lines_before = appended.load(Ordering::Relaxed);
    let viewers_pct = cpu_pct(d, args.window).await?;
    let lines_appended = appended.load(Ordering::Relaxed) - lines_before;
    let after: Vec<(u64, u64)> = counters.iter().map(|c| snapshot(c)).collect();
    stop.store(true, Ordering::Relaxed);
    for v in viewers {
        let _ = v.join();
    }
    let k = args.viewers as f64;
    let events = before.iter().zip(&after).map(|(b, a)| (a.0 - b.0) as f64).sum::<f64>() / k;
    let bytes = before.iter().zip(&after).map(|(b, a)| (a.1 - b.1) as f64).sum::<f64>() / k;
    Ok(Figures {
        first_event,
        idle_pct,
        viewers_pct,
        events_per_viewer: events,
        mb_per_viewer: bytes / 1e6,
        lines_appended,
    })
}

fn snapshot(c: &(AtomicU64, AtomicU64)) -> (u64, u64) {
    (c.0.load(Ordering::Relaxed), c.1.load(Ordering::Relaxed))
}

/// The daemon's CPU use over `window`, in % of one core.
async fn cpu_pct(d: &Daemon, window: Duration) -> Result<f64> {
    let (cpu0, t0) = (d.cpu_time()?, Instant::now());
    tokio::time::sleep(window).await;
    let (cpu1, wall) = (d.cpu_time()?, t0.elapsed());
    Ok((cpu1 - cpu0).as_secs_f64() / wall.as_secs_f64() * 100.0)
}

/// One viewer: reads the stream until `stop`, counting events and bytes in `c`.
fn view(socket: &Path, c: &(AtomicU64, AtomicU64), stop: &AtomicBool) {
    let Ok(mut s) = UnixStream::connect(socket) else { return };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let req = "GET /api/sessions/tr/transcript/stream HTTP/1.1\r\nHost: localhost\r\n\r\n";
    if s.write_all(req.as_bytes()).is_err() {
        return;
    }
    const MARK: &[u8] = b"event: transcript";
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                c.1.fetch_add(n as u64, Ordering::Relaxed);
                carry.extend_from_slice(&buf[..n]);
                let found = carry.windows(MARK.len()).filter(|w| *w == MARK).count();
                c.0.fetch_add(found as u64, Ordering::Relaxed);
                let keep = carry.len().min(MARK.len() - 1);
                carry.drain(..carry.len() - keep);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// A Claude Code transcript line of about 2 KB: a user prompt or an assistant reply.
fn line(id: &str, n: u64) -> String {
    let text = format!("line {n}: {}", "lorem ipsum dolor sit amet ".repeat(70));
    let ts = llmux_core::time::rfc3339_ms(llmux_core::time::now_ms());
    let v = if n.is_multiple_of(2) {
        serde_json::json!({"type": "user", "uuid": format!("u{n}"), "timestamp": ts,
            "sessionId": id, "message": {"role": "user", "content": text}})
    } else {
        serde_json::json!({"type": "assistant", "uuid": format!("a{n}"), "timestamp": ts,
            "sessionId": id, "message": {"role": "assistant", "content": [{"type": "text", "text": text}]}})
    };
    format!("{v}\n")
}
