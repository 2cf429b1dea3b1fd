-- Freshness of the case data, for KPI responses and cheap polling: one row, bumped by every
-- ingest batch, activity remapping and time-driven recomputation.
CREATE TABLE ingest_state (
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- Latest event time stored.
    data_as_of       timestamptz,
    -- When data last changed (the template's LastDataUpdate).
    last_ingested_at timestamptz,
    -- Changes whenever case data changes: the ETag of KPI and process responses.
    version          bigint NOT NULL DEFAULT 0
);
INSERT INTO ingest_state DEFAULT VALUES;

-- Snapshot KPIs (backlog, active breaches) read the open cases only.
CREATE INDEX cases_open ON cases (created_at) WHERE state = 'open';
