-- Reason codes kept by scoring runs asked for them (`explain`): each account's top TreeSHAP
-- contributions, as parallel arrays in descending order of contribution: the feature's index in
-- the model's `feature_names`, its value (NaN: missing) and its contribution. Copied into a
-- campaign's members so call lists carry them as talking points. NULL: the run kept none.
ALTER TABLE scoring_runs ADD COLUMN explain smallint NOT NULL DEFAULT 0
    CHECK (explain BETWEEN 0 AND 10);

ALTER TABLE account_scores
    ADD COLUMN reason_features      smallint[],
    ADD COLUMN reason_values        float8[],
    ADD COLUMN reason_contributions float8[];

ALTER TABLE campaign_members
    ADD COLUMN reason_features      smallint[],
    ADD COLUMN reason_values        float8[],
    ADD COLUMN reason_contributions float8[];
