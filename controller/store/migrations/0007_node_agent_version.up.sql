-- 0007: the version of the node's agent, as a column.
--
-- agent_version is the "version" string of the node's last health
-- document (at most 64 characters); NULL when not known. It is
-- backfilled from health_json.
ALTER TABLE nodes ADD COLUMN agent_version TEXT;
UPDATE nodes SET agent_version = substr(json_extract(health_json, '$.version'), 1, 64)
WHERE health_json IS NOT NULL AND json_valid(health_json)
	AND json_type(health_json, '$.version') = 'text'
	AND json_extract(health_json, '$.version') <> '';
