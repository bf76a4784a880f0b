-- 0020: failed logins and enrollments counted in the database (issue 13),
-- so that the rate limits hold across controller replicas on one
-- PostgreSQL database (on SQLite the controller counts them in memory).
--
-- One row per attempt still counted: scope says which limit ('user' per
-- username and address, 'address' per client address, 'enroll' per
-- address for join tokens), key_hash is the SHA-256 the limit keys on
-- (never the username or address itself), at the attempt's time in
-- nanoseconds since the epoch. Rows older than the limit's window are
-- deleted as attempts come.
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    scope    TEXT    NOT NULL,
    key_hash BLOB    NOT NULL CHECK (length(key_hash) = 32),
    at       INTEGER NOT NULL
) STRICT;

CREATE INDEX login_failures_key ON login_failures (scope, key_hash, at);
CREATE INDEX login_failures_at ON login_failures (at);
