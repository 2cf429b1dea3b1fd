//! HTTP handlers of the scoring capability: models and online scores.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    features::{FeatureMap, UnknownFeatures, build_rows},
    model::{ImportanceType, LoadedModel, top_reasons},
    registry::{RegistryError, decile_reference, parse_stored},
    store::{self, ModelRow},
};
use crate::{
    auth::{AdminAccess, AnyRole, Authorized, ScorerAccess},
    http::error::{ApiError, Json, Path, Query},
    state::AppState,
    validation::FieldError,
};

/// Above this many accounts, prediction moves off the async worker threads.
const INLINE_PREDICTION_ROWS: usize = 256;

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Model(model) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-model",
                model.to_string(),
            ),
            RegistryError::NotFound(_) => ApiError::not_found(e.to_string()),
            RegistryError::Database(db) => db.into(),
            other => ApiError::internal(other),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Models

/// A registered model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelResponse {
    pub id: i64,
    pub name: String,
    pub version_label: String,
    /// SHA-256 of the model file; registering the same file again returns this model.
    pub sha256: String,
    /// The library the model was trained with: `lightgbm` or `xgboost`.
    pub library: String,
    /// Version of the library that saved the file, when the file says (XGBoost writes it).
    pub library_version: Option<String>,
    /// `lightgbm_text`, `xgboost_json` or `xgboost_ubjson`.
    pub format: String,
    /// Input features in the model's order.
    pub features: Vec<String>,
    /// Features the model splits on categorically.
    pub categorical_features: Vec<String>,
    pub trees: i32,
    pub objective: String,
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
    /// Whether this is the model scores come from.
    pub active: bool,
    pub activated_at: Option<DateTime<Utc>>,
    pub native_evaluator: NativeEvaluatorResponse,
    /// The edges online deciles are cut with; null until a reference exists.
    pub decile_reference: Option<DecileReferenceResponse>,
    /// Set when an upload matched an already registered file: the name and version sent
    /// were not applied, and this says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The native evaluator's check at registration: against LightGBM for a LightGBM model,
/// against a plain walk of the trees for an XGBoost model.
#[derive(Debug, Serialize, ToSchema)]
pub struct NativeEvaluatorResponse {
    /// True: the native evaluator serves this model; false: LightGBM does. Always true for
    /// XGBoost models (one that fails its check is refused).
    pub passed: bool,
    /// Rows compared (synthetic rows exercising every split, plus NaN and zero).
    pub rows_checked: i32,
    /// Largest |native − LightGBM| probability difference found.
    pub max_abs_diff: Option<f64>,
    pub detail: String,
}

/// A decile reference: the 11 edges of a population's probabilities.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecileReferenceResponse {
    /// Lowest to highest; decile 1 holds scores above edge 9.
    pub edges: Vec<f64>,
    /// True when edges coincide (many tied scores); empty deciles stay empty.
    pub degenerate: bool,
    /// Where the edges come from.
    pub source: String,
    pub population: Option<i64>,
    pub set_at: Option<DateTime<Utc>>,
}

impl From<ModelRow> for ModelResponse {
    fn from(row: ModelRow) -> Self {
        let decile_reference = row
            .decile_edges
            .clone()
            .map(|edges| DecileReferenceResponse {
                edges,
                degenerate: row.decile_degenerate.unwrap_or(false),
                source: row.decile_source.clone().unwrap_or_default(),
                population: row.decile_population,
                set_at: row.decile_set_at,
            });
        ModelResponse {
            id: row.id,
            name: row.name,
            version_label: row.version_label,
            sha256: row.sha256,
            library: row.library,
            library_version: row.library_version,
            format: row.model_format,
            features: row.feature_names,
            categorical_features: row.categorical_features,
            trees: row.tree_count,
            objective: row.objective,
            uploaded_by: row.uploaded_by,
            created_at: row.created_at,
            active: row.active,
            activated_at: row.activated_at,
            native_evaluator: NativeEvaluatorResponse {
                passed: row.native_check_passed,
                rows_checked: row.native_check_rows,
                max_abs_diff: row.native_max_abs_diff,
                detail: row.native_check_detail,
            },
            decile_reference,
            note: None,
        }
    }
}

