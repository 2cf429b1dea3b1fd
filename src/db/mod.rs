//! The PostgreSQL pool and the embedded migrations.

pub mod copy;
pub mod local;

use std::time::Duration;

use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::{DatabaseConfig, DatabaseUrl};

/// Every migration in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Resolves where the database is: `DATABASE_URL`, or the private local cluster (started if
/// needed).
pub async fn resolve_url(config: &DatabaseConfig) -> anyhow::Result<DatabaseUrl> {
    match &config.database_url {
        Some(url) => Ok(url.clone()),
        None => {
            let cluster = local::LocalCluster::new(&config.local_pg_dir, config.local_pg_port);
            let url = tokio::task::spawn_blocking(move || cluster.ensure_running()).await??;
            Ok(url)
        }
    }
}

/// Opens the pool. Connections are made lazily, so a server that is down at start makes
/// `/readyz` say so instead of keeping the process from starting.
pub fn pool(url: &DatabaseUrl, config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let options = connect_options(url)
        .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
    Ok(PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(Duration::from_secs(config.database_acquire_timeout_s))
        .connect_lazy_with(options))
}

/// How every Switchboard session connects: named, and without JIT compilation. PostgreSQL
/// JIT-compiles any statement its planner costs above `jit_above_cost`, and a batch of
/// thousands of ids (`= ANY($1)`) is costed far above what it reads: reading the events of
/// 5,000 cases took 198 ms with JIT against 29 ms without (1M cases), every batch of an import
/// or a recomputation paying it again. No statement here runs long enough to win it back.
pub fn connect_options(url: &DatabaseUrl) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.expose().parse()?;
    Ok(options
        .application_name("switchboard")
        .options([("jit", "off")]))
}

/// A pool with the service's connection settings and sqlx's default size, for tools that
/// do not run the service (benchmarks, tests' fixtures).
pub async fn connect(url: &DatabaseUrl) -> sqlx::Result<PgPool> {
    PgPool::connect_with(connect_options(url)?).await
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| anyhow::anyhow!("applying migrations failed: {e}"))
}

/// Versions of embedded migrations not yet applied to the database.
pub async fn pending_migrations(pool: &PgPool) -> sqlx::Result<Vec<i64>> {
    let table_exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await?;
    let applied: Vec<i64> = if table_exists {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    Ok(MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect())
}
