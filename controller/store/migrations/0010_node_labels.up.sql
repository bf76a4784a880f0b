-- 0010: node labels (issue 12), such as region=eu-west.
--
-- One row per label. The rules of a key and a value live in
-- controller/labels and are checked before a row is written. A table,
-- rather than a JSON column, so that a selector (GET /api/nodes?label=,
-- placement) is an indexed lookup in any SQL dialect.
CREATE TABLE node_labels (
    node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    key     TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (node_id, key)
) STRICT;
CREATE INDEX node_labels_key_value ON node_labels (key, value);
