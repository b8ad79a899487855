//! Ownership changes that reach past one session: a deleted user's sessions ending or passing
//! to another user, and the tmux renames a migration leaves for the next start.

use super::{SessionService, names};
use crate::error::Result;
use crate::store::DeletedUser;

impl SessionService {
    /// Brings memory and tmux in line with a user's deletion, which the store has committed:
    /// ended sessions are killed (their processes too) and forgotten, handed-over ones are
    /// renamed live.
    pub async fn apply_user_deletion(&self, deleted: &DeletedUser) -> Result<()> {
        let _registry = self.registry.lock().await;
        for name in &deleted.ended {
            self.end_processes(name).await;
            if let Err(e) = self.tmux_of(name).kill_session(name).await {
                tracing::warn!(session.name = %name, error = %e, "cannot kill a deleted user's session");
            }
            self.forget_pane(name);
            self.release_cgroup(name).await;
            self.records.write().expect("records lock").remove(name);
            self.conversations.remove(name);
            // Its worktree stays on disk (never work lost); only llmux's record of it goes.
            self.worktrees.forget(name);
            self.tracker.reset(name);
            self.forget_lock(name);
            tracing::info!(session.name = %name, "session ended with its owner's account");
        }
        for (old, new) in &deleted.moved {
            let live = self.live.contains(old);
            if live && let Err(e) = self.tmux_of(old).rename_session(old, new).await {
                tracing::warn!(session.name = %old, error = %e, "cannot rename a handed-over session");
            }
            self.rename_cgroup(old, new).await;
            {
                let mut records = self.records.write().expect("records lock");
                if let Some(mut record) = records.remove(old) {
                    record.name.clone_from(new);
                    record.owner = names::split(new).1.to_owned();
                    records.insert(new.clone(), record);
                }
            }
            self.tracker.rename(old, new);
            self.conversations.rename(old, new);
            self.worktrees.renamed_in_store(old, new);
            self.forget_lock(old);
            tracing::info!(session.name = %new, old = %old, "session handed over");
        }
        let done: Vec<String> =
            deleted.ended.iter().chain(deleted.moved.iter().map(|(old, _)| old)).cloned().collect();
        self.db(move |s| s.forget_pending_tmux(&done)).await?;
        self.notify();
        self.refresh().await
    }

    /// Renames or kills the tmux sessions a migration left for this start (see the
    /// `pending_tmux` table), then forgets them.
    pub(super) async fn apply_pending_tmux(&self) -> Result<()> {
        let pending = self.db(|s| s.pending_tmux()).await?;
        // On whichever server holds the session (llmux's own, before per-user servers).
        let servers = self.servers.all();
        for (old, new) in &pending {
            for tmux in &servers {
                let done = match new {
                    Some(new) => tmux.rename_session(old, new).await.map(|()| true),
                    None => tmux.kill_session(old).await,
                };
                match done {
                    Ok(true) => break,
                    Ok(false) => {}
                    // Absent sessions (or no tmux server at all) are fine: nothing to move.
                    Err(e) => {
                        tracing::debug!(session.name = %old, error = %e, "pending tmux change not applied here")
                    }
                }
            }
        }
        if !pending.is_empty() {
            self.db(|s| s.clear_pending_tmux()).await?;
            tracing::info!(
                count = pending.len(),
                "applied the tmux changes left pending (a migration, a rename cut off)"
            );
        }
        Ok(())
    }
}
