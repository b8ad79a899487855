//! The attach figures: a table for people, JSON for tools. Targets are printed beside them
//! for context only; nothing here passes or fails.

use std::time::Duration;

use serde_json::{Value, json};

use super::viewer::Kind;
use super::{Burst, Memory, Results, Ttfb};
use crate::stats::{Summary, fmt_ms, ms, round3};

/// Issue 4's targets.
mod target {
    /// WebSocket p50 echo latency above plain tmux, ms.
    pub const ECHO_P50_OVER_MS: f64 = 1.0;
    /// WebSocket p99 echo latency above plain tmux, ms.
    pub const ECHO_P99_OVER_MS: f64 = 5.0;
    /// WebSocket throughput as a fraction of plain tmux.
    pub const THROUGHPUT_RATIO: f64 = 0.9;
    /// Daemon memory per extra idle viewer, MiB.
    pub const MB_PER_VIEWER: f64 = 1.0;
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "within" } else { "OVER" }
}

/// Milliseconds with enough digits for sub-millisecond figures.
fn fine(ms: f64) -> String {
    if ms < 10.0 { format!("{ms:.3} ms") } else { fmt_ms(ms) }
}

fn latency_figure(s: &Summary) -> String {
    format!("p50 {}  p99 {}  min {}  max {}", fine(s.p50), fine(s.p99), fine(s.min), fmt_ms(s.max))
}

/// The runs of one path.
fn runs(r: &Results, kind: Kind) -> Vec<&Burst> {
    r.bursts.iter().filter(|b| b.kind == kind).collect()
}

/// Median of some per-run figure (nearest rank, as everywhere).
pub(super) fn median(values: impl Iterator<Item = Duration>) -> Duration {
    let mut v: Vec<Duration> = values.collect();
    v.sort_unstable();
    match v.len() {
        0 => Duration::ZERO,
        n => v[n.div_ceil(2) - 1],
    }
}

/// Throughput of a path: the burst's size over the median trigger → end-marker time.
fn mb_per_s(r: &Results, kind: Kind) -> Option<f64> {
    let runs = runs(r, kind);
    if runs.is_empty() {
        return None;
    }
    Some(r.burst_bytes as f64 / 1e6 / median(runs.iter().map(|b| b.wall)).as_secs_f64())
}

fn burst_figure(r: &Results, kind: Kind) -> String {
    let runs = runs(r, kind);
    let Some(rate) = mb_per_s(r, kind) else { return "no runs".into() };
    let wall = median(runs.iter().map(|b| b.wall));
    let received = runs.iter().map(|b| b.received).sum::<u64>() as f64 / runs.len() as f64;
    let chunks = runs.iter().map(|b| b.chunks).sum::<u64>() / runs.len() as u64;
    format!(
        "{rate:.1} MB/s  (median {}; viewer got {:.1} MB in {chunks} chunks; first after {})",
        fmt_ms(ms(wall)),
        received / 1e6,
        fmt_ms(ms(median(runs.iter().map(|b| b.first_chunk))))
    )
}

fn cpu_figure(r: &Results, kind: Kind) -> String {
    let runs = runs(r, kind);
    let m = |f: fn(&Burst) -> Duration| fmt_ms(ms(median(runs.iter().map(|b| f(b)))));
    let per_mb = ms(median(runs.iter().map(|b| b.daemon_cpu))) / (r.burst_bytes as f64 / 1e6);
    match kind {
        Kind::WebSocket => format!(
            "daemon {} ({per_mb:.2} ms/MB), its tmux client {}, tmux server {}, bench {}",
            m(|b| b.daemon_cpu),
            m(|b| b.client_cpu),
            m(|b| b.server_cpu),
            m(|b| b.bench_cpu)
        ),
        Kind::Tmux => format!(
            "daemon {}, tmux client {}, tmux server {}, bench {}",
            m(|b| b.daemon_cpu),
            m(|b| b.client_cpu),
            m(|b| b.server_cpu),
            m(|b| b.bench_cpu)
        ),
    }
}

fn ttfb_figure(t: &Ttfb) -> String {
    match (Summary::of(&t.first_frame), Summary::of(&t.upgraded)) {
        (Some(f), Some(u)) => format!(
            "median {}  p90 {}  min {}  (upgrade median {}; first frame {} B)",
            fine(f.p50),
            fine(f.p90),
            fine(f.min),
            fine(u.p50),
            median_usize(&t.first_frame_bytes)
        ),
        _ => "no connects".into(),
    }
}

fn screen_figure(t: &Ttfb) -> String {
    match Summary::of(&t.screen) {
        Some(s) => format!("median {}  p90 {}  min {}", fine(s.p50), fine(s.p90), fine(s.min)),
        None => "no connects".into(),
    }
}

pub(super) fn median_usize(v: &[usize]) -> usize {
    let mut v = v.to_vec();
    v.sort_unstable();
    if v.is_empty() { 0 } else { v[v.len().div_ceil(2) - 1] }
}

