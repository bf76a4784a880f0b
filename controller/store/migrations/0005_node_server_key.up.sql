-- 0005: the public key of the node's WireGuard interface, as a column.
--
-- server_public_key is the key (standard base64, 44 characters) that the
-- node's agent reported for the node's interface (wg_interface) in its
-- last health document; NULL when not known. It used to be read out of
-- health_json; it is backfilled from there: the first entry of the
-- document's "interfaces" list named like the node's interface, when its
-- key is well formed and not all zeros.
ALTER TABLE nodes ADD COLUMN server_public_key TEXT;
UPDATE nodes SET server_public_key = (
	SELECT json_extract(i.value, '$.public_key')
	FROM json_each(nodes.health_json, '$.interfaces') AS i
	WHERE json_extract(i.value, '$.name') = nodes.wg_interface
	LIMIT 1)
WHERE health_json IS NOT NULL AND json_valid(health_json)
	AND json_type(health_json, '$.interfaces') = 'array';
UPDATE nodes SET server_public_key = NULL
WHERE server_public_key IS NOT NULL AND NOT (
	typeof(server_public_key) = 'text'
	AND length(server_public_key) = 44
	AND substr(server_public_key, 44, 1) = '='
	AND substr(server_public_key, 1, 43) NOT GLOB '*[^A-Za-z0-9+/]*'
	AND server_public_key <> 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
