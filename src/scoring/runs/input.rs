//! Reading a population file: CSV (plain or gzip), a header row, an account id column and
//! feature columns by name; an empty cell is a missing value.
//!
//! The file is cut into chunks of whole records by one thread (only a quote-aware newline scan)
//! so that parsing, which costs more than un-gzipping, runs on every core.

use std::io::{self, Read};

use crate::validation::{BadRow, FieldError};
use csv::ByteRecord;

/// Names accepted for the account id column (the notebook keys accounts by `ban`).
pub const ACCOUNT_ID_COLUMNS: [&str; 2] = ["account_id", "ban"];

/// Longest account id stored.
pub const MAX_ACCOUNT_ID_CHARS: usize = 200;

/// The `field` of a problem with a row as a whole.
pub const WHOLE_ROW: &str = "row";

/// Target size of a chunk handed to a parser.
const CHUNK_BYTES: usize = 1 << 20;

/// Where each model feature sits in the file's columns.
#[derive(Debug, Clone)]
pub struct Columns {
    account_id: usize,
    /// `(column in the file, feature index in the model)`.
    features: Vec<(usize, usize)>,
    /// The header's names, for messages.
    names: Vec<String>,
    num_features: usize,
    /// Header columns that are not features; their values are not read.
    pub ignored: Vec<String>,
}

impl Columns {
    /// Matches a header against the model's features. Every feature must have a column: a
    /// misspelt header would otherwise score every account as if the feature were missing.
    pub fn resolve(header: &ByteRecord, model_features: &[String]) -> Result<Self, String> {
        let names = column_names(header);
        let position = |wanted: &str| names.iter().position(|n| n == wanted);
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(format!("the header names the column `{dup}` twice"));
        }
        let account_id = ACCOUNT_ID_COLUMNS
            .iter()
            .find_map(|c| position(c))
            .ok_or_else(|| {
                format!(
                    "the header has no account id column (one of {})",
                    ACCOUNT_ID_COLUMNS.join(", ")
                )
            })?;
        let mut features = Vec::with_capacity(model_features.len());
        let mut missing = Vec::new();
        for (index, feature) in model_features.iter().enumerate() {
            match position(feature) {
                Some(column) => features.push((column, index)),
                None => missing.push(feature.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "the header lacks {} of the model's features: {} (leave cells empty for missing values, but keep the columns)",
                missing.len(),
                missing.join(", ")
            ));
        }
        let ignored = names
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != account_id && !features.iter().any(|(c, _)| c == i))
            .map(|(_, n)| n.clone())
            .collect();
        Ok(Self {
            account_id,
            features,
            names,
            num_features: model_features.len(),
            ignored,
        })
    }

    pub fn num_features(&self) -> usize {
        self.num_features
    }
}

/// A run of whole records from the file.
#[derive(Debug)]
pub struct Chunk {
    /// Position in the file, 0 first; results are put back in this order.
    pub sequence: u64,
    /// Line number of the chunk's first line (the header is line 1).
    pub first_line: u64,
    pub bytes: Vec<u8>,
}

/// Longest record accepted; a longer one is almost always an unclosed quote or a file whose
/// lines end in a bare carriage return, and would otherwise be read whole into memory.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// Where the scan of a CSV stream is, as the csv crate parses: a quote opens a quoted field
/// only at the start of a field; inside one, a doubled quote is a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: it closes the field unless another quote follows.
    QuoteInQuoted,
}

impl Scan {
    /// The state after `b`, and whether `b` ends a record.
    #[inline]
    fn next(self, b: u8) -> (Self, bool) {
        match (self, b) {
            (Self::Quoted, b'"') => (Self::QuoteInQuoted, false),
            (Self::Quoted, _) => (Self::Quoted, false),
            (Self::QuoteInQuoted, b'"') => (Self::Quoted, false),
            (Self::FieldStart, b'"') => (Self::Quoted, false),
            (_, b',') => (Self::FieldStart, false),
            (_, b'\n') => (Self::FieldStart, true),
            _ => (Self::Unquoted, false),
        }
    }
}

