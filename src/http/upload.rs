//! Receiving an uploaded file: a multipart form whose `file` part is streamed to a temporary
//! file (never held in memory) and whose other parts are small text fields.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::http::StatusCode;
use tokio::io::AsyncWriteExt;

use super::error::ApiError;

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
            fields.insert(name, field.text().await.map_err(bad_form)?);
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
