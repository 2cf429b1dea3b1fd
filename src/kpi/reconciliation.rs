//! Reconciliation: the template's derived columns as the source reported them
//! (`ServiceRequestCycleTime`, `IsSlaBreached`, `IsFirstContactResolution`, `IsRework`) against
//! Switchboard's own metrics, case by case, with the reason of each difference.
//!
//! The computed side follows the template's definitions where it gives one:
//! `ServiceRequestCycleTime` is the last resolution minus the first event, and `IsSlaBreached`
//! compares that cycle time with the target (calendar time, no pause). The template does not
//! define the two flags; they are compared with `fcr_single_interaction` and `is_rework`.
//! [`compare`] is a pure function of a case row.

use axum::{extract::State, response::Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{
    conditional::{Conditional, Freshness, Stop},
    handlers::validated,
    params::{FilterParams, OptionalPeriodParams, PageParams},
    store::{self, ReconciliationRow},
};
use crate::{
    auth::{Authorized, ViewerAccess},
    http::error::Query,
    state::AppState,
};

type Problem = crate::http::error::Problem;

/// A reported column and the metric it is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// `ServiceRequestCycleTime`.
    CycleTime,
    /// `IsSlaBreached`.
    SlaBreached,
    /// `IsFirstContactResolution`.
    FirstContactResolution,
    /// `IsRework`.
    Rework,
}

impl Check {
    pub const ALL: [Check; 4] = [
        Check::CycleTime,
        Check::SlaBreached,
        Check::FirstContactResolution,
        Check::Rework,
    ];

    /// The template's column.
    pub fn column(self) -> &'static str {
        match self {
            Check::CycleTime => "ServiceRequestCycleTime",
            Check::SlaBreached => "IsSlaBreached",
            Check::FirstContactResolution => "IsFirstContactResolution",
            Check::Rework => "IsRework",
        }
    }

    /// How the computed side is computed.
    pub fn computed_as(self) -> &'static str {
        match self {
            Check::CycleTime => {
                "the template's definition: last resolution minus first event, in seconds, for a case whose resolution is in force (a case reactivated and not resolved again has none); equal within 1 s"
            }
            Check::SlaBreached => {
                "the template's definition: that cycle time greater than the SLA target (SlaTargetResolutionTime), calendar time without pauses"
            }
            Check::FirstContactResolution => {
                "Switchboard's fcr_single_interaction: resolved with no information request, reassignment, escalation or reactivation up to FCR_WINDOW_DAYS after the first resolution (pending cases are not compared)"
            }
            Check::Rework => {
                "Switchboard's is_rework: reactivated, information requested twice or more, or any activity other than assignment repeated"
            }
        }
    }
}

/// How one case's reported value compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Neither side has a value.
    Neither,
    /// Only the source reported a value (e.g. a cycle time for a case still open here).
    ReportedOnly,
    /// Only Switchboard has a value (the source left the column empty).
    ComputedOnly,
    Agree,
    Differ {
        reported: Value,
        computed: Value,
        reason: String,
    },
}

/// Seconds within which two cycle times agree (sources round to the second).
const CYCLE_TOLERANCE_S: f64 = 1.0;

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

/// The template's cycle time: last resolution (in force) minus first event.
pub fn template_cycle_time_s(row: &ReconciliationRow) -> Option<f64> {
    row.resolved_at.map(|rn| seconds(row.first_event_at, rn))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= CYCLE_TOLERANCE_S
}

/// Compares a case's reported value of `check` with the computed one.
pub fn compare(row: &ReconciliationRow, check: Check) -> Outcome {
    match check {
        Check::CycleTime => compare_cycle_time(row),
        Check::SlaBreached => compare_sla(row),
        Check::FirstContactResolution => {
            let computed = match row.fcr_single_interaction.as_deref() {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            };
            compare_flags(
                row.reported_first_contact_resolution,
                computed,
                |reported| fcr_reason(row, reported),
            )
        }
        Check::Rework => compare_flags(row.reported_rework, Some(row.is_rework), |reported| {
            rework_reason(row, reported)
        }),
    }
}

