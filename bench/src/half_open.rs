//! `llmux-bench half-open`: the half-sent-request attack of issue 12 (finding 6) against a real
//! daemon. Opens N TCP connections that each send part of a request head and then nothing, and
//! prints how many the daemon held, the file descriptors it used, how long each connection
//! lived, and whether `/health` answered over TCP and over the Unix socket during the flood
//! and after it. Prints figures; never passes or fails on them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::daemon::{Daemon, Run};
use crate::setup::Setup;
use crate::stats::{Summary, fmt_ms};

const USAGE: &str = "\
usage: llmux-bench half-open [--llmux PATH] [--connections N] [--header-timeout SECS]
                             [--max-tcp N]

  --llmux PATH            llmux binary [default: <workspace>/target/release/llmux]
  --connections N         half-open connections to open [default: 2000]
  --header-timeout SECS   the daemon's server.limits.headerTimeoutSecs [default: its own, 10]
  --max-tcp N             the daemon's server.limits.maxTcpConnections [default: its own, 1024]";

/// What each connection sends: a request head that never ends.
const HALF: &[u8] = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ";
/// A connection closed this soon after opening was refused at accept, not held.
const REFUSED_WITHIN: Duration = Duration::from_millis(1000);
/// How long one `/health` probe may take before it counts as unanswered.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug)]
struct Args {
    llmux: PathBuf,
    connections: usize,
    header_timeout: Option<u64>,
    max_tcp: Option<usize>,
}

fn parse_args(root: &Path, argv: impl Iterator<Item = String>) -> Result<Option<Args>> {
    let mut args = Args {
        llmux: root.join("target/release/llmux"),
        connections: 2000,
        header_timeout: None,
        max_tcp: None,
    };
    let Some(flags) = crate::flag_values(argv, USAGE)? else { return Ok(None) };
    for (flag, value) in flags {
        match flag.as_str() {
            "--llmux" => args.llmux = PathBuf::from(value),
            "--connections" => args.connections = crate::number(&flag, &value)?.max(1),
            "--header-timeout" => args.header_timeout = Some(crate::number(&flag, &value)? as u64),
            "--max-tcp" => args.max_tcp = Some(crate::number(&flag, &value)?),
            _ => bail!("unknown argument {flag:?}\n\n{USAGE}"),
        }
    }
    Ok(Some(args))
}

/// Runs the mode.
pub async fn run(root: &Path, argv: impl Iterator<Item = String>) -> Result<()> {
    let Some(args) = parse_args(root, argv)? else { return Ok(()) };
    let setup = Setup::new(root, &args.llmux, "half-open")?;
    let mut limits = Vec::new();
    if let Some(s) = args.header_timeout {
        limits.push(format!("headerTimeoutSecs: {s}"));
    }
    if let Some(n) = args.max_tcp {
        limits.push(format!("maxTcpConnections: {n}"));
    }
    let config = setup.write_config(&format!("server:\n  limits: {{{}}}\n", limits.join(", ")))?;
    let Run { results, warnings, .. } =
        setup.run(&config, "llmux-bench half-open", async |d| flood(&args, d).await).await?;
    print!("{results}");
    let refused = warnings.iter().filter(|w| w.contains("connection cap")).count();
    // (one line per burst of refusals, with its count)
    let other: Vec<&String> = warnings.iter().filter(|w| !w.contains("connection cap")).collect();
    println!("daemon warnings: {refused} refused-at-cap lines, {} others", other.len());
    for w in other.iter().take(5) {
        println!("  {w}");
    }
    Ok(())
}

/// How one connection ended.
#[derive(Debug, Clone, Copy)]
enum End {
    /// The daemon closed it (or answered 503) this long after it opened.
    Closed(Duration, bool),
}

