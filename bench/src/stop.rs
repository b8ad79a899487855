//! `llmux-bench stop`: what ending a session costs (issue 14's figures). For each agent —
//! `idle` (`sleep infinity`, which exits on SIGHUP or SIGTERM) and the built-in `shell`
//! (interactive bash, which ignores SIGTERM and exits on SIGHUP) — `--runs` sessions are
//! started and each is timed through `POST /api/sessions/{name}/stop` (the record stays), then
//! through the kill route (stop and remove, what `llmux session kill` does). Last, `--sessions`
//! idle sessions are started and killed one after another, timed as a whole. Beside them: the
//! cost of a bare `tmux kill-session` on the same machine. Never passes or fails on the
//! figures; fails only if the daemon does not work.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use llmux_api::CreateSessionRequest;
use llmux_client::Client;

use crate::daemon::Daemon;
use crate::setup::Setup;
use crate::stats::{Summary, fmt_ms};

const USAGE: &str = "\
usage: llmux-bench stop [--llmux PATH] [--runs N] [--sessions N]

  --llmux PATH    llmux binary [default: <workspace>/target/release/llmux]
  --runs N        sessions stopped and killed per agent [default: 30]
  --sessions N    sessions killed one after another [default: 100]";

const CONFIG: &str = "agents:\n  idle:\n    cmd: \"sleep\"\n    flags: \"infinity\"\n";
/// The agents measured: one that exits on any hang-up or termination, and a shell.
const AGENTS: [&str; 2] = ["idle", "shell"];

/// Runs the mode with the arguments after `stop`.
pub async fn run(root: &Path, argv: impl Iterator<Item = String>) -> Result<()> {
    let Some(pairs) = crate::flag_values(argv, USAGE)? else { return Ok(()) };
    let mut llmux = root.join("target/release/llmux");
    let (mut runs, mut sessions) = (30, 100);
    for (flag, value) in pairs {
        match flag.as_str() {
            "--llmux" => llmux = PathBuf::from(value),
            "--runs" => runs = crate::number(&flag, &value)?.max(1),
            "--sessions" => sessions = crate::number(&flag, &value)?.clamp(1, 999),
            _ => bail!("unknown flag {flag}\n\n{USAGE}"),
        }
    }
    let setup = Setup::new(root, &llmux, "stop")?;
    let config = setup.write_config(CONFIG)?;
    let run = setup
        .run(&config, "stop", async |d: &Daemon| measure(d, setup.state(), runs, sessions).await)
        .await?;
    let r = run.results;
    println!("ending sessions: {runs} per agent, then {sessions} killed one after another");
    let line = |what: &str, s: &Summary, target: &str| {
        println!(
            "  {what:<34} p50 {:>9}  p90 {:>9}  max {:>9}   {target}",
            fmt_ms(s.p50),
            fmt_ms(s.p90),
            fmt_ms(s.max)
        );
    };
    line("tmux kill-session (plain tmux)", &r.bare, "(the floor)");
    for (agent, stop, kill) in &r.agents {
        line(&format!("stop, agent {agent}"), stop, "(target p50 <= 15 ms; old daemon >= 21 ms)");
        line(&format!("kill, agent {agent}"), kill, "(target p50 <= 15 ms)");
    }
    println!(
        "  {sessions} sessions killed sequentially   {:>9}   (target <= 1.5 s for 100)",
        fmt_ms(r.sequential.as_secs_f64() * 1e3)
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
    bare: Summary,
    agents: Vec<(&'static str, Summary, Summary)>,
    sequential: Duration,
}

async fn measure(d: &Daemon, state: &Path, runs: usize, sessions: usize) -> Result<Figures> {
    let cwd = &*state.to_string_lossy();
    let client = d.client();
    let bare = bare_tmux(state, runs)?;
    let mut agents = Vec::new();
    for agent in AGENTS {
        crate::step(&format!("stopping and killing {runs} `{agent}` sessions"));
        let (mut stops, mut kills) = (Vec::new(), Vec::new());
        for i in 0..runs {
            let name = format!("stop-{agent}-{i:03}");
            start(&client, agent, &name, cwd).await?;
            let t = Instant::now();
            client.stop_session(&name).await.with_context(|| format!("stopping {name}"))?;
            stops.push(t.elapsed());
            client.remove_session(&name, true).await?;
            start(&client, agent, &name, cwd).await?;
            let t = Instant::now();
            client.kill_session(&name).await.with_context(|| format!("killing {name}"))?;
            kills.push(t.elapsed());
        }
        let summary = |s: &[Duration]| Summary::of(s).context("no samples");
        agents.push((agent, summary(&stops)?, summary(&kills)?));
    }
    crate::step(&format!("starting {sessions} sessions, then killing them one after another"));
    let names: Vec<String> = (0..sessions).map(|i| format!("seq-{i:03}")).collect();
    for name in &names {
        start(&client, "idle", name, cwd).await?;
    }
    let t = Instant::now();
    for name in &names {
        client.kill_session(name).await.with_context(|| format!("killing {name}"))?;
    }
    let sequential = t.elapsed();
    let left = client.list_sessions().await?.len();
    if left != 0 {
        bail!("{left} sessions are left after killing them all");
    }
    Ok(Figures { bare, agents, sequential })
}

async fn start(client: &Client, agent: &str, name: &str, cwd: &str) -> Result<()> {
    let req = CreateSessionRequest {
        agent: agent.to_owned(),
        name: Some(name.to_owned()),
        cwd: Some(cwd.to_owned()),
        ..Default::default()
    };
    client.create_session(&req).await.with_context(|| format!("starting {name}"))?;
    Ok(())
}

/// `tmux kill-session` of a fresh `sleep infinity` session, as a fresh tmux client process
/// each time (what a shell script pays), on a tmux server of its own beside the daemon's.
fn bare_tmux(state: &Path, runs: usize) -> Result<Summary> {
    let socket = state.join("bare-tmux.sock");
    let tmux = |args: &[&str]| -> Result<()> {
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            bail!("tmux {args:?} failed");
        }
        Ok(())
    };
    // One session keeps the server up between runs, as the daemon's server is.
    tmux(&["new-session", "-d", "-s", "keep", "sleep", "infinity"])?;
    let mut samples = Vec::new();
    for i in 0..runs {
        let name = format!("bare-{i:03}");
        tmux(&["new-session", "-d", "-s", &name, "sleep", "infinity"])?;
        let t = Instant::now();
        tmux(&["kill-session", "-t", &format!("={name}")])?;
        samples.push(t.elapsed());
    }
    let _ = tmux(&["kill-server"]);
    Summary::of(&samples).context("no samples")
}
