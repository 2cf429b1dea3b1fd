//! The command line: `serve`, `import`, `demo-data`, `score-batch`, `population`, `migrate`,
//! `openapi`, `keys`, `local-db`.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use sqlx::PgPool;

use crate::{
    auth::{self, Role, keys::ApiKey},
    cases::{
        demo,
        import::{Classifier, ImportFormat, ImportOptions},
        ingest::{self, ImportPhase},
        store as case_store,
    },
    config::{CasesConfig, Config, DatabaseConfig, LogConfig, ServeConfig},
    db, http, replica,
    scoring::runs::{self, latest::latest_scores_limit},
    state::AppState,
    telemetry,
};

/// Switchboard: propensity scoring and contact-center case KPIs.
///
/// Every option can also be set by the environment variable shown in its help (and in
/// `.env.example`); a `.env` file in the working directory is read too.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogConfig,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve {
        #[command(flatten)]
        serve: ServeConfig,
        #[command(flatten)]
        cases: CasesConfig,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Import an event file (CSV, XES or XES.gz) into the case store, with a progress bar.
    Import {
        /// The file; gzip is detected from its content.
        file: PathBuf,
        /// `csv` or `xes`; detected from the content when absent.
        #[arg(long, value_enum)]
        format: Option<ImportFormatArg>,
        /// XES: make the activity `concept:name+lifecycle:transition`.
        #[arg(long)]
        with_lifecycle: bool,
        /// CSV not in the template's columns: a JSON column mapping (inline or @file).
        #[arg(long)]
        mapping: Option<String>,
        /// IANA zone for times without an offset (default EVENT_TIMEZONE).
        #[arg(long)]
        timezone: Option<String>,
        /// Bad rows allowed; by default one bad row stores nothing.
        #[arg(long, default_value_t = 0)]
        max_bad_rows: u64,
        #[command(flatten)]
        cases: CasesConfig,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Write a deterministic synthetic event log in the Dynamics 365 template's own 21 columns
    /// (English and Portuguese rows mixed, the derived columns filled, some deliberately
    /// inconsistent), ready for `switchboard import`.
    DemoData {
        /// Cases (about 10 events each).
        #[arg(long, default_value_t = 5_000)]
        cases: usize,
        /// Seed: the same seed gives the same file.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where to write it; standard output when absent.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Score a population file (CSV or gzip CSV) with the active model and store every
    /// account's probability and decile, with a progress bar. Prints the run id.
    ScoreBatch {
        /// The file: a header, `account_id` (or `ban`) and every model feature by name; an
        /// empty cell is a missing value.
        #[arg(long)]
        input: PathBuf,
        /// Make the run the model's decile reference when it succeeds.
        #[arg(long)]
        reference: bool,
        /// Bad rows to skip; by default one bad row stores nothing.
        #[arg(long, default_value_t = 0)]
        max_bad_rows: u64,
        /// Keep each account's top N reason codes (TreeSHAP), for campaign call lists (at most
        /// 10; 0: none). Expensive: a TreeSHAP evaluation per account (about 5 ms per account
        /// per core for the 500-tree demo model).
        #[arg(long, default_value_t = 0)]
        explain: usize,
        /// Registered and activated first when no model is active.
        #[arg(long, env = "MODEL_PATH", default_value = "models/demo/model.txt")]
        model_path: String,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Write a synthetic account population shaped like the demo model's features (gzip when
    /// the file name ends in .gz), for trying `score-batch` and for benchmarks.
    Population {
        /// Where to write it.
        #[arg(long)]
        output: PathBuf,
        /// Accounts.
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Seed: the same seed gives the same accounts.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Add the synthetic outcome as a `target` column.
        #[arg(long)]
        with_target: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Print the OpenAPI 3.1 document (what `openapi/openapi.json` holds).
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Create, list and revoke API keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Manage the private PostgreSQL cluster used when DATABASE_URL is unset.
    LocalDb {
        #[command(subcommand)]
        action: LocalDbCommand,
        #[command(flatten)]
        database: DatabaseConfig,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ImportFormatArg {
    Csv,
    Xes,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once (only its hash is stored).
    Create {
        #[arg(long, value_enum)]
        role: Role,
        /// A name to recognise the key by, e.g. `crm-prod` or `dashboard-1`.
        #[arg(long)]
        name: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke the active key with this name or id.
    Revoke {
        /// The key's name, or its id (the 12 characters after `sb_`).
        name_or_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LocalDbCommand {
    /// Create and start the cluster if needed, and print its URL.
    Start,
    /// Stop the cluster.
    Stop,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is worth knowing about.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: .env: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    if let Err(e) = telemetry::init_logging(&cli.log) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "switchboard failed");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            serve,
            cases,
            database,
        } => {
            serve.validate().map_err(anyhow::Error::msg)?;
            run_serve(Config {
                database,
                serve,
                cases,
            })
            .await
        }
        Command::Import {
            file,
            format,
            with_lifecycle,
            mapping,
            timezone,
            max_bad_rows,
            cases,
            database,
        } => {
            let mapping = match mapping {
                None => None,
                Some(text) => {
                    let json = match text.strip_prefix('@') {
                        Some(path) => std::fs::read_to_string(path)
                            .with_context(|| format!("cannot read {path}"))?,
                        None => text,
                    };
                    Some(
                        serde_json::from_str(&json)
                            .context("--mapping is not a valid column mapping")?,
                    )
                }
            };
            let options = ImportOptions {
                format: format.map(|f| match f {
                    ImportFormatArg::Csv => ImportFormat::Csv,
                    ImportFormatArg::Xes => ImportFormat::Xes,
                }),
                classifier: if with_lifecycle {
                    Classifier::NameAndLifecycle
                } else {
                    Classifier::Name
                },
                mapping,
                timezone,
                max_bad_rows,
            };
            let pool = connect(&database).await?;
            db::migrate(&pool).await?;
            run_import(&pool, &file, &options, &cases).await
        }
        Command::ScoreBatch {
            input,
            reference,
            max_bad_rows,
            explain,
            model_path,
            database,
        } => {
            let pool = connect(&database).await?;
            db::migrate(&pool).await?;
            runs::command::score_batch(&pool, &input, reference, max_bad_rows, explain, &model_path)
                .await
        }
        Command::DemoData {
            cases,
            seed,
            output,
        } => {
            tokio::task::spawn_blocking(move || write_demo_data(cases, seed, output.as_deref()))
                .await?
        }
        Command::Population {
            output,
            rows,
            seed,
            with_target,
        } => {
            tokio::task::spawn_blocking(move || {
                runs::command::write_population(&output, rows, seed, with_target)
            })
            .await?
        }
        Command::Migrate { database } => {
            let pool = connect(&database).await?;
            db::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Openapi { output } => {
            let json = http::openapi::document_json();
            match output {
                Some(path) => std::fs::write(&path, json)
                    .with_context(|| format!("cannot write {}", path.display())),
                None => {
                    print!("{json}");
                    Ok(())
                }
            }
        }
        Command::Keys { action, database } => {
            let pool = connect(&database).await?;
            db::migrate(&pool).await?;
            run_keys(&pool, action).await
        }
        Command::LocalDb { action, database } => {
            let cluster =
                db::local::LocalCluster::new(&database.local_pg_dir, database.local_pg_port);
            match action {
                LocalDbCommand::Start => {
                    let url =
                        tokio::task::spawn_blocking(move || cluster.ensure_running()).await??;
                    println!("{}", url.expose());
                }
                LocalDbCommand::Stop => {
                    let stopped = tokio::task::spawn_blocking(move || cluster.stop()).await??;
                    println!("{}", if stopped { "stopped" } else { "not running" });
                }
            }
            Ok(())
        }
    }
}

/// `demo-data`: the demo log to a file or standard output.
fn write_demo_data(
    cases: usize,
    seed: u64,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let config = demo::config(cases, seed);
    let summary = match output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            demo::write_csv(&config, std::io::BufWriter::new(file))
                .with_context(|| format!("cannot write {}", path.display()))?
        }
        None => demo::write_csv(&config, std::io::stdout().lock())?,
    };
    eprintln!(
        "wrote {} cases ({} rows; {} in Portuguese, {} with a derived column inconsistent on purpose){}",
        summary.cases,
        summary.rows,
        summary.portuguese_cases,
        summary.inconsistent_cases,
        output.map_or_else(String::new, |p| format!(" to {}", p.display()))
    );
    Ok(())
}

async fn connect(database: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let url = db::resolve_url(database).await?;
    tracing::info!(database = %url.redacted(), "using database");
    db::pool(&url, database)
}

/// `keys` subcommands; public so tests exercise the same code path as the CLI.
pub async fn run_keys(pool: &PgPool, action: KeysCommand) -> anyhow::Result<()> {
    match action {
        KeysCommand::Create { role, name } => {
            let key = auth::create_key(pool, &name, role).await?;
            eprintln!(
                "Created {} key `{name}`. Store it now: it is not shown again.",
                role.as_str()
            );
            println!("{key}");
        }
        KeysCommand::List => {
            println!(
                "{:<14} {:<7} {:<25} {:<25} {:<25} name",
                "id", "role", "created", "last used", "revoked"
            );
            for key in auth::store::list_keys(pool).await? {
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map_or_else(
                        || "-".to_owned(),
                        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    )
                };
                println!(
                    "{:<14} {:<7} {:<25} {:<25} {:<25} {}",
                    key.lookup_id,
                    key.role.as_str(),
                    when(Some(key.created_at)),
                    when(key.last_used_at),
                    when(key.revoked_at),
                    key.name
                );
            }
        }
        KeysCommand::Revoke { name_or_id } => {
            let revoked = auth::store::revoke_key(pool, &name_or_id).await?;
            anyhow::ensure!(
                revoked > 0,
                "no active key has the name or id `{name_or_id}`"
            );
            println!(
                "revoked {revoked} key(s); running servers stop accepting it within AUTH_CACHE_TTL_S"
            );
        }
    }
    Ok(())
}

/// Connects, migrates if configured, and assembles the state `serve` runs with. Returns the
/// state and, on a first start, the admin key created for the operator.
pub async fn prepare(config: Config) -> anyhow::Result<(AppState, Option<String>)> {
    let url = db::resolve_url(&config.database).await?;
    tracing::info!(database = %url.redacted(), "using database");
    let pool = db::pool(&url, &config.database)?;
    if config.serve.migrate_on_start {
        db::migrate(&pool).await?;
    }
    let first_admin_key = if config.serve.auth_disabled {
        tracing::warn!(
            "AUTH_DISABLED=true: every request is treated as admin, without a key. Never do this outside a local demo."
        );
        None
    } else {
        let bootstrap = config
            .serve
            .bootstrap_admin_key
            .as_ref()
            .and_then(|k| ApiKey::parse(k.expose()));
        auth::ensure_admin_key(&pool, bootstrap.as_ref()).await?
    };
    let state = AppState::new(pool, config);
    let (pool, config, models) = (&state.db, &state.config, &state.models);
    let model_path = std::path::Path::new(&config.serve.model_path);
    if !config.serve.model_path.is_empty() {
        if model_path.exists() {
            models
                .bootstrap_from_file(pool, model_path)
                .await
                .with_context(|| format!("MODEL_PATH {}", model_path.display()))?;
        } else {
            tracing::warn!(path = %model_path.display(), "MODEL_PATH does not exist; no model registered from it");
        }
    }
    models.sync_with_database(pool).await?;
    match models.active() {
        Some(model) => tracing::info!(
            model_id = model.id,
            name = %model.name,
            trees = model.tree_count,
            evaluator = model.evaluator(),
            "serving model"
        ),
        None => tracing::warn!(
            "no active model: scoring answers 503 until one is uploaded and activated"
        ),
    }
    Ok((state, first_admin_key))
}

async fn run_serve(config: Config) -> anyhow::Result<()> {
    let listen_addr = config.serve.listen_addr;
    let drain_timeout = config.serve.shutdown_timeout();
    let connection_limits = http::ConnectionLimits::from_config(&config.serve);
    tracing::info!(config = ?config, "starting");
    let (state, first_admin_key) = prepare(config).await?;
    if let Some(key) = first_admin_key {
        // Printed, not logged: log pipelines keep copies, a terminal does not.
        eprintln!(
            "\n================================================================\n\
             No admin key existed, so one was created. It is shown only now:\n\n    {key}\n\n\
             Use it as `Authorization: Bearer {key}`.\n\
             Create more with `switchboard keys create --role <scorer|viewer|admin> --name <name>`\n\
             (`switchboard` is target/release/switchboard, or on the PATH after `cargo install --path .`).\n\
             ================================================================\n"
        );
    }
    if let Err(error) = import_demo_cases(&state).await {
        // A demo is a convenience: the service runs without it.
        tracing::warn!(
            error = format!("{error:#}"),
            "could not import the demo cases"
        );
    }
    spawn_replica_heartbeat(&state);
    spawn_replica_sync(&state);
    spawn_case_refresh(&state);
    let app = http::app(state);
    let listener = tokio::net::TcpListener::bind(listen_addr)
        .await
        .with_context(|| format!("cannot listen on {listen_addr}"))?;
    tracing::info!("listening on http://{listen_addr} (API docs at http://{listen_addr}/docs)");
    http::serve(
        listener,
        app,
        http::shutdown_signal(),
        drain_timeout,
        connection_limits,
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Cases imported on a zero-configuration start.
pub const DEMO_CASES: usize = 5_000;

/// On the zero-configuration start (no `DATABASE_URL`, so the private cluster) with an empty
/// case store and `DEMO_DATA` on, imports [`DEMO_CASES`] demo cases so that every KPI, process
/// view and staffing plan answers with data at once. Never when `DATABASE_URL` is set.
pub async fn import_demo_cases(state: &AppState) -> anyhow::Result<()> {
    let config = &state.config;
    if config.database.database_url.is_some() || !config.serve.demo_data {
        return Ok(());
    }
    if case_store::any_case(&state.db).await? {
        return Ok(());
    }
    tracing::info!(
        cases = DEMO_CASES,
        "empty case store on the private cluster: importing demo cases (DEMO_DATA=false to skip)"
    );
    let started = std::time::Instant::now();
    let file = tempfile::NamedTempFile::new()?;
    let path = file.path().to_path_buf();
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<demo::DemoSummary> {
        let out = std::fs::File::create(&path)?;
        Ok(demo::write_csv(
            &demo::config(DEMO_CASES, 42),
            std::io::BufWriter::new(out),
        )?)
    })
    .await??;
    let id = case_store::create_import(
        &state.db,
        &format!("demo-data --cases {DEMO_CASES}"),
        "csv",
        "switchboard serve (demo data)",
    )
    .await?;
    let cases = &config.cases;
    let result = ingest::import_file(
        &state.db,
        file.path(),
        &ImportOptions::default(),
        cases.event_timezone,
        cases.import_limits(),
        &cases.metrics(),
        |_, _| {},
    )
    .await;
    let (report, error) = match result {
        Ok(report) => (report, None),
        Err(error) => (ingest::ImportReport::default(), Some(error.to_string())),
    };
    case_store::finish_import(&state.db, id, &report, error.as_deref()).await?;
    if let Some(error) = error {
        anyhow::bail!(error);
    }
    tracing::info!(
        cases = written.cases,
        events = report.stored.events_stored,
        seconds = started.elapsed().as_secs_f64(),
        "demo cases imported (created 2026-01-05 to 2026-04-05; GET /v1/reconciliation shows their deliberate inconsistencies)"
    );
    Ok(())
}

/// Keeps this replica in line with the database: the model activated there (on whichever
/// replica) and its decile reference, the newest scoring run's scores held for account
/// look-ups, and runs whose process stopped marked failed.
fn spawn_replica_sync(state: &AppState) {
    let seconds = state.config.serve.model_refresh_s;
    let max_accounts = latest_scores_limit(&state.config.serve);
    let (models, latest, db) = (
        state.models.clone(),
        state.latest_scores.clone(),
        state.db.clone(),
    );
    tokio::spawn(async move {
        loop {
            if max_accounts > 0
                && let Err(e) = latest.refresh(&db, max_accounts).await
            {
                tracing::warn!(error = %e, "could not load the newest scoring run's scores");
            }
            if seconds == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
            if let Err(e) = models.sync_with_database(&db).await {
                tracing::warn!(error = %e, "could not check the active model");
            }
        }
    });
}

/// Beats this replica's heartbeat and, at start and then with every beat, fails the imports
/// and scoring runs orphaned by replicas that stopped (one replica at a time does it).
pub fn spawn_replica_heartbeat(state: &AppState) {
    let db = state.db.clone();
    let (every, orphan_timeout) = (
        state.config.serve.job_heartbeat(),
        state.config.serve.orphan_timeout(),
    );
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut beats = 0u64;
        loop {
            tick.tick().await;
            if let Err(e) = replica::heartbeat(&db).await {
                tracing::warn!(error = %e, "could not record this replica's heartbeat");
                continue;
            }
            match replica::reconcile(&db, orphan_timeout).await {
                Ok(Some(done)) if done.imports + done.runs > 0 => tracing::warn!(
                    imports = done.imports,
                    runs = done.runs,
                    "marked imports and scoring runs orphaned by a stopped replica as failed"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not check for orphaned jobs"),
            }
            beats += 1;
            if beats.is_multiple_of(360)
                && let Err(e) = replica::store::forget_dead_replicas(&db).await
            {
                tracing::warn!(error = %e, "could not forget long-dead replicas");
            }
        }
    });
}

/// Keeps time-dependent case metrics current: FCR variants mature and open SLAs near or
/// breach without any new event; and rebuilds the case indexes once writes have bloated them.
/// One replica at a time does each (advisory locks); the others skip the round.
fn spawn_case_refresh(state: &AppState) {
    let (db, config) = (state.db.clone(), state.config.cases.metrics());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let refresh = replica::once(
                &db,
                replica::locks::CASE_REFRESH,
                ingest::refresh_due_cases(&db, &config, chrono::Utc::now()),
            );
            match refresh.await {
                Ok(None | Some(0)) => {}
                Ok(Some(count)) => tracing::info!(
                    cases = count,
                    "recomputed cases whose metrics changed with time"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "could not refresh time-dependent case metrics")
                }
            }
            // Live events write case rows a batch at a time: their indexes' upkeep.
            if let Err(e) = ingest::rebuild_indexes_if_bloated(&db).await {
                tracing::warn!(error = %e, "could not rebuild the case indexes");
            }
        }
    });
}

