-- Fleet hosts' user mappings (issue 17): which of the hub's non-admin users reach their own
-- sessions on the host, as which host user. JSON: {"sameNames": bool, "map": {hub: host}}.
ALTER TABLE hosts ADD COLUMN users TEXT NOT NULL DEFAULT '{}';
