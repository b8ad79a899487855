-- Browser sessions carry the rights of what made them (issue 12, finding 3): a browser paired
-- from a narrower credential gets its scope, and the end of its authority. Sessions that
-- exist already were signed in with a passphrase: full rights, no inherited end.
ALTER TABLE browser_sessions ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE browser_sessions ADD COLUMN limit_expires_at INTEGER;

-- Device cookies (issue 12, finding 4): a browser that signed in to an account before may
-- keep trying that account while it is locked out for everyone else.
CREATE TABLE login_devices (
    id          TEXT PRIMARY KEY NOT NULL,
    username    TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,           -- hex SHA-256 of the cookie's secret half
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX login_devices_by_user ON login_devices (username);
