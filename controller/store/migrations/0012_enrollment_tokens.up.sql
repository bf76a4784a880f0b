-- 0012: enrollment tokens (issue 12): a node joins by itself with one.
--
-- A token is found by the SHA-256 of its secret; the secret itself is
-- never stored. prefix is the token's first characters, for display.
-- name is the node's name ('' = the joining agent's host name), labels a
-- JSON object of the labels the node gets, ip_pool_cidr the node's IPv4
-- pool (NULL = carved from the controller's supernet). A token works once
-- and until expires_at: used_at and node_id record its one use (node_id is
-- no foreign key: the node may be deleted later, the record stays);
-- revoked_at ends it before use.
CREATE TABLE enrollment_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    prefix       TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    labels       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    ip_pool_cidr TEXT,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    node_id      INTEGER,
    revoked_at   INTEGER
) STRICT;
