-- Accounts and tokens brought over from the old Node llmux 0.41 (issue 16 §3). `imported_from`
-- names where a row came from (`llmux 0.41`); NULL for everything made here, which is every
-- row that exists already, so nothing else changes.
ALTER TABLE users ADD COLUMN imported_from TEXT;
ALTER TABLE tokens ADD COLUMN imported_from TEXT;

-- Everything an import brought over, kept after it is deleted here: a revoked token, a
-- deleted user or a removed session of the old install is not brought back by the next run.
CREATE TABLE imported (
    kind   TEXT NOT NULL,                -- 'user', 'token' or 'session'
    key    TEXT NOT NULL,                -- username, token id, session name
    origin TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) STRICT;
