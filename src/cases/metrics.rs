//! Per-case metrics (spec: cases-and-kpis.md, "Per-case metrics"): a pure function of the
//! case's events, the configuration and `as_of`. Never touches the database or the clock.
//!
//! Ingest stores events, then recomputes every touched case from all of its events with
//! [`compute`], so late and out-of-order events are handled by construction.
//!
//! Rules where the spec is silent (each also stated on the field it concerns):
//! - Events are ordered by (`event_time`, `seq`); "before"/"after" below always mean that order.
//! - Lifecycle: `case_resolved` and `case_closed` take the case out of the open state and
//!   `case_reactivated` puts it back (after a resolution *or* a close). A case is Closed when a
//!   close is in force and it was ever resolved, Canceled when a close is in force and it was
//!   never resolved.
//! - The agent `System` (or `Sistema`, ignoring case and surrounding spaces) is not an owner:
//!   it is skipped by `handoffs`, `resolving_agent` and `first_response_s`.
//! - Hold and queue-wait intervals only run while the case is open; one still running at
//!   `as_of` counts up to `as_of`.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    activity::Activity,
    values::{self, PriorityLevel},
};
use crate::sla::{
    calendar::{CalendarVersions, Span},
    clock::{self, Clock, ClockInput, Pause},
    policy::{AppliedPolicy, CaseAttributes, PauseRules, SlaSetup},
};

/// Bumped whenever the definitions below change; stored on each case row so stale rows can be
/// found and recomputed.
pub const METRICS_VERSION: i32 = 3;

/// One stored event of a case, as the metrics see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseEvent {
    /// Arrival order (file order, then later files): the tie-break for equal times.
    pub seq: i64,
    pub event_time: DateTime<Utc>,
    /// The canonical role, when the activity's name resolved to one (the name itself plays
    /// no part in any metric).
    pub role: Option<Activity>,
    // Text attributes are shared: most repeat on every event of a case, and a recomputation
    // reads millions of events (see `store::case_events`).
    pub agent: Option<Arc<str>>,
    pub customer: Option<Arc<str>>,
    pub channel: Option<Arc<str>>,
    pub priority: Option<Arc<str>>,
    pub request_type: Option<Arc<str>>,
    pub product: Option<Arc<str>>,
    pub owner_team: Option<Arc<str>>,
    pub source_system: Option<Arc<str>>,
    pub status_reason: Option<Arc<str>>,
    pub sla_target_resolution_s: Option<f64>,
    pub is_escalated: Option<bool>,
    pub knowledge_article_id: Option<String>,
    pub csat: Option<i16>,
    /// The template's derived columns as the source reported them (never used by the
    /// metrics; kept for reconciliation).
    pub reported: Reported,
    /// Other stored attributes that SLA policies match on (only the keys some policy names
    /// are loaded), as text.
    pub extra: BTreeMap<String, String>,
}

/// The template's derived columns as a source system or analyst computed them
/// (`IsFirstContactResolution`, `IsRework`, `IsSlaBreached`, `ServiceRequestCycleTime`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reported {
    pub first_contact_resolution: Option<bool>,
    pub rework: Option<bool>,
    pub sla_breached: Option<bool>,
    pub cycle_time_s: Option<f64>,
}

/// Settings of the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// N of the FCR variants, in days (default 7).
    pub fcr_window_days: u32,
    /// Share of the SLA target from which an open case is `nearing` (default 0.75).
    pub sla_warning_share: f64,
    /// When set, on-hold time is the intervals whose `status_reason` is in this set
    /// (matched ignoring case, accents and surrounding spaces) instead of the
    /// `info_requested` rule.
    pub hold_status_reasons: Option<Vec<String>>,
    /// The SLA policies and calendars (read from the database for each recomputation);
    /// empty: every SLA is the case's own target on the 24x7 calendar.
    pub sla: Arc<SlaSetup>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            fcr_window_days: 7,
            sla_warning_share: 0.75,
            hold_status_reasons: None,
            sla: Arc::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CaseState {
    /// No resolution or close in force (never resolved, or reactivated since).
    Open,
    /// A `case_resolved` is in force and no `case_closed` after it.
    Resolved,
    /// A `case_closed` is in force and the case was resolved at least once (this includes a
    /// case closed after a reactivation without a new resolution).
    Closed,
    /// A `case_closed` is in force and the case was never resolved.
    Canceled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SlaStatus {
    InProgress,
    Nearing,
    Succeeded,
    Noncompliant,
    Paused,
    Canceled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Fcr {
    True,
    False,
    Pending,
}

/// A case's current attributes (latest non-null value by event order) and every metric.
/// Durations are seconds; a duration whose end has not happened is `None`, never 0.
/// Durations are not clamped: an anchor out of order (say a pickup before `case_created`)
/// gives a negative value rather than hiding the bad data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct CaseMetrics {
    // Attributes: latest non-null value by (event_time, seq).
    pub customer: Option<String>,
    pub channel: Option<String>,
    pub priority: Option<String>,
    pub request_type: Option<String>,
    pub product: Option<String>,
    pub owner_team: Option<String>,
    /// The latest non-null agent, as every attribute (so it may be `System`, unlike the owner
    /// used by `handoffs` and `resolving_agent`).
    pub agent: Option<String>,
    pub source_system: Option<String>,
    pub status_reason: Option<String>,
    /// The canonical level of `priority` (`low` < `normal` < `high` < `urgent`, from English
    /// or Portuguese labels); `None` for labels outside that scale.
    pub priority_level: Option<PriorityLevel>,

    /// `None` only for a case without events.
    pub state: Option<CaseState>,
    pub event_count: i32,
    pub first_event_at: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
    /// C: first `case_created`, else the first event.
    pub created_at: Option<DateTime<Utc>>,
    /// R1.
    pub first_resolved_at: Option<DateTime<Utc>>,
    /// Rn, only while the case is resolved or closed (a reactivated, unresolved case has none).
    pub resolved_at: Option<DateTime<Utc>>,
    /// X: the last `case_closed`, only while the case is closed or canceled (a case reactivated
    /// after its close has none).
    pub closed_at: Option<DateTime<Utc>>,
    /// Owner at Rn: the latest non-null agent other than `System` up to and including the
    /// resolving event; `None` while `resolved_at` is. The agent CSAT is credited to.
    pub resolving_agent: Option<String>,

    /// Rn − C, only while `resolved_at` is set.
    pub cycle_time_s: Option<f64>,
    /// R1 − C (kept after a reactivation).
    pub first_resolution_s: Option<f64>,
    /// X − C, only while `closed_at` is set.
    pub time_to_close_s: Option<f64>,
    /// X − Rn, only while both are set.
    pub admin_lag_s: Option<f64>,
    /// First `info_requested`, `solution_proposed` or `case_resolved` whose agent is not
    /// `System` − C. An event without an agent counts (it is not known to be automatic).
    pub first_response_s: Option<f64>,
    /// First `queue_item_picked` − C.
    pub first_pickup_s: Option<f64>,
    /// Total time on hold (a total: 0 when never on hold). A hold runs from an
    /// `info_requested` to the next event that is not one, or, with `hold_status_reasons`,
    /// while the current status reason (latest non-null up to each event) is in the set. A
    /// hold only runs while the case is open (a resolution or close ends it), and one still
    /// running at `as_of` counts up to `as_of`.
    pub on_hold_s: Option<f64>,
    /// Total time in a queue: from entering one (`case_created`, `case_escalated`, or
    /// `case_assigned` without an owner agent, i.e. to a queue or team) to the next
    /// `queue_item_picked`; entering again while queued does not restart the clock. A wait
    /// ends early when the case leaves the open state, and one still running at `as_of`
    /// counts up to `as_of`. `None` when the case never entered a queue.
    pub queue_wait_s: Option<f64>,
    /// Count of `case_reactivated`.
    pub reactivations: i32,
    /// reactivations > 0, ≥ 2 `info_requested`, or any canonical activity other than
    /// `case_assigned` occurring twice or more (literally: a second `case_resolved`,
    /// `survey_sent` or `sla_timer_started` counts too).
    pub is_rework: bool,
    /// Any `case_escalated` or any `is_escalated = true`.
    pub escalated: bool,
    /// Any `categorization_changed`.
    pub recategorized: bool,
    /// Any `agent_investigated` or any knowledge article id.
    pub kb_used: bool,
    /// Distinct knowledge article ids (trimmed; blank ids ignored).
    pub kb_articles: i32,
    /// Runs of consecutive equal owners − 1 (min 0): owners are the non-null agents other
    /// than `System`, compared exactly; A→B→A counts 2.
    pub handoffs: i32,
    /// The latest non-null score.
    pub csat: Option<i16>,
    /// csat ≥ 4.
    pub csat_satisfied: Option<bool>,

    /// The latest non-null, finite, non-negative `sla_target_resolution_s`. Every SLA field
    /// below is `None` without a target.
    pub sla_target_s: Option<f64>,
    /// Clock time from S (first `sla_timer_started`, else C) to where the clock stops: Rn
    /// while a resolution is in force, X when closed without one, `as_of` while open; minus
    /// the hold time inside that window (the clock pauses on hold). A reactivated case's
    /// clock runs from S again (literally: the time between R1 and the reactivation counts).
    pub sla_elapsed_s: Option<f64>,
    /// elapsed > target.
    pub sla_breached: Option<bool>,
    /// target − elapsed (negative once breached).
    pub sla_margin_s: Option<f64>,
    /// The instant the pausing clock first exceeded the target.
    pub sla_breached_at: Option<DateTime<Utc>>,
    /// `noncompliant` once breached (final); else `succeeded` when stopped by a resolution,
    /// `canceled` when stopped by a close; while open `paused` (on hold now), `nearing`
    /// (elapsed ≥ warning share × target) or `in_progress`.
    pub sla_status: Option<SlaStatus>,
    /// Seconds the resolution clock was paused while its calendar was open.
    pub sla_paused_s: Option<f64>,
    /// Wall-clock seconds from the SLA start to where the clock stopped (or `as_of`).
    pub sla_calendar_s: Option<f64>,
    /// When the resolution clock reached (or, counting only open calendar time from now,
    /// reaches) the warning share of its target; `None` while paused short of it.
    pub sla_warning_at: Option<DateTime<Utc>>,
    /// When the resolution clock reached (or reaches) its target; `None` while paused short
    /// of it.
    pub sla_due_at: Option<DateTime<Utc>>,
    /// The SLA policy that applied (`None`: no policy, the case's own target on `24x7`).
    pub sla_policy_id: Option<String>,
    pub sla_policy_version: Option<i32>,
    /// The calendar the clocks counted on (`24x7` without a policy).
    pub sla_calendar_id: Option<String>,
    /// The policy's first-response target; every `first_response_sla_*` field is `None`
    /// without one. The clock runs from C to the first customer-facing agent event.
    pub first_response_sla_target_s: Option<f64>,
    /// Business seconds counted by the first-response clock.
    pub first_response_sla_elapsed_s: Option<f64>,
    pub first_response_sla_paused_s: Option<f64>,
    pub first_response_sla_margin_s: Option<f64>,
    pub first_response_sla_warning_at: Option<DateTime<Utc>>,
    pub first_response_sla_due_at: Option<DateTime<Utc>>,
    pub first_response_sla_breached_at: Option<DateTime<Utc>>,
    /// As `sla_status`; `canceled` when the case was resolved or closed without a response.
    pub first_response_sla_status: Option<SlaStatus>,

    /// `false` when a `case_reactivated` follows R1 at or before R1 + N days.
    pub fcr_no_reactivation: Option<Fcr>,
    /// `false` when another case's creation lies in (C, R1 + N days].
    pub fcr_no_repeat: Option<Fcr>,
    /// `false` when, up to R1 + N days, there is an `info_requested`, a reassignment
    /// (handoffs > 0 or ≥ 2 `case_assigned`), an escalation (as `escalated`) or a
    /// reactivation. Events after the window are ignored so a matured `true` never flips.
    ///
    /// Every FCR variant: `None` for a case never resolved (so for every canceled case),
    /// `false` as soon as its condition fails, `true` once `as_of` ≥ R1 + N days, else
    /// `pending`.
    pub fcr_single_interaction: Option<Fcr>,

    /// The earliest instant after `as_of` at which a metric would change with no new event:
    /// R1 + N days while an FCR variant is pending; for an open case whose SLA clock runs
    /// (not paused, not breached), the instants it reaches the warning share and exceeds the
    /// target. Durations growing with `as_of` (elapsed, hold, queue wait) are not tracked.
    /// The store recomputes cases whose instant has passed.
    pub next_change_at: Option<DateTime<Utc>>,

    /// The template's `IsFirstContactResolution` as reported by the source (latest non-null);
    /// compared with Switchboard's own metric by `GET /v1/reconciliation`.
    pub reported_first_contact_resolution: Option<bool>,
    /// The template's `IsRework` as reported.
    pub reported_rework: Option<bool>,
    /// The template's `IsSlaBreached` as reported.
    pub reported_sla_breached: Option<bool>,
    /// The template's `ServiceRequestCycleTime` as reported, in seconds.
    pub reported_cycle_time_s: Option<f64>,
}

/// Computes a case's attributes and metrics.
///
/// `events` in any order (sorted here by time, then `seq`). `repeat_case_creations`: creation
/// times (C) of the *other* cases of the same customer with the same request type and product,
/// for `fcr_no_repeat`. Without events: the default metrics (state `None`, counts 0).
pub fn compute(
    events: &[CaseEvent],
    repeat_case_creations: &[DateTime<Utc>],
    config: &MetricsConfig,
    as_of: DateTime<Utc>,
) -> CaseMetrics {
    if events.is_empty() {
        return CaseMetrics::default();
    }
    let case = Case::new(events, config, as_of);
    let mut m = CaseMetrics::default();
    case.fill_attributes(&mut m);
    case.fill_times(&mut m);
    case.fill_activity_flags(&mut m);
    let sla_change = case.fill_sla(&mut m);
    let fcr_change = case.fill_fcr(&mut m, repeat_case_creations);
    m.next_change_at = [sla_change, fcr_change].into_iter().flatten().min();
    m
}

/// Whether other cases' creations change a case's metrics computed without them (`first`):
/// only `fcr_no_repeat` reads them, and only a creation after the case's own, within its FCR
/// window from R1, counts. When false, `compute` with them gives exactly `first`.
pub fn repeats_matter(
    first: &CaseMetrics,
    repeat_case_creations: &[DateTime<Utc>],
    config: &MetricsConfig,
) -> bool {
    let (Some(created), Some(r1)) = (first.created_at, first.first_resolved_at) else {
        return false;
    };
    let window_end = fcr_window_end(r1, config);
    repeat_case_creations
        .iter()
        .any(|&t| is_repeat(created, window_end, t))
}

/// The end of a case's FCR window (R1 + N days); `None` beyond the calendar: it never ends.
fn fcr_window_end(r1: DateTime<Utc>, config: &MetricsConfig) -> Option<DateTime<Utc>> {
    r1.checked_add_signed(TimeDelta::days(i64::from(config.fcr_window_days)))
}

/// Whether another case created at `t` makes a case created at `created` a repeat.
fn is_repeat(created: DateTime<Utc>, window_end: Option<DateTime<Utc>>, t: DateTime<Utc>) -> bool {
    t > created && window_end.is_none_or(|end| t <= end)
}

/// A closed time interval of the case (a hold, a wait).
#[derive(Debug, Clone, Copy)]
struct Interval {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Why the SLA clock stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    Resolution,
    Close,
}

/// The events of one case in order, and what the metrics derive from that order.
struct Case<'a> {
    events: Vec<&'a CaseEvent>,
    config: &'a MetricsConfig,
    as_of: DateTime<Utc>,
    /// C.
    created: DateTime<Utc>,
    /// Indexes of R1, Rn and X (the last `case_closed`).
    first_resolution: Option<usize>,
    last_resolution: Option<usize>,
    last_close: Option<usize>,
    /// Whether the case is open after each event.
    open_after: Vec<bool>,
    /// A resolution / a close in force after the last event (not reactivated since).
    resolved_now: bool,
    closed_now: bool,
    /// Hold intervals in order; the last one runs to `as_of` when `on_hold_now`.
    holds: Vec<Interval>,
    on_hold_now: bool,
}

