-- 0018: users with roles, API tokens with a role, a second factor (issue 15).
--
-- role: what a user or an API token may do: 'admin' everything,
-- 'operator' the peers (and reading the rest), 'viewer' reading. Users
-- and tokens made before roles existed were all-powerful: they stay
-- 'admin'.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'operator', 'viewer'));

-- totp_secret_enc: the user's TOTP secret (RFC 6238), sealed by secretbox
-- bound to its row and column; NULL: none. totp_enabled: 0 while an
-- enrolment waits for its first code, 1 once confirmed (from then on a
-- login needs a code). totp_last_step: the time step of the last code
-- accepted; a code of that step or an older one is refused (no replay).
ALTER TABLE users ADD COLUMN totp_secret_enc TEXT;
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0 CHECK (totp_enabled IN (0, 1));
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

-- user_id: the user who made the token (no foreign key: the token row
-- stays, revoked, when the user is deleted); NULL: made by the command
-- line, or before roles existed. A token's role is never above its
-- maker's: lowering a user's role lowers their tokens', deleting a user
-- revokes them.
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'operator', 'viewer'));
ALTER TABLE api_tokens ADD COLUMN user_id INTEGER;

-- A user's TOTP recovery codes, found by the SHA-256 of the code (80
-- random bits: a plain hash is enough); the codes themselves are shown
-- once and never stored. used_at: when it was spent; NULL: still good.
CREATE TABLE recovery_codes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB    NOT NULL CHECK (length(code_hash) = 32),
    used_at   INTEGER,
    UNIQUE (user_id, code_hash)
) STRICT;
