-- 0016: traffic history (issue 16): what each peer, and each node, received
-- and sent over time, for charts.
--
-- A row is one bucket: step is its length in seconds (60 a minute, 3600 an
-- hour, 86400 a day, UTC), t its start (unix seconds, a multiple of step),
-- rx and tx the bytes received from and sent to the peer in it (summed over
-- the node's peers in node_traffic), counted as data limits count them:
-- what the peer's rx_total and tx_total grew by, counter resets and moves
-- between nodes handled. Only buckets with traffic have a row. A peer's
-- history follows it when it moves; a node's history is what passed through
-- that node, and stays when a peer leaves it or is deleted.
--
-- The poller writes minute rows; the controller's rollup (store.RollupTraffic)
-- sums complete minutes into hours and hours into days, remembering how far
-- it got in meta (traffic_rolled_3600, traffic_rolled_86400), and deletes
-- minutes older than a day, hours older than 30 days and days older than
-- two years (store/traffic.go).
CREATE TABLE peer_traffic (
    peer_id INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    step    INTEGER NOT NULL CHECK (step IN (60, 3600, 86400)),
    t       INTEGER NOT NULL,
    rx      INTEGER NOT NULL CHECK (rx >= 0),
    tx      INTEGER NOT NULL CHECK (tx >= 0),
    PRIMARY KEY (peer_id, step, t)
) STRICT, WITHOUT ROWID;

CREATE TABLE node_traffic (
    node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    step    INTEGER NOT NULL CHECK (step IN (60, 3600, 86400)),
    t       INTEGER NOT NULL,
    rx      INTEGER NOT NULL CHECK (rx >= 0),
    tx      INTEGER NOT NULL CHECK (tx >= 0),
    PRIMARY KEY (node_id, step, t)
) STRICT, WITHOUT ROWID;
