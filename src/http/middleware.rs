//! The middleware stack every request passes through.

use std::any::Any;

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use super::{error::ApiError, metrics::record_request_metrics};
use crate::config::ServeConfig;

/// Paths whose bodies are files: they get `IMPORT_LIMIT_BYTES` instead of `BODY_LIMIT_BYTES`.
const UPLOAD_PATHS: [&str; 2] = ["/v1/imports", "/v1/scoring-runs"];

/// Whether a request uploads a file (and gets the upload limit): the paths above and the
/// outcomes of a scoring run.
fn is_upload(path: &str) -> bool {
    UPLOAD_PATHS.contains(&path)
        || path
            .strip_prefix("/v1/scoring-runs/")
            .is_some_and(|rest| rest.ends_with("/outcomes"))
}

/// Wraps the router; listed from the innermost layer to the outermost.
pub fn apply(router: Router, config: &ServeConfig, upload_limit_bytes: u64) -> Router {
    let limits = BodyLimits {
        body: usize::try_from(config.body_limit_bytes).unwrap_or(usize::MAX),
        upload: usize::try_from(upload_limit_bytes).unwrap_or(usize::MAX),
    };
    let router = router
        // The limit is enforced by `limit_body` for every extractor alike.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            limit_body(limits, request, next)
        }))
        .layer(middleware::from_fn({
            let limit = config.request_timeout();
            move |request: Request, next: Next| time_limit(limit, request, next)
        }));
    let router = match cors_layer(&config.cors_allowed_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(security_headers))
        .layer(CatchPanicLayer::custom(panic_to_problem))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn(record_request_metrics))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only: query strings may carry customer identifiers.
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %request_id,
                )
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    body: usize,
    upload: usize,
}

/// Refuses bodies over the path's limit: at once when Content-Length says so, else when the
/// stream passes it (the extractors then answer 413).
/// Answers 408 when a request takes longer than `limit`, except uploads: they stream large
/// files, and with `wait=true` run the import or scoring run to its end.
async fn time_limit(limit: std::time::Duration, request: Request, next: Next) -> Response {
    if is_upload(request.uri().path()) {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

async fn limit_body(limits: BodyLimits, request: Request, next: Next) -> Response {
    let limit = if is_upload(request.uri().path()) {
        limits.upload
    } else {
        limits.body
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return ApiError::payload_too_large(format!(
            "the request body is larger than {limit} bytes"
        ))
        .into_response();
    }
    let (parts, body) = request.into_parts();
    let body = Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, body)).await
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<&String> = origins.iter().filter(|o| !o.is_empty()).collect();
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o.as_str() == "*") {
        AllowOrigin::any()
    } else {
        // Validated at start (config::ServeConfig::validate).
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse::<HeaderValue>().ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
            ])
            .expose_headers([
                header::ETAG,
                header::HeaderName::from_static("x-request-id"),
            ]),
    )
}

/// A panic becomes an ordinary 500 problem; the panic message goes to the log only.
fn panic_to_problem(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// Layers and extractors outside our code (timeouts, body limits, ...) answer with bare
/// statuses; this turns every such error response into problem+json.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let detail = match status {
        StatusCode::REQUEST_TIMEOUT => {
            "the request took longer than the server's time limit (REQUEST_TIMEOUT_S)".to_owned()
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than the server accepts (BODY_LIMIT_BYTES)".to_owned()
        }
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned(),
    };
    let mut problem = ApiError::from_status(status, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = response.headers().get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}

/// Problem documents, and JSON bodies our handlers chose deliberately (the 503 of `/readyz`).
fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with(super::error::PROBLEM_JSON) || v.starts_with("application/json")
        })
}

/// The Content-Security-Policy of the docs: Swagger UI's own scripts, styles and images (it
/// sets some inline), the document from this origin, and no framing.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The Content-Security-Policy of the built-in pages (`/ui/`): scripts, styles and images
/// from this origin only (no inline script or style attribute), API calls to this origin,
/// no framing.
const UI_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The Content-Security-Policy of everything else (JSON, metrics): nothing may run or frame it.
const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Headers every response carries: no MIME sniffing, no framing (X-Frame-Options for old
/// browsers, CSP frame-ancestors for the others), a CSP that still lets Swagger UI work on
/// `/docs` and the pages work on `/ui/`, and `Cache-Control: no-store` on the key listing, which no cache may keep.
async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let csp = if path == "/docs" || path.starts_with("/docs/") {
        DOCS_CSP
    } else if path == "/ui" || path.starts_with("/ui/") {
        UI_CSP
    } else {
        API_CSP
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if path.starts_with("/v1/keys") || path == "/v1/whoami" {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
