//! One SLA clock as a pure function of (calendar, start, stop, pauses, resolved spans,
//! target, as_of) (spec: cases-and-kpis.md, "SLA clocks on business-hours calendars").
//!
//! The window `[start, stop or as_of)` is cut at every boundary (opening hours, holidays,
//! pauses, resolved spans) and each piece gets one kind, first match wins: `resolved` >
//! `holiday` > `closed_hours` > `paused` > `counted`. The figures are sums of those pieces,
//! so the timeline always adds up to them exactly.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::calendar::{CalendarVersions, Span};

/// What a piece of a clock's window was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// Open on the calendar and not paused: counts toward the target.
    Counted,
    /// Open on the calendar but paused by the policy's rules.
    Paused,
    /// Outside the calendar's weekly opening hours.
    ClosedHours,
    /// A holiday of the calendar.
    Holiday,
    /// The case stood resolved (between a resolution and the next reactivation).
    Resolved,
}

/// A half-open interval of the clock's window, of one kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment<'a> {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: SegmentKind,
    /// The holiday's name, the pause's rule, or `resolved`.
    pub reason: Option<&'a str>,
}

/// A pause: a half-open interval and the rule behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pause<'a> {
    pub span: Span,
    pub reason: &'a str,
}

/// What the clock needs to know.
#[derive(Debug, Clone)]
pub struct ClockInput<'s, 'a> {
    pub calendar: &'a CalendarVersions,
    pub start: DateTime<Utc>,
    /// Where the clock stopped (a resolution, a first response, a close); `None` while it runs.
    pub stop: Option<DateTime<Utc>>,
    pub as_of: DateTime<Utc>,
    /// Sorted, non-overlapping; one still running is cut at `as_of`.
    pub pauses: &'s [Pause<'a>],
    /// Whether a pause is in force at `as_of` (its end is not known).
    pub paused_now: bool,
    /// Spans during which the case stood resolved; sorted, non-overlapping.
    pub resolved: &'s [Span],
    pub target: TimeDelta,
    pub warning: TimeDelta,
}

/// A clock's figures. Durations are exact sums of the timeline's pieces.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock<'a> {
    pub elapsed: TimeDelta,
    pub paused: TimeDelta,
    /// Wall-clock time of the window.
    pub calendar: TimeDelta,
    /// When the clock reaches the target: in the window if it did, else projected over the
    /// calendar's open time after the window's end. `None` while paused now short of the
    /// target, or beyond ten years.
    pub due_at: Option<DateTime<Utc>>,
    /// The same for the warning share.
    pub warning_at: Option<DateTime<Utc>>,
    /// The instant the clock first exceeds the target, when it did in the window.
    pub breached_at: Option<DateTime<Utc>>,
    /// When it would exceed the target if it kept running from `as_of` (for re-evaluation on
    /// time); `None` when it already did, is paused now or stopped.
    pub exceeds_at: Option<DateTime<Utc>>,
    pub timeline: Vec<Segment<'a>>,
}

impl Clock<'_> {
    pub fn breached(&self, target: TimeDelta) -> bool {
        self.elapsed > target
    }
}

