-- 0019: an index on the public key of the node's interface.
--
-- Every peer creation and key change checks that the peer's key is no
-- node's own (NodesWithServerKey, issue 10 item 2); without an index that
-- check read the whole nodes table inside each creation's transaction,
-- 12% of the controller's CPU at 1,000 nodes (docs/BENCHMARKS.md,
-- controller-fleet). Most rows hold a distinct key; NULL while unknown.
CREATE INDEX nodes_server_public_key ON nodes (server_public_key);
