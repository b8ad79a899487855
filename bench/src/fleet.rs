//! `llmux-bench fleet` (issue 17): one hub and N hosts on this machine, each host a real
//! daemon on its own state dir, tmux socket and loopback port, added to the hub by URL with
//! a `hub` token; M idle sessions per host plus one fake-qwen agent and one `cat`-like echo
//! per host. Figures: the hub's `session list` and `GET /api/sessions` (c=1, c=16) over all
//! N×(M+2) remote sessions, a
//! host's agent state change reaching the hub's `/api/events` (and the host's own, to show
//! what the hop adds), keystroke echo through the hub's relayed terminal (`/ws/h0:echo`)
//! against the host's own (`/ws/echo`), the hub's RSS, and the time for a restarted hub to
//! see every host.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper::Method;
use llmux_api::{AgentState, CreateSessionRequest};
use llmux_client::Client;
use llmux_client::SessionEvent;
use serde_json::{Value, json};

use crate::attach::echo;
use crate::attach::viewer::Viewer;
use crate::daemon::Daemon;
use crate::measure;
use crate::setup::Setup;
use crate::stats::{Summary, fmt_ms, percentile};

const USAGE: &str = "\
usage: llmux-bench fleet [--llmux PATH] [--hosts N] [--sessions M] [--samples K] [--duration SECS]
                         [--keystrokes N]

  --llmux PATH      llmux binary [default: <workspace>/target/release/llmux]
  --hosts N         host daemons [default: 10]
  --sessions M      idle sessions per host [default: 100]
  --samples K       state changes timed (host to hub events) [default: 20]
  --duration SECS   measured seconds per GET /api/sessions load phase [default: 3]
  --keystrokes N    timed keystrokes per path (through the hub, on the host) [default: 200]";

/// Whatever `sleep infinity` is, the fake Qwen Code whose states change on a prompt, and the
/// echoing agent of the keystroke figures (`echo_script`, running [`echo::SCRIPT`]).
fn config(fake: &Path, echo_script: &Path) -> String {
    format!(
        "agents:\n  idle:\n    cmd: \"sleep\"\n    flags: \"infinity\"\n  fakeq:\n    cmd: {:?}\n    \
         detector: qwen\n    env:\n      FAKE_THINK_MS: \"300\"\n  echo:\n    cmd: {:?}\n    \
         flags: \"\"\n",
        fake.display().to_string(),
        echo_script.display().to_string()
    )
}

/// How long the hub may take to see everything (after adding the hosts, after a restart).
const SEE_ALL: Duration = Duration::from_secs(120);
/// How long one state change may take to arrive.
const WAIT: Duration = Duration::from_secs(10);

struct Args {
    llmux: PathBuf,
    hosts: usize,
    sessions: usize,
    samples: usize,
    duration: Duration,
    keystrokes: usize,
}

/// One host: its daemon, URL and the hub's token there.
struct Host {
    daemon: Daemon,
    url: String,
    token: String,
}

/// Runs the mode with the arguments after `fleet`.
pub async fn run(root: &Path, argv: impl Iterator<Item = String>) -> Result<()> {
    let Some(pairs) = crate::flag_values(argv, USAGE)? else { return Ok(()) };
    let mut args = Args {
        llmux: root.join("target/release/llmux"),
        hosts: 10,
        sessions: 100,
        samples: 20,
        duration: Duration::from_secs(3),
        keystrokes: 200,
    };
    for (flag, value) in pairs {
        match flag.as_str() {
            "--llmux" => args.llmux = PathBuf::from(value),
            "--hosts" => args.hosts = crate::number(&flag, &value)?.clamp(1, 50),
            "--sessions" => args.sessions = crate::number(&flag, &value)?.clamp(0, 1000),
            "--samples" => args.samples = crate::number(&flag, &value)?.clamp(1, 1000),
            "--keystrokes" => args.keystrokes = crate::number(&flag, &value)?.clamp(1, 100_000),
            "--duration" => {
                let secs: f64 = value.parse().context("--duration: not a number")?;
                args.duration = Duration::from_secs_f64(secs.clamp(0.1, 600.0));
            }
            _ => bail!("unknown flag {flag}\n\n{USAGE}"),
        }
    }
    let fake = root.join("crates/llmux/tests/fixtures/fake-qwen");
    if !fake.is_file() {
        bail!("no fake agent at {}", fake.display());
    }
    let setup = Setup::new(root, &args.llmux, "fleet")?;
    let echo_script = setup.state().join("echo.sh");
    std::fs::write(&echo_script, format!("#!/bin/sh\n{}", echo::SCRIPT))?;
    std::fs::set_permissions(&echo_script, std::fs::Permissions::from_mode(0o755))?;
    let config = setup.write_config(&config(&fake, &echo_script))?;
    bench(&args, &setup, &config).await
}

