-- 0003: ids are never reused.
--
-- Without AUTOINCREMENT, SQLite gives a new row max(id) + 1: after the peer
-- with the highest id was deleted, the next peer got its id, and a retried
-- DELETE /api/peers/{id} removed the new peer. AUTOINCREMENT keeps the
-- highest id ever handed out in sqlite_sequence and never goes below it.
--
-- SQLite cannot add AUTOINCREMENT to a table, so nodes, peers, users and
-- api_tokens are rebuilt with the same columns, constraints and data.
-- audit_log rows are never deleted, so its ids are not reused; it is left
-- alone. The migration runs in one transaction with foreign keys on, and
-- DROP TABLE deletes the rows of the dropped table first, which would
-- cascade into (or be refused by) the tables that point at it. So every
-- table involved, the children ip_allocations and sessions too, is first
-- copied aside into temporary tables, all are dropped children first,
-- created again and refilled parents first. No trigger exists on them; the
-- indexes are created again below.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE m0003_nodes AS SELECT * FROM nodes;
CREATE TEMP TABLE m0003_peers AS SELECT * FROM peers;
CREATE TEMP TABLE m0003_ip_allocations AS SELECT * FROM ip_allocations;
CREATE TEMP TABLE m0003_users AS SELECT * FROM users;
CREATE TEMP TABLE m0003_sessions AS SELECT * FROM sessions;
CREATE TEMP TABLE m0003_api_tokens AS SELECT * FROM api_tokens;

DROP TABLE ip_allocations;
DROP TABLE sessions;
DROP TABLE peers;
DROP TABLE nodes;
DROP TABLE users;
DROP TABLE api_tokens;

-- As in 0001 and 0002, with AUTOINCREMENT.
CREATE TABLE nodes (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    agent_url            TEXT    NOT NULL,
    auth_type            TEXT    NOT NULL DEFAULT 'hmac',
    secret_enc           TEXT    NOT NULL,
    wg_interface         TEXT    NOT NULL DEFAULT 'wg0',
    endpoint             TEXT    NOT NULL DEFAULT '',   -- host:port clients dial
    ip_pool_cidr         TEXT    NOT NULL,              -- IPv4 pool, masked
    ip_pool6_cidr        TEXT,                          -- IPv6 pool, masked; NULL = none
    dns                  TEXT    NOT NULL DEFAULT '',
    enabled              INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    weight               INTEGER NOT NULL DEFAULT 100 CHECK (weight >= 0),
    max_peers            INTEGER NOT NULL DEFAULT 0 CHECK (max_peers >= 0), -- 0 = unlimited
    status               TEXT    NOT NULL DEFAULT 'unknown'
                         CHECK (status IN ('unknown', 'online', 'offline', 'error', 'disabled')),
    last_seen            INTEGER,                       -- last successful contact
    health_json          TEXT CHECK (health_json IS NULL OR json_valid(health_json)),
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT    NOT NULL DEFAULT '',
    desired_generation   INTEGER NOT NULL DEFAULT 0,
    acked_generation     INTEGER NOT NULL DEFAULT 0,
    acked_at             INTEGER,
    drift_count          INTEGER NOT NULL DEFAULT 0,
    drift_policy         TEXT    NOT NULL DEFAULT 'repair' CHECK (drift_policy IN ('repair', 'report')),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    drift_current        INTEGER NOT NULL DEFAULT 0 CHECK (drift_current >= 0),
    drift_checked_at     INTEGER
) STRICT;

CREATE TABLE peers (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id            INTEGER NOT NULL REFERENCES nodes (id) ON DELETE RESTRICT,
    iface              TEXT    NOT NULL,
    name               TEXT    NOT NULL DEFAULT '',
    public_key         TEXT    NOT NULL,               -- base64, as wg prints it
    private_key_enc    TEXT,                           -- NULL: the client holds its own key
    preshared_key_enc  TEXT,                           -- NULL: no preshared key
    address4           TEXT    NOT NULL,
    address6           TEXT,                           -- NULL: the node has no IPv6 pool
    allowed_ips        TEXT    NOT NULL,               -- node side: the peer's /32 and /128
    client_allowed_ips TEXT    NOT NULL DEFAULT '0.0.0.0/0, ::/0',
    dns                TEXT    NOT NULL DEFAULT '',
    keepalive          INTEGER NOT NULL DEFAULT 0 CHECK (keepalive BETWEEN 0 AND 65535), -- seconds
    enabled            INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    sync_state         TEXT    NOT NULL DEFAULT 'pending' CHECK (sync_state IN ('pending', 'applied', 'error')),
    sync_error         TEXT    NOT NULL DEFAULT '',
    last_handshake     INTEGER,                        -- observed; NULL = none
    rx_bytes           INTEGER NOT NULL DEFAULT 0,     -- last observed counters
    tx_bytes           INTEGER NOT NULL DEFAULT 0,
    rx_total           INTEGER NOT NULL DEFAULT 0,     -- cumulative across counter resets
    tx_total           INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (node_id, iface, public_key)
) STRICT;

