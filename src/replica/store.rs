//! All SQL of replicas and advisory locks.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Registers a replica or renews its heartbeat.
pub async fn upsert_replica(
    db: impl PgExecutor<'_>,
    id: Uuid,
    host: &str,
    pid: u32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO replicas (id, host, pid) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
        id,
        host,
        i32::try_from(pid).unwrap_or(i32::MAX)
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets replicas silent for a day (their jobs were reconciled long before).
pub async fn forget_dead_replicas(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let done = sqlx::query!("DELETE FROM replicas WHERE heartbeat_at < now() - interval '1 day'")
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Takes the session advisory lock `key` if no other session holds it.
pub async fn try_lock(conn: &mut PgConnection, key: i64) -> sqlx::Result<bool> {
    let locked = sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock($1) AS "locked!""#, key)
        .fetch_one(conn)
        .await?;
    Ok(locked)
}

pub async fn unlock(conn: &mut PgConnection, key: i64) -> sqlx::Result<()> {
    sqlx::query_scalar!("SELECT pg_advisory_unlock($1)", key)
        .fetch_one(conn)
        .await?;
    Ok(())
}
