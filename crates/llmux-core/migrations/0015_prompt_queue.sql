-- Issue 19: nothing lost, nothing twice; a queue per session.
--
-- The outcome of each request made with an `Idempotency-Key` header, per caller (`scope`:
-- '' for the local operator, 'u:NAME' for a user), so a retry answers the first outcome
-- without acting again. Kept for a day (pruned on insert).
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Prompts waiting for a session: scheduled (`not_before`), for when it is idle, or for when
-- its rate limit has reset. Typed in `position` order once due, then deleted.
CREATE TABLE prompt_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    text TEXT NOT NULL,
    enter INTEGER NOT NULL DEFAULT 1,
    not_before INTEGER,
    when_idle INTEGER NOT NULL DEFAULT 0,
    after_limit INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX prompt_queue_session ON prompt_queue (session, position);