/// Cuts a CSV stream into chunks that end at a record boundary (a newline outside quotes).
pub struct ChunkReader<R> {
    reader: R,
    /// Bytes read and not yet handed out.
    carry: Vec<u8>,
    /// How far `carry` has been scanned, the state there, and the record boundaries found
    /// (ends, exclusive) since its start.
    scanned: usize,
    state: Scan,
    boundaries: Vec<usize>,
    next_line: u64,
    next_sequence: u64,
    eof: bool,
}

impl<R: Read> ChunkReader<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            carry: Vec::new(),
            scanned: 0,
            state: Scan::FieldStart,
            boundaries: Vec::new(),
            next_line: 1,
            next_sequence: 0,
            eof: false,
        }
    }

    /// Line number of the next unread line.
    pub fn line(&self) -> u64 {
        self.next_line
    }

    /// The header record (the first record of the file, blank lines before it skipped);
    /// `None` for a file without one.
    pub fn header(&mut self) -> io::Result<Option<ByteRecord>> {
        while let Some(bytes) = self.take(true)? {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(bytes.as_slice());
            let mut record = ByteRecord::new();
            match reader.read_byte_record(&mut record) {
                Ok(true) => return Ok(Some(record)),
                Ok(false) => {} // a blank line
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
        }
        Ok(None)
    }

    /// The next chunk of records, `None` at the end of the file.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let first_line = self.next_line;
        let Some(bytes) = self.take(false)? else {
            return Ok(None);
        };
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        Ok(Some(Chunk {
            sequence,
            first_line,
            bytes,
        }))
    }

    /// Takes whole records: one record when `one` is set, else all complete records once
    /// about `CHUNK_BYTES` are buffered (the rest at the end of the file).
    fn take(&mut self, one: bool) -> io::Result<Option<Vec<u8>>> {
        loop {
            self.scan();
            let end = if one {
                self.boundaries.first().copied()
            } else if self.carry.len() >= CHUNK_BYTES {
                self.boundaries.last().copied()
            } else {
                None
            };
            let end = match end {
                Some(end) => end,
                None if self.eof && self.carry.is_empty() => return Ok(None),
                None if self.eof => self.carry.len(),
                None => {
                    let pending = self.carry.len() - self.boundaries.last().copied().unwrap_or(0);
                    if pending > MAX_RECORD_BYTES {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "a record longer than {} MiB starts near line {} (an unclosed quote, or lines that do not end in a newline?)",
                                MAX_RECORD_BYTES >> 20,
                                self.next_line
                                    + bytecount_newlines(
                                        &self.carry[..self.boundaries.last().copied().unwrap_or(0)]
                                    )
                            ),
                        ));
                    }
                    self.fill()?;
                    continue;
                }
            };
            let rest = self.carry.split_off(end);
            let taken = std::mem::replace(&mut self.carry, rest);
            // The scan state at `scanned` does not depend on where the records before it end.
            self.scanned -= end.min(self.scanned);
            self.boundaries.retain(|&b| b > end);
            for b in &mut self.boundaries {
                *b -= end;
            }
            self.next_line += bytecount_newlines(&taken);
            return Ok(Some(taken));
        }
    }

    /// Scans what was read since the last scan for record boundaries.
    fn scan(&mut self) {
        let new = &self.carry[self.scanned..];
        if new.is_empty() {
            return;
        }
        // Most files quote nothing: outside quotes every newline ends a record, and a SIMD
        // search finds them several times faster than stepping the state machine per byte.
        if self.state != Scan::Quoted
            && self.state != Scan::QuoteInQuoted
            && memchr::memchr(b'"', new).is_none()
        {
            let base = self.scanned;
            self.boundaries
                .extend(memchr::memchr_iter(b'\n', new).map(|i| base + i + 1));
            self.state = match new[new.len() - 1] {
                b'\n' | b',' => Scan::FieldStart,
                _ => Scan::Unquoted,
            };
            self.scanned = self.carry.len();
            return;
        }
        let mut state = self.state;
        for (i, &b) in self.carry[self.scanned..].iter().enumerate() {
            let (next, ends) = state.next(b);
            if ends {
                self.boundaries.push(self.scanned + i + 1);
            }
            state = next;
        }
        self.state = state;
        self.scanned = self.carry.len();
    }

    /// Reads up to `CHUNK_BYTES` more.
    fn fill(&mut self) -> io::Result<()> {
        let start = self.carry.len();
        self.carry.resize(start + CHUNK_BYTES, 0);
        let mut filled = start;
        while filled < self.carry.len() {
            match self.reader.read(&mut self.carry[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.carry.truncate(filled);
        Ok(())
    }
}

fn bytecount_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Parsed rows of one chunk: account ids and row-major features.
#[derive(Debug, Default)]
pub struct ParsedChunk {
    pub sequence: u64,
    /// Account ids, concatenated; `id_ends[i]` is where id `i` ends.
    pub ids: String,
    pub id_ends: Vec<usize>,
    /// `rows x num_features`, NaN = missing.
    pub features: Vec<f64>,
    pub bad_rows: Vec<BadRow>,
    /// Records read, good and bad.
    pub records: u64,
}

impl ParsedChunk {
    pub fn len(&self) -> usize {
        self.id_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id_ends.is_empty()
    }

    pub fn account_ids(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.id_ends.iter().map(move |&end| {
            let id = &self.ids[start..end];
            start = end;
            id
        })
    }
}

/// Parses a chunk's records. A record with any problem is a bad row (all its problems in one
/// message); good records are appended to the result.
pub fn parse_chunk(columns: &Columns, chunk: &Chunk) -> ParsedChunk {
    parse_plain_chunk(columns, chunk).unwrap_or_else(|| parse_csv_chunk(columns, chunk))
}

/// The common case without the csv crate: no quote and no carriage return anywhere in the
/// chunk (so a record is a line and a field is what lies between commas), and every record
/// good. `None` otherwise, and the chunk is read again by [`parse_csv_chunk`], which names
/// each problem. A plain decimal cell is read in the same pass that finds its end.
fn parse_plain_chunk(columns: &Columns, chunk: &Chunk) -> Option<ParsedChunk> {
    let bytes = chunk.bytes.as_slice();
    if memchr::memchr2(b'"', b'\r', bytes).is_some() {
        return None;
    }
    let mut parsed = ParsedChunk {
        sequence: chunk.sequence,
        ..ParsedChunk::default()
    };
    // The feature each column of the file feeds, if any.
    let mut feature_of_column = vec![None; columns.names.len()];
    for &(column, feature) in &columns.features {
        feature_of_column[column] = Some(feature);
    }
    let mut row = vec![f64::NAN; columns.num_features];
    let field_len = |rest: &[u8]| memchr::memchr(b',', rest).unwrap_or(rest.len());
    // Blank lines are skipped, as the csv crate does.
    for line in bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
        let (mut start, mut fields) = (0, 0);
        loop {
            let rest = &line[start..];
            let feature = *feature_of_column.get(fields)?;
            let len = if fields == columns.account_id {
                let len = field_len(rest);
                let id = std::str::from_utf8(&rest[..len]).ok()?;
                if account_id_problem(id).is_some() {
                    return None;
                }
                parsed.ids.push_str(id);
                if let Some(feature) = feature {
                    row[feature] = cell_value(&rest[..len]).ok()?;
                }
                len
            } else if let Some(feature) = feature {
                match leading_decimal(rest) {
                    Some((value, len)) => {
                        row[feature] = value;
                        len
                    }
                    None => {
                        let len = field_len(rest);
                        row[feature] = cell_value(&rest[..len]).ok()?;
                        len
                    }
                }
            } else {
                field_len(rest)
            };
            fields += 1;
            start += len;
            if start == line.len() {
                break;
            }
            start += 1;
        }
        if fields != columns.names.len() {
            return None;
        }
        parsed.records += 1;
        parsed.id_ends.push(parsed.ids.len());
        parsed.features.extend_from_slice(&row);
    }
    Some(parsed)
}

/// Why a feature cell has no value.
enum CellProblem<'a> {
    NotFinite,
    /// The cell, trimmed.
    NotANumber(&'a [u8]),
}

/// A feature cell's value: trimmed, empty is missing (NaN), otherwise a finite number.
fn cell_value(cell: &[u8]) -> Result<f64, CellProblem<'_>> {
    let cell = cell.trim_ascii();
    if cell.is_empty() {
        return Ok(f64::NAN);
    }
    match parse_number(cell) {
        Some(value) if value.is_finite() => Ok(value),
        Some(_) => Err(CellProblem::NotFinite),
        None => Err(CellProblem::NotANumber(cell)),
    }
}

