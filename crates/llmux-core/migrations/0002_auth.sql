-- Accounts, tokens, browser sessions and the audit log.
CREATE TABLE users (
    username        TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    passphrase_hash TEXT NOT NULL,        -- Argon2id PHC string
    admin           INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    username     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,           -- hex SHA-256 of the secret; the secret is never stored
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX tokens_by_user ON tokens (username);

CREATE TABLE browser_sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    username     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    secret_hash  TEXT NOT NULL,           -- hex SHA-256 of the cookie's secret half
    user_agent   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX browser_sessions_by_user ON browser_sessions (username);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    ts     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
) STRICT;
