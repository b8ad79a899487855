//! Session actions on behalf of a principal: the one way in to [`SessionService`] for requests.
//!
//! Every method takes the caller and, in this order: asks the policy table
//! ([`crate::policy`]) whether it may do the action at all (403), finds the session it names in
//! its own terms and answers 404, exactly as for an absent one, if the caller may not see it,
//! calls the service, and for every change writes the audit entry. Names go in and come out in
//! the caller's terms ([`llmux_core::sessions::names`]): handlers never translate, check
//! ownership or audit themselves, so a new route cannot forget to.
//!
//! What is audited (`action`, target = the session's canonical name, detail), after the change
//! succeeded: `session_created` (agent), `session_edited` (the fields changed),
//! `session_renamed` (the old name), `session_restarted`, `session_stopped`, `session_killed`
//! (the status it had), `session_removed` (`force`), `session_resumed` (conversation id),
//! `session_prompted` (length, and `no enter` / `waited` / `broadcast`; never the text),
//! `session_answered` (option), `session_key` (the key), `session_interrupted`, and
//! `session_attached` (`read-only` or not) for a terminal. Reads are not audited.

use std::sync::Arc;
use std::time::Duration;

use llmux_api::{
    AgentView, Conversation, SessionStatus, SessionView, StateEvent, TranscriptResponse,
};
use llmux_core::sessions::{NewSession, SessionEdit, SessionService, names};

use super::AuthService;

mod input;
mod queue;
use crate::policy::{Action, allows, require};
use crate::{Error, Principal, Result};
pub use queue::Queued;

/// The agent key only admins may start ([`Action::StartShell`]).
pub const SHELL: &str = "shell";

/// Longest wait of a waited prompt.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Session actions for principals: policy, 404 masking, names, audit, then the service.
#[derive(Debug, Clone)]
pub struct Sessions {
    service: Arc<SessionService>,
    auth: Arc<AuthService>,
}

/// A session a caller may act on: its canonical name and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Canonical name (`NAME` or `NAME@USER`).
    pub name: String,
    /// The owner's username (empty for the local operator's sessions).
    pub owner: String,
}

/// What a caller may see of the session list.
#[derive(Debug, Clone)]
pub enum Listing {
    /// Every session under its canonical name, the service's own shared list: the local
    /// operator's view (the same for every request, so it can be serialized once per change).
    All(Arc<Vec<SessionView>>),
    /// The sessions the caller may see, named in its terms.
    Visible(Vec<SessionView>),
}

impl Listing {
    /// The sessions as a list.
    pub fn into_vec(self) -> Vec<SessionView> {
        match self {
            Listing::All(all) => all.as_ref().clone(),
            Listing::Visible(views) => views,
        }
    }
}

/// A terminal the caller may open: which session, and whether its input is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Canonical name.
    pub name: String,
    /// View only (`tmux attach -r`): asked for, or the caller may not type.
    pub read_only: bool,
}

/// A prompt to type.
#[derive(Debug, Clone, Default)]
pub struct Prompt {
    /// The text.
    pub text: String,
    /// Press Enter after it (default true).
    pub enter: Option<bool>,
    /// Answer once the agent is done, with its reply (`enter` must not be false).
    pub wait: Option<bool>,
    /// Longest wait in seconds (default 600, at most [`MAX_WAIT`]).
    pub timeout: Option<u64>,
}

/// The service's errors reach the caller as they are (their own status and code).
trait Verbatim<T> {
    fn verbatim(self) -> Result<T>;
}

impl<T> Verbatim<T> for llmux_core::Result<T> {
    fn verbatim(self) -> Result<T> {
        self.map_err(Error::Core)
    }
}

fn no_session(name: &str) -> Error {
    Error::Core(llmux_core::Error::NotFound(format!("no session named {name:?}")))
}

/// Whether `principal` sees every session as an admin does: admins, and a fleet hub's
/// `hub`-scope token (which names them as an admin user would).
fn sees_all(principal: &Principal) -> bool {
    principal.is_admin() || principal.is_hub()
}

impl Sessions {
    /// The facade over `service`, auditing through `auth`.
    pub fn new(service: Arc<SessionService>, auth: Arc<AuthService>) -> Sessions {
        Sessions { service, auth }
    }

    /// The session service (for the facade's other modules).
    pub(super) fn service(&self) -> &Arc<SessionService> {
        &self.service
    }

    /// Writes an audit entry (for the facade's other modules).
    pub(super) async fn audit_review(
        &self,
        principal: &Principal,
        action: &str,
        target: &str,
        detail: &str,
    ) {
        self.audit(principal, action, target, detail).await;
    }

    // ---- names ----

