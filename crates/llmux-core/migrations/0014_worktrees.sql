-- The git worktree llmux made for a session (issue 18): follows its session through renames
-- (the path is updated beside it) and goes with it.
CREATE TABLE session_worktrees (
    name           TEXT PRIMARY KEY NOT NULL
                   REFERENCES sessions(name) ON UPDATE CASCADE ON DELETE CASCADE,
    repo           TEXT NOT NULL,              -- the repository's top-level directory
    path           TEXT NOT NULL,              -- the worktree's directory
    branch         TEXT NOT NULL,
    base           TEXT NOT NULL,              -- what ahead/behind count against
    created_branch INTEGER NOT NULL,           -- 1: llmux made the branch
    setup_output   TEXT                        -- the setup command's output, if one ran
) STRICT;
