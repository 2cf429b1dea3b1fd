//! Outcomes of a run's accounts (`account_id, target`), as CSV or JSON. When an account appears
//! more than once the last row wins (the notebook's `groupby('ban').tail(1)`); an empty target
//! means "no outcome" and, being last, leaves the account out (the notebook's `dropna`).

use std::collections::HashMap;

use serde::Deserialize;
use utoipa::ToSchema;

use super::input::{
    ACCOUNT_ID_COLUMNS, WHOLE_ROW, account_id_problem, column_names, width_problem,
};
use crate::cases::import::csv::LineTracker;
use crate::validation::{BadRow, FieldError};

/// Names accepted for the outcome column.
pub const TARGET_COLUMNS: [&str; 2] = ["target", "y"];

/// Outcomes in a file, one per account (the last row of each), in order of first appearance.
#[derive(Debug, Default, PartialEq)]
pub struct Outcomes {
    /// Rows read (not counting the header).
    pub rows: u64,
    /// `(account id, target)`; `None` when the last row has no target.
    pub accounts: Vec<(String, Option<bool>)>,
    pub bad_rows: Vec<BadRow>,
}

impl Outcomes {
    fn push(
        &mut self,
        index: &mut HashMap<String, usize>,
        account_id: String,
        target: Option<bool>,
    ) {
        match index.get(&account_id) {
            Some(&i) => self.accounts[i].1 = target,
            None => {
                index.insert(account_id.clone(), self.accounts.len());
                self.accounts.push((account_id, target));
            }
        }
    }
}

/// One outcome in a JSON body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OutcomeInput {
    pub account_id: String,
    /// 1 or 0 (also `true`/`false`); `null` means no outcome.
    #[schema(value_type = Option<i32>)]
    pub target: Option<serde_json::Value>,
}

/// A JSON body: `{"outcomes": [...]}` or the bare array.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OutcomesBody {
    Wrapped { outcomes: Vec<OutcomeInput> },
    Bare(Vec<OutcomeInput>),
}

/// Largest CSV record of an outcomes upload (with the blank lines before it), in bytes.
pub const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// What reading an outcomes CSV found, apart from the outcomes themselves.
#[derive(Debug, Default, PartialEq)]
pub struct CsvSummary {
    /// Rows read (not counting the header).
    pub rows: u64,
    pub bad_rows_count: u64,
    /// The first `listed` bad rows.
    pub bad_rows: Vec<BadRow>,
}

/// Reads a CSV stream with a header naming an account id column and a target column,
/// handing every good row `(account id, target)` to `emit` in file order (callers keep the
/// last row of each account) and keeping the first `listed` bad rows. Memory stays bounded
/// whatever the size of the stream: one record at a time, of at most [`MAX_RECORD_BYTES`].
pub fn stream_csv(
    input: impl std::io::Read,
    listed: usize,
    mut emit: impl FnMut(&str, Option<bool>),
) -> Result<CsvSummary, String> {
    let (input, lines) = crate::cases::import::csv::track_lines(input, MAX_RECORD_BYTES);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let names = column_names(reader.byte_headers().map_err(|e| {
        LineTracker::too_long(&e).map_or_else(
            || format!("cannot read the header: {e}"),
            |(line, message)| format!("line {line}: {message}"),
        )
    })?);
    let find = |candidates: &[&str]| names.iter().position(|n| candidates.contains(&n.as_str()));
    let id_column = find(&ACCOUNT_ID_COLUMNS).ok_or_else(|| {
        format!(
            "the header has no account id column (one of {})",
            ACCOUNT_ID_COLUMNS.join(", ")
        )
    })?;
    let target_column = find(&TARGET_COLUMNS).ok_or_else(|| {
        format!(
            "the header has no outcome column (one of {})",
            TARGET_COLUMNS.join(", ")
        )
    })?;
    let mut summary = CsvSummary::default();
    let bad = |summary: &mut CsvSummary, row: BadRow| {
        summary.bad_rows_count += 1;
        if summary.bad_rows.len() < listed {
            summary.bad_rows.push(row);
        }
    };
    let mut record = csv::StringRecord::new();
    loop {
        let record_start = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                if let Some((line, message)) = LineTracker::too_long(&error) {
                    return Err(format!("line {line}: {message}"));
                }
                if matches!(error.kind(), csv::ErrorKind::Io(_)) {
                    return Err(format!("reading the body: {error}"));
                }
                summary.rows += 1;
                let line =
                    lines.line_at(error.position().map_or(record_start, csv::Position::byte));
                bad(
                    &mut summary,
                    BadRow {
                        line,
                        errors: vec![FieldError::new(WHOLE_ROW, error.to_string())],
                    },
                );
                continue;
            }
        }
        summary.rows += 1;
        let line = lines.line_at(record.position().map_or(record_start, csv::Position::byte));
        if record.len() != names.len() {
            bad(
                &mut summary,
                BadRow {
                    line,
                    errors: vec![width_problem(names.len(), record.len())],
                },
            );
            continue;
        }
        let mut errors = Vec::new();
        let id = &record[id_column];
        if let Some(problem) = account_id_problem(id) {
            errors.push(FieldError::new(&names[id_column], problem));
        }
        let target = match parse_target(record[target_column].trim()) {
            Ok(target) => target,
            Err(problem) => {
                errors.push(FieldError::new(&names[target_column], problem));
                None
            }
        };
        if errors.is_empty() {
            emit(id, target);
        } else {
            bad(&mut summary, BadRow { line, errors });
        }
    }
    Ok(summary)
}

