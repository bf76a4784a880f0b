-- 0006: where a node's agent serves the seed endpoints (issue 11).
--
-- api_paths is '' until the controller has found out, 'bare' for
-- /wg/{iface}/... (our agent, the seed's reference agent), 'v1' for an
-- agent that serves them only under /v1 (the seed's production agent).
ALTER TABLE nodes ADD COLUMN api_paths TEXT NOT NULL DEFAULT '' CHECK (api_paths IN ('', 'bare', 'v1'));