CREATE TABLE ip_allocations (
    node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    ip      TEXT    NOT NULL,
    peer_id INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    UNIQUE (node_id, ip)
) STRICT;
CREATE INDEX ip_allocations_peer ON ip_allocations (peer_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    token_hash BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32), -- SHA-256 of the token
    prefix       TEXT    NOT NULL,                     -- first characters, for display
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;

INSERT INTO nodes (id, name, agent_url, auth_type, secret_enc, wg_interface, endpoint, ip_pool_cidr, ip_pool6_cidr,
    dns, enabled, weight, max_peers, status, last_seen, health_json, consecutive_failures, last_error,
    desired_generation, acked_generation, acked_at, drift_count, drift_policy, created_at, updated_at,
    drift_current, drift_checked_at)
SELECT id, name, agent_url, auth_type, secret_enc, wg_interface, endpoint, ip_pool_cidr, ip_pool6_cidr,
    dns, enabled, weight, max_peers, status, last_seen, health_json, consecutive_failures, last_error,
    desired_generation, acked_generation, acked_at, drift_count, drift_policy, created_at, updated_at,
    drift_current, drift_checked_at
FROM temp.m0003_nodes;

INSERT INTO peers (id, node_id, iface, name, public_key, private_key_enc, preshared_key_enc, address4, address6,
    allowed_ips, client_allowed_ips, dns, keepalive, enabled, sync_state, sync_error, last_handshake,
    rx_bytes, tx_bytes, rx_total, tx_total, created_at, updated_at)
SELECT id, node_id, iface, name, public_key, private_key_enc, preshared_key_enc, address4, address6,
    allowed_ips, client_allowed_ips, dns, keepalive, enabled, sync_state, sync_error, last_handshake,
    rx_bytes, tx_bytes, rx_total, tx_total, created_at, updated_at
FROM temp.m0003_peers;

INSERT INTO ip_allocations (node_id, ip, peer_id) SELECT node_id, ip, peer_id FROM temp.m0003_ip_allocations;

INSERT INTO users (id, username, password_hash, created_at)
SELECT id, username, password_hash, created_at FROM temp.m0003_users;

INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
SELECT token_hash, user_id, csrf_token, created_at, expires_at FROM temp.m0003_sessions;

INSERT INTO api_tokens (id, name, token_hash, prefix, created_at, last_used_at, revoked_at)
SELECT id, name, token_hash, prefix, created_at, last_used_at, revoked_at FROM temp.m0003_api_tokens;

DROP TABLE temp.m0003_nodes;
DROP TABLE temp.m0003_peers;
DROP TABLE temp.m0003_ip_allocations;
DROP TABLE temp.m0003_users;
DROP TABLE temp.m0003_sessions;
DROP TABLE temp.m0003_api_tokens;

-- The inserts above left each table's sequence at its highest id. Ids
-- handed out and deleted before this migration are known only from the
-- audit log, which names the targets of deletes: start above those too.
INSERT INTO sqlite_sequence (name, seq)
SELECT t.name, 0 FROM (SELECT 'nodes' AS name UNION ALL SELECT 'peers' UNION ALL SELECT 'users'
                       UNION ALL SELECT 'api_tokens') AS t
WHERE t.name NOT IN (SELECT name FROM sqlite_sequence);
UPDATE sqlite_sequence SET seq = max(seq, coalesce((
    SELECT max(CAST(target_id AS INTEGER)) FROM audit_log
    WHERE target_type = CASE sqlite_sequence.name
        WHEN 'nodes' THEN 'node' WHEN 'peers' THEN 'peer' WHEN 'users' THEN 'user' WHEN 'api_tokens' THEN 'token' END
      AND target_id GLOB '[0-9]*' AND target_id NOT GLOB '*[^0-9]*'), 0))
WHERE name IN ('nodes', 'peers', 'users', 'api_tokens');