/// Name and version of an uploaded model.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadModelParams {
    /// Model name, e.g. `cross-sell`.
    pub name: String,
    /// Version label, e.g. `2026-11` or a training run id.
    pub version: String,
    /// Comma-separated feature names, in order, for an XGBoost model saved without them
    /// (trained on a bare array). Must match the model's own names when it has them.
    #[serde(default)]
    pub features: Option<String>,
}

/// Register a LightGBM or XGBoost model (admin).
///
/// The body is the file `Booster.save_model` writes, told apart by its content: a LightGBM
/// text model, or an XGBoost model saved as JSON (`model.json`) or UBJSON (`model.ubj`, the
/// default since XGBoost 2.1). XGBoost objectives `binary:logistic`, `binary:logitraw` and
/// `reg:logistic` are served (a `binary:logitraw` model's probability is the sigmoid of its
/// margin); pickles and XGBoost's old binary format are refused with how to re-save them.
/// It must be a binary classifier. Registering does not activate it. The same file twice
/// returns the existing model with 200 and a `note` (the name and version sent are not
/// applied: a file is registered once); a new one gives 201.
#[utoipa::path(post, path = "/v1/models", tag = "models",
    security(("api_key" = [])),
    params(UploadModelParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "LightGBM text model, or XGBoost JSON / UBJSON model (any content type)"),
    responses(
        (status = 201, description = "Registered", body = ModelResponse),
        (status = 200, description = "The same text was already registered", body = ModelResponse),
        (status = 400, description = "Missing name or version", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than BODY_LIMIT_BYTES", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a LightGBM or XGBoost model, not a binary classifier, or an XGBoost model without feature names and no `features` given", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_models(
    auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Query(params): Query<UploadModelParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    for (field, value) in [("name", &params.name), ("version", &params.version)] {
        if value.trim().is_empty() || value.chars().count() > 200 {
            errors.push(FieldError::new(field, "must be 1 to 200 characters"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(
            "invalid model name or version",
            errors,
        ));
    }
    let feature_list = params.features.as_deref().map(|list| {
        list.split(',')
            .map(|name| name.trim().to_owned())
            .collect::<Vec<_>>()
    });
    let (name, version) = (params.name.trim(), params.version.trim());
    let (row, created) = state
        .models
        .register(
            &state.db,
            body.to_vec(),
            feature_list,
            name,
            version,
            &auth.principal.key_name,
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = ModelResponse::from(row);
    if !created && (response.name != name || response.version_label != version) {
        response.note = Some(format!(
            "this file is already registered as model {} ({} {}); the name `{name}` and version \
             `{version}` were not applied. Use /v1/models/{} to refer to it",
            response.id, response.name, response.version_label, response.id
        ));
    }
    Ok((status, Json(response)).into_response())
}

/// List registered models, oldest first.
#[utoipa::path(get, path = "/v1/models", tag = "models",
    security(("api_key" = [])),
    responses((status = 200, description = "Every model", body = Vec<ModelResponse>)))]
pub async fn get_models(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
) -> Result<Json<Vec<ModelResponse>>, ApiError> {
    let rows = store::list_models(&state.db).await?;
    Ok(Json(rows.into_iter().map(ModelResponse::from).collect()))
}

/// One model: features, trees, objective, sha256, native evaluator check, decile reference.
#[utoipa::path(get, path = "/v1/models/{id}", tag = "models",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Model id")),
    responses(
        (status = 200, description = "The model", body = ModelResponse),
        (status = 404, description = "No such model", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_model(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ModelResponse>, ApiError> {
    let row = store::get_model(&state.db, id)
        .await?
        .ok_or(RegistryError::NotFound(id))?;
    Ok(Json(row.into()))
}

/// Make a model the one scores come from (admin). Atomic: requests in flight finish with the
/// previous model, later ones use this one; nothing fails in between.
#[utoipa::path(post, path = "/v1/models/{id}/activate", tag = "models",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Model id")),
    responses(
        (status = 200, description = "Now active", body = ModelResponse),
        (status = 404, description = "No such model", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_model_activate(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ModelResponse>, ApiError> {
    let row = state.models.activate(&state.db, id).await?;
    Ok(Json(row.into()))
}

/// Which importance to report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportanceParams {
    /// LightGBM models: `split` (times used in a split) or `gain` (total gain of those
    /// splits). XGBoost models: `get_score`'s `weight` (= `split`), `gain` (average gain per
    /// split), `cover`, `total_gain`, `total_cover`, and `feature_importances` (the
    /// classifier's `feature_importances_`: gain normalised to sum to 1).
    #[serde(rename = "type", default = "default_importance")]
    #[param(rename = "type", inline)]
    pub kind: ImportanceType,
}

fn default_importance() -> ImportanceType {
    ImportanceType::Split
}

/// A feature's importance.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeatureImportance {
    pub feature: String,
    pub importance: f64,
}

/// Importance of each feature in a model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportanceResponse {
    pub model_id: i64,
    #[serde(rename = "type")]
    pub kind: ImportanceType,
    /// Sorted by importance, highest first; as the library reports them (features never
    /// split on have 0).
    pub features: Vec<FeatureImportance>,
}

/// Feature importance, as the model's library reports it (LightGBM's `feature_importance`,
/// XGBoost's `get_score`).
#[utoipa::path(get, path = "/v1/models/{id}/importance", tag = "models",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Model id"), ImportanceParams),
    responses(
        (status = 200, description = "Importance per feature, highest first", body = ImportanceResponse),
        (status = 400, description = "Unknown importance type, or one the model's library does not define", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such model", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_model_importance(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(params): Query<ImportanceParams>,
) -> Result<Json<ImportanceResponse>, ApiError> {
    let model = match state.models.active().filter(|m| m.id == id) {
        Some(active) => active,
        None => {
            let row = store::get_model(&state.db, id)
                .await?
                .ok_or(RegistryError::NotFound(id))?;
            let deciles = decile_reference(&row)?;
            let parsed = parse_stored(&state.db, &row).await?;
            Arc::new(parsed.into_loaded(row.id, row.name, row.version_label, deciles))
        }
    };
    let pairs = model
        .importance(params.kind)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                format!(
                    "type: `{}` is an XGBoost importance; LightGBM models report `split` and `gain`",
                    serde_json::to_value(params.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
            )
        })?;
    Ok(Json(ImportanceResponse {
        model_id: id,
        kind: params.kind,
        features: pairs
            .into_iter()
            .map(|(feature, importance)| FeatureImportance {
                feature,
                importance,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Scores

/// One account to score.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountFeatures {
    /// The account's id (a string, or an integer taken as its decimal text).
    #[serde(deserialize_with = "string_or_integer")]
    pub account_id: String,
    /// Features by name. Absent or `null` features are missing (LightGBM's missing-value
    /// rules apply); names the model does not know are refused unless `unknown_features` is
    /// `ignore`.
    #[schema(value_type = std::collections::HashMap<String, Option<f64>>)]
    pub features: FeatureMap,
}

/// Accounts to score: either `accounts`, or one account's `account_id` and `features`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// Several accounts (up to MAX_ACCOUNTS_PER_REQUEST).
    #[serde(default)]
    pub accounts: Option<Vec<AccountFeatures>>,
    /// One account's id (instead of `accounts`).
    #[serde(default, deserialize_with = "optional_string_or_integer")]
    #[schema(value_type = Option<String>)]
    pub account_id: Option<String>,
    /// One account's features (with `account_id`).
    #[serde(default)]
    #[schema(value_type = Option<std::collections::HashMap<String, Option<f64>>>)]
    pub features: Option<FeatureMap>,
    /// Return the top `explain` reason codes per account (TreeSHAP). 0 or absent: none.
    #[serde(default)]
    pub explain: usize,
    /// `error` (default) or `ignore` feature names the model does not know.
    #[serde(default)]
    pub unknown_features: UnknownFeatures,
}

/// Scores for the accounts of a request, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreResponse {
    pub model_id: i64,
    pub model_name: String,
    pub model_version: String,
    /// `native` (Switchboard's evaluator, checked equal to LightGBM) or `lightgbm`.
    pub evaluator: String,
    /// Why deciles are null, when they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decile_note: Option<String>,
    pub scores: Vec<AccountScore>,
}

/// One account's score.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountScore {
    pub account_id: String,
    /// Probability of taking another product, full f64 precision.
    pub probability: f64,
    /// 1 (highest scores) to 10, from the model's decile reference; null without one.
    pub decile: Option<u8>,
    /// Features the model expects that the request lacked or sent as null.
    pub missing_features: usize,
    /// With `explain`: the features that pushed the score up most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// Reason codes: TreeSHAP contributions in log-odds; all of them plus `bias` sum to `raw_score`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Explanation {
    /// The model's raw score (log-odds) for the account.
    pub raw_score: f64,
    /// The expected raw score over the training data.
    pub bias: f64,
    /// Top contributions, largest first.
    pub reasons: Vec<Reason>,
}

/// One reason code.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reason {
    pub feature: String,
    /// The value sent (null: missing).
    pub value: Option<f64>,
    /// Contribution to the raw score (log-odds).
    pub contribution: f64,
}

fn string_or_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct IdVisitor;
    impl serde::de::Visitor<'_> for IdVisitor {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a non-empty string of at most 200 characters, or an integer")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            if v.is_empty() || v.chars().count() > 200 {
                return Err(E::invalid_value(serde::de::Unexpected::Str(v), &self));
            }
            Ok(v.to_owned())
        }
        fn visit_i64<E>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    deserializer.deserialize_any(IdVisitor)
}

fn optional_string_or_integer<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    string_or_integer(deserializer).map(Some)
}

/// Score accounts with the active model (scorer).
///
/// Send one account (`account_id`, `features`) or many (`accounts`). Each score carries the
/// probability, its decile under the model's reference, how many features were missing and,
/// with `explain: k`, the top k reason codes. Invalid input is refused as a whole with 422
/// listing every offending field.
#[utoipa::path(post, path = "/v1/scores", tag = "scores",
    security(("api_key" = [])),
    request_body = ScoreRequest,
    responses(
        (status = 200, description = "Scores in request order", body = ScoreResponse),
        (status = 400, description = "Malformed JSON", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "More accounts than MAX_ACCOUNTS_PER_REQUEST", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not sent as application/json", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid accounts or features; `errors` lists every field", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "No active model", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_scores(
    _auth: Authorized<ScorerAccess>,
    State(state): State<AppState>,
    Json(request): Json<ScoreRequest>,
) -> Result<Json<ScoreResponse>, ApiError> {
    let model = state.models.active().ok_or_else(|| {
        ApiError::unavailable(
            "no model is active: upload one (POST /v1/models) and activate it",
            30,
        )
    })?;
    let accounts = accounts_of(&request)?;
    let limit = state.config.serve.max_accounts_per_request as usize;
    if accounts.len() > limit {
        return Err(ApiError::payload_too_large(format!(
            "{} accounts in one request; the limit is {limit} (MAX_ACCOUNTS_PER_REQUEST)",
            accounts.len()
        )));
    }
    if request.explain > model.num_features() {
        return Err(ApiError::validation(
            "invalid explain",
            vec![FieldError::new(
                "/explain",
                format!(
                    "at most {} (the model's feature count)",
                    model.num_features()
                ),
            )],
        ));
    }
    let rows = build_rows(
        accounts
            .iter()
            .map(|(prefix, _, features)| (prefix.clone(), *features)),
        model.num_features(),
        |k, name| model.feature_position(k, name),
        request.unknown_features,
    )
    .map_err(|errors| ApiError::validation(format!("{} invalid field(s)", errors.len()), errors))?;

    let explain = request.explain;
    let (probabilities, explanations) = if accounts.len() <= INLINE_PREDICTION_ROWS && explain == 0
    {
        // One-row requests are cheaper inline than handed to another thread (FINDINGS).
        let started = std::time::Instant::now();
        let probabilities = model.predict(&rows.values).map_err(ApiError::internal)?;
        // Lets operators (and the HTTP benchmark) see how much of a request is prediction.
        metrics::counter!("scoring_prediction_nanoseconds_total")
            .increment(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        metrics::counter!("scoring_predicted_rows_total").increment(accounts.len() as u64);
        (probabilities, None)
    } else {
        let model = model.clone();
        let values = rows.values.clone();
        tokio::task::spawn_blocking(move || predict_and_explain(&model, &values, explain))
            .await
            .map_err(ApiError::internal)??
    };

    let decile_note = model.deciles.load().is_none().then(|| {
        "the active model has no decile reference yet: a scoring run made its reference sets one".to_owned()
    });
    let mut explanations = explanations.map(Vec::into_iter);
    let scores = accounts
        .into_iter()
        .zip(probabilities)
        .zip(rows.missing)
        .map(
            |(((_, account_id, _), probability), missing)| AccountScore {
                account_id,
                probability,
                decile: model.decile(probability),
                missing_features: missing,
                explanation: explanations.as_mut().and_then(Iterator::next),
            },
        )
        .collect();
    Ok(Json(ScoreResponse {
        model_id: model.id,
        model_name: model.name.clone(),
        model_version: model.version_label.clone(),
        evaluator: model.evaluator().into(),
        decile_note,
        scores,
    }))
}

type Prediction = (Vec<f64>, Option<Vec<Explanation>>);

fn predict_and_explain(
    model: &LoadedModel,
    rows: &[f64],
    explain: usize,
) -> Result<Prediction, ApiError> {
    let probabilities = model.predict(rows).map_err(ApiError::internal)?;
    if explain == 0 {
        return Ok((probabilities, None));
    }
    let raw = model.predict_raw(rows).map_err(ApiError::internal)?;
    let contributions = model.contributions(rows).map_err(ApiError::internal)?;
    let reasons = top_reasons(&contributions, rows, model.num_features(), explain);
    let width = model.num_features() + 1;
    let explanations = contributions
        .chunks_exact(width)
        .zip(reasons)
        .zip(raw)
        .map(|((contrib, reasons), raw_score)| Explanation {
            raw_score,
            bias: contrib[width - 1],
            reasons: reasons
                .into_iter()
                .map(|(i, value, contribution)| Reason {
                    feature: model.feature_names[i].clone(),
                    value: (!value.is_nan()).then_some(value),
                    contribution,
                })
                .collect(),
        })
        .collect();
    Ok((probabilities, Some(explanations)))
}

/// The accounts of a request: (JSON pointer prefix, account id, features).
fn accounts_of(request: &ScoreRequest) -> Result<Vec<(String, String, &FeatureMap)>, ApiError> {
    match (&request.accounts, &request.account_id, &request.features) {
        (Some(accounts), None, None) => {
            if accounts.is_empty() {
                return Err(ApiError::validation(
                    "no accounts to score",
                    vec![FieldError::new(
                        "/accounts",
                        "must hold at least one account",
                    )],
                ));
            }
            Ok(accounts
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("/accounts/{i}"), a.account_id.clone(), &a.features))
                .collect())
        }
        (None, Some(id), Some(features)) => Ok(vec![(String::new(), id.clone(), features)]),
        (None, Some(_), None) => Err(ApiError::validation(
            "missing features",
            vec![FieldError::new("/features", "required with account_id")],
        )),
        (None, None, Some(_)) => Err(ApiError::validation(
            "missing account_id",
            vec![FieldError::new("/account_id", "required with features")],
        )),
        (None, None, None) => Err(ApiError::validation(
            "nothing to score",
            vec![FieldError::new(
                "/accounts",
                "send `accounts`, or `account_id` and `features`",
            )],
        )),
        (Some(_), _, _) => Err(ApiError::validation(
            "ambiguous request",
            vec![FieldError::new(
                "/accounts",
                "send either `accounts` or a single `account_id` with `features`, not both",
            )],
        )),
    }
}
