-- The memory ceiling of each of a user's sessions, in MiB (issue 15), enforced through a
-- cgroup per session where the daemon can manage the memory controller. NULL = no ceiling.
ALTER TABLE users ADD COLUMN max_session_memory_mb INTEGER
    CHECK (max_session_memory_mb IS NULL OR max_session_memory_mb > 0);
