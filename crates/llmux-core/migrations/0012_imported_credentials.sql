-- Accounts and tokens brought over from the old Node llmux 0.41 (issue 16 §3). `imported_from`
-- names where a row came from (`llmux 0.41`); NULL for everything made here, which is every
-- row that exists already, so nothing else changes.
ALTER TABLE users ADD COLUMN imported_from TEXT;
ALTER TABLE tokens ADD COLUMN imported_from TEXT;
