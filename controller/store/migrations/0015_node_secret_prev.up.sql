-- 0015: the node's previous secret during a secret rotation (issue 12).
--
-- secret_prev_enc is the secret the node's agent accepted before the
-- rotation in progress, sealed like secret_enc (bound to its row and
-- column); NULL when no rotation is unfinished. While it is set the
-- controller signs with secret_enc and, when the agent refuses that,
-- with secret_prev_enc.
ALTER TABLE nodes ADD COLUMN secret_prev_enc TEXT;
