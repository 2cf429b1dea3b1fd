-- Reason codes kept by scoring runs asked for them (`explain`): each account's top TreeSHAP
-- contributions, largest first, packed in one bytea of 18 bytes per reason: the feature's index
-- in the model's `feature_names` (int2), its value (float8, NaN: missing) and its contribution
-- (float8), all big-endian (src/scoring/reasons.rs reads and writes it). One packed value
-- instead of three arrays: a call list streams millions of them, and PostgreSQL sends a bytea
-- as it is stored. Copied into a campaign's members so call lists carry them as talking
-- points. NULL: the run kept none.
ALTER TABLE scoring_runs ADD COLUMN explain smallint NOT NULL DEFAULT 0
    CHECK (explain BETWEEN 0 AND 10);

ALTER TABLE account_scores ADD COLUMN reasons bytea;

ALTER TABLE campaign_members ADD COLUMN reasons bytea;
