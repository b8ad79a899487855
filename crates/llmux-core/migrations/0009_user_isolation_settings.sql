-- Per-user isolation settings an admin controls (issue 15): the workspace roots granted
-- read-write to the user's confined sessions (a JSON array of absolute canonical paths; `[]`
-- = the user's default workspace, `<state>/workspaces/<username>`) and the most sessions the
-- user may have (NULL = no limit). Existing users get the defaults.
ALTER TABLE users ADD COLUMN roots TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN max_sessions INTEGER CHECK (max_sessions IS NULL OR max_sessions >= 0);