    /// The canonical name `principal` means by `name` (see [`llmux_core::sessions::names`]):
    /// a bare name is its own session, except that an admin user without a session of that
    /// name means the local operator's, which admins see without a suffix while it clashes
    /// with none of their own. Non-admins never fall back: their bare names reach only their
    /// own sessions. Checks nothing: for the caller's own records (an opt-in to drop).
    pub fn resolve(&self, principal: &Principal, name: &str) -> String {
        let own = names::resolve(name, principal.owner());
        if name.contains(names::SEP) || principal.owner().is_empty() || !sees_all(principal) {
            return own;
        }
        if !self.service.contains(&own) && self.service.contains(name) {
            name.to_owned()
        } else {
            own
        }
    }

    /// A canonical session name as `principal` sees it: its own without a suffix, the local
    /// operator's without one too for an admin user who has none of that name (else `NAME@`),
    /// other users' as `NAME@USER`. [`Sessions::resolve`] takes every shown name back.
    pub fn shown(&self, principal: &Principal, canonical: &str) -> String {
        let (base, owner) = names::split(canonical);
        if owner.is_empty()
            && sees_all(principal)
            && !principal.owner().is_empty()
            && !self.service.contains(&names::canonical(base, principal.owner()))
        {
            return base.to_owned();
        }
        names::display(canonical, principal.owner())
    }

    fn present(&self, principal: &Principal, mut view: SessionView) -> SessionView {
        view.name = self.shown(principal, &view.name);
        view.parent = view.parent.map(|p| self.shown(principal, &p));
        view
    }

    /// 403 unless the table allows `action`; 404 unless the caller may see the session `name`
    /// (in its terms) names: someone else's session answers exactly like an absent one.
    pub fn target(&self, principal: &Principal, name: &str, action: Action) -> Result<Target> {
        require(principal, action)?;
        let canonical = self.resolve(principal, name);
        match self.service.record(&canonical) {
            Ok(record) if principal.can_access(&record.owner) => {
                Ok(Target { name: canonical, owner: record.owner })
            }
            _ => Err(no_session(name)),
        }
    }

    fn find(&self, principal: &Principal, name: &str, action: Action) -> Result<String> {
        self.target(principal, name, action).map(|t| t.name)
    }

    /// Whether `principal` may still see the session `canonical` (for long-lived streams,
    /// asked again at every event: a session can be handed to another user).
    pub fn may_see(&self, principal: &Principal, canonical: &str) -> bool {
        self.service.record(canonical).is_ok_and(|r| principal.can_access(&r.owner))
    }

