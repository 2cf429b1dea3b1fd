//! Every setting, read from the environment (and the matching CLI flag), validated at start.
//!
//! `.env.example` mirrors this file: each variable with its default and meaning.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};

/// A secret value: usable, but never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// A PostgreSQL URL whose password is redacted when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced, safe for logs.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
            return url.clone();
        };
        let rest = &url[scheme_end..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => match rest[..at].find(':') {
                Some(colon) => format!(
                    "{}{}:[redacted]{}",
                    &url[..scheme_end],
                    &rest[..colon],
                    &rest[at..]
                ),
                None => url.clone(),
            },
            None => url.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(DatabaseUrl(s.to_owned()))
        } else {
            Err("must start with postgres:// or postgresql://".into())
        }
    }
}

/// Where the database is: an explicit server, or the project's private local cluster.
#[derive(Args, Debug, Clone)]
pub struct DatabaseConfig {
    /// PostgreSQL server to use. Unset: Switchboard starts (or reuses) a private cluster in
    /// `LOCAL_PG_DIR` from the installed PostgreSQL binaries.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,

    /// Data directory of the private cluster used when DATABASE_URL is unset.
    #[arg(long, env = "LOCAL_PG_DIR", default_value = "var/postgres")]
    pub local_pg_dir: PathBuf,

    /// TCP port (on 127.0.0.1) of the private cluster.
    #[arg(long, env = "LOCAL_PG_PORT", default_value_t = 54329)]
    pub local_pg_port: u16,

    /// Largest number of pooled connections.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,

    /// Seconds to wait for a pooled connection before failing the request with 503.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_S", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub database_acquire_timeout_s: u64,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for terminals.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Logging settings, shared by every subcommand.
#[derive(Args, Debug, Clone)]
pub struct LogConfig {
    /// `text` for terminals, `json` in production.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Log filter in `tracing` syntax, e.g. `info` or `switchboard=debug,tower_http=info`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,
}

/// Settings of `switchboard serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeConfig {
    /// Address and port to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: SocketAddr,

    /// Apply pending migrations at start (otherwise run `switchboard migrate` first).
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,

    /// Seconds before a request is answered 408.
    #[arg(long, env = "REQUEST_TIMEOUT_S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_s: u64,

    /// Largest request body in bytes (larger: 413).
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 16 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..=(1u64 << 34)))]
    pub body_limit_bytes: u64,

    /// Connections served at once; more wait in the listen backlog until one closes.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub http_max_connections: u64,

    /// Seconds a connection gets to send a complete request head, from its opening or its
    /// previous response: slow senders and idle keep-alive connections are closed after it.
    #[arg(long, env = "HTTP_HEADER_READ_TIMEOUT_S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub http_header_read_timeout_s: u64,

    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_timeout_s: u64,

    /// Comma-separated origins allowed by CORS (`*` for any). Empty: no cross-origin access.
    #[arg(
        long,
        env = "CORS_ALLOWED_ORIGINS",
        default_value = "",
        value_delimiter = ','
    )]
    pub cors_allowed_origins: Vec<String>,

    /// Accept every request as admin, without a key. For local demos only; loudly logged.
    #[arg(long, env = "AUTH_DISABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub auth_disabled: bool,

    /// An admin key to create at start if it does not exist yet (for automated set-ups; must
    /// have the form printed by `switchboard keys create`). Unset: the first start creates an
    /// admin key and prints it once.
    #[arg(long, env = "BOOTSTRAP_ADMIN_KEY", hide_env_values = true)]
    pub bootstrap_admin_key: Option<Secret>,

    /// LightGBM text model registered and activated at start when no model is active. A
    /// `<stem>.deciles.json` beside it becomes its decile reference. Empty: none.
    // A String, not a PathBuf: clap's path parser refuses the empty value that means "none".
    #[arg(long, env = "MODEL_PATH", default_value = "models/demo/model.txt")]
    pub model_path: String,

    /// Largest number of accounts in one `POST /v1/scores` (more: 413).
    #[arg(long, env = "MAX_ACCOUNTS_PER_REQUEST", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_accounts_per_request: u32,

    /// Seconds between checks that this replica serves the model activated in the database
    /// (another replica may have activated one). 0: never check.
    #[arg(long, env = "MODEL_REFRESH_S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=86400))]
    pub model_refresh_s: u64,

    /// The newest scoring run's scores are held in memory for `GET /v1/accounts/{id}/score`
    /// (about 35 bytes per account) unless it has more accounts than this; 0: never.
    #[arg(long, env = "LATEST_SCORES_MAX_ACCOUNTS", default_value_t = 5_000_000)]
    pub latest_scores_max_accounts: u64,

    /// On the zero-configuration start (no DATABASE_URL) with an empty case store, import
    /// 5,000 demo cases so KPIs, process views and staffing answer with data at once. Never
    /// when DATABASE_URL is set.
    #[arg(long, env = "DEMO_DATA", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_data: bool,

    /// Seconds between heartbeats of this replica and of the imports it runs (scoring runs
    /// beat every second), and between checks for orphaned jobs.
    #[arg(long, env = "JOB_HEARTBEAT_S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub job_heartbeat_s: u64,

    /// A running import or scoring run whose heartbeat is older than this, and whose replica
    /// has not beaten either, is orphaned: it is marked failed with what was committed.
    /// At least three heartbeats.
    #[arg(long, env = "ORPHAN_TIMEOUT_S", default_value_t = 120, value_parser = clap::value_parser!(u64).range(3..=86400))]
    pub orphan_timeout_s: u64,

    /// Seconds a validated API key is trusted before it is looked up again (revocation delay).
    #[arg(long, env = "AUTH_CACHE_TTL_S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub auth_cache_ttl_s: u64,

    /// While the database is unreachable, an API key validated before is still accepted up to
    /// this many seconds after the database last confirmed it (scoring answers from the
    /// in-memory model through an outage); every such use is logged. 0: never.
    #[arg(long, env = "AUTH_STALE_MAX_S", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(0..=604800))]
    pub auth_stale_max_s: u64,
}

