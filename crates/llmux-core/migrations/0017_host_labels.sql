-- Fleet host labels (issue 17, placement): words like `gpu` or `fast-disk` an admin puts on a
-- host, for `session start --host label:gpu`. Space-separated, each checked by the server.
ALTER TABLE hosts ADD COLUMN labels TEXT NOT NULL DEFAULT '';
