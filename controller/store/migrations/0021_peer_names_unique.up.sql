-- 0021: a peer's name is required and unique on its node, letter case
-- aside (issue 15, guard rails): a name is how people, the CLI and the
-- config file's name tell peers apart.
--
-- Existing data is made to fit first. A peer without a name (empty or
-- blank) is named peer-ID. Of peers sharing a name on one node, the
-- oldest (lowest id) keeps it and each other gets "-ID" appended; one
-- that would still clash (a peer already named that way) becomes
-- peer-ID-dup. Ids are unique, so the names made are too.
UPDATE peers SET name = 'peer-' || id WHERE trim(name) = '';

UPDATE peers SET name = name || '-' || id
WHERE EXISTS (SELECT 1 FROM peers o
              WHERE o.node_id = peers.node_id AND lower(o.name) = lower(peers.name) AND o.id < peers.id);

UPDATE peers SET name = 'peer-' || id || '-dup'
WHERE EXISTS (SELECT 1 FROM peers o
              WHERE o.node_id = peers.node_id AND lower(o.name) = lower(peers.name) AND o.id < peers.id);

CREATE UNIQUE INDEX peers_node_name ON peers (node_id, lower(name));
