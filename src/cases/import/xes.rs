//! XES (IEEE 1849) event logs, read as a stream with `quick-xml`: a trace is a case
//! (`concept:name`), its events become rows. Standard extension keys map to template fields
//! (`concept:name` → activity, `time:timestamp` → event_time, `org:resource` → agent,
//! `org:group` → owner_team, `lifecycle:transition` → lifecycle, `identity:id` → event_id);
//! every other event attribute is kept, typed, in the event's attributes. `<global>` defaults
//! are not applied (as pm4py does not).

use std::{
    io::BufRead,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use chrono_tz::Tz;
use quick_xml::{Reader, events::Event};
use serde_json::Value;

use super::{Classifier, ImportError, ParsedRow};
use crate::{cases::input::EventInput, validation::FieldError};

/// A reader that fails once more than `limit` bytes were consumed since the last
/// [`Budget::mark`]: quick-xml buffers a whole tag or text node, and this bounds it.
struct Budget {
    inner: Box<dyn BufRead + Send>,
    consumed: Arc<AtomicU64>,
    mark: Arc<AtomicU64>,
    limit: u64,
}

impl std::io::Read for Budget {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::io::Read::read(&mut self.inner, buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl BufRead for Budget {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let since_mark = self
            .consumed
            .load(Ordering::Relaxed)
            .saturating_sub(self.mark.load(Ordering::Relaxed));
        if self.limit > 0 && since_mark > self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "an XML element or text is longer than {} bytes (IMPORT_MAX_RECORD_BYTES)",
                    self.limit
                ),
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.consumed.fetch_add(amount as u64, Ordering::Relaxed);
        self.inner.consume(amount);
    }
}

/// How much of a file one event or trace may hold in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XesLimits {
    /// Bytes of one XML tag or text node (0: no bound).
    pub max_element_bytes: u64,
    /// Bytes of one trace, whose events are held until it ends (0: no bound).
    pub max_trace_bytes: u64,
}

pub struct XesRows {
    reader: Reader<Budget>,
    consumed: Arc<AtomicU64>,
    mark: Arc<AtomicU64>,
    limits: XesLimits,
    /// Bytes consumed when the open trace started.
    trace_start: u64,
    /// Whether the root element (`<log>`) has been seen.
    root_seen: bool,
    buffer: Vec<u8>,
    classifier: Classifier,
    zone: Tz,
    /// Current line: newlines seen in everything read so far, plus one.
    line: u64,
    /// Element nesting below `<log>` we are skipping (globals, nested attributes).
    skip_depth: usize,
    trace: Option<Trace>,
    event: Option<PendingEvent>,
    /// Rows of a finished trace, handed out one by one.
    ready: std::vec::IntoIter<ParsedRow>,
    finished: bool,
}

#[derive(Default)]
struct Trace {
    case_id: Option<String>,
    events: Vec<PendingEvent>,
}

struct PendingEvent {
    line: u64,
    attributes: Vec<(String, Value)>,
}

impl XesRows {
    pub fn new(
        reader: Box<dyn BufRead + Send>,
        classifier: Classifier,
        zone: Tz,
        limits: XesLimits,
    ) -> Self {
        let (consumed, mark) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let budget = Budget {
            inner: reader,
            consumed: consumed.clone(),
            mark: mark.clone(),
            limit: limits.max_element_bytes,
        };
        Self {
            reader: Reader::from_reader(budget),
            consumed,
            mark,
            limits,
            trace_start: 0,
            root_seen: false,
            buffer: Vec::with_capacity(4096),
            classifier,
            zone,
            line: 1,
            skip_depth: 0,
            trace: None,
            event: None,
            ready: Vec::new().into_iter(),
            finished: false,
        }
    }

    /// Reads up to the root element and refuses a file whose root is not `<log>` (XML, but
    /// not XES), so that it fails instead of "importing" nothing.
    pub fn check_root(&mut self) -> Result<(), ImportError> {
        while !self.root_seen && !self.finished {
            self.read_trace()?;
        }
        if !self.root_seen {
            return Err(ImportError::Malformed {
                line: self.line,
                message: "not an XES log: the file has no <log> element".into(),
            });
        }
        Ok(())
    }

