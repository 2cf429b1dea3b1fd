//! API keys with roles: `scorer` (CRM callers), `viewer` (dashboards), `admin` (model uploads,
//! imports, everything else).
//!
//! Keys are created and revoked with the CLI, stored hashed, sent as `Authorization: Bearer`.
//! A short in-memory cache keeps the database off the scoring hot path; revocation takes effect
//! within `AUTH_CACHE_TTL_S`.

pub mod handlers;
pub mod keys;
pub mod store;

use std::{
    collections::HashMap,
    marker::PhantomData,
    sync::RwLock,
    time::{Duration, Instant},
};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header::AUTHORIZATION, request::Parts},
};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{http::error::ApiError, state::AppState};
use keys::ApiKey;

/// `/v1/whoami` and `/v1/keys`.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(handlers::get_whoami))
        .routes(utoipa_axum::routes!(handlers::get_keys))
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// CRM front-ends: request scores.
    Scorer,
    /// Dashboards: read cases and KPIs.
    Viewer,
    /// Operators: upload models, import data, and everything the other roles may do.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Scorer => "scorer",
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "scorer" => Some(Role::Scorer),
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The caller behind a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `None` when authentication is disabled.
    pub key_id: Option<Uuid>,
    pub key_name: String,
    pub role: Role,
}

/// Why a request was not authenticated or not allowed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("an API key is required: send `Authorization: Bearer <key>`")]
    MissingKey,
    #[error("the API key is invalid or revoked")]
    InvalidKey,
    #[error("this operation needs the {required} role; the key `{key_name}` has the {actual} role")]
    Forbidden {
        required: &'static str,
        key_name: String,
        actual: &'static str,
    },
    #[error("could not check the API key")]
    Database(#[from] sqlx::Error),
}

/// A set of roles allowed to call an operation.
pub trait Access: Send + Sync + 'static {
    const ROLES: &'static [Role];
    /// How the requirement reads in error messages.
    const DESCRIPTION: &'static str;
}

/// Scoring calls: `scorer` or `admin`.
pub struct ScorerAccess;
impl Access for ScorerAccess {
    const ROLES: &'static [Role] = &[Role::Scorer, Role::Admin];
    const DESCRIPTION: &'static str = "scorer (or admin)";
}

/// Read-only views of cases and KPIs: `viewer` or `admin`.
pub struct ViewerAccess;
impl Access for ViewerAccess {
    const ROLES: &'static [Role] = &[Role::Viewer, Role::Admin];
    const DESCRIPTION: &'static str = "viewer (or admin)";
}

/// Changes to models and data: `admin` only.
pub struct AdminAccess;
impl Access for AdminAccess {
    const ROLES: &'static [Role] = &[Role::Admin];
    const DESCRIPTION: &'static str = "admin";
}

/// Any valid key.
pub struct AnyRole;
impl Access for AnyRole {
    const ROLES: &'static [Role] = &[Role::Scorer, Role::Viewer, Role::Admin];
    const DESCRIPTION: &'static str = "scorer, viewer or admin";
}

/// Extractor: the request carries a valid key with one of `A`'s roles.
pub struct Authorized<A: Access> {
    pub principal: Principal,
    _access: PhantomData<A>,
}

impl<S, A> FromRequestParts<S> for Authorized<A>
where
    S: Send + Sync,
    AppState: FromRef<S>,
    A: Access,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let principal = match &*state.auth {
            Authenticator::Disabled => Principal {
                key_id: None,
                key_name: "auth-disabled".into(),
                role: Role::Admin,
            },
            Authenticator::Keys(cache) => {
                let key = bearer_key(parts)?;
                cache.authenticate(&state.db, &key).await?
            }
        };
        if !A::ROLES.contains(&principal.role) {
            return Err(AuthError::Forbidden {
                required: A::DESCRIPTION,
                key_name: principal.key_name,
                actual: principal.role.as_str(),
            }
            .into());
        }
        Ok(Authorized {
            principal,
            _access: PhantomData,
        })
    }
}

