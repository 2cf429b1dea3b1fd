//! Business-hours calendars (spec: cases-and-kpis.md, "SLA clocks on business-hours
//! calendars"): an IANA zone, weekly open intervals in local wall time and holidays, or the
//! built-in `24x7`. Pure: maps local days to instants, never reads the clock.
//!
//! DST: each local date's intervals are mapped to instants on their own, so a 09:00-18:00 day
//! is 9 hours on both change days. A boundary inside a DST gap moves to the first instant after
//! the gap (the transition); one that occurs twice takes its first occurrence.

use std::{collections::BTreeMap, fmt, str::FromStr, sync::Arc};

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::open_time::{self, OpenTimeCache, OpenTimeTable};
use crate::validation::FieldError;

/// The id of the built-in calendar that is always open.
pub const ALWAYS_OPEN_ID: &str = "24x7";

/// Days looked ahead for a due instant before giving up (a calendar whose few open days are
/// all holidays would otherwise never be due).
const PROJECTION_DAYS: u64 = 3_660;

pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A calendar as users write it (`PUT /v1/calendars/{id}`) and as it is stored per version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarDefinition {
    /// A human name, e.g. "Lisbon office".
    pub name: String,
    /// IANA time zone of the opening hours and holidays, e.g. `Europe/Lisbon`.
    pub time_zone: String,
    /// Open intervals per weekday in local wall time (`monday` … `sunday`; a missing day is
    /// closed). Several intervals per day are allowed (split shifts, lunch breaks); `24:00`
    /// as an end means the next midnight.
    #[serde(default)]
    #[schema(example = json!({"monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}]}))]
    pub weekly_hours: BTreeMap<String, Vec<OpenInterval>>,
    /// Local dates on which the calendar is closed all day.
    #[serde(default)]
    pub holidays: Vec<HolidayDefinition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenInterval {
    /// `HH:MM`, 00:00 to 23:59.
    #[schema(example = "09:00")]
    pub start: String,
    /// `HH:MM`, after `start`, up to `24:00`.
    #[schema(example = "18:00")]
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayDefinition {
    /// Local date, `YYYY-MM-DD`.
    #[schema(example = "2026-12-25")]
    pub date: String,
    #[schema(example = "Christmas Day")]
    pub name: String,
    /// Repeats every year on the same month and day (29 February only in leap years).
    #[serde(default)]
    pub yearly: bool,
}

/// A validated calendar, ready to map time.
#[derive(Debug, Clone, PartialEq)]
pub enum Calendar {
    AlwaysOpen,
    Hours(Box<BusinessHours>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    zone: Tz,
    /// Per weekday (Monday first): open intervals as minutes from local midnight, sorted.
    weekly: [Vec<(u32, u32)>; 7],
    holidays: Vec<Holiday>,
    /// Open time by arithmetic, built on first use (derived from the fields above).
    open_time: OpenTimeCache,
}

#[derive(Debug, Clone, PartialEq)]
struct Holiday {
    date: NaiveDate,
    name: String,
    yearly: bool,
}

/// Why a span of time is closed on a calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closure<'a> {
    /// Outside the weekly opening hours.
    Hours,
    /// A holiday (its name).
    Holiday(&'a str),
}

/// A half-open span `[start, end)` of instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Calendar {
    /// Validates a definition; every problem is reported with its JSON pointer.
    pub fn from_definition(def: &CalendarDefinition) -> Result<Calendar, Vec<FieldError>> {
        let mut errors = Vec::new();
        if def.name.trim().is_empty() || def.name.len() > 200 {
            errors.push(FieldError::new("/name", "must be 1 to 200 characters"));
        }
        let zone = match Tz::from_str(def.time_zone.trim()) {
            Ok(zone) => Some(zone),
            Err(_) => {
                errors.push(FieldError::new(
                    "/time_zone",
                    format!(
                        "unknown time zone {:?}: use an IANA name such as Europe/Lisbon",
                        def.time_zone
                    ),
                ));
                None
            }
        };
        let mut weekly: [Vec<(u32, u32)>; 7] = Default::default();
        for (day, intervals) in &def.weekly_hours {
            let Some(index) = WEEKDAYS.iter().position(|d| d == day) else {
                errors.push(FieldError::new(
                    format!("/weekly_hours/{day}"),
                    "unknown weekday: use monday … sunday",
                ));
                continue;
            };
            let mut parsed = Vec::new();
            for (i, interval) in intervals.iter().enumerate() {
                let pointer = format!("/weekly_hours/{day}/{i}");
                let start = parse_clock(&interval.start, false);
                let end = parse_clock(&interval.end, true);
                if start.is_none() {
                    errors.push(FieldError::new(
                        format!("{pointer}/start"),
                        format!(
                            "{:?} is not a time HH:MM from 00:00 to 23:59",
                            interval.start
                        ),
                    ));
                }
                if end.is_none() {
                    errors.push(FieldError::new(
                        format!("{pointer}/end"),
                        format!("{:?} is not a time HH:MM from 00:01 to 24:00", interval.end),
                    ));
                }
                if let (Some(s), Some(e)) = (start, end) {
                    if e <= s {
                        errors.push(FieldError::new(
                            pointer,
                            format!(
                                "ends at {} before or when it starts at {}",
                                interval.end, interval.start
                            ),
                        ));
                    } else {
                        parsed.push((i, s, e));
                    }
                }
            }
            parsed.sort_by_key(|&(_, s, _)| s);
            for pair in parsed.windows(2) {
                let ((_, s1, e1), (i2, s2, _)) = (pair[0], pair[1]);
                if s2 < e1 {
                    errors.push(FieldError::new(
                        format!("/weekly_hours/{day}/{i2}"),
                        format!(
                            "overlaps the interval {}-{} of the same day",
                            minutes_to_clock(s1),
                            minutes_to_clock(e1)
                        ),
                    ));
                }
            }
            weekly[index] = parsed.into_iter().map(|(_, s, e)| (s, e)).collect();
        }
        let weekly_errors = errors.iter().any(|e| e.field.starts_with("/weekly_hours"));
        if !weekly_errors && weekly.iter().all(Vec::is_empty) {
            errors.push(FieldError::new(
                "/weekly_hours",
                "the calendar has no open hours: give at least one interval (or use the built-in 24x7 calendar)",
            ));
        }
        let mut holidays = Vec::new();
        for (i, holiday) in def.holidays.iter().enumerate() {
            match NaiveDate::parse_from_str(holiday.date.trim(), "%Y-%m-%d") {
                Ok(date) => holidays.push(Holiday {
                    date,
                    name: holiday.name.trim().to_owned(),
                    yearly: holiday.yearly,
                }),
                Err(_) => errors.push(FieldError::new(
                    format!("/holidays/{i}/date"),
                    format!("{:?} is not a date YYYY-MM-DD", holiday.date),
                )),
            }
            if holiday.name.trim().is_empty() {
                errors.push(FieldError::new(
                    format!("/holidays/{i}/name"),
                    "must not be empty",
                ));
            }
        }
        match (zone, errors.is_empty()) {
            (Some(zone), true) => Ok(Calendar::Hours(Box::new(BusinessHours {
                zone,
                weekly,
                holidays,
                open_time: OpenTimeCache::default(),
            }))),
            _ => Err(errors),
        }
    }

    /// The open spans overlapping `[from, to)`, in order, clipped to it, touching spans merged.
    pub fn open_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        if to <= from {
            return Vec::new();
        }
        match self {
            Calendar::AlwaysOpen => vec![Span {
                start: from,
                end: to,
            }],
            Calendar::Hours(hours) => hours.open_spans(from, to),
        }
    }

    /// The holiday spans (whole local days) overlapping `[from, to)`, clipped, with names.
    pub fn holiday_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(Span, &str)> {
        match self {
            Calendar::AlwaysOpen => Vec::new(),
            Calendar::Hours(hours) => hours.holiday_spans(from, to),
        }
    }

    /// Open time in `[from, to)`: the sum of `open_spans`, without listing them.
    pub fn open_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return TimeDelta::zero();
        }
        match self {
            Calendar::AlwaysOpen => to - from,
            Calendar::Hours(hours) => match hours.table(from, to) {
                Some(table) => table.open_time(from, to),
                None => total(&hours.open_spans(from, to)),
            },
        }
    }

    /// Within `[from, to)`, the instant at which `amount` (> 0) of open time after `from`
    /// has passed, or with `beyond` the infimum of the instants at which more than `amount`
    /// has. `None` when `[from, to)` holds too little open time.
    fn reach(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        amount: TimeDelta,
        beyond: bool,
    ) -> Option<DateTime<Utc>> {
        let hours = match self {
            Calendar::AlwaysOpen => {
                let at = from + amount.max(TimeDelta::zero());
                return (at < to || (!beyond && at == to)).then_some(at);
            }
            Calendar::Hours(hours) => hours,
        };
        let at = match hours.table(from, to) {
            Some(table) => table.reach(from, amount, beyond)?,
            None => {
                let mut left = amount.max(TimeDelta::zero());
                let spans = hours.open_spans(from, to);
                let span = spans.iter().find(|span| {
                    let length = span.end - span.start;
                    let found = if beyond {
                        length > left
                    } else {
                        length >= left
                    };
                    if !found {
                        left -= length;
                    }
                    found
                })?;
                span.start + left
            }
        };
        (at < to || (!beyond && at == to)).then_some(at)
    }
}

