//! The model registry: models stored in PostgreSQL, the active one held in memory behind an
//! atomic swap so activating a version never blocks or fails an in-flight request.

use std::{path::Path, sync::Arc};

use arc_swap::ArcSwapOption;
use serde::Deserialize;
use sqlx::PgPool;

use super::{
    deciles::DecileEdges,
    model::{DecileReference, LoadedModel, ModelError, ParsedModel},
    store::{self, ModelRow, NewModel},
};

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("no model has the id {0}")]
    NotFound(i64),
    #[error("model {id}'s decile reference is unusable: {reason}")]
    BadReference { id: i64, reason: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("model loading was interrupted: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
}

/// The active model, shared by every request.
#[derive(Default)]
pub struct ModelRegistry {
    active: ArcSwapOption<LoadedModel>,
    /// Serialises activations so two concurrent ones cannot end with the memory and the
    /// database disagreeing.
    activation: tokio::sync::Mutex<()>,
}

/// A decile reference file shipped next to a model (`<model>.deciles.json`).
#[derive(Debug, Deserialize)]
struct DecileFile {
    edges: [f64; 11],
    /// Accounts the edges were cut from.
    #[serde(default, alias = "n")]
    population: Option<i64>,
    /// The model the edges were computed with; a reference for another model is refused.
    #[serde(default)]
    model_sha256: Option<String>,
}

impl ModelRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The model serving requests now (one atomic load; cheap on the hot path).
    pub fn active(&self) -> Option<Arc<LoadedModel>> {
        self.active.load_full()
    }

    /// Validates and stores a model file (LightGBM text, XGBoost JSON or UBJSON);
    /// the same file twice returns the existing model. `feature_list` names the features
    /// of an XGBoost model saved without names.
    pub async fn register(
        &self,
        db: &PgPool,
        file: Vec<u8>,
        feature_list: Option<Vec<String>>,
        name: &str,
        version_label: &str,
        uploaded_by: &str,
    ) -> Result<(ModelRow, bool), RegistryError> {
        let (row, created, _) = self
            .register_parsed(db, file, feature_list, name, version_label, uploaded_by)
            .await?;
        Ok((row, created))
    }

    /// `register`, also handing back the parsed model so a caller that activates it at once
    /// does not parse and verify it a second time.
    async fn register_parsed(
        &self,
        db: &PgPool,
        file: Vec<u8>,
        feature_list: Option<Vec<String>>,
        name: &str,
        version_label: &str,
        uploaded_by: &str,
    ) -> Result<(ModelRow, bool, ParsedModel), RegistryError> {
        let (parsed, file) = tokio::task::spawn_blocking(move || {
            ParsedModel::parse(&file, feature_list.as_deref()).map(|p| (p, file))
        })
        .await??;
        let (id, created) = store::insert_model(
            db,
            &NewModel {
                name,
                version_label,
                sha256: &parsed.sha256,
                feature_names: &parsed.feature_names,
                categorical_features: &parsed.categorical_features,
                tree_count: i32::try_from(parsed.tree_count).unwrap_or(i32::MAX),
                objective: &parsed.objective,
                model_file: &file,
                is_text: parsed.format != "xgboost_ubjson",
                library: parsed.library.name(),
                library_version: parsed.library_version.as_deref(),
                model_format: parsed.format,
                uploaded_by,
                native_check_passed: parsed.native_check.passed,
                native_check_rows: i32::try_from(parsed.native_check.rows).unwrap_or(i32::MAX),
                native_max_abs_diff: parsed.native_check.max_abs_diff,
                native_check_detail: &parsed.native_check.detail,
            },
        )
        .await?;
        let row = store::get_model(db, id)
            .await?
            .ok_or(RegistryError::NotFound(id))?;
        Ok((row, created, parsed))
    }

    /// Loads a stored model into memory and makes it the active one, in the database and here.
    /// The previous model keeps serving until the swap; requests holding it finish with it.
    pub async fn activate(&self, db: &PgPool, id: i64) -> Result<ModelRow, RegistryError> {
        let _guard = self.activation.lock().await;
        let loaded = load(db, id).await?;
        self.make_active(db, loaded).await
    }

    /// Activates an already loaded model (the caller holds the activation lock).
    async fn make_active(
        &self,
        db: &PgPool,
        loaded: LoadedModel,
    ) -> Result<ModelRow, RegistryError> {
        let id = loaded.id;
        let mut tx = db.begin().await?;
        if !store::activate(&mut tx, id).await? {
            return Err(RegistryError::NotFound(id));
        }
        tx.commit().await?;
        self.active.store(Some(Arc::new(loaded)));
        let row = store::get_model(db, id)
            .await?
            .ok_or(RegistryError::NotFound(id))?;
        tracing::info!(model_id = id, name = %row.name, version = %row.version_label, "model activated");
        Ok(row)
    }

    /// Gives the serving model `model_id`, if it is the active one, a new decile reference
    /// (already stored by the caller). Requests in flight keep the edges they loaded.
    pub fn set_decile_reference(&self, model_id: i64, reference: DecileReference) {
        if let Some(model) = self.active().filter(|m| m.id == model_id) {
            model.deciles.store(Some(Arc::new(reference)));
        }
    }

    /// Brings memory in line with the database's active model and its decile reference (at
    /// start, and periodically so replicas follow a change made on another one).
    pub async fn sync_with_database(&self, db: &PgPool) -> Result<(), RegistryError> {
        let active_id = store::active_model_id(db).await?;
        let current = self.active().map(|m| m.id);
        if active_id == current {
            // Same model; its decile reference may have been set elsewhere (a scoring run on
            // another replica or from the CLI).
            if let (Some(id), Some(model)) = (active_id, self.active()) {
                let row = store::get_model(db, id)
                    .await?
                    .ok_or(RegistryError::NotFound(id))?;
                let stored = decile_reference(&row)?;
                if model.deciles.load().as_deref() != stored.as_ref() {
                    tracing::info!(model_id = id, "the model's decile reference changed");
                    model.deciles.store(stored.map(Arc::new));
                }
            }
            return Ok(());
        }
        let _guard = self.activation.lock().await;
        match active_id {
            Some(id) => {
                let loaded = load(db, id).await?;
                tracing::info!(model_id = id, "loaded the active model");
                self.active.store(Some(Arc::new(loaded)));
            }
            None => self.active.store(None),
        }
        Ok(())
    }

    /// `MODEL_PATH` at start: registers and activates that file when no model is active.
    /// A `<file stem>.deciles.json` beside it becomes the model's decile reference.
    pub async fn bootstrap_from_file(&self, db: &PgPool, path: &Path) -> Result<(), RegistryError> {
        if store::active_model_id(db).await?.is_some() {
            return Ok(());
        }
        let file_error = |e: std::io::Error| RegistryError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let file = tokio::fs::read(path).await.map_err(file_error)?;
        let name = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or("model")
            .to_owned();
        let version = format!("file:{}", path.display());
        let (row, _, parsed) = self
            .register_parsed(db, file, None, &name, &version, "MODEL_PATH")
            .await?;
        let deciles_path = path.with_extension("deciles.json");
        if row.decile_edges.is_none()
            && let Ok(json) = tokio::fs::read_to_string(&deciles_path).await
        {
            let file: DecileFile =
                serde_json::from_str(&json).map_err(|e| RegistryError::File {
                    path: deciles_path.display().to_string(),
                    message: e.to_string(),
                })?;
            if file
                .model_sha256
                .as_ref()
                .is_some_and(|sha| *sha != row.sha256)
            {
                return Err(RegistryError::File {
                    path: deciles_path.display().to_string(),
                    message: format!(
                        "its model_sha256 is not the sha256 of {} ({})",
                        path.display(),
                        row.sha256
                    ),
                });
            }
            let edges = DecileEdges::from_edges(file.edges).ok_or_else(|| RegistryError::File {
                path: deciles_path.display().to_string(),
                message: "edges must be 11 finite, non-decreasing numbers".into(),
            })?;
            store::set_decile_reference(
                db,
                row.id,
                &edges.edges,
                edges.degenerate,
                &format!("file:{}", deciles_path.display()),
                file.population,
            )
            .await?;
        }
        let row = store::get_model(db, row.id)
            .await?
            .ok_or(RegistryError::NotFound(row.id))?;
        let deciles = decile_reference(&row)?;
        let _guard = self.activation.lock().await;
        self.make_active(
            db,
            parsed.into_loaded(row.id, row.name, row.version_label, deciles),
        )
        .await?;
        Ok(())
    }
}

