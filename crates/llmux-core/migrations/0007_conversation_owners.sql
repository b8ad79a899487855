-- Whose conversations are whose: every conversation id a session's agent started or resumed,
-- with the owner of that session. A non-admin is shown only the conversations recorded as
-- theirs, so rows outlive their session (no foreign key): a removed session's history stays
-- its owner's. `agent` is the history adapter's key (the agent's detector), `cwd` the
-- session's working directory at the time.
CREATE TABLE conversation_owners (
    agent           TEXT NOT NULL,
    cwd             TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    owner           TEXT NOT NULL,             -- the session's owner; '' = the local operator
    how             TEXT NOT NULL CHECK (how IN ('started', 'resumed', 'adopted')),
    session         TEXT NOT NULL,             -- the session's name then (for the record)
    recorded_at     INTEGER NOT NULL,          -- unix milliseconds
    PRIMARY KEY (agent, conversation_id, owner, cwd)
) STRICT;
CREATE INDEX conversation_owners_by_place ON conversation_owners (agent, cwd, owner);
-- The live conversations llmux already knew are their sessions' owners' (built-in agents'
-- keys are their adapters' keys; a custom agent's rows are written again at its next spawn).
INSERT OR IGNORE INTO conversation_owners
    (agent, cwd, conversation_id, owner, how, session, recorded_at)
    SELECT s.agent, s.cwd, c.conversation_id, s.owner,
           CASE WHEN s.resume_from = c.conversation_id THEN 'resumed' ELSE 'started' END,
           s.name, s.updated_at
    FROM session_conversations c JOIN sessions s ON s.name = c.name;
