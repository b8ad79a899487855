-- Session names per owner, and ownership keyed by an immutable user id (security review
-- findings 10 and 11, see docs/DESIGN-NOTES.md).

-- Users get an integer id that is never handed out again, even after the newest user is
-- deleted: `user_id_seq` holds the last one given.
ALTER TABLE users ADD COLUMN id INTEGER;
UPDATE users SET id = rowid;
CREATE UNIQUE INDEX users_by_id ON users (id);
CREATE TABLE user_id_seq (last INTEGER NOT NULL) STRICT;
INSERT INTO user_id_seq (last) SELECT COALESCE(MAX(id), 0) FROM users;

-- tmux sessions the daemon renames (to `new_name`) or kills (`new_name` NULL) when it next
-- starts: the records change here, the live sessions cannot.
CREATE TABLE pending_tmux (
    name     TEXT PRIMARY KEY NOT NULL,
    new_name TEXT
) STRICT;

-- Sessions of deleted users (they used to survive their owner) end.
INSERT INTO pending_tmux (name, new_name)
    SELECT name, NULL FROM sessions
    WHERE owner != '' AND owner NOT IN (SELECT username FROM users);
DELETE FROM sessions WHERE owner != '' AND owner NOT IN (SELECT username FROM users);
-- So do the records of their conversations (a new account of the name must not see them).
DELETE FROM conversation_owners WHERE owner != '' AND owner NOT IN (SELECT username FROM users);

-- A user's session `NAME` becomes `NAME@USER` (children's parent links first, while the
-- parents still have their old names). Conversations and push opt-ins follow by cascade.
UPDATE sessions
    SET parent = parent || '@' || (SELECT p.owner FROM sessions p WHERE p.name = sessions.parent)
    WHERE parent IN (SELECT name FROM sessions WHERE owner != '');
INSERT INTO pending_tmux (name, new_name)
    SELECT name, name || '@' || owner FROM sessions WHERE owner != '';
UPDATE sessions SET name = name || '@' || owner WHERE owner != '';

-- The owner's id (NULL for the local operator). A user cannot be deleted while sessions
-- refer to them: deletion ends or hands them over in the same transaction.
ALTER TABLE sessions ADD COLUMN owner_id INTEGER REFERENCES users (id);
UPDATE sessions SET owner_id = (SELECT id FROM users WHERE username = sessions.owner)
    WHERE owner != '';
CREATE INDEX sessions_by_owner ON sessions (owner_id);
