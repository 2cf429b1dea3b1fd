//! CSV event files: the template's columns (its own names such as `ServiceRequest`, or the JSON
//! field names such as `case_id`, in any case and order; other columns become attributes), or
//! any columns through a [`ColumnMapping`].

use std::{
    collections::{BTreeMap, VecDeque},
    io::{BufRead, Read},
    sync::{Arc, Mutex},
};

use chrono_tz::Tz;
use serde_json::Value;

use super::{ColumnMapping, ImportError, ParsedRow};
use crate::{
    cases::{
        input::{EventInput, parse_timestamp},
        values,
    },
    validation::FieldError,
};

/// Every field a column can fill: [`TEMPLATE_FIELDS`], the extraction time and the
/// template's derived columns as reported.
pub const FIELDS: [&str; 23] = [
    "case_id",
    "activity",
    "event_time",
    "event_id",
    "lifecycle",
    "source_system",
    "channel",
    "sla_target_resolution_s",
    "status_reason",
    "agent",
    "customer",
    "priority",
    "request_type",
    "owner_team",
    "is_escalated",
    "knowledge_article_id",
    "csat",
    "product",
    "last_data_update",
    "reported_first_contact_resolution",
    "reported_rework",
    "reported_sla_breached",
    "reported_cycle_time_s",
];

/// The template's columns, which are also `EventInput`'s fields: the first 18 of [`FIELDS`].
pub const TEMPLATE_FIELDS: &[&str] = FIELDS.split_at(18).0;

/// The Dynamics 365 process-mining template's own column names, in its order, with the field
/// each fills.
pub const TEMPLATE_COLUMNS: [(&str, &str); 21] = [
    ("ServiceRequest", "case_id"),
    ("ActivityName", "activity"),
    ("EventTime", "event_time"),
    ("SourceSystem", "source_system"),
    ("LastDataUpdate", "last_data_update"),
    ("Channel", "channel"),
    ("SlaTargetResolutionTime", "sla_target_resolution_s"),
    ("StatusReason", "status_reason"),
    ("AgentName", "agent"),
    ("CustomerName", "customer"),
    ("Priority", "priority"),
    ("ServiceRequestType", "request_type"),
    (
        "IsFirstContactResolution",
        "reported_first_contact_resolution",
    ),
    ("IsRework", "reported_rework"),
    ("OwnerTeam", "owner_team"),
    ("IsEscalated", "is_escalated"),
    ("KnowledgeArticleId", "knowledge_article_id"),
    ("CustomerSatisfactionScore", "csat"),
    ("ProductInvolved", "product"),
    ("IsSlaBreached", "reported_sla_breached"),
    ("ServiceRequestCycleTime", "reported_cycle_time_s"),
];

/// The field a header names: a template column name or a field name, compared ignoring case,
/// spaces, `_` and `-` (`ServiceRequest`, `service request`, `case_id`, `CASE ID`).
fn field_of_header(header: &str) -> Option<&'static str> {
    let key = squash(header);
    TEMPLATE_COLUMNS
        .iter()
        .find(|(column, _)| squash(column) == key)
        .map(|(_, field)| *field)
        .or_else(|| FIELDS.iter().find(|f| squash(f) == key).copied())
        .or_else(|| {
            // Short forms the JSON API also uses for the reported columns.
            [
                (
                    "isfirstcontactresolution",
                    "reported_first_contact_resolution",
                ),
                ("reportedcycletime", "reported_cycle_time_s"),
            ]
            .into_iter()
            .find(|(alias, _)| *alias == key)
            .map(|(_, field)| field)
        })
}

fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What a column of the file becomes.
#[derive(Debug, Clone)]
enum Target {
    Field(&'static str),
    Attribute(String),
    Ignored,
}

/// Line numbers of the records of a stream. The csv crate's own leave out the blank lines
/// it skips (and its record positions start at them), so the newlines are noted as the
/// bytes go by; only those not yet behind a record are kept (about a read-ahead buffer's),
/// and a run of blank lines is kept as one count, so blank lines hold no memory.
///
/// It also bounds what the csv crate buffers: more than `max_record_bytes` read since the
/// start of the last record returned fails the read (a record, with the blank lines before
/// it, may not be longer).
#[derive(Debug, Default)]
struct Lines {
    /// Offset of each newline ending a non-blank line not yet passed, with the blank lines
    /// (empty, or a lone `\r`) just before it.
    pending: VecDeque<(u64, u64)>,
    /// Blank lines after the last pending newline.
    trailing_blanks: u64,
    /// Newlines before the last record looked up.
    passed: u64,
    /// Newlines noted so far.
    noted: u64,
    /// Bytes read so far, where the current line starts, and the last byte read.
    read: u64,
    line_start: u64,
    last_byte: u8,
    /// Start of the last record looked up, and how far past it reading may go (0: no bound).
    record_start: u64,
    max_record_bytes: u64,
}

/// Why reading stopped: a record longer than the import limit.
#[derive(Debug)]
pub struct RecordTooLong {
    pub line: u64,
    pub limit: u64,
}

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "more than {} bytes without a complete record (IMPORT_MAX_RECORD_BYTES)",
            self.limit
        )
    }
}

