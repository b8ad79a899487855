-- The conversation each session's agent is in, where llmux knows it (the id it chose with
-- `--session-id`, or the one it resumed): kept so a restarted daemon still knows which
-- transcript is live. Follows its session through renames and goes with it.
CREATE TABLE session_conversations (
    name            TEXT PRIMARY KEY NOT NULL
                    REFERENCES sessions(name) ON UPDATE CASCADE ON DELETE CASCADE,
    conversation_id TEXT NOT NULL
) STRICT;
