//! A customer's local calling window: daily local hours in the customer's IANA zone, mapped to
//! instants by the SLA calendars (`sla::calendar`), so DST change days are handled the same way
//! there and here. Pure: the instant the window is computed from is a parameter.

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::sla::calendar::{Calendar, CalendarDefinition, OpenInterval, WEEKDAYS};

/// Where a customer may be called, and the next time they may.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CallingWindow {
    /// IANA zone (the link's, else the campaign's).
    pub time_zone: String,
    /// Local opening time every day, `HH:MM`.
    pub local_start: String,
    /// Local closing time every day, `HH:MM`.
    pub local_end: String,
    /// The window is open at the instant asked about.
    pub open_now: bool,
    /// The current or next open span: its start (the instant asked about when open now) ...
    pub next_start: Option<DateTime<Utc>>,
    /// ... and its end.
    pub next_end: Option<DateTime<Utc>>,
}

/// The open span of a daily window at or after `at`, or `None` for an unknown zone.
pub fn next_open_span(
    time_zone: &str,
    start: NaiveTime,
    end: NaiveTime,
    at: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let interval = OpenInterval {
        start: start.format("%H:%M").to_string(),
        end: end.format("%H:%M").to_string(),
    };
    let definition = CalendarDefinition {
        name: "calling window".into(),
        time_zone: time_zone.into(),
        weekly_hours: WEEKDAYS
            .iter()
            .map(|day| ((*day).to_owned(), vec![interval.clone()]))
            .collect(),
        holidays: Vec::new(),
    };
    let calendar = Calendar::from_definition(&definition).ok()?;
    calendar
        .open_spans(at, at + TimeDelta::days(2))
        .first()
        .map(|span| (span.start, span.end))
}

/// Calling windows of many rows at one instant: each distinct (zone, hours) is computed, and
/// its CSV cells formatted, once (a call list of millions has a handful of them).
pub struct Windows {
    at: DateTime<Utc>,
    /// A handful of entries: a linear search beats hashing a zone name per row.
    known: Vec<(NaiveTime, NaiveTime, CallingWindow, String)>,
}

impl Windows {
    pub fn at(at: DateTime<Utc>) -> Self {
        Windows {
            at,
            known: Vec::new(),
        }
    }

    fn entry(&mut self, time_zone: &str, start: NaiveTime, end: NaiveTime) -> usize {
        if let Some(i) = self
            .known
            .iter()
            .position(|k| k.0 == start && k.1 == end && k.2.time_zone == time_zone)
        {
            return i;
        }
        let at = self.at;
        let (window, cells) = {
            let span = next_open_span(time_zone, start, end, at);
            let window = CallingWindow {
                time_zone: time_zone.to_owned(),
                local_start: start.format("%H:%M").to_string(),
                local_end: end.format("%H:%M").to_string(),
                open_now: span.is_some_and(|(s, _)| s == at),
                next_start: span.map(|(s, _)| s),
                next_end: span.map(|(_, e)| e),
            };
            let instant = |t: Option<DateTime<Utc>>| {
                t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default()
            };
            let cells = format!(
                "{},{},{},{},{},{}",
                csv_quoted(&window.time_zone),
                window.local_start,
                window.local_end,
                window.open_now,
                instant(window.next_start),
                instant(window.next_end)
            );
            (window, cells)
        };
        self.known.push((start, end, window, cells));
        self.known.len() - 1
    }

    pub fn get(&mut self, time_zone: &str, start: NaiveTime, end: NaiveTime) -> &CallingWindow {
        let i = self.entry(time_zone, start, end);
        &self.known[i].2
    }

    /// The window's CSV cells: zone, local start and end, open now, next start and end.
    pub fn csv_cells(&mut self, time_zone: &str, start: NaiveTime, end: NaiveTime) -> &str {
        let i = self.entry(time_zone, start, end);
        &self.known[i].3
    }
}

/// A CSV cell, quoted when it must be.
pub fn csv_quoted(value: &str) -> std::borrow::Cow<'_, str> {
    // Bytewise: these are ASCII, and a char-set `contains` decodes every character (a call
    // list checks millions of cells).
    if value
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        format!("\"{}\"", value.replace('"', "\"\"")).into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn hm(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    #[test]
    fn windows_follow_local_time_and_dst() {
        // Lisbon is UTC+1 in summer: 09:00-20:00 local is 08:00-19:00 UTC.
        let (start, end) = next_open_span(
            "Europe/Lisbon",
            hm("09:00"),
            hm("20:00"),
            t("2026-07-01T05:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            (start, end),
            (t("2026-07-01T08:00:00Z"), t("2026-07-01T19:00:00Z"))
        );
        // After today's window: tomorrow's. On 25 October (back to UTC+0) 09:00 is 09:00 UTC.
        let (start, _) = next_open_span(
            "Europe/Lisbon",
            hm("09:00"),
            hm("20:00"),
            t("2026-10-24T19:30:00Z"),
        )
        .unwrap();
        assert_eq!(start, t("2026-10-25T09:00:00Z"));
        // São Paulo, UTC-3 all year.
        let mut windows = Windows::at(t("2026-03-02T15:00:00Z"));
        let w = windows
            .get("America/Sao_Paulo", hm("09:00"), hm("18:00"))
            .clone();
        assert!(w.open_now);
        assert_eq!(w.next_start, Some(t("2026-03-02T15:00:00Z")));
        assert_eq!(w.next_end, Some(t("2026-03-02T21:00:00Z")));
        assert_eq!(w.local_start, "09:00");
        assert!(
            next_open_span(
                "Mars/Olympus",
                hm("09:00"),
                hm("18:00"),
                t("2026-03-02T15:00:00Z")
            )
            .is_none()
        );
    }
}
