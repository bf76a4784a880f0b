-- 0003 on PostgreSQL: nothing to do.
--
-- The SQLite migration rebuilds four tables to give their ids
-- AUTOINCREMENT, so that an id is never handed out twice. On PostgreSQL
-- every INTEGER PRIMARY KEY became an identity column when 0001 was
-- translated: its sequence never goes back, so ids are never reused
-- already, and there is no sqlite_sequence to adjust.
SELECT 1;