/// Per-extra-viewer daemon memory, KiB: (RSS at N − RSS at 1) / (N − 1).
fn per_viewer_kib(r: &Results) -> Option<f64> {
    let one = r.memory.iter().find(|m| m.viewers == 1)?;
    let many = r.memory.iter().filter(|m| m.viewers > 1).max_by_key(|m| m.viewers)?;
    Some(
        (many.daemon_rss_kib as f64 - one.daemon_rss_kib as f64)
            / (many.viewers - one.viewers) as f64,
    )
}

fn tmux_memory(m: &Memory) -> String {
    let g = m.tmux_clients;
    let each = if g.count > 0 {
        format!(
            "; {:.2} MB RSS / {:.2} MB PSS each",
            mb(g.rss_kib) / g.count as f64,
            mb(g.pss_kib) / g.count as f64
        )
    } else {
        String::new()
    };
    format!("{} clients: RSS {:.1} MB, PSS {:.1} MB{each}", g.count, mb(g.rss_kib), mb(g.pss_kib))
}

/// The human table.
pub fn table(r: &Results) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut row = |m: String, f: String, t: &str, v: Option<bool>| {
        rows.push([m, f, t.to_owned(), v.map(verdict).unwrap_or("").to_owned()]);
    };
    row("daemon start → /health".into(), fmt_ms(ms(r.ready_after)), "", None);

    let (ws, tm) = (Summary::of(&r.echo_ws), Summary::of(&r.echo_tmux));
    if let Some(s) = &ws {
        row(format!("keystroke → echo, WebSocket ({})", s.count), latency_figure(s), "", None);
    }
    if let Some(s) = &tm {
        row(format!("keystroke → echo, plain tmux ({})", s.count), latency_figure(s), "", None);
    }
    if let (Some(w), Some(t)) = (&ws, &tm) {
        let (d50, d99) = (w.p50 - t.p50, w.p99 - t.p99);
        row(
            "  WebSocket − plain tmux".into(),
            format!("p50 {d50:+.3} ms  p99 {d99:+.3} ms"),
            "p50 <= +1 ms, p99 <= +5 ms",
            Some(d50 <= target::ECHO_P50_OVER_MS && d99 <= target::ECHO_P99_OVER_MS),
        );
    }

    let mb_label = format!("{:.0} MB burst", r.burst_bytes as f64 / 1e6);
    let n_ws = runs(r, Kind::WebSocket).len();
    let n_tm = runs(r, Kind::Tmux).len();
    row(format!("{mb_label}, WebSocket ({n_ws} runs)"), burst_figure(r, Kind::WebSocket), "", None);
    row("  CPU per burst (median)".into(), cpu_figure(r, Kind::WebSocket), "", None);
    row(format!("{mb_label}, plain tmux ({n_tm} runs)"), burst_figure(r, Kind::Tmux), "", None);
    row("  CPU per burst (median)".into(), cpu_figure(r, Kind::Tmux), "", None);
    if let (Some(w), Some(t)) = (mb_per_s(r, Kind::WebSocket), mb_per_s(r, Kind::Tmux)) {
        let ratio = w / t;
        row(
            "  WebSocket / plain tmux".into(),
            format!("{:.0}%", 100.0 * ratio),
            ">= 90%",
            Some(ratio >= target::THROUGHPUT_RATIO),
        );
    }

    for (m, f, t, v) in super::fanout::rows(&r.fanout) {
        row(m, f, &t, v);
    }

    for (label, t) in [("history=0", &r.ttfb_no_history), ("default history", &r.ttfb_history)] {
        let n = t.first_frame.len();
        row(format!("first frame after connect, {label} ({n})"), ttfb_figure(t), "", None);
        row("  live screen drawn".into(), screen_figure(t), "", None);
    }

    for m in &r.memory {
        row(
            format!(
                "daemon RSS, {} idle viewer{}",
                m.viewers,
                if m.viewers == 1 { "" } else { "s" }
            ),
            format!("{:.1} MB", mb(m.daemon_rss_kib)),
            "",
            None,
        );
    }
    for (i, round) in r.rounds.iter().enumerate() {
        let mut figure = format!(
            "{:.1} MB open, {:.1} MB after closing",
            mb(round.open_kib),
            mb(round.closed_kib)
        );
        if round.clients_left > 0 {
            figure.push_str(&format!(" ({} tmux clients left)", round.clients_left));
        }
        row(format!("  round {} of {} viewers", i + 1, r.viewers), figure, "", None);
    }

    if let Some(kib) = per_viewer_kib(r) {
        row(
            "  per extra idle viewer".into(),
            format!("{:.3} MB", kib / 1024.0),
            "<= 1 MB",
            Some(kib / 1024.0 <= target::MB_PER_VIEWER),
        );
    }
    for m in r.memory.iter().filter(|m| m.viewers > 0) {
        row(
            format!("tmux clients of the daemon, {} viewer(s)", m.viewers),
            tmux_memory(m),
            "",
            None,
        );
    }

    let header = ["measure", "figure", "target", ""].map(String::from);
    let mut out = crate::report::render(&header, &rows);
    out.push_str("\nload average (1 min) at each phase: ");
    let loads: Vec<String> = r.phase_load.iter().map(|(p, l)| format!("{p} {l:.2}")).collect();
    out.push_str(&loads.join(", "));
    out.push('\n');
    out
}

