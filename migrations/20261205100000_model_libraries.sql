-- Models of more than one library: XGBoost models (JSON or UBJSON, a binary format) beside
-- LightGBM texts. A model's file is kept as text (LightGBM, XGBoost JSON) or as bytes
-- (UBJSON), exactly as uploaded, so its sha256 is the upload's.
ALTER TABLE models
    ALTER COLUMN model_text DROP NOT NULL,
    ADD COLUMN model_bytes bytea,
    ADD COLUMN library text NOT NULL DEFAULT 'lightgbm'
        CHECK (library IN ('lightgbm', 'xgboost')),
    ADD COLUMN library_version text,
    ADD COLUMN model_format text NOT NULL DEFAULT 'lightgbm_text'
        CHECK (model_format IN ('lightgbm_text', 'xgboost_json', 'xgboost_ubjson')),
    ADD CONSTRAINT models_one_file CHECK ((model_text IS NULL) <> (model_bytes IS NULL));
