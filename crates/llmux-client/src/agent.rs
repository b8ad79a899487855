//! Agent awareness over the API: waited prompts, answers, keys, past conversations, and the
//! live `/api/events` stream.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use hyper::body::Incoming;
use llmux_api::{
    AnswerRequest, Conversation, KeyRequest, OkResponse, ResumeRequest, SendRequest, SendResponse,
    SessionResponse, SessionView, StateEvent, TranscriptResponse,
};

use crate::sse::{Event, Parser};
use crate::{Client, Error, Result, session_path};

/// One event of `GET /api/events`.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// The whole (visible) session list, at once and after every change.
    Sessions(Vec<SessionView>),
    /// One agent changed state.
    State(StateEvent),
}

/// The live `/api/events` stream; see [`Client::events`].
#[derive(Debug)]
pub struct EventStream {
    body: Incoming,
    parser: Parser,
    ready: std::collections::VecDeque<Event>,
}

impl EventStream {
    /// The next event; `None` when the server ends the stream.
    pub async fn next(&mut self) -> Option<Result<SessionEvent>> {
        loop {
            while let Some(event) = self.ready.pop_front() {
                let parsed = match event.kind.as_str() {
                    "sessions" => serde_json::from_str(&event.data).map(SessionEvent::Sessions),
                    "state" => serde_json::from_str(&event.data).map(SessionEvent::State),
                    _ => continue,
                };
                return Some(parsed.map_err(|e| {
                    Error::Protocol(format!("unexpected event from the daemon: {e}"))
                }));
            }
            let frame = match self.body.frame().await? {
                Ok(frame) => frame,
                Err(e) => {
                    return Some(Err(Error::Protocol(format!("the event stream broke: {e}"))));
                }
            };
            if let Ok(data) = frame.into_data() {
                let data: Bytes = data;
                self.ready.extend(self.parser.push(&data));
            }
        }
    }
}

impl Client {
    /// `POST /api/sessions/{name}/send` with `wait`: returns once the agent leaves `working`
    /// (or after `timeout_secs`), with its reply.
    pub async fn send_wait(
        &self,
        name: &str,
        prompt: &str,
        timeout_secs: u64,
    ) -> Result<SendResponse> {
        let req = SendRequest {
            prompt: prompt.to_owned(),
            enter: Some(true),
            wait: Some(true),
            timeout: Some(timeout_secs),
            ..Default::default()
        };
        self.call_once(Method::POST, &session_path(name, "/send"), Some(&req)).await
    }

    /// `POST /api/sessions/{name}/answer`: option `option` as the screen numbers them (from 1).
    pub async fn answer(&self, name: &str, option: usize) -> Result<()> {
        let req = AnswerRequest { option };
        self.call_once::<OkResponse>(Method::POST, &session_path(name, "/answer"), Some(&req))
            .await
            .map(drop)
    }

    /// `POST /api/sessions/{name}/key`.
    pub async fn key(&self, name: &str, key: &str) -> Result<()> {
        let req = KeyRequest { key: key.to_owned() };
        self.call_once::<OkResponse>(Method::POST, &session_path(name, "/key"), Some(&req))
            .await
            .map(drop)
    }

    /// `GET /api/sessions/{name}/conversations`.
    pub async fn conversations(&self, name: &str) -> Result<Vec<Conversation>> {
        self.get(&session_path(name, "/conversations")).await
    }

    /// `POST /api/sessions/{name}/resume`.
    pub async fn resume(&self, name: &str, conversation_id: &str) -> Result<SessionView> {
        let req = ResumeRequest { conversation_id: conversation_id.to_owned() };
        Ok(self.post::<SessionResponse>(&session_path(name, "/resume"), &req).await?.session)
    }

    /// `GET /api/sessions/{name}/transcript`.
    pub async fn transcript(&self, name: &str) -> Result<TranscriptResponse> {
        self.get(&session_path(name, "/transcript")).await
    }

    /// `GET /api/events`: the session list and state changes, live.
    pub async fn events(&self) -> Result<EventStream> {
        let accept = [("accept", "text/event-stream")];
        let res = self.request(Method::GET, "/api/events", None, &accept).await?;
        if !res.status().is_success() {
            let status = res.status();
            let body = res.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Err(self.api_error(status, &body));
        }
        Ok(EventStream {
            body: res.into_body(),
            parser: Parser::default(),
            ready: Default::default(),
        })
    }
}
