//! Conditional GET for every KPI, process and reconciliation response: the data version and
//! the request make an ETag that changes only when case data changes, so a poller's
//! `If-None-Match` costs one indexed row read and a 304.

use axum::{
    extract::{FromRequestParts, OriginalUri},
    http::{HeaderValue, StatusCode, Uri, header, request::Parts},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::store;
use crate::http::error::{ApiError, Json};

/// Freshness of the data behind a response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Freshness {
    /// How recent the data is: the latest event time stored, or the latest extraction time
    /// of imported data (the template's `LastDataUpdate`) when that is later.
    pub data_as_of: Option<DateTime<Utc>>,
    /// When case data last changed.
    pub last_ingested_at: Option<DateTime<Utc>>,
}

/// What a conditional GET needs of the request: the URI (part of the ETag) and the
/// client's `If-None-Match`. Handlers validate their parameters first, then call
/// [`Conditional::check`].
#[derive(Debug)]
pub struct Conditional {
    uri: Uri,
    if_none_match: Option<HeaderValue>,
}

impl<S: Send + Sync> FromRequestParts<S> for Conditional {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let OriginalUri(uri) = OriginalUri::from_request_parts(parts, state).await?;
        Ok(Conditional {
            uri,
            if_none_match: parts.headers.get(header::IF_NONE_MATCH).cloned(),
        })
    }
}

/// Why a handler stops before computing its answer: the client's copy is current (304), or
/// an error.
#[derive(Debug)]
pub enum Stop {
    NotModified(Response),
    Error(ApiError),
}

impl From<ApiError> for Stop {
    fn from(error: ApiError) -> Self {
        Stop::Error(error)
    }
}

impl From<sqlx::Error> for Stop {
    fn from(error: sqlx::Error) -> Self {
        Stop::Error(error.into())
    }
}

impl IntoResponse for Stop {
    fn into_response(self) -> Response {
        match self {
            Stop::NotModified(response) => response,
            Stop::Error(error) => error.into_response(),
        }
    }
}

/// How the response still to be computed is sent: with its ETag when cacheable.
#[derive(Debug)]
pub struct Reply {
    etag: Option<String>,
}

impl Conditional {
    /// Freshness and ETag; `Err(Stop::NotModified)` when the client's copy is current.
    pub async fn check(&self, db: &PgPool) -> Result<(Freshness, Reply), Stop> {
        let (freshness, reply) = self.fresh(db, true).await?;
        if let Some(etag) = &reply.etag
            && self.matches(etag)
        {
            return Err(Stop::NotModified(with_cache_headers(
                StatusCode::NOT_MODIFIED.into_response(),
                etag,
            )));
        }
        Ok((freshness, reply))
    }

    /// Freshness only, for an answer that moves with the clock: no ETag, no 304.
    pub async fn uncached(&self, db: &PgPool) -> Result<(Freshness, Reply), Stop> {
        Ok(self.fresh(db, false).await?)
    }

    async fn fresh(&self, db: &PgPool, cacheable: bool) -> Result<(Freshness, Reply), ApiError> {
        let data = store::freshness(db).await?;
        let etag = cacheable.then(|| {
            let digest = Sha256::digest(self.uri.to_string().as_bytes());
            format!("\"{}-{}\"", data.version, hex::encode(&digest[..8]))
        });
        Ok((
            Freshness {
                data_as_of: data.data_as_of,
                last_ingested_at: data.last_ingested_at,
            },
            Reply { etag },
        ))
    }

    fn matches(&self, etag: &str) -> bool {
        self.if_none_match
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|tag| tag.trim().trim_start_matches("W/") == etag || tag.trim() == "*")
            })
    }
}

impl Reply {
    /// The JSON answer, with the ETag and cache headers when cacheable.
    pub fn json(&self, body: impl Serialize) -> Response {
        let response = Json(body).into_response();
        match &self.etag {
            Some(etag) => with_cache_headers(response, etag),
            None => response,
        }
    }
}

fn with_cache_headers(mut response: Response, etag: &str) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    // Pollers revalidate every time; a 304 costs one indexed row read.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}
