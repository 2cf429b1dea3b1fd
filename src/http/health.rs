//! Kubernetes-style probes: `/healthz` (the process is up) and `/readyz` (it can serve).

use std::time::Duration;

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{db, http::error::Json, state::AppState};

/// How long a readiness probe waits for the database before calling it down.
const DB_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_healthz))
        .routes(routes!(get_readyz))
}

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// Always `ok`.
    pub status: String,
    /// Version of the running binary.
    pub version: String,
}

/// The process is up (liveness probe). Never touches the database.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = HealthResponse)))]
pub async fn get_healthz() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// One readiness condition.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessCheck {
    /// What was checked: `database`, `migrations`, `model`.
    pub name: String,
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// Readiness, with every check and, when not ready, why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessResponse {
    /// `ready` or `not_ready`.
    pub status: String,
    /// When not ready: the failed checks in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checks: Vec<ReadinessCheck>,
}

/// Ready to serve (readiness probe): the database answers, every migration is applied, a
/// model is active.
/// Answers 503 with the reason otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = ReadinessResponse),
        (status = 503, description = "Not ready; `reason` says why", body = ReadinessResponse),
    ))]
pub async fn get_readyz(State(state): State<AppState>) -> Response {
    let mut checks = Vec::new();
    match tokio::time::timeout(DB_CHECK_TIMEOUT, db::pending_migrations(&state.db)).await {
        Ok(Ok(pending)) => {
            checks.push(ReadinessCheck {
                name: "database".into(),
                ok: true,
                detail: "reachable".into(),
            });
            checks.push(ReadinessCheck {
                name: "migrations".into(),
                ok: pending.is_empty(),
                detail: if pending.is_empty() {
                    "all applied".into()
                } else {
                    format!(
                        "{} pending (run `switchboard migrate`): {pending:?}",
                        pending.len()
                    )
                },
            });
        }
        Ok(Err(e)) => checks.push(ReadinessCheck {
            name: "database".into(),
            ok: false,
            detail: format!("unreachable: {e}"),
        }),
        Err(_) => checks.push(ReadinessCheck {
            name: "database".into(),
            ok: false,
            detail: format!("no answer within {} s", DB_CHECK_TIMEOUT.as_secs()),
        }),
    }
    checks.push(match state.models.active() {
        Some(model) => ReadinessCheck {
            name: "model".into(),
            ok: true,
            detail: format!(
                "model {} ({} {}) served by the {} evaluator",
                model.id,
                model.name,
                model.version_label,
                model.evaluator()
            ),
        },
        None => ReadinessCheck {
            name: "model".into(),
            ok: false,
            detail: "no active model: upload one (POST /v1/models) and activate it".into(),
        },
    });
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    let ready = failed.is_empty();
    let body = ReadinessResponse {
        status: if ready { "ready" } else { "not_ready" }.into(),
        reason: (!ready).then(|| failed.join("; ")),
        checks,
    };
    if ready {
        (StatusCode::OK, Json(body)).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            Json(body),
        )
            .into_response()
    }
}