impl BusinessHours {
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.zone).date_naive()
    }

    fn holiday_on(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays.iter().find(|h| {
            h.date == date
                || (h.yearly && h.date.month() == date.month() && h.date.day() == date.day())
        })
    }

    /// Local dates whose spans can reach into `[from, to)`: a day before (a `24:00` end, a
    /// late offset) to the day of `to`.
    fn dates(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = NaiveDate> {
        let first = self.local_date(from) - Days::new(1);
        let last = self.local_date(to);
        first.iter_days().take_while(move |d| *d <= last)
    }

    /// The open spans of one local date, unclipped, in order (none on a holiday).
    fn day_spans(&self, date: NaiveDate) -> impl Iterator<Item = Span> + '_ {
        let closed = self.holiday_on(date).is_some();
        let weekday = date.weekday().num_days_from_monday() as usize;
        let intervals = if closed {
            &[][..]
        } else {
            &self.weekly[weekday][..]
        };
        intervals.iter().filter_map(move |&(s, e)| {
            let span = Span {
                start: self.instant(date, s),
                end: self.instant(date, e),
            };
            // An interval wholly inside a DST gap maps to nothing.
            (span.end > span.start).then_some(span)
        })
    }

    fn open_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        for span in self.dates(from, to).flat_map(|date| self.day_spans(date)) {
            let start = span.start.max(from);
            let end = span.end.min(to);
            if end <= start {
                continue;
            }
            match spans.last_mut() {
                Some(last) if last.end >= start => last.end = last.end.max(end),
                _ => spans.push(Span { start, end }),
            }
        }
        spans
    }

    /// The open-time table covering `[from, to)`; `None` for instants centuries apart.
    fn table(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Arc<OpenTimeTable>> {
        let years = open_time::years_for(|t| self.local_date(t), from, to)?;
        self.open_time.covering(years, |date| self.day_spans(date))
    }

    fn holiday_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(Span, &str)> {
        self.dates(from, to)
            .filter_map(|date| {
                let holiday = self.holiday_on(date)?;
                let start = self.instant(date, 0).max(from);
                let end = self.instant(date, 24 * 60).min(to);
                (end > start).then_some((Span { start, end }, holiday.name.as_str()))
            })
            .collect()
    }

    /// The instant of a local date plus minutes (up to 24:00, the next midnight).
    fn instant(&self, date: NaiveDate, minutes: u32) -> DateTime<Utc> {
        let local = date.and_time(NaiveTime::MIN) + TimeDelta::minutes(i64::from(minutes));
        resolve_local(&self.zone, local)
    }
}

