//! The figures: a table for people, JSON for tools. Targets and the old daemon's figures are
//! printed beside them for context only; nothing here passes or fails.

use std::time::Duration;

use serde_json::{Value, json};

use crate::measure::{Batch, Load};
use crate::stats::{Summary, fmt_ms, ms, round3};

/// Targets, stated for 100 sessions.
mod target {
    pub const LIST_CLI_MS: f64 = 15.0;
    pub const RSS_MB: f64 = 16.0;
    pub const SPAWN_100_MS: f64 = 1500.0;
    pub const API_RATE_C16: f64 = 2000.0;
    pub const API_P99_C16_MS: f64 = 20.0;
}

/// The old daemon's figures, for comparison.
mod old {
    pub const LIST_CLI_EMPTY: &str = "300 ms";
    pub const LIST_CLI_100: &str = "1.5 s";
    pub const RSS_IDLE: &str = "59 MB";
    pub const SPAWN_100: &str = "2.7 s";
    pub const API: &str = "0.9 req/s, p50 1.1 s";
}

/// Everything one run measured.
#[derive(Debug)]
pub struct Results {
    /// Number of sessions spawned.
    pub sessions: usize,
    /// Spawn of the daemon process to its first `/health` answer.
    pub ready_after: Duration,
    /// `llmux session list` at 0 sessions.
    pub list_cli_empty: Summary,
    /// `llmux session list` at `sessions` sessions.
    pub list_cli_full: Summary,
    /// VmRSS at 0 sessions, KiB.
    pub rss_idle_kib: u64,
    /// VmRSS right after the spawns, KiB.
    pub rss_full_kib: u64,
    /// Of which anonymous (`RssAnon`: heap, thread stacks) and file-backed (`RssFile`: the
    /// binary's and shared libraries' pages), KiB, and the daemon's threads then.
    pub rss_full_split: (u64, u64, u64),
    /// VmRSS after the `GET /api/sessions` load, KiB.
    pub rss_after_load_kib: u64,
    /// VmHWM at the end, KiB.
    pub rss_peak_kib: u64,
    /// In-flight limit of the spawn and remove batches.
    pub batch_concurrency: usize,
    /// The spawn batch.
    pub spawn: Batch,
    /// Sessions `running` in the first list after the spawns.
    pub running_after_spawn: usize,
    /// When not all were running at once: how many were at the end of the grace period, and
    /// how long that was.
    pub running_later: Option<(usize, Duration)>,
    /// Bytes of the session list, re-serialized (≈ the response body).
    pub list_bytes: usize,
    /// The `GET /api/sessions` load phases.
    pub loads: Vec<Load>,
    /// The remove batch.
    pub remove: Batch,
    /// Sessions still listed after the removes.
    pub left_after_remove: usize,
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "within" } else { "OVER" }
}

fn load_figure(load: &Load) -> String {
    match Summary::of(&load.latencies) {
        Some(s) => {
            format!("{:.0} req/s  p50 {}  p99 {}", load.rate(), fmt_ms(s.p50), fmt_ms(s.p99))
        }
        None => "no successful request".to_owned(),
    }
}

fn cpu_figure(load: &Load) -> String {
    let secs = load.elapsed.as_secs_f64();
    let per_request = ms(load.daemon_cpu) / load.latencies.len().max(1) as f64;
    format!(
        "{:.0}% / {:.0}%  ({} daemon CPU per request)",
        100.0 * load.daemon_cpu.as_secs_f64() / secs,
        100.0 * load.client_cpu.as_secs_f64() / secs,
        fmt_ms(per_request)
    )
}

fn cli_figure(s: &Summary) -> String {
    format!("median {}  p90 {}  min {}", fmt_ms(s.p50), fmt_ms(s.p90), fmt_ms(s.min))
}

