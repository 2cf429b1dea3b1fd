//! HTTP views of API keys. Keys are created and revoked with the CLI only, so a leaked admin
//! key cannot mint more keys.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AdminAccess, AnyRole, Authorized, Role, store};
use crate::{
    http::error::{ApiError, Json},
    state::AppState,
};

/// The key a request was made with.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoamiResponse {
    /// Name given at `switchboard keys create`.
    pub key_name: String,
    pub role: Role,
    /// False when the server runs with `AUTH_DISABLED=true`.
    pub authenticated: bool,
}

/// Which key and role this request carries (any valid key). Handy to check a key works.
#[utoipa::path(get, path = "/v1/whoami", tag = "auth",
    security(("api_key" = [])),
    responses((status = 200, description = "The caller's key", body = WhoamiResponse)))]
pub async fn get_whoami(auth: Authorized<AnyRole>) -> Json<WhoamiResponse> {
    Json(WhoamiResponse {
        key_name: auth.principal.key_name,
        role: auth.principal.role,
        authenticated: auth.principal.key_id.is_some(),
    })
}

/// An API key as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyResponse {
    /// The non-secret id: the 12 characters after `sb_`.
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// Approximate: updated at most once per AUTH_CACHE_TTL_S.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// All API keys, active and revoked (admin).
#[utoipa::path(get, path = "/v1/keys", tag = "auth",
    security(("api_key" = [])),
    responses((status = 200, description = "Every key, oldest first", body = Vec<KeyResponse>)))]
pub async fn get_keys(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
) -> Result<Json<Vec<KeyResponse>>, ApiError> {
    let keys = store::list_keys(&state.db).await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| KeyResponse {
                id: k.lookup_id,
                name: k.name,
                role: k.role,
                created_at: k.created_at,
                last_used_at: k.last_used_at,
                revoked_at: k.revoked_at,
            })
            .collect(),
    ))
}