impl<'a> Case<'a> {
    fn new(events: &'a [CaseEvent], config: &'a MetricsConfig, as_of: DateTime<Utc>) -> Self {
        let mut events: Vec<&CaseEvent> = events.iter().collect();
        events.sort_by_key(|e| (e.event_time, e.seq));
        let find = |role| events.iter().position(|e| e.role == Some(role));
        let rfind = |role| events.iter().rposition(|e| e.role == Some(role));
        let created =
            find(Activity::CaseCreated).map_or(events[0].event_time, |i| events[i].event_time);
        let (first_resolution, last_resolution) =
            (find(Activity::CaseResolved), rfind(Activity::CaseResolved));
        let last_close = rfind(Activity::CaseClosed);

        let mut case = Case {
            events,
            config,
            as_of,
            created,
            first_resolution,
            last_resolution,
            last_close,
            open_after: Vec::new(),
            resolved_now: false,
            closed_now: false,
            holds: Vec::new(),
            on_hold_now: false,
        };
        case.walk_lifecycle();
        case.find_holds();
        case
    }

    /// Resolutions and closes take the case out of the open state; a reactivation undoes both.
    fn walk_lifecycle(&mut self) {
        let (mut resolved, mut closed) = (false, false);
        for e in &self.events {
            match e.role {
                Some(Activity::CaseResolved) => resolved = true,
                Some(Activity::CaseClosed) => closed = true,
                Some(Activity::CaseReactivated) => (resolved, closed) = (false, false),
                _ => {}
            }
            self.open_after.push(!resolved && !closed);
        }
        (self.resolved_now, self.closed_now) = (resolved, closed);
    }

