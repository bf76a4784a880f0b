-- 0001: the initial schema.
--
-- Conventions: every table is STRICT. Times are INTEGER unix seconds (UTC);
-- NULL means "never". Secrets are stored only sealed by secretbox
-- (columns ending in _enc, text "v1:..."), bound to their row and column.
-- Addresses and prefixes are canonical text (netip String()).

-- meta holds controller-wide values, such as the sealed canary that lets
-- Open detect a wrong master key before anything else is read.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE nodes (
    id                   INTEGER PRIMARY KEY,
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
    updated_at           INTEGER NOT NULL
) STRICT;

-- A node with peers cannot be deleted (RESTRICT); the store deletes the
-- peers first when asked to force.
CREATE TABLE peers (
    id                 INTEGER PRIMARY KEY,
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

-- One row per address handed out. UNIQUE (node_id, ip) is what makes two
-- concurrent allocations of the same address impossible.
CREATE TABLE ip_allocations (
    node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    ip      TEXT    NOT NULL,
    peer_id INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    UNIQUE (node_id, ip)
) STRICT;
CREATE INDEX ip_allocations_peer ON ip_allocations (peer_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

-- Sessions are found by the SHA-256 of the cookie token; the token itself
-- is never stored. The CSRF token is stored as is: it is useless without
-- the session cookie and the UI must be able to fetch it again.
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
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32), -- SHA-256 of the token
    prefix       TEXT    NOT NULL,                     -- first characters, for display
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL DEFAULT '',
    target_id   TEXT    NOT NULL DEFAULT '',
    details     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(details))
) STRICT;
CREATE INDEX audit_log_target ON audit_log (target_type, target_id);
