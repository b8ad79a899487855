//! The agents figures: a table for people, JSON for tools. Targets are printed beside them
//! for context only; nothing here passes or fails.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Idle, Prompt, Results, Ticks};
use crate::stats::{fmt_ms, ms, percentile, round3};

/// The targets.
mod target {
    /// Daemon CPU with 100 idle sessions, % of one core.
    pub const IDLE_CPU_PCT: f64 = 1.0;
    /// Screen change → `event: state`, p95, ms.
    pub const EVENT_P95_MS: f64 = 500.0;
    /// `send --wait` response after the agent is done, ms.
    pub const WAIT_OVERHEAD_MS: f64 = 100.0;
}

fn verdict(ok: bool) -> &'static str {
    if ok { "within" } else { "OVER" }
}

/// Nearest-rank percentiles of samples in ms.
#[derive(Debug, Clone, Copy)]
struct Pcts {
    count: usize,
    min: f64,
    p50: f64,
    p90: f64,
    p95: f64,
    max: f64,
    mean: f64,
}

impl Pcts {
    fn of(samples: &[f64]) -> Option<Pcts> {
        if samples.is_empty() {
            return None;
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        Some(Pcts {
            count: v.len(),
            min: v[0],
            p50: percentile(&v, 50.0),
            p90: percentile(&v, 90.0),
            p95: percentile(&v, 95.0),
            max: v[v.len() - 1],
            mean: v.iter().sum::<f64>() / v.len() as f64,
        })
    }

    fn figure(&self) -> String {
        format!(
            "p50 {}  p95 {}  max {}  min {}",
            fmt_ms(self.p50),
            fmt_ms(self.p95),
            fmt_ms(self.max),
            fmt_ms(self.min)
        )
    }

    fn json(&self) -> Value {
        json!({
            "count": self.count,
            "min_ms": round3(self.min),
            "p50_ms": round3(self.p50),
            "p90_ms": round3(self.p90),
            "p95_ms": round3(self.p95),
            "max_ms": round3(self.max),
            "mean_ms": round3(self.mean),
        })
    }
}

fn pcts_json(samples: &[f64]) -> Value {
    Pcts::of(samples).map_or(Value::Null, |p| p.json())
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// CPU ticks over the idle window as % of one core.
fn pct(idle: &Idle, ticks: u64) -> f64 {
    ticks as f64 / idle.clock_ticks as f64 / idle.window.as_secs_f64() * 100.0
}

fn secs(idle: &Idle, ticks: u64) -> f64 {
    ticks as f64 / idle.clock_ticks as f64
}

fn prompts_of(r: &Results, f: impl Fn(&Prompt) -> f64) -> Vec<f64> {
    r.prompts.iter().map(f).collect()
}

/// The table printed after a run.
pub fn table(r: &Results) -> String {
    let idle = &r.idle;
    let lat = &r.latency;
    let mut rows: Vec<(String, String, String)> = Vec::new();

    let daemon_pct = pct(idle, idle.daemon.total());
    rows.push((
        format!("daemon CPU, {} idle sessions, {:.0} s", idle.sessions, idle.window.as_secs_f64()),
        format!(
            "{daemon_pct:.2}% of one core  (user {:.2} s, sys {:.2} s, reaped children {:.2} s)",
            secs(idle, idle.daemon.utime),
            secs(idle, idle.daemon.stime),
            secs(idle, idle.daemon.cutime + idle.daemon.cstime)
        ),
        format!("<= {}%  {}", target::IDLE_CPU_PCT, verdict(daemon_pct <= target::IDLE_CPU_PCT)),
    ));
    let server = idle.tmux_server;
    rows.push((
        "  tmux server CPU, same window".into(),
        format!(
            "{:.2}% of one core  (user {:.2} s, sys {:.2} s)",
            pct(idle, server.utime + server.stime),
            secs(idle, server.utime),
            secs(idle, server.stime)
        ),
        String::new(),
    ));
    rows.push((
        "  daemon RSS / peak; tmux server RSS".into(),
        format!(
            "{:.1} MB / {:.1} MB; {:.1} MB",
            mb(idle.daemon_rss_kib),
            mb(idle.daemon_hwm_kib),
            mb(idle.tmux_server_rss_kib)
        ),
        String::new(),
    ));
    rows.push((
        "  state events in the window; idle at end".into(),
        format!("{}; {}/{}", idle.events_in_window, idle.idle_at_end, idle.sessions),
        String::new(),
    ));

    let event_row = |label: &str, samples: &[f64], missed: usize| {
        let (figure, verdict_text) = match Pcts::of(samples) {
            Some(p) => {
                let note = if missed > 0 { format!("  ({missed} missed)") } else { String::new() };
                (
                    format!("{}{note}", p.figure()),
                    verdict(p.p95 <= target::EVENT_P95_MS && missed == 0),
                )
            }
            None => (format!("no samples ({missed} missed)"), "OVER"),
        };
        (
            format!("{label} ({}, {} sessions)", samples.len(), lat.sessions),
            figure,
            format!("p95 <= {} ms  {verdict_text}", target::EVENT_P95_MS),
        )
    };
    rows.push(event_row("screen → event, idle → working", &lat.to_working, lat.missed_working));
    rows.push(event_row("screen → event, working → idle", &lat.to_idle, lat.missed_idle));

    let overhead = prompts_of(r, Prompt::overhead);
    if let Some(p) = Pcts::of(&overhead) {
        rows.push((
            format!("send --wait overhead ({} prompts)", p.count),
            p.figure(),
            format!(
                "p95 <= {} ms  {}",
                target::WAIT_OVERHEAD_MS,
                verdict(p.p95 <= target::WAIT_OVERHEAD_MS)
            ),
        ));
    }
    for (label, f) in [
        ("  end to end", Prompt::end_to_end as fn(&Prompt) -> f64),
        ("  request → working drawn", Prompt::until_working),
        ("  agent's turn (working → idle drawn)", Prompt::agent),
    ] {
        if let Some(p) = Pcts::of(&prompts_of(r, f)) {
            rows.push((label.into(), p.figure(), String::new()));
        }
    }
    let not_idle = r.prompts.iter().filter(|p| p.timed_out || p.state.as_str() != "idle").count();
    if not_idle > 0 {
        rows.push(("  prompts not answered idle".into(), not_idle.to_string(), String::new()));
    }

    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0).max(7);
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0).max(6);
    let mut out = String::new();
    let _ = writeln!(out, "{:w0$}  {:w1$}  target", "measure", "figure");
    for (a, b, c) in rows {
        let line = format!("{a:w0$}  {b:w1$}  {c}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "load average (1 min) at phase start: latency {:.2}, send --wait {:.2}, idle CPU {:.2} \
         (end {:.2})",
        lat.load_start, r.prompts_load_start, idle.load_start, idle.load_end
    );
    out
}

fn ticks_json(idle: &Idle, t: Ticks) -> Value {
    json!({
        "utime_s": secs(idle, t.utime),
        "stime_s": secs(idle, t.stime),
        "cutime_s": secs(idle, t.cutime),
        "cstime_s": secs(idle, t.cstime),
        "percent_of_one_core": round3(pct(idle, t.total())),
    })
}

/// The JSON document.
pub fn json(r: &Results, meta: Value) -> Value {
    let idle = &r.idle;
    let lat = &r.latency;
    let server = Ticks { cutime: 0, cstime: 0, ..idle.tmux_server };
    json!({
        "meta": meta,
        "daemon_ready_ms": round3(ms(r.ready_after)),
        "idle": {
            "sessions": idle.sessions,
            "spawn_wall_ms": round3(ms(idle.spawn_wall)),
            "spawn_errors": idle.spawn_errors,
            "all_idle_after_ms": round3(ms(idle.all_idle_after)),
            "window_s": round3(idle.window.as_secs_f64()),
            "clock_ticks_per_s": idle.clock_ticks,
            "daemon_cpu": ticks_json(idle, idle.daemon),
            "daemon_cpu_ticks_per_5s_slice": idle.daemon_slices,
            "tmux_server_cpu": ticks_json(idle, server),
            "tmux_server_children_cpu_s":
                secs(idle, idle.tmux_server.cutime + idle.tmux_server.cstime),
            "daemon_rss_kib": idle.daemon_rss_kib,
            "daemon_peak_rss_kib": idle.daemon_hwm_kib,
            "tmux_server_rss_kib": idle.tmux_server_rss_kib,
            "state_events_in_window": idle.events_in_window,
            "idle_at_end": idle.idle_at_end,
            "load_average_1m": {"start": idle.load_start, "end": idle.load_end},
        },
        "screen_to_event": {
            "sessions": lat.sessions,
            "idle_to_working": pcts_json(&lat.to_working),
            "working_to_idle": pcts_json(&lat.to_idle),
            "missed_working": lat.missed_working,
            "missed_idle": lat.missed_idle,
            "working_events_not_from_idle": lat.odd_previous,
            "samples_ms": {
                "idle_to_working": lat.to_working.iter().map(|&x| round3(x)).collect::<Vec<_>>(),
                "working_to_idle": lat.to_idle.iter().map(|&x| round3(x)).collect::<Vec<_>>(),
            },
            "load_average_1m_at_start": lat.load_start,
        },
        "send_wait": {
            "think_ms": r.think_ms,
            "overhead": pcts_json(&prompts_of(r, Prompt::overhead)),
            "end_to_end": pcts_json(&prompts_of(r, Prompt::end_to_end)),
            "request_to_working_drawn": pcts_json(&prompts_of(r, Prompt::until_working)),
            "agent_turn": pcts_json(&prompts_of(r, Prompt::agent)),
            "not_answered_idle":
                r.prompts.iter().filter(|p| p.timed_out || p.state.as_str() != "idle").count(),
            "overhead_samples_ms":
                prompts_of(r, Prompt::overhead).iter().map(|&x| round3(x)).collect::<Vec<_>>(),
            "load_average_1m_at_start": r.prompts_load_start,
        },
        "targets": {
            "daemon_cpu_percent_100_idle": target::IDLE_CPU_PCT,
            "screen_to_event_p95_ms": target::EVENT_P95_MS,
            "send_wait_overhead_ms": target::WAIT_OVERHEAD_MS,
        },
    })
}