    /// Hold intervals: maximal runs of events after which the case is on hold.
    fn find_holds(&mut self) {
        let hold_after = self.hold_after_each_event();
        let mut start = None;
        for (e, &hold) in self.events.iter().zip(&hold_after) {
            match (start, hold) {
                (None, true) => start = Some(e.event_time),
                (Some(s), false) => {
                    self.holds.push(Interval {
                        start: s,
                        end: e.event_time,
                    });
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            self.holds.push(Interval {
                start: s,
                end: self.as_of.max(s),
            });
            self.on_hold_now = true;
        }
    }

    /// Whether the case is on hold after each event: by the configured status reasons, else
    /// after an `info_requested`; never while it is not open.
    fn hold_after_each_event(&self) -> Vec<bool> {
        let hold_set: Option<BTreeSet<String>> = self
            .config
            .hold_status_reasons
            .as_ref()
            .map(|reasons| reasons.iter().map(|r| values::status_key(r)).collect());
        let mut reason: Option<String> = None;
        let mut hold_after = Vec::with_capacity(self.events.len());
        for (e, &open) in self.events.iter().zip(&self.open_after) {
            if let Some(r) = &e.status_reason {
                reason = Some(values::status_key(r));
            }
            let by_rule = match &hold_set {
                Some(set) => reason.as_ref().is_some_and(|r| set.contains(r)),
                None => e.role == Some(Activity::InfoRequested),
            };
            hold_after.push(open && by_rule);
        }
        hold_after
    }

    fn time(&self, index: usize) -> DateTime<Utc> {
        self.events[index].event_time
    }

    fn state(&self) -> CaseState {
        match (self.resolved_now, self.closed_now) {
            (_, true) if self.first_resolution.is_some() => CaseState::Closed,
            (_, true) => CaseState::Canceled,
            (true, false) => CaseState::Resolved,
            (false, false) => CaseState::Open,
        }
    }

    /// The latest non-null value of an attribute.
    fn latest<T>(&self, attribute: impl Fn(&CaseEvent) -> Option<T>) -> Option<T> {
        self.events.iter().rev().find_map(|e| attribute(e))
    }

    fn first_time(&self, matches: impl Fn(&CaseEvent) -> bool) -> Option<DateTime<Utc>> {
        self.events
            .iter()
            .find(|e| matches(e))
            .map(|e| e.event_time)
    }

    fn since_created(&self, t: Option<DateTime<Utc>>) -> Option<f64> {
        t.map(|t| secs(t - self.created))
    }

    fn fill_attributes(&self, m: &mut CaseMetrics) {
        let text = |attribute: fn(&CaseEvent) -> &Option<Arc<str>>| {
            self.latest(|e| attribute(e).as_deref().map(str::to_owned))
        };
        m.customer = text(|e| &e.customer);
        m.channel = text(|e| &e.channel);
        m.priority = text(|e| &e.priority);
        m.request_type = text(|e| &e.request_type);
        m.product = text(|e| &e.product);
        m.owner_team = text(|e| &e.owner_team);
        m.agent = text(|e| &e.agent);
        m.source_system = text(|e| &e.source_system);
        m.status_reason = text(|e| &e.status_reason);
        m.priority_level = m.priority.as_deref().and_then(PriorityLevel::parse);
        m.csat = self.latest(|e| e.csat);
        m.csat_satisfied = m.csat.map(|score| score >= 4);
        m.reported_first_contact_resolution = self.latest(|e| e.reported.first_contact_resolution);
        m.reported_rework = self.latest(|e| e.reported.rework);
        m.reported_sla_breached = self.latest(|e| e.reported.sla_breached);
        m.reported_cycle_time_s = self.latest(|e| e.reported.cycle_time_s);
    }

    fn fill_times(&self, m: &mut CaseMetrics) {
        let state = self.state();
        let is_closed = matches!(state, CaseState::Closed | CaseState::Canceled);
        let is_resolved = matches!(state, CaseState::Resolved | CaseState::Closed);
        let rn = self.last_resolution.filter(|_| is_resolved);
        let resolved_at = rn.map(|i| self.time(i));
        let closed_at = self.last_close.filter(|_| is_closed).map(|i| self.time(i));

        m.state = Some(state);
        m.event_count = to_i32(self.events.len());
        m.first_event_at = self.events.first().map(|e| e.event_time);
        m.last_event_at = self.events.last().map(|e| e.event_time);
        m.created_at = Some(self.created);
        m.first_resolved_at = self.first_resolution.map(|i| self.time(i));
        m.resolved_at = resolved_at;
        m.closed_at = closed_at;
        m.resolving_agent = rn.and_then(|i| owner_up_to(&self.events[..=i]));

        m.cycle_time_s = self.since_created(resolved_at);
        m.first_resolution_s = self.since_created(m.first_resolved_at);
        m.time_to_close_s = self.since_created(closed_at);
        m.admin_lag_s = closed_at.zip(resolved_at).map(|(x, r)| secs(x - r));
        m.first_response_s = self.since_created(self.first_time(is_first_response));
        m.first_pickup_s =
            self.since_created(self.first_time(|e| e.role == Some(Activity::QueueItemPicked)));
        m.on_hold_s = Some(secs(self.holds.iter().map(|h| h.end - h.start).sum()));
        m.queue_wait_s = self.queue_wait().map(secs);
    }

    /// Queue waits, summed; `None` when the case never entered a queue.
    fn queue_wait(&self) -> Option<TimeDelta> {
        let mut entered = false;
        let mut since: Option<DateTime<Utc>> = None;
        let mut total = TimeDelta::zero();
        for (e, &open) in self.events.iter().zip(&self.open_after) {
            let ends_wait = e.role == Some(Activity::QueueItemPicked) || !open;
            if ends_wait {
                if let Some(s) = since.take() {
                    total += e.event_time - s;
                }
            } else if enters_queue(e) && since.is_none() {
                since = Some(e.event_time);
                entered = true;
            }
        }
        if let Some(s) = since {
            total += (self.as_of - s).max(TimeDelta::zero());
        }
        entered.then_some(total)
    }

    fn fill_activity_flags(&self, m: &mut CaseMetrics) {
        let mut counts: BTreeMap<Activity, usize> = BTreeMap::new();
        for role in self.events.iter().filter_map(|e| e.role) {
            *counts.entry(role).or_default() += 1;
        }
        let count = |role| counts.get(&role).copied().unwrap_or(0);
        let articles: BTreeSet<&str> = self
            .events
            .iter()
            .filter_map(|e| e.knowledge_article_id.as_deref().map(str::trim))
            .filter(|id| !id.is_empty())
            .collect();

        m.reactivations = to_i32(count(Activity::CaseReactivated));
        // ≥ 2 `info_requested` is a case of "repeated"; spelled out as the spec does.
        let repeated = counts
            .iter()
            .any(|(&role, &n)| role != Activity::CaseAssigned && n >= 2);
        m.is_rework = m.reactivations > 0 || count(Activity::InfoRequested) >= 2 || repeated;
        m.escalated = is_escalated(self.events.iter().copied());
        m.recategorized = count(Activity::CategorizationChanged) > 0;
        m.kb_used = count(Activity::AgentInvestigated) > 0 || !articles.is_empty();
        m.kb_articles = to_i32(articles.len());
        m.handoffs = handoffs(self.events.iter().copied());
    }

    /// Where the SLA clock stopped, or `None` while it runs (the case is open).
    fn clock_stop(&self) -> Option<(DateTime<Utc>, Stop)> {
        if self.resolved_now {
            self.last_resolution
                .map(|i| (self.time(i), Stop::Resolution))
        } else if self.closed_now {
            self.last_close.map(|i| (self.time(i), Stop::Close))
        } else {
            None
        }
    }

    /// S: the first `sla_timer_started`, else C.
    fn sla_start(&self) -> DateTime<Utc> {
        self.first_time(|e| e.role == Some(Activity::SlaTimerStarted))
            .unwrap_or(self.created)
    }

    /// Pauses by a rule: maximal runs of events after which the case is on hold, split where
    /// the rule behind the hold changes; a pause still running is cut at `as_of`. Returns
    /// whether one runs now. Holds only run while the case is open.
    fn pauses(&self, rule: &PauseRule) -> (Vec<Pause<'a>>, bool) {
        let mut reason: Option<&'a str> = None;
        let mut pauses: Vec<Pause<'a>> = Vec::new();
        let mut current: Option<(DateTime<Utc>, &'a str)> = None;
        for (&e, &open) in self.events.iter().zip(&self.open_after) {
            if let Some(r) = e.status_reason.as_deref() {
                reason = Some(r);
            }
            let by_status = reason.filter(|r| rule.status_keys.contains(&values::status_key(r)));
            let by_request = (rule.info_requested && e.role == Some(Activity::InfoRequested))
                .then_some(INFO_REQUESTED);
            let held = if open { by_status.or(by_request) } else { None };
            match (current, held) {
                (Some((_, was)), Some(now)) if was == now => {}
                (_, held) => {
                    if let Some((start, reason)) = current.take() {
                        pauses.push(Pause {
                            span: Span {
                                start,
                                end: e.event_time,
                            },
                            reason,
                        });
                    }
                    current = held.map(|reason| (e.event_time, reason));
                }
            }
        }
        if let Some((start, reason)) = current {
            pauses.push(Pause {
                span: Span {
                    start,
                    end: self.as_of.max(start),
                },
                reason,
            });
        }
        (pauses, current.is_some())
    }

    /// The spans during which the case was not open (from a resolution or close to the next
    /// reactivation; the last one never ends).
    fn resolved_spans(&self) -> Vec<Span> {
        let mut spans = Vec::new();
        let mut since: Option<DateTime<Utc>> = None;
        for (e, &open) in self.events.iter().zip(&self.open_after) {
            match (since, open) {
                (None, false) => since = Some(e.event_time),
                (Some(start), true) => {
                    spans.push(Span {
                        start,
                        end: e.event_time,
                    });
                    since = None;
                }
                _ => {}
            }
        }
        if let Some(start) = since {
            spans.push(Span {
                start,
                end: DateTime::<Utc>::MAX_UTC,
            });
        }
        spans
    }

    /// When the case last left the open state, if it is not open now.
    fn left_open_at(&self) -> Option<DateTime<Utc>> {
        if self.open_after.last().copied().unwrap_or(true) {
            return None;
        }
        let reopened = self.open_after.iter().rposition(|&open| open);
        Some(self.time(reopened.map_or(0, |i| i + 1)))
    }

    /// Runs the SLA clocks of the case. Without a policy: the case's own target on 24x7,
    /// pausing on hold (today's rule, where a reactivated case's clock runs from S again).
    /// With one: its calendar and pause rules, and the time the case stood resolved does not
    /// count. `timeline`: keep each clock's timeline (a case's SLA page), not only figures.
    fn sla_clocks(&self, m: &CaseMetrics, timeline: bool) -> SlaClocks<'a> {
        let setup: &'a SlaSetup = &self.config.sla;
        let extra = self.latest_extra(&setup.attribute_keys());
        let applied = setup.policy_for(&attributes(m, &extra), self.created);
        let (calendar, rule, policy_targets): (&'a CalendarVersions, _, _) = match &applied {
            Some(policy) => (
                policy.calendar,
                PauseRule::of_policy(policy.definition.pause.as_ref(), self.config),
                Some(&policy.definition.targets),
            ),
            None => (always_open(), PauseRule::of_config(self.config), None),
        };
        let (pauses, paused_now) = self.pauses(&rule);
        let mut targets = Vec::new();

        // Resolution: the case's own target wins over the policy's (on the policy's calendar).
        let own_target = self.latest(|e| {
            e.sla_target_resolution_s
                .filter(|t| t.is_finite() && *t >= 0.0)
        });
        let policy_resolution = policy_targets.and_then(|t| t.resolution.as_ref());
        if let Some(target_s) = own_target.or(policy_resolution.map(|t| t.target_s)) {
            let share =
                policy_resolution.map_or(self.config.sla_warning_share, |t| t.warning_share);
            let resolved_spans = if applied.is_some() {
                self.resolved_spans()
            } else {
                Vec::new()
            };
            let stop = self.clock_stop();
            let ending = stop.map(|(_, why)| match why {
                Stop::Resolution => Ending::Met,
                Stop::Close => Ending::Canceled,
            });
            targets.push(TargetClock::run(
                SlaTarget::Resolution,
                target_s,
                share,
                ClockInput {
                    calendar,
                    start: self.sla_start(),
                    stop: stop.map(|(t, _)| t),
                    as_of: self.as_of,
                    pauses: &pauses,
                    paused_now: stop.is_none() && paused_now,
                    resolved: &resolved_spans,
                    target: TimeDelta::zero(),
                    warning: TimeDelta::zero(),
                },
                ending,
                timeline,
            ));
        }

        if let Some(def) = policy_targets.and_then(|t| t.first_response.as_ref()) {
            // Stops at the first response; a case resolved or closed without one cancels it.
            let stop = self
                .first_time(is_first_response)
                .map(|t| (t, Ending::Met))
                .or_else(|| self.left_open_at().map(|t| (t, Ending::Canceled)));
            targets.push(TargetClock::run(
                SlaTarget::FirstResponse,
                def.target_s,
                def.warning_share,
                ClockInput {
                    calendar,
                    start: self.created,
                    stop: stop.map(|(t, _)| t),
                    as_of: self.as_of,
                    pauses: &pauses,
                    paused_now: stop.is_none() && paused_now,
                    resolved: &[],
                    target: TimeDelta::zero(),
                    warning: TimeDelta::zero(),
                },
                stop.map(|(_, ending)| ending),
                timeline,
            ));
        }
        SlaClocks {
            policy: applied,
            calendar,
            targets,
        }
    }

    /// The latest value of each of these stored attributes.
    fn latest_extra(&self, keys: &[&str]) -> BTreeMap<String, String> {
        keys.iter()
            .filter_map(|key| {
                let value = self.latest(|e| e.extra.get(*key).cloned())?;
                Some(((*key).to_owned(), value))
            })
            .collect()
    }

    /// Fills the SLA fields of both targets; returns when a status would change with no new
    /// event.
    fn fill_sla(&self, m: &mut CaseMetrics) -> Option<DateTime<Utc>> {
        let clocks = self.sla_clocks(m, false);
        m.sla_policy_id = clocks.policy.map(|p| p.id.to_owned());
        m.sla_policy_version = clocks.policy.map(|p| p.version);
        m.sla_calendar_id = Some(clocks.calendar.id.clone());
        for t in &clocks.targets {
            let (elapsed, paused) = (secs(t.clock.elapsed), secs(t.clock.paused));
            match t.target {
                SlaTarget::Resolution => {
                    m.sla_target_s = Some(t.target_s);
                    m.sla_elapsed_s = Some(elapsed);
                    m.sla_breached = Some(t.status == SlaStatus::Noncompliant);
                    m.sla_margin_s = Some(t.target_s - elapsed);
                    m.sla_breached_at = t.clock.breached_at;
                    m.sla_status = Some(t.status);
                    m.sla_paused_s = Some(paused);
                    m.sla_calendar_s = Some(secs(t.clock.calendar));
                    m.sla_warning_at = t.clock.warning_at;
                    m.sla_due_at = t.clock.due_at;
                }
                SlaTarget::FirstResponse => {
                    m.first_response_sla_target_s = Some(t.target_s);
                    m.first_response_sla_elapsed_s = Some(elapsed);
                    m.first_response_sla_paused_s = Some(paused);
                    m.first_response_sla_margin_s = Some(t.target_s - elapsed);
                    m.first_response_sla_warning_at = t.clock.warning_at;
                    m.first_response_sla_due_at = t.clock.due_at;
                    m.first_response_sla_breached_at = t.clock.breached_at;
                    m.first_response_sla_status = Some(t.status);
                }
            }
        }
        clocks
            .targets
            .iter()
            .filter_map(|t| self.next_change(t))
            .min()
    }

    /// When a clock's status changes by itself: a running, unpaused clock gets to `nearing`,
    /// then exceeds its target.
    fn next_change(&self, t: &TargetClock<'_>) -> Option<DateTime<Utc>> {
        let clock = &t.clock;
        if clock.breached_at.is_some() || t.stopped || t.paused_now {
            return None;
        }
        let soonest = self.as_of.checked_add_signed(TimeDelta::nanoseconds(1))?;
        let nearing = clock.warning_at.filter(|&t| t > self.as_of);
        let exceeds = clock.exceeds_at.map(|t| t.max(soonest));
        [nearing, exceeds].into_iter().flatten().min()
    }

    /// Fills the FCR variants; returns their maturity R1 + N days while one is pending.
    fn fill_fcr(
        &self,
        m: &mut CaseMetrics,
        repeat_case_creations: &[DateTime<Utc>],
    ) -> Option<DateTime<Utc>> {
        let r1 = self.first_resolution?;
        let matures = fcr_window_end(self.time(r1), self.config);
        let in_window = |t: DateTime<Utc>| matures.is_none_or(|end| t <= end);
        let verdict = |failed: bool| match matures {
            _ if failed => Fcr::False,
            Some(end) if self.as_of >= end => Fcr::True,
            _ => Fcr::Pending,
        };

        let reactivated = self.events[r1 + 1..]
            .iter()
            .any(|e| e.role == Some(Activity::CaseReactivated) && in_window(e.event_time));
        let repeated = repeat_case_creations
            .iter()
            .any(|&t| is_repeat(self.created, matures, t));
        let window: Vec<&CaseEvent> = self
            .events
            .iter()
            .copied()
            .filter(|e| in_window(e.event_time))
            .collect();

        m.fcr_no_reactivation = Some(verdict(reactivated));
        m.fcr_no_repeat = Some(verdict(repeated));
        m.fcr_single_interaction = Some(verdict(!is_single_interaction(&window)));
        let variants = [
            m.fcr_no_reactivation,
            m.fcr_no_repeat,
            m.fcr_single_interaction,
        ];
        variants
            .contains(&Some(Fcr::Pending))
            .then_some(matures)
            .flatten()
    }
}

/// The SLA clocks of one case, with their timelines (`GET /v1/cases/{id}/sla`).
#[derive(Debug, Clone)]
pub struct SlaClocks<'a> {
    /// The policy that applied; `None`: the case's own target on 24x7.
    pub policy: Option<AppliedPolicy<'a>>,
    pub calendar: &'a CalendarVersions,
    pub targets: Vec<TargetClock<'a>>,
}

/// The targets an SLA clock measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaTarget {
    FirstResponse,
    Resolution,
}

