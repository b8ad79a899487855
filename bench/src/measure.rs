//! The measurements themselves: the CLI as a process, bounded-concurrency API batches, and a
//! closed-loop load on `GET /api/sessions`.

use std::future::Future;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper::Method;
use llmux_client::Client;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Times `runs` executions of `llmux session list` (after one untimed warm-up run), each a
/// fresh process with stdout to /dev/null. Fails if any run exits non-zero.
pub async fn cli_list(llmux: &Path, state: &Path, runs: usize) -> Result<Vec<Duration>> {
    let (llmux, state) = (llmux.to_path_buf(), state.to_path_buf());
    tokio::task::spawn_blocking(move || {
        cli_list_once(&llmux, &state)?;
        (0..runs).map(|_| cli_list_once(&llmux, &state)).collect()
    })
    .await
    .context("the CLI timing task failed")?
}

fn cli_list_once(llmux: &Path, state: &Path) -> Result<Duration> {
    let start = Instant::now();
    let out = Command::new(llmux)
        .args(["session", "list"])
        .env("LLMUX_STATE_DIR", state)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {}", llmux.display()))?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!(
            "`llmux session list` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

/// The outcome of a batch of API calls (one per item).
#[derive(Debug, Default)]
pub struct Batch {
    /// First call started to last call finished.
    pub wall: Duration,
    /// Latency of every successful call.
    pub latencies: Vec<Duration>,
    /// One message per failed call.
    pub errors: Vec<String>,
}

/// Runs `op(item)` for every item with at most `concurrency` calls in flight.
pub async fn bounded<F, Fut>(items: Vec<String>, concurrency: usize, op: F) -> Batch
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    for item in items {
        let permit = permits.clone().acquire_owned().await.expect("the semaphore is never closed");
        let call = op(item);
        tasks.spawn(async move {
            let _permit = permit;
            let t = Instant::now();
            call.await.map(|()| t.elapsed())
        });
    }
    let mut batch = Batch::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(latency)) => batch.latencies.push(latency),
            Ok(Err(e)) => batch.errors.push(e),
            Err(e) => batch.errors.push(format!("task failed: {e}")),
        }
    }
    batch.wall = start.elapsed();
    batch
}

/// The outcome of a closed-loop load phase.
#[derive(Debug)]
pub struct Load {
    /// Number of concurrent client loops.
    pub concurrency: usize,
    /// Phase start to the last loop finished (slightly over the nominal duration).
    pub elapsed: Duration,
    /// Latency of every successful request.
    pub latencies: Vec<Duration>,
    /// Failed requests.
    pub errors: usize,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// Successful responses whose list did not have the expected length.
    pub wrong_length: usize,
    /// CPU time the daemon used during the phase.
    pub daemon_cpu: Duration,
    /// CPU time this process (the clients) used during the phase.
    pub client_cpu: Duration,
}

impl Load {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// One response in this many of the list load is parsed and its length checked.
const CHECK_EVERY: usize = 20;

/// `concurrency` tasks each loop `GET /api/sessions` back to back for `duration`. A request
/// started before the deadline is waited for. The caller fills in the CPU fields.
pub async fn list_load(
    client: &Client,
    concurrency: usize,
    duration: Duration,
    expect: usize,
) -> Load {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let client = client.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(8192);
            let (mut errors, mut wrong_length, mut first_error) = (0, 0, None);
            let mut n = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                match client.raw(Method::GET, "/api/sessions", None, &[]).await {
                    Ok(res) if res.status.is_success() => {
                        latencies.push(t.elapsed());
                        // Timed to the last byte, as an HTTP load tool does; the body is
                        // parsed (to check its length) for one response in CHECK_EVERY, so
                        // the client's JSON parsing does not take the cores the daemon is
                        // measured on.
                        if n.is_multiple_of(CHECK_EVERY) {
                            let list: Vec<serde::de::IgnoredAny> =
                                serde_json::from_slice(&res.body).unwrap_or_default();
                            wrong_length += usize::from(list.len() != expect);
                        }
                        n += 1;
                    }
                    Ok(res) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("HTTP {}", res.status));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (latencies, errors, wrong_length, first_error)
        });
    }
    let mut load = Load {
        concurrency,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
        wrong_length: 0,
        daemon_cpu: Duration::ZERO,
        client_cpu: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((latencies, errors, wrong_length, first_error)) => {
                load.latencies.extend(latencies);
                load.errors += errors;
                load.wrong_length += wrong_length;
                if load.first_error.is_none() {
                    load.first_error = first_error;
                }
            }
            Err(e) => {
                load.errors += 1;
                load.first_error.get_or_insert_with(|| format!("task failed: {e}"));
            }
        }
    }
    load.elapsed = start.elapsed();
    load
}
