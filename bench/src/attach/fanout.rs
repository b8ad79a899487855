//! Fan-out: N viewers of one session while its agent dumps 1 MiB at once. How long until
//! every viewer shows the dump's end marker (the final screen), and how many bytes each viewer
//! was sent. tmux itself skips intermediate frames for a client that lags, so a bridge that
//! lets tmux see its viewer's backpressure sends far less than the dump; one that drains tmux
//! into its own queues sends all of it, to every viewer.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::future::join_all;

use super::report::{median, median_usize};
use super::viewer::{Kind, Viewer};
use super::{BURST_WAIT, WAIT};

/// What one path (WebSocket viewers, or plain tmux clients) measured.
#[derive(Debug, Clone)]
pub struct Fanout {
    /// Which path.
    pub kind: Kind,
    /// Viewers attached.
    pub viewers: usize,
    /// Per viewer: trigger sent → end marker seen.
    pub wall: Vec<Duration>,
    /// Per viewer: bytes received until the end marker.
    pub received: Vec<u64>,
}

/// Attaches `n` viewers of `kind` to `session` (tmux name `tmux_name`), waits until each shows
/// `READY`, then sends `token` once and reads every viewer until `@@END-<token>@@`.
pub async fn measure(
    kind: Kind,
    socket: &Path,
    tmux_socket: &Path,
    session: &str,
    tmux_name: &str,
    n: usize,
    token: &str,
) -> Result<Fanout> {
    let mut viewers = Vec::with_capacity(n);
    for _ in 0..n {
        let mut v = match kind {
            Kind::WebSocket => Viewer::websocket(socket, session, "?history=0").await?.0,
            Kind::Tmux => Viewer::tmux(tmux_socket, tmux_name)?,
        };
        v.wait_text("READY", WAIT).await?;
        viewers.push(v);
    }
    join_all(viewers.iter_mut().map(|v| v.settle(Duration::from_millis(300), WAIT)))
        .await
        .into_iter()
        .collect::<Result<Vec<()>>>()?;
    let marker = format!("@@END-{token}@@");
    let start = Instant::now();
    viewers[0].send(format!("{token}\r").as_bytes()).await?;
    let outcomes = join_all(viewers.iter_mut().map(async |v| {
        let bytes = v.wait_text(&marker, BURST_WAIT).await?;
        Ok::<_, anyhow::Error>((start.elapsed(), bytes))
    }))
    .await;
    let (mut wall, mut received) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for outcome in outcomes {
        let (took, bytes) = outcome?;
        wall.push(took);
        received.push(bytes);
    }
    for v in viewers {
        v.close().await;
    }
    Ok(Fanout { kind, viewers: n, wall, received })
}

/// The old daemon's figures (issue 14): the slowest of 50 viewers done after 0.28 s, each
/// sent 51–101 KB.
const OLD_WALL_S: f64 = 0.28;

/// Table rows (measure, figure, target, within) for each path.
pub fn rows(runs: &[Fanout]) -> Vec<(String, String, String, Option<bool>)> {
    let mut rows = Vec::new();
    for kind in [Kind::WebSocket, Kind::Tmux] {
        let mine: Vec<&Fanout> = runs.iter().filter(|f| f.kind == kind).collect();
        let Some(first) = mine.first() else { continue };
        let last = median(mine.iter().map(|f| f.wall.iter().max().copied().unwrap_or_default()))
            .as_secs_f64();
        let kb = median_kb(mine.iter().flat_map(|f| f.received.iter().copied()));
        let label = match kind {
            Kind::WebSocket => "WebSocket",
            Kind::Tmux => "plain tmux",
        };
        let (target, within) = match kind {
            Kind::WebSocket => (
                format!("<= {OLD_WALL_S} s (old daemon; 51-101 KB each)"),
                Some(last <= OLD_WALL_S),
            ),
            Kind::Tmux => (String::new(), None),
        };
        rows.push((
            format!("1 MiB dump to {} viewers, {label} ({} runs)", first.viewers, mine.len()),
            format!("last viewer done {:.0} ms (median), {kb:.0} KB sent per viewer", last * 1e3),
            target,
            within,
        ));
    }
    rows
}

/// The machine-readable figures.
pub fn json(runs: &[Fanout]) -> serde_json::Value {
    let run = |f: &Fanout| {
        serde_json::json!({
            "path": f.kind.label(),
            "viewers": f.viewers,
            "last_viewer_ms": f.wall.iter().max().map(|d| d.as_secs_f64() * 1e3),
            "median_received_bytes": median_kb(f.received.iter().copied()) * 1e3,
            "max_received_bytes": f.received.iter().max(),
        })
    };
    serde_json::json!({ "dump_bytes": super::DUMP_BYTES, "runs": runs.iter().map(run).collect::<Vec<_>>() })
}

/// Median of byte counts, in KB.
fn median_kb(bytes: impl Iterator<Item = u64>) -> f64 {
    let v: Vec<usize> = bytes.map(|b| b as usize).collect();
    median_usize(&v) as f64 / 1e3
}