impl ServeConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_s)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_s)
    }

    pub fn auth_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.auth_cache_ttl_s)
    }

    pub fn auth_stale_max(&self) -> Duration {
        Duration::from_secs(self.auth_stale_max_s)
    }

    pub fn job_heartbeat(&self) -> Duration {
        Duration::from_secs(self.job_heartbeat_s)
    }

    pub fn orphan_timeout(&self) -> Duration {
        Duration::from_secs(self.orphan_timeout_s)
    }

    /// Checks that clap's per-value parsing cannot express.
    pub fn validate(&self) -> Result<(), String> {
        for origin in self.cors_allowed_origins.iter().filter(|o| !o.is_empty()) {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(format!(
                    "CORS_ALLOWED_ORIGINS: `{origin}` is not an origin like https://crm.example.com"
                ));
            }
            if origin.parse::<axum::http::HeaderValue>().is_err() {
                return Err(format!(
                    "CORS_ALLOWED_ORIGINS: `{origin}` is not a valid header value"
                ));
            }
        }
        if self.orphan_timeout_s < 3 * self.job_heartbeat_s {
            return Err(format!(
                "ORPHAN_TIMEOUT_S ({}) must be at least three JOB_HEARTBEAT_S ({}): a live job would look orphaned",
                self.orphan_timeout_s, self.job_heartbeat_s
            ));
        }
        if let Some(key) = &self.bootstrap_admin_key
            && crate::auth::keys::ApiKey::parse(key.expose()).is_none()
        {
            return Err("BOOTSTRAP_ADMIN_KEY: not a Switchboard key (expected sb_<id>_<secret> as printed by `switchboard keys create`)".into());
        }
        Ok(())
    }
}

/// Settings of the case store: how event times are read and how metrics are computed.
#[derive(Args, Debug, Clone)]
pub struct CasesConfig {
    /// IANA time zone for event times given without an offset.
    #[arg(long, env = "EVENT_TIMEZONE", default_value = "UTC")]
    pub event_timezone: chrono_tz::Tz,

    /// N of the first-contact-resolution variants, in days.
    #[arg(long, env = "FCR_WINDOW_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub fcr_window_days: u32,

    /// Share of the SLA target from which an open case is `nearing`.
    #[arg(long, env = "SLA_WARNING_SHARE", default_value_t = 0.75, value_parser = parse_share)]
    pub sla_warning_share: f64,