/// Reads a whole CSV body into [`Outcomes`] (the last row of each account).
pub fn from_csv(bytes: &[u8]) -> Result<Outcomes, String> {
    let mut outcomes = Outcomes::default();
    let mut index = HashMap::new();
    let summary = stream_csv(bytes, usize::MAX, |id, target| {
        outcomes.push(&mut index, id.to_owned(), target);
    })?;
    outcomes.rows = summary.rows;
    outcomes.bad_rows = summary.bad_rows;
    Ok(outcomes)
}

/// Reads a JSON body; `line` in bad rows is the 1-based position in the array.
pub fn from_json(body: OutcomesBody) -> Outcomes {
    let items = match body {
        OutcomesBody::Wrapped { outcomes } | OutcomesBody::Bare(outcomes) => outcomes,
    };
    let mut outcomes = Outcomes::default();
    let mut index = HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        outcomes.rows += 1;
        let mut errors = Vec::new();
        if let Some(problem) = account_id_problem(&item.account_id) {
            errors.push(FieldError::new(
                format!("/outcomes/{i}/account_id"),
                problem,
            ));
        }
        let target = match item.target {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
            Some(serde_json::Value::Number(n)) => parse_target(&n.to_string()),
            Some(other) => Err(format!("expected 0, 1 or null, found {other}")),
        };
        let target = target.unwrap_or_else(|problem| {
            errors.push(FieldError::new(format!("/outcomes/{i}/target"), problem));
            None
        });
        if errors.is_empty() {
            outcomes.push(&mut index, item.account_id, target);
        } else {
            outcomes.bad_rows.push(BadRow {
                line: i as u64 + 1,
                errors,
            });
        }
    }
    outcomes
}

/// `1`/`0` (also `1.0`, `true`, ...); empty is no outcome.
fn parse_target(cell: &str) -> Result<Option<bool>, String> {
    match cell {
        "" => Ok(None),
        "1" | "1.0" | "true" | "True" | "TRUE" => Ok(Some(true)),
        "0" | "0.0" | "false" | "False" | "FALSE" => Ok(Some(false)),
        other => Err(format!(
            "`{}` is not an outcome: use 1, 0 or leave it empty",
            other.escape_debug()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_row_wins_and_empty_targets_stay_absent() {
        let csv = "ban,y,extra\nA,1,x\nB,0,x\nA,0,x\nC,,x\nB,,x\nD,1,x\n";
        let outcomes = from_csv(csv.as_bytes()).unwrap();
        assert_eq!(outcomes.rows, 6);
        assert!(outcomes.bad_rows.is_empty());
        assert_eq!(
            outcomes.accounts,
            vec![
                ("A".to_owned(), Some(false)),
                ("B".to_owned(), None),
                ("C".to_owned(), None),
                ("D".to_owned(), Some(true)),
            ]
        );
    }

    #[test]
    fn bad_rows_have_line_numbers() {
        let csv = "account_id,target\nA,2\n,1\n\nB,1,9\nC,1\n";
        let outcomes = from_csv(csv.as_bytes()).unwrap();
        let lines: Vec<u64> = outcomes.bad_rows.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![2, 3, 5]);
        assert_eq!(outcomes.bad_rows[0].errors[0].field, "target");
        assert_eq!(outcomes.accounts, vec![("C".to_owned(), Some(true))]);
        assert!(
            from_csv(b"account_id,outcome\nA,1\n")
                .unwrap_err()
                .contains("outcome column")
        );
    }

    #[test]
    fn json_bodies() {
        let body: OutcomesBody = serde_json::from_str(
            r#"{"outcomes": [{"account_id": "A", "target": 1}, {"account_id": "A", "target": null},
                {"account_id": "B", "target": true}, {"account_id": "C", "target": "yes"}]}"#,
        )
        .unwrap();
        let outcomes = from_json(body);
        assert_eq!(
            outcomes.accounts,
            vec![("A".to_owned(), None), ("B".to_owned(), Some(true))]
        );
        assert_eq!(outcomes.bad_rows[0].line, 4);
        assert_eq!(outcomes.bad_rows[0].errors[0].field, "/outcomes/3/target");
    }
}
