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
    sync::{Mutex, RwLock},
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

/// Keys by lookup id, as the database last said: valid ones and unknown ids alike (so a
/// flood of garbage keys costs one read per id and period, never a write), trusted for
/// `ttl`. When the database cannot be reached, a key validated before stays valid for up to
/// `stale_max` after it was last confirmed, so scoring keeps answering through an outage; each
/// such use is bounded and logged.
pub struct KeyCache {
    ttl: Duration,
    stale_max: Duration,
    entries: RwLock<HashMap<String, CachedKey>>,
    /// When the last look-up failed on the database (cleared by the next success): while
    /// set, stale entries are served at once and one request at a time retries.
    outage_since: Mutex<Option<Instant>>,
    retrying: std::sync::atomic::AtomicBool,
    /// Last warning about stale use (at most one every 10 s).
    warned_at: Mutex<Option<Instant>>,
}

#[derive(Clone)]
struct CachedKey {
    /// `None`: no active key has this lookup id.
    key: Option<store::ActiveKey>,
    fetched_at: Instant,
    /// When `last_used_at` was last written for this key by this replica.
    touched_at: Option<Instant>,
}

/// Unknown lookup ids kept at most (beyond it they are dropped first), so garbage keys cannot
/// grow the cache without bound.
const MAX_UNKNOWN_IDS: usize = 10_000;

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self::with_staleness(ttl, Duration::from_secs(3600))
    }

    /// A cache that, while the database is unreachable, trusts a validated key up to
    /// `stale_max` after it was last confirmed.
    pub fn with_staleness(ttl: Duration, stale_max: Duration) -> Self {
        KeyCache {
            ttl,
            stale_max,
            entries: RwLock::new(HashMap::new()),
            outage_since: Mutex::new(None),
            retrying: std::sync::atomic::AtomicBool::new(false),
            warned_at: Mutex::new(None),
        }
    }

    async fn authenticate(&self, db: &PgPool, key: &ApiKey) -> Result<Principal, AuthError> {
        let cached = self
            .entries
            .read()
            .ok()
            .and_then(|entries| entries.get(key.lookup_id()).cloned());
        let entry = match cached {
            Some(entry) if entry.fetched_at.elapsed() < self.ttl => entry,
            stale => self.refresh(db, key, stale).await?,
        };
        let Some(active) = entry.key else {
            return Err(AuthError::InvalidKey);
        };
        if !key.matches(&active.secret_hash) {
            // A wrong secret never marks the key used.
            return Err(AuthError::InvalidKey);
        }
        if entry.touched_at.is_none_or(|t| t.elapsed() >= self.ttl) {
            self.touch(db, key.lookup_id(), active.id).await;
        }
        Ok(Principal {
            key_id: Some(active.id),
            key_name: active.name,
            role: active.role,
        })
    }

    /// Looks the id up again; on a database failure serves `stale` if it is recent enough.
    async fn refresh(
        &self,
        db: &PgPool,
        key: &ApiKey,
        stale: Option<CachedKey>,
    ) -> Result<CachedKey, AuthError> {
        use std::sync::atomic::Ordering;
        let usable = stale.filter(|s| s.key.is_some() && s.fetched_at.elapsed() < self.stale_max);
        let in_outage = self.lock_outage().is_some();
        // In an outage, one request at a time probes the database; the rest use what they have.
        if in_outage
            && let Some(stale) = &usable
            && self.retrying.swap(true, Ordering::AcqRel)
        {
            self.warn_stale(stale);
            return Ok(stale.clone());
        }
        let looked_up = store::find_active_key(db, key.lookup_id()).await;
        if in_outage {
            self.retrying.store(false, Ordering::Release);
        }
        match looked_up {
            Ok(found) => {
                if self.lock_outage().take().is_some() {
                    tracing::info!("API keys are checked against the database again");
                }
                let entry = CachedKey {
                    key: found,
                    fetched_at: Instant::now(),
                    touched_at: usable.as_ref().and_then(|u| u.touched_at),
                };
                self.store(key.lookup_id(), entry.clone());
                Ok(entry)
            }
            Err(error) => {
                {
                    let mut outage = self.lock_outage();
                    if outage.is_none() {
                        tracing::warn!(error = %error, "API keys cannot be checked against the database; validated keys are trusted from the cache for up to AUTH_STALE_MAX_S");
                        *outage = Some(Instant::now());
                    }
                }
                match usable {
                    Some(stale) => {
                        self.warn_stale(&stale);
                        Ok(stale)
                    }
                    None => Err(AuthError::Database(error)),
                }
            }
        }
    }

    fn store(&self, lookup_id: &str, entry: CachedKey) {
        if let Ok(mut entries) = self.entries.write() {
            if entry.key.is_none()
                && entries.values().filter(|e| e.key.is_none()).count() >= MAX_UNKNOWN_IDS
            {
                entries.retain(|_, e| e.key.is_some());
            }
            entries.insert(lookup_id.to_owned(), entry);
        }
    }

    /// Marks the key used (once per period); a failure only costs the timestamp.
    async fn touch(&self, db: &PgPool, lookup_id: &str, id: Uuid) {
        if self.lock_outage().is_some() {
            return;
        }
        if let Ok(mut entries) = self.entries.write()
            && let Some(entry) = entries.get_mut(lookup_id)
        {
            entry.touched_at = Some(Instant::now());
        }
        if let Err(error) = store::touch_key(db, id).await {
            tracing::debug!(error = %error, "could not record that an API key was used");
        }
    }

    fn warn_stale(&self, entry: &CachedKey) {
        let mut warned = self
            .warned_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if warned.is_none_or(|w| w.elapsed() >= Duration::from_secs(10)) {
            *warned = Some(Instant::now());
            tracing::warn!(
                stale_s = entry.fetched_at.elapsed().as_secs(),
                max_s = self.stale_max.as_secs(),
                "the database is unreachable: accepting an API key last confirmed stale_s seconds ago"
            );
        }
    }

    fn lock_outage(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.outage_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