async fn flood(args: &Args, daemon: &Daemon) -> Result<String> {
    let port = tcp_port(daemon)?;
    let pid = daemon.pid();
    let fds_idle = fd_count(pid)?;
    let ends: Arc<Mutex<Vec<End>>> = Arc::new(Mutex::new(Vec::new()));
    let mut opened = 0usize;
    let mut connect_errors = 0usize;
    let mut first_error = None;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.connections {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(mut s) => {
                let _ = s.write_all(HALF).await;
                opened += 1;
                let ends = ends.clone();
                tasks.spawn(async move {
                    let born = Instant::now();
                    let mut buf = [0u8; 512];
                    let mut got = Vec::new();
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let busy = got.starts_with(b"HTTP/1.1 503");
                    ends.lock().await.push(End::Closed(born.elapsed(), busy));
                });
            }
            Err(e) => {
                connect_errors += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let opening = start.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let closed_early = ends.lock().await.len();
    let fds_during = fd_count(pid)?;
    let (tcp_during, unix_during) = (probe_tcp(port).await, probe_unix(daemon).await);

    // Wait for the daemon to close them all (header timeout), at most a minute more.
    let deadline = Instant::now() + Duration::from_secs(60);
    while ends.lock().await.len() < opened && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_closed = start.elapsed();
    let still_open = opened - ends.lock().await.len();
    tasks.abort_all();
    let (tcp_after, unix_after) = (probe_tcp(port).await, probe_unix(daemon).await);
    let fds_after = fd_count(pid)?;

    let ends = ends.lock().await.clone();
    let refused: Vec<Duration> = ends
        .iter()
        .filter_map(|End::Closed(d, busy)| (*busy || *d < REFUSED_WITHIN).then_some(*d))
        .collect();
    let held: Vec<Duration> = ends
        .iter()
        .filter_map(|End::Closed(d, busy)| (!*busy && *d >= REFUSED_WITHIN).then_some(*d))
        .collect();
    let busy = ends.iter().filter(|End::Closed(_, b)| *b).count();
    let span = |s: Option<Summary>| {
        s.map_or("—".to_owned(), |s| {
            format!("min {} · p50 {} · max {}", fmt_ms(s.min), fmt_ms(s.p50), fmt_ms(s.max))
        })
    };
    let mut out = "\nllmux-bench half-open — finding 6 (header timeout, TCP cap)\n\n".to_owned();
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<40} {v}\n"));
    line(
        "connections opened",
        format!(
            "{opened} in {} ({connect_errors} connect errors{})",
            fmt_ms(opening.as_secs_f64() * 1e3),
            first_error.map(|e| format!(", first: {e}")).unwrap_or_default()
        ),
    );
    line("held by the daemon (at peak)", format!("{}", opened - closed_early));
    line("refused at accept", format!("{} ({busy} with a 503)", refused.len()));
    line("lifetime, refused", span(Summary::of(&refused)));
    line("lifetime, held (header timeout)", span(Summary::of(&held)));
    line(
        "still open at the end",
        format!("{still_open} (after {:.1} s)", all_closed.as_secs_f64()),
    );
    line("daemon fds: idle / during / after", format!("{fds_idle} / {fds_during} / {fds_after}"));
    line("/health over TCP: during / after", format!("{tcp_during} / {tcp_after}"));
    line("/health over the socket: during / after", format!("{unix_during} / {unix_after}"));
    Ok(out)
}

/// The daemon's TCP port, from its start banner.
fn tcp_port(daemon: &Daemon) -> Result<u16> {
    daemon
        .log_tail(200)
        .lines()
        .rev()
        .find(|l| l.contains("▸ Local"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .context("no TCP port in the daemon's banner")
}

/// Open file descriptors of `pid`.
fn fd_count(pid: u32) -> Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// `GET /health` over a fresh TCP connection: its status and time, or why not.
async fn probe_tcp(port: u16) -> String {
    let start = Instant::now();
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut text = Vec::new();
        s.read_to_end(&mut text).await?;
        Ok::<_, std::io::Error>(
            String::from_utf8_lossy(&text).split(' ').nth(1).unwrap_or("").to_owned(),
        )
    };
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(Ok(status)) if status == "200" => {
            format!("200 in {}", fmt_ms(start.elapsed().as_secs_f64() * 1e3))
        }
        Ok(Ok(status)) if status.is_empty() => "closed, no answer".to_owned(),
        Ok(Ok(status)) => format!("{status} in {}", fmt_ms(start.elapsed().as_secs_f64() * 1e3)),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => format!("no answer in {PROBE_TIMEOUT:?}"),
    }
}

/// `/health` over the Unix socket: its time, or why not.
async fn probe_unix(daemon: &Daemon) -> String {
    let start = Instant::now();
    match tokio::time::timeout(PROBE_TIMEOUT, daemon.client().health()).await {
        Ok(Ok(_)) => format!("200 in {}", fmt_ms(start.elapsed().as_secs_f64() * 1e3)),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => format!("no answer in {PROBE_TIMEOUT:?}"),
    }
}