/// The human table.
pub fn table(r: &Results) -> String {
    let n = r.sessions;
    let at_100 = n == 100;
    // (measure, figure, target, verdict, old daemon)
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut row = |m: String, f: String, t: &str, v: Option<bool>, o: &str| {
        let v = if at_100 { v.map(verdict).unwrap_or("") } else { "" };
        rows.push([m, f, t.to_owned(), v.to_owned(), o.to_owned()]);
    };
    row("daemon start → /health".into(), fmt_ms(ms(r.ready_after)), "", None, "");
    let e = &r.list_cli_empty;
    row(
        format!("`llmux session list`, 0 sessions ({} runs)", e.count),
        cli_figure(e),
        "",
        None,
        old::LIST_CLI_EMPTY,
    );
    let f = &r.list_cli_full;
    row(
        format!("`llmux session list`, {n} sessions ({} runs)", f.count),
        cli_figure(f),
        "<= 15 ms",
        Some(f.p50 <= target::LIST_CLI_MS),
        old::LIST_CLI_100,
    );
    row(
        "daemon RSS, idle, 0 sessions".into(),
        format!("{:.1} MB", mb(r.rss_idle_kib)),
        "",
        None,
        old::RSS_IDLE,
    );
    row(
        format!("daemon RSS, {n} sessions"),
        format!("{:.1} MB", mb(r.rss_full_kib)),
        "<= 16 MB",
        Some(mb(r.rss_full_kib) <= target::RSS_MB),
        "",
    );
    let (anon, file, threads) = r.rss_full_split;
    row(
        "  anonymous / file-backed, threads".into(),
        format!("{:.1} MB / {:.1} MB, {threads} threads", mb(anon), mb(file)),
        "",
        None,
        "",
    );
    row(
        "  after the list load / peak (VmHWM)".into(),
        format!("{:.1} MB / {:.1} MB", mb(r.rss_after_load_kib), mb(r.rss_peak_kib)),
        "",
        None,
        "",
    );
    let spawn_ok = r.spawn.errors.is_empty();
    row(
        format!("spawn {n} sessions ({} in flight)", r.batch_concurrency),
        format!("total {}", fmt_ms(ms(r.spawn.wall))),
        "<= 1.5 s",
        Some(spawn_ok && ms(r.spawn.wall) <= target::SPAWN_100_MS),
        old::SPAWN_100,
    );
    if let Some(s) = Summary::of(&r.spawn.latencies) {
        row(
            "  per spawn".into(),
            format!("p50 {}  p99 {}  max {}", fmt_ms(s.p50), fmt_ms(s.p99), fmt_ms(s.max)),
            "",
            None,
            "",
        );
    }
    if !spawn_ok {
        row("  failed spawns".into(), r.spawn.errors.len().to_string(), "", None, "");
    }
    let mut running = format!("{}/{n}", r.running_after_spawn);
    if let Some((later, after)) = r.running_later {
        running.push_str(&format!(" ({later}/{n} after {})", fmt_ms(ms(after))));
    }
    row("  `running` right after".into(), running, "", None, "");
    row(
        format!("  GET /api/sessions body, {n} sessions"),
        format!("≈ {} KB", r.list_bytes / 1024),
        "",
        None,
        "",
    );
    for load in &r.loads {
        let (t, v) = if load.concurrency == 16 {
            let ok = Summary::of(&load.latencies).is_some_and(|s| {
                load.rate() >= target::API_RATE_C16 && s.p99 <= target::API_P99_C16_MS
            });
            (">= 2000 req/s, p99 <= 20 ms", Some(ok && load.errors == 0))
        } else {
            ("", None)
        };
        row(
            format!("GET /api/sessions, concurrency {}", load.concurrency),
            load_figure(load),
            t,
            v,
            old::API,
        );
        row("  CPU: daemon / clients (% of one core)".into(), cpu_figure(load), "", None, "");
        if load.errors > 0 || load.wrong_length > 0 {
            row(
                "  failed / wrong-length responses".into(),
                format!("{} / {}", load.errors, load.wrong_length),
                "",
                None,
                "",
            );
        }
    }
    let mut removed = format!("total {}", fmt_ms(ms(r.remove.wall)));
    if let Some(s) = Summary::of(&r.remove.latencies) {
        removed.push_str(&format!("  p50 {}  p99 {}", fmt_ms(s.p50), fmt_ms(s.p99)));
    }
    if !r.remove.errors.is_empty() || r.left_after_remove > 0 {
        removed.push_str(&format!(
            "  ({} failed, {} left)",
            r.remove.errors.len(),
            r.left_after_remove
        ));
    }
    row(
        format!("remove {n} sessions (force, {} in flight)", r.batch_concurrency),
        removed,
        "",
        None,
        "",
    );

    let header = ["measure", "figure", "target", "", "old daemon"].map(String::from);
    let mut out = render(&header, &rows);
    if !at_100 {
        out.push_str("\n(targets and old-daemon figures are for 100 sessions)\n");
    }
    out
}

