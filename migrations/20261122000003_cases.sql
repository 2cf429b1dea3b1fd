-- The case event log and the cases computed from it (spec: cases-and-kpis.md).
--
-- Every table is keyed by case_id first, so it can be hash-partitioned or distributed (Citus)
-- by case without a cross-case unique constraint.

-- One row per thing that happened to a case. Append-only; `seq` is the arrival order (file
-- order within an import), the tie-break for equal event times.
CREATE TABLE events (
    case_id          text NOT NULL CHECK (length(case_id) BETWEEN 1 AND 200),
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    -- Idempotence: 16 bytes of SHA-256 over the caller's event_id or, without one, over the
    -- natural key (activity, time, agent). Unique per case.
    event_key        bytea NOT NULL,
    event_id         text,
    activity         text NOT NULL CHECK (length(activity) BETWEEN 1 AND 500),
    -- The canonical role at ingest (updated when the activity mapping changes); NULL: none.
    activity_code    text,
    event_time       timestamptz NOT NULL,
    lifecycle        text,
    agent            text,
    customer         text,
    channel          text,
    priority         text,
    request_type     text,
    product          text,
    owner_team       text,
    source_system    text,
    status_reason    text,
    sla_target_resolution_s float8 CHECK (sla_target_resolution_s >= 0),
    is_escalated     boolean,
    knowledge_article_id text,
    csat             smallint CHECK (csat BETWEEN 1 AND 5),
    attributes       jsonb,
    ingested_at      timestamptz NOT NULL DEFAULT now(),
    -- Idempotence. With the order index below, the only indexes: every one costs ingest time
    -- (remapping an activity, which is rare, scans the table instead).
    PRIMARY KEY (case_id, event_key)
);

-- Per-case reads in event order (metrics recomputation, case detail, process views).
CREATE INDEX events_case_order ON events (case_id, event_time, seq);

-- One row per case: its current attributes and every metric, so KPI queries never read events.
CREATE TABLE cases (
    case_id             text PRIMARY KEY,
    customer            text,
    channel             text,
    priority            text,
    request_type        text,
    product             text,
    owner_team          text,
    agent               text,
    source_system       text,
    status_reason       text,
    state               text NOT NULL CHECK (state IN ('open', 'resolved', 'closed', 'canceled')),
    event_count         integer NOT NULL,
    first_event_at      timestamptz NOT NULL,
    last_event_at       timestamptz NOT NULL,
    created_at          timestamptz NOT NULL,
    first_resolved_at   timestamptz,
    resolved_at         timestamptz,
    closed_at           timestamptz,
    resolving_agent     text,
    cycle_time_s        float8,
    first_resolution_s  float8,
    time_to_close_s     float8,
    admin_lag_s         float8,
    first_response_s    float8,
    first_pickup_s      float8,
    on_hold_s           float8,
    queue_wait_s        float8,
    reactivations       integer NOT NULL,
    is_rework           boolean NOT NULL,
    escalated           boolean NOT NULL,
    recategorized       boolean NOT NULL,
    kb_used             boolean NOT NULL,
    kb_articles         integer NOT NULL,
    handoffs            integer NOT NULL,
    csat                smallint,
    csat_satisfied      boolean,
    sla_target_s        float8,
    sla_elapsed_s       float8,
    sla_breached        boolean,
    sla_margin_s        float8,
    sla_breached_at     timestamptz,
    sla_status          text CHECK (sla_status IN ('in_progress', 'nearing', 'succeeded', 'noncompliant', 'paused', 'canceled')),
    fcr_no_reactivation text CHECK (fcr_no_reactivation IN ('true', 'false', 'pending')),
    fcr_no_repeat       text CHECK (fcr_no_repeat IN ('true', 'false', 'pending')),
    fcr_single_interaction text CHECK (fcr_single_interaction IN ('true', 'false', 'pending')),
    -- When a metric changes with no new event (FCR maturing, SLA nearing or breaching): the
    -- refresher recomputes cases whose instant has passed.
    next_change_at      timestamptz,
    metrics_as_of       timestamptz NOT NULL,
    metrics_version     integer NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX cases_created ON cases (created_at, case_id);
CREATE INDEX cases_resolved ON cases (resolved_at, case_id) WHERE resolved_at IS NOT NULL;
CREATE INDEX cases_customer ON cases (customer, request_type, product) WHERE customer IS NOT NULL;
CREATE INDEX cases_next_change ON cases (next_change_at) WHERE next_change_at IS NOT NULL;

-- A customer's own activity labels mapped to canonical codes (matched ignoring case and
-- surrounding spaces: `label` is stored normalised).
CREATE TABLE activity_mappings (
    label       text PRIMARY KEY CHECK (label = lower(btrim(label)) AND length(label) > 0),
    code        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Imports of event files (API uploads and the CLI): status and the report.
CREATE TABLE imports (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_name        text NOT NULL,
    format           text NOT NULL,
    status           text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    rows_read        bigint NOT NULL DEFAULT 0,
    events_stored    bigint NOT NULL DEFAULT 0,
    duplicates_skipped bigint NOT NULL DEFAULT 0,
    cases_touched    bigint NOT NULL DEFAULT 0,
    unmapped_activities bigint NOT NULL DEFAULT 0,
    bad_rows_count   bigint NOT NULL DEFAULT 0,
    -- The first bad rows (line and field errors).
    bad_rows         jsonb NOT NULL DEFAULT '[]',
    error            text,
    requested_by     text NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