/// Reads a stored model and prepares it for serving (off the async threads).
async fn load(db: &PgPool, id: i64) -> Result<LoadedModel, RegistryError> {
    let row = store::get_model(db, id)
        .await?
        .ok_or(RegistryError::NotFound(id))?;
    let deciles = decile_reference(&row)?;
    let parsed = parse_stored(db, &row).await?;
    Ok(parsed.into_loaded(row.id, row.name, row.version_label, deciles))
}

/// Parses a stored model's file again (off the async threads). The stored feature names
/// name the features of an XGBoost model saved without them.
pub async fn parse_stored(db: &PgPool, row: &ModelRow) -> Result<ParsedModel, RegistryError> {
    let file = store::model_file(db, row.id)
        .await?
        .ok_or(RegistryError::NotFound(row.id))?;
    let features = row.feature_names.clone();
    let parsed =
        tokio::task::spawn_blocking(move || ParsedModel::parse(&file, Some(&features))).await??;
    Ok(parsed)
}

/// The stored decile reference of a model, if it has one.
pub fn decile_reference(row: &ModelRow) -> Result<Option<DecileReference>, RegistryError> {
    let Some(edges) = &row.decile_edges else {
        return Ok(None);
    };
    let bad = |reason: &str| RegistryError::BadReference {
        id: row.id,
        reason: reason.into(),
    };
    let array: [f64; 11] = edges
        .as_slice()
        .try_into()
        .map_err(|_| bad("not 11 edges"))?;
    let edges =
        DecileEdges::from_edges(array).ok_or_else(|| bad("edges not finite and non-decreasing"))?;
    Ok(Some(DecileReference {
        edges,
        source: row.decile_source.clone().unwrap_or_default(),
        population: row.decile_population,
    }))
}