impl std::error::Error for RecordTooLong {}

/// Reading ahead of the record being parsed: the csv crate's buffer, with room to spare.
const READ_AHEAD: u64 = 64 * 1024;

impl Lines {
    fn note(&mut self, bytes: &[u8]) -> Result<(), RecordTooLong> {
        for i in memchr::memchr_iter(b'\n', bytes) {
            let offset = self.read + i as u64;
            let before = if i > 0 { bytes[i - 1] } else { self.last_byte };
            let length = offset - self.line_start;
            let blank = length == 0 || (length == 1 && before == b'\r');
            if blank {
                self.trailing_blanks += 1;
            } else {
                self.pending
                    .push_back((offset, std::mem::take(&mut self.trailing_blanks)));
            }
            self.noted += 1;
            self.line_start = offset + 1;
        }
        self.read += bytes.len() as u64;
        if let Some(&last) = bytes.last() {
            self.last_byte = last;
        }
        if self.max_record_bytes > 0
            && self.read - self.record_start > self.max_record_bytes + READ_AHEAD
        {
            return Err(RecordTooLong {
                line: self.noted + 1,
                limit: self.max_record_bytes,
            });
        }
        Ok(())
    }

    /// The line of the record the csv crate positions at `offset` (offsets only grow): the
    /// first line at or after it that is not blank.
    fn line_at(&mut self, offset: u64) -> u64 {
        self.record_start = self.record_start.max(offset);
        while let Some(&(newline, blanks)) = self.pending.front() {
            if newline >= offset {
                // The blank lines before it are behind the record's start.
                self.passed += blanks;
                if let Some(front) = self.pending.front_mut() {
                    front.1 = 0;
                }
                return self.passed + 1;
            }
            self.pending.pop_front();
            self.passed += blanks + 1;
        }
        self.passed += std::mem::take(&mut self.trailing_blanks);
        self.passed + 1
    }
}

/// A reader noting its newlines in [`Lines`].
pub(crate) struct NoteLines<R> {
    inner: R,
    lines: Arc<Mutex<Lines>>,
}

impl<R: Read> Read for NoteLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .note(&buf[..n])
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Ok(n)
    }
}

/// Line numbers (blank lines counted) and the record bound for any csv reader, in bounded
/// memory: wrap the input with [`track_lines`], then ask for a record's line or describe an
/// error.
#[derive(Clone)]
pub(crate) struct LineTracker(Arc<Mutex<Lines>>);

/// `reader` wrapped to note its lines; more than `max_record_bytes` (0: no bound) without a
/// complete record fails the read.
pub(crate) fn track_lines<R: Read>(
    reader: R,
    max_record_bytes: u64,
) -> (NoteLines<R>, LineTracker) {
    let lines = Arc::new(Mutex::new(Lines {
        max_record_bytes,
        ..Lines::default()
    }));
    (
        NoteLines {
            inner: reader,
            lines: lines.clone(),
        },
        LineTracker(lines),
    )
}

impl LineTracker {
    /// The line of the record the csv crate positions at `offset` (offsets only grow).
    pub(crate) fn line_at(&self, offset: u64) -> u64 {
        line_at(&self.0, offset)
    }

    /// The record bound, when this error is it having been passed: its line and message.
    pub(crate) fn too_long(error: &::csv::Error) -> Option<(u64, String)> {
        match error.kind() {
            ::csv::ErrorKind::Io(io) => io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<RecordTooLong>())
                .map(|too_long| (too_long.line, too_long.to_string())),
            _ => None,
        }
    }
}

