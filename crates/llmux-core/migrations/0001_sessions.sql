-- Session records: the durable half of a session (tmux holds the live half).
CREATE TABLE sessions (
    name         TEXT PRIMARY KEY NOT NULL,
    agent        TEXT NOT NULL,
    cwd          TEXT NOT NULL,
    flags        TEXT,                       -- NULL = the agent's default flags
    env          TEXT NOT NULL DEFAULT '{}', -- JSON object
    init_prompts TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    resume_from  TEXT,
    owner        TEXT NOT NULL DEFAULT '',   -- username; '' = the local operator
    parent       TEXT,
    created_at   INTEGER NOT NULL,           -- unix milliseconds
    updated_at   INTEGER NOT NULL,
    started_at   INTEGER NOT NULL
) STRICT;
