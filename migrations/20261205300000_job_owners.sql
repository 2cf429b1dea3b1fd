-- Several replicas against one database (issue 16): every `serve` process registers itself and
-- renews a heartbeat; long jobs (imports, scoring runs) name the replica that runs them and
-- carry their own heartbeat, so that another replica can tell a dead job from a live one.
CREATE TABLE replicas (
    id            uuid PRIMARY KEY,
    host          text NOT NULL,
    pid           integer NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

-- The replica running an import, its last sign of life, and how far it got: rows read by
-- validation and rows whose events are committed (stored or skipped as duplicates).
ALTER TABLE imports
    ADD COLUMN owner           uuid,
    ADD COLUMN heartbeat_at    timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN rows_committed  bigint NOT NULL DEFAULT 0;

ALTER TABLE scoring_runs ADD COLUMN owner uuid;

CREATE INDEX imports_running ON imports (heartbeat_at) WHERE status = 'running';
CREATE INDEX scoring_runs_running ON scoring_runs (heartbeat_at) WHERE status = 'running';
