-- Batch scoring runs: a population file scored with one model, its decile edges and summary.
CREATE TABLE scoring_runs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id            bigint NOT NULL REFERENCES models (id),
    source              text NOT NULL,
    status              text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    requested_by        text NOT NULL,
    make_reference      boolean NOT NULL DEFAULT false,
    max_bad_rows        bigint NOT NULL DEFAULT 0,
    -- Progress while running: the phase, rows read and the share of the file consumed.
    phase               text NOT NULL DEFAULT 'scoring' CHECK (phase IN ('scoring', 'storing', 'done')),
    rows_read           bigint NOT NULL DEFAULT 0,
    progress            float8 NOT NULL DEFAULT 0,
    -- Written with the progress every second: a running run without it is abandoned.
    heartbeat_at        timestamptz NOT NULL DEFAULT now(),
    accounts_scored     bigint NOT NULL DEFAULT 0,
    bad_rows_count      bigint NOT NULL DEFAULT 0,
    -- The first bad rows (line, column, message).
    bad_rows            jsonb NOT NULL DEFAULT '[]',
    -- Header columns that are not model features (their values are not read).
    ignored_columns     text[] NOT NULL DEFAULT '{}',
    -- The pd.qcut edges of the run's probabilities and the per-decile summary (decile 1 first).
    decile_edges        float8[] CHECK (decile_edges IS NULL OR cardinality(decile_edges) = 11),
    decile_degenerate   boolean,
    decile_counts       bigint[] CHECK (decile_counts IS NULL OR cardinality(decile_counts) = 10),
    decile_mean_probability float8[],
    -- Seconds spent per phase (threads of one phase overlap; see the run's timings).
    timings             jsonb,
    error               text,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz
);

CREATE INDEX scoring_runs_model ON scoring_runs (model_id, id);

-- Every scored account of every succeeded run. One partition per run: a run COPYs into its own
-- table, indexes it and attaches it in one transaction, so a failed run leaves nothing behind,
-- loading never maintains an index row by row, and dropping an old run is instant.
CREATE TABLE account_scores (
    run_id      bigint NOT NULL,
    account_id  text NOT NULL,
    probability float8 NOT NULL,
    decile      smallint NOT NULL CHECK (decile BETWEEN 1 AND 10)
) PARTITION BY LIST (run_id);

-- The CRM's look-up: an account's newest score is the first hit walking partitions newest first.
CREATE UNIQUE INDEX account_scores_account ON account_scores (account_id, run_id);

-- Outcomes uploaded for a run: the last row per account wins; accounts without one are absent.
CREATE TABLE run_outcomes (
    run_id      bigint NOT NULL REFERENCES scoring_runs (id) ON DELETE CASCADE,
    account_id  text NOT NULL,
    target      boolean NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, account_id)
);
