-- 0004: API tokens may expire.
--
-- expires_at is when the token stops authenticating (unix seconds); NULL
-- means never, as every token made before this migration.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