/// Left-aligned columns two spaces apart, with a rule under the header.
pub fn render<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for r in std::iter::once(header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; N]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header);
    out.push_str(&line(&widths.map(|w| "─".repeat(w))));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

fn batch_json(b: &Batch) -> Value {
    json!({
        "wall_ms": round3(ms(b.wall)),
        "ok": b.latencies.len(),
        "failed": b.errors.len(),
        "errors": b.errors.iter().take(10).collect::<Vec<_>>(),
        "latency": Summary::of(&b.latencies).map(|s| s.json()),
    })
}

fn load_json(l: &Load) -> Value {
    json!({
        "concurrency": l.concurrency,
        "elapsed_ms": round3(ms(l.elapsed)),
        "requests": l.latencies.len(),
        "requests_per_s": round3(l.rate()),
        "failed": l.errors,
        "first_error": l.first_error,
        "wrong_length": l.wrong_length,
        "daemon_cpu_ms": round3(ms(l.daemon_cpu)),
        "client_cpu_ms": round3(ms(l.client_cpu)),
        "daemon_cpu_ms_per_request": round3(ms(l.daemon_cpu) / l.latencies.len().max(1) as f64),
        "latency": Summary::of(&l.latencies).map(|s| s.json()),
    })
}

/// The machine-readable figures; `meta` describes the run.
pub fn json(r: &Results, meta: Value) -> Value {
    json!({
        "meta": meta,
        "sessions": r.sessions,
        "daemon_ready_ms": round3(ms(r.ready_after)),
        "session_list_cli": {
            "sessions_0": r.list_cli_empty.json(),
            "sessions_n": r.list_cli_full.json(),
        },
        "rss_kib": {
            "idle_0_sessions": r.rss_idle_kib,
            "with_sessions": r.rss_full_kib,
            "with_sessions_anon": r.rss_full_split.0,
            "with_sessions_file": r.rss_full_split.1,
            "threads_with_sessions": r.rss_full_split.2,
            "after_list_load": r.rss_after_load_kib,
            "peak_vmhwm": r.rss_peak_kib,
        },
        "spawn": {
            "concurrency": r.batch_concurrency,
            "batch": batch_json(&r.spawn),
            "running_after": r.running_after_spawn,
            "running_later": r.running_later.map(|(n, d)| json!({"running": n, "after_ms": round3(ms(d))})),
        },
        "list_api": {
            "body_bytes_approx": r.list_bytes,
            "phases": r.loads.iter().map(load_json).collect::<Vec<_>>(),
        },
        "remove": {
            "concurrency": r.batch_concurrency,
            "batch": batch_json(&r.remove),
            "left_after": r.left_after_remove,
        },
        "targets_at_100_sessions": {
            "session_list_cli_ms": target::LIST_CLI_MS,
            "rss_mb_with_sessions": target::RSS_MB,
            "spawn_100_ms": target::SPAWN_100_MS,
            "list_api_c16_requests_per_s": target::API_RATE_C16,
            "list_api_c16_p99_ms": target::API_P99_C16_MS,
        },
        "old_daemon": {
            "session_list_cli_0": old::LIST_CLI_EMPTY,
            "session_list_cli_100": old::LIST_CLI_100,
            "rss_idle": old::RSS_IDLE,
            "spawn_100": old::SPAWN_100,
            "list_api": old::API,
        },
    })
}