pub struct CsvRows {
    records: ::csv::StringRecordsIntoIter<NoteLines<Box<dyn BufRead + Send>>>,
    lines: Arc<Mutex<Lines>>,
    /// Per column: its header and what it becomes.
    columns: Vec<(String, Target)>,
    zone: Tz,
    time_format: Option<String>,
    /// Positions of the columns that make the event id, in order.
    event_id_columns: Vec<usize>,
}

impl CsvRows {
    /// Reads the header; `max_record_bytes` bounds each record (0: no bound).
    pub fn new(
        reader: Box<dyn BufRead + Send>,
        mapping: Option<ColumnMapping>,
        zone: Tz,
        max_record_bytes: u64,
    ) -> Result<Self, ImportError> {
        let lines = Arc::new(Mutex::new(Lines {
            max_record_bytes,
            ..Lines::default()
        }));
        let mut csv = ::csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(NoteLines {
                inner: reader,
                lines: lines.clone(),
            });
        let headers: Vec<String> = csv
            .headers()
            .map_err(|error| malformed(&error, &lines))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
            .collect();
        let columns = match &mapping {
            None => template_columns(&headers)?,
            Some(mapping) => mapped_columns(&headers, mapping)?,
        };
        let mut event_id_columns = Vec::new();
        for column in mapping.iter().flat_map(|m| &m.event_id_columns) {
            match headers.iter().position(|h| h == column) {
                Some(position) => event_id_columns.push(position),
                None => {
                    return Err(ImportError::Options(format!(
                        "mapping.event_id_columns: the file has no column '{column}'"
                    )));
                }
            }
        }
        Ok(Self {
            records: csv.into_records(),
            lines,
            columns,
            zone,
            time_format: mapping.and_then(|m| m.time_format),
            event_id_columns,
        })
    }

    fn row(&self, record: &::csv::StringRecord) -> Result<EventInput, Vec<FieldError>> {
        let mut input = EventInput::default();
        let mut errors = Vec::new();
        for ((header, target), value) in self.columns.iter().zip(record.iter()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match target {
                Target::Ignored => {}
                Target::Attribute(name) => {
                    input
                        .extra
                        .insert(name.clone(), Value::String(value.to_owned()));
                }
                Target::Field(field) => {
                    if let Err(message) = set_field(&mut input, field, value) {
                        errors.push(FieldError::new(header.clone(), message));
                    }
                }
            }
        }
        if !self.event_id_columns.is_empty() {
            let parts: Vec<&str> = self
                .event_id_columns
                .iter()
                .map(|&i| record.get(i).unwrap_or("").trim())
                .collect();
            // Rows with none of the id columns have no id (the natural key applies).
            if parts.iter().any(|p| !p.is_empty()) {
                input.event_id = Some(parts.join("|"));
            }
        }
        if let (Some(format), Some(time)) = (&self.time_format, &input.event_time) {
            // Normalise to RFC 3339 here so validation needs no knowledge of the format.
            match parse_timestamp(time, self.zone, Some(format)) {
                Ok(parsed) => input.event_time = Some(parsed.to_rfc3339()),
                Err(message) => errors.push(FieldError::new(self.header_of("event_time"), message)),
            }
        }
        if let (Some(format), Some(time)) = (&self.time_format, &input.last_data_update)
            && let Ok(parsed) = parse_timestamp(time, self.zone, Some(format))
        {
            // The extraction time may be written like the events or as ISO 8601.
            input.last_data_update = Some(parsed.to_rfc3339());
        }
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(errors)
        }
    }

    fn header_of(&self, field: &str) -> String {
        self.columns
            .iter()
            .find(|(_, target)| matches!(target, Target::Field(f) if *f == field))
            .map_or_else(|| field.to_owned(), |(header, _)| header.clone())
    }
}

impl Iterator for CsvRows {
    type Item = Result<ParsedRow, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = match self.records.next()? {
            Ok(record) => record,
            Err(error) => return Some(Err(malformed(&error, &self.lines))),
        };
        let line = line_at(&self.lines, record.position().map_or(0, |p| p.byte()));
        let event = self.row(&record).and_then(|input| {
            input.validate(self.zone, "").map_err(|errors| {
                // Name the file's columns, not the template's fields.
                errors
                    .into_iter()
                    .map(|e| FieldError::new(self.header_of(&e.field), e.message))
                    .collect()
            })
        });
        Some(Ok(ParsedRow { line, event }))
    }
}

fn line_at(lines: &Mutex<Lines>, offset: u64) -> u64 {
    lines
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .line_at(offset)
}