async fn bench(args: &Args, setup: &Setup, config: &Path) -> Result<()> {
    let llmux = &setup.llmux;
    let dir = setup.state();
    let per_host = args.sessions + 2;
    let total = args.hosts * per_host;

    step(&format!("starting {} hosts with {} sessions each", args.hosts, per_host));
    let mut hosts = Vec::with_capacity(args.hosts);
    for i in 0..args.hosts {
        let state = dir.join(format!("h{i}"));
        std::fs::create_dir(&state)?;
        let daemon = Daemon::start(llmux, &state, config).await?;
        let client = daemon.client();
        let (url, token) = hub_access(&client).await.with_context(|| format!("host h{i}"))?;
        let names: Vec<String> = (0..args.sessions).map(|k| format!("idle-{k:03}")).collect();
        let cwd = state.display().to_string();
        let batch = measure::bounded(names, 8, |name| {
            let (client, cwd) = (client.clone(), cwd.clone());
            async move { create(&client, "idle", &name, &cwd).await }
        })
        .await;
        if let Some(e) = batch.errors.first() {
            bail!("host h{i}: {} spawns failed, first: {e}", batch.errors.len());
        }
        create(&client, "fakeq", "fq", &cwd).await.map_err(anyhow::Error::msg)?;
        create(&client, "echo", "echo", &cwd).await.map_err(anyhow::Error::msg)?;
        hosts.push(Host { daemon, url, token });
    }

    let hub_state = dir.join("hub");
    std::fs::create_dir(&hub_state)?;
    let mut hub = Daemon::start(llmux, &hub_state, config).await?;
    let client = hub.client();
    step("adding the hosts to the hub");
    let added = Instant::now();
    for (i, h) in hosts.iter().enumerate() {
        let body = json!({"name": format!("h{i}"), "url": h.url, "token": h.token});
        let res = post(&client, "/api/hosts", &body).await?;
        if res.0 != 201 {
            bail!("adding h{i} to the hub: HTTP {} {}", res.0, res.1);
        }
    }
    see_all(&client, args.hosts, total).await?;
    let see_after_add = added.elapsed();

    step("hub `session list` and GET /api/sessions");
    let cli = Summary::of(&measure::cli_list(llmux, &hub_state, 10).await?).context("no runs")?;
    let mut loads = Vec::new();
    for c in [1, 16] {
        let _ = measure::list_load(&client, c, Duration::from_millis(300), total).await;
        let load = measure::list_load(&client, c, args.duration, total).await;
        if let Some(e) = &load.first_error {
            bail!("GET /api/sessions at c={c}: {} errors, first: {e}", load.errors);
        }
        loads.push((c, load));
    }

    step(&format!("{} state changes on the hosts, seen at the host and at the hub", args.samples));
    let (to_host, to_hub) = state_changes(&hosts, &client, args.samples).await?;
    let rss_kib = hub.rss_kib()?;
    let threads = hub.status_kib("Threads:")?;

    step(&format!(
        "keystroke → echo of h0's `echo`, {} per path (hub /ws/h0:echo, host /ws/echo), \
         alternating blocks of {}",
        args.keystrokes,
        echo::KEY_BLOCK
    ));
    let (via_hub, on_host) = keystroke_echo(&hub, &hosts[0].daemon, args.keystrokes).await?;

    step("restarting the hub");
    hub.stop();
    let restarted = Instant::now();
    let hub = Daemon::start(llmux, &hub_state, config).await?;
    let up_after = restarted.elapsed();
    let see_after_restart = see_all(&hub.client(), args.hosts, total).await? + up_after;
    let rss_after_restart = hub.rss_kib()?;

    // The report.
    println!();
    println!(
        "llmux-bench fleet: {} hosts × {} sessions ({} remote sessions; URL transport on loopback)",
        args.hosts, per_host, total
    );
    println!("  {}", setup.version);
    let row = |what: &str, figure: String, target: &str| {
        println!("  {what:<48} {figure:<44} {target}");
    };
    row(
        "hub `llmux session list`",
        format!("median {}  p90 {}", fmt_ms(cli.p50), fmt_ms(cli.p90)),
        "<= 20 ms",
    );
    for (c, load) in &loads {
        let s = Summary::of(&load.latencies).context("no requests")?;
        let rate = load.latencies.len() as f64 / load.elapsed.as_secs_f64();
        row(
            &format!("hub GET /api/sessions, c={c}"),
            format!("{rate:.0} req/s  p50 {}  p99 {}", fmt_ms(s.p50), fmt_ms(s.p99)),
            if *c == 16 { "p99 <= 20 ms" } else { "" },
        );
    }
    let p = |v: &[f64], q: f64| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        if v.is_empty() { f64::NAN } else { percentile(&v, q) }
    };
    row(
        "state change -> host's /api/events",
        format!("p50 {}  p95 {}", fmt_ms(p(&to_host, 50.0)), fmt_ms(p(&to_host, 95.0))),
        "(the host's own detector)",
    );
    row(
        "state change -> hub's /api/events",
        format!("p50 {}  p95 {}", fmt_ms(p(&to_hub, 50.0)), fmt_ms(p(&to_hub, 95.0))),
        "p95 <= 1 s",
    );
    let hop: Vec<f64> = to_hub.iter().zip(&to_host).map(|(a, b)| a - b).collect();
    row(
        "  of which the hub's hop",
        format!("p50 {}  p95 {}", fmt_ms(p(&hop, 50.0)), fmt_ms(p(&hop, 95.0))),
        "",
    );
    let (hub50, host50) = (p(&via_hub, 50.0), p(&on_host, 50.0));
    let (hub95, host95) = (p(&via_hub, 95.0), p(&on_host, 95.0));
    row(
        "keystroke -> echo, on the host (/ws/echo)",
        format!("p50 {}  p95 {}", fmt_ms(host50), fmt_ms(host95)),
        "",
    );
    row(
        "keystroke -> echo, through the hub (/ws/h0:echo)",
        format!("p50 {}  p95 {}", fmt_ms(hub50), fmt_ms(hub95)),
        "",
    );
    row(
        "  hub - host",
        format!("p50 {:+.2} ms  p95 {:+.2} ms", hub50 - host50, hub95 - host95),
        "<= +2 ms p50",
    );
    row(
        "hub RSS, hosts connected",
        format!("{:.1} MiB ({threads} threads)", rss_kib as f64 / 1024.0),
        "<= 40 MB",
    );
    row(
        "hub RSS after a restart, all seen",
        format!("{:.1} MiB", rss_after_restart as f64 / 1024.0),
        "",
    );
    row("hosts added -> hub sees all sessions", fmt_ms(see_after_add.as_secs_f64() * 1e3), "");
    row(
        "hub restart -> sees every host's sessions",
        format!(
            "{} (daemon up in {})",
            fmt_ms(see_after_restart.as_secs_f64() * 1e3),
            fmt_ms(up_after.as_secs_f64() * 1e3)
        ),
        "",
    );
    drop(hub);
    drop(hosts);
    Ok(())
}

