-- Web Push: each user's devices (browser push subscriptions) and the sessions each user wants
-- to hear about. A user's rows go with the user.
CREATE TABLE push_subscriptions (
    id              TEXT PRIMARY KEY NOT NULL,
    username        TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    endpoint        TEXT NOT NULL,        -- the push service URL (a capability: never logged)
    p256dh          TEXT NOT NULL,        -- base64url P-256 public key of the browser
    auth            TEXT NOT NULL,        -- base64url 16-byte authentication secret
    label           TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    last_success_at INTEGER,
    UNIQUE (username, endpoint)
) STRICT;

CREATE TABLE push_sessions (
    username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    session    TEXT NOT NULL,
    owner      TEXT NOT NULL,             -- the session's owner at opt-in: a later session of
                                          -- the same name owned by someone else is not followed
    created_at INTEGER NOT NULL,
    PRIMARY KEY (username, session)
) STRICT;
CREATE INDEX push_sessions_by_session ON push_sessions (session);
