//! Server-sent events: the incremental parser and the live log stream built on it.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use llmux_api::LogEntry;

use crate::{Error, Result};

/// One dispatched event: its type (`message` unless the server named one) and its data lines
/// joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub kind: String,
    pub data: String,
}

/// Turns a byte stream into events, following the `text/event-stream` rules that matter here:
/// lines end with `\n` or `\r\n`, `:` lines are comments (keep-alives), a blank line dispatches,
/// `data:` lines accumulate, an event without data is dropped.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    line: Vec<u8>,
    kind: Option<String>,
    data: Option<String>,
}

impl Parser {
    /// Feeds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &b in chunk {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
        }
        events
    }

    fn line_done(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            let kind = self.kind.take().unwrap_or_else(|| "message".to_owned());
            return self.data.take().map(|data| Event { kind, data });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.kind = Some(value.to_owned()),
            _ => {} // `id`, `retry` and unknown fields: nothing to do for a log tail
        }
        None
    }
}

/// The daemon log as it is written (`GET /api/logs/stream`); see [`crate::Client::log_stream`].
#[derive(Debug)]
pub struct LogStream {
    body: Incoming,
    parser: Parser,
    ready: std::collections::VecDeque<Event>,
}

impl LogStream {
    pub(crate) fn new(body: Incoming) -> LogStream {
        LogStream { body, parser: Parser::default(), ready: Default::default() }
    }

    /// The next log entry; `None` when the server ends the stream.
    ///
    /// Events of other types than `message` or `log` (a server may add some, say to report
    /// skipped entries) are passed over.
    pub async fn next(&mut self) -> Option<Result<LogEntry>> {
        loop {
            while let Some(event) = self.ready.pop_front() {
                if event.kind != "message" && event.kind != "log" {
                    continue;
                }
                return Some(serde_json::from_str(&event.data).map_err(|e| {
                    Error::Protocol(format!("unexpected log event from the daemon: {e}"))
                }));
            }
            let frame = match self.body.frame().await? {
                Ok(frame) => frame,
                Err(e) => return Some(Err(Error::Protocol(format!("the log stream broke: {e}")))),
            };
            if let Ok(data) = frame.into_data() {
                let data: Bytes = data;
                self.ready.extend(self.parser.push(&data));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Event, Parser};

    fn message(data: &str) -> Event {
        Event { kind: "message".into(), data: data.into() }
    }

    #[test]
    fn events_are_split_on_blank_lines_across_chunks() {
        let mut p = Parser::default();
        assert_eq!(p.push(b": keep-alive\n\ndata: {\"a\""), vec![]);
        assert_eq!(p.push(b":1}\n\r\ndata: x\n"), vec![message("{\"a\":1}")]);
        assert_eq!(p.push(b"data:y\n\n"), vec![message("x\ny")]);
    }

    #[test]
    fn named_events_and_empty_events() {
        let mut p = Parser::default();
        let events = p.push(b"event: lagged\ndata: 3\n\nid: 7\n\nevent: log\ndata: z\n\n");
        assert_eq!(
            events,
            vec![
                Event { kind: "lagged".into(), data: "3".into() },
                Event { kind: "log".into(), data: "z".into() }
            ]
        );
    }
}
