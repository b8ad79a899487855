//! The daemon's Prometheus metrics (`GET /metrics`), with `prometheus-client`.
//!
//! Counted as things happen: HTTP requests (by method, matched route template and status,
//! with a latency histogram), sign-in failures and throttles, open terminal viewers and event
//! streams, tmux command latency (a process-wide histogram fed by the driver's hook).
//! Read at scrape time ([`Live`]): sessions by agent and state, push deliveries, uptime.
//!
//! Every label takes values from a bounded set: routes are templates (`/api/sessions/{name}`,
//! never the path; `unmatched` for anything no route knows), methods the standard ones
//! (`other`), tmux commands a fixed list (`other`), agents the catalog's keys.

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::AppState;

/// Latency buckets (seconds) for HTTP requests and tmux commands: 1 ms to 10 s.
const BUCKETS: [f64; 12] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Labels of `llmux_http_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// Labels of `llmux_http_request_duration_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// Labels of `llmux_tmux_command_duration_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: &'static str,
}

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// tmux commands of every daemon in this process (the driver's hook is process-wide).
static TMUX_COMMANDS: LazyLock<Histograms<CommandLabels>> =
    LazyLock::new(|| Family::new_with_constructor(histogram as fn() -> Histogram));

/// The driver's hook: one histogram observation per tmux command.
fn observe_tmux(command: &str, took: Duration) {
    let command = tmux_command(command);
    TMUX_COMMANDS.get_or_create(&CommandLabels { command }).observe(took.as_secs_f64());
}

/// The tmux commands the driver runs; anything else is `other`.
fn tmux_command(name: &str) -> &'static str {
    const KNOWN: [&str; 17] = [
        "new-session",
        "list-panes",
        "capture-pane",
        "kill-session",
        "kill-server",
        "rename-session",
        "set-environment",
        "set-option",
        "show-options",
        "send-keys",
        "load-buffer",
        "paste-buffer",
        "list-keys",
        "unbind-key",
        "list-sessions",
        "has-session",
        "display-message",
    ];
    KNOWN.into_iter().find(|k| *k == name).unwrap_or("other")
}

/// The standard methods; anything else is `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The metrics of one daemon.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<RouteLabels>,
    signin_failures: Counter,
    signin_throttled: Counter,
    viewers: Gauge,
    event_clients: Gauge,
    started: Instant,
}

