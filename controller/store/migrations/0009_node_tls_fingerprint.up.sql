-- 0009: the pinned TLS certificate of a node's agent (issue 12).
--
-- tls_fingerprint is the SHA-256 of the agent's certificate (DER), 64
-- characters of lowercase hex; '' when nothing is pinned (plain http, or
-- https verified against the system's certificate authorities).
ALTER TABLE nodes ADD COLUMN tls_fingerprint TEXT NOT NULL DEFAULT '' CHECK (tls_fingerprint = '' OR length(tls_fingerprint) = 64);