fn malformed(error: &::csv::Error, lines: &Mutex<Lines>) -> ImportError {
    if let ::csv::ErrorKind::Io(io) = error.kind()
        && let Some(too_long) = io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<RecordTooLong>())
    {
        return ImportError::Malformed {
            line: too_long.line,
            message: too_long.to_string(),
        };
    }
    let line = error.position().map_or(1, |p| line_at(lines, p.byte()));
    ImportError::Malformed {
        line,
        message: format!("not valid CSV: {error}"),
    }
}

fn template_columns(headers: &[String]) -> Result<Vec<(String, Target)>, ImportError> {
    let mut columns: Vec<(String, Target)> = Vec::with_capacity(headers.len());
    for header in headers {
        let target = match field_of_header(header) {
            // A second column for the same field is kept as an attribute.
            Some(field)
                if !columns
                    .iter()
                    .any(|(_, t)| matches!(t, Target::Field(f) if *f == field)) =>
            {
                Target::Field(field)
            }
            _ => Target::Attribute(header.clone()),
        };
        columns.push((header.clone(), target));
    }
    let missing: Vec<_> = ["case_id", "activity", "event_time"]
        .into_iter()
        .filter(|required| {
            !columns
                .iter()
                .any(|(_, t)| matches!(t, Target::Field(f) if f == required))
        })
        .collect();
    if !missing.is_empty() {
        let expected: Vec<String> = missing
            .iter()
            .map(|field| {
                let template = TEMPLATE_COLUMNS
                    .iter()
                    .find(|(_, f)| f == field)
                    .map_or(*field, |(column, _)| *column);
                format!("{template} or {field}")
            })
            .collect();
        return Err(ImportError::Malformed {
            line: 1,
            message: format!(
                "the header lacks the template's column(s) {} (expected {}, in any case and order; the template's other columns are optional); give a column mapping for other layouts",
                missing.join(", "),
                expected.join(", ")
            ),
        });
    }
    Ok(columns)
}

fn mapped_columns(
    headers: &[String],
    mapping: &ColumnMapping,
) -> Result<Vec<(String, Target)>, ImportError> {
    let mut by_column: BTreeMap<&str, Target> = BTreeMap::new();
    let mut wanted: Vec<(&str, &str)> = vec![
        ("case_id", &mapping.case_id),
        ("activity", &mapping.activity),
        ("event_time", &mapping.event_time),
    ];
    for (field, column) in &mapping.fields {
        wanted.push((field, column));
    }
    for (field, column) in wanted {
        let Some(known) = FIELDS.iter().find(|f| **f == field) else {
            return Err(ImportError::Options(format!(
                "mapping.fields: '{field}' is not a template field (one of {})",
                FIELDS.join(", ")
            )));
        };
        by_column.insert(column, Target::Field(known));
    }
    for column in &mapping.attributes {
        by_column
            .entry(column)
            .or_insert_with(|| Target::Attribute(column.clone()));
    }
    let missing: Vec<_> = by_column
        .keys()
        .filter(|c| !headers.iter().any(|h| h == *c))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::Options(format!(
            "the mapping names column(s) the file does not have: {}",
            missing.join(", ")
        )));
    }
    Ok(headers
        .iter()
        .map(|header| {
            (
                header.clone(),
                by_column
                    .get(header.as_str())
                    .cloned()
                    .unwrap_or(Target::Ignored),
            )
        })
        .collect())
}

