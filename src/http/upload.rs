//! Receiving an uploaded file: a multipart form whose `file` part is streamed to a temporary
//! file (never held in memory) and whose other parts are small text fields.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::http::StatusCode;
use tokio::io::AsyncWriteExt;

use super::error::ApiError;

/// Largest text part of a form (everything but `file`), in bytes.
pub const FIELD_LIMIT_BYTES: usize = 64 * 1024;

/// A received form.
pub struct Upload {
    /// The file part's file name (`upload` when the client sent none).
    pub file_name: String,
    /// Deleted when dropped.
    pub path: tempfile::TempPath,
    /// The other parts, by name.
    pub fields: HashMap<String, String>,
}

/// Streams the form's `file` part to disk and collects its other parts.
pub async fn receive(mut form: Multipart) -> Result<Upload, ApiError> {
    let mut fields = HashMap::new();
    let mut file = None;
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        if name == "file" {
            let file_name = field.file_name().unwrap_or("upload").to_owned();
            let (std_file, path) = tempfile::NamedTempFile::new()
                .map_err(ApiError::internal)?
                .into_parts();
            let mut out = tokio::fs::File::from_std(std_file);
            while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                out.write_all(&chunk).await.map_err(ApiError::internal)?;
            }
            out.flush().await.map_err(ApiError::internal)?;
            file = Some((file_name, path));
        } else {
            // Read piece by piece: a text field is small, and a huge one must not be held
            // whole before it is refused.
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                if text.len() + chunk.len() > FIELD_LIMIT_BYTES {
                    return Err(ApiError::payload_too_large(format!(
                        "the form field `{name}` is larger than {FIELD_LIMIT_BYTES} bytes"
                    )));
                }
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(text).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-form",
                    format!("the form field `{name}` is not UTF-8 text"),
                )
            })?;
            fields.insert(name, text);
        }
    }
    let Some((file_name, path)) = file else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing-file",
            "the form has no `file` part",
        ));
    };
    Ok(Upload {
        file_name,
        path,
        fields,
    })
}

fn bad_form(error: axum::extract::multipart::MultipartError) -> ApiError {
    let status = error.status();
    ApiError::new(
        status,
        "invalid-form",
        format!("reading the multipart form: {}", error.body_text()),
    )
}

/// Streams a request body to a temporary file (never held in memory), deleted when dropped.
pub async fn spool(mut body: axum::body::Body) -> Result<tempfile::TempPath, ApiError> {
    use http_body_util::BodyExt;
    let (std_file, path) = tempfile::NamedTempFile::new()
        .map_err(ApiError::internal)?
        .into_parts();
    let mut out = tokio::fs::File::from_std(std_file);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(body_error)?;
        if let Ok(data) = frame.into_data() {
            out.write_all(&data).await.map_err(ApiError::internal)?;
        }
    }
    out.flush().await.map_err(ApiError::internal)?;
    Ok(path)
}

/// Reads a whole body of at most `limit` bytes (413 beyond).
pub async fn read_small(
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(body_error)
}

/// A body that failed to arrive: too large (413), or cut off by the client (400).
fn body_error(error: axum::Error) -> ApiError {
    let inner = error.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return ApiError::payload_too_large(
                "the request body is larger than the server accepts",
            );
        }
        source = e.source();
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "unreadable-body",
        format!("reading the request body: {inner}"),
    )
}
