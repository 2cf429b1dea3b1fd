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

/// Runs one clock, with its timeline (`GET /v1/cases/{id}/sla`).
pub fn run<'a>(input: &ClockInput<'_, 'a>) -> Clock<'a> {
    let end = input.stop.unwrap_or(input.as_of);
    let mut clock = Clock::starting(input, end, segments(input, end));
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
    clock.project(input, end);
    clock
}

/// Runs one clock for its figures only (what ingest and recomputation store): the same
/// numbers as [`run`], from open time between the few instants where the case changes (a
/// pause, a resolution) rather than from a timeline of every day, so a clock running for
/// years costs a few binary searches.
pub fn figures<'a>(input: &ClockInput<'_, 'a>) -> Clock<'a> {
    let end = input.stop.unwrap_or(input.as_of);
    let mut clock = Clock::starting(input, end, Vec::new());
    for (piece, paused) in active_pieces(input, end) {
        let length = input.calendar.open_time(piece.start, piece.end);
        if length <= TimeDelta::zero() {
            continue;
        }
        if paused {
            clock.paused += length;
            continue;
        }
        let before = clock.elapsed;
        let within = |amount, beyond| {
            input
                .calendar
                .reach_within(piece.start, piece.end, amount, beyond)
        };
        for (threshold, at) in [
            (input.target, &mut clock.due_at),
            (input.warning, &mut clock.warning_at),
        ] {
            if at.is_none() && before + length >= threshold {
                *at = within(threshold - before, false);
            }
        }
        if clock.breached_at.is_none() && before + length > input.target {
            clock.breached_at = within(input.target - before, true);
        }
        clock.elapsed += length;
    }
    clock.project(input, end);
    clock
}

impl<'a> Clock<'a> {
    fn starting(
        input: &ClockInput<'_, '_>,
        end: DateTime<Utc>,
        timeline: Vec<Segment<'a>>,
    ) -> Self {
        Clock {
            elapsed: TimeDelta::zero(),
            paused: TimeDelta::zero(),
            calendar: (end - input.start).max(TimeDelta::zero()),
            due_at: (input.target <= TimeDelta::zero()).then_some(input.start),
            warning_at: (input.warning <= TimeDelta::zero()).then_some(input.start),
            breached_at: None,
            exceeds_at: None,
            timeline,
        }
    }

    /// Beyond the window: only open time counts (no pause or resolution is known ahead).
    /// While paused now, nothing after the window is known to count.
    fn project(&mut self, input: &ClockInput<'_, '_>, end: DateTime<Utc>) {
        let running = input.stop.is_none();
        if running && input.paused_now {
            return;
        }
        let from = end.max(input.start);
        for (threshold, at) in [
            (input.target, &mut self.due_at),
            (input.warning, &mut self.warning_at),
        ] {
            if at.is_none() {
                *at = input
                    .calendar
                    .advance(from, threshold - self.elapsed)
                    .map(|(reached, _)| reached);
            }
        }
        if running && self.breached_at.is_none() {
            self.exceeds_at = input
                .calendar
                .advance(from, input.target - self.elapsed)
                .map(|(_, exceeds)| exceeds);
        }
    }
}

/// The window `[start, end)` less the spans the case stood resolved, cut at pause boundaries:
/// each piece in order with whether a pause covers it.
fn active_pieces(input: &ClockInput<'_, '_>, end: DateTime<Utc>) -> Vec<(Span, bool)> {
    let mut pieces = Vec::new();
    let mut cursor = input.start;
    let resolved_then_end = input.resolved.iter().copied().chain([Span {
        start: end,
        end: DateTime::<Utc>::MAX_UTC,
    }]);
    for resolved in resolved_then_end {
        let active_end = resolved.start.min(end);
        if active_end > cursor {
            split_by_pauses(
                Span {
                    start: cursor,
                    end: active_end,
                },
                input.pauses,
                &mut pieces,
            );
        }
        cursor = cursor.max(resolved.end);
        if cursor >= end {
            break;
        }
    }
    pieces
}

