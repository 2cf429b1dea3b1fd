//! What the benchmarks share: settings from the environment, scratch databases and the
//! service on a loopback port.

// Each benchmark uses part of this module.
#![allow(dead_code)]

// The service binary's allocator (`src/main.rs`), so that the service served in process here is
// measured as it ships: with glibc's malloc, allocation was ~8 % of the 1M-case recomputation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{net::SocketAddr, path::Path, sync::Arc};

use clap::Parser;
use sqlx::{Connection, PgConnection, PgPool};
use switchboard::{
    config::{CasesConfig, Config, DatabaseConfig, DatabaseUrl, ServeConfig},
    db, http,
    scoring::{
        model::LoadedModel,
        registry::ModelRegistry,
        runs::{
            command::write_population,
            pipeline::{self, Progress, RunRequest, Timings},
            store,
        },
    },
    state::AppState,
};

/// Every setting, from the environment and defaults, as the service reads them.
#[derive(Parser)]
pub struct Settings {
    #[command(flatten)]
    pub serve: ServeConfig,
    #[command(flatten)]
    pub cases: CasesConfig,
    #[command(flatten)]
    pub database: DatabaseConfig,
}

impl Settings {
    pub fn from_env() -> Self {
        let mut settings = Settings::parse_from(["bench"]);
        settings.serve.auth_disabled = true;
        settings
    }
}

/// A fresh, migrated database on the server; drop it with [`drop_database`].
pub async fn scratch_database(server: &DatabaseUrl, name: &str) -> (DatabaseUrl, PgPool) {
    let mut admin = PgConnection::connect(server.expose())
        .await
        .expect("connect to the server");
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .expect("scratch database");
    }
    let url = database_on(server, name);
    let pool = db::connect(&url).await.expect("connect");
    db::migrate(&pool).await.expect("migrate");
    (url, pool)
}

/// The URL of database `name` on the server of `server`.
pub fn database_on(server: &DatabaseUrl, name: &str) -> DatabaseUrl {
    let (base, _) = server.expose().rsplit_once('/').expect("a database URL");
    DatabaseUrl::new(format!("{base}/{name}"))
}

pub async fn drop_database(server: &DatabaseUrl, name: &str, pool: PgPool) {
    pool.close().await;
    let mut admin = PgConnection::connect(server.expose())
        .await
        .expect("connect");
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut admin)
    .await;
}

