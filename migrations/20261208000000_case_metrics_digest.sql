-- A digest of each case's written row (its COPY text: id and computed metrics), written with
-- it. An SLA recomputation digests the rows it computes and writes only those whose digest
-- differs, where it read every stored row back (65 columns) to compare. Rows written before
-- this column have none: their next recomputation writes them once.
ALTER TABLE cases ADD COLUMN metrics_digest bigint;
