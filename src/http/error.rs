//! One error type for every HTTP failure, rendered as RFC 9457 `application/problem+json`.
//!
//! Capabilities keep their own `thiserror` enums free of HTTP; the `From` impls here decide
//! status and wording. A 500 never shows its cause to the client; it is logged once instead.

use axum::{
    body::Bytes,
    extract::{
        FromRequest, FromRequestParts, RawPathParams, Request,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};
use utoipa::ToSchema;

use crate::{auth::AuthError, validation::FieldError};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:switchboard:problem:<slug>`), or `about:blank`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in words.
    pub detail: String,
    /// For validation failures: every offending field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The error every handler returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after_s: Option<u32>,
    www_authenticate: bool,
    /// Logged, never sent.
    cause: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            slug,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_s: None,
            www_authenticate: false,
            cause: None,
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", detail)
    }

    /// 422 with every offending field.
    pub fn validation(detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
            detail,
        );
        e.errors = errors;
        e
    }

    /// 400 for a path or query parameter that cannot be used, naming each.
    pub fn bad_parameters(
        slug: &'static str,
        detail: impl Into<String>,
        errors: Vec<FieldError>,
    ) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, slug, detail);
        e.errors = errors;
        e
    }

    pub fn unavailable(detail: impl Into<String>, retry_after_s: u32) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
        e.retry_after_s = Some(retry_after_s);
        e
    }

    /// A failure of ours: the client learns only that it happened.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle the request; it has been logged",
        );
        e.cause = Some(cause.into());
        e
    }

    /// The generic problem for a bare status (unknown route, timeout, ...).
    pub fn from_status(status: StatusCode, detail: impl Into<String>) -> Self {
        Self::new(status, "", detail)
    }

    pub fn problem(&self) -> Problem {
        let title = self.status.canonical_reason().unwrap_or("Error").to_owned();
        Problem {
            kind: if self.slug.is_empty() {
                "about:blank".into()
            } else {
                format!("urn:switchboard:problem:{}", self.slug)
            },
            title,
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(
                error = format!("{cause:#}"),
                status = self.status.as_u16(),
                "request failed"
            );
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after_s {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::MissingKey | AuthError::InvalidKey => {
                let mut api =
                    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", e.to_string());
                api.www_authenticate = true;
                api
            }
            AuthError::Forbidden { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            AuthError::Database(db) => db.into(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // The pool could not hand out a connection: the database is down or saturated.
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::unavailable("the database is unavailable; try again shortly", 5)
            }
            // Text PostgreSQL cannot store (a NUL byte, an invalid sequence) that no check
            // upstream caught: the client's input, not our failure.
            sqlx::Error::Database(ref db)
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                tracing::warn!(error = %e, "input refused by the database");
                ApiError::validation(
                    "the request holds text the database cannot store (such as a NUL character)",
                    Vec::new(),
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let detail = rejection.body_text();
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "the body must be JSON, sent with `Content-Type: application/json`",
            ),
            JsonRejection::JsonDataError(_) => ApiError::validation(detail, Vec::new()),
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed-json", detail)
            }
            JsonRejection::BytesRejection(_) => {
                ApiError::new(rejection.status(), "unreadable-body", detail)
            }
            _ => ApiError::new(rejection.status(), "malformed-request", detail),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-path",
            rejection.body_text(),
        )
    }
}

/// `axum::Json` whose rejections are problem+json.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    /// A well-formed body sent as `application/json` is read by plain serde_json. Anything
    /// else goes through `axum::Json`, whose serde_path_to_error names the failing field:
    /// that tracking copies every key it passes (64 per scored account), which cost more
    /// than the prediction, so it only runs again once a body has failed.
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_plain_json(request.headers()) {
            if !is_any_json(request.headers()) {
                // axum::Json answers the missing or wrong content type (415).
                let axum::Json(value) = axum::Json::from_request(request, state).await?;
                return Ok(Json(value));
            }
            let bytes = Bytes::from_request(request, state)
                .await
                .map_err(JsonRejection::from)?;
            refuse_nul_in_json(&bytes)?;
            let axum::Json(value) = axum::Json::from_bytes(&bytes)?;
            return Ok(Json(value));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(JsonRejection::from)?;
        refuse_nul_in_json(&bytes)?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(Json(value)),
            Err(_) => {
                let axum::Json(value) = axum::Json::from_bytes(&bytes)?;
                Ok(Json(value))
            }
        }
    }
}

/// `Content-Type: application/json`, with parameters or not (any other spelling axum
/// accepts, such as `application/problem+json`, takes the general path).
fn is_plain_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Any content type axum's `Json` accepts: `application/json` or `application/<x>+json`.
fn is_any_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| {
            essence
                .strip_prefix("application/")
                .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
        })
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// What every NUL-bearing parameter is told: PostgreSQL text cannot hold U+0000, and no
/// identifier or label of ours has a use for it.
const NUL_MESSAGE: &str = "must not contain a NUL character (U+0000)";

/// `axum::extract::Query` whose rejections are problem+json, and which refuses a parameter
/// holding a NUL character (400 naming it) before any handler sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Some(query) = parts.uri.query() {
            let errors: Vec<FieldError> = form_urlencoded::parse(query.as_bytes())
                .filter(|(name, value)| name.contains('\0') || value.contains('\0'))
                .map(|(name, _)| FieldError::new(name.replace('\0', "\\0"), NUL_MESSAGE))
                .collect();
            if !errors.is_empty() {
                return Err(ApiError::bad_parameters(
                    "invalid-query",
                    "a query parameter contains a NUL character",
                    errors,
                ));
            }
        }
        let axum::extract::Query(value) = axum::extract::Query::from_request_parts(parts, state)
            .await
            .map_err(ApiError::from)?;
        Ok(Query(value))
    }
}

/// `axum::extract::Path` whose rejections are problem+json, and which refuses a segment
/// holding a NUL character (400 naming the parameter) before any handler sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Ok(raw) = RawPathParams::from_request_parts(parts, state).await {
            let errors: Vec<FieldError> = raw
                .iter()
                .filter(|(_, value)| value.contains('\0'))
                .map(|(name, _)| FieldError::new(name, NUL_MESSAGE))
                .collect();
            if !errors.is_empty() {
                return Err(ApiError::bad_parameters(
                    "invalid-path",
                    "a path parameter contains a NUL character",
                    errors,
                ));
            }
        }
        let axum::extract::Path(value) = axum::extract::Path::from_request_parts(parts, state)
            .await
            .map_err(ApiError::from)?;
        Ok(Path(value))
    }
}

/// The JSON pointer of the first string (key or value) in `value` holding a NUL character.
fn nul_pointer(value: &serde_json::Value, at: &mut String) -> bool {
    fn escape(key: &str) -> String {
        key.replace('~', "~0")
            .replace('/', "~1")
            .replace('\0', "\\0")
    }
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
            let len = at.len();
            at.push_str(&format!("/{i}"));
            let found = nul_pointer(item, at);
            if !found {
                at.truncate(len);
            }
            found
        }),
        serde_json::Value::Object(map) => map.iter().any(|(key, item)| {
            let len = at.len();
            at.push('/');
            at.push_str(&escape(key));
            let found = key.contains('\0') || nul_pointer(item, at);
            if !found {
                at.truncate(len);
            }
            found
        }),
        _ => false,
    }
}

/// A JSON body holding `\u0000` anywhere: 422 naming where. Only bodies whose bytes contain
/// the escape are parsed a second time, so the hot path pays one `memmem`.
fn refuse_nul_in_json(bytes: &[u8]) -> Result<(), ApiError> {
    if memchr::memmem::find(bytes, b"\\u0000").is_none() {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    let mut pointer = String::new();
    if nul_pointer(&value, &mut pointer) {
        return Err(ApiError::validation(
            "a string in the body contains a NUL character",
            vec![FieldError::new(pointer, NUL_MESSAGE)],
        ));
    }
    Ok(())
}