fn bearer_key(parts: &Parts) -> Result<ApiKey, AuthError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(AuthError::MissingKey)?
        .to_str()
        .map_err(|_| AuthError::InvalidKey)?;
    let (scheme, token) = header.split_once(' ').ok_or(AuthError::MissingKey)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingKey);
    }
    ApiKey::parse(token.trim()).ok_or(AuthError::InvalidKey)
}

/// How requests are authenticated.
pub enum Authenticator {
    /// `AUTH_DISABLED=true`: every request is admin.
    Disabled,
    Keys(KeyCache),
}

/// Validated keys by lookup id, trusted for a short time.
pub struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, CachedKey>>,
}

struct CachedKey {
    key: store::ActiveKey,
    fetched_at: Instant,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    async fn authenticate(&self, db: &PgPool, key: &ApiKey) -> Result<Principal, AuthError> {
        let cached = self.entries.read().ok().and_then(|entries| {
            entries
                .get(key.lookup_id())
                .filter(|c| c.fetched_at.elapsed() < self.ttl)
                .map(|c| c.key.clone())
        });
        let active = match cached {
            Some(active) => active,
            None => {
                let active = store::touch_active_key(db, key.lookup_id())
                    .await?
                    .ok_or(AuthError::InvalidKey)?;
                if let Ok(mut entries) = self.entries.write() {
                    entries.retain(|_, c| c.fetched_at.elapsed() < self.ttl);
                    entries.insert(
                        key.lookup_id().to_owned(),
                        CachedKey {
                            key: active.clone(),
                            fetched_at: Instant::now(),
                        },
                    );
                }
                active
            }
        };
        if !key.matches(&active.secret_hash) {
            return Err(AuthError::InvalidKey);
        }
        Ok(Principal {
            key_id: Some(active.id),
            key_name: active.name,
            role: active.role,
        })
    }
}

/// Why a key could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateKeyError {
    #[error("an active key named `{0}` already exists")]
    NameTaken(String),
    #[error("key names are 1 to 200 characters")]
    InvalidName,
    #[error("no randomness available: {0}")]
    Random(#[from] getrandom::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates a key; the returned text is the only time the secret exists outside the client.
pub async fn create_key(db: &PgPool, name: &str, role: Role) -> Result<String, CreateKeyError> {
    let key = ApiKey::generate()?;
    store_key(db, &key, name, role).await?;
    Ok(key.reveal())
}

/// Stores a given key (the bootstrap admin key comes from configuration).
pub async fn store_key(
    db: &PgPool,
    key: &ApiKey,
    name: &str,
    role: Role,
) -> Result<Uuid, CreateKeyError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(CreateKeyError::InvalidName);
    }
    store::insert_key(db, key.lookup_id(), &key.secret_hash(), name, role)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("api_keys_active_name") => {
                CreateKeyError::NameTaken(name.to_owned())
            }
            _ => CreateKeyError::Database(e),
        })
}

/// Makes sure an admin can reach the API after the first start.
///
/// With `BOOTSTRAP_ADMIN_KEY` that key is stored once. Otherwise, when no active admin key
/// exists, one is created and returned so the caller can print it once.
pub async fn ensure_admin_key(
    db: &PgPool,
    bootstrap: Option<&ApiKey>,
) -> Result<Option<String>, CreateKeyError> {
    if let Some(key) = bootstrap {
        if !store::lookup_id_exists(db, key.lookup_id()).await? {
            store_key(
                db,
                key,
                &format!("bootstrap-admin-{}", key.lookup_id()),
                Role::Admin,
            )
            .await?;
        }
        return Ok(None);
    }
    if store::active_admin_exists(db).await? {
        return Ok(None);
    }
    let name = format!("first-admin-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"));
    create_key(db, &name, Role::Admin).await.map(Some)
}
