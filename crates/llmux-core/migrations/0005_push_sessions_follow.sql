-- A session's push opt-ins go with it and follow it through renames: a removed session's
-- opt-ins must not carry over to a later session of the same name. (SQLite cannot add a
-- foreign key to a table: the table is rebuilt, keeping the opt-ins of sessions that exist.)
CREATE TABLE push_sessions_new (
    username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    session    TEXT NOT NULL REFERENCES sessions (name) ON UPDATE CASCADE ON DELETE CASCADE,
    owner      TEXT NOT NULL,             -- the session's owner at opt-in: a later session of
                                          -- the same name owned by someone else is not followed
    created_at INTEGER NOT NULL,
    PRIMARY KEY (username, session)
) STRICT;
INSERT INTO push_sessions_new (username, session, owner, created_at)
    SELECT username, session, owner, created_at FROM push_sessions
    WHERE session IN (SELECT name FROM sessions);
DROP TABLE push_sessions;
ALTER TABLE push_sessions_new RENAME TO push_sessions;
CREATE INDEX push_sessions_by_session ON push_sessions (session);