async fn run_import(
    pool: &PgPool,
    file: &std::path::Path,
    options: &ImportOptions,
    cases: &CasesConfig,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec}) {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let progress_bar = bar.clone();
    let result = ingest::import_file(
        pool,
        file,
        options,
        cases.event_timezone,
        cases.import_limits(),
        &cases.metrics(),
        move |phase, rows| {
            let phase = match phase {
                ImportPhase::Validating => "validating",
                ImportPhase::Storing => "storing",
            };
            if progress_bar.message() != phase {
                progress_bar.set_message(phase);
                progress_bar.reset_elapsed();
            }
            progress_bar.set_position(rows);
        },
    )
    .await;
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(ingest::ImportFailure::TooManyBadRows { report, .. }) => {
            for bad in report.bad_rows.iter().take(20) {
                for error in &bad.errors {
                    eprintln!("line {}: {}: {}", bad.line, error.field, error.message);
                }
            }
            anyhow::bail!(
                "{} bad row(s) (allowed: {}); nothing was stored",
                report.bad_rows_count,
                options.max_bad_rows
            );
        }
        Err(error) => return Err(error.into()),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(hint) = &report.hint {
        eprintln!("hint: {hint}");
    }
    eprintln!(
        "imported {} in {:.1} s: {} events stored, {} duplicates skipped, {} cases touched",
        file.display(),
        started.elapsed().as_secs_f64(),
        report.stored.events_stored,
        report.stored.duplicates_skipped,
        report.stored.cases_touched
    );
    let reindex = std::time::Instant::now();
    if let Some(rows) = ingest::rebuild_indexes_if_bloated(pool).await? {
        eprintln!(
            "rebuilt the case indexes ({rows} rows written since their last rebuild) in {:.1} s",
            reindex.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