/// Sets a template field from its text in the file.
fn set_field(input: &mut EventInput, field: &str, value: &str) -> Result<(), String> {
    let text = Some(value.to_owned());
    let boolean = || values::parse_bool(value).ok_or_else(|| values::bool_error(value));
    let seconds = || {
        values::parse_seconds(value).ok_or_else(|| format!("'{value}' is not a number of seconds"))
    };
    match field {
        "case_id" => input.case_id = text,
        "activity" => input.activity = text,
        "event_time" => input.event_time = text,
        "event_id" => input.event_id = text,
        "lifecycle" => input.lifecycle = text,
        "source_system" => input.source_system = text,
        "channel" => input.channel = text,
        "status_reason" => input.status_reason = text,
        "agent" => input.agent = text,
        "customer" => input.customer = text,
        "priority" => input.priority = text,
        "request_type" => input.request_type = text,
        "owner_team" => input.owner_team = text,
        "knowledge_article_id" => input.knowledge_article_id = text,
        "product" => input.product = text,
        "last_data_update" => input.last_data_update = text,
        "sla_target_resolution_s" => input.sla_target_resolution_s = Some(seconds()?),
        "reported_cycle_time_s" => input.reported_cycle_time_s = Some(seconds()?),
        "is_escalated" => input.is_escalated = Some(boolean()?),
        "reported_first_contact_resolution" => {
            input.reported_first_contact_resolution = Some(boolean()?);
        }
        "reported_rework" => input.reported_rework = Some(boolean()?),
        "reported_sla_breached" => input.reported_sla_breached = Some(boolean()?),
        "csat" => {
            let score: f64 = value
                .replace(',', ".")
                .parse()
                .map_err(|_| format!("'{value}' is not an integer from 1 to 5"))?;
            if score.fract() != 0.0 {
                return Err(format!("'{value}' is not an integer from 1 to 5"));
            }
            input.csat = Some(score as i64);
        }
        _ => unreachable!("every template field is handled"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, mapping: Option<ColumnMapping>) -> Result<Vec<ParsedRow>, ImportError> {
        let reader: Box<dyn BufRead + Send> =
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        CsvRows::new(reader, mapping, Tz::UTC, 1 << 20)?.collect()
    }

    #[test]
    fn blank_lines_count_in_line_numbers() {
        let parsed = rows(
            "case_id,activity,event_time\n\nC1,Case Created,2026-01-05T10:00:00Z\n\n\r\nC2,Case Closed,nope\n",
            None,
        )
        .unwrap();
        let lines: Vec<u64> = parsed.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 6]);
        let short_row = "case_id,activity,event_time\n\r\n\nC1,Case Created\n";
        match rows(short_row, None) {
            Err(ImportError::Malformed { line, .. }) => assert_eq!(line, 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn template_columns_with_extra_attributes_and_line_numbers() {
        let rows = rows(
            "case_id,activity,event_time,agent,csat,Region\n\
             C1,Case Created,2026-01-05T10:00:00Z,ana,,north\n\
             \"C2\",\"Case\nResolved\",2026-01-05 11:00:00,rui,9,\n\
             C3,Case Closed,not a time,,x,\n",
            None,
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        let first = rows[0].event.as_ref().unwrap();
        assert_eq!(
            (rows[0].line, first.case_id.as_str(), first.agent.as_deref()),
            (2, "C1", Some("ana"))
        );
        assert_eq!(
            first.attributes.get("Region"),
            Some(&Value::String("north".into()))
        );
        // A quoted field spanning lines: the row starts on line 3.
        assert_eq!(rows[1].line, 3);
        let errors = rows[1].event.as_ref().unwrap_err();
        assert_eq!(errors[0].field, "csat");
        assert_eq!(rows[2].line, 5);
        let fields: Vec<_> = rows[2]
            .event
            .as_ref()
            .unwrap_err()
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(
            fields,
            ["csat"],
            "a bad typed column stops before validation"
        );
    }

    #[test]
    fn a_header_without_the_template_columns_is_refused() {
        let error = rows("number,state\n1,New\n", None).err().unwrap();
        assert!(
            error.to_string().contains("case_id, activity, event_time"),
            "{error}"
        );
    }

    #[test]
    fn a_column_mapping_reads_other_layouts() {
        let mapping = ColumnMapping {
            case_id: "number".into(),
            activity: "incident_state".into(),
            event_time: "sys_updated_at".into(),
            time_format: Some("%d/%m/%Y %H:%M".into()),
            fields: [("agent".to_owned(), "assigned_to".to_owned())].into(),
            attributes: vec!["made_sla".into()],
            event_id_columns: vec!["number".into(), "noise".into()],
        };
        let rows = rows(
            "number,incident_state,sys_updated_at,assigned_to,made_sla,noise\n\
             INC1,New,5/3/2026 12:00,?,true,x\n\
             INC1,Closed,31/2/2026 12:00,,false,x\n",
            Some(mapping),
        )
        .unwrap();
        let event = rows[0].event.as_ref().unwrap();
        assert_eq!(event.event_time.to_rfc3339(), "2026-03-05T12:00:00+00:00");
        assert_eq!(event.agent.as_deref(), Some("?"));
        assert_eq!(event.attributes.len(), 1);
        assert_eq!(event.event_id.as_deref(), Some("INC1|x"));
        assert_eq!(
            rows[1].event.as_ref().unwrap_err()[0].field,
            "sys_updated_at"
        );
    }
}
