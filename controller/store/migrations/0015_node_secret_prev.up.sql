-- 0015: the node's previous secret during a secret rotation (issue 12).
--
-- secret_prev_enc is the secret the node's agent accepted before the
-- rotation in progress, sealed like secret_enc (bound to its row and
-- column); NULL when no rotation is unfinished. While it is set the
-- controller signs with secret_enc and, when the agent refuses that,
-- with secret_prev_enc.
ALTER TABLE nodes ADD COLUMN secret_prev_enc TEXT;

-- secret_version counts the changes of secret_enc and secret_prev_enc: a
-- node read before a change has a lower one, so that a copy read before a
-- rotation step cannot bring back the secrets of before it.
ALTER TABLE nodes ADD COLUMN secret_version INTEGER NOT NULL DEFAULT 0;