/// One target's clock and status.
#[derive(Debug, Clone)]
pub struct TargetClock<'a> {
    pub target: SlaTarget,
    pub target_s: f64,
    pub warning_s: f64,
    pub status: SlaStatus,
    /// Resolved / responded or canceled: the clock no longer runs.
    pub stopped: bool,
    /// Running and paused at `as_of`.
    pub paused_now: bool,
    pub clock: Clock<'a>,
}

impl<'a> TargetClock<'a> {
    fn run(
        target: SlaTarget,
        target_s: f64,
        warning_share: f64,
        input: ClockInput<'_, 'a>,
        ending: Option<Ending>,
        timeline: bool,
    ) -> Self {
        let input = ClockInput {
            target: from_secs(target_s),
            warning: from_secs(warning_share * target_s),
            ..input
        };
        let clock = if timeline {
            clock::run(&input)
        } else {
            clock::figures(&input)
        };
        TargetClock {
            target,
            target_s,
            warning_s: warning_share * target_s,
            status: sla_status(
                &clock,
                input.target,
                input.warning,
                ending,
                input.paused_now,
            ),
            stopped: ending.is_some(),
            paused_now: input.paused_now,
            clock,
        }
    }
}

/// The SLA clocks of a case as of `as_of`, with their timelines; `None` without events.
pub fn sla_clocks<'a>(
    events: &'a [CaseEvent],
    config: &'a MetricsConfig,
    as_of: DateTime<Utc>,
) -> Option<SlaClocks<'a>> {
    if events.is_empty() {
        return None;
    }
    let case = Case::new(events, config, as_of);
    let mut m = CaseMetrics::default();
    case.fill_attributes(&mut m);
    Some(case.sla_clocks(&m, true))
}

fn always_open() -> &'static CalendarVersions {
    static ALWAYS_OPEN: std::sync::LazyLock<CalendarVersions> =
        std::sync::LazyLock::new(CalendarVersions::always_open);
    &ALWAYS_OPEN
}

/// No information request, reassignment, escalation or reactivation among `events`.
fn is_single_interaction(events: &[&CaseEvent]) -> bool {
    let count = |role| events.iter().filter(|e| e.role == Some(role)).count();
    count(Activity::InfoRequested) == 0
        && count(Activity::CaseReactivated) == 0
        && count(Activity::CaseAssigned) < 2
        && handoffs(events.iter().copied()) == 0
        && !is_escalated(events.iter().copied())
}

fn is_escalated<'e>(mut events: impl Iterator<Item = &'e CaseEvent>) -> bool {
    events.any(|e| e.role == Some(Activity::CaseEscalated) || e.is_escalated == Some(true))
}

/// Runs of consecutive equal owners − 1, at least 0.
fn handoffs<'e>(events: impl Iterator<Item = &'e CaseEvent>) -> i32 {
    let mut runs = 0;
    let mut current: Option<&str> = None;
    for owner in events.filter_map(owner) {
        if current != Some(owner) {
            runs += 1;
            current = Some(owner);
        }
    }
    (runs - 1).max(0)
}

/// The event's agent when it is an owner: present and not `System`.
fn owner(e: &CaseEvent) -> Option<&str> {
    e.agent.as_deref().filter(|a| !is_system(a))
}

/// The latest owner among `events`.
fn owner_up_to(events: &[&CaseEvent]) -> Option<String> {
    events
        .iter()
        .rev()
        .find_map(|e| owner(e))
        .map(str::to_owned)
}

fn is_system(agent: &str) -> bool {
    values::is_system_agent(agent)
}

/// A customer-facing agent event: not by `System` (an event without an agent counts).
fn is_first_response(e: &CaseEvent) -> bool {
    let facing = matches!(
        e.role,
        Some(Activity::InfoRequested | Activity::SolutionProposed | Activity::CaseResolved)
    );
    facing && !e.agent.as_deref().is_some_and(is_system)
}

/// The pause reason of the `info_requested` rule.
const INFO_REQUESTED: &str = "info_requested";

/// Which holds pause the SLA clocks.
struct PauseRule {
    /// Status reasons (folded with `values::status_key`) that pause while in force.
    status_keys: BTreeSet<String>,
    /// Pause from an `info_requested` to the next event.
    info_requested: bool,
}

