//! The log ring buffer behind `GET /api/logs` and `/api/logs/stream`: a tracing layer that
//! keeps the newest events in memory and fans new ones out to subscribers.
//!
//! Nothing secret is ever logged by llmux (tokens, passphrases, cookies and setup or pairing
//! codes never pass through tracing), so the buffer can be shown to admins as is.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use llmux_api::LogEntry;
use llmux_core::time::{now_ms, rfc3339_ms};
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Entries kept.
pub const LOG_CAPACITY: usize = 1000;

/// The newest log events.
#[derive(Debug)]
pub struct LogBuffer {
    entries: Mutex<VecDeque<LogEntry>>,
    tx: broadcast::Sender<LogEntry>,
}

impl LogBuffer {
    /// An empty buffer.
    pub fn new() -> Arc<LogBuffer> {
        Arc::new(LogBuffer { entries: Mutex::new(VecDeque::new()), tx: broadcast::channel(256).0 })
    }

    /// The tracing layer that fills this buffer.
    pub fn layer(self: &Arc<Self>) -> LogLayer {
        LogLayer(self.clone())
    }

    /// The newest `limit` entries, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<LogEntry> {
        let entries = self.entries.lock().expect("log lock");
        let skip = entries.len().saturating_sub(limit);
        entries.iter().skip(skip).cloned().collect()
    }

    /// New entries as they come.
    pub fn subscribe(&self) -> broadcast::Receiver<LogEntry> {
        self.tx.subscribe()
    }

    fn push(&self, entry: LogEntry) {
        let mut entries = self.entries.lock().expect("log lock");
        if entries.len() == LOG_CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry.clone());
        drop(entries);
        let _ = self.tx.send(entry);
    }
}

/// A `tracing_subscriber` layer writing into a [`LogBuffer`].
#[derive(Debug, Clone)]
pub struct LogLayer(Arc<LogBuffer>);

impl<S: Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = TextVisitor::default();
        event.record(&mut text);
        let meta = event.metadata();
        self.0.push(LogEntry {
            ts: rfc3339_ms(now_ms()),
            level: meta.level().as_str().to_lowercase(),
            target: meta.target().to_owned(),
            text: text.0,
        });
    }
}

#[derive(Default)]
struct TextVisitor(String);

impl Visit for TextVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            // The message is recorded first; keep it first even if it is not.
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn events_land_in_the_ring() {
        let buffer = LogBuffer::new();
        let subscriber = tracing_subscriber::registry().with(buffer.layer());
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..(LOG_CAPACITY + 5) {
                tracing::info!(n = i, "hello");
            }
            tracing::warn!("careful");
        });
        let recent = buffer.recent(2);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[1].level, "warn");
        assert_eq!(recent[1].text, "careful");
        assert!(
            recent[0].text.starts_with("hello") && recent[0].text.contains("n="),
            "{:?}",
            recent[0]
        );
        assert_eq!(buffer.recent(usize::MAX).len(), LOG_CAPACITY);
    }
}
