-- Review comments (issue 18): a reviewer's words on a line or a range of a file in a session's
-- repository, sent to its agent as one prompt and kept, open or resolved. They go with their
-- session: a rename follows, removing the session removes them.
CREATE TABLE review_comments (
    id          INTEGER PRIMARY KEY,
    session     TEXT NOT NULL REFERENCES sessions (name) ON UPDATE CASCADE ON DELETE CASCADE,
    path        TEXT NOT NULL,
    -- which side of the diff the lines number: 'new' (the change) or 'old' (deleted lines)
    side        TEXT NOT NULL CHECK (side IN ('old', 'new')),
    start_line  INTEGER NOT NULL CHECK (start_line > 0),
    end_line    INTEGER NOT NULL CHECK (end_line >= start_line),
    -- the lines as the reviewer saw them, quoted in the prompt
    code        TEXT NOT NULL,
    body        TEXT NOT NULL,
    -- who wrote it (an actor: a username, or 'local')
    author      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    -- when it went to the agent (Unix ms); NULL: not sent yet
    sent_at     INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX review_comments_session ON review_comments (session, id);