impl PauseRule {
    /// The service's hold rule: the configured status reasons, else `info_requested`.
    fn of_config(config: &MetricsConfig) -> Self {
        match &config.hold_status_reasons {
            Some(reasons) => PauseRule {
                status_keys: reasons.iter().map(|r| values::status_key(r)).collect(),
                info_requested: false,
            },
            None => PauseRule {
                status_keys: BTreeSet::new(),
                info_requested: true,
            },
        }
    }

    fn of_policy(rules: Option<&PauseRules>, config: &MetricsConfig) -> Self {
        match rules {
            Some(rules) => PauseRule {
                status_keys: values::expand_hold_reasons(&rules.status_reasons)
                    .iter()
                    .map(|r| values::status_key(r))
                    .collect(),
                info_requested: rules.info_requested,
            },
            None => Self::of_config(config),
        }
    }
}

/// How a stopped clock ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    /// Resolved / responded.
    Met,
    /// Closed without it.
    Canceled,
}

/// A target's status: a breach is final; then how the clock stopped; else paused, nearing or
/// in progress.
fn sla_status(
    clock: &Clock<'_>,
    target: TimeDelta,
    warning: TimeDelta,
    ending: Option<Ending>,
    paused_now: bool,
) -> SlaStatus {
    match ending {
        _ if clock.breached(target) => SlaStatus::Noncompliant,
        Some(Ending::Met) => SlaStatus::Succeeded,
        Some(Ending::Canceled) => SlaStatus::Canceled,
        None if paused_now => SlaStatus::Paused,
        None if clock.elapsed >= warning => SlaStatus::Nearing,
        None => SlaStatus::InProgress,
    }
}

/// The attributes SLA policies match on.
fn attributes<'m>(m: &'m CaseMetrics, extra: &'m BTreeMap<String, String>) -> CaseAttributes<'m> {
    CaseAttributes {
        extra: Some(extra),
        priority: m.priority.as_deref(),
        priority_level: m.priority_level.map(|level| level.code()),
        channel: m.channel.as_deref(),
        request_type: m.request_type.as_deref(),
        product: m.product.as_deref(),
        owner_team: m.owner_team.as_deref(),
        customer: m.customer.as_deref(),
        source_system: m.source_system.as_deref(),
    }
}

/// Puts the case in a queue: created, escalated, or assigned without an owner agent.
fn enters_queue(e: &CaseEvent) -> bool {
    match e.role {
        Some(Activity::CaseCreated | Activity::CaseEscalated) => true,
        Some(Activity::CaseAssigned) => owner(e).is_none(),
        _ => false,
    }
}

fn secs(d: TimeDelta) -> f64 {
    d.as_seconds_f64()
}

/// Seconds to a duration, to the nanosecond (saturating past ±292 years).
fn from_secs(s: f64) -> TimeDelta {
    TimeDelta::nanoseconds((s * 1e9).round() as i64)
}