    /// Whose conversations (and running counts) the caller may see: `None` (all) for an
    /// admin, else its own.
    fn mine<'p>(&self, principal: &'p Principal) -> Option<&'p str> {
        (!sees_all(principal)).then(|| principal.owner())
    }

    async fn audit(&self, principal: &Principal, action: &str, target: &str, detail: &str) {
        self.auth.audit(&principal.actor(), action, target, detail).await;
    }

    // ---- reads ----

    /// The sessions the caller may see, newest first. Env values therefore reach only a
    /// session's owner and admins: nobody else is shown the session at all.
    pub fn list(&self, principal: &Principal) -> Result<Listing> {
        require(principal, Action::ReadSessions)?;
        let all = self.service.list();
        if matches!(principal, Principal::LocalOperator) {
            return Ok(Listing::All(all));
        }
        Ok(Listing::Visible(
            all.iter()
                .filter(|s| principal.can_access(&s.owner))
                .map(|s| self.present(principal, s.clone()))
                .collect(),
        ))
    }

    /// The agent catalog, with running counts of the sessions the caller may see (its own,
    /// or everyone's for admins: a non-admin learns nothing about others' sessions).
    pub fn agents(&self, principal: &Principal) -> Result<Vec<AgentView>> {
        require(principal, Action::ReadSessions)?;
        Ok(self.service.agents(self.mine(principal)))
    }

    /// One session.
    pub fn get(&self, principal: &Principal, name: &str) -> Result<SessionView> {
        let name = self.find(principal, name, Action::ReadSessions)?;
        Ok(self.present(principal, self.service.get(&name).verbatim()?))
    }

    /// The last `lines` lines of the session's screen: (its name as shown, the text).
    pub async fn capture(
        &self,
        principal: &Principal,
        name: &str,
        lines: u32,
    ) -> Result<(String, String)> {
        let name = self.find(principal, name, Action::ReadSessions)?;
        let text = self.service.capture(&name, lines).await.verbatim()?;
        Ok((self.shown(principal, &name), text))
    }

    /// The session's past conversations in its cwd (the caller's own, unless an admin).
    pub async fn conversations(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<Vec<Conversation>> {
        let name = self.find(principal, name, Action::ReadSessions)?;
        self.service.conversations(&name, self.mine(principal)).await.verbatim()
    }

    /// Past conversations of `agent` in any directory `cwd` ([`Action::BrowseHistory`]).
    pub async fn conversations_in(
        &self,
        principal: &Principal,
        agent: &str,
        cwd: &str,
    ) -> Result<Vec<Conversation>> {
        require(principal, Action::ReadSessions)?;
        require(principal, Action::BrowseHistory)?;
        self.service.conversations_of(agent, cwd).await.verbatim()
    }

    /// The live conversation as turns.
    pub async fn transcript(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<TranscriptResponse> {
        let name = self.find(principal, name, Action::ReadSessions)?;
        self.service.transcript(&name, self.mine(principal)).await.verbatim()
    }

    /// The live transcript as it changes: the session's canonical name (for
    /// [`Sessions::may_see`] at every change) and the feed.
    pub fn transcript_feed(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<(String, tokio::sync::watch::Receiver<Option<Arc<str>>>)> {
        let name = self.find(principal, name, Action::ReadSessions)?;
        let feed = self.service.transcript_feed(&name, self.mine(principal)).verbatim()?;
        Ok((name, feed))
    }

    /// Bumps on every change of the session list (for event streams; read it with
    /// [`Sessions::list`]).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.service.watch()
    }

    /// Every agent state change, of every session: pass each through
    /// [`Sessions::state_event`].
    pub fn state_events(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<StateEvent>> {
        self.service.state_events()
    }

    /// `event` as `principal` may see it (its session named in its terms), or `None` if it is
    /// about a session the caller may not see.
    pub fn state_event(&self, principal: &Principal, mut event: StateEvent) -> Option<StateEvent> {
        if !allows(principal, Action::ReadSessions) || !principal.can_access(&event.owner) {
            return None;
        }
        event.name = self.shown(principal, &event.name);
        Some(event)
    }

    // ---- changes ----

    /// Starts a session owned by the caller ([`Action::StartShell`] for the `shell` agent).
    pub async fn create(&self, principal: &Principal, mut req: NewSession) -> Result<SessionView> {
        require(principal, Action::DriveSessions)?;
        if req.agent.trim() == SHELL {
            require(principal, Action::StartShell)?;
        }
        req.parent = req.parent.map(|p| self.resolve(principal, &p));
        let mine = self.mine(principal);
        let resume = req.resume_from.as_deref();
        self.service.check_resume(&req.agent, resume, mine, None).await.verbatim()?;
        // The owner's session limit (issue 15), held until the new session is counted.
        let owner = principal.owner();
        let count = || self.service.list().iter().filter(|s| s.owner == owner).count();
        let _slot = self.auth.session_slot(owner, count).await?;
        let session = self.service.create(req, owner).await.verbatim()?;
        self.audit(principal, "session_created", &session.name, &session.agent).await;
        Ok(self.present(principal, session))
    }

    /// Whether the caller could start `agent` in `cwd` (a start's own checks, nothing made):
    /// what a hub asks to place a session. Needs what a start needs.
    pub async fn can_start(
        &self,
        principal: &Principal,
        agent: &str,
        cwd: Option<&str>,
    ) -> Result<()> {
        require(principal, Action::DriveSessions)?;
        if agent.trim() == SHELL {
            require(principal, Action::StartShell)?;
        }
        self.service.can_start(agent, cwd, principal.owner()).await.verbatim()
    }

    /// Edits a session; a change of cwd, flags, env or resume id respawns it if running. A
    /// rename keeps the owner.
    pub async fn edit(
        &self,
        principal: &Principal,
        name: &str,
        mut req: SessionEdit,
    ) -> Result<SessionView> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        let name = target.name;
        if let Some(new) = req.name.as_mut().filter(|n| n.contains(names::SEP)) {
            // A new name in its full form (as the session list shows another owner's) must
            // keep the owner: a rename never moves a session to someone else.
            let canonical = names::resolve(new, principal.owner());
            let (base, owner) = names::split(&canonical);
            if owner != target.owner {
                return Err(Error::Invalid("a rename cannot change the session's owner".into()));
            }
            *new = base.to_owned();
        }
        if let Some(id) = req.resume_from.as_ref() {
            let agent = self.service.record(&name).verbatim()?.agent;
            let mine = self.mine(principal);
            self.service.check_resume(&agent, id.as_deref(), mine, Some(&name)).await.verbatim()?;
        }
        let fields = edited_fields(&req);
        let session = self.service.edit(&name, req).await.verbatim()?;
        if session.name != name {
            self.audit(principal, "session_renamed", &session.name, &name).await;
        }
        if !fields.is_empty() {
            self.audit(principal, "session_edited", &session.name, &fields.join(", ")).await;
        }
        Ok(self.present(principal, session))
    }

    /// Restarts the session from its recorded config.
    pub async fn restart(&self, principal: &Principal, name: &str) -> Result<SessionView> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        let session = self.service.restart(&name).await.verbatim()?;
        self.audit(principal, "session_restarted", &name, "").await;
        Ok(self.present(principal, session))
    }

    /// Respawns the session's agent on a past conversation (the caller's own, unless admin).
    /// The session comes back under its canonical name.
    pub async fn resume(
        &self,
        principal: &Principal,
        name: &str,
        conversation_id: &str,
    ) -> Result<SessionView> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        let mine = self.mine(principal);
        let session = self.service.resume(&name, conversation_id, mine).await.verbatim()?;
        self.audit(principal, "session_resumed", &name, conversation_id).await;
        Ok(session)
    }

    /// Stops the agent and keeps the record.
    pub async fn stop(&self, principal: &Principal, name: &str) -> Result<SessionView> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        let session = self.service.stop(&name).await.verbatim()?;
        self.audit(principal, "session_stopped", &name, "").await;
        Ok(self.present(principal, session))
    }

    /// Kills the session and deletes its record; answers the status it had.
    pub async fn kill(&self, principal: &Principal, name: &str) -> Result<SessionStatus> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        let status = self.service.remove(&name, true, None).await.verbatim()?;
        self.audit(principal, "session_killed", &name, status.as_str()).await;
        Ok(status)
    }

    /// Removes the session's record; refused while it runs unless `force`, and while its
    /// worktree has work in it unless `force` with a `branch` choice.
    pub async fn remove(
        &self,
        principal: &Principal,
        name: &str,
        force: bool,
        branch: Option<llmux_api::BranchChoice>,
    ) -> Result<()> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        self.service.remove(&name, force, branch).await.verbatim()?;
        let detail = match (force, branch) {
            (false, _) => "",
            (true, None) => "force",
            (true, Some(llmux_api::BranchChoice::Keep)) => "force, branch kept",
            (true, Some(llmux_api::BranchChoice::Delete)) => "force, branch deleted",
        };
        self.audit(principal, "session_removed", &name, detail).await;
        Ok(())
    }

    /// Opens the session's terminal ([`Action::ViewTerminal`]); read-only when asked or when
    /// the caller may not type ([`Action::DriveSessions`]). 409 unless it runs.
    pub async fn attach(
        &self,
        principal: &Principal,
        name: &str,
        read_only: bool,
    ) -> Result<Attachment> {
        let name = self.find(principal, name, Action::ViewTerminal)?;
        if self.service.status(&name) != SessionStatus::Running {
            return Err(Error::NotRunning(format!("session {name:?} is not running")));
        }
        let read_only = read_only || !allows(principal, Action::DriveSessions);
        let detail = if read_only { "read-only" } else { "" };
        self.audit(principal, "session_attached", &name, detail).await;
        Ok(Attachment { name, read_only })
    }
}

