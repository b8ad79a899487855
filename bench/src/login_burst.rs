//! `llmux-bench login-burst`: what a burst of wrong sign-ins costs the daemon (issue 12,
//! finding 5). `--burst` clients send one bad login each, all at once, over TCP, for made-up
//! usernames (each its own account, so no per-account limit helps); meanwhile bob, who signed
//! in from this "browser" before, signs in with his device cookie, and carol, from a browser
//! that never did, tries too. Prints the daemon's RSS idle, at its peak during the burst and
//! after, the answers the burst got, and bob's and carol's latency. Never passes or fails on
//! the figures; fails only if the daemon does not work.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use llmux_api::CreateUserRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::daemon::Daemon;
use crate::setup::Setup;

const USAGE: &str = "\
usage: llmux-bench login-burst [--llmux PATH] [--burst N]

  --llmux PATH   llmux binary [default: <workspace>/target/release/llmux]
  --burst N      concurrent bad logins [default: 200]";

const CONFIG: &str = "agents:\n  idle:\n    cmd: \"sleep\"\n    flags: \"infinity\"\n";
/// How often RSS is sampled during the burst.
const SAMPLE: Duration = Duration::from_millis(5);
/// Quiet time after the burst before "RSS after" is read.
const SETTLE: Duration = Duration::from_secs(2);

/// Runs the mode with the arguments after `login-burst`.
pub async fn run(root: &Path, argv: impl Iterator<Item = String>) -> Result<()> {
    let Some(pairs) = crate::flag_values(argv, USAGE)? else { return Ok(()) };
    let mut llmux = root.join("target/release/llmux");
    let mut burst = 200;
    for (flag, value) in pairs {
        match flag.as_str() {
            "--llmux" => llmux = PathBuf::from(value),
            "--burst" => burst = crate::number(&flag, &value)?,
            _ => bail!("unknown flag {flag}\n\n{USAGE}"),
        }
    }
    let setup = Setup::new(root, &llmux, "login-burst")?;
    let config = setup.write_config(CONFIG)?;
    let run = setup.run(&config, "login-burst", async |d: &Daemon| measure(d, burst).await).await?;
    let r = run.results;
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!("login burst: {burst} concurrent bad logins for made-up names, over TCP");
    println!("  RSS idle                       {:8.1} MiB", mib(r.idle_kib));
    println!(
        "  RSS peak during the burst      {:8.1} MiB   (+{:.1} MiB; target <= +64 MiB)",
        mib(r.peak_kib),
        mib(r.peak_kib.saturating_sub(r.idle_kib))
    );
    println!("  VmHWM (lifetime peak)          {:8.1} MiB", mib(r.hwm_kib));
    println!(
        "  RSS after ({} s later)          {:8.1} MiB   (+{:.1} MiB)",
        SETTLE.as_secs(),
        mib(r.after_kib),
        mib(r.after_kib.saturating_sub(r.idle_kib))
    );
    println!("  daemon threads after           {:8}", r.threads_after);
    println!(
        "  burst answers                  {} × 401, {} × 429, {} other; all answered in {:.0} ms",
        r.unauthorized,
        r.refused,
        r.other,
        r.burst_wall.as_secs_f64() * 1e3
    );
    println!(
        "  bob (device cookie) signs in   HTTP {} in {:.0} ms   (target <= 2000 ms)",
        r.bob.0,
        r.bob.1.as_secs_f64() * 1e3
    );
    println!(
        "  carol (new browser) signs in   HTTP {} in {:.0} ms",
        r.carol.0,
        r.carol.1.as_secs_f64() * 1e3
    );
    println!(
        "  load average {:.2} before, {:.2} after; daemon warnings: {}",
        run.load_before,
        run.load_after,
        run.warnings.len()
    );
    Ok(())
}

struct Figures {
    idle_kib: u64,
    peak_kib: u64,
    hwm_kib: u64,
    after_kib: u64,
    threads_after: u64,
    unauthorized: usize,
    refused: usize,
    other: usize,
    burst_wall: Duration,
    bob: (u16, Duration),
    carol: (u16, Duration),
}

async fn measure(d: &Daemon, burst: usize) -> Result<Figures> {
    let port = tcp_port(d)?;
    let client = d.client();
    for name in ["bob", "carol"] {
        client
            .create_user(&CreateUserRequest {
                username: name.into(),
                name: None,
                passphrase: format!("{name}-passphrase"),
                admin: false,
            })
            .await
            .with_context(|| format!("create {name}"))?;
    }
    let idle_kib = d.rss_kib()?;
    // bob's browser signed in once before (this sets its device cookie)
    let (status, head) = login(port, "bob", "bob-passphrase", None).await?;
    if status != 200 {
        bail!("bob cannot sign in at all: HTTP {status}");
    }
    let device = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .find(|c| c.starts_with("llmux_device_bob="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);

    let pid = d.pid();
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(kib) = status_kib(pid, "VmRSS:") {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(SAMPLE).await;
            }
        })
    };
    let started = Instant::now();
    let tasks: Vec<_> = (0..burst)
        .map(|i| {
            tokio::spawn(async move { login(port, &format!("ghost-{i}"), "wrong", None).await })
        })
        .collect();
    // bob and carol while the burst is in flight
    tokio::time::sleep(Duration::from_millis(20)).await;
    let timed = |name: &'static str, cookie: Option<String>| async move {
        let t = Instant::now();
        let status = login(port, name, &format!("{name}-passphrase"), cookie.as_deref()).await;
        (status.map(|s| s.0).unwrap_or(0), t.elapsed())
    };
    let (bob, carol) = tokio::join!(timed("bob", device), timed("carol", None));
    let (mut unauthorized, mut refused, mut other) = (0, 0, 0);
    for task in tasks {
        match task.await?.map(|r| r.0) {
            Ok(401) => unauthorized += 1,
            Ok(429 | 503) => refused += 1,
            _ => other += 1,
        }
    }
    let burst_wall = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    sampling.store(false, Ordering::Relaxed);
    sampler.await?;
    Ok(Figures {
        idle_kib,
        peak_kib: peak.load(Ordering::Relaxed).max(idle_kib),
        hwm_kib: d.peak_rss_kib()?,
        after_kib: d.rss_kib()?,
        threads_after: status_kib(pid, "Threads:").unwrap_or(0),
        unauthorized,
        refused,
        other,
        burst_wall,
        bob,
        carol,
    })
}

/// The daemon's TCP port, from its banner (`▸ Local  http://127.0.0.1:PORT`).
fn tcp_port(d: &Daemon) -> Result<u16> {
    d.log_tail(200)
        .lines()
        .find_map(|l| l.split("http://127.0.0.1:").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .context("no TCP address in the daemon's banner")
}

/// A number from `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field)?.split_whitespace().next()?.parse().ok())
}

/// One `POST /api/auth/login` on a fresh connection: (status, response head).
async fn login(
    port: u16,
    username: &str,
    passphrase: &str,
    cookie: Option<&str>,
) -> Result<(u16, String)> {
    let body = serde_json::json!({"username": username, "passphrase": passphrase}).to_string();
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    let request = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\n{cookie}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).context("no status line")?;
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_owned();
    Ok((status, head))
}
