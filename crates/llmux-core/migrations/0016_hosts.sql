-- Fleet hosts (issue 17): the other llmux daemons this one (the hub) shows and drives.
-- Exactly one transport per host: `url` with the `token` minted on that host, or `ssh`
-- (`[user@]host[:port]`) with the host daemon's socket path (empty: asked of llmux there).
-- The token is a secret: only the daemon reads it, to call the host; no API returns it.
CREATE TABLE hosts (
    name        TEXT PRIMARY KEY,
    url         TEXT,
    token       TEXT,
    ssh         TEXT,
    socket      TEXT,
    created_at  INTEGER NOT NULL,
    CHECK ((url IS NULL) <> (ssh IS NULL))
) STRICT;
