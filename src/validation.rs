//! What is wrong with an input, field by field: the shape every validation error of the
//! service takes, in request bodies, query parameters and uploaded files alike. Domain code
//! reports these; the HTTP layer renders them inside RFC 9457 problems, so neither depends
//! on the other.

use serde::Serialize;
use utoipa::ToSchema;

/// One invalid input.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    /// Where the problem is, as a JSON pointer into the request body (`/accounts/0/features/x`)
    /// or the name of a query or path parameter.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One bad row of an uploaded file (events, a population, outcomes).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct BadRow {
    /// Line in the file (the header is line 1).
    pub line: u64,
    /// What is wrong, per column (`field` is the column name, or `row` for the row as a whole).
    pub errors: Vec<FieldError>,
}