fn compare_flags(
    reported: Option<bool>,
    computed: Option<bool>,
    reason: impl Fn(bool) -> String,
) -> Outcome {
    match (reported, computed) {
        (None, None) => Outcome::Neither,
        (Some(_), None) => Outcome::ReportedOnly,
        (None, Some(_)) => Outcome::ComputedOnly,
        (Some(r), Some(c)) if r == c => Outcome::Agree,
        (Some(r), Some(c)) => Outcome::Differ {
            reported: json!(r),
            computed: json!(c),
            reason: reason(r),
        },
    }
}

fn compare_cycle_time(row: &ReconciliationRow) -> Outcome {
    let computed = template_cycle_time_s(row);
    let (reported, computed) = match (row.reported_cycle_time_s, computed) {
        (None, None) => return Outcome::Neither,
        (Some(_), None) => return Outcome::ReportedOnly,
        (None, Some(_)) => return Outcome::ComputedOnly,
        (Some(r), Some(c)) if close(r, c) => return Outcome::Agree,
        (Some(r), Some(c)) => (r, c),
    };
    let first = row.first_event_at;
    let since_first = |t: Option<DateTime<Utc>>| t.map(|t| seconds(first, t));
    let rn = row.resolved_at.map_or_else(String::new, |t| t.to_rfc3339());
    let reason = if since_first(row.closed_at).is_some_and(|x| close(reported, x)) {
        format!(
            "reported cycle time counts to the close, computed counts to the last resolution ({rn})"
        )
    } else if close(reported, seconds(first, row.last_event_at)) {
        format!(
            "reported cycle time counts to the last event ({}), computed counts to the last resolution ({rn})",
            row.last_event_at.to_rfc3339()
        )
    } else if since_first(row.first_resolved_at).is_some_and(|r1| close(reported, r1)) {
        format!(
            "reported cycle time counts to the first resolution, computed counts to the last ({rn}): the case was reactivated and resolved again"
        )
    } else if row.created_at != first
        && row
            .resolved_at
            .is_some_and(|rn| close(reported, seconds(row.created_at, rn)))
    {
        "reported cycle time counts from the Case Created event, computed counts from the first event (which came earlier)".to_owned()
    } else {
        format!(
            "reported and computed cycle times are {:.0} s apart; no event of the case explains the reported value",
            reported - computed
        )
    };
    Outcome::Differ {
        reported: json!(reported),
        computed: json!(computed),
        reason,
    }
}

fn compare_sla(row: &ReconciliationRow) -> Outcome {
    let cycle = template_cycle_time_s(row);
    let computed = cycle.zip(row.sla_target_s).map(|(c, t)| c > t);
    match (row.reported_sla_breached, computed) {
        (None, None) => Outcome::Neither,
        (Some(_), None) => Outcome::ReportedOnly,
        (None, Some(_)) => Outcome::ComputedOnly,
        (Some(r), Some(c)) if r == c => Outcome::Agree,
        (Some(r), Some(c)) => {
            let (cycle, target) = (
                cycle.unwrap_or_default(),
                row.sla_target_s.unwrap_or_default(),
            );
            let follows_reported_cycle = row
                .reported_cycle_time_s
                .is_some_and(|rc| !close(rc, cycle) && (rc > target) == r);
            let reason = if follows_reported_cycle {
                format!(
                    "the reported flag follows the reported cycle time ({:.0} s, target {target:.0} s), which differs from the computed one ({cycle:.0} s)",
                    row.reported_cycle_time_s.unwrap_or_default()
                )
            } else if row.sla_breached == Some(r) {
                format!(
                    "reported matches Switchboard's SLA clock, which pauses while the case is on hold ({:.0} s counted); the template's definition compares the whole cycle time ({cycle:.0} s) with the target ({target:.0} s)",
                    row.sla_elapsed_s.unwrap_or_default()
                )
            } else {
                format!(
                    "cycle time {cycle:.0} s against target {target:.0} s is {}; the source reported {}",
                    if c { "a breach" } else { "no breach" },
                    if r { "a breach" } else { "no breach" }
                )
            };
            Outcome::Differ {
                reported: json!(r),
                computed: json!(c),
                reason,
            }
        }
    }
}

