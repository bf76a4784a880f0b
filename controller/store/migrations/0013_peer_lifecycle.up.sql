-- 0013: a peer's lifecycle (issue 16): expiry, data limits, and why the
-- controller keeps a peer off its node.
--
-- expires_at: unix seconds; NULL never. data_limit_bytes: what the peer may
-- receive and send together since its usage was last reset; 0 no limit.
-- limit_action: what reaching the limit does. usage_baseline: rx_total +
-- tx_total when the usage was last reset (usage is the totals minus it, so
-- it counts across every node the peer lived on). restriction: why the
-- controller itself keeps the peer off its node ('' it does not), apart
-- from enabled, the operator's switch.
ALTER TABLE peers ADD COLUMN expires_at INTEGER;
ALTER TABLE peers ADD COLUMN data_limit_bytes INTEGER NOT NULL DEFAULT 0 CHECK (data_limit_bytes >= 0);
ALTER TABLE peers ADD COLUMN limit_action TEXT NOT NULL DEFAULT 'restrict' CHECK (limit_action IN ('restrict', 'delete'));
ALTER TABLE peers ADD COLUMN usage_baseline INTEGER NOT NULL DEFAULT 0 CHECK (usage_baseline >= 0);
ALTER TABLE peers ADD COLUMN restriction TEXT NOT NULL DEFAULT '' CHECK (restriction IN ('', 'expired', 'over_limit'));
