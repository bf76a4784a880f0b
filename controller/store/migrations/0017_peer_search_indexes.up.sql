-- 0017: indexes for searching the fleet's peers (GET /api/peers, issue 16
-- item 5), so that a page of one node's peers, or of one status, is an
-- index range read in id order, not a scan of every peer and a sort.
--
-- peers_node_id serves node_id = ? AND id > ? ORDER BY id (the unique
-- index on (node_id, iface, public_key) finds the node's peers, but not in
-- id order).
CREATE INDEX peers_node_id ON peers (node_id, id);

-- peers_status indexes the peer's status as Peer.Status computes it
-- (restricted when disabled by hand, else its restriction, else active).
-- The search must use this very expression (store.peerStatusSQL).
CREATE INDEX peers_status ON peers ((CASE WHEN enabled = 0 THEN 'restricted' WHEN restriction = '' THEN 'active' ELSE restriction END), id);