/// An admin `hubber` on the host and a `hub` token for it; the host's URL.
async fn hub_access(client: &Client) -> Result<(String, String)> {
    let user = json!({"username": "hubber", "passphrase": "hubber-passphrase", "admin": true});
    let (status, body) = post(client, "/api/admin/users", &user).await?;
    if status != 201 {
        bail!("creating hubber: HTTP {status} {body}");
    }
    let req = json!({"username": "hubber", "scope": "hub", "name": "bench-hub"});
    let (status, body) = post(client, "/api/tokens", &req).await?;
    if status != 201 {
        bail!("minting the hub token: HTTP {status} {body}");
    }
    let token = body["value"].as_str().context("no token value")?.to_owned();
    let res = client.raw(Method::GET, "/api/about", None, &[]).await?;
    let about: Value = serde_json::from_slice(&res.body)?;
    let url = about["endpoints"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["label"] == "Local"))
        .and_then(|e| e["url"].as_str())
        .context("no Local endpoint in /api/about")?;
    Ok((url.to_owned(), token))
}

async fn post(client: &Client, path: &str, body: &Value) -> Result<(u16, Value)> {
    let bytes = bytes::Bytes::from(serde_json::to_vec(body)?);
    let res = client.raw(Method::POST, path, Some((bytes, "application/json")), &[]).await?;
    let value = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
    Ok((res.status.as_u16(), value))
}

