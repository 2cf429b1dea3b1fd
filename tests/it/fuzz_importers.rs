//! Property-based fuzzing of every importer (issue 16): CSV in the template's columns, CSV
//! through a column mapping, XES, population CSV (batch scoring) and outcomes CSV. Inputs are
//! built from tokens that matter to each format (delimiters, quotes, newlines, NUL, markup,
//! long runs) plus raw bytes; each importer must end without panicking, in bounded memory
//! (the record bounds are small here), with line numbers that only grow.
//!
//! Bounded time: `PROPTEST_CASES` inputs per importer (default 256; CI can raise it), e.g.
//! `PROPTEST_CASES=5000 cargo test --test it fuzz_importers::`.

use std::io::BufRead;

use chrono_tz::Tz;
use proptest::prelude::*;
use switchboard::cases::import::{
    Classifier, ColumnMapping,
    csv::CsvRows,
    xes::{XesLimits, XesRows},
};

/// A file made of format tokens and stray bytes.
fn file_from(tokens: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        8 => prop::sample::select(tokens).prop_map(|t| t.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..16),
        1 => (prop::sample::select(tokens), 1usize..3000)
            .prop_map(|(t, n)| t.as_bytes().repeat(n)),
    ];
    prop::collection::vec(token, 0..200).prop_map(|parts| parts.concat())
}

const CSV_TOKENS: &[&str] = &[
    "case_id,activity,event_time\n",
    "case_id,activity,event_time,agent,csat,channel\n",
    "C1",
    "C2",
    ",",
    "\n",
    "\r\n",
    "\r",
    "\"",
    "\"\"",
    "\0",
    " ",
    "Case Created",
    "Case Resolved",
    "Solution Proposed to Customer",
    "2026-01-05T10:00:00Z",
    "2026-01-05 11:00:00",
    "5/3/2026 12:00",
    "not a time",
    "ana",
    "5",
    "9",
    "-1",
    "1e308",
    "é",
    "\u{feff}",
    "\u{1F600}",
];

const XES_TOKENS: &[&str] = &[
    "<?xml version=\"1.0\"?>\n",
    "<log xes.version=\"1.0\">",
    "</log>",
    "<log/>",
    "<trace>",
    "</trace>",
    "<event>",
    "</event>",
    "<global scope=\"event\">",
    "</global>",
    "<string key=\"concept:name\" value=\"C1\"/>",
    "<string key=\"concept:name\" value=\"Case Created\"/>",
    "<date key=\"time:timestamp\" value=\"2026-03-02T11:30:05+02:00\"/>",
    "<date key=\"time:timestamp\" value=\"broken\"/>",
    "<int key=\"n\" value=\"3\"/>",
    "<float key=\"f\" value=\"NaN\"/>",
    "<list key=\"l\">",
    "</list>",
    "<string key=\"a\" value=\"&amp;&#0;&#xD800;\"/>",
    "<!-- c -->",
    "<![CDATA[x]]>",
    "\n",
    " ",
    "<",
    ">",
    "\"",
    "&",
    "\0",
    "<html>",
];

const POPULATION_TOKENS: &[&str] = &[
    "account_id,tenure_months,n_mobile_lines\n",
    "ban,tenure_months\n",
    "A1",
    "A2",
    ",",
    "\n",
    "\r\n",
    "\"",
    "\0",
    "3",
    "2.5",
    "-0",
    "nan",
    "inf",
    "1e400",
    "x",
    " ",
    "é",
];

const OUTCOME_TOKENS: &[&str] = &[
    "account_id,target\n",
    "ban,y,extra\n",
    "A1",
    "A2",
    ",",
    "\n",
    "\r\n",
    "\"",
    "\0",
    "1",
    "0",
    "1.0",
    "true",
    "maybe",
    "",
    " ",
];

fn reader(bytes: Vec<u8>) -> Box<dyn BufRead + Send> {
    Box::new(std::io::Cursor::new(bytes))
}

/// Lines of the rows read, stopping at the first error (as an import does).
fn lines_of<I, R, E>(rows: I, line: impl Fn(&R) -> u64) -> Vec<u64>
where
    I: Iterator<Item = Result<R, E>>,
{
    let mut lines = Vec::new();
    for row in rows.take(100_000) {
        match row {
            Ok(row) => lines.push(line(&row)),
            Err(_) => break,
        }
    }
    lines
}

fn assert_growing(lines: &[u64]) {
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]),
        "lines go back: {lines:?}"
    );
    assert!(lines.iter().all(|l| *l >= 1), "line 0: {lines:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn template_csv(file in file_from(CSV_TOKENS)) {
        if let Ok(rows) = CsvRows::new(reader(file), None, Tz::UTC, 4096) {
            assert_growing(&lines_of(rows, |r| r.line));
        }
    }

    #[test]
    fn mapped_csv(file in file_from(CSV_TOKENS)) {
        let mapping = ColumnMapping {
            case_id: "case_id".into(),
            activity: "activity".into(),
            event_time: "event_time".into(),
            time_format: Some("%d/%m/%Y %H:%M".into()),
            fields: [("agent".to_owned(), "agent".to_owned())].into(),
            attributes: vec!["channel".into()],
            event_id_columns: vec!["csat".into()],
        };
        if let Ok(rows) = CsvRows::new(reader(file), Some(mapping), Tz::UTC, 4096) {
            assert_growing(&lines_of(rows, |r| r.line));
        }
    }

    #[test]
    fn xes(file in file_from(XES_TOKENS), lifecycle in any::<bool>()) {
        let classifier = if lifecycle { Classifier::NameAndLifecycle } else { Classifier::Name };
        let limits = XesLimits { max_element_bytes: 4096, max_trace_bytes: 64 * 1024 };
        let mut rows = XesRows::new(reader(file), classifier, Tz::UTC, limits);
        if rows.check_root().is_ok() {
            lines_of(rows, |r| r.line);
        }
    }

    #[test]
    fn population_csv(file in file_from(POPULATION_TOKENS)) {
        use switchboard::scoring::runs::input::{ChunkReader, Columns, parse_chunk};
        let features = vec!["tenure_months".to_owned(), "n_mobile_lines".to_owned()];
        let mut chunks = ChunkReader::new(std::io::Cursor::new(file));
        if let Ok(Some(header)) = chunks.header()
            && let Ok(columns) = Columns::resolve(&header, &features)
        {
            let mut first_lines = Vec::new();
            while let Ok(Some(chunk)) = chunks.next_chunk() {
                first_lines.push(chunk.first_line);
                let parsed = parse_chunk(&columns, &chunk);
                let bad: Vec<u64> = parsed.bad_rows.iter().map(|b| b.line).collect();
                assert_growing(&bad);
            }
            assert_growing(&first_lines);
        }
    }

    #[test]
    fn outcomes_csv(file in file_from(OUTCOME_TOKENS)) {
        let mut seen = 0u64;
        if let Ok(summary) = switchboard::scoring::runs::outcomes::stream_csv(
            std::io::Cursor::new(file),
            100,
            |_, _| seen += 1,
        ) {
            assert!(seen + summary.bad_rows_count <= summary.rows);
            assert_growing(&summary.bad_rows.iter().map(|b| b.line).collect::<Vec<_>>());
        }
    }
}