/// [`parse_chunk`] with the csv crate: quotes, carriage returns, bad rows.
fn parse_csv_chunk(columns: &Columns, chunk: &Chunk) -> ParsedChunk {
    let mut parsed = ParsedChunk {
        sequence: chunk.sequence,
        ..ParsedChunk::default()
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(chunk.bytes.as_slice());
    let mut record = ByteRecord::new();
    let mut row = vec![f64::NAN; columns.num_features];
    let mut problems: Vec<FieldError> = Vec::new();
    let mut lines = LineCounter::new(&chunk.bytes, chunk.first_line);
    loop {
        let record_start = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                let at = error.position().map_or(record_start, csv::Position::byte);
                parsed.records += 1;
                parsed.bad_rows.push(BadRow {
                    line: lines.line_at(at),
                    errors: vec![FieldError::new(WHOLE_ROW, error.to_string())],
                });
                continue;
            }
        }
        let start = record.position().map_or(record_start, csv::Position::byte);
        parsed.records += 1;
        problems.clear();
        if record.len() != columns.names.len() {
            problems.push(width_problem(columns.names.len(), record.len()));
        } else {
            read_record(columns, &record, &mut row, &mut problems);
        }
        if problems.is_empty() {
            let id = std::str::from_utf8(&record[columns.account_id]).unwrap_or_default();
            parsed.ids.push_str(id);
            parsed.id_ends.push(parsed.ids.len());
            parsed.features.extend_from_slice(&row);
        } else {
            parsed.bad_rows.push(BadRow {
                line: lines.line_at(start),
                errors: std::mem::take(&mut problems),
            });
        }
    }
    parsed
}

