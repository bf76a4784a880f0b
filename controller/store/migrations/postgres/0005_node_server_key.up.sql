-- 0005 on PostgreSQL: the column, and the same backfill in PostgreSQL's
-- JSON functions (the SQLite file uses json_each, typeof and GLOB).
--
-- server_public_key is filled from the first entry of health_json's
-- "interfaces" named like the node's interface, when its key is well
-- formed (44 characters of standard base64 ending in '=') and not all
-- zeros; NULL otherwise.
ALTER TABLE nodes ADD COLUMN server_public_key TEXT;
UPDATE nodes SET server_public_key = (
	SELECT i.value ->> 'public_key'
	FROM jsonb_array_elements(nodes.health_json::jsonb -> 'interfaces') AS i (value)
	WHERE i.value ->> 'name' = nodes.wg_interface
	LIMIT 1)
WHERE health_json IS NOT NULL AND json_valid(health_json)
	AND jsonb_typeof(health_json::jsonb -> 'interfaces') = 'array';
UPDATE nodes SET server_public_key = NULL
WHERE server_public_key IS NOT NULL AND NOT (
	server_public_key ~ '^[A-Za-z0-9+/]{43}=$'
	AND server_public_key <> 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
