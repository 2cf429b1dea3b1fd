//! HTTP handlers of the staffing capability.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    erlang::{
        self, ErlangARequest, ErlangAResult, ErlangCRequest, ErlangCResult, PlanParameters,
        StaffingError,
    },
    store,
};
use crate::{
    auth::{AnyRole, Authorized, ViewerAccess},
    http::error::{ApiError, Json, Query},
    state::AppState,
    validation::FieldError,
};

type Problem = crate::http::error::Problem;

/// Most intervals one plan may cover.
const MAX_PLAN_INTERVALS: i64 = 10_000;

fn invalid(errors: Vec<StaffingError>) -> ApiError {
    let fields = errors
        .iter()
        .map(|e| match e.interval() {
            Some(index) => FieldError::new(format!("intervals/{index}/{}", e.field()), e.message()),
            None => FieldError::new(e.field(), e.message()),
        })
        .collect();
    ApiError::validation("the staffing request cannot be sized", fields)
}

/// Agents needed for one interval with Erlang C (M/M/N: callers wait, never abandon): raw and
/// scheduled (after shrinkage) agents, achieved service level, probability of waiting, average
/// speed of answer, occupancy, and the figures for N around the answer.
#[utoipa::path(post, path = "/v1/staffing/erlang-c", tag = "staffing",
    security(("api_key" = [])),
    request_body = ErlangCRequest,
    responses(
        (status = 200, description = "The requirement", body = ErlangCResult),
        (status = 422, description = "Invalid or absurd inputs, each field named", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_erlang_c(
    _auth: Authorized<AnyRole>,
    Json(request): Json<ErlangCRequest>,
) -> Result<Json<ErlangCResult>, ApiError> {
    let errors = request.validate();
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    erlang::erlang_c(&request)
        .map(Json)
        .map_err(|e| invalid(vec![e]))
}

/// Agents needed for one interval with Erlang A (M/M/N+M: callers abandon after an exponential
/// patience); abandoned contacts count as missed in the service level.
#[utoipa::path(post, path = "/v1/staffing/erlang-a", tag = "staffing",
    security(("api_key" = [])),
    request_body = ErlangARequest,
    responses(
        (status = 200, description = "The requirement", body = ErlangAResult),
        (status = 422, description = "Invalid or absurd inputs, each field named", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_erlang_a(
    _auth: Authorized<AnyRole>,
    Json(request): Json<ErlangARequest>,
) -> Result<Json<ErlangAResult>, ApiError> {
    let errors = request.validate();
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    erlang::erlang_a(&request)
        .map(Json)
        .map_err(|e| invalid(vec![e]))
}

/// Query of `GET /v1/staffing/plan`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlanParams {
    /// Start of the period (RFC 3339), included.
    pub from: DateTime<Utc>,
    /// End of the period, excluded.
    pub to: DateTime<Utc>,
    /// Interval length: `15m`, `30m` (default), `1h`, or seconds as `900s`.
    pub interval: Option<String>,
    /// IANA zone the interval starts are shown in (default UTC).
    pub tz: Option<String>,
    /// Service-level target as `share/seconds` (default `0.8/20s`).
    pub target: Option<String>,
    /// Share of paid time agents are unavailable, in [0, 1) (default 0).
    pub shrinkage: Option<f64>,
    /// Highest acceptable occupancy, in (0, 1] (default 1).
    pub max_occupancy: Option<f64>,
    /// Use this average handling time (seconds) instead of the observed proxy.
    pub aht_s: Option<f64>,
    pub channel: Option<String>,
    pub owner_team: Option<String>,
    pub request_type: Option<String>,
}

/// One interval of a plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanIntervalResponse {
    pub start: DateTime<Utc>,
    /// `start` in the requested zone.
    pub local_start: String,
    /// Cases created in the interval.
    pub observed_arrivals: i64,
    /// The handling time used: `aht_s` if given, else the interval's observed proxy, else the
    /// period's (null when the period has none).
    pub aht_s: Option<f64>,
    /// Cases of the interval with a handling-time observation.
    pub handled_cases: i64,
    /// The Erlang C requirement (null when no handling time is known, or when the interval
    /// cannot be sized: see `note`).
    pub requirement: Option<ErlangCResult>,
    /// Why `requirement` is null although a handling time is known (e.g. an observed handling
    /// time beyond the calculators' range); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A staffing plan for a past period.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanResponse {
    pub interval_s: f64,
    pub target_service_level: f64,
    pub answer_time_s: f64,
    /// How the handling time was obtained.
    pub aht_source: String,
    /// The period's mean handling-time proxy.
    pub period_aht_s: Option<f64>,
    pub intervals: Vec<PlanIntervalResponse>,
}

/// Per interval of a past period: observed arrivals (case creations, filterable by channel,
/// owner team and request type), observed handling time, and the Erlang C requirement.
/// The handling-time proxy is the time from an agent picking a case up to its first
/// customer-facing answer (`first_response_s - first_pickup_s`); pass `aht_s` to override.
#[utoipa::path(get, path = "/v1/staffing/plan", tag = "staffing",
    security(("api_key" = [])),
    params(PlanParams),
    responses(
        (status = 200, description = "The plan", body = PlanResponse),
        (status = 422, description = "Invalid period, interval, zone or target", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_plan(
    _auth: Authorized<ViewerAccess>,
    axum::extract::State(state): axum::extract::State<AppState>,
    Query(params): Query<PlanParams>,
) -> Result<Json<PlanResponse>, ApiError> {
    let mut errors = Vec::new();
    let interval_s = match parse_interval(params.interval.as_deref().unwrap_or("30m")) {
        Some(seconds) => seconds,
        None => {
            errors.push(FieldError::new(
                "interval",
                "expected e.g. 15m, 30m, 1h or 900s (60 s to 1 day)",
            ));
            1800
        }
    };
    let zone: Tz = match params.tz.as_deref().unwrap_or("UTC").parse() {
        Ok(zone) => zone,
        Err(_) => {
            errors.push(FieldError::new("tz", "is not an IANA time zone"));
            Tz::UTC
        }
    };
    let (target_service_level, answer_time_s) =
        match parse_target(params.target.as_deref().unwrap_or("0.8/20s")) {
            Some(target) => target,
            None => {
                errors.push(FieldError::new(
                    "target",
                    "expected share/seconds, e.g. 0.8/20s",
                ));
                (0.8, 20.0)
            }
        };
    // The last interval may be partial: the period [from, to) is covered whole, no more.
    let span = (params.to - params.from).num_seconds();
    let count = span.div_euclid(interval_s) + i64::from(span.rem_euclid(interval_s) != 0);
    if params.to <= params.from {
        errors.push(FieldError::new("to", "must be after from"));
    } else if count > MAX_PLAN_INTERVALS {
        errors.push(FieldError::new(
            "to",
            format!("the period holds more than {MAX_PLAN_INTERVALS} intervals"),
        ));
    }
    if let Some(aht) = params.aht_s {
        if !(aht.is_finite() && aht > 0.0) {
            errors.push(FieldError::new("aht_s", "must be greater than 0"));
        } else if aht > erlang::MAX_DURATION_S {
            errors.push(FieldError::new(
                "aht_s",
                format!("must be at most {}", erlang::MAX_DURATION_S),
            ));
        }
    }
    let parameters = PlanParameters {
        interval_s: interval_s as f64,
        target_service_level,
        answer_time_s,
        shrinkage: params.shrinkage.unwrap_or(0.0),
        max_occupancy: params.max_occupancy.unwrap_or(1.0),
    };
    errors.extend(
        parameters
            .validate()
            .iter()
            .map(|e| FieldError::new(e.field(), e.message())),
    );
    if !errors.is_empty() {
        return Err(ApiError::validation(
            "invalid staffing plan request",
            errors,
        ));
    }
    let intervals = count.max(1);
    let observed = store::observed_intervals(
        &state.db,
        params.from,
        params.to,
        interval_s as f64,
        params.channel.as_deref(),
        params.owner_team.as_deref(),
        params.request_type.as_deref(),
    )
    .await?;
    let period_aht =
        erlang::pooled_handling_time(observed.iter().map(|o| (o.handled, o.mean_handling_s)));
    let mut by_index = vec![None; intervals as usize];
    for o in observed {
        if let Some(slot) = usize::try_from(o.index)
            .ok()
            .and_then(|i| by_index.get_mut(i))
        {
            *slot = Some(o);
        }
    }
    let mut rows = Vec::with_capacity(by_index.len());
    for (index, observed) in by_index.into_iter().enumerate() {
        let start = params.from + Duration::seconds(index as i64 * interval_s);
        let arrivals = observed.as_ref().map_or(0, |o| o.arrivals);
        let handled_cases = observed.as_ref().map_or(0, |o| o.handled);
        let aht = erlang::plan_handling_time(
            params.aht_s,
            observed.as_ref().and_then(|o| o.mean_handling_s),
            period_aht,
        );
        // An interval that cannot be sized (an observed handling time of days, say) has no
        // requirement and says why; it does not fail the whole plan.
        let (requirement, note) = match aht {
            None => (None, None),
            Some(aht_s) => {
                match erlang::size_observed_interval(arrivals as f64, aht_s, &parameters) {
                    Ok(sized) => (sized, None),
                    Err(error) => (
                        None,
                        Some(format!(
                            "{} {} (send aht_s to size it with a handling time of your own)",
                            error.field(),
                            error.message()
                        )),
                    ),
                }
            }
        };
        rows.push(PlanIntervalResponse {
            start,
            local_start: start.with_timezone(&zone).to_rfc3339(),
            observed_arrivals: arrivals,
            aht_s: aht,
            handled_cases,
            requirement,
            note,
        });
    }
    Ok(Json(PlanResponse {
        interval_s: interval_s as f64,
        target_service_level,
        answer_time_s,
        aht_source: if params.aht_s.is_some() {
            "given".into()
        } else {
            "observed: first_response_s - first_pickup_s of the interval's cases (else of the period)".into()
        },
        period_aht_s: period_aht,
        intervals: rows,
    }))
}

/// `15m`, `1h`, `900s` → seconds (60 s to one day).
fn parse_interval(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let number: i64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => Some(number),
        "m" | "min" => number.checked_mul(60),
        "h" => number.checked_mul(3600),
        _ => None,
    }?;
    (60..=86_400).contains(&seconds).then_some(seconds)
}

/// `0.8/20s` (or `0.8/20`) → (0.8, 20.0).
fn parse_target(text: &str) -> Option<(f64, f64)> {
    let (share, seconds) = text.split_once('/')?;
    let share: f64 = share.trim().parse().ok()?;
    let seconds: f64 = seconds.trim().trim_end_matches('s').parse().ok()?;
    (share.is_finite() && seconds.is_finite()).then_some((share, seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_targets_parse() {
        assert_eq!(parse_interval("30m"), Some(1800));
        assert_eq!(parse_interval("1h"), Some(3600));
        assert_eq!(parse_interval("900s"), Some(900));
        assert_eq!(parse_interval("10s"), None);
        assert_eq!(parse_interval("m"), None);
        assert_eq!(parse_target("0.8/20s"), Some((0.8, 20.0)));
        assert_eq!(parse_target("0.9/15"), Some((0.9, 15.0)));
        assert_eq!(parse_target("80%"), None);
    }
}