impl Metrics {
    /// Registers every metric; `live` answers the ones read at scrape time.
    pub(crate) fn new(
        sessions: Arc<llmux_core::sessions::SessionService>,
        notifier: Arc<llmux_notify::Notifier>,
    ) -> Metrics {
        llmux_core::tmux::observe_commands(observe_tmux);
        let mut registry = Registry::with_prefix("llmux");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency = Histograms::new_with_constructor(histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request (to the response head), by method and route template",
            Unit::Seconds,
            latency.clone(),
        );
        let signin_failures = Counter::default();
        registry.register(
            "signin_failures",
            "Sign-ins refused for a wrong username or passphrase",
            signin_failures.clone(),
        );
        let signin_throttled = Counter::default();
        registry.register(
            "signin_throttled",
            "Sign-ins refused by the throttle (too many attempts; 429)",
            signin_throttled.clone(),
        );
        let viewers = Gauge::default();
        registry.register("terminal_viewers", "Terminal WebSockets open now", viewers.clone());
        let event_clients = Gauge::default();
        registry.register(
            "event_stream_clients",
            "Session event streams (GET /api/events) open now",
            event_clients.clone(),
        );
        registry.register_with_unit(
            "tmux_command_duration",
            "Time a tmux command took, by command (exec or control client)",
            Unit::Seconds,
            TMUX_COMMANDS.clone(),
        );
        let started = Instant::now();
        registry.register_collector(Box::new(Live { sessions, notifier, started }));
        Metrics {
            registry,
            requests,
            latency,
            signin_failures,
            signin_throttled,
            viewers,
            event_clients,
            started,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Since the metrics (the daemon's state) were made.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Counts a refused sign-in: a wrong credential or a throttled attempt.
    pub(crate) fn signin_refused(&self, error: &llmux_auth::Error) {
        match error {
            llmux_auth::Error::Unauthenticated(_) => {
                self.signin_failures.inc();
            }
            llmux_auth::Error::Throttled { .. } => {
                self.signin_throttled.inc();
            }
            _ => {}
        }
    }

    /// One more terminal viewer until the guard drops.
    pub(crate) fn viewer(&self) -> Open {
        Open::new(&self.viewers)
    }

    /// One more event-stream client until the guard drops.
    pub(crate) fn event_client(&self) -> Open {
        Open::new(&self.event_clients)
    }
}

/// A gauge raised for as long as this lives.
#[derive(Debug)]
pub(crate) struct Open(Gauge<i64, AtomicI64>);

impl Open {
    fn new(gauge: &Gauge) -> Open {
        gauge.inc();
        Open(gauge.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts every request under its route template and times it (to the response head: a
/// stream's life is not its latency).
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let route = match req.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        None => "unmatched".to_owned(),
    };
    let started = Instant::now();
    let res = next.run(req).await;
    let metrics = &state.metrics;
    metrics
        .latency
        .get_or_create(&RouteLabels { method, route: route.clone() })
        .observe(started.elapsed().as_secs_f64());
    let status = res.status().as_u16();
    metrics.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    res
}

/// The figures read at each scrape.
#[derive(Debug)]
struct Live {
    sessions: Arc<llmux_core::sessions::SessionService>,
    notifier: Arc<llmux_notify::Notifier>,
    started: Instant,
}

/// Labels of `llmux_sessions`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabels {
    agent: String,
    state: &'static str,
}

/// Labels of `llmux_push_deliveries_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use llmux_api::AgentState;
        const STATES: [AgentState; 5] = [
            AgentState::Starting,
            AgentState::Idle,
            AgentState::Working,
            AgentState::Waiting,
            AgentState::Exited,
        ];
        // Every state of every agent that has a session, zeros included, so a panel's
        // series do not come and go.
        let mut counts = std::collections::BTreeMap::<&str, [i64; 5]>::new();
        let list = self.sessions.list();
        for s in list.iter() {
            let row = counts.entry(s.agent.as_str()).or_default();
            if let Some(i) = STATES.iter().position(|st| *st == s.state) {
                row[i] += 1;
            }
        }
        let mut family = encoder.encode_descriptor(
            "sessions",
            "Sessions now, by agent and state (starting, idle, working, waiting, exited).",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (agent, row) in counts {
            for (st, n) in STATES.iter().zip(row) {
                let labels = SessionLabels { agent: agent.to_owned(), state: st.as_str() };
                ConstGauge::new(n).encode(family.encode_family(&labels)?)?;
            }
        }

        let totals = self.notifier.push_totals();
        let mut family = encoder.encode_descriptor(
            "push_deliveries",
            "Web Push deliveries since start, by outcome (sent, failed, gone: the device \
             unsubscribed).",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (outcome, n) in
            [("sent", totals.sent), ("failed", totals.failed), ("gone", totals.removed)]
        {
            ConstCounter::new(u64::from(n))
                .encode(family.encode_family(&OutcomeLabels { outcome })?)?;
        }

        let uptime = ConstGauge::new(self.started.elapsed().as_secs_f64());
        let metric = encoder.encode_descriptor(
            "uptime",
            "Seconds since the daemon started.",
            Some(&Unit::Seconds),
            uptime.metric_type(),
        )?;
        uptime.encode(metric)?;

        #[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
        struct Build {
            version: &'static str,
        }
        let mut metric = encoder.encode_descriptor(
            "build_info",
            "The daemon's version (always 1).",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        ConstGauge::new(1i64)
            .encode(metric.encode_family(&Build { version: llmux_core::VERSION })?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(tmux_command("list-panes"), "list-panes");
        assert_eq!(tmux_command("list-panes; kill-server"), "other");
        assert_eq!(tmux_command(""), "other");
        let odd = axum::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
    }
}
