-- Registered LightGBM models. The text itself is kept so any replica can load any version.
CREATE TABLE models (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version_label       text NOT NULL CHECK (length(version_label) BETWEEN 1 AND 200),
    sha256              text NOT NULL UNIQUE,
    feature_names       text[] NOT NULL,
    categorical_features text[] NOT NULL DEFAULT '{}',
    tree_count          integer NOT NULL,
    objective           text NOT NULL,
    model_text          text NOT NULL,
    uploaded_by         text NOT NULL,
    -- The native evaluator's comparison with LightGBM when the model was registered.
    native_check_passed boolean NOT NULL,
    native_check_rows   integer NOT NULL,
    native_max_abs_diff float8,
    native_check_detail text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- Exactly one model is active; activation flips this flag in one transaction.
    active              boolean NOT NULL DEFAULT false,
    activated_at        timestamptz,
    -- The decile reference: the 11 edges of a population's probabilities (pd.qcut rule).
    decile_edges        float8[] CHECK (decile_edges IS NULL OR cardinality(decile_edges) = 11),
    decile_degenerate   boolean,
    decile_source       text,
    decile_population   bigint,
    decile_set_at       timestamptz
);

CREATE UNIQUE INDEX models_one_active ON models ((true)) WHERE active;