fn fcr_reason(row: &ReconciliationRow, reported: bool) -> String {
    if reported {
        let mut found = Vec::new();
        if row.reactivations > 0 {
            found.push(format!("was reactivated {} time(s)", row.reactivations));
        }
        if row.escalated {
            found.push("was escalated".to_owned());
        }
        if row.handoffs > 0 {
            found.push(format!("changed agent {} time(s)", row.handoffs));
        }
        if found.is_empty() {
            found.push(
                "had an information request to the customer or a second assignment".to_owned(),
            );
        }
        format!(
            "reported as resolved at first contact, but the case {}",
            found.join(", ")
        )
    } else {
        "reported as not resolved at first contact, but the case had no information request, reassignment, escalation or reactivation in the window after its first resolution".to_owned()
    }
}

fn rework_reason(row: &ReconciliationRow, reported: bool) -> String {
    if reported {
        "reported as rework, but the case has no reactivation, no second information request and no repeated activity".to_owned()
    } else if row.reactivations > 0 {
        format!(
            "reported as no rework, but the case was reactivated {} time(s)",
            row.reactivations
        )
    } else {
        "reported as no rework, but an activity repeats in the case (Switchboard counts a second information request, or any activity other than assignment occurring twice, as rework)".to_owned()
    }
}

/// Which check to list, and where to continue.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationParams {
    /// List the differences of this check only: cycle_time, sla_breached,
    /// first_contact_resolution or rework (counts are always given for all four).
    pub check: Option<Check>,
}

/// One case whose reported value differs from the computed one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Difference {
    pub case_id: String,
    /// As the source reported it (seconds or a boolean).
    #[schema(value_type = Object)]
    pub reported: Value,
    /// As Switchboard computes it.
    #[schema(value_type = Object)]
    pub computed: Value,
    /// What explains the difference.
    pub reason: String,
}

/// The reconciliation of one reported column.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckReport {
    pub check: Check,
    /// The template's column.
    pub column: &'static str,
    /// How the computed side is computed.
    pub computed_as: &'static str,
    /// Cases with both a reported and a computed value.
    pub compared: i64,
    pub agree: i64,
    pub differ: i64,
    /// Cases the source reported a value for that has none here (e.g. a cycle time for a case
    /// reopened since, a flag for a case whose FCR is still pending).
    pub reported_only: i64,
    /// Cases with a computed value that the source left empty.
    pub computed_only: i64,
    /// A page of differing cases, in case id order.
    pub differences: Vec<Difference>,
    /// Pass as `cursor` (with `check`) for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Reported against computed, per column.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationResponse {
    #[serde(flatten)]
    pub freshness: Freshness,
    /// Filtered cases with at least one reported column.
    pub cases: i64,
    pub checks: Vec<CheckReport>,
}