/// What is wrong with an account id, if anything (populations and outcomes alike).
pub(crate) fn account_id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("the account id is empty".into())
    } else if id.chars().count() > MAX_ACCOUNT_ID_CHARS {
        Some(format!(
            "the account id is longer than {MAX_ACCOUNT_ID_CHARS} characters"
        ))
    } else if id.contains('\0') {
        Some("the account id contains a NUL character".into())
    } else {
        None
    }
}

/// A record whose field count differs from the header's.
pub(crate) fn width_problem(expected: usize, found: usize) -> FieldError {
    FieldError::new(
        WHOLE_ROW,
        format!("expected {expected} fields like the header, found {found}"),
    )
}

/// Line numbers of byte offsets, counted incrementally (offsets only grow). The csv crate's
/// own line numbers skip blank lines, which would point users at the wrong line.
pub(crate) struct LineCounter<'a> {
    bytes: &'a [u8],
    counted_to: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(bytes: &'a [u8], first_line: u64) -> Self {
        Self {
            bytes,
            counted_to: 0,
            line: first_line,
        }
    }

    /// The line of the record starting at `offset` (the csv crate's record positions include
    /// the blank lines it skipped before the record).
    pub(crate) fn line_at(&mut self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while offset < self.bytes.len() && matches!(self.bytes[offset], b'\n' | b'\r') {
            offset += 1;
        }
        if offset > self.counted_to {
            self.line += bytecount_newlines(&self.bytes[self.counted_to..offset]);
            self.counted_to = offset;
        }
        self.line
    }
}

/// Reads one record of the right width into `row`, noting each problem with its column.
fn read_record(
    columns: &Columns,
    record: &ByteRecord,
    row: &mut [f64],
    problems: &mut Vec<FieldError>,
) {
    let problem = match std::str::from_utf8(&record[columns.account_id]) {
        Err(_) => Some("the account id is not UTF-8".to_owned()),
        Ok(id) => account_id_problem(id),
    };
    if let Some(problem) = problem {
        problems.push(FieldError::new(&columns.names[columns.account_id], problem));
    }
    for &(column, feature) in &columns.features {
        row[feature] = cell_value(&record[column]).unwrap_or_else(|problem| {
            let message = match problem {
                CellProblem::NotFinite => {
                    "not a finite number (leave the cell empty for a missing value)".to_owned()
                }
                CellProblem::NotANumber(cell) => format!(
                    "`{}` is not a number",
                    String::from_utf8_lossy(cell).escape_debug()
                ),
            };
            problems.push(FieldError::new(&columns.names[column], message));
            f64::NAN
        });
    }
}