fn to_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::Activity::*;
    use super::*;

    const DAY: i64 = 24 * 60;
    /// R1 + 7 days for a case resolved at minute 60.
    const MATURES: i64 = 60 + 7 * DAY;

    fn base() -> DateTime<Utc> {
        "2024-03-04T08:00:00Z".parse().unwrap()
    }

    /// Minutes after the base instant.
    fn at(min: i64) -> DateTime<Utc> {
        base() + TimeDelta::minutes(min)
    }

    fn ev(seq: i64, min: i64, role: Activity) -> CaseEvent {
        CaseEvent {
            seq,
            event_time: at(min),
            role: Some(role),
            ..Default::default()
        }
    }

    /// An activity without a canonical role: its name is for the reader (no metric reads it).
    fn other(seq: i64, min: i64, _name: &str) -> CaseEvent {
        CaseEvent {
            seq,
            event_time: at(min),
            ..Default::default()
        }
    }

    fn by(agent: &str, e: CaseEvent) -> CaseEvent {
        CaseEvent {
            agent: Some(agent.into()),
            ..e
        }
    }

    /// Events in input order, `seq` by position.
    fn case(steps: &[(i64, Activity)]) -> Vec<CaseEvent> {
        steps
            .iter()
            .zip(1..)
            .map(|(&(min, role), seq)| ev(seq, min, role))
            .collect()
    }

    fn with_target(mut events: Vec<CaseEvent>, target_s: f64) -> Vec<CaseEvent> {
        events[0].sla_target_resolution_s = Some(target_s);
        events
    }

    fn run(events: &[CaseEvent], as_of_min: i64) -> CaseMetrics {
        compute(events, &[], &MetricsConfig::default(), at(as_of_min))
    }

    /// A complete case: every field asserted.
    fn full_case() -> Vec<CaseEvent> {
        let created = CaseEvent {
            customer: Some("acme".into()),
            channel: Some("email".into()),
            priority: Some("high".into()),
            request_type: Some("billing".into()),
            product: Some("router".into()),
            owner_team: Some("tier1".into()),
            source_system: Some("d365".into()),
            status_reason: Some("New".into()),
            sla_target_resolution_s: Some(14_400.0),
            ..ev(1, 0, CaseCreated)
        };
        vec![
            created,
            ev(2, 1, CaseAssigned), // to a queue: already queued since creation
            by("System", ev(3, 2, SlaTimerStarted)),
            by("alice", ev(4, 10, QueueItemPicked)),
            CaseEvent {
                knowledge_article_id: Some("KB-1".into()),
                ..by("alice", ev(5, 15, AgentInvestigated))
            },
            by("alice", ev(6, 20, InfoRequested)),
            CaseEvent {
                status_reason: Some("In Progress".into()),
                ..by("alice", ev(7, 80, CategorizationChanged))
            },
            by("bob", ev(8, 90, CaseAssigned)),
            CaseEvent {
                knowledge_article_id: Some("KB-2".into()),
                ..by("bob", ev(9, 100, SolutionProposed))
            },
            CaseEvent {
                status_reason: Some("Problem Solved".into()),
                ..by("bob", ev(10, 120, CaseResolved))
            },
            by("System", ev(11, 125, SurveySent)),
            CaseEvent {
                csat: Some(5),
                ..other(12, 150, "Survey Answered")
            },
            by("System", ev(13, 180, CaseClosed)),
        ]
    }

    #[test]
    fn a_complete_case_fills_every_field() {
        let m = run(&full_case(), 120 + 8 * DAY);
        let expected = CaseMetrics {
            customer: Some("acme".into()),
            channel: Some("email".into()),
            priority: Some("high".into()),
            request_type: Some("billing".into()),
            product: Some("router".into()),
            owner_team: Some("tier1".into()),
            agent: Some("System".into()),
            source_system: Some("d365".into()),
            status_reason: Some("Problem Solved".into()),
            priority_level: Some(PriorityLevel::High),
            state: Some(CaseState::Closed),
            event_count: 13,
            first_event_at: Some(at(0)),
            last_event_at: Some(at(180)),
            created_at: Some(at(0)),
            first_resolved_at: Some(at(120)),
            resolved_at: Some(at(120)),
            closed_at: Some(at(180)),
            resolving_agent: Some("bob".into()),
            cycle_time_s: Some(7200.0),
            first_resolution_s: Some(7200.0),
            time_to_close_s: Some(10_800.0),
            admin_lag_s: Some(3600.0),
            first_response_s: Some(1200.0),
            first_pickup_s: Some(600.0),
            on_hold_s: Some(3600.0),
            queue_wait_s: Some(600.0),
            reactivations: 0,
            is_rework: false,
            escalated: false,
            recategorized: true,
            kb_used: true,
            kb_articles: 2,
            handoffs: 1,
            csat: Some(5),
            csat_satisfied: Some(true),
            sla_target_s: Some(14_400.0),
            // S = minute 2 to Rn = minute 120, less the 60 min hold.
            sla_elapsed_s: Some(3480.0),
            sla_breached: Some(false),
            sla_margin_s: Some(10_920.0),
            sla_breached_at: None,
            sla_status: Some(SlaStatus::Succeeded),
            // The hold [20, 80) paused 60 minutes; projected past the resolution, the
            // warning (75 % of 240 min) and the target fall at minutes 242 and 302.
            sla_paused_s: Some(3600.0),
            sla_calendar_s: Some(7080.0),
            sla_warning_at: Some(at(242)),
            sla_due_at: Some(at(302)),
            sla_policy_id: None,
            sla_policy_version: None,
            sla_calendar_id: Some("24x7".into()),
            first_response_sla_target_s: None,
            first_response_sla_elapsed_s: None,
            first_response_sla_paused_s: None,
            first_response_sla_margin_s: None,
            first_response_sla_warning_at: None,
            first_response_sla_due_at: None,
            first_response_sla_breached_at: None,
            first_response_sla_status: None,
            fcr_no_reactivation: Some(Fcr::True),
            fcr_no_repeat: Some(Fcr::True),
            fcr_single_interaction: Some(Fcr::False),
            next_change_at: None,
            reported_first_contact_resolution: None,
            reported_rework: None,
            reported_sla_breached: None,
            reported_cycle_time_s: None,
        };
        assert_eq!(m, expected);
    }

    #[test]
    fn no_events_give_the_default_metrics() {
        let m = compute(&[], &[at(0)], &MetricsConfig::default(), at(0));
        assert_eq!(m, CaseMetrics::default());
        assert_eq!(m.state, None);
        assert_eq!(m.on_hold_s, None);
    }

    #[test]
    fn input_order_does_not_matter() {
        let events = full_case();
        let expected = run(&events, 500);
        let mut reversed = events.clone();
        reversed.reverse();
        assert_eq!(run(&reversed, 500), expected);
        let mut rotated = events;
        rotated.rotate_left(5);
        assert_eq!(run(&rotated, 500), expected);
    }

    #[test]
    fn a_late_event_takes_its_place_by_time_not_arrival() {
        let events = vec![
            CaseEvent {
                priority: Some("low".into()),
                ..ev(1, 0, CaseCreated)
            },
            CaseEvent {
                priority: Some("high".into()),
                ..ev(2, 60, CaseResolved)
            },
            // Arrives last but happened in between.
            CaseEvent {
                priority: Some("urgent".into()),
                ..by("carol", ev(3, 30, InfoRequested))
            },
        ];
        let m = run(&events, 90);
        assert_eq!(m.priority.as_deref(), Some("high"));
        assert_eq!(m.agent.as_deref(), Some("carol"));
        assert_eq!(m.first_response_s, Some(1800.0));
        assert_eq!(m.on_hold_s, Some(1800.0));
        assert_eq!(m.state, Some(CaseState::Resolved));
        assert_eq!(m.last_event_at, Some(at(60)));
    }

    #[test]
    fn equal_timestamps_are_ordered_by_seq() {
        // Input order is the reverse of seq order.
        let resolved_then_reactivated = vec![
            CaseEvent {
                channel: Some("chat".into()),
                ..ev(6, 60, CaseReactivated)
            },
            CaseEvent {
                channel: Some("phone".into()),
                ..ev(5, 60, CaseResolved)
            },
            ev(1, 0, CaseCreated),
        ];
        let m = run(&resolved_then_reactivated, 90);
        assert_eq!(m.state, Some(CaseState::Open));
        assert_eq!(m.channel.as_deref(), Some("chat"));
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::False));

        let reactivated_then_resolved = vec![
            CaseEvent {
                channel: Some("chat".into()),
                ..ev(5, 60, CaseReactivated)
            },
            CaseEvent {
                channel: Some("phone".into()),
                ..ev(6, 60, CaseResolved)
            },
            ev(1, 0, CaseCreated),
        ];
        let m = run(&reactivated_then_resolved, 90);
        assert_eq!(m.state, Some(CaseState::Resolved));
        assert_eq!(m.channel.as_deref(), Some("phone"));
        assert_eq!(m.resolved_at, Some(at(60)));
        // A reactivation before R1 is no FCR failure.
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::Pending));
        assert_eq!(m.reactivations, 1);
    }

    #[test]
    fn a_reactivated_case_is_open_again() {
        let events = with_target(
            case(&[(0, CaseCreated), (60, CaseResolved), (120, CaseReactivated)]),
            21_600.0,
        );
        let m = run(&events, 180);
        assert_eq!(m.state, Some(CaseState::Open));
        assert_eq!(m.first_resolved_at, Some(at(60)));
        assert_eq!(m.first_resolution_s, Some(3600.0));
        assert_eq!(m.resolved_at, None);
        assert_eq!(m.cycle_time_s, None);
        assert_eq!(m.resolving_agent, None);
        assert_eq!(m.reactivations, 1);
        assert!(m.is_rework);
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::False));
        assert_eq!(m.fcr_single_interaction, Some(Fcr::False));
        assert_eq!(m.fcr_no_repeat, Some(Fcr::Pending));
        // The clock runs from S again, through the resolved period: 180 min of 360.
        assert_eq!(m.sla_elapsed_s, Some(10_800.0));
        assert_eq!(m.sla_status, Some(SlaStatus::InProgress));
        // Nearing (270 min) comes before the FCR maturity.
        assert_eq!(m.next_change_at, Some(at(270)));
    }

    #[test]
    fn a_re_resolved_case_measures_to_the_last_resolution() {
        let events = with_target(
            case(&[
                (0, CaseCreated),
                (60, CaseResolved),
                (120, CaseReactivated),
                (200, CaseResolved),
            ]),
            21_600.0,
        );
        let m = run(&events, 300);
        assert_eq!(m.state, Some(CaseState::Resolved));
        assert_eq!(m.first_resolved_at, Some(at(60)));
        assert_eq!(m.resolved_at, Some(at(200)));
        assert_eq!(m.cycle_time_s, Some(12_000.0));
        assert_eq!(m.first_resolution_s, Some(3600.0));
        assert_eq!(m.sla_elapsed_s, Some(12_000.0));
        assert_eq!(m.sla_status, Some(SlaStatus::Succeeded));
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::False));
        assert!(m.is_rework);
    }

    #[test]
    fn a_reactivation_after_close_opens_the_case_again() {
        let events = case(&[
            (0, CaseCreated),
            (60, CaseResolved),
            (90, CaseClosed),
            (120, CaseReactivated),
        ]);
        let m = run(&events, 150);
        assert_eq!(m.state, Some(CaseState::Open));
        assert_eq!(m.resolved_at, None);
        assert_eq!(m.closed_at, None);
        assert_eq!(m.time_to_close_s, None);
        assert_eq!(m.admin_lag_s, None);
        assert_eq!(m.cycle_time_s, None);
    }

    #[test]
    fn a_close_after_a_reactivation_without_resolution_stops_the_clock_at_the_close() {
        let events = with_target(
            case(&[
                (0, CaseCreated),
                (60, CaseResolved),
                (120, CaseReactivated),
                (180, CaseClosed),
            ]),
            21_600.0,
        );
        let m = run(&events, 200);
        assert_eq!(m.state, Some(CaseState::Closed));
        assert_eq!(m.resolved_at, Some(at(60)));
        assert_eq!(m.cycle_time_s, Some(3600.0));
        assert_eq!(m.closed_at, Some(at(180)));
        assert_eq!(m.time_to_close_s, Some(10_800.0));
        assert_eq!(m.admin_lag_s, Some(7200.0));
        assert_eq!(m.sla_elapsed_s, Some(10_800.0));
        assert_eq!(m.sla_status, Some(SlaStatus::Canceled));
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::False));
    }

    #[test]
    fn a_case_closed_without_resolution_is_canceled() {
        let events = with_target(case(&[(0, CaseCreated), (30, CaseClosed)]), 7200.0);
        let m = run(&events, 10 * DAY);
        assert_eq!(m.state, Some(CaseState::Canceled));
        assert_eq!(m.closed_at, Some(at(30)));
        assert_eq!(m.time_to_close_s, Some(1800.0));
        assert_eq!(m.admin_lag_s, None);
        assert_eq!(m.cycle_time_s, None);
        assert_eq!(m.first_resolution_s, None);
        assert_eq!(m.resolved_at, None);
        assert_eq!(m.resolving_agent, None);
        assert_eq!(m.fcr_no_reactivation, None);
        assert_eq!(m.fcr_no_repeat, None);
        assert_eq!(m.fcr_single_interaction, None);
        assert_eq!(m.sla_elapsed_s, Some(1800.0));
        assert_eq!(m.sla_margin_s, Some(5400.0));
        assert_eq!(m.sla_breached, Some(false));
        assert_eq!(m.sla_status, Some(SlaStatus::Canceled));
        assert_eq!(m.next_change_at, None);
    }

    #[test]
    fn a_case_canceled_after_its_breach_is_noncompliant() {
        let events = with_target(case(&[(0, CaseCreated), (30, CaseClosed)]), 600.0);
        let m = run(&events, 60);
        assert_eq!(m.state, Some(CaseState::Canceled));
        assert_eq!(m.sla_status, Some(SlaStatus::Noncompliant));
        assert_eq!(m.sla_breached_at, Some(at(10)));
    }

    #[test]
    fn info_request_chains_are_one_hold_ended_by_any_other_event() {
        let mut events = case(&[
            (0, CaseCreated),
            (10, InfoRequested),
            (20, InfoRequested),
            (50, AgentInvestigated),
            (60, InfoRequested),
            (90, CaseResolved),
        ]);
        events.push(other(7, 75, "Customer Replied"));
        let m = run(&with_target(events, 7200.0), 100);
        // 10..50 and 60..75.
        assert_eq!(m.on_hold_s, Some(3300.0));
        assert_eq!(m.sla_elapsed_s, Some(2100.0));
        assert!(m.is_rework);
        assert_eq!(m.event_count, 7);
    }

    #[test]
    fn a_case_on_hold_now_is_paused_and_holds_up_to_as_of() {
        let events = with_target(case(&[(0, CaseCreated), (30, InfoRequested)]), 7200.0);
        let m = run(&events, 200);
        assert_eq!(m.on_hold_s, Some(10_200.0));
        assert_eq!(m.sla_elapsed_s, Some(1800.0));
        assert_eq!(m.sla_status, Some(SlaStatus::Paused));
        assert_eq!(m.next_change_at, None);

        // A breach stays a breach while paused.
        let events = with_target(case(&[(0, CaseCreated), (30, InfoRequested)]), 600.0);
        let m = run(&events, 200);
        assert_eq!(m.sla_status, Some(SlaStatus::Noncompliant));
        assert_eq!(m.sla_breached_at, Some(at(10)));
    }

    fn status_reason_case() -> Vec<CaseEvent> {
        let reason = |r: &str, e: CaseEvent| CaseEvent {
            status_reason: Some(r.into()),
            ..e
        };
        vec![
            reason("New", ev(1, 0, CaseCreated)),
            reason(" waiting for CUSTOMER ", ev(2, 10, CaseAssigned)),
            ev(3, 20, AgentInvestigated),
            reason("In Progress", ev(4, 30, InfoRequested)),
            reason("On Hold", ev(5, 40, AgentInvestigated)),
            ev(6, 70, CaseResolved),
            ev(7, 100, SurveySent),
        ]
    }

    fn hold_set_config() -> MetricsConfig {
        MetricsConfig {
            hold_status_reasons: Some(vec!["Waiting for Customer".into(), "on hold".into()]),
            ..MetricsConfig::default()
        }
    }

    #[test]
    fn the_standard_hold_set_pauses_on_portuguese_status_reasons_too() {
        let reason = |r: &str, e: CaseEvent| CaseEvent {
            status_reason: Some(r.into()),
            ..e
        };
        let events = with_target(
            vec![
                reason("Novo", ev(1, 0, CaseCreated)),
                reason("EM ESPERA", ev(2, 10, AgentInvestigated)),
                reason("Em Progresso", ev(3, 40, AgentInvestigated)),
                reason("Aguardando cliente", ev(4, 50, AgentInvestigated)),
                reason("Problema Resolvido", ev(5, 60, CaseResolved)),
            ],
            86_400.0,
        );
        let config = MetricsConfig {
            hold_status_reasons: Some(values::expand_hold_reasons(&["standard".into()])),
            ..MetricsConfig::default()
        };
        let m = compute(&events, &[], &config, at(100));
        // 10-40 and 50-60 on hold: 40 minutes, and the SLA clock paused for them.
        assert_eq!(m.on_hold_s, Some(2400.0));
        assert_eq!(m.sla_elapsed_s, Some(1200.0));
    }

    #[test]
    fn status_reason_holds_replace_the_info_request_rule() {
        let events = status_reason_case();
        // 10..30, then 40 until the resolution at 70 (not open: no hold after it).
        let m = compute(&events, &[], &hold_set_config(), at(200));
        assert_eq!(m.on_hold_s, Some(3000.0));
        // Without the set: the info request at 30 holds until the next event at 40.
        assert_eq!(run(&events, 200).on_hold_s, Some(600.0));
    }

    #[test]
    fn a_status_reason_hold_resumes_on_reactivation_and_runs_to_as_of() {
        let mut events = with_target(status_reason_case(), 36_000.0);
        events.push(ev(8, 120, CaseReactivated));
        let m = compute(&events, &[], &hold_set_config(), at(150));
        assert_eq!(m.on_hold_s, Some(4800.0));
        // 150 min less 80 min of holds.
        assert_eq!(m.sla_elapsed_s, Some(4200.0));
        assert_eq!(m.sla_status, Some(SlaStatus::Paused));
        assert_eq!(m.state, Some(CaseState::Open));
    }

    #[test]
    fn without_a_target_every_sla_field_is_none() {
        let mut events = case(&[(0, CaseCreated), (60, CaseResolved)]);
        events[1].sla_target_resolution_s = Some(f64::NAN);
        let m = run(&events, 120);
        assert_eq!(
            (
                m.sla_target_s,
                m.sla_elapsed_s,
                m.sla_breached,
                m.sla_margin_s
            ),
            (None, None, None, None)
        );
        assert_eq!((m.sla_breached_at, m.sla_status), (None, None));
        // Open without a target: no SLA instant to wait for.
        assert_eq!(run(&events[..1], 30).next_change_at, None);
    }

    #[test]
    fn the_sla_target_is_the_latest_non_null_one() {
        let mut events = with_target(
            case(&[(0, CaseCreated), (10, CaseAssigned), (60, CaseResolved)]),
            100.0,
        );
        events[1].sla_target_resolution_s = Some(7200.0);
        let m = run(&events, 120);
        assert_eq!(m.sla_target_s, Some(7200.0));
        assert_eq!(m.sla_margin_s, Some(3600.0));
    }

    #[test]
    fn the_clock_does_not_breach_during_a_hold() {
        // 210 calendar minutes, but only 40 on the clock.
        let events = with_target(
            case(&[
                (0, CaseCreated),
                (30, InfoRequested),
                (200, AgentInvestigated),
                (210, CaseResolved),
            ]),
            3600.0,
        );
        let m = run(&events, 300);
        assert_eq!(m.sla_elapsed_s, Some(2400.0));
        assert_eq!(m.sla_breached, Some(false));
        assert_eq!(m.sla_margin_s, Some(1200.0));
        assert_eq!(m.sla_breached_at, None);
        assert_eq!(m.sla_status, Some(SlaStatus::Succeeded));
    }

    #[test]
    fn a_breach_after_a_hold_happens_later_by_the_hold() {
        let events = with_target(
            case(&[
                (0, CaseCreated),
                (30, InfoRequested),
                (90, AgentInvestigated),
                (150, CaseResolved),
            ]),
            3600.0,
        );
        let m = run(&events, 300);
        assert_eq!(m.sla_elapsed_s, Some(5400.0));
        assert_eq!(m.sla_margin_s, Some(-1800.0));
        assert_eq!(m.sla_breached_at, Some(at(120)));
        assert_eq!(m.sla_status, Some(SlaStatus::Noncompliant));
    }

    #[test]
    fn a_breach_before_a_hold_is_not_moved_by_it() {
        let events = with_target(
            case(&[
                (0, CaseCreated),
                (30, InfoRequested),
                (90, AgentInvestigated),
                (100, CaseResolved),
            ]),
            1200.0,
        );
        let m = run(&events, 300);
        assert_eq!(m.sla_elapsed_s, Some(2400.0));
        assert_eq!(m.sla_breached_at, Some(at(20)));
    }

    #[test]
    fn a_clock_at_the_target_when_the_hold_starts_breaches_when_it_ends() {
        let events = with_target(
            case(&[
                (0, CaseCreated),
                (60, InfoRequested),
                (90, AgentInvestigated),
                (100, CaseResolved),
            ]),
            3600.0,
        );
        let m = run(&events, 300);
        assert_eq!(m.sla_elapsed_s, Some(4200.0));
        assert_eq!(m.sla_breached_at, Some(at(90)));
    }

    #[test]
    fn a_breach_is_final_after_a_later_resolution() {
        let events = with_target(case(&[(0, CaseCreated), (90, CaseResolved)]), 3600.0);
        let m = run(&events, 100);
        assert_eq!(m.state, Some(CaseState::Resolved));
        assert_eq!(m.sla_breached, Some(true));
        assert_eq!(m.sla_breached_at, Some(at(60)));
        assert_eq!(m.sla_margin_s, Some(-1800.0));
        assert_eq!(m.sla_status, Some(SlaStatus::Noncompliant));
    }

    #[test]
    fn an_open_case_goes_in_progress_nearing_then_noncompliant() {
        // Target 100 min: nearing from 75 min.
        let events = with_target(case(&[(0, CaseCreated)]), 6000.0);
        let m = run(&events, 50);
        assert_eq!(m.sla_status, Some(SlaStatus::InProgress));
        assert_eq!(
            (m.sla_elapsed_s, m.sla_margin_s),
            (Some(3000.0), Some(3000.0))
        );
        assert_eq!(m.next_change_at, Some(at(75)));

        let m = run(&events, 75);
        assert_eq!(m.sla_status, Some(SlaStatus::Nearing));
        assert_eq!(m.next_change_at, Some(at(100)));

        // Exactly at the target: not yet exceeded; it will be the next instant.
        let m = run(&events, 100);
        assert_eq!(m.sla_status, Some(SlaStatus::Nearing));
        assert_eq!(m.sla_breached, Some(false));
        assert_eq!(m.next_change_at, Some(at(100) + TimeDelta::nanoseconds(1)));

        let m = run(&events, 101);
        assert_eq!(m.sla_status, Some(SlaStatus::Noncompliant));
        assert_eq!(m.sla_breached_at, Some(at(100)));
        assert_eq!(m.next_change_at, None);
    }

    #[test]
    fn the_warning_share_and_the_timer_start_are_honoured() {
        let config = MetricsConfig {
            sla_warning_share: 0.5,
            ..MetricsConfig::default()
        };
        let events = with_target(case(&[(0, CaseCreated)]), 6000.0);
        assert_eq!(
            compute(&events, &[], &config, at(50)).sla_status,
            Some(SlaStatus::Nearing)
        );

        // S = the first timer start at 10; a second start does not restart the clock.
        let events = with_target(
            case(&[
                (0, CaseCreated),
                (10, SlaTimerStarted),
                (20, SlaTimerStarted),
            ]),
            6000.0,
        );
        let m = run(&events, 50);
        assert_eq!(m.sla_elapsed_s, Some(2400.0));
        assert_eq!(m.next_change_at, Some(at(85)));
    }

    #[test]
    fn fcr_goes_from_pending_to_true_exactly_at_maturity() {
        let events = case(&[(0, CaseCreated), (60, CaseResolved)]);
        let m = compute(
            &events,
            &[],
            &MetricsConfig::default(),
            at(MATURES) - TimeDelta::seconds(1),
        );
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::Pending));
        assert_eq!(m.fcr_no_repeat, Some(Fcr::Pending));
        assert_eq!(m.fcr_single_interaction, Some(Fcr::Pending));
        assert_eq!(m.next_change_at, Some(at(MATURES)));

        let m = run(&events, MATURES);
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::True));
        assert_eq!(m.fcr_no_repeat, Some(Fcr::True));
        assert_eq!(m.fcr_single_interaction, Some(Fcr::True));
        assert_eq!(m.next_change_at, None);

        let one_day = MetricsConfig {
            fcr_window_days: 1,
            ..MetricsConfig::default()
        };
        let m = compute(&events, &[], &one_day, at(60 + DAY));
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::True));
    }

    #[test]
    fn a_reactivation_counts_against_fcr_up_to_the_end_of_the_window() {
        let at_end = case(&[
            (0, CaseCreated),
            (60, CaseResolved),
            (MATURES, CaseReactivated),
        ]);
        let m = run(&at_end, MATURES + 10);
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::False));
        assert_eq!(m.fcr_single_interaction, Some(Fcr::False));

        let after = case(&[
            (0, CaseCreated),
            (60, CaseResolved),
            (MATURES + 1, CaseReactivated),
        ]);
        let m = run(&after, MATURES + 10);
        assert_eq!(m.state, Some(CaseState::Open));
        assert_eq!(m.fcr_no_reactivation, Some(Fcr::True));
        assert_eq!(m.fcr_single_interaction, Some(Fcr::True));
    }

    #[test]
    fn fcr_no_repeat_looks_at_creations_after_c_up_to_the_window_end() {
        let events = case(&[(0, CaseCreated), (60, CaseResolved)]);
        let config = MetricsConfig::default();
        let verdict = |creations: &[DateTime<Utc>], as_of: i64| {
            compute(&events, creations, &config, at(as_of)).fcr_no_repeat
        };
        // Before C and at C exactly: not a repeat.
        assert_eq!(verdict(&[at(-60), at(0)], MATURES), Some(Fcr::True));
        assert_eq!(verdict(&[at(-60)], 120), Some(Fcr::Pending));
        // Inside the window: false at once, before maturity.
        assert_eq!(verdict(&[at(60 + DAY)], 60 + 2 * DAY), Some(Fcr::False));
        assert_eq!(verdict(&[at(30)], 120), Some(Fcr::False));
        assert_eq!(verdict(&[at(MATURES)], MATURES), Some(Fcr::False));
        // After the window.
        assert_eq!(verdict(&[at(MATURES + 1)], MATURES + 1), Some(Fcr::True));

        // `repeats_matter` says exactly when the creations change anything at all.
        let open = case(&[(0, CaseCreated), (60, CaseAssigned)]);
        for (events, creations) in [
            (&events, vec![at(-60), at(0)]),
            (&events, vec![at(MATURES + 1)]),
            (&events, vec![at(30)]),
            (&events, vec![at(-60), at(MATURES)]),
            (&open, vec![at(30)]),
        ] {
            for as_of in [120, MATURES, MATURES + 10] {
                let without = compute(events, &[], &config, at(as_of));
                let with = compute(events, &creations, &config, at(as_of));
                assert_eq!(
                    repeats_matter(&without, &creations, &config),
                    with != without,
                    "{creations:?} at {as_of}"
                );
            }
        }
    }

    #[test]
    fn fcr_single_interaction_fails_on_each_condition() {
        let verdict = |events: Vec<CaseEvent>| run(&events, MATURES).fcr_single_interaction;
        let clean = case(&[(0, CaseCreated), (10, CaseAssigned), (60, CaseResolved)]);
        assert_eq!(verdict(clean.clone()), Some(Fcr::True));

        assert_eq!(
            verdict(case(&[
                (0, CaseCreated),
                (20, InfoRequested),
                (60, CaseResolved)
            ])),
            Some(Fcr::False)
        );
        assert_eq!(
            verdict(case(&[
                (0, CaseCreated),
                (10, CaseAssigned),
                (20, CaseAssigned),
                (60, CaseResolved)
            ])),
            Some(Fcr::False)
        );
        assert_eq!(
            verdict(case(&[
                (0, CaseCreated),
                (20, CaseEscalated),
                (60, CaseResolved)
            ])),
            Some(Fcr::False)
        );
        let mut flagged = clean.clone();
        flagged[1].is_escalated = Some(true);
        assert_eq!(verdict(flagged), Some(Fcr::False));
        let handed_off = vec![
            ev(1, 0, CaseCreated),
            by("alice", ev(2, 10, AgentInvestigated)),
            by("bob", ev(3, 60, CaseResolved)),
        ];
        assert_eq!(verdict(handed_off), Some(Fcr::False));

        // An escalation after the window does not undo a matured verdict.
        let mut late = clean;
        late.push(ev(9, MATURES + 1, CaseEscalated));
        let m = run(&late, MATURES + 1);
        assert_eq!(m.fcr_single_interaction, Some(Fcr::True));
        assert!(m.escalated);
    }

    #[test]
    fn handoffs_count_changes_of_owner_ignoring_system_and_missing_agents() {
        let agents = |names: &[Option<&str>]| -> Vec<CaseEvent> {
            names
                .iter()
                .zip(1..)
                .map(|(name, seq)| CaseEvent {
                    agent: name.map(Arc::from),
                    ..ev(seq, seq * 10, AgentInvestigated)
                })
                .collect()
        };
        let handoffs = |names: &[Option<&str>]| run(&agents(names), 1000).handoffs;
        let (a, b) = (Some("alice"), Some("bob"));
        assert_eq!(handoffs(&[a, a, b, Some(" system "), None, a]), 2);
        assert_eq!(handoffs(&[a, b, Some("SYSTEM"), b]), 1);
        assert_eq!(handoffs(&[a, a]), 0);
        assert_eq!(handoffs(&[None, Some("System")]), 0);
        assert_eq!(
            handoffs(&[a, Some("Sistema"), a]),
            0,
            "the Portuguese system agent"
        );
    }

    #[test]
    fn first_response_skips_system_and_non_facing_events() {
        let events = vec![
            ev(1, 0, CaseCreated),
            by("alice", ev(2, 5, AgentInvestigated)),
            by("System", ev(3, 10, InfoRequested)),
            by(" SYSTEM ", ev(4, 20, SolutionProposed)),
            ev(5, 30, CaseResolved),
        ];
        assert_eq!(run(&events, 60).first_response_s, Some(1800.0));
        assert_eq!(run(&events[..2], 60).first_response_s, None);
    }

    #[test]
    fn queue_waits_sum_from_entry_to_pickup() {
        let events = vec![
            ev(1, 0, CaseCreated),
            by("alice", ev(2, 10, QueueItemPicked)),
            ev(3, 20, CaseEscalated),
            ev(4, 25, CaseAssigned), // already queued: the clock keeps running
            by("bob", ev(5, 40, QueueItemPicked)),
            by("bob", ev(6, 50, CaseAssigned)), // to an owner: no queue
            by("System", ev(7, 60, CaseAssigned)),
            ev(8, 90, CaseResolved), // ends the wait without a pickup
            by("carol", ev(9, 100, QueueItemPicked)),
        ];
        let m = run(&events, 200);
        // 10 + 20 + 30 minutes.
        assert_eq!(m.queue_wait_s, Some(3600.0));
        assert_eq!(m.first_pickup_s, Some(600.0));
    }

    #[test]
    fn a_queue_wait_still_running_counts_to_as_of_and_none_without_a_queue() {
        assert_eq!(
            run(&case(&[(0, CaseCreated)]), 45).queue_wait_s,
            Some(2700.0)
        );

        let never_queued = case(&[
            (5, AgentInvestigated),
            (10, QueueItemPicked),
            (30, CaseResolved),
        ]);
        let m = run(&never_queued, 60);
        assert_eq!(m.queue_wait_s, None);
        // C is the first event without `case_created`.
        assert_eq!(m.created_at, Some(at(5)));
        assert_eq!(m.cycle_time_s, Some(1500.0));
        assert_eq!(m.first_pickup_s, Some(300.0));
        assert_eq!(m.on_hold_s, Some(0.0));
    }

    #[test]
    fn rework_is_a_reactivation_two_info_requests_or_a_repeated_activity() {
        let rework = |steps: &[(i64, Activity)]| run(&case(steps), 500).is_rework;
        assert!(!rework(&[
            (0, CaseCreated),
            (10, InfoRequested),
            (20, CaseResolved)
        ]));
        assert!(!rework(&[
            (0, CaseCreated),
            (1, CaseAssigned),
            (2, CaseAssigned),
            (3, CaseAssigned)
        ]));
        assert!(rework(&[
            (0, CaseCreated),
            (10, InfoRequested),
            (20, InfoRequested)
        ]));
        assert!(rework(&[
            (0, CaseCreated),
            (10, SurveySent),
            (20, SurveySent)
        ]));
        assert!(rework(&[
            (0, CaseCreated),
            (10, SlaTimerStarted),
            (20, SlaTimerStarted)
        ]));
        assert!(rework(&[
            (0, CaseCreated),
            (10, CaseResolved),
            (20, CaseResolved)
        ]));
        assert!(rework(&[(0, CaseCreated), (10, CaseReactivated)]));
        // Non-canonical activities have no role.
        let mut events = case(&[(0, CaseCreated)]);
        events.extend([other(2, 5, "Call"), other(3, 6, "Call")]);
        assert!(!run(&events, 10).is_rework);
    }

    #[test]
    fn escalation_recategorization_and_knowledge_use() {
        let m = run(
            &case(&[
                (0, CaseCreated),
                (10, CaseEscalated),
                (20, CategorizationChanged),
            ]),
            30,
        );
        assert!(m.escalated && m.recategorized && !m.kb_used);
        assert_eq!(m.kb_articles, 0);

        let article = |seq, id: &str| CaseEvent {
            knowledge_article_id: Some(id.into()),
            ..other(seq, seq, "Note")
        };
        let events = vec![
            ev(1, 0, CaseCreated),
            article(2, " KB-1"),
            article(3, "KB-1 "),
            article(4, ""),
            article(5, "KB-2"),
        ];
        let m = run(&events, 30);
        assert!(m.kb_used && !m.escalated && !m.recategorized);
        assert_eq!(m.kb_articles, 2);

        let m = run(&case(&[(0, CaseCreated), (10, AgentInvestigated)]), 30);
        assert!(m.kb_used);
        assert_eq!(m.kb_articles, 0);
    }

    #[test]
    fn csat_is_the_last_score_credited_to_the_owner_at_resolution() {
        let score = |seq, min, csat| CaseEvent {
            csat,
            ..other(seq, min, "Survey Answered")
        };
        let events = vec![
            ev(1, 0, CaseCreated),
            by("alice", ev(2, 10, AgentInvestigated)),
            by("bob", ev(3, 20, CaseResolved)),
            by("carol", ev(4, 30, CaseClosed)),
            score(5, 40, Some(2)),
            score(6, 50, Some(4)),
            score(7, 60, None),
        ];
        let m = run(&events, 100);
        assert_eq!((m.csat, m.csat_satisfied), (Some(4), Some(true)));
        assert_eq!(m.resolving_agent.as_deref(), Some("bob"));
        assert_eq!(m.agent.as_deref(), Some("carol"));

        let mut unhappy = events[..5].to_vec();
        unhappy[4].csat = Some(3);
        assert_eq!(run(&unhappy, 100).csat_satisfied, Some(false));
        assert_eq!(run(&events[..3], 100).csat, None);
        assert_eq!(run(&events[..3], 100).csat_satisfied, None);

        // Resolved by System: credited to the owner before it.
        let by_system = vec![
            ev(1, 0, CaseCreated),
            by("alice", ev(2, 10, AgentInvestigated)),
            by("System", ev(3, 20, CaseResolved)),
        ];
        assert_eq!(
            run(&by_system, 100).resolving_agent.as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn durations_keep_sub_second_precision() {
        let mut picked = ev(2, 0, QueueItemPicked);
        picked.event_time += TimeDelta::milliseconds(1500);
        let m = run(&[ev(1, 0, CaseCreated), picked], 1);
        assert_eq!(m.first_pickup_s, Some(1.5));
        assert_eq!(m.queue_wait_s, Some(1.5));
    }

    #[test]
    fn next_change_is_the_earliest_of_fcr_maturity_and_sla_instants() {
        // Resolved: only the FCR maturity.
        let resolved = with_target(case(&[(0, CaseCreated), (60, CaseResolved)]), 6000.0);
        assert_eq!(run(&resolved, 120).next_change_at, Some(at(MATURES)));
        // Reactivated with a long SLA: the FCR maturity comes first.
        let reopened = with_target(
            case(&[(0, CaseCreated), (60, CaseResolved), (61, CaseReactivated)]),
            30.0 * 86_400.0,
        );
        assert_eq!(run(&reopened, 120).next_change_at, Some(at(MATURES)));
        // Every variant decided (false): nothing left to wait for but the SLA.
        let decided = case(&[(0, CaseCreated), (60, CaseResolved), (61, CaseReactivated)]);
        let m = compute(&decided, &[at(100)], &MetricsConfig::default(), at(120));
        assert_eq!(m.next_change_at, None);
    }
}