/// Runs one clock.
pub fn run<'a>(input: &ClockInput<'_, 'a>) -> Clock<'a> {
    let end = input.stop.unwrap_or(input.as_of);
    let timeline = segments(input, end);
    let mut clock = Clock {
        elapsed: TimeDelta::zero(),
        paused: TimeDelta::zero(),
        calendar: (end - input.start).max(TimeDelta::zero()),
        due_at: (input.target <= TimeDelta::zero()).then_some(input.start),
        warning_at: (input.warning <= TimeDelta::zero()).then_some(input.start),
        breached_at: None,
        exceeds_at: None,
        timeline,
    };
    for segment in &clock.timeline {
        let length = segment.end - segment.start;
        match segment.kind {
            SegmentKind::Counted => {
                let before = clock.elapsed;
                for (threshold, at) in [
                    (input.target, &mut clock.due_at),
                    (input.warning, &mut clock.warning_at),
                ] {
                    if at.is_none() && before + length >= threshold {
                        *at = Some(segment.start + (threshold - before));
                    }
                }
                if clock.breached_at.is_none() && before + length > input.target {
                    clock.breached_at = Some(segment.start + (input.target - before));
                }
                clock.elapsed += length;
            }
            SegmentKind::Paused => clock.paused += length,
            _ => {}
        }
    }
    // Beyond the window: only open time counts (no pause or resolution is known ahead).
    // While paused now, nothing after the window is known to count.
    let running = input.stop.is_none();
    if !(running && input.paused_now) {
        let from = end.max(input.start);
        for (threshold, at) in [
            (input.target, &mut clock.due_at),
            (input.warning, &mut clock.warning_at),
        ] {
            if at.is_none() {
                *at = input
                    .calendar
                    .advance(from, threshold - clock.elapsed)
                    .map(|(reached, _)| reached);
            }
        }
        if running && clock.breached_at.is_none() {
            clock.exceeds_at = input
                .calendar
                .advance(from, input.target - clock.elapsed)
                .map(|(_, exceeds)| exceeds);
        }
    }
    clock
}