async fn create(client: &Client, agent: &str, name: &str, cwd: &str) -> Result<(), String> {
    let req = CreateSessionRequest {
        agent: agent.into(),
        name: Some(name.into()),
        cwd: Some(cwd.into()),
        ..Default::default()
    };
    client.create_session(&req).await.map(drop).map_err(|e| format!("{name}: {e}"))
}

/// Polls the hub until every host is up and its list has `total` sessions; how long it took.
async fn see_all(client: &Client, hosts: usize, total: usize) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let list = client.list_sessions().await?;
        let remote = list.iter().filter(|s| s.host.is_some() && !s.unreachable).count();
        if remote == total {
            let up = client.list_hosts().await?;
            if up.len() == hosts && up.iter().all(|h| h.status == llmux_api::HostStatus::Up) {
                return Ok(started.elapsed());
            }
        }
        if started.elapsed() > SEE_ALL {
            bail!("the hub saw {remote} of {total} remote sessions after {SEE_ALL:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Prompts each host's fake agent in turn and times its `working` state event at the host's
/// own `/api/events` and at the hub's, from the moment the prompt was sent (ms each).
async fn state_changes(
    hosts: &[Host],
    hub: &Client,
    samples: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut to_host, mut to_hub) = (Vec::new(), Vec::new());
    let mut hub_events = hub.events().await.context("the hub's /api/events")?;
    let mut host_events = Vec::new();
    for h in hosts {
        host_events.push(h.daemon.client().events().await.context("a host's /api/events")?);
    }
    for k in 0..samples {
        let i = k % hosts.len();
        let remote = format!("h{i}:fq");
        // The agent idle (its previous turn over) before the next prompt.
        let host = hosts[i].daemon.client();
        let deadline = Instant::now() + WAIT;
        while host.session("fq").await?.state != AgentState::Idle {
            if Instant::now() > deadline {
                bail!("h{i}:fq never became idle");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent = Instant::now();
        hosts[i].daemon.client().send("fq", &format!("bench {k}"), true).await?;
        let (host_at, hub_at) = tokio::join!(
            async {
                wait_state(&mut host_events[i], "fq", AgentState::Working).await;
                sent.elapsed()
            },
            async {
                wait_state(&mut hub_events, &remote, AgentState::Working).await;
                sent.elapsed()
            }
        );
        if host_at < WAIT && hub_at < WAIT {
            to_host.push(host_at.as_secs_f64() * 1e3);
            to_hub.push(hub_at.as_secs_f64() * 1e3);
        } else {
            eprintln!("llmux-bench fleet: sample {k} missed (host {host_at:?}, hub {hub_at:?})");
        }
    }
    Ok((to_host, to_hub))
}

/// Keystroke → echo of host `h0`'s `echo` session through the hub's relayed terminal
/// (`/ws/h0:echo` on the hub's socket) and on the host's own (`/ws/echo` on the host's
/// socket), both viewers open at once, in alternating blocks; ms each, hub first.
async fn keystroke_echo(hub: &Daemon, host: &Daemon, n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut via_hub, _) = Viewer::websocket(&hub.paths().socket, "h0:echo", "?history=0")
        .await
        .context("the hub's /ws/h0:echo")?;
    let (mut on_host, _) = Viewer::websocket(&host.paths().socket, "echo", "?history=0")
        .await
        .context("the host's /ws/echo")?;
    let (a, b) = echo::alternate(&mut via_hub, &mut on_host, n).await?;
    via_hub.close().await;
    on_host.close().await;
    let ms = |v: Vec<Duration>| v.into_iter().map(|d| d.as_secs_f64() * 1e3).collect();
    Ok((ms(a), ms(b)))
}

/// Reads `events` until `name` enters `state` (within [`WAIT`]).
async fn wait_state(events: &mut llmux_client::EventStream, name: &str, state: AgentState) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Ok(Some(Ok(ev))) = tokio::time::timeout_at(deadline, events.next()).await {
        if let SessionEvent::State(e) = ev
            && e.name == name
            && e.state == state
        {
            return;
        }
    }
}

fn step(what: &str) {
    eprintln!("llmux-bench fleet: {what}");
}
