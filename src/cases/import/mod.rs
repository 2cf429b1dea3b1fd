//! Event-file importers: CSV in the template's columns, CSV through a column mapping, and
//! XES (plain or gzip, detected by magic bytes). Each reads a file as a stream of
//! line-numbered rows; `ingest` stores them in batches.

pub mod csv;
pub mod xes;

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufRead, BufReader},
    path::Path,
};

use chrono_tz::Tz;
use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::input::NewEvent;
use crate::validation::FieldError;

/// One row of a file: the event, or every reason it is invalid.
#[derive(Debug)]
pub struct ParsedRow {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    pub event: Result<NewEvent, Vec<FieldError>>,
}

/// A file that cannot be read at all (not a single bad row).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("{0}")]
    Options(String),
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    /// CSV: the template's columns, or any columns through `mapping`.
    Csv,
    /// XES (IEEE 1849), plain or gzip.
    Xes,
}

/// Which XES attributes make the activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Classifier {
    /// `concept:name`.
    #[default]
    Name,
    /// `concept:name` + `lifecycle:transition`, joined by `+` (as pm4py and the files'
    /// declared classifiers do).
    NameAndLifecycle,
}

/// For CSV files not in the template's columns: which column is what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    pub case_id: String,
    pub activity: String,
    pub event_time: String,
    /// chrono format of `event_time` when it is not RFC 3339 (e.g. `%d/%m/%Y %H:%M`).
    pub time_format: Option<String>,
    /// Template field → column, e.g. `{"agent": "assigned_to", "priority": "priority"}`.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Further columns kept as event attributes (JSON).
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Columns whose values, joined by `|`, make the event id (for logs whose rows have no
    /// single id column, e.g. `["sys_mod_count", "sys_updated_at"]`).
    #[serde(default)]
    pub event_id_columns: Vec<String>,
}

/// How to read a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// Detected from the content when absent (`<` first: XES).
    pub format: Option<ImportFormat>,
    /// XES only.
    #[serde(default)]
    pub classifier: Classifier,
    /// CSV only.
    pub mapping: Option<ColumnMapping>,
    /// IANA zone for timestamps without an offset (default: the server's `EVENT_TIMEZONE`).
    pub timezone: Option<String>,
    /// Bad rows allowed before the import fails (default 0: all or nothing).
    #[serde(default)]
    pub max_bad_rows: u64,
}

/// Opens a file, transparently un-gzipping it (magic bytes 1f 8b).
pub fn open(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut file = BufReader::with_capacity(1 << 20, File::open(path)?);
    let gzip = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    })
}

/// XES when the first non-blank byte is `<`, else CSV.
pub fn detect_format(reader: &mut dyn BufRead) -> std::io::Result<ImportFormat> {
    let head = reader.fill_buf()?;
    let first = head
        .iter()
        .find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF);
    Ok(if first == Some(&b'<') {
        ImportFormat::Xes
    } else {
        ImportFormat::Csv
    })
}

/// Rows read lazily from a file.
pub type RowStream = Box<dyn Iterator<Item = Result<ParsedRow, ImportError>> + Send>;

/// How much of a file an import may hold in memory at once (`IMPORT_MAX_RECORD_BYTES`,
/// `IMPORT_MAX_TRACE_BYTES`); beyond it the file is refused, naming the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// A CSV record with the blank lines before it, or an XES tag or text node.
    pub max_record_bytes: u64,
    /// An XES trace (its events are held until it ends).
    pub max_trace_bytes: u64,
    /// Rows a file may have to be stored in one transaction as it is validated (see
    /// `ingest::import_file`); larger files are stored after validation, batch by batch.
    pub max_streamed_rows: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_record_bytes: 1 << 20,
            max_trace_bytes: 64 << 20,
            max_streamed_rows: 250_000,
        }
    }
}

/// The rows of a file, read lazily. The head is read at once: a CSV header without the
/// needed columns, or XML that is not an XES log, fails here.
pub fn rows(
    path: &Path,
    options: &ImportOptions,
    default_zone: Tz,
    limits: ImportLimits,
) -> Result<(ImportFormat, RowStream), ImportError> {
    let zone = match &options.timezone {
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| ImportError::Options(format!("unknown time zone '{name}'")))?,
        None => default_zone,
    };
    let mut reader = open(path)?;
    let format = match options.format {
        Some(format) => format,
        None => detect_format(&mut reader)?,
    };
    let rows: RowStream = match format {
        ImportFormat::Csv => Box::new(csv::CsvRows::new(
            reader,
            options.mapping.clone(),
            zone,
            limits.max_record_bytes,
        )?),
        ImportFormat::Xes => {
            let xes_limits = xes::XesLimits {
                max_element_bytes: limits.max_record_bytes,
                max_trace_bytes: limits.max_trace_bytes,
            };
            let mut rows = xes::XesRows::new(reader, options.classifier, zone, xes_limits);
            rows.check_root()?;
            Box::new(rows)
        }
    };
    Ok((format, rows))
}