/// Serves the real application (authentication off) on a loopback port of this process.
pub async fn serve(settings: Settings, url: DatabaseUrl, pool: PgPool) -> SocketAddr {
    let mut database = settings.database;
    database.database_url = Some(url);
    // Authentication is off: `Settings::from_env` sets AUTH_DISABLED.
    let state = AppState::new(
        pool,
        Config {
            database,
            serve: settings.serve,
            cases: settings.cases,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = state.router();
    tokio::spawn(async move {
        let _ = http::serve(
            listener,
            app,
            std::future::pending(),
            std::time::Duration::from_secs(1),
            http::ConnectionLimits {
                max_connections: 4096,
                header_read_timeout: std::time::Duration::from_secs(10),
            },
        )
        .await;
    });
    address
}

/// The p-th percentile (0..=100) of sorted seconds, in milliseconds.
pub fn percentile_ms(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank] * 1e3
}

/// One scoring run of the population file `input` with `model`, start to finish, as
/// `POST /v1/scoring-runs` runs it, keeping `explain` reason codes per account; returns its
/// timings.
pub async fn scoring_run(
    pool: &PgPool,
    registry: &ModelRegistry,
    model: Arc<LoadedModel>,
    input: &Path,
    accounts: u64,
    explain: usize,
) -> Timings {
    let run_id = store::create_run(pool, model.id, "bench", "bench", false, 0, explain)
        .await
        .expect("run");
    let request = RunRequest {
        run_id,
        input: input.to_path_buf(),
        explain,
        ..RunRequest::default()
    };
    let (report, failure) = pipeline::execute(
        pool,
        registry,
        model,
        &request,
        Arc::new(Progress::default()),
    )
    .await;
    assert!(failure.is_none(), "run failed: {failure:?}");
    assert_eq!(report.accounts_scored, accounts);
    report.timings
}

/// Accounts in a benchmark population: `SWITCHBOARD_BENCH_ACCOUNTS`, default 1,000,000.
pub fn bench_accounts() -> u64 {
    std::env::var("SWITCHBOARD_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// A synthetic population of `accounts` as a gzip CSV in a temporary directory (kept alive by
/// the returned handle).
pub async fn population_file(accounts: u64, seed: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("accounts.csv.gz");
    let file = input.clone();
    tokio::task::spawn_blocking(move || write_population(&file, accounts, seed, false))
        .await
        .expect("generator")
        .expect("population file");
    (dir, input)
}

/// Installs a business-hours setup as a contact center would: a Monday-to-Friday
/// 08:00-12:30 + 13:30-18:00 calendar in `zone` with yearly holidays, and a default policy
/// with first-response (4 business hours) and resolution (3 business days) targets, effective
/// from 2000 so it applies to every case.
pub async fn install_business_hours_policy(pool: &PgPool, zone: &str) {
    use switchboard::sla::{calendar::CalendarDefinition, policy::PolicyDefinition, store};
    let day =
        serde_json::json!([{"start": "08:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}]);
    let calendar: CalendarDefinition = serde_json::from_value(serde_json::json!({
        "name": "office", "time_zone": zone,
        "weekly_hours": {"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day},
        "holidays": [
            {"date": "2000-01-01", "name": "New Year", "yearly": true},
            {"date": "2000-05-01", "name": "Labour Day", "yearly": true},
            {"date": "2000-12-25", "name": "Christmas", "yearly": true}
        ]
    }))
    .expect("calendar");
    let policy: PolicyDefinition = serde_json::from_value(serde_json::json!({
        "name": "Standard", "is_default": true, "calendar_id": "office",
        "targets": {
            "first_response": {"target_s": 14400},
            "resolution": {"target_s": 97200}
        },
        "pause": {"status_reasons": ["standard"], "info_requested": true}
    }))
    .expect("policy");
    let from = "2000-01-01T00:00:00Z".parse().expect("instant");
    store::insert_calendar_version(pool, "office", from, &calendar, None)
        .await
        .expect("calendar stored");
    store::insert_policy_version(pool, "standard", from, Some(&policy), None)
        .await
        .expect("policy stored");
}

/// Adds a one-off holiday to the `office` calendar of [`install_business_hours_policy`] (a new
/// version, effective from 2000).
pub async fn add_holiday(pool: &PgPool, zone: &str, date: &str) {
    use switchboard::sla::{calendar::CalendarDefinition, store};
    let current = store::calendar_versions(pool, Some("office"))
        .await
        .expect("calendar versions");
    let mut definition: CalendarDefinition = current
        .last()
        .expect("the office calendar")
        .definition
        .0
        .clone();
    definition.time_zone = zone.to_owned();
    definition.holidays.push(
        serde_json::from_value(serde_json::json!({"date": date, "name": "Added"}))
            .expect("holiday"),
    );
    let from = "2000-01-01T00:00:00Z".parse().expect("instant");
    store::insert_calendar_version(pool, "office", from, &definition, None)
        .await
        .expect("calendar stored");
}

/// The KPI benchmarks' case store: `SWITCHBOARD_BENCH_CASES` synthetic cases (default
/// 1,000,000, about 10 million events) over 2025, in database `SWITCHBOARD_BENCH_KPI_DB`
/// (kept, and reused when it already holds them) or a scratch one. Returns the generator, the
/// database's name and URL, its pool, and whether it is kept.
pub async fn kpi_cases(
    settings: &Settings,
    server: &DatabaseUrl,
) -> (
    switchboard::cases::synthetic::SyntheticConfig,
    String,
    DatabaseUrl,
    PgPool,
    bool,
) {
    use switchboard::cases::{
        ingest,
        synthetic::{self, SyntheticConfig},
    };
    let cases = std::env::var("SWITCHBOARD_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000usize);
    let keep = std::env::var("SWITCHBOARD_BENCH_KPI_DB").ok();
    let name = keep
        .clone()
        .unwrap_or_else(|| format!("bench_kpis_{}", std::process::id()));
    let generator = SyntheticConfig {
        cases,
        customers: cases * 6 / 10,
        span_days: 365,
        start: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2025, 1, 6, 0, 0, 0)
            .single()
            .expect("a date"),
        ..Default::default()
    };
    let url = database_on(server, &name);
    let existing = match &keep {
        Some(_) => db::connect(&url).await.ok(),
        None => None,
    };
    let loaded: i64 = match &existing {
        Some(pool) => sqlx::query_scalar("SELECT count(*) FROM cases")
            .fetch_one(pool)
            .await
            .unwrap_or(0),
        None => 0,
    };
    let pool = if loaded >= cases as i64 {
        println!("reusing database {name} ({loaded} cases)");
        let pool = existing.expect("pool");
        db::migrate(&pool).await.expect("migrate");
        pool
    } else {
        let (_, pool) = scratch_database(server, &name).await;
        let metrics = settings.cases.metrics();
        let started = std::time::Instant::now();
        let mut batch = Vec::with_capacity(ingest::IMPORT_BATCH);
        let mut events = 0usize;
        let as_of = generator.end();
        for event in synthetic::events(&generator) {
            batch.push(event);
            if batch.len() == ingest::IMPORT_BATCH {
                events += batch.len();
                ingest::store_batch(&pool, &metrics, std::mem::take(&mut batch), as_of)
                    .await
                    .expect("store");
            }
        }
        events += batch.len();
        ingest::store_batch(&pool, &metrics, batch, as_of)
            .await
            .expect("store");
        println!(
            "loaded {events} events / {cases} cases in {:.0} s ({:.0} events/s)",
            started.elapsed().as_secs_f64(),
            events as f64 / started.elapsed().as_secs_f64()
        );
        pool
    };
    // As an import job (and the service's upkeep round) does after writing this much.
    let reindex = std::time::Instant::now();
    if let Some(rows) = ingest::rebuild_indexes_if_bloated(&pool)
        .await
        .expect("index upkeep")
    {
        println!(
            "rebuilt the case indexes ({rows} rows written since the last rebuild) in {:.0} s",
            reindex.elapsed().as_secs_f64()
        );
    }
    sqlx::query("VACUUM ANALYZE cases")
        .execute(&pool)
        .await
        .expect("analyze");
    (generator, name, url, pool, keep.is_some())
}
