-- 0002: the drift a node has now, beside drift_count (which only grows).
--
-- drift_current is the number of out-of-band differences (not the
-- controller's own pending changes) the node's agent still had after the
-- last reconcile compared it with the database: 0 after a successful
-- repair, the differences left alone under the "report" policy.
-- drift_checked_at is when that comparison was made; NULL = never.
ALTER TABLE nodes ADD COLUMN drift_current INTEGER NOT NULL DEFAULT 0 CHECK (drift_current >= 0);
ALTER TABLE nodes ADD COLUMN drift_checked_at INTEGER;
