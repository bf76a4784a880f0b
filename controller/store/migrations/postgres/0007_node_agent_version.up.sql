-- 0007 on PostgreSQL: the column, and the same backfill in PostgreSQL's
-- JSON functions (the SQLite file uses json_extract and json_type).
--
-- agent_version is the "version" string of the node's last health
-- document, cut to 64 characters; NULL when it has none.
ALTER TABLE nodes ADD COLUMN agent_version TEXT;
UPDATE nodes SET agent_version = substr(health_json::jsonb ->> 'version', 1, 64)
WHERE health_json IS NOT NULL AND json_valid(health_json)
	AND jsonb_typeof(health_json::jsonb -> 'version') = 'string'
	AND health_json::jsonb ->> 'version' <> '';