fn ttfb_json(t: &Ttfb) -> Value {
    json!({
        "first_frame": Summary::of(&t.first_frame).map(|s| s.json()),
        "upgraded": Summary::of(&t.upgraded).map(|s| s.json()),
        "first_frame_bytes_median": median_usize(&t.first_frame_bytes),
        "live_screen": Summary::of(&t.screen).map(|s| s.json()),
    })
}

fn burst_json(b: &Burst, bytes: usize) -> Value {
    json!({
        "path": b.kind.label(),
        "wall_ms": round3(ms(b.wall)),
        "mb_per_s": round3(bytes as f64 / 1e6 / b.wall.as_secs_f64()),
        "first_chunk_ms": round3(ms(b.first_chunk)),
        "received_bytes": b.received,
        "chunks": b.chunks,
        "cpu_ms": {
            "daemon": round3(ms(b.daemon_cpu)),
            "tmux_client": round3(ms(b.client_cpu)),
            "tmux_server": round3(ms(b.server_cpu)),
            "bench": round3(ms(b.bench_cpu)),
        },
    })
}

fn path_json(r: &Results, kind: Kind) -> Value {
    let runs = runs(r, kind);
    json!({
        "runs": runs.len(),
        "median_wall_ms": round3(ms(median(runs.iter().map(|b| b.wall)))),
        "mb_per_s": mb_per_s(r, kind).map(round3),
        "median_daemon_cpu_ms": round3(ms(median(runs.iter().map(|b| b.daemon_cpu)))),
        "median_tmux_client_cpu_ms": round3(ms(median(runs.iter().map(|b| b.client_cpu)))),
        "median_tmux_server_cpu_ms": round3(ms(median(runs.iter().map(|b| b.server_cpu)))),
        "median_bench_cpu_ms": round3(ms(median(runs.iter().map(|b| b.bench_cpu)))),
    })
}

/// The machine-readable figures; `meta` describes the run.
pub fn json(r: &Results, meta: Value) -> Value {
    let (ws, tm) = (Summary::of(&r.echo_ws), Summary::of(&r.echo_tmux));
    let diff = match (&ws, &tm) {
        (Some(w), Some(t)) => {
            json!({"p50_ms": round3(w.p50 - t.p50), "p99_ms": round3(w.p99 - t.p99)})
        }
        _ => Value::Null,
    };
    let ratio = match (mb_per_s(r, Kind::WebSocket), mb_per_s(r, Kind::Tmux)) {
        (Some(w), Some(t)) => json!(round3(w / t)),
        _ => Value::Null,
    };
    let loads: serde_json::Map<String, Value> =
        r.phase_load.iter().map(|(p, l)| ((*p).to_owned(), json!(l))).collect();
    json!({
        "meta": meta,
        "daemon_ready_ms": round3(ms(r.ready_after)),
        "load_average_1m_at_phase_start": loads,
        "keystroke_echo": {
            "websocket": ws.map(|s| s.json()),
            "tmux": tm.map(|s| s.json()),
            "websocket_minus_tmux": diff,
        },
        "throughput": {
            "burst_bytes": r.burst_bytes,
            "websocket": path_json(r, Kind::WebSocket),
            "tmux": path_json(r, Kind::Tmux),
            "websocket_over_tmux": ratio,
            "runs": r.bursts.iter().map(|b| burst_json(b, r.burst_bytes)).collect::<Vec<_>>(),
        },
        "fanout": super::fanout::json(&r.fanout),
        "first_frame_after_connect": {
            "history_0": ttfb_json(&r.ttfb_no_history),
            "history_default": ttfb_json(&r.ttfb_history),
        },
        "memory": {
            "points": r.memory.iter().map(|m| json!({
                "viewers": m.viewers,
                "daemon_rss_kib": m.daemon_rss_kib,
                "tmux_clients": m.tmux_clients.json(),
            })).collect::<Vec<_>>(),
            "rounds": r.rounds.iter().map(|x| json!({
                "viewers": r.viewers,
                "daemon_rss_kib_open": x.open_kib,
                "daemon_rss_kib_after_close": x.closed_kib,
                "tmux_clients_left": x.clients_left,
            })).collect::<Vec<_>>(),
            "daemon_kib_per_extra_viewer": per_viewer_kib(r).map(round3),
        },
        "targets": {
            "echo_p50_over_tmux_ms": target::ECHO_P50_OVER_MS,
            "echo_p99_over_tmux_ms": target::ECHO_P99_OVER_MS,
            "throughput_over_tmux": target::THROUGHPUT_RATIO,
            "mb_per_extra_idle_viewer": target::MB_PER_VIEWER,
        },
    })
}
