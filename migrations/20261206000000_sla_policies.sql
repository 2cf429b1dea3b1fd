-- SLA policies on business-hours calendars (issue 18). Calendars and policies are versioned:
-- a write adds a version that applies from its effective instant; nothing is edited in place,
-- so every figure can be traced to the version behind it.
CREATE TABLE sla_calendar_versions (
    calendar_id     text NOT NULL CHECK (calendar_id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    version         integer NOT NULL CHECK (version >= 1),
    effective_from  timestamptz NOT NULL,
    -- The calendar as written (name, time_zone, weekly_hours, holidays); validated on write.
    definition      jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text,
    PRIMARY KEY (calendar_id, version)
);

CREATE TABLE sla_policy_versions (
    policy_id       text NOT NULL CHECK (policy_id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    version         integer NOT NULL CHECK (version >= 1),
    effective_from  timestamptz NOT NULL,
    -- NULL: the policy is retired from effective_from on.
    definition      jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text,
    PRIMARY KEY (policy_id, version)
);

-- Background recomputations of stored cases after a policy or calendar change.
CREATE TABLE sla_recomputations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    -- Cases created in [created_from, created_to) (NULL: unbounded), plus every open case.
    created_from  timestamptz,
    created_to    timestamptz,
    cases_total   bigint,
    cases_done    bigint NOT NULL DEFAULT 0,
    error         text,
    owner         uuid,
    requested_by  text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);

-- Per-target SLA figures on the case row, so KPIs stay aggregates over cases.
ALTER TABLE cases
    ADD COLUMN sla_paused_s                    float8,
    ADD COLUMN sla_calendar_s                  float8,
    ADD COLUMN sla_warning_at                  timestamptz,
    ADD COLUMN sla_due_at                      timestamptz,
    ADD COLUMN sla_policy_id                   text,
    ADD COLUMN sla_policy_version              integer,
    ADD COLUMN sla_calendar_id                 text,
    ADD COLUMN first_response_sla_target_s     float8,
    ADD COLUMN first_response_sla_elapsed_s    float8,
    ADD COLUMN first_response_sla_paused_s     float8,
    ADD COLUMN first_response_sla_margin_s     float8,
    ADD COLUMN first_response_sla_warning_at   timestamptz,
    ADD COLUMN first_response_sla_due_at       timestamptz,
    ADD COLUMN first_response_sla_breached_at  timestamptz,
    ADD COLUMN first_response_sla_status       text CHECK (first_response_sla_status IN
        ('in_progress', 'nearing', 'succeeded', 'noncompliant', 'paused', 'canceled'));