fn split_by_pauses(active: Span, pauses: &[Pause<'_>], pieces: &mut Vec<(Span, bool)>) {
    let mut cursor = active.start;
    for pause in pauses {
        let start = pause.span.start.max(cursor);
        let stop = pause.span.end.min(active.end);
        if stop <= start {
            continue;
        }
        if start > cursor {
            pieces.push((
                Span {
                    start: cursor,
                    end: start,
                },
                false,
            ));
        }
        pieces.push((Span { start, end: stop }, true));
        cursor = stop;
    }
    if active.end > cursor {
        pieces.push((
            Span {
                start: cursor,
                end: active.end,
            },
            false,
        ));
    }
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
            let input = ClockInput {
                calendar: &calendar,
                start: t(case["start"].as_str().unwrap()),
                stop,
                as_of,
                pauses: &pauses,
                paused_now: paused_now && stop.is_none(),
                resolved: &resolved,
                target: seconds(&case["target_s"]),
                warning: seconds(&case["warning_s"]),
            };
            let clock = run(&input);
            assert_eq!(
                figures(&input),
                without_timeline(&clock),
                "{name}: figures only"
            );
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

    fn without_timeline<'a>(clock: &Clock<'a>) -> Clock<'a> {
        Clock {
            timeline: Vec::new(),
            ..clock.clone()
        }
    }

    /// Two versions: a Lisbon split shift with holidays, then from 2026-10-25 (the DST
    /// change) a São Paulo evening shift ending at 24:00.
    fn two_versions() -> CalendarVersions {
        let lisbon: CalendarDefinition = serde_json::from_value(serde_json::json!({
            "name": "lisbon", "time_zone": "Europe/Lisbon",
            "weekly_hours": {
                "monday": [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}],
                "wednesday": [{"start": "00:30", "end": "03:30"}, {"start": "09:00", "end": "24:00"}],
                "thursday": [{"start": "00:00", "end": "06:00"}],
                "saturday": [{"start": "10:00", "end": "14:00"}]
            },
            "holidays": [
                {"date": "2026-03-30", "name": "One-off"},
                {"date": "2020-12-25", "name": "Christmas", "yearly": true}
            ]
        }))
        .unwrap();
        let sao_paulo: CalendarDefinition = serde_json::from_value(serde_json::json!({
            "name": "sao paulo", "time_zone": "America/Sao_Paulo",
            "weekly_hours": {
                "tuesday": [{"start": "18:00", "end": "24:00"}],
                "friday": [{"start": "08:00", "end": "17:00"}]
            },
            "holidays": [{"date": "2026-11-20", "name": "Consciência Negra"}]
        }))
        .unwrap();
        CalendarVersions {
            id: "two".into(),
            versions: vec![
                (
                    t("2026-01-01T00:00:00Z"),
                    1,
                    Calendar::from_definition(&lisbon).unwrap(),
                ),
                (
                    t("2026-10-25T01:00:00Z"),
                    2,
                    Calendar::from_definition(&sao_paulo).unwrap(),
                ),
            ],
        }
    }

    proptest::proptest! {
        /// The figures-only path gives exactly the figures of the timeline path, whatever
        /// the pauses, resolutions, versions and thresholds (at whole minutes, so thresholds
        /// often land exactly on boundaries).
        #[test]
        fn figures_agree_with_the_timeline(
            start_min in 0i64..(60 * 24 * 400),
            window_min in 0i64..(60 * 24 * 90),
            as_of_extra_min in 0i64..(60 * 24 * 20),
            stopped in proptest::bool::ANY,
            cuts in proptest::collection::vec(0i64..(60 * 24 * 90), 0..12),
            paused_now in proptest::bool::ANY,
            target_min in 0i64..(60 * 40),
            warning_share in 0u32..=100,
            versions in proptest::bool::ANY,
        ) {
            let calendar = if versions { two_versions() } else { office() };
            let origin = t("2026-01-01T00:00:00Z");
            let at = |m: i64| origin + TimeDelta::minutes(m);
            let start = at(start_min);
            let end = at(start_min + window_min);
            let as_of = at(start_min + window_min + if stopped { as_of_extra_min } else { 0 });
            // Sorted cut points make alternating pauses and resolutions, some outside.
            let mut cuts: Vec<i64> = cuts.iter().map(|c| start_min - 60 * 24 + c).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let (mut pauses, mut resolved) = (Vec::new(), Vec::new());
            for (i, pair) in cuts.chunks_exact(2).enumerate() {
                let span = Span { start: at(pair[0]), end: at(pair[1]) };
                if i % 3 == 1 {
                    resolved.push(span);
                } else {
                    pauses.push(Pause { span, reason: "On Hold" });
                }
            }
            let target = TimeDelta::minutes(target_min);
            let input = ClockInput {
                calendar: &calendar,
                start,
                stop: stopped.then_some(end),
                as_of,
                pauses: &pauses,
                paused_now: paused_now && !stopped,
                resolved: &resolved,
                target,
                warning: TimeDelta::minutes(target_min * i64::from(warning_share) / 100),
            };
            let clock = run(&input);
            proptest::prop_assert_eq!(figures(&input), without_timeline(&clock));
        }
    }
}