/// Powers of ten a `f64` holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A cell as a number, as `str::parse::<f64>` reads it. Population files hold tens of millions
/// of cells, nearly all short plain decimals (`3`, `524.22`), which are read here directly:
/// their digits form an integer below 2^53 and a power of ten up to 10^22, both exact in a
/// `f64`, so one division rounds exactly like a full parse (Clinger's fast path). Anything
/// else (exponents, long digit strings, `inf`) goes through the standard parser.
fn parse_number(cell: &[u8]) -> Option<f64> {
    match leading_decimal(cell) {
        // A comma inside a (quoted) cell ends the decimal early: not a plain number.
        Some((value, len)) if len == cell.len() => Some(value),
        _ => parse_number_slow(cell),
    }
}

fn parse_number_slow(cell: &[u8]) -> Option<f64> {
    std::str::from_utf8(cell).ok()?.parse().ok()
}

/// A plain decimal (sign, digits, at most one point) at the start of `bytes`, ended by a
/// comma or the end: its value by Clinger's fast path (see [`parse_number`]) and its length.
/// `None` for anything else, and for digits too many for the fast path to be exact.
#[inline]
fn leading_decimal(bytes: &[u8]) -> Option<(f64, usize)> {
    let (negative, mut i) = match bytes.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let (mut mantissa, mut digit_count, mut point) = (0_u64, 0, None);
    while let Some(&b) = bytes.get(i) {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
                digit_count += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            b',' => break,
            _ => return None,
        }
        i += 1;
    }
    let scale = point.map_or(0, |p| i - p - 1);
    if digit_count == 0
        || digit_count > 19
        || mantissa >= 1 << 53
        || scale >= EXACT_POWERS_OF_TEN.len()
    {
        return None;
    }
    let value = mantissa as f64 / EXACT_POWERS_OF_TEN[scale];
    Some((if negative { -value } else { value }, i))
}

