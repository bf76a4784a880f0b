-- 0011: share links (issue 16): a link that hands one peer's client config
-- to its user without a login.
--
-- The token is never stored, only its SHA-256 (as for API tokens). Every
-- link expires (expires_at, unix seconds); a one-time link (one_time = 1)
-- is dead after its first use (used_count 1). A revoked link keeps its
-- row, so the peer's list shows it. The links go with their peer.
CREATE TABLE share_links (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    peer_id      INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    token_hash   BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32), -- SHA-256 of the token
    one_time     INTEGER NOT NULL DEFAULT 0 CHECK (one_time IN (0, 1)),
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    used_count   INTEGER NOT NULL DEFAULT 0 CHECK (used_count >= 0),
    last_used_at INTEGER
) STRICT;
CREATE INDEX share_links_peer ON share_links (peer_id);
