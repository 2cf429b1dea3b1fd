//! This process as one replica among several against one database (see "Beyond one
//! machine" in the design): it registers itself and renews a heartbeat, long jobs name it as
//! their owner, orphaned jobs of dead replicas are marked failed, and work that must happen
//! once (time-driven recomputation, orphan reconciliation) runs under a PostgreSQL advisory
//! lock so that one replica at a time does it.

pub mod store;

use std::{future::Future, sync::OnceLock, time::Duration};

use sqlx::PgPool;
use uuid::Uuid;

/// This process's replica id, made once.
pub fn id() -> Uuid {
    static ID: OnceLock<Uuid> = OnceLock::new();
    *ID.get_or_init(Uuid::new_v4)
}

/// Advisory-lock keys of work that runs on one replica at a time.
pub mod locks {
    /// Recomputing cases whose metrics changed with time alone.
    pub const CASE_REFRESH: i64 = 0x5357_4254_0002;
    /// Failing orphaned imports and scoring runs.
    pub const RECONCILE: i64 = 0x5357_4254_0003;
    /// Rebuilding the case table's indexes.
    pub const CASE_REINDEX: i64 = 0x5357_4254_0004;
}

/// Registers this replica, or renews its heartbeat.
pub async fn heartbeat(db: &PgPool) -> sqlx::Result<()> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown".into());
    store::upsert_replica(db, id(), &host, std::process::id()).await
}

/// What one reconciliation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub imports: u64,
    pub runs: u64,
    pub recomputations: u64,
}

/// Marks failed the running imports, scoring runs and SLA recomputations whose own heartbeat is older than
/// `orphan_timeout` and whose owner is not a live replica (its heartbeat is as old, or it
/// never registered), saying why and what was committed. A job of a live replica is never
/// touched, however slow. Runs under [`locks::RECONCILE`]; `None` when another replica
/// holds it.
pub async fn reconcile(db: &PgPool, orphan_timeout: Duration) -> sqlx::Result<Option<Reconciled>> {
    let seconds = orphan_timeout.as_secs_f64();
    once(db, locks::RECONCILE, async {
        let imports = crate::cases::store::fail_orphaned_imports(db, seconds).await?;
        let runs = crate::scoring::runs::store::fail_abandoned_runs(db, seconds).await?;
        let recomputations = crate::sla::store::fail_orphaned_recomputations(db, seconds).await?;
        Ok(Reconciled {
            imports,
            runs,
            recomputations,
        })
    })
    .await
}

/// Runs `work` when this replica gets the session advisory lock `key`, which is released when
/// it is done; `None` (without running it) when another replica holds the lock.
pub async fn once<T>(
    db: &PgPool,
    key: i64,
    work: impl Future<Output = sqlx::Result<T>>,
) -> sqlx::Result<Option<T>> {
    let mut conn = db.acquire().await?;
    if !store::try_lock(&mut conn, key).await? {
        return Ok(None);
    }
    let result = work.await;
    // A failed unlock closes the connection instead: a session lock dies with its session.
    if store::unlock(&mut conn, key).await.is_err() {
        conn.close_on_drop();
    }
    result.map(Some)
}