    /// Comma-separated status reasons that put a case on hold (pausing its SLA clock), matched
    /// ignoring case and accents. `standard` stands for the template's English and Portuguese
    /// ones: On Hold, Em Espera, Waiting for Details, Aguardando Cliente. Empty: a case is on
    /// hold from each `info_requested` to its next event.
    #[arg(
        long,
        env = "HOLD_STATUS_REASONS",
        default_value = "",
        value_delimiter = ','
    )]
    pub hold_status_reasons: Vec<String>,

    /// Largest number of events in one `POST /v1/events` (more: 413; use imports).
    #[arg(long, env = "MAX_EVENTS_PER_REQUEST", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_events_per_request: u32,

    /// Largest event file accepted by `POST /v1/imports`, in bytes.
    #[arg(long, env = "IMPORT_LIMIT_BYTES", default_value_t = 4 << 30, value_parser = clap::value_parser!(u64).range(1024..=(1u64 << 40)))]
    pub import_limit_bytes: u64,

    /// Largest CSV record (with the blank lines before it) or XES tag or text an import
    /// holds in memory, in bytes; a longer one fails the import naming its line.
    #[arg(long, env = "IMPORT_MAX_RECORD_BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1024..=(1u64 << 32)))]
    pub import_max_record_bytes: u64,

    /// Largest XES trace an import holds in memory (its events wait for the trace's end), in
    /// bytes; a longer one fails the import naming its line.
    #[arg(long, env = "IMPORT_MAX_TRACE_BYTES", default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1024..=(1u64 << 36)))]
    pub import_max_trace_bytes: u64,
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if share > 0.0 && share < 1.0 => Ok(share),
        _ => Err(format!("`{text}` is not a share strictly between 0 and 1")),
    }
}

impl CasesConfig {
    /// The memory bounds of an import.
    pub fn import_limits(&self) -> crate::cases::import::ImportLimits {
        crate::cases::import::ImportLimits {
            max_record_bytes: self.import_max_record_bytes,
            max_trace_bytes: self.import_max_trace_bytes,
            ..Default::default()
        }
    }

    pub fn metrics(&self) -> crate::cases::metrics::MetricsConfig {
        let reasons = crate::cases::values::expand_hold_reasons(&self.hold_status_reasons);
        crate::cases::metrics::MetricsConfig {
            fcr_window_days: self.fcr_window_days,
            sla_warning_share: self.sla_warning_share,
            hold_status_reasons: (!reasons.is_empty()).then_some(reasons),
            sla: Default::default(),
        }
    }
}

/// Everything the running service needs, assembled once at start.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub serve: ServeConfig,
    pub cases: CasesConfig,
}

impl ServeConfig {
    /// The settings tests and benchmarks start from (a struct literal, so a new setting
    /// cannot be forgotten here): an ephemeral port, small bodies, no key cache (a revoked
    /// key fails at once), no demo data.
    pub fn for_tests() -> ServeConfig {
        ServeConfig {
            listen_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            migrate_on_start: true,
            request_timeout_s: 30,
            body_limit_bytes: 1024 * 1024,
            shutdown_timeout_s: 10,
            http_max_connections: 1024,
            http_header_read_timeout_s: 10,
            cors_allowed_origins: vec![],
            auth_disabled: false,
            bootstrap_admin_key: None,
            auth_cache_ttl_s: 0,
            job_heartbeat_s: 10,
            orphan_timeout_s: 120,
            auth_stale_max_s: 3600,
            model_path: String::new(),
            max_accounts_per_request: 100,
            // Read only by the background sync, which tests do not start; not 0, which would turn
            // off the in-memory look-up of the newest run's scores.
            model_refresh_s: 10,
            latest_scores_max_accounts: 5_000_000,
            demo_data: false,
        }
    }
}

impl CasesConfig {
    /// The case settings tests start from: UTC, 7-day FCR window, 1,000 events per request.
    pub fn for_tests() -> CasesConfig {
        CasesConfig {
            event_timezone: chrono_tz::Tz::UTC,
            fcr_window_days: 7,
            sla_warning_share: 0.75,
            hold_status_reasons: vec![],
            max_events_per_request: 1000,
            import_limit_bytes: 64 << 20,
            import_max_record_bytes: 1 << 20,
            import_max_trace_bytes: 64 << 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_password_is_redacted() {
        let url = DatabaseUrl::new("postgres://app:s3cret@db.internal:5432/switchboard");
        assert_eq!(
            url.redacted(),
            "postgres://app:[redacted]@db.internal:5432/switchboard"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn database_url_without_password_is_unchanged() {
        let url = DatabaseUrl::new("postgres://app@127.0.0.1/switchboard");
        assert_eq!(url.redacted(), "postgres://app@127.0.0.1/switchboard");
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret: Secret = "sb_abc_def".parse().unwrap();
        assert_eq!(format!("{secret:?}"), "\"[redacted]\"");
    }
}
