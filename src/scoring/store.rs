//! All SQL of the scoring capability.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// A registered model as stored (without its text).
#[derive(Debug, Clone)]
pub struct ModelRow {
    pub id: i64,
    pub name: String,
    pub version_label: String,
    pub sha256: String,
    pub feature_names: Vec<String>,
    pub categorical_features: Vec<String>,
    pub tree_count: i32,
    pub objective: String,
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
    pub active: bool,
    pub activated_at: Option<DateTime<Utc>>,
    pub native_check_passed: bool,
    pub native_check_rows: i32,
    pub native_max_abs_diff: Option<f64>,
    pub native_check_detail: String,
    /// `lightgbm` or `xgboost`.
    pub library: String,
    pub library_version: Option<String>,
    /// `lightgbm_text`, `xgboost_json` or `xgboost_ubjson`.
    pub model_format: String,
    pub decile_edges: Option<Vec<f64>>,
    pub decile_degenerate: Option<bool>,
    pub decile_source: Option<String>,
    pub decile_population: Option<i64>,
    pub decile_set_at: Option<DateTime<Utc>>,
}

/// What registering a model stores.
pub struct NewModel<'a> {
    pub name: &'a str,
    pub version_label: &'a str,
    pub sha256: &'a str,
    pub feature_names: &'a [String],
    pub categorical_features: &'a [String],
    pub tree_count: i32,
    pub objective: &'a str,
    /// The file as uploaded.
    pub model_file: &'a [u8],
    /// True: the file is text (LightGBM, XGBoost JSON) and is stored as such.
    pub is_text: bool,
    pub library: &'a str,
    pub library_version: Option<&'a str>,
    pub model_format: &'a str,
    pub uploaded_by: &'a str,
    pub native_check_passed: bool,
    pub native_check_rows: i32,
    pub native_max_abs_diff: Option<f64>,
    pub native_check_detail: &'a str,
}

/// Inserts the model unless the same text is registered; returns its id and whether it is new.
pub async fn insert_model(db: impl PgExecutor<'_>, m: &NewModel<'_>) -> sqlx::Result<(i64, bool)> {
    let (text, bytes) = match (m.is_text, std::str::from_utf8(m.model_file)) {
        (true, Ok(text)) => (Some(text), None),
        _ => (None, Some(m.model_file)),
    };
    let row = sqlx::query!(
        r#"WITH inserted AS (
             INSERT INTO models (name, version_label, sha256, feature_names, categorical_features,
                                 tree_count, objective, model_text, uploaded_by, native_check_passed,
                                 native_check_rows, native_max_abs_diff, native_check_detail,
                                 model_bytes, library, library_version, model_format)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT (sha256) DO NOTHING
             RETURNING id)
           SELECT id AS "id!", true AS "created!" FROM inserted
           UNION ALL
           SELECT id, false FROM models WHERE sha256 = $3 AND NOT EXISTS (SELECT 1 FROM inserted)"#,
        m.name,
        m.version_label,
        m.sha256,
        m.feature_names,
        m.categorical_features,
        m.tree_count,
        m.objective,
        text,
        m.uploaded_by,
        m.native_check_passed,
        m.native_check_rows,
        m.native_max_abs_diff,
        m.native_check_detail,
        bytes,
        m.library,
        m.library_version,
        m.model_format,
    )
    .fetch_one(db)
    .await?;
    Ok((row.id, row.created))
}

pub async fn list_models(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<ModelRow>> {
    sqlx::query_as!(
        ModelRow,
        "SELECT id, name, version_label, sha256, feature_names, categorical_features, tree_count,
                objective, uploaded_by, created_at, active, activated_at, native_check_passed,
                native_check_rows, native_max_abs_diff, native_check_detail, library,
                library_version, model_format, decile_edges,
                decile_degenerate, decile_source, decile_population, decile_set_at
         FROM models ORDER BY id"
    )
    .fetch_all(db)
    .await
}

pub async fn get_model(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<ModelRow>> {
    sqlx::query_as!(
        ModelRow,
        "SELECT id, name, version_label, sha256, feature_names, categorical_features, tree_count,
                objective, uploaded_by, created_at, active, activated_at, native_check_passed,
                native_check_rows, native_max_abs_diff, native_check_detail, library,
                library_version, model_format, decile_edges,
                decile_degenerate, decile_source, decile_population, decile_set_at
         FROM models WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

/// The model's file as uploaded (text or bytes).
pub async fn model_file(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Vec<u8>>> {
    let row = sqlx::query!(
        "SELECT model_text, model_bytes FROM models WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|r| r.model_bytes.or(r.model_text.map(String::into_bytes))))
}

pub async fn active_model_id(db: impl PgExecutor<'_>) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!("SELECT id FROM models WHERE active")
        .fetch_optional(db)
        .await
}

/// Makes `id` the only active model. Call inside a transaction.
pub async fn activate(conn: &mut sqlx::PgConnection, id: i64) -> sqlx::Result<bool> {
    sqlx::query!(
        "UPDATE models SET active = false WHERE active AND id <> $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query!(
        "UPDATE models SET active = true, activated_at = now() WHERE id = $1 AND NOT active",
        id
    )
    .execute(&mut *conn)
    .await?;
    let exists = done.rows_affected() > 0
        || sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM models WHERE id = $1) AS "e!""#,
            id
        )
        .fetch_one(&mut *conn)
        .await?;
    Ok(exists)
}

/// Sets a model's decile reference.
pub async fn set_decile_reference(
    db: impl PgExecutor<'_>,
    id: i64,
    edges: &[f64],
    degenerate: bool,
    source: &str,
    population: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE models SET decile_edges = $2, decile_degenerate = $3, decile_source = $4,
                decile_population = $5, decile_set_at = now()
         WHERE id = $1",
        id,
        edges,
        degenerate,
        source,
        population
    )
    .execute(db)
    .await?;
    Ok(())
}