/// The header's column names, trimmed; a UTF-8 byte order mark before the first is dropped.
pub(crate) fn column_names(header: &ByteRecord) -> Vec<String> {
    header
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let name = String::from_utf8_lossy(name);
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                &name
            };
            // Control characters (NUL above all, which PostgreSQL cannot store) are shown
            // escaped, so a run can always record what it read.
            name.trim().escape_debug().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_exactly_as_the_standard_parser() {
        let mut cells: Vec<String> = [
            "0",
            "-0",
            "+0",
            "5.",
            ".5",
            "-.5",
            "+7",
            "0.1",
            "0.3",
            "2.2",
            "524.22",
            "-633.25",
            "9007199254740991",
            "9007199254740992",
            "9007199254740993",
            "1.7976931348623157",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "1234567890123456789",
            "12345678901234567890",
            "00000000000000000000000042",
            "1e5",
            "1E-3",
            "-2.5e+10",
            "inf",
            "-inf",
            "NaN",
            "nan",
            "",
            ".",
            "-",
            "+",
            "1.2.3",
            "1,5",
            "--1",
            "+-1",
            "0x10",
            " 1",
            "1 ",
            "1_000",
            "١",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // Random decimals of every digit count and scale the fast path takes, and beyond.
        let mut draw = crate::random::Draw::new(7);
        for _ in 0..200_000 {
            let digits = 1 + (draw.uniform() * 21.0) as usize;
            let mut text: String = (0..digits)
                .map(|_| char::from(b'0' + (draw.uniform() * 10.0) as u8))
                .collect();
            let point = (draw.uniform() * (digits as f64 + 2.0)) as usize;
            if point <= digits {
                text.insert(point, '.');
            }
            if draw.uniform() < 0.3 {
                text.insert(0, '-');
            }
            cells.push(text);
        }
        let mut fused = 0;
        for cell in &cells {
            let expected = cell.parse::<f64>().ok();
            let got = parse_number(cell.as_bytes());
            assert_eq!(
                got.map(f64::to_bits),
                expected.map(f64::to_bits),
                "`{cell}`"
            );
            // The plain-chunk reader's fused version, where it answers, agrees (on cells
            // without the comma that would end a field).
            if cell.contains(',') {
                continue;
            }
            for text in [cell.clone(), format!("{cell},9")] {
                if let Some((value, len)) = leading_decimal(text.as_bytes()) {
                    fused += 1;
                    assert_eq!(
                        Some(value.to_bits()),
                        expected.map(f64::to_bits),
                        "`{cell}`"
                    );
                    assert_eq!(len, cell.len(), "`{cell}`");
                }
            }
        }
        // Most generated cells are plain decimals the fused reader takes.
        assert!(fused > cells.len(), "{fused} of {}", 2 * cells.len());
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Cuts `text` into chunks of whole records, with each chunk's first line.
    fn chunk_texts(text: &str) -> Vec<(u64, String)> {
        let mut reader = ChunkReader::new(text.as_bytes());
        let mut out = Vec::new();
        while let Some(chunk) = reader.take(true).unwrap() {
            out.push((0, String::from_utf8(chunk).unwrap()));
        }
        let mut line = 1;
        for (first, piece) in &mut out {
            *first = line;
            line += bytecount_newlines(piece.as_bytes());
        }
        out
    }

    #[test]
    fn boundaries_respect_quoted_newlines() {
        let text = "a,\"x\ny\",1\nb,\"q\"\"\",2\nc,z,3";
        let parts = chunk_texts(text);
        assert_eq!(
            parts,
            vec![
                (1, "a,\"x\ny\",1\n".to_owned()),
                (3, "b,\"q\"\"\",2\n".to_owned()),
                (4, "c,z,3".to_owned())
            ]
        );
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_a_character() {
        // As the csv crate reads it: `55" TV` is text, `"a\nb"` one quoted field.
        let text = "X,1,55\" TV\nY,2,\"a\nb\"\nZ,3,c\n";
        assert_eq!(
            chunk_texts(text),
            vec![
                (1, "X,1,55\" TV\n".to_owned()),
                (2, "Y,2,\"a\nb\"\n".to_owned()),
                (4, "Z,3,c\n".to_owned())
            ]
        );
    }

    #[test]
    fn blank_lines_before_the_header_are_skipped_and_runaway_records_refused() {
        let mut reader = ChunkReader::new("\n\naccount_id,a\nx,1\n".as_bytes());
        let header = reader.header().unwrap().unwrap();
        assert_eq!(&header[0], b"account_id");
        assert_eq!(reader.next_chunk().unwrap().unwrap().first_line, 4);

        let mut endless = Vec::from(&b"account_id,a\nx,\""[..]);
        endless.resize(MAX_RECORD_BYTES + 2 * CHUNK_BYTES, b'z');
        let mut reader = ChunkReader::new(endless.as_slice());
        reader.header().unwrap().unwrap();
        let error = reader.next_chunk().unwrap_err();
        assert!(error.to_string().contains("near line 2"), "{error}");
    }

    #[test]
    fn header_then_chunks_with_line_numbers() {
        let text = "\u{feff}account_id,b,a,target\nx,1,2,0\ny,,inf,1\n\nz,3\nw,1e-3, 4 ,1\n";
        let mut reader = ChunkReader::new(text.as_bytes());
        let header = reader.header().unwrap().unwrap();
        let model = names(&["a", "b"]);
        let columns = Columns::resolve(&header, &model).unwrap();
        assert_eq!(columns.ignored, vec!["target".to_owned()]);
        let chunk = reader.next_chunk().unwrap().unwrap();
        assert_eq!(chunk.first_line, 2);
        let parsed = parse_chunk(&columns, &chunk);
        assert_eq!(parsed.records, 4);
        assert_eq!(parsed.account_ids().collect::<Vec<_>>(), vec!["x", "w"]);
        assert_eq!(parsed.features.len(), 4);
        assert_eq!(&parsed.features, &[2.0, 1.0, 4.0, 1e-3]);
        assert_eq!(
            parsed.bad_rows,
            vec![
                BadRow {
                    line: 3,
                    errors: vec![FieldError::new(
                        "a",
                        "not a finite number (leave the cell empty for a missing value)"
                    )],
                },
                BadRow {
                    line: 5,
                    errors: vec![FieldError::new(
                        "row",
                        "expected 4 fields like the header, found 2"
                    )],
                },
            ]
        );
        assert!(reader.next_chunk().unwrap().is_none());
    }

    #[test]
    fn header_problems_are_named() {
        let header = ByteRecord::from(vec!["ban", "a", "a"]);
        assert!(
            Columns::resolve(&header, &names(&["a"]))
                .unwrap_err()
                .contains("twice")
        );
        let header = ByteRecord::from(vec!["id", "a"]);
        assert!(
            Columns::resolve(&header, &names(&["a"]))
                .unwrap_err()
                .contains("account id")
        );
        let header = ByteRecord::from(vec!["ban", "a"]);
        let error = Columns::resolve(&header, &names(&["a", "b", "c"])).unwrap_err();
        assert!(
            error.contains("lacks 2") && error.contains("b, c"),
            "{error}"
        );
    }

    #[test]
    fn several_problems_in_one_row_are_one_bad_row() {
        let header = ByteRecord::from(vec!["account_id", "a", "b"]);
        let model = names(&["a", "b"]);
        let columns = Columns::resolve(&header, &model).unwrap();
        let chunk = Chunk {
            sequence: 0,
            first_line: 2,
            bytes: b",x,NaN\n".to_vec(),
        };
        let parsed = parse_chunk(&columns, &chunk);
        assert_eq!(parsed.bad_rows.len(), 1);
        let bad = &parsed.bad_rows[0];
        assert_eq!(bad.line, 2);
        let fields: Vec<&str> = bad.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["account_id", "a", "b"]);
        assert_eq!(bad.errors[1].message, "`x` is not a number");
    }

    /// Ids, features (bits, so NaN equals NaN), records and bad rows of a parse.
    fn summary(parsed: &ParsedChunk) -> (Vec<&str>, Vec<u64>, u64, Vec<BadRow>) {
        (
            parsed.account_ids().collect(),
            parsed.features.iter().map(|v| v.to_bits()).collect(),
            parsed.records,
            parsed.bad_rows.clone(),
        )
    }

    #[test]
    fn the_plain_path_reads_what_the_csv_crate_reads() {
        let model = names(&["a", "b"]);
        let header = ByteRecord::from(vec!["skip", "b", "account_id", "a"]);
        let columns = Columns::resolve(&header, &model).unwrap();
        let chunk = |text: &str| Chunk {
            sequence: 3,
            first_line: 2,
            bytes: text.as_bytes().to_vec(),
        };
        let plain = [
            "t,1,x,2\ns,,y,-0.5\n",
            "\n\nt, 7 ,x,2.25\n\nu,1e3,y,\n\n",
            "q,1,ü-7,2",
            "q,-0,é,+3.\n,,z,.5\n",
            "",
        ];
        for text in plain {
            let chunk = chunk(text);
            let fast = parse_plain_chunk(&columns, &chunk).expect(text);
            assert_eq!(
                summary(&fast),
                summary(&parse_csv_chunk(&columns, &chunk)),
                "{text:?}"
            );
            assert_eq!(fast.sequence, 3);
        }
        // Quotes, carriage returns and any bad row are left to the csv crate.
        let other = [
            "t,1,\"x\",2\n",
            "t,1,x,2\r\n",
            "t,1,x\n",
            "t,1,x,2,9\n",
            "t,1,,2\n",
            "t,one,x,2\n",
            "t,1,x,inf\n",
            "t,1,x,2\nt,1,y,\u{0}\n",
        ];
        for text in other {
            let chunk = chunk(text);
            assert!(parse_plain_chunk(&columns, &chunk).is_none(), "{text:?}");
            assert_eq!(
                summary(&parse_chunk(&columns, &chunk)),
                summary(&parse_csv_chunk(&columns, &chunk))
            );
        }
    }
}
