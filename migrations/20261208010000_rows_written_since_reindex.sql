-- Rows written to `cases` since its indexes were last rebuilt. Every write of a case row is a
-- new entry in each index (the KPI covering indexes include metric columns, so no update is
-- HOT), and space vacuum frees in a time-ordered index is rarely reused: right after a
-- 1M-case load the KPI covering indexes were 1.38 times their rebuilt size (created 177 -> 128
-- MB, resolved 281 -> 203 MB) and a half-month cohort took 8-14 % longer to read. The service
-- rebuilds the indexes once this reaches a quarter of the table, whoever wrote the rows
-- (imports, live events, recomputations).
ALTER TABLE ingest_state ADD COLUMN rows_written_since_reindex bigint NOT NULL DEFAULT 0;
