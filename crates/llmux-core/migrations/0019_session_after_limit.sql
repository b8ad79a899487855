-- Issue 19: a session's after-limit setting. With a row, whenever the session's agent stops at
-- a rate limit, `text` is queued to be typed once the limit has reset. No row: off.
CREATE TABLE session_after_limit (
    name TEXT PRIMARY KEY NOT NULL
         REFERENCES sessions(name) ON UPDATE CASCADE ON DELETE CASCADE,
    text TEXT NOT NULL
) STRICT;