    /// Reads until a trace ends (its rows become ready), the root element opens (when it has
    /// not yet been seen) or the file ends.
    fn read_trace(&mut self) -> Result<(), ImportError> {
        loop {
            self.buffer.clear();
            self.mark
                .store(self.consumed.load(Ordering::Relaxed), Ordering::Relaxed);
            let event = self
                .reader
                .read_event_into(&mut self.buffer)
                .map_err(|error| ImportError::Malformed {
                    line: self.line,
                    message: match error {
                        quick_xml::Error::Io(io) => io.to_string(),
                        other => format!("not valid XML: {other}"),
                    },
                })?;
            let newlines = bytecount(&event);
            let line_at_start = self.line;
            self.line += newlines;
            if self.trace.is_some()
                && self.limits.max_trace_bytes > 0
                && self.consumed.load(Ordering::Relaxed) - self.trace_start
                    > self.limits.max_trace_bytes
            {
                return Err(ImportError::Malformed {
                    line: self.line,
                    message: format!(
                        "a trace is longer than {} bytes (IMPORT_MAX_TRACE_BYTES)",
                        self.limits.max_trace_bytes
                    ),
                });
            }
            if !self.root_seen
                && let Event::Start(tag) | Event::Empty(tag) = &event
            {
                let name = tag.local_name();
                if name.as_ref() != b"log" {
                    return Err(ImportError::Malformed {
                        line: line_at_start,
                        message: format!(
                            "not an XES log: the root element is <{}>, not <log>",
                            String::from_utf8_lossy(name.as_ref())
                        ),
                    });
                }
                self.root_seen = true;
                if matches!(event, Event::Empty(_)) {
                    self.finished = true;
                }
                return Ok(());
            }
            match event {
                Event::Eof => {
                    self.finished = true;
                    // quick-xml ends quietly inside open elements: a cut-off file is an error,
                    // not a log without its last trace.
                    if !self.root_seen {
                        return Ok(());
                    }
                    if self.trace.is_some() || self.event.is_some() || self.skip_depth > 0 {
                        return Err(ImportError::Malformed {
                            line: self.line,
                            message: "the file ends inside an open element (truncated?)".into(),
                        });
                    }
                    return Ok(());
                }
                Event::Start(tag) => {
                    let name = tag.local_name().as_ref().to_vec();
                    if self.skip_depth > 0
                        || name == b"global"
                        || name == b"extension"
                        || name == b"classifier"
                    {
                        self.skip_depth += 1;
                    } else if name == b"trace" {
                        self.trace = Some(Trace::default());
                        self.trace_start = self.consumed.load(Ordering::Relaxed);
                    } else if name == b"event" && self.trace.is_some() {
                        self.event = Some(PendingEvent {
                            line: line_at_start,
                            attributes: Vec::new(),
                        });
                    } else if self.trace.is_some() {
                        // A nested attribute (list / container): keep its own value, skip children.
                        let attribute = parse_attribute(&tag, line_at_start)?;
                        keep_attribute(&mut self.event, &mut self.trace, attribute);
                        self.skip_depth += 1;
                    }
                }
                Event::Empty(tag) if self.skip_depth == 0 && self.trace.is_some() => {
                    let attribute = parse_attribute(&tag, line_at_start)?;
                    keep_attribute(&mut self.event, &mut self.trace, attribute);
                }
                Event::End(tag) => {
                    let name = tag.local_name().as_ref().to_vec();
                    if self.skip_depth > 0 {
                        self.skip_depth -= 1;
                    } else if name == b"event" {
                        if let (Some(event), Some(trace)) = (self.event.take(), self.trace.as_mut())
                        {
                            trace.events.push(event);
                        }
                    } else if name == b"trace"
                        && let Some(trace) = self.trace.take()
                    {
                        self.ready = self.finish_trace(trace).into_iter();
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }

    fn finish_trace(&self, trace: Trace) -> Vec<ParsedRow> {
        trace
            .events
            .into_iter()
            .map(|event| {
                let line = event.line;
                let result = match &trace.case_id {
                    None => Err(vec![FieldError::new(
                        "trace/concept:name",
                        "the trace has no case id",
                    )]),
                    Some(case_id) => self.event_input(case_id, event).validate(self.zone, ""),
                };
                ParsedRow {
                    line,
                    event: result,
                }
            })
            .collect()
    }

    fn event_input(&self, case_id: &str, event: PendingEvent) -> EventInput {
        let mut input = EventInput {
            case_id: Some(case_id.to_owned()),
            ..Default::default()
        };
        let text = |value: &Value| {
            value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned)
        };
        for (key, value) in event.attributes {
            match key.as_str() {
                "concept:name" => input.activity = Some(text(&value)),
                "time:timestamp" => input.event_time = Some(text(&value)),
                "lifecycle:transition" => input.lifecycle = Some(text(&value)),
                "org:resource" => input.agent = Some(text(&value)),
                "org:group" => input.owner_team = Some(text(&value)),
                "identity:id" => input.event_id = Some(text(&value)),
                _ => {
                    input.extra.insert(key, value);
                }
            }
        }
        if self.classifier == Classifier::NameAndLifecycle
            && let (Some(name), Some(lifecycle)) = (&input.activity, &input.lifecycle)
        {
            input.activity = Some(format!("{name}+{lifecycle}"));
        }
        input
    }
}

/// A `<string key=".." value=".."/>`-style attribute, typed by its element name.
fn parse_attribute(
    tag: &quick_xml::events::BytesStart<'_>,
    line: u64,
) -> Result<Option<(String, Value)>, ImportError> {
    let mut key = None;
    let mut raw = None;
    for attribute in tag.attributes() {
        let attribute = attribute.map_err(|error| ImportError::Malformed {
            line,
            message: format!("bad XML attribute: {error}"),
        })?;
        let value = attribute
            .unescape_value()
            .map_err(|error| ImportError::Malformed {
                line,
                message: format!("bad XML attribute value: {error}"),
            })?
            .into_owned();
        match attribute.key.as_ref() {
            b"key" => key = Some(value),
            b"value" => raw = Some(value),
            _ => {}
        }
    }
    let (Some(key), Some(raw)) = (key, raw) else {
        return Ok(None);
    };
    let value = match tag.local_name().as_ref() {
        b"int" => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(raw)),
        b"float" => raw
            .parse::<f64>()
            .ok()
            .and_then(|v| serde_json::Number::from_f64(v).map(Value::Number))
            .unwrap_or(Value::String(raw)),
        b"boolean" => raw
            .parse::<bool>()
            .map(Value::Bool)
            .unwrap_or(Value::String(raw)),
        _ => Value::String(raw),
    };
    Ok(Some((key, value)))
}

/// An attribute belongs to the open event, else (only the case id matters) to the trace.
fn keep_attribute(
    event: &mut Option<PendingEvent>,
    trace: &mut Option<Trace>,
    attribute: Option<(String, Value)>,
) {
    let Some((key, value)) = attribute else {
        return;
    };
    match (event.as_mut(), trace.as_mut()) {
        (Some(event), _) => event.attributes.push((key, value)),
        (None, Some(trace)) if key == "concept:name" => {
            trace.case_id = Some(
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned),
            );
        }
        _ => {}
    }
}

fn bytecount(event: &Event<'_>) -> u64 {
    let bytes: &[u8] = match event {
        Event::Start(tag) | Event::Empty(tag) => tag.as_ref(),
        Event::End(tag) => tag.as_ref(),
        Event::Text(text) => text.as_ref(),
        Event::CData(text) => text.as_ref(),
        Event::Comment(text) => text.as_ref(),
        _ => &[],
    };
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

impl Iterator for XesRows {
    type Item = Result<ParsedRow, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.ready.next() {
                return Some(Ok(row));
            }
            if self.finished {
                return None;
            }
            if let Err(error) = self.read_trace() {
                self.finished = true;
                return Some(Err(error));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1.0">
  <global scope="event"><string key="concept:name" value="__INVALID__"/></global>
  <classifier name="Activity" keys="concept:name lifecycle:transition"/>
  <trace>
    <string key="concept:name" value="CAS-0042"/>
    <event>
      <string key="concept:name" value="Triage"/>
      <string key="lifecycle:transition" value="start"/>
      <date key="time:timestamp" value="2026-03-02T11:30:05+02:00"/>
      <string key="org:resource" value="agent-7"/>
      <int key="impact" value="3"/>
      <list key="tags"><string key="x" value="y"/></list>
    </event>
    <event>
      <string key="concept:name" value="Resolved"/>
      <date key="time:timestamp" value="broken"/>
    </event>
  </trace>
</log>
"#;

    fn rows(text: &str, classifier: Classifier) -> Vec<Result<ParsedRow, ImportError>> {
        let reader: Box<dyn BufRead + Send> =
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        XesRows::new(reader, classifier, Tz::UTC, XesLimits::default()).collect()
    }

    #[test]
    fn traces_become_cases_with_typed_attributes_and_lines() {
        let rows = rows(LOG, Classifier::NameAndLifecycle);
        assert_eq!(rows.len(), 2);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.line, 7);
        let event = first.event.as_ref().unwrap();
        assert_eq!(event.case_id, "CAS-0042");
        assert_eq!(event.activity, "Triage+start");
        assert_eq!(event.event_time.to_rfc3339(), "2026-03-02T09:30:05+00:00");
        assert_eq!(event.agent.as_deref(), Some("agent-7"));
        assert_eq!(event.attributes.get("impact"), Some(&Value::from(3)));
        // A list has no value of its own and its children are not event attributes.
        assert!(!event.attributes.contains_key("tags") && !event.attributes.contains_key("x"));
        let second = rows[1].as_ref().unwrap();
        assert_eq!(second.line, 15);
        assert_eq!(second.event.as_ref().unwrap_err()[0].field, "event_time");
    }

    #[test]
    fn a_truncated_file_is_an_error() {
        let cut = &LOG[..LOG.find("</trace>").unwrap()];
        let error = rows(cut, Classifier::Name)
            .into_iter()
            .find_map(Result::err)
            .unwrap();
        assert!(error.to_string().contains("truncated"), "{error}");
    }

    #[test]
    fn xml_that_is_not_xes_is_refused() {
        let reader: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(
            b"<?xml version=\"1.0\"?>\n<html><body/></html>".to_vec(),
        ));
        let mut rows = XesRows::new(reader, Classifier::Name, Tz::UTC, XesLimits::default());
        let error = rows.check_root().unwrap_err();
        assert!(
            error.to_string().contains("root element is <html>"),
            "{error}"
        );
    }

    #[test]
    fn an_over_long_element_is_refused_without_buffering_it() {
        let mut text = String::from("<log>\n<trace><string key=\"concept:name\" value=\"");
        text.push_str(&"x".repeat(100_000));
        text.push_str("\"/></trace></log>");
        let reader: Box<dyn BufRead + Send> = Box::new(std::io::BufReader::with_capacity(
            4096,
            std::io::Cursor::new(text.into_bytes()),
        ));
        let limits = XesLimits {
            max_element_bytes: 10_000,
            max_trace_bytes: 0,
        };
        let error = XesRows::new(reader, Classifier::Name, Tz::UTC, limits)
            .find_map(Result::err)
            .unwrap();
        assert!(
            error.to_string().contains("IMPORT_MAX_RECORD_BYTES"),
            "{error}"
        );
    }

    #[test]
    fn malformed_xml_names_the_line() {
        let rows = rows("<log>\n<trace>\n<event></trace>\n</log>", Classifier::Name);
        let error = rows.into_iter().find_map(Result::err).unwrap();
        assert!(
            matches!(error, ImportError::Malformed { line: 3, .. }),
            "{error}"
        );
    }
}