/// A local wall time to an instant: the first occurrence of a repeated time, the first instant
/// after the gap for a time that does not exist.
pub fn resolve_local(zone: &Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => first.min(second).with_timezone(&Utc),
        LocalResult::None => {
            // Walk to the gap's end minute by minute (gaps are whole minutes, at most a day);
            // the first local time that exists there is the transition instant.
            let mut probe = local;
            for _ in 0..(2 * 24 * 60) {
                probe += TimeDelta::minutes(1);
                match zone.from_local_datetime(&probe) {
                    LocalResult::Single(t) => {
                        return first_instant_of_gap_end(zone, local, t.with_timezone(&Utc));
                    }
                    LocalResult::Ambiguous(a, b) => {
                        return first_instant_of_gap_end(zone, local, a.min(b).with_timezone(&Utc));
                    }
                    LocalResult::None => {}
                }
            }
            // Unreachable with real zone data; read the time as UTC rather than fail.
            local.and_utc()
        }
    }
}

/// The transition instant: the earliest instant whose local time is past `gap_local`, found
/// by stepping back from an instant after the gap (the local time right after a gap is
/// minute-aligned, but the step keeps this exact if it is not).
fn first_instant_of_gap_end(
    zone: &Tz,
    gap_local: NaiveDateTime,
    after: DateTime<Utc>,
) -> DateTime<Utc> {
    let (mut lo, mut hi) = (after - TimeDelta::days(2), after);
    // Invariant: local(hi) > gap_local; find the smallest such instant to the second.
    while hi - lo > TimeDelta::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if mid.with_timezone(zone).naive_local() > gap_local {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// `HH:MM` to minutes from midnight; `24:00` only as an end.
fn parse_clock(text: &str, is_end: bool) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if is_end => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn minutes_to_clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A calendar's versions: each applies from its effective instant until the next one's (the
/// first also before its own instant, so a clock never falls off the calendar's start).
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarVersions {
    pub id: String,
    /// (effective from, version number, calendar), sorted by effective instant.
    pub versions: Vec<(DateTime<Utc>, i32, Calendar)>,
}

impl CalendarVersions {
    pub fn always_open() -> Self {
        CalendarVersions {
            id: ALWAYS_OPEN_ID.to_owned(),
            versions: vec![(DateTime::<Utc>::MIN_UTC, 1, Calendar::AlwaysOpen)],
        }
    }

    /// The version in force at `t`.
    pub fn version_at(&self, t: DateTime<Utc>) -> Option<i32> {
        let index = self.versions.partition_point(|(from, _, _)| *from <= t);
        self.versions
            .get(index.saturating_sub(1))
            .map(|(_, v, _)| *v)
    }

    /// Each version's part of `[from, to)`.
    fn pieces(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(Span, &Calendar)> {
        let mut pieces = Vec::new();
        for (i, (_, _, calendar)) in self.versions.iter().enumerate() {
            let start = if i == 0 {
                from
            } else {
                self.versions[i].0.max(from)
            };
            let end = self
                .versions
                .get(i + 1)
                .map_or(to, |(next, _, _)| (*next).min(to));
            if end > start {
                pieces.push((Span { start, end }, calendar));
            }
        }
        pieces
    }

    /// Open spans in `[from, to)`, each version governing its own part of time.
    pub fn open_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        for (piece, calendar) in self.pieces(from, to) {
            for span in calendar.open_spans(piece.start, piece.end) {
                match spans.last_mut() {
                    Some(last) if last.end >= span.start => last.end = last.end.max(span.end),
                    _ => spans.push(span),
                }
            }
        }
        spans
    }

    pub fn holiday_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(Span, &str)> {
        self.pieces(from, to)
            .into_iter()
            .flat_map(|(piece, calendar)| calendar.holiday_spans(piece.start, piece.end))
            .collect()
    }

    /// Open time in `[from, to)`, each version governing its own part of time.
    pub fn open_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        self.pieces(from, to)
            .into_iter()
            .map(|(piece, calendar)| calendar.open_time(piece.start, piece.end))
            .sum()
    }

    /// The instant at which `amount` of open time after `from` has passed, and the infimum of
    /// the instants at which more than `amount` has (later when `amount` is used up exactly at
    /// the end of an open span). `None` beyond ten years of calendar.
    pub fn advance(
        &self,
        from: DateTime<Utc>,
        amount: TimeDelta,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let horizon = from.checked_add_days(Days::new(PROJECTION_DAYS))?;
        Some((
            self.reach_within(from, horizon, amount, false)?,
            self.reach_within(from, horizon, amount, true)?,
        ))
    }

    /// Within `[from, to)`: the instant at which `amount` of open time after `from` has
    /// passed, or with `beyond` the infimum of the instants at which more than `amount` has.
    /// `None` when `[from, to)` holds too little open time.
    pub fn reach_within(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        amount: TimeDelta,
        beyond: bool,
    ) -> Option<DateTime<Utc>> {
        if !beyond && amount <= TimeDelta::zero() {
            return Some(from);
        }
        let mut left = amount.max(TimeDelta::zero());
        for (piece, calendar) in self.pieces(from, to) {
            let available = calendar.open_time(piece.start, piece.end);
            let here = if beyond {
                available > left
            } else {
                available >= left
            };
            if here {
                return calendar.reach(piece.start, piece.end, left, beyond);
            }
            left -= available;
        }
        None
    }
}

fn total(spans: &[Span]) -> TimeDelta {
    spans.iter().map(|span| span.end - span.start).sum()
}

impl fmt::Display for Closure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closure::Hours => f.write_str("outside opening hours"),
            Closure::Holiday(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lisbon_office() -> Calendar {
        let def: CalendarDefinition = serde_json::from_value(serde_json::json!({
            "name": "Lisbon office",
            "time_zone": "Europe/Lisbon",
            "weekly_hours": {
                "monday": [{"start": "09:00", "end": "18:00"}],
                "tuesday": [{"start": "09:00", "end": "18:00"}],
                "wednesday": [{"start": "09:00", "end": "18:00"}],
                "thursday": [{"start": "09:00", "end": "18:00"}],
                "friday": [{"start": "09:00", "end": "18:00"}],
                "sunday": [{"start": "09:00", "end": "18:00"}]
            },
            "holidays": [{"date": "2020-12-25", "name": "Christmas", "yearly": true}]
        }))
        .unwrap();
        Calendar::from_definition(&def).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn total(spans: &[Span]) -> TimeDelta {
        spans.iter().map(|s| s.end - s.start).sum()
    }

    #[test]
    fn a_nine_hour_day_is_nine_hours_on_both_dst_sundays() {
        let cal = lisbon_office();
        for day in ["2026-03-29", "2026-10-25"] {
            let spans = cal.open_spans(
                t(&format!("{day}T00:00:00Z")),
                t(&format!("{day}T23:00:00Z")),
            );
            assert_eq!(total(&spans), TimeDelta::hours(9), "{day}");
        }
    }

    #[test]
    fn a_yearly_holiday_closes_the_whole_local_day() {
        let cal = lisbon_office();
        let spans = cal.open_spans(t("2026-12-24T00:00:00Z"), t("2026-12-26T00:00:00Z"));
        assert_eq!(total(&spans), TimeDelta::hours(9));
        let holidays = cal.holiday_spans(t("2026-12-24T00:00:00Z"), t("2026-12-26T00:00:00Z"));
        assert_eq!(holidays.len(), 1);
        assert_eq!(holidays[0].1, "Christmas");
        assert_eq!(holidays[0].0.start, t("2026-12-25T00:00:00Z"));
    }

    #[test]
    fn a_boundary_in_a_dst_gap_moves_to_the_transition() {
        let zone: Tz = "Europe/Lisbon".parse().unwrap();
        let local = NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        assert_eq!(resolve_local(&zone, local), t("2026-03-29T01:00:00Z"));
        let repeated = NaiveDate::from_ymd_opt(2026, 10, 25)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        assert_eq!(resolve_local(&zone, repeated), t("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn validation_names_every_bad_field() {
        let def: CalendarDefinition = serde_json::from_value(serde_json::json!({
            "name": "x",
            "time_zone": "Mars/Olympus",
            "weekly_hours": {
                "monday": [{"start": "09:00", "end": "25:00"}, {"start": "12:00", "end": "10:00"}],
                "tuesday": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "18:00"}],
                "funday": []
            },
            "holidays": [{"date": "2026-02-30", "name": "x"}]
        }))
        .unwrap();
        let errors = Calendar::from_definition(&def).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "/time_zone",
                "/weekly_hours/funday",
                "/weekly_hours/monday/0/end",
                "/weekly_hours/monday/1",
                "/weekly_hours/tuesday/1",
                "/holidays/0/date"
            ]
        );
    }

    #[test]
    fn advance_stops_at_an_open_span_end_but_exceeds_at_the_next_opening() {
        let versions = CalendarVersions {
            id: "x".into(),
            versions: vec![(DateTime::<Utc>::MIN_UTC, 1, lisbon_office())],
        };
        // Monday 2026-03-02 09:00 (Lisbon = UTC in winter) + 9 h: due Monday 18:00, exceeded
        // at Tuesday 09:00.
        let (due, exceeds) = versions
            .advance(t("2026-03-02T09:00:00Z"), TimeDelta::hours(9))
            .unwrap();
        assert_eq!(due, t("2026-03-02T18:00:00Z"));
        assert_eq!(exceeds, t("2026-03-03T09:00:00Z"));
    }
}
