//! Plans: many intervals sized with shared parameters.

use super::*;

/// Checks one plan interval; `Ok(true)` when it has no calls (0 agents).
pub(super) fn plan_interval_is_empty(interval: &PlanInterval) -> Result<bool, StaffingError> {
    let mut c = Checker(Vec::new());
    c.non_negative("calls", interval.calls, f64::MAX);
    if c.0.is_empty() && interval.calls == 0.0 {
        c.non_negative("aht_s", interval.aht_s, MAX_DURATION_S);
    } else {
        c.positive("aht_s", interval.aht_s, Some(MAX_DURATION_S));
    }
    first_error(c.0)?;
    Ok(interval.calls == 0.0)
}

pub(super) fn in_interval(index: usize) -> impl Fn(StaffingError) -> StaffingError {
    move |e| StaffingError::Interval {
        index,
        source: Box::new(e),
    }
}

/// Erlang C staffing of each interval (e.g. the 48 half-hours of a day) with shared parameters.
/// Intervals with 0 calls need 0 agents (see the module docs for their figures).
///
/// # Errors
/// The first invalid parameter, or [`StaffingError::Interval`] for the first interval that is
/// invalid or too large.
pub fn plan_erlang_c(
    intervals: &[PlanInterval],
    params: &PlanParameters,
) -> Result<Vec<ErlangCResult>, StaffingError> {
    first_error(params.validate())?;
    intervals
        .iter()
        .enumerate()
        .map(|(i, interval)| {
            if plan_interval_is_empty(interval).map_err(in_interval(i))? {
                return Ok(ErlangCResult {
                    traffic_erlangs: 0.0,
                    raw_agents: 0,
                    scheduled_agents: 0,
                    service_level: 1.0,
                    probability_of_waiting: 0.0,
                    average_speed_of_answer_s: 0.0,
                    occupancy: 0.0,
                    table: Vec::new(),
                });
            }
            erlang_c(&params.erlang_c(interval)).map_err(in_interval(i))
        })
        .collect()
}

/// Erlang A staffing of each interval with shared parameters and mean patience `patience_s`.
/// Intervals with 0 calls need 0 agents (see the module docs for their figures).
///
/// # Errors
/// The first invalid parameter (`patience_s` included), or [`StaffingError::Interval`] for the
/// first interval that is invalid or too large.
pub fn plan_erlang_a(
    intervals: &[PlanInterval],
    params: &PlanParameters,
    patience_s: f64,
) -> Result<Vec<ErlangAResult>, StaffingError> {
    let mut c = Checker(params.validate());
    c.positive("patience_s", patience_s, Some(MAX_DURATION_S));
    first_error(c.0)?;
    intervals
        .iter()
        .enumerate()
        .map(|(i, interval)| {
            if plan_interval_is_empty(interval).map_err(in_interval(i))? {
                return Ok(ErlangAResult {
                    traffic_erlangs: 0.0,
                    raw_agents: 0,
                    scheduled_agents: 0,
                    service_level: 1.0,
                    probability_of_waiting: 0.0,
                    probability_of_abandonment: 0.0,
                    average_speed_of_answer_s: 0.0,
                    average_wait_s: 0.0,
                    occupancy: 0.0,
                    table: Vec::new(),
                });
            }
            let c = params.erlang_c(interval);
            let req = ErlangARequest {
                calls: c.calls,
                interval_s: c.interval_s,
                aht_s: c.aht_s,
                target_service_level: c.target_service_level,
                answer_time_s: c.answer_time_s,
                shrinkage: c.shrinkage,
                max_occupancy: c.max_occupancy,
                patience_s,
            };
            erlang_a(&req).map_err(in_interval(i))
        })
        .collect()
}

/// The handling time an interval of a plan from observed arrivals is sized with: the caller's
/// own (`aht_s`), else the interval's observed mean, else the period's; an observed mean of 0
/// (cases picked up and resolved at once) is no observation.
#[must_use]
pub fn plan_handling_time(
    given: Option<f64>,
    interval_mean: Option<f64>,
    period_mean: Option<f64>,
) -> Option<f64> {
    given
        .or(interval_mean.filter(|m| *m > 0.0))
        .or(period_mean.filter(|m| *m > 0.0))
}

/// The period's mean handling time from its intervals' (cases handled, mean handling time):
/// the means weighted by their cases, over every handled case; None without handled cases.
#[must_use]
pub fn pooled_handling_time(
    intervals: impl Iterator<Item = (i64, Option<f64>)> + Clone,
) -> Option<f64> {
    let handled: i64 = intervals.clone().map(|(handled, _)| handled).sum();
    (handled > 0).then(|| {
        intervals
            .filter_map(|(handled, mean)| mean.map(|m| m * handled as f64))
            .sum::<f64>()
            / handled as f64
    })
}

/// Erlang C sizing of one interval of observed arrivals with the handling time `aht_s` (an
/// interval without arrivals needs no handling time).
///
/// # Errors
/// [`StaffingError::Interval`] when the interval cannot be sized (an observed handling time of
/// days, say); the caller reports it for that interval instead of failing the plan.
pub fn size_observed_interval(
    arrivals: f64,
    aht_s: f64,
    params: &PlanParameters,
) -> Result<Option<ErlangCResult>, StaffingError> {
    let interval = PlanInterval {
        calls: arrivals,
        aht_s: if arrivals == 0.0 { 0.0 } else { aht_s },
    };
    Ok(plan_erlang_c(&[interval], params)?.pop())
}
