//! All SQL of API keys.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::Role;

/// A stored key as the CLI lists it (never the secret).
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: Uuid,
    pub lookup_id: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What authentication needs of an active key.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub secret_hash: Vec<u8>,
}

pub async fn insert_key(
    db: impl PgExecutor<'_>,
    lookup_id: &str,
    secret_hash: &[u8; 32],
    name: &str,
    role: Role,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO api_keys (id, lookup_id, secret_hash, name, role) VALUES ($1, $2, $3, $4, $5)",
        id,
        lookup_id,
        secret_hash.as_slice(),
        name,
        role.as_str(),
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// Finds an active key by its lookup id (reading only: a key is marked used by
/// [`touch_key`] once its secret matched).
pub async fn find_active_key(
    db: impl PgExecutor<'_>,
    lookup_id: &str,
) -> sqlx::Result<Option<ActiveKey>> {
    let row = sqlx::query!(
        "SELECT id, name, role, secret_hash FROM api_keys
         WHERE lookup_id = $1 AND revoked_at IS NULL",
        lookup_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|r| {
        Some(ActiveKey {
            id: r.id,
            name: r.name,
            role: Role::parse(&r.role)?,
            secret_hash: r.secret_hash,
        })
    }))
}

/// Marks a key used (the cache in front of this keeps that write to once per key per cache
/// period).
pub async fn touch_key(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("UPDATE api_keys SET last_used_at = now() WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn list_keys(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<KeyRecord>> {
    let rows = sqlx::query!(
        "SELECT id, lookup_id, name, role, created_at, last_used_at, revoked_at
         FROM api_keys ORDER BY created_at, name"
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(KeyRecord {
                id: r.id,
                lookup_id: r.lookup_id,
                name: r.name,
                role: Role::parse(&r.role)?,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                revoked_at: r.revoked_at,
            })
        })
        .collect())
}

/// Revokes the active key with this name or lookup id; returns how many keys were revoked.
pub async fn revoke_key(db: impl PgExecutor<'_>, name_or_lookup_id: &str) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE api_keys SET revoked_at = now()
         WHERE revoked_at IS NULL AND (name = $1 OR lookup_id = $1)",
        name_or_lookup_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

pub async fn active_admin_exists(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL) AS "exists!""#
    )
    .fetch_one(db)
    .await?;
    Ok(exists)
}

pub async fn lookup_id_exists(db: impl PgExecutor<'_>, lookup_id: &str) -> sqlx::Result<bool> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM api_keys WHERE lookup_id = $1) AS "exists!""#,
        lookup_id
    )
    .fetch_one(db)
    .await?;
    Ok(exists)
}
