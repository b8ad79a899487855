-- Fleet hosts' user mappings (issue 17): which of the hub's non-admin users reach their own
-- sessions on the host, as which host user. JSON: {"sameNames": bool, "map": {hub: host}}.
ALTER TABLE hosts ADD COLUMN users TEXT NOT NULL DEFAULT '{}';

-- Opt-ins to fleet hosts' sessions (`host:name`, as the hub's credential names it): not in
-- `sessions`, so not in `push_sessions` (whose rows go with their session). `owner` is the hub
-- user the host's mapping gave the session to at opt-in ('' = nobody's: admins only); an
-- event's owner must still match. Removing the host removes its rows.
CREATE TABLE push_remote_sessions (
    username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    session    TEXT NOT NULL,
    owner      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (username, session)
) STRICT;
