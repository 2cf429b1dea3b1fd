//! Logging and the Prometheus metrics recorder.

use std::{io::IsTerminal, sync::OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Installs the global log subscriber (once; later calls are ignored, which keeps tests simple).
pub fn init_logging(config: &LogConfig) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter_directives(&config.log_level)).map_err(|e| {
        anyhow::anyhow!(
            "LOG_LEVEL `{}` is not a valid filter: {e}",
            config.log_level
        )
    })?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.log_format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colour codes only for a terminal, not for files and pipes.
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
    };
    // Already installed (tests build many apps in one process): keep the first.
    let _ = result;
    Ok(())
}

/// The filter for `LOG_LEVEL`: PostgreSQL's notices (`relation ... already exists, skipping`
/// from every `CREATE ... IF NOT EXISTS`) are logged from `warn` up unless the filter names
/// `sqlx` itself.
fn filter_directives(level: &str) -> String {
    if level.contains("sqlx") {
        level.to_owned()
    } else {
        format!("{level},sqlx::postgres::notice=warn")
    }
}

/// Request latency buckets, in seconds: fine below a millisecond where scoring lives.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// The process-wide Prometheus recorder (a process can install only one).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    if metrics::set_global_recorder(recorder).is_err() {
                        tracing::warn!("a metrics recorder was already installed");
                    }
                    handle
                }
                // Only fails on empty bucket lists, which LATENCY_BUCKETS is not.
                Err(e) => unreachable!("invalid metrics buckets: {e}"),
            }
        })
        .clone()
}
