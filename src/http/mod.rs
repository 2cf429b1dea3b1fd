//! The HTTP surface: router assembly from the capability routers, middleware, docs and serving.

pub mod error;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod ui;
pub mod upload;

use std::{future::Future, time::Duration};

use axum::{Router, http::Method};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;
use error::ApiError;

/// Every documented route, with the OpenAPI document they make up.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(health::router())
        .merge(metrics::router())
        .merge(crate::auth::router())
        .merge(crate::scoring::router())
        .merge(crate::cases::router())
        .merge(crate::staffing::router())
        .merge(crate::kpi::router())
        .merge(crate::sla::router())
        .merge(crate::campaigns::router())
        .merge(crate::escalation::router())
}

/// The complete application: routes, docs at `/docs`, fallbacks and middleware.
pub fn app(state: AppState) -> Router {
    let (router, api) = api_router().split_for_parts();
    let api = openapi::finish(api);
    let config = &state.config.serve;
    let router = router
        .merge(SwaggerUi::new("/docs").url("/openapi.json", api))
        .merge(ui::router())
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    middleware::apply(router, config, state.config.cases.import_limit_bytes)
}

async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{} does not accept {method}", uri.path()),
    )
}

/// How many connections the server holds, and how long a client may take to send a request
/// head (`HTTP_MAX_CONNECTIONS`, `HTTP_HEADER_READ_TIMEOUT_S`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections served at once; beyond it, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Time from a connection's opening (or from its previous response) to a complete
    /// request head; after it the connection is closed. Bounds slow headers and idle
    /// keep-alive connections alike.
    pub header_read_timeout: Duration,
}

impl ConnectionLimits {
    pub fn from_config(config: &crate::config::ServeConfig) -> Self {
        ConnectionLimits {
            max_connections: usize::try_from(config.http_max_connections).unwrap_or(usize::MAX),
            header_read_timeout: Duration::from_secs(config.http_header_read_timeout_s),
        }
    }
}

/// Serves until `shutdown` resolves, then stops accepting connections and lets in-flight
/// requests finish for at most `drain_timeout`.
///
/// Connections are served by hyper-util's HTTP/1 + HTTP/2 builder with a header-read
/// timeout (a slow or idle client cannot hold a connection), at most `max_connections` at
/// once (a semaphore in front of `accept`, so the process never runs out of descriptors).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain_timeout: Duration,
    limits: ConnectionLimits,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

    warn_if_descriptors_short(limits.max_connections);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit?,
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors or a connection reset before accept: not fatal.
                    tracing::warn!(error = %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service =
            hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                app.clone(),
                |request: axum::http::Request<hyper::body::Incoming>| {
                    request.map(axum::body::Body::new)
                },
            ));
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        let header_read_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            // hyper-util reads the first bytes to tell HTTP/1 from HTTP/2 before HTTP/1's
            // header timer starts: a client that sends nothing is dropped here instead.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(header_read_timeout, stream.peek(&mut first)).await,
                Ok(Ok(1))
            ) {
                drop(permit);
                return;
            }
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            // Errors here are the client's (reset, malformed or too slow a request head).
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain_timeout) => {
            tracing::warn!(seconds = drain_timeout.as_secs(), "in-flight requests did not finish in time; exiting anyway");
        }
    }
    Ok(())
}

/// Raises the soft descriptor limit to the hard one and warns when it still cannot hold
/// every connection with room for the database pool and files.
#[allow(unsafe_code, reason = "getrlimit/setrlimit through libc")]
fn warn_if_descriptors_short(max_connections: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read or write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    let needed = u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(256);
    if limit.rlim_cur < needed {
        tracing::warn!(
            descriptors = limit.rlim_cur,
            http_max_connections = max_connections,
            "the open-file limit is below HTTP_MAX_CONNECTIONS + 256; lower HTTP_MAX_CONNECTIONS or raise `ulimit -n`"
        );
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
