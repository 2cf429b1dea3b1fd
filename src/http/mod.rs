//! The HTTP surface: router assembly from the capability routers, middleware, docs and serving.

pub mod error;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod openapi;
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
}

/// The complete application: routes, docs at `/docs`, fallbacks and middleware.
pub fn app(state: AppState) -> Router {
    let (router, api) = api_router().split_for_parts();
    let api = openapi::finish(api);
    let config = &state.config.serve;
    let router = router
        .merge(SwaggerUi::new("/docs").url("/openapi.json", api))
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

/// Serves until `shutdown` resolves, then stops accepting connections and lets in-flight
/// requests finish for at most `drain_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain_timeout: Duration,
) -> anyhow::Result<()> {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = started_tx.send(());
        tracing::info!("shutting down: draining in-flight requests");
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let drain_deadline = async move {
        if started_rx.await.is_ok() {
            tokio::time::sleep(drain_timeout).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result.map_err(Into::into),
        () = drain_deadline => {
            tracing::warn!(seconds = drain_timeout.as_secs(), "in-flight requests did not finish in time; exiting anyway");
            Ok(())
        }
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