/// The fields an edit changes, as the API names them (values stay out of the audit log: an
/// env value may be a secret).
fn edited_fields(req: &SessionEdit) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if req.cwd.is_some() {
        fields.push("cwd");
    }
    if req.flags.is_some() {
        fields.push("flags");
    }
    if req.env.is_some() {
        fields.push("env");
    }
    if req.init_prompts.is_some() {
        fields.push("initPrompts");
    }
    if req.resume_from.is_some() {
        fields.push("resumeFrom");
    }
    if req.after_limit.is_some() {
        fields.push("afterLimit");
    }
    if req.worktree.is_some() {
        fields.push("worktree");
    }
    fields
}

/// An audit entry written when the call it covers ends, or, if the caller's future is dropped
/// first (the client went away during a wait), by a task of its own.
struct PendingAudit {
    auth: Arc<AuthService>,
    entry: Option<(String, &'static str, String, String)>,
}

impl PendingAudit {
    fn new(
        auth: Arc<AuthService>,
        principal: &Principal,
        action: &'static str,
        target: &str,
        detail: String,
    ) -> PendingAudit {
        PendingAudit { auth, entry: Some((principal.actor(), action, target.to_owned(), detail)) }
    }

    async fn write(&mut self) {
        if let Some((actor, action, target, detail)) = self.entry.take() {
            self.auth.audit(&actor, action, &target, &detail).await;
        }
    }

    fn cancel(&mut self) {
        self.entry = None;
    }
}

impl Drop for PendingAudit {
    fn drop(&mut self) {
        if let Some((actor, action, target, detail)) = self.entry.take() {
            let auth = self.auth.clone();
            let detail = format!("{detail}; the client left before the reply");
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { auth.audit(&actor, action, &target, &detail).await });
            }
        }
    }
}

#[cfg(test)]
mod tests;