/// The window `[start, end)` cut into maximal pieces of one kind and reason.
fn segments<'a>(input: &ClockInput<'_, 'a>, end: DateTime<Utc>) -> Vec<Segment<'a>> {
    let start = input.start;
    if end <= start {
        return Vec::new();
    }
    let open = input.calendar.open_spans(start, end);
    let holidays = input.calendar.holiday_spans(start, end);
    let mut cuts: Vec<DateTime<Utc>> = vec![start, end];
    let inside = |t: DateTime<Utc>| t > start && t < end;
    for span in open
        .iter()
        .chain(holidays.iter().map(|(s, _)| s))
        .chain(input.pauses.iter().map(|p| &p.span))
        .chain(input.resolved)
    {
        cuts.extend([span.start, span.end].into_iter().filter(|&t| inside(t)));
    }
    cuts.sort_unstable();
    cuts.dedup();

    // Each list is sorted, so one cursor per list walks it once.
    let (mut o, mut h, mut p, mut r) = (0, 0, 0, 0);
    let mut timeline: Vec<Segment<'a>> = Vec::new();
    for pair in cuts.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let covers = |span: &Span| span.start <= a && a < span.end;
        while o < open.len() && open[o].end <= a {
            o += 1;
        }
        while h < holidays.len() && holidays[h].0.end <= a {
            h += 1;
        }
        while p < input.pauses.len() && input.pauses[p].span.end <= a {
            p += 1;
        }
        while r < input.resolved.len() && input.resolved[r].end <= a {
            r += 1;
        }
        let (kind, reason) = if input.resolved.get(r).is_some_and(covers) {
            (SegmentKind::Resolved, Some("resolved"))
        } else if let Some((_, name)) = holidays.get(h).filter(|(s, _)| covers(s)) {
            (SegmentKind::Holiday, Some(*name))
        } else if !open.get(o).is_some_and(covers) {
            (SegmentKind::ClosedHours, None)
        } else if let Some(pause) = input.pauses.get(p).filter(|pause| covers(&pause.span)) {
            (SegmentKind::Paused, Some(pause.reason))
        } else {
            (SegmentKind::Counted, None)
        };
        match timeline.last_mut() {
            Some(last) if last.kind == kind && last.reason == reason && last.end == a => {
                last.end = b
            }
            _ => timeline.push(Segment {
                start: a,
                end: b,
                kind,
                reason,
            }),
        }
    }
    timeline
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::calendar::{Calendar, CalendarDefinition};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn office() -> CalendarVersions {
        let def: CalendarDefinition = serde_json::from_value(serde_json::json!({
            "name": "office", "time_zone": "Europe/Lisbon",
            "weekly_hours": {
                "monday": [{"start": "09:00", "end": "18:00"}],
                "tuesday": [{"start": "09:00", "end": "18:00"}],
                "wednesday": [{"start": "09:00", "end": "18:00"}],
                "thursday": [{"start": "09:00", "end": "18:00"}],
                "friday": [{"start": "09:00", "end": "18:00"}]
            }
        }))
        .unwrap();
        CalendarVersions {
            id: "office".into(),
            versions: vec![(
                DateTime::<Utc>::MIN_UTC,
                1,
                Calendar::from_definition(&def).unwrap(),
            )],
        }
    }

    fn input<'a>(
        calendar: &'a CalendarVersions,
        start: &str,
        stop: Option<&str>,
        as_of: &str,
    ) -> ClockInput<'a, 'a> {
        ClockInput {
            calendar,
            start: t(start),
            stop: stop.map(t),
            as_of: t(as_of),
            pauses: &[],
            paused_now: false,
            resolved: &[],
            target: TimeDelta::hours(8),
            warning: TimeDelta::hours(6),
        }
    }

    #[test]
    fn microsofts_example_monday_nine_to_seven_is_nine_active_hours() {
        let calendar = office();
        let clock = run(&input(
            &calendar,
            "2026-03-02T09:00:00Z",
            Some("2026-03-02T19:00:00Z"),
            "2026-03-02T19:00:00Z",
        ));
        assert_eq!(clock.elapsed, TimeDelta::hours(9));
        assert_eq!(clock.calendar, TimeDelta::hours(10));
        assert_eq!(clock.due_at, Some(t("2026-03-02T17:00:00Z")));
        assert_eq!(clock.breached_at, Some(t("2026-03-02T17:00:00Z")));
        let kinds: Vec<SegmentKind> = clock.timeline.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [SegmentKind::Counted, SegmentKind::ClosedHours]);
    }

    #[test]
    fn resolved_spans_do_not_count() {
        let calendar = office();
        let resolved = [Span {
            start: t("2026-03-02T11:00:00Z"),
            end: t("2026-03-03T10:00:00Z"),
        }];
        let clock = run(&ClockInput {
            resolved: &resolved,
            ..input(
                &calendar,
                "2026-03-02T09:00:00Z",
                Some("2026-03-03T12:00:00Z"),
                "2026-03-04T00:00:00Z",
            )
        });
        assert_eq!(clock.elapsed, TimeDelta::hours(4));
    }

    #[test]
    fn a_running_clock_paused_now_has_no_due_instant() {
        let calendar = office();
        let pauses = [Pause {
            span: Span {
                start: t("2026-03-02T10:00:00Z"),
                end: t("2026-03-02T12:00:00Z"),
            },
            reason: "On Hold",
        }];
        let clock = run(&ClockInput {
            pauses: &pauses,
            paused_now: true,
            ..input(
                &calendar,
                "2026-03-02T09:00:00Z",
                None,
                "2026-03-02T12:00:00Z",
            )
        });
        assert_eq!(
            (clock.elapsed, clock.paused),
            (TimeDelta::hours(1), TimeDelta::hours(2))
        );
        assert_eq!((clock.due_at, clock.exceeds_at), (None, None));
        // The same clock resumed at 12:00: due after 7 more open hours, Monday 19:00 would be
        // closed, so Tuesday 10:00.
        let resumed = run(&ClockInput {
            pauses: &pauses,
            ..input(
                &calendar,
                "2026-03-02T09:00:00Z",
                None,
                "2026-03-02T12:00:00Z",
            )
        });
        assert_eq!(resumed.due_at, Some(t("2026-03-03T10:00:00Z")));
    }

    /// A timeline segment as compared: start, end, kind, reason.
    type TimelineRow<'a> = (DateTime<Utc>, DateTime<Utc>, String, Option<&'a str>);

    /// The independent reference: `tools/fixtures/make_sla_fixtures.py` (Python, zoneinfo)
    /// wrote the expected figures and timelines of every scenario.
    #[test]
    fn every_scenario_matches_the_python_reference() {
        use serde_json::Value;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sla/clock_cases.json"
        );
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let time = |v: &Value| v.as_str().map(t);
        let seconds = |v: &Value| TimeDelta::seconds(v.as_f64().unwrap() as i64);
        let cases = fixture["cases"].as_array().unwrap();
        assert!(cases.len() >= 40);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let cal = &case["calendar"];
            let calendar = if cal["always_open"].as_bool() == Some(true) {
                CalendarVersions::always_open()
            } else {
                let weekly: serde_json::Map<String, Value> = cal["weekly"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(day, intervals)| {
                        let list: Vec<Value> = intervals
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|i| serde_json::json!({"start": i[0], "end": i[1]}))
                            .collect();
                        (day.clone(), Value::Array(list))
                    })
                    .collect();
                let def: CalendarDefinition = serde_json::from_value(serde_json::json!({
                    "name": "fixture", "time_zone": cal["time_zone"],
                    "weekly_hours": weekly, "holidays": cal["holidays"],
                }))
                .unwrap();
                CalendarVersions {
                    id: "fixture".into(),
                    versions: vec![(
                        DateTime::<Utc>::MIN_UTC,
                        1,
                        Calendar::from_definition(&def).unwrap(),
                    )],
                }
            };
            let as_of = t(case["as_of"].as_str().unwrap());
            let stop = time(&case["end"]);
            let mut paused_now = false;
            let mut pauses: Vec<Pause> = case["pauses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let start = t(p["start"].as_str().unwrap());
                    let end = time(&p["end"]).unwrap_or_else(|| {
                        paused_now = true;
                        as_of.max(start)
                    });
                    if stop.is_none() && start <= as_of && as_of < end {
                        paused_now = true;
                    }
                    Pause {
                        span: Span { start, end },
                        reason: p["reason"].as_str().unwrap(),
                    }
                })
                .collect();
            pauses.sort_by_key(|p| p.span.start);
            let mut resolved: Vec<Span> = case["excluded"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| Span {
                    start: t(e["start"].as_str().unwrap()),
                    end: t(e["end"].as_str().unwrap()),
                })
                .collect();
            resolved.sort_by_key(|s| s.start);
            let clock = run(&ClockInput {
                calendar: &calendar,
                start: t(case["start"].as_str().unwrap()),
                stop,
                as_of,
                pauses: &pauses,
                paused_now: paused_now && stop.is_none(),
                resolved: &resolved,
                target: seconds(&case["target_s"]),
                warning: seconds(&case["warning_s"]),
            });
            let expected = &case["expected"];
            assert_eq!(
                clock.elapsed,
                seconds(&expected["elapsed_s"]),
                "{name}: elapsed"
            );
            assert_eq!(
                clock.paused,
                seconds(&expected["paused_s"]),
                "{name}: paused"
            );
            assert_eq!(
                clock.calendar,
                seconds(&expected["calendar_s"]),
                "{name}: calendar"
            );
            assert_eq!(clock.due_at, time(&expected["due_at"]), "{name}: due_at");
            assert_eq!(
                clock.warning_at,
                time(&expected["warning_at"]),
                "{name}: warning_at"
            );
            assert_eq!(
                clock.breached_at,
                time(&expected["breached_at"]),
                "{name}: breached_at"
            );
            assert_eq!(
                clock.breached(seconds(&case["target_s"])),
                expected["breached"].as_bool().unwrap(),
                "{name}: breached"
            );
            let timeline: Vec<TimelineRow> = clock
                .timeline
                .iter()
                .map(|s| {
                    let kind = serde_json::to_value(s.kind)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_owned();
                    (s.start, s.end, kind, s.reason)
                })
                .collect();
            let expected_timeline: Vec<TimelineRow> = expected["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        t(s["start"].as_str().unwrap()),
                        t(s["end"].as_str().unwrap()),
                        s["kind"].as_str().unwrap().to_owned(),
                        s["reason"].as_str(),
                    )
                })
                .collect();
            assert_eq!(timeline, expected_timeline, "{name}: timeline");
        }
    }
}
