-- 0008: the node side's keepalive, apart from the client's (issue 11).
--
-- keepalive is now the PersistentKeepalive in the client's config only;
-- node_keepalive (seconds, 0 off) is what the node's interface sends to
-- the peer. It is backfilled from keepalive, so that nothing changes on
-- the agents at the upgrade.
ALTER TABLE peers ADD COLUMN node_keepalive INTEGER NOT NULL DEFAULT 0 CHECK (node_keepalive BETWEEN 0 AND 65535);
UPDATE peers SET node_keepalive = keepalive;