fn encode_cursor(case_id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(case_id)
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The template's derived columns as reported (`IsFirstContactResolution`, `IsRework`,
/// `IsSlaBreached`, `ServiceRequestCycleTime`, stored by imports) against Switchboard's own
/// metrics, for the cases created in the period and matching the filters: per column, how
/// many agree and differ, and a page of differing case ids with both values and the reason.
/// The computed cycle time and SLA breach follow the template's definitions (last resolution
/// minus first event; that cycle time against the target), as each check's `computed_as` says.
#[utoipa::path(get, path = "/v1/reconciliation", tag = "kpis",
    security(("api_key" = [])),
    params(OptionalPeriodParams, FilterParams, PageParams, ReconciliationParams),
    responses(
        (status = 200, description = "Agreement per reported column", body = ReconciliationResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter, check or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_reconciliation(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    conditional: Conditional,
    Query(period): Query<OptionalPeriodParams>,
    Query(filters): Query<FilterParams>,
    Query(page): Query<PageParams>,
    Query(options): Query<ReconciliationParams>,
) -> Result<Response, Stop> {
    let mut errors = Vec::new();
    let filter = period.filter(&filters, &mut errors);
    let (limit, after) = page.parse(decode_cursor, &mut errors);
    validated("invalid reconciliation query", errors, Some(()))?;
    let (freshness, reply) = conditional.check(&state.db).await?;
    let rows = store::reconciliation_rows(&state.db, &filter).await?;
    let checks = Check::ALL
        .into_iter()
        .filter(|check| options.check.is_none_or(|c| c == *check))
        .map(|check| report(&rows, check, after.as_deref(), limit))
        .collect();
    Ok(reply.json(ReconciliationResponse {
        freshness,
        cases: rows.len() as i64,
        checks,
    }))
}

/// Counts of one check over `rows` (in case id order) and its page of differences after
/// `after`.
pub fn report(
    rows: &[ReconciliationRow],
    check: Check,
    after: Option<&str>,
    limit: usize,
) -> CheckReport {
    let mut report = CheckReport {
        check,
        column: check.column(),
        computed_as: check.computed_as(),
        compared: 0,
        agree: 0,
        differ: 0,
        reported_only: 0,
        computed_only: 0,
        differences: Vec::new(),
        next_cursor: None,
    };
    let mut more = false;
    for row in rows {
        match compare(row, check) {
            Outcome::Neither => {}
            Outcome::ReportedOnly => report.reported_only += 1,
            Outcome::ComputedOnly => report.computed_only += 1,
            Outcome::Agree => {
                report.compared += 1;
                report.agree += 1;
            }
            Outcome::Differ {
                reported,
                computed,
                reason,
            } => {
                report.compared += 1;
                report.differ += 1;
                if after.is_some_and(|a| row.case_id.as_str() <= a) {
                    continue;
                }
                if report.differences.len() < limit {
                    report.differences.push(Difference {
                        case_id: row.case_id.clone(),
                        reported,
                        computed,
                        reason,
                    });
                } else {
                    more = true;
                }
            }
        }
    }
    if more {
        report.next_cursor = report.differences.last().map(|d| encode_cursor(&d.case_id));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_600_000, 0).unwrap() + TimeDelta::hours(hours)
    }

    fn resolved_case() -> ReconciliationRow {
        ReconciliationRow {
            case_id: "C1".into(),
            created_at: at(0),
            first_event_at: at(0),
            last_event_at: at(30),
            first_resolved_at: Some(at(5)),
            resolved_at: Some(at(5)),
            closed_at: Some(at(30)),
            sla_target_s: Some(8.0 * 3600.0),
            sla_elapsed_s: Some(3.0 * 3600.0),
            sla_breached: Some(false),
            fcr_single_interaction: Some("true".into()),
            ..Default::default()
        }
    }

    #[test]
    fn cycle_times_agree_within_a_second_and_explain_their_differences() {
        let mut row = resolved_case();
        row.reported_cycle_time_s = Some(5.0 * 3600.0 + 0.5);
        assert_eq!(compare(&row, Check::CycleTime), Outcome::Agree);
        row.reported_cycle_time_s = Some(30.0 * 3600.0);
        match compare(&row, Check::CycleTime) {
            Outcome::Differ { reason, .. } => assert!(reason.contains("close"), "{reason}"),
            other => panic!("{other:?}"),
        }
        row.closed_at = None;
        match compare(&row, Check::CycleTime) {
            Outcome::Differ { reason, .. } => {
                assert!(reason.contains("counts to the last event"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        row.resolved_at = None;
        assert_eq!(compare(&row, Check::CycleTime), Outcome::ReportedOnly);
    }

    #[test]
    fn the_sla_flag_uses_the_template_cycle_time_without_pauses() {
        let mut row = resolved_case();
        row.resolved_at = Some(at(10));
        row.reported_sla_breached = Some(false);
        // 10 h against 8 h: a breach by the template's definition, not by the pausing clock.
        match compare(&row, Check::SlaBreached) {
            Outcome::Differ {
                computed, reason, ..
            } => {
                assert_eq!(computed, json!(true));
                assert!(reason.contains("pauses"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pages_of_differences_continue_after_the_cursor() {
        let rows: Vec<ReconciliationRow> = (1..=5)
            .map(|i| ReconciliationRow {
                case_id: format!("C{i}"),
                is_rework: i % 2 == 0,
                reported_rework: Some(true),
                ..resolved_case()
            })
            .collect();
        let first = report(&rows, Check::Rework, None, 2);
        assert_eq!((first.agree, first.differ), (2, 3));
        let ids: Vec<_> = first
            .differences
            .iter()
            .map(|d| d.case_id.as_str())
            .collect();
        assert_eq!(ids, ["C1", "C3"]);
        let cursor = decode_cursor(first.next_cursor.as_deref().unwrap()).unwrap();
        let second = report(&rows, Check::Rework, Some(&cursor), 2);
        assert_eq!(second.differences[0].case_id, "C5");
        assert_eq!(second.next_cursor, None);
    }
}
