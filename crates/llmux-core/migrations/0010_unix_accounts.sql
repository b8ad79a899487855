-- The system daemon (issue 15): the Unix account each llmux user's sessions run as when the
-- daemon runs as root in `server.mode: system` (NULL = none mapped yet: no sessions then).
ALTER TABLE users ADD COLUMN unix_account TEXT;
