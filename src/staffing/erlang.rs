//! Contact-center staffing from expected contacts, average handling time (AHT) and a service-level
//! target ("80 % answered within 20 s"): Erlang C (M/M/N, callers wait forever) and Erlang A
//! (M/M/N+M, callers abandon after an exponential patience). Pure functions, no I/O.
//!
//! # Model and conventions
//!
//! - Offered traffic `A = calls * aht_s / interval_s` Erlangs; arrival rate `λ = calls /
//!   interval_s`, service rate `μ = 1 / aht_s`, abandonment rate `θ = 1 / patience_s`.
//! - Raw agents: the smallest `N` whose service level meets the target **and** whose occupancy is
//!   at most `max_occupancy` (occupancy is compared with a relative tolerance of 1e-12, so
//!   `A / N` equal to the maximum in decimal arithmetic, e.g. 85 Erlangs on 100 agents at 85 %,
//!   passes).
//! - Scheduled agents: `ceil(raw / (1 - shrinkage))`, where a quotient within 1e-9 (relative) of
//!   an integer counts as that integer: 21 raw agents at 30 % shrinkage are 30, not the 31 that
//!   `ceil(21.0 / 0.7)` (= `ceil(30.000000000000004)`) gives in floating point.
//! - Per-N table: `N - 3 ..= N + 3` around the answer, clipped at 1 agent.
//! - Erlang C at `N <= A` (the queue grows without bound): probability of waiting 1, service
//!   level 0, occupancy 1 (every agent always busy) and an infinite average speed of answer:
//!   [`ErlangCMetrics`] holds `f64::INFINITY`, the serialised [`ErlangCRow`] holds `None` (JSON
//!   `null`) together with `overloaded: true`. Never NaN, never a panic.
//! - Erlang A is stable for every `N`, so all its numbers are finite. Its service level counts
//!   abandoners as misses: `P(answered within t)` over all arrivals. Its average speed of answer
//!   is the mean wait **of answered calls**; `average_wait_s` is the mean wait of all arrivals
//!   (answered or abandoned, `= P(abandon) * patience_s` by Little's law). Occupancy is the
//!   served load over `N`: `A * (1 - P(abandon)) / N`.
//! - Plans ([`plan_erlang_c`], [`plan_erlang_a`]): an interval with 0 calls needs 0 agents and
//!   is not an error (its AHT may then be 0, as forecasts have no AHT for empty intervals); it
//!   reports service level 1, probabilities, waits and occupancy 0 and an empty table. A single
//!   request ([`erlang_c`], [`erlang_a`]) needs `calls > 0`.
//!
//! # Numerics
//!
//! Erlang B by its recursion `B(0) = 1`, `B(n) = A B(n-1) / (n + A B(n-1))`, carried forward
//! (never factorials or powers), so sizing is O(N) in total and stable for the largest loads;
//! Erlang C as `C = N B / (N - A (1 - B))`, `SL = 1 - C exp(-(N - A) t / AHT)`,
//! `ASA = C AHT / (N - A)`.
//!
//! Erlang A is the exact birth-death chain (death rate `min(n, N) μ + max(n - N, 0) θ`), summed
//! in log space relative to its largest queue state. Below `N` the chain's mass relative to
//! state `N` is `1/B(N) - 1 = N / (A B(N-1))` (Erlang B again, no cancellation). Above, with
//! `a = Nμ/θ` and `b = λ/θ`, state `N + k` has relative weight `q_k = Π_{i=1..k} b / (a + i)`.
//! A caller who arrives to `k` callers waiting is answered with probability `a / (a + k + 1)`
//! after a mean wait of `Σ_{j=0..k} 1 / (θ (a + j + 1))` if answered; their virtual wait has
//! density `θ e^{-aθv} (1 - e^{-θv})^k / Beta(a, k + 1)`, so mixing over `k` gives the callers
//! answered later than `t` as the same series reweighted term by term:
//! `Σ_k q_k a / (a + k + 1) · exp(b (1 - e^{-θt}) - θt (a + k + 1))`, which is the incomplete
//! gamma form of Mandelbaum and Zeltyn (`a e^b b^{-a-1} γ(a + 1, b e^{-θt})`) without any gamma
//! function. Answered within t is the answered total minus that; when more than half of the
//! answered waiting callers wait longer than t (deep overload, short answer times) the
//! difference would lose digits, so it is summed directly as a positive series instead (the
//! number of service stages done by t is negative binomial; see `answered_within`). Both agree
//! to 1e-11 where both are accurate, and the fixtures hold to 1e-12 relative.
//! Terms are summed until the geometric tail bound is below 1e-17 of the total, so
//! thousands of Erlangs cost a few thousand terms per `N`. The search starts from the Erlang C
//! answer and brackets the Erlang A answer by galloping then bisection (both service level and
//! occupancy are monotone in `N`), never below `A * target / max_occupancy` (the service level
//! is at most the answered share, at most `N / A`).
//!
//! # Limits (all 422-worthy [`StaffingError::TooLarge`])
//!
//! Traffic at most [`MAX_TRAFFIC_ERLANGS`]; at most [`MAX_AGENTS`] raw or scheduled agents;
//! durations at most [`MAX_DURATION_S`]; for Erlang A at most [`MAX_ARRIVALS_PER_PATIENCE`]
//! arrivals per mean patience (`calls / interval_s * patience_s`, which bounds the length of
//! the queue the sums have to cover). The field named: `calls` for the traffic, `max_occupancy`
//! when `A / max_occupancy` alone exceeds the agent limit, `target_service_level` when the
//! search passes it, `shrinkage` for scheduled agents, `patience_s` for arrivals per patience.
//!
//! Cost (release build, one core): Erlang C at 3,600 Erlangs about 25 µs, at 100,000 about
//! 1.3 ms; Erlang A at 3,600 Erlangs 0.25 to 0.7 ms; the worst case inside the limits (100,000
//! Erlangs, 1,000,000 arrivals per patience, an answer far below the load) about 0.5 s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most agents a request may need (raw or scheduled).
pub const MAX_AGENTS: u32 = 1_000_000;
/// Largest offered traffic accepted, in Erlangs.
pub const MAX_TRAFFIC_ERLANGS: f64 = 100_000.0;
/// Longest interval, AHT, answer time or patience accepted, in seconds (one day).
pub const MAX_DURATION_S: f64 = 86_400.0;
/// Erlang A: most arrivals per mean patience (`calls / interval_s * patience_s`).
pub const MAX_ARRIVALS_PER_PATIENCE: f64 = 1_000_000.0;
/// Table rows below the answer (clipped at 1 agent).
pub const TABLE_BELOW: u32 = 3;
/// Table rows above the answer.
pub const TABLE_ABOVE: u32 = 3;

/// A quotient `raw / (1 - shrinkage)` this close (relative) to an integer is that integer.
const SCHEDULE_TOLERANCE: f64 = 1e-9;
/// Occupancy may exceed the maximum by this much (relative): decimal ties pass.
const OCCUPANCY_TOLERANCE: f64 = 1e-12;
/// Series terms are summed until the tail is below this share of the total.
const SERIES_TOLERANCE: f64 = 1e-17;
/// A log-weight below this is zero in f64 (e^-700 ≈ 1e-304).
const LOG_NEGLIGIBLE: f64 = -700.0;
/// Safety net on series length; the validation limits keep real inputs far below it.
const MAX_SERIES_TERMS: u64 = 50_000_000;

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a staffing request cannot be sized. Every variant names the request field at fault (the
/// JSON field name, or the query parameter of the same name), so the HTTP layer can answer 422
/// with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaffingError {
    /// The value is not a finite number or lies outside its domain.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The request is valid but beyond the documented size limits.
    #[error("{field}: {message}")]
    TooLarge {
        field: &'static str,
        message: String,
    },
    /// In a plan: interval `index` (0-based) is invalid or too large.
    #[error("intervals[{index}]: {source}")]
    Interval {
        index: usize,
        source: Box<StaffingError>,
    },
}

impl StaffingError {
    /// The request field at fault (inside the interval for [`StaffingError::Interval`]).
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            StaffingError::Invalid { field, .. } | StaffingError::TooLarge { field, .. } => field,
            StaffingError::Interval { source, .. } => source.field(),
        }
    }

    /// For plans: the 0-based index of the interval at fault.
    #[must_use]
    pub fn interval(&self) -> Option<usize> {
        match self {
            StaffingError::Interval { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// What is wrong, without the field name.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            StaffingError::Invalid { message, .. } | StaffingError::TooLarge { message, .. } => {
                message
            }
            StaffingError::Interval { source, .. } => source.message(),
        }
    }

    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        StaffingError::Invalid {
            field,
            message: message.into(),
        }
    }

    fn too_large(field: &'static str, message: impl Into<String>) -> Self {
        StaffingError::TooLarge {
            field,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

fn default_max_occupancy() -> f64 {
    1.0
}

/// Size one interval with Erlang C (callers never abandon).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErlangCRequest {
    /// Contacts expected in the interval (a forecast, may be fractional); greater than 0.
    #[schema(example = 100.0)]
    pub calls: f64,
    /// Length of the interval in seconds, greater than 0 and at most 86,400.
    #[schema(example = 1800.0)]
    pub interval_s: f64,
    /// Average handling time in seconds, greater than 0 and at most 86,400.
    #[schema(example = 180.0)]
    pub aht_s: f64,
    /// Share of contacts to answer within `answer_time_s`, strictly between 0 and 1.
    #[schema(example = 0.8)]
    pub target_service_level: f64,
    /// The service level's answer time in seconds, 0 to 86,400 (0: answered without waiting).
    #[schema(example = 20.0)]
    pub answer_time_s: f64,
    /// Share of paid time agents are unavailable (breaks, training), in [0, 1); default 0.
    #[serde(default)]
    #[schema(example = 0.3)]
    pub shrinkage: f64,
    /// Highest acceptable occupancy (busy share of agents' available time), in (0, 1];
    /// default 1.
    #[serde(default = "default_max_occupancy")]
    #[schema(example = 0.85)]
    pub max_occupancy: f64,
}

/// Size one interval with Erlang A (callers abandon after an exponential patience).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErlangARequest {
    /// Contacts expected in the interval (a forecast, may be fractional); greater than 0.
    #[schema(example = 100.0)]
    pub calls: f64,
    /// Length of the interval in seconds, greater than 0 and at most 86,400.
    #[schema(example = 1800.0)]
    pub interval_s: f64,
    /// Average handling time in seconds, greater than 0 and at most 86,400.
    #[schema(example = 180.0)]
    pub aht_s: f64,
    /// Share of all contacts (abandoned ones count as missed) to answer within
    /// `answer_time_s`, strictly between 0 and 1.
    #[schema(example = 0.8)]
    pub target_service_level: f64,
    /// The service level's answer time in seconds, 0 to 86,400 (0: answered without waiting).
    #[schema(example = 20.0)]
    pub answer_time_s: f64,
    /// Share of paid time agents are unavailable (breaks, training), in [0, 1); default 0.
    #[serde(default)]
    #[schema(example = 0.3)]
    pub shrinkage: f64,
    /// Highest acceptable occupancy (busy share of agents' available time), in (0, 1];
    /// default 1.
    #[serde(default = "default_max_occupancy")]
    #[schema(example = 0.85)]
    pub max_occupancy: f64,
    /// Mean time callers wait before hanging up, in seconds, greater than 0 and at most 86,400;
    /// also `calls / interval_s * patience_s` at most 1,000,000.
    #[schema(example = 120.0)]
    pub patience_s: f64,
}

/// One interval of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInterval {
    /// Contacts expected in the interval, at least 0 (0 needs 0 agents).
    pub calls: f64,
    /// Average handling time in seconds: greater than 0, or 0 when `calls` is 0.
    pub aht_s: f64,
}

/// What every interval of a plan shares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanParameters {
    /// Length of each interval in seconds, greater than 0 and at most 86,400.
    #[schema(example = 1800.0)]
    pub interval_s: f64,
    /// Share of contacts to answer within `answer_time_s`, strictly between 0 and 1.
    #[schema(example = 0.8)]
    pub target_service_level: f64,
    /// The service level's answer time in seconds, 0 to 86,400.
    #[schema(example = 20.0)]
    pub answer_time_s: f64,
    /// Share of paid time agents are unavailable, in [0, 1); default 0.
    #[serde(default)]
    #[schema(example = 0.3)]
    pub shrinkage: f64,
    /// Highest acceptable occupancy, in (0, 1]; default 1.
    #[serde(default = "default_max_occupancy")]
    #[schema(example = 0.85)]
    pub max_occupancy: f64,
}

// ---------------------------------------------------------------------------------------------
// Results

/// Erlang C staffing of one interval.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErlangCResult {
    /// Offered traffic `calls * aht_s / interval_s`, in Erlangs.
    pub traffic_erlangs: f64,
    /// Agents on the phones: the fewest meeting the service level and the maximum occupancy.
    pub raw_agents: u32,
    /// Agents to schedule: `ceil(raw_agents / (1 - shrinkage))`.
    pub scheduled_agents: u32,
    /// Share of contacts answered within the answer time, with `raw_agents`.
    pub service_level: f64,
    /// Share of contacts that wait at all (Erlang C formula).
    pub probability_of_waiting: f64,
    /// Mean wait of all contacts in seconds (ASA). Always finite here: `raw_agents` exceeds
    /// the traffic.
    pub average_speed_of_answer_s: f64,
    /// Busy share of agents' time: `traffic_erlangs / raw_agents`.
    pub occupancy: f64,
    /// The same figures for `raw_agents - 3 ..= raw_agents + 3` agents (at least 1).
    pub table: Vec<ErlangCRow>,
}

/// Erlang C figures for one number of agents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ErlangCRow {
    /// Agents on the phones.
    pub agents: u32,
    /// Share of contacts answered within the answer time (0 when overloaded).
    pub service_level: f64,
    /// Share of contacts that wait (1 when overloaded).
    pub probability_of_waiting: f64,
    /// Mean wait in seconds (ASA); `null` when overloaded (the queue grows without bound).
    pub average_speed_of_answer_s: Option<f64>,
    /// Busy share of agents' time (1 when overloaded).
    pub occupancy: f64,
    /// `agents` is at most the traffic: the queue grows without bound.
    pub overloaded: bool,
    /// The service level and occupancy targets are both met.
    pub meets_target: bool,
}

/// Erlang A staffing of one interval.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErlangAResult {
    /// Offered traffic `calls * aht_s / interval_s`, in Erlangs.
    pub traffic_erlangs: f64,
    /// Agents on the phones: the fewest meeting the service level and the maximum occupancy.
    pub raw_agents: u32,
    /// Agents to schedule: `ceil(raw_agents / (1 - shrinkage))`.
    pub scheduled_agents: u32,
    /// Share of all contacts answered within the answer time; abandoned contacts count as
    /// missed.
    pub service_level: f64,
    /// Share of contacts that find every agent busy and queue (some of them abandon).
    pub probability_of_waiting: f64,
    /// Share of contacts that hang up before being answered.
    pub probability_of_abandonment: f64,
    /// Mean wait of answered contacts in seconds (ASA).
    pub average_speed_of_answer_s: f64,
    /// Mean wait of all contacts, answered or abandoned, in seconds.
    pub average_wait_s: f64,
    /// Busy share of agents' time: answered load over agents,
    /// `traffic_erlangs * (1 - probability_of_abandonment) / raw_agents`.
    pub occupancy: f64,
    /// The same figures for `raw_agents - 3 ..= raw_agents + 3` agents (at least 1).
    pub table: Vec<ErlangARow>,
}

/// Erlang A figures for one number of agents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ErlangARow {
    /// Agents on the phones.
    pub agents: u32,
    /// Share of all contacts answered within the answer time.
    pub service_level: f64,
    /// Share of contacts that queue.
    pub probability_of_waiting: f64,
    /// Share of contacts that abandon.
    pub probability_of_abandonment: f64,
    /// Mean wait of answered contacts in seconds (ASA).
    pub average_speed_of_answer_s: f64,
    /// Mean wait of all contacts in seconds.
    pub average_wait_s: f64,
    /// Busy share of agents' time.
    pub occupancy: f64,
    /// The service level and occupancy targets are both met.
    pub meets_target: bool,
}

/// Erlang C performance of `agents` agents; `average_speed_of_answer_s` is `f64::INFINITY` when
/// `agents <= traffic`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangCMetrics {
    pub agents: u32,
    pub service_level: f64,
    pub probability_of_waiting: f64,
    pub average_speed_of_answer_s: f64,
    pub occupancy: f64,
}

impl ErlangCMetrics {
    /// `agents <= traffic`: the queue grows without bound.
    #[must_use]
    pub fn overloaded(&self) -> bool {
        self.average_speed_of_answer_s.is_infinite()
    }
}

/// Erlang A performance of `agents` agents (all finite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangAMetrics {
    pub agents: u32,
    pub service_level: f64,
    pub probability_of_waiting: f64,
    pub probability_of_abandonment: f64,
    /// Mean wait of answered contacts.
    pub average_speed_of_answer_s: f64,
    /// Mean wait of all contacts.
    pub average_wait_s: f64,
    pub occupancy: f64,
}

// ---------------------------------------------------------------------------------------------
// Validation

struct Checker(Vec<StaffingError>);

impl Checker {
    fn finite(&mut self, field: &'static str, v: f64) -> bool {
        if v.is_finite() {
            true
        } else {
            self.0
                .push(StaffingError::invalid(field, "must be a finite number"));
            false
        }
    }

    /// `0 < v <= max`.
    fn positive(&mut self, field: &'static str, v: f64, max: Option<f64>) {
        if !self.finite(field, v) {
        } else if v <= 0.0 {
            self.0
                .push(StaffingError::invalid(field, "must be greater than 0"));
        } else if let Some(max) = max.filter(|&m| v > m) {
            self.0.push(StaffingError::too_large(
                field,
                format!("must be at most {max}"),
            ));
        }
    }

    /// `0 <= v <= max`.
    fn non_negative(&mut self, field: &'static str, v: f64, max: f64) {
        if !self.finite(field, v) {
        } else if v < 0.0 {
            self.0
                .push(StaffingError::invalid(field, "must not be negative"));
        } else if v > max {
            self.0.push(StaffingError::too_large(
                field,
                format!("must be at most {max}"),
            ));
        }
    }

    fn parameters(
        &mut self,
        interval_s: f64,
        target: f64,
        answer_time_s: f64,
        shrinkage: f64,
        max_occupancy: f64,
    ) {
        self.positive("interval_s", interval_s, Some(MAX_DURATION_S));
        if self.finite("target_service_level", target) && !(target > 0.0 && target < 1.0) {
            self.0.push(StaffingError::invalid(
                "target_service_level",
                "must be strictly between 0 and 1",
            ));
        }
        self.non_negative("answer_time_s", answer_time_s, MAX_DURATION_S);
        if self.finite("shrinkage", shrinkage) && !(0.0..1.0).contains(&shrinkage) {
            self.0.push(StaffingError::invalid(
                "shrinkage",
                "must be at least 0 and less than 1",
            ));
        }
        if self.finite("max_occupancy", max_occupancy)
            && !(max_occupancy > 0.0 && max_occupancy <= 1.0)
        {
            self.0.push(StaffingError::invalid(
                "max_occupancy",
                "must be greater than 0 and at most 1",
            ));
        }
    }

    /// Limits on derived sizes, once every field is valid on its own.
    fn sizes(&mut self, calls: f64, interval_s: f64, aht_s: f64, max_occupancy: f64) {
        if !self.0.is_empty() {
            return;
        }
        let traffic = traffic(calls, interval_s, aht_s);
        if traffic > MAX_TRAFFIC_ERLANGS {
            self.0.push(StaffingError::too_large(
                "calls",
                format!(
                    "the offered traffic calls * aht_s / interval_s = {traffic} Erlangs exceeds \
                     the limit of {MAX_TRAFFIC_ERLANGS}"
                ),
            ));
        } else if traffic / max_occupancy > f64::from(MAX_AGENTS) {
            self.0.push(StaffingError::too_large(
                "max_occupancy",
                format!(
                    "{traffic} Erlangs at an occupancy of at most {max_occupancy} need more than \
                     {MAX_AGENTS} agents"
                ),
            ));
        }
    }
}

impl ErlangCRequest {
    /// Every problem with the request (empty when it can be sized, apart from an answer above
    /// [`MAX_AGENTS`], which only the sizing finds).
    #[must_use]
    pub fn validate(&self) -> Vec<StaffingError> {
        let mut c = Checker(Vec::new());
        c.positive("calls", self.calls, None);
        c.positive("aht_s", self.aht_s, Some(MAX_DURATION_S));
        c.parameters(
            self.interval_s,
            self.target_service_level,
            self.answer_time_s,
            self.shrinkage,
            self.max_occupancy,
        );
        c.sizes(self.calls, self.interval_s, self.aht_s, self.max_occupancy);
        c.0
    }
}

impl ErlangARequest {
    /// Every problem with the request (empty when it can be sized, apart from an answer above
    /// [`MAX_AGENTS`], which only the sizing finds).
    #[must_use]
    pub fn validate(&self) -> Vec<StaffingError> {
        let mut c = Checker(Vec::new());
        c.positive("calls", self.calls, None);
        c.positive("aht_s", self.aht_s, Some(MAX_DURATION_S));
        c.parameters(
            self.interval_s,
            self.target_service_level,
            self.answer_time_s,
            self.shrinkage,
            self.max_occupancy,
        );
        c.positive("patience_s", self.patience_s, Some(MAX_DURATION_S));
        c.sizes(self.calls, self.interval_s, self.aht_s, self.max_occupancy);
        if c.0.is_empty() {
            let arrivals = self.calls / self.interval_s * self.patience_s;
            if arrivals > MAX_ARRIVALS_PER_PATIENCE {
                c.0.push(StaffingError::too_large(
                    "patience_s",
                    format!(
                        "calls / interval_s * patience_s = {arrivals} arrivals per mean patience \
                         exceeds the limit of {MAX_ARRIVALS_PER_PATIENCE}"
                    ),
                ));
            }
        }
        c.0
    }
}

impl PlanParameters {
    /// Every problem with the shared parameters.
    #[must_use]
    pub fn validate(&self) -> Vec<StaffingError> {
        let mut c = Checker(Vec::new());
        c.parameters(
            self.interval_s,
            self.target_service_level,
            self.answer_time_s,
            self.shrinkage,
            self.max_occupancy,
        );
        c.0
    }

    fn erlang_c(&self, interval: &PlanInterval) -> ErlangCRequest {
        ErlangCRequest {
            calls: interval.calls,
            interval_s: self.interval_s,
            aht_s: interval.aht_s,
            target_service_level: self.target_service_level,
            answer_time_s: self.answer_time_s,
            shrinkage: self.shrinkage,
            max_occupancy: self.max_occupancy,
        }
    }
}

fn first_error(errors: Vec<StaffingError>) -> Result<(), StaffingError> {
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Erlang B, C and A at a given N

fn traffic(calls: f64, interval_s: f64, aht_s: f64) -> f64 {
    calls * aht_s / interval_s
}

/// Erlang B values `B(0), B(1), ...` for one traffic, extended on demand by the recursion.
struct ErlangB {
    traffic: f64,
    values: Vec<f64>,
}

impl ErlangB {
    fn new(traffic: f64) -> Self {
        ErlangB {
            traffic,
            values: vec![1.0],
        }
    }

    fn get(&mut self, n: u32) -> f64 {
        let n = n as usize;
        while self.values.len() <= n {
            let k = self.values.len() as f64;
            let ab = self.traffic * self.values[self.values.len() - 1];
            self.values.push(ab / (k + ab));
        }
        self.values[n]
    }

    /// `1/B(n) - 1 = n / (A B(n-1))`: the chain's mass below `n` relative to state `n`.
    /// Infinite when `B(n-1)` underflows (far more agents than traffic).
    fn below(&mut self, n: u32) -> f64 {
        f64::from(n) / (self.traffic * self.get(n - 1))
    }
}

/// Erlang B blocking probability of `agents` servers offered `traffic` Erlangs (O(agents)).
#[must_use]
pub fn erlang_b(traffic: f64, agents: u32) -> f64 {
    ErlangB::new(traffic).get(agents)
}

fn erlang_c_from_b(traffic: f64, aht_s: f64, answer_time_s: f64, n: u32, b: f64) -> ErlangCMetrics {
    let nf = f64::from(n);
    if nf <= traffic {
        return ErlangCMetrics {
            agents: n,
            service_level: 0.0,
            probability_of_waiting: 1.0,
            average_speed_of_answer_s: f64::INFINITY,
            occupancy: 1.0,
        };
    }
    let excess = nf - traffic;
    let c = (nf * b / (excess + traffic * b)).min(1.0);
    ErlangCMetrics {
        agents: n,
        service_level: (1.0 - c * (-excess * answer_time_s / aht_s).exp()).clamp(0.0, 1.0),
        probability_of_waiting: c,
        average_speed_of_answer_s: c * aht_s / excess,
        occupancy: traffic / nf,
    }
}

/// Erlang C performance of `agents` agents offered `traffic` Erlangs (O(agents)).
#[must_use]
pub fn erlang_c_metrics(
    traffic: f64,
    aht_s: f64,
    answer_time_s: f64,
    agents: u32,
) -> ErlangCMetrics {
    let b = erlang_b(traffic, agents);
    erlang_c_from_b(traffic, aht_s, answer_time_s, agents, b)
}

/// How [`erlang_a_from_below`] gets the waiting callers answered within t.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EarlyAnswers {
    /// The difference while at most half of the answered waiting callers are answered after t
    /// (it then loses at most one bit), else the positive series when it is short.
    Auto,
    /// Always the difference of the answered and late-answered series (tests).
    #[cfg(test)]
    Difference,
    /// Always the negative binomial series (tests).
    #[cfg(test)]
    Series,
}

/// Erlang A at `n` agents given `below = 1/B(n) - 1` (see module docs for the formulas).
fn erlang_a_from_below(
    traffic: f64,
    aht_s: f64,
    answer_time_s: f64,
    patience_s: f64,
    n: u32,
    below: f64,
) -> ErlangAMetrics {
    erlang_a_with(
        traffic,
        aht_s,
        answer_time_s,
        patience_s,
        n,
        below,
        EarlyAnswers::Auto,
    )
}

fn erlang_a_with(
    traffic: f64,
    aht_s: f64,
    answer_time_s: f64,
    patience_s: f64,
    n: u32,
    below: f64,
    early: EarlyAnswers,
) -> ErlangAMetrics {
    let nf = f64::from(n);
    if !below.is_finite() {
        // Nobody ever finds all agents busy (to f64 precision).
        return ErlangAMetrics {
            agents: n,
            service_level: 1.0,
            probability_of_waiting: 0.0,
            probability_of_abandonment: 0.0,
            average_speed_of_answer_s: 0.0,
            average_wait_s: 0.0,
            occupancy: traffic / nf,
        };
    }
    let r = patience_s / aht_s;
    let a = nf * r; // N μ / θ
    let b = traffic * r; // λ / θ
    let theta_t = answer_time_s / patience_s;
    let ln_a = a.ln();
    let ln_b = b.ln();
    // Late-answered reweighting: ln w_k = b (1 - e^{-θt}) - θt (a + k + 1).
    let by = -b * (-theta_t).exp_m1();
    let late_log = |k: f64, lr: f64| lr + ln_a - (a + k + 1.0).ln() + by - theta_t * (a + k + 1.0);

    // Largest queue state q_k (ratio b / (a + k) >= 1 up to k = b - a); weights are relative to it.
    let mode: u64 = if b - a >= 1.0 {
        (b - a).floor() as u64
    } else {
        0
    };

    // Pass 1: down from the mode to where both series are negligible (or to k = 0).
    let mut k = mode;
    let mut lr = 0.0_f64;
    // Late-answered terms fall going down once a + k + 1 < b e^{-θt}.
    let late_mode = b * (-theta_t).exp();
    while k > 0 {
        let kf = k as f64;
        let late_negligible =
            answer_time_s == 0.0 || (a + kf + 1.0 < late_mode && late_log(kf, lr) < LOG_NEGLIGIBLE);
        if lr < LOG_NEGLIGIBLE && late_negligible {
            break;
        }
        lr += (a + kf).ln() - ln_b; // q_{k-1} = q_k (a + k) / b
        k -= 1;
    }
    let (k_low, lr_low) = (k, lr);
    // Mass below N relative to the mode: below * q_0 / q_mode, zero if the walk stopped early.
    let below_rel = if k_low == 0 {
        below * lr_low.exp()
    } else {
        0.0
    };

    // H_{k-1} = Σ_{j<k} 1 / (a + j + 1): mean wait (in units of 1/θ) of an answered caller.
    let mut h = 0.0;
    for j in 0..k_low {
        h += 1.0 / (a + j as f64 + 1.0);
    }

    // Pass 2: up from k_low until the tail is negligible.
    let (mut s0, mut s1, mut s_ab, mut s_h, mut late) = (0.0, 0.0, 0.0, 0.0, 0.0);
    // q_k a / (a + k + 1) for k = k_low.., kept for `answered_within` when t > 0.
    let mut answered_terms = Vec::new();
    let mut lr = lr_low;
    let mut k = k_low;
    loop {
        let kf = k as f64;
        let den = a + kf + 1.0;
        let term = lr.exp();
        let answered = a / den;
        h += 1.0 / den;
        s0 += term;
        s1 += term * answered;
        s_ab += term * ((kf + 1.0) / den);
        s_h += term * answered * h;
        if answer_time_s > 0.0 {
            late += late_log(kf, lr).exp();
            answered_terms.push(term * answered);
        }
        lr += ln_b - den.ln(); // q_{k+1} = q_k b / (a + k + 1)
        k += 1;
        if k > mode {
            let ratio = b / (a + k as f64 + 1.0);
            if ratio < 1.0 {
                let tail = lr.exp() / (1.0 - ratio);
                let tail_h = tail * (h + 1.0 / ((1.0 - ratio) * (a + k as f64 + 1.0)));
                if tail <= SERIES_TOLERANCE * s0 && tail_h <= SERIES_TOLERANCE * s_h {
                    break;
                }
            }
        }
        if k - k_low > MAX_SERIES_TERMS {
            break;
        }
    }

    let z = below_rel + s0;
    let served = below_rel + s1;
    // Waiting callers answered within t: s1 - late loses digits when most answered callers
    // wait longer than t; then sum the positive series of `answered_within` instead.
    let use_difference = match early {
        EarlyAnswers::Auto => {
            late <= 0.5 * s1 || !series_is_short(a, theta_t, answered_terms.len())
        }
        #[cfg(test)]
        EarlyAnswers::Difference => true,
        #[cfg(test)]
        EarlyAnswers::Series => false,
    };
    let answered_early = if answer_time_s == 0.0 {
        0.0
    } else if use_difference {
        (s1 - late).max(0.0)
    } else {
        answered_within(a, theta_t, k_low, &answered_terms)
    };
    let p_abandon = (s_ab / z).clamp(0.0, 1.0);
    ErlangAMetrics {
        agents: n,
        service_level: ((below_rel + answered_early) / z).clamp(0.0, 1.0),
        probability_of_waiting: (s0 / z).clamp(0.0, 1.0),
        probability_of_abandonment: p_abandon,
        average_speed_of_answer_s: s_h * patience_s / served,
        average_wait_s: p_abandon * patience_s,
        occupancy: (traffic * (served / z) / nf).min(1.0),
    }
}

/// Whether [`answered_within`] stays about as long as the queue series: the mean of its
/// negative binomial, `(a + 1)(e^{θt} - 1)`, within a few times the queue states summed.
fn series_is_short(a: f64, theta_t: f64, answered: usize) -> bool {
    (a + 1.0) * theta_t.exp_m1() <= 4.0 * answered as f64 + 1000.0
}

/// Weight of waiting callers answered within t, as a sum of positive terms.
///
/// A caller who arrives to `k` waiting is answered within t iff the stage count of a pure death
/// process with rates `θ (a + 1 + j)` reaches `k + 1` by t; that count is negative binomial,
/// `T_j = C(a + j, j) y^j (1 - y)^(a + 1)` with `y = 1 - e^{-θt}` (the regularised incomplete
/// beta `I_y(k + 1, a + 1)` as an upper tail). Summing over `k` first:
/// `Σ_{j >= 1} T_j C_{j-1}`, with `C_m = Σ_{k <= m} q_k a / (a + k + 1)` from `answered`
/// (`answered[i]` is state `k_low + i`; states below `k_low` are negligible).
fn answered_within(a: f64, theta_t: f64, k_low: u64, answered: &[f64]) -> f64 {
    let y = -(-theta_t).exp_m1();
    let ln_y = y.ln();
    // ln T_j, advanced to j = k_low + 1 (C_{j-1} is 0 below).
    let mut lt = -theta_t * (a + 1.0);
    let mut j: u64 = 0;
    let step = |lt: f64, j: u64| lt + ((a + j as f64) / j as f64).ln() + ln_y;
    while j <= k_low {
        j += 1;
        lt = step(lt, j);
    }
    let (mut cumulative, mut sum, mut next) = (0.0, 0.0, 0usize);
    loop {
        while next < answered.len() && k_low + (next as u64) < j {
            cumulative += answered[next];
            next += 1;
        }
        sum += lt.exp() * cumulative;
        j += 1;
        lt = step(lt, j);
        if next == answered.len() {
            // C is complete: stop once the negative binomial tail is negligible.
            let ratio = (a + j as f64 + 1.0) * y / (j as f64 + 1.0);
            if ratio < 1.0 && lt.exp() / (1.0 - ratio) * cumulative <= SERIES_TOLERANCE * sum {
                break;
            }
        }
        if j - k_low > MAX_SERIES_TERMS {
            break;
        }
    }
    sum
}

/// Erlang A performance of `agents` agents offered `traffic` Erlangs (O(agents) for Erlang B
/// plus the queue series). `agents` must be at least 1.
#[must_use]
pub fn erlang_a_metrics(
    traffic: f64,
    aht_s: f64,
    answer_time_s: f64,
    patience_s: f64,
    agents: u32,
) -> ErlangAMetrics {
    let agents = agents.max(1);
    let below = ErlangB::new(traffic).below(agents);
    erlang_a_from_below(traffic, aht_s, answer_time_s, patience_s, agents, below)
}

/// `ceil(raw_agents / (1 - shrinkage))`, where a quotient within 1e-9 (relative) of an integer
/// counts as that integer (21 at 30 % shrinkage is 30).
#[must_use]
pub fn scheduled_agents(raw_agents: u32, shrinkage: f64) -> u64 {
    if raw_agents == 0 {
        return 0;
    }
    let exact = f64::from(raw_agents) / (1.0 - shrinkage);
    let nearest = exact.round();
    let scheduled = if (exact - nearest).abs() <= SCHEDULE_TOLERANCE * nearest {
        nearest
    } else {
        exact.ceil()
    };
    (scheduled as u64).max(u64::from(raw_agents))
}

fn checked_scheduled(raw_agents: u32, shrinkage: f64) -> Result<u32, StaffingError> {
    let scheduled = scheduled_agents(raw_agents, shrinkage);
    u32::try_from(scheduled)
        .ok()
        .filter(|&s| s <= MAX_AGENTS)
        .ok_or_else(|| {
            StaffingError::too_large(
                "shrinkage",
                format!(
                    "{raw_agents} agents at {shrinkage} shrinkage mean scheduling {scheduled}, \
                     more than {MAX_AGENTS}"
                ),
            )
        })
}

fn too_many_agents() -> StaffingError {
    StaffingError::too_large(
        "target_service_level",
        format!("meeting the target would need more than {MAX_AGENTS} agents"),
    )
}

fn occupancy_ok(occupancy: f64, max_occupancy: f64) -> bool {
    occupancy <= max_occupancy * (1.0 + OCCUPANCY_TOLERANCE)
}

fn table_range(n: u32) -> std::ops::RangeInclusive<u32> {
    n.saturating_sub(TABLE_BELOW).max(1)..=n + TABLE_ABOVE
}

// ---------------------------------------------------------------------------------------------
// Sizing

/// Smallest N > A with SL >= target and A / N <= max occupancy, stepping up from floor(A) + 1
/// with the Erlang B recursion carried forward. `None` above `limit`.
fn erlang_c_search(
    eb: &mut ErlangB,
    aht_s: f64,
    answer_time_s: f64,
    target: f64,
    max_occupancy: f64,
    limit: u32,
) -> Option<u32> {
    let traffic = eb.traffic;
    let start = (traffic.floor() as u64 + 1).min(u64::from(limit) + 1) as u32;
    let mut n = start;
    let mut b = eb.get(n.min(limit));
    while n <= limit {
        let m = erlang_c_from_b(traffic, aht_s, answer_time_s, n, b);
        if m.service_level >= target && occupancy_ok(m.occupancy, max_occupancy) {
            return Some(n);
        }
        n += 1;
        b = eb.get(n.min(limit));
    }
    None
}

/// Erlang C staffing of one interval.
///
/// # Errors
/// [`StaffingError`] naming the first invalid field (see [`ErlangCRequest::validate`]), or
/// `TooLarge` when more than [`MAX_AGENTS`] agents would be needed.
pub fn erlang_c(req: &ErlangCRequest) -> Result<ErlangCResult, StaffingError> {
    first_error(req.validate())?;
    let traffic = traffic(req.calls, req.interval_s, req.aht_s);
    let mut eb = ErlangB::new(traffic);
    let raw = erlang_c_search(
        &mut eb,
        req.aht_s,
        req.answer_time_s,
        req.target_service_level,
        req.max_occupancy,
        MAX_AGENTS,
    )
    .ok_or_else(too_many_agents)?;
    let scheduled = checked_scheduled(raw, req.shrinkage)?;
    let table = table_range(raw)
        .map(|n| {
            let m = erlang_c_from_b(traffic, req.aht_s, req.answer_time_s, n, eb.get(n));
            ErlangCRow {
                agents: n,
                service_level: m.service_level,
                probability_of_waiting: m.probability_of_waiting,
                average_speed_of_answer_s: (!m.overloaded()).then_some(m.average_speed_of_answer_s),
                occupancy: m.occupancy,
                overloaded: m.overloaded(),
                meets_target: m.service_level >= req.target_service_level
                    && occupancy_ok(m.occupancy, req.max_occupancy),
            }
        })
        .collect();
    let m = erlang_c_from_b(traffic, req.aht_s, req.answer_time_s, raw, eb.get(raw));
    Ok(ErlangCResult {
        traffic_erlangs: traffic,
        raw_agents: raw,
        scheduled_agents: scheduled,
        service_level: m.service_level,
        probability_of_waiting: m.probability_of_waiting,
        average_speed_of_answer_s: m.average_speed_of_answer_s,
        occupancy: m.occupancy,
        table,
    })
}

/// Erlang A staffing of one interval.
///
/// # Errors
/// [`StaffingError`] naming the first invalid field (see [`ErlangARequest::validate`]), or
/// `TooLarge` when more than [`MAX_AGENTS`] agents would be needed.
pub fn erlang_a(req: &ErlangARequest) -> Result<ErlangAResult, StaffingError> {
    first_error(req.validate())?;
    let traffic = traffic(req.calls, req.interval_s, req.aht_s);
    let target = req.target_service_level;
    let mut eb = ErlangB::new(traffic);
    let mut memo: BTreeMap<u32, ErlangAMetrics> = BTreeMap::new();
    let mut at = |n: u32, eb: &mut ErlangB| -> ErlangAMetrics {
        *memo.entry(n).or_insert_with(|| {
            let below = eb.below(n);
            erlang_a_from_below(
                traffic,
                req.aht_s,
                req.answer_time_s,
                req.patience_s,
                n,
                below,
            )
        })
    };
    let feasible = |m: &ErlangAMetrics| {
        m.service_level >= target && occupancy_ok(m.occupancy, req.max_occupancy)
    };

    // SL <= answered share <= N / A, and occupancy >= A * SL / N: no N below this can do.
    let floor = ((traffic * target / req.max_occupancy).floor() as u32).clamp(1, MAX_AGENTS);
    let guess = erlang_c_search(
        &mut eb,
        req.aht_s,
        req.answer_time_s,
        target,
        req.max_occupancy,
        MAX_AGENTS,
    )
    .unwrap_or(MAX_AGENTS)
    .max(floor);

    // Bracket: lo infeasible (or below the floor), hi feasible; then bisect.
    let (mut lo, mut hi);
    if feasible(&at(guess, &mut eb)) {
        hi = guess;
        lo = floor - 1;
        let mut step = 1;
        while hi > floor {
            let c = hi.saturating_sub(step).max(floor);
            if feasible(&at(c, &mut eb)) {
                hi = c;
                step = step.saturating_mul(2);
            } else {
                lo = c;
                break;
            }
        }
    } else {
        lo = guess;
        let mut step = 1u32;
        loop {
            if lo == MAX_AGENTS {
                return Err(too_many_agents());
            }
            let c = lo.saturating_add(step).min(MAX_AGENTS);
            if feasible(&at(c, &mut eb)) {
                hi = c;
                break;
            }
            lo = c;
            step = step.saturating_mul(2);
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if feasible(&at(mid, &mut eb)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let raw = hi;
    let scheduled = checked_scheduled(raw, req.shrinkage)?;
    let table = table_range(raw)
        .map(|n| {
            let m = at(n, &mut eb);
            ErlangARow {
                agents: n,
                service_level: m.service_level,
                probability_of_waiting: m.probability_of_waiting,
                probability_of_abandonment: m.probability_of_abandonment,
                average_speed_of_answer_s: m.average_speed_of_answer_s,
                average_wait_s: m.average_wait_s,
                occupancy: m.occupancy,
                meets_target: feasible(&m),
            }
        })
        .collect();
    let m = at(raw, &mut eb);
    Ok(ErlangAResult {
        traffic_erlangs: traffic,
        raw_agents: raw,
        scheduled_agents: scheduled,
        service_level: m.service_level,
        probability_of_waiting: m.probability_of_waiting,
        probability_of_abandonment: m.probability_of_abandonment,
        average_speed_of_answer_s: m.average_speed_of_answer_s,
        average_wait_s: m.average_wait_s,
        occupancy: m.occupancy,
        table,
    })
}

// ---------------------------------------------------------------------------------------------
// Plans

/// Checks one plan interval; `Ok(true)` when it has no calls (0 agents).
fn plan_interval_is_empty(interval: &PlanInterval) -> Result<bool, StaffingError> {
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

fn in_interval(index: usize) -> impl Fn(StaffingError) -> StaffingError {
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

#[cfg(test)]
mod tests {
    use super::*;

    const ERLANG_C_FIXTURES: &str = include_str!("../../tests/fixtures/staffing/erlang_c.json");
    const ERLANG_A_FIXTURES: &str = include_str!("../../tests/fixtures/staffing/erlang_a.json");
    const PLAN_FIXTURE: &str = include_str!("../../tests/fixtures/staffing/plan_day.json");

    /// Relative tolerance against the high-precision reference.
    const REL: f64 = 1e-12;

    #[derive(Deserialize)]
    struct Fixtures<R, E> {
        cases: Vec<Case<R, E>>,
    }

    #[derive(Deserialize)]
    struct Case<R, E> {
        name: String,
        request: R,
        expected: E,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ExpectedC {
        traffic_erlangs: f64,
        raw_agents: u32,
        scheduled_agents: u32,
        service_level: f64,
        probability_of_waiting: f64,
        average_speed_of_answer_s: f64,
        occupancy: f64,
        table: Vec<ExpectedRowC>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ExpectedRowC {
        agents: u32,
        service_level: f64,
        probability_of_waiting: f64,
        average_speed_of_answer_s: Option<f64>,
        occupancy: f64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ExpectedA {
        traffic_erlangs: f64,
        raw_agents: u32,
        scheduled_agents: u32,
        service_level: f64,
        probability_of_waiting: f64,
        probability_of_abandonment: f64,
        average_speed_of_answer_s: f64,
        average_wait_s: f64,
        occupancy: f64,
        table: Vec<ExpectedRowA>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ExpectedRowA {
        agents: u32,
        service_level: f64,
        probability_of_waiting: f64,
        probability_of_abandonment: f64,
        average_speed_of_answer_s: f64,
        average_wait_s: f64,
        occupancy: f64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PlanFixture {
        parameters: PlanParameters,
        patience_s: f64,
        intervals: Vec<PlanInterval>,
        erlang_c: Vec<ExpectedPlanRow>,
        erlang_a: Vec<ExpectedPlanRow>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ExpectedPlanRow {
        raw_agents: u32,
        scheduled_agents: u32,
        service_level: Option<f64>,
        probability_of_waiting: Option<f64>,
        average_speed_of_answer_s: Option<f64>,
        occupancy: Option<f64>,
        probability_of_abandonment: Option<f64>,
        average_wait_s: Option<f64>,
    }

    #[track_caller]
    fn close(what: &str, actual: f64, expected: f64) {
        let ok = if expected == 0.0 {
            actual == 0.0
        } else {
            (actual - expected).abs() <= REL * expected.abs()
        };
        assert!(
            ok,
            "{what}: got {actual:e}, want {expected:e} (rel {:e})",
            ((actual - expected) / expected).abs()
        );
    }

    fn request_c(calls: f64, aht_s: f64) -> ErlangCRequest {
        ErlangCRequest {
            calls,
            interval_s: 1800.0,
            aht_s,
            target_service_level: 0.8,
            answer_time_s: 20.0,
            shrinkage: 0.0,
            max_occupancy: 1.0,
        }
    }

    fn request_a(calls: f64, aht_s: f64, patience_s: f64) -> ErlangARequest {
        let c = request_c(calls, aht_s);
        ErlangARequest {
            calls: c.calls,
            interval_s: c.interval_s,
            aht_s: c.aht_s,
            target_service_level: c.target_service_level,
            answer_time_s: c.answer_time_s,
            shrinkage: c.shrinkage,
            max_occupancy: c.max_occupancy,
            patience_s,
        }
    }

    // ---- fixtures ----------------------------------------------------------------------------

    #[test]
    fn erlang_c_matches_the_exact_reference() {
        let fx: Fixtures<ErlangCRequest, ExpectedC> =
            serde_json::from_str(ERLANG_C_FIXTURES).unwrap();
        assert!(fx.cases.len() >= 30);
        for case in &fx.cases {
            let (e, name) = (&case.expected, &case.name);
            let got = erlang_c(&case.request).unwrap_or_else(|err| panic!("{name}: {err}"));
            close(
                &format!("{name}: traffic"),
                got.traffic_erlangs,
                e.traffic_erlangs,
            );
            assert_eq!(got.raw_agents, e.raw_agents, "{name}: raw agents");
            assert_eq!(
                got.scheduled_agents, e.scheduled_agents,
                "{name}: scheduled"
            );
            close(&format!("{name}: SL"), got.service_level, e.service_level);
            close(
                &format!("{name}: P(wait)"),
                got.probability_of_waiting,
                e.probability_of_waiting,
            );
            close(
                &format!("{name}: ASA"),
                got.average_speed_of_answer_s,
                e.average_speed_of_answer_s,
            );
            close(&format!("{name}: occupancy"), got.occupancy, e.occupancy);
            assert_eq!(got.table.len(), e.table.len(), "{name}: table rows");
            for (row, want) in got.table.iter().zip(&e.table) {
                let at = format!("{name}: N={}", want.agents);
                assert_eq!(row.agents, want.agents, "{at}");
                close(&format!("{at} SL"), row.service_level, want.service_level);
                close(
                    &format!("{at} P(wait)"),
                    row.probability_of_waiting,
                    want.probability_of_waiting,
                );
                close(&format!("{at} occupancy"), row.occupancy, want.occupancy);
                match (
                    row.average_speed_of_answer_s,
                    want.average_speed_of_answer_s,
                ) {
                    (Some(g), Some(w)) => close(&format!("{at} ASA"), g, w),
                    (None, None) => assert!(row.overloaded, "{at}"),
                    (g, w) => panic!("{at}: ASA {g:?}, want {w:?}"),
                }
                assert_eq!(
                    row.meets_target,
                    row.agents >= got.raw_agents,
                    "{at}: meets_target"
                );
            }
        }
    }

    #[test]
    fn erlang_a_matches_the_high_precision_reference() {
        let fx: Fixtures<ErlangARequest, ExpectedA> =
            serde_json::from_str(ERLANG_A_FIXTURES).unwrap();
        assert!(fx.cases.len() >= 30);
        for case in &fx.cases {
            let (e, name) = (&case.expected, &case.name);
            let got = erlang_a(&case.request).unwrap_or_else(|err| panic!("{name}: {err}"));
            close(
                &format!("{name}: traffic"),
                got.traffic_erlangs,
                e.traffic_erlangs,
            );
            assert_eq!(got.raw_agents, e.raw_agents, "{name}: raw agents");
            assert_eq!(
                got.scheduled_agents, e.scheduled_agents,
                "{name}: scheduled"
            );
            assert_eq!(got.table.len(), e.table.len(), "{name}: table rows");
            let rows = got.table.iter().zip(&e.table).map(|(g, w)| {
                assert_eq!(g.agents, w.agents, "{name}");
                (
                    format!("{name}: N={}", w.agents),
                    [
                        (g.service_level, w.service_level, "SL"),
                        (
                            g.probability_of_waiting,
                            w.probability_of_waiting,
                            "P(wait)",
                        ),
                        (
                            g.probability_of_abandonment,
                            w.probability_of_abandonment,
                            "P(abandon)",
                        ),
                        (
                            g.average_speed_of_answer_s,
                            w.average_speed_of_answer_s,
                            "ASA",
                        ),
                        (g.average_wait_s, w.average_wait_s, "mean wait"),
                        (g.occupancy, w.occupancy, "occupancy"),
                    ],
                )
            });
            let top = (
                format!("{name}: answer"),
                [
                    (got.service_level, e.service_level, "SL"),
                    (
                        got.probability_of_waiting,
                        e.probability_of_waiting,
                        "P(wait)",
                    ),
                    (
                        got.probability_of_abandonment,
                        e.probability_of_abandonment,
                        "P(abandon)",
                    ),
                    (
                        got.average_speed_of_answer_s,
                        e.average_speed_of_answer_s,
                        "ASA",
                    ),
                    (got.average_wait_s, e.average_wait_s, "mean wait"),
                    (got.occupancy, e.occupancy, "occupancy"),
                ],
            );
            for (at, values) in std::iter::once(top).chain(rows) {
                for (g, w, what) in values {
                    close(&format!("{at} {what}"), g, w);
                }
            }
            for row in &got.table {
                assert_eq!(
                    row.meets_target,
                    row.agents >= got.raw_agents,
                    "{name}: N={}",
                    row.agents
                );
            }
        }
    }

    #[test]
    fn a_day_plan_matches_the_reference() {
        let fx: PlanFixture = serde_json::from_str(PLAN_FIXTURE).unwrap();
        assert_eq!(fx.intervals.len(), 48);
        let c = plan_erlang_c(&fx.intervals, &fx.parameters).unwrap();
        let a = plan_erlang_a(&fx.intervals, &fx.parameters, fx.patience_s).unwrap();
        assert_eq!(c.len(), 48);
        assert_eq!(a.len(), 48);
        for (i, (got, want)) in c.iter().zip(&fx.erlang_c).enumerate() {
            assert_eq!(got.raw_agents, want.raw_agents, "C interval {i}");
            assert_eq!(
                got.scheduled_agents, want.scheduled_agents,
                "C interval {i}"
            );
            if let Some(sl) = want.service_level {
                close(&format!("C {i} SL"), got.service_level, sl);
                close(
                    &format!("C {i} P(wait)"),
                    got.probability_of_waiting,
                    want.probability_of_waiting.unwrap(),
                );
                close(
                    &format!("C {i} ASA"),
                    got.average_speed_of_answer_s,
                    want.average_speed_of_answer_s.unwrap(),
                );
                close(
                    &format!("C {i} occupancy"),
                    got.occupancy,
                    want.occupancy.unwrap(),
                );
            } else {
                assert_eq!(fx.intervals[i].calls, 0.0);
                assert_eq!((got.service_level, got.occupancy), (1.0, 0.0));
                assert!(got.table.is_empty());
            }
        }
        for (i, (got, want)) in a.iter().zip(&fx.erlang_a).enumerate() {
            assert_eq!(got.raw_agents, want.raw_agents, "A interval {i}");
            assert_eq!(
                got.scheduled_agents, want.scheduled_agents,
                "A interval {i}"
            );
            if let Some(sl) = want.service_level {
                close(&format!("A {i} SL"), got.service_level, sl);
                close(
                    &format!("A {i} P(ab)"),
                    got.probability_of_abandonment,
                    want.probability_of_abandonment.unwrap(),
                );
                close(
                    &format!("A {i} ASA"),
                    got.average_speed_of_answer_s,
                    want.average_speed_of_answer_s.unwrap(),
                );
                close(
                    &format!("A {i} wait"),
                    got.average_wait_s,
                    want.average_wait_s.unwrap(),
                );
                close(
                    &format!("A {i} occupancy"),
                    got.occupancy,
                    want.occupancy.unwrap(),
                );
            }
        }
    }

    // ---- rounding and edge cases -------------------------------------------------------------

    #[test]
    fn twenty_one_agents_at_thirty_percent_shrinkage_are_thirty() {
        // The float quotient is just above 30: a plain ceil would schedule 31.
        let shrinkage: f64 = std::hint::black_box(0.3);
        assert!(21.0 / (1.0 - shrinkage) > 30.0);
        assert_eq!((21.0 / (1.0 - shrinkage)).ceil(), 31.0);
        assert_eq!(scheduled_agents(21, 0.3), 30);
        assert_eq!(scheduled_agents(21, 0.0), 21);
        assert_eq!(scheduled_agents(7, 0.3), 10);
        assert_eq!(scheduled_agents(22, 0.3), 32); // 31.43 rounds up
        assert_eq!(scheduled_agents(0, 0.5), 0);
        assert_eq!(scheduled_agents(1, 0.999), 1000);
        assert_eq!(scheduled_agents(3, 0.35), 5); // 4.615...
        // End to end: the fixture has a case sized to exactly 21 raw agents.
        let fx: Fixtures<ErlangCRequest, ExpectedC> =
            serde_json::from_str(ERLANG_C_FIXTURES).unwrap();
        let case = fx
            .cases
            .iter()
            .find(|c| c.name.starts_with("21 raw agents"))
            .unwrap();
        let got = erlang_c(&case.request).unwrap();
        assert_eq!((got.raw_agents, got.scheduled_agents), (21, 30));
    }

    #[test]
    fn search_does_not_skip_the_agent_above_half_erlang_loads() {
        // 10.5 Erlangs: the first candidate is 11 (pyworkforce's round(11.5) = 12 skips it).
        let mut req = request_c(105.0, 180.0);
        req.answer_time_s = 600.0;
        let got = erlang_c(&req).unwrap();
        assert_eq!(got.traffic_erlangs, 10.5);
        assert_eq!(got.raw_agents, 11);
        assert_eq!(got.table.first().unwrap().agents, 8);
    }

    #[test]
    fn overloaded_erlang_c_is_infinite_wait_not_nan() {
        for (traffic, n) in [
            (10.0, 10),
            (10.5, 10),
            (10.0, 1),
            (3600.0, 3600),
            (1e5, 5),
            (0.5, 0),
        ] {
            let m = erlang_c_metrics(traffic, 180.0, 20.0, n);
            assert_eq!(m.probability_of_waiting, 1.0, "A={traffic} N={n}");
            assert_eq!(m.service_level, 0.0);
            assert_eq!(m.occupancy, 1.0);
            assert!(m.average_speed_of_answer_s.is_infinite() && m.overloaded());
        }
        // Just above the load: finite and close to the limit.
        let m = erlang_c_metrics(10.0, 180.0, 20.0, 11);
        assert!(m.average_speed_of_answer_s.is_finite() && !m.overloaded());
        // Table rows at or below the load come out as null ASA with the overloaded flag.
        let got = erlang_c(&request_c(20.0, 180.0)).unwrap(); // 2 Erlangs
        let row = got.table.iter().find(|r| r.agents == 2).unwrap();
        assert!(row.overloaded && row.average_speed_of_answer_s.is_none());
        assert_eq!((row.service_level, row.probability_of_waiting), (0.0, 1.0));
        let json = serde_json::to_value(row).unwrap();
        assert!(json["average_speed_of_answer_s"].is_null());
        assert_eq!(json["overloaded"], true);
    }

    #[test]
    fn far_more_agents_than_traffic_is_clean() {
        // B underflows to 0: no division by zero, no NaN.
        let c = erlang_c_metrics(1.5, 180.0, 20.0, 2000);
        assert_eq!((c.probability_of_waiting, c.service_level), (0.0, 1.0));
        let a = erlang_a_metrics(1.5, 180.0, 20.0, 60.0, 2000);
        assert_eq!((a.probability_of_waiting, a.service_level), (0.0, 1.0));
        assert!(a.average_speed_of_answer_s == 0.0 && a.occupancy > 0.0);
        // A tiny load needs one agent, and a tiny occupancy cap many.
        let mut req = request_c(1e-6, 180.0);
        assert_eq!(erlang_c(&req).unwrap().raw_agents, 1);
        req.calls = 15.0;
        req.max_occupancy = 0.001;
        assert_eq!(erlang_c(&req).unwrap().raw_agents, 1500);
        let mut req = request_a(1e-6, 180.0, 60.0);
        assert_eq!(erlang_a(&req).unwrap().raw_agents, 1);
        req.calls = 15.0;
        req.max_occupancy = 0.001;
        let got = erlang_a(&req).unwrap();
        assert!(
            (1499..=1500).contains(&got.raw_agents),
            "{}",
            got.raw_agents
        );
    }

    #[test]
    fn answer_time_zero_is_the_share_not_waiting() {
        let c = erlang_c_metrics(10.0, 180.0, 0.0, 12);
        assert_eq!(c.service_level, 1.0 - c.probability_of_waiting);
        let a = erlang_a_metrics(10.0, 180.0, 0.0, 60.0, 9);
        assert!((a.service_level - (1.0 - a.probability_of_waiting)).abs() < 1e-15);
    }

    // ---- properties --------------------------------------------------------------------------

    /// SplitMix64: a deterministic stream for the property loops.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Log-uniform in [lo, hi).
        fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
            (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp()
        }
    }

    /// `later` is no worse than `earlier` up to rounding (flat regions such as SL = 1 are equal).
    #[track_caller]
    fn not_above(what: &str, later: f64, earlier: f64) {
        assert!(
            later <= earlier + 1e-12 * earlier.abs().max(1e-300),
            "{what}: {later:e} > {earlier:e}"
        );
    }

    fn erlang_c_is_monotone(traffic: f64, aht: f64, t: f64, ns: impl Iterator<Item = u32>) {
        let mut eb = ErlangB::new(traffic);
        let mut prev: Option<ErlangCMetrics> = None;
        for n in ns {
            let m = erlang_c_from_b(traffic, aht, t, n, eb.get(n));
            for v in [m.service_level, m.probability_of_waiting, m.occupancy] {
                assert!((0.0..=1.0).contains(&v), "A={traffic} N={n}: {m:?}");
            }
            assert!(!m.average_speed_of_answer_s.is_nan());
            if let Some(p) = prev {
                let at = format!("C A={traffic} t/AHT={} N={n}", t / aht);
                not_above(&format!("{at} SL"), p.service_level, m.service_level);
                not_above(
                    &format!("{at} P(wait)"),
                    m.probability_of_waiting,
                    p.probability_of_waiting,
                );
                not_above(
                    &format!("{at} ASA"),
                    m.average_speed_of_answer_s,
                    p.average_speed_of_answer_s,
                );
                not_above(&format!("{at} occupancy"), m.occupancy, p.occupancy);
            }
            prev = Some(m);
        }
    }

    fn erlang_a_is_monotone(
        traffic: f64,
        aht: f64,
        t: f64,
        patience: f64,
        ns: impl Iterator<Item = u32>,
    ) {
        let mut eb = ErlangB::new(traffic);
        let mut prev: Option<ErlangAMetrics> = None;
        for n in ns {
            let m = erlang_a_from_below(traffic, aht, t, patience, n, eb.below(n));
            let at = format!("A A={traffic} t={t} patience={patience} aht={aht} N={n}");
            for v in [
                m.service_level,
                m.probability_of_waiting,
                m.probability_of_abandonment,
                m.occupancy,
            ] {
                assert!((0.0..=1.0).contains(&v), "{at}: {m:?}");
            }
            assert!(
                m.average_speed_of_answer_s.is_finite() && m.average_speed_of_answer_s >= 0.0,
                "{at}: {m:?}"
            );
            not_above(
                &format!("{at} P(ab) <= P(wait)"),
                m.probability_of_abandonment,
                m.probability_of_waiting,
            );
            not_above(
                &format!("{at} SL <= answered"),
                m.service_level,
                1.0 - m.probability_of_abandonment,
            );
            not_above(
                &format!("{at} SL <= N/A"),
                m.service_level,
                f64::from(n) / traffic,
            );
            if let Some(p) = prev {
                not_above(&format!("{at} SL"), p.service_level, m.service_level);
                not_above(
                    &format!("{at} P(wait)"),
                    m.probability_of_waiting,
                    p.probability_of_waiting,
                );
                not_above(
                    &format!("{at} P(ab)"),
                    m.probability_of_abandonment,
                    p.probability_of_abandonment,
                );
                not_above(
                    &format!("{at} ASA"),
                    m.average_speed_of_answer_s,
                    p.average_speed_of_answer_s,
                );
                not_above(&format!("{at} occupancy"), m.occupancy, p.occupancy);
            }
            prev = Some(m);
        }
    }

    fn span(traffic: f64, below: f64, above: f64) -> std::ops::RangeInclusive<u32> {
        let s = traffic.sqrt();
        let lo = (traffic - below * s - 3.0).max(1.0) as u32;
        let hi = (traffic + above * s + 5.0) as u32;
        lo..=hi
    }

    #[test]
    fn erlang_c_improves_with_every_agent_on_a_grid() {
        for traffic in [
            0.3, 1.0, 1.5, 2.7, 10.0, 10.5, 37.2, 100.0, 512.3, 1000.0, 3600.0, 20_000.0,
        ] {
            for t_over_aht in [0.0, 0.05, 0.11, 0.5, 2.0] {
                erlang_c_is_monotone(traffic, 180.0, 180.0 * t_over_aht, span(traffic, 0.0, 8.0));
            }
        }
    }

    #[test]
    fn erlang_a_improves_with_every_agent_on_a_grid() {
        for traffic in [0.3, 1.5, 2.7, 10.5, 37.2, 100.0, 512.3, 3600.0] {
            for patience_over_aht in [0.05, 0.3, 1.0, 4.0, 30.0] {
                for t_over_aht in [0.0, 0.11, 0.5, 3.0] {
                    erlang_a_is_monotone(
                        traffic,
                        180.0,
                        180.0 * t_over_aht,
                        180.0 * patience_over_aht,
                        span(traffic, 6.0, 8.0),
                    );
                }
            }
        }
    }

    #[test]
    fn random_loads_improve_with_every_agent() {
        let mut rng = SplitMix(0x5eed_0007);
        for _ in 0..300 {
            let traffic = rng.log_uniform(0.05, 5000.0);
            let aht = rng.log_uniform(10.0, 2000.0);
            let t = aht * rng.log_uniform(0.001, 5.0);
            let patience = aht * rng.log_uniform(0.01, 50.0);
            let n0 = (traffic * rng.log_uniform(0.3, 1.5)).max(1.0) as u32;
            erlang_c_is_monotone(traffic, aht, t, n0..=n0 + 6);
            erlang_a_is_monotone(traffic, aht, t, patience, n0..=n0 + 6);
        }
    }

    #[test]
    fn erlang_a_approaches_erlang_c_as_patience_grows() {
        for traffic in [1.5_f64, 10.5, 100.0, 1000.0, 3600.0] {
            let n0 = traffic.floor() as u32 + 1;
            for n in [n0, n0 + 2, n0 + (3.0 * traffic.sqrt()) as u32] {
                let c = erlang_c_metrics(traffic, 180.0, 20.0, n);
                let gaps: Vec<f64> = [1e6, 1e8, 1e10, 1e12, 1e14]
                    .into_iter()
                    .map(|patience| {
                        let a = erlang_a_metrics(traffic, 180.0, 20.0, patience, n);
                        assert!(a.probability_of_abandonment < 1e4 / patience);
                        (a.service_level - c.service_level)
                            .abs()
                            .max((a.probability_of_waiting - c.probability_of_waiting).abs())
                            .max(
                                (a.average_speed_of_answer_s / c.average_speed_of_answer_s - 1.0)
                                    .abs(),
                            )
                    })
                    .collect();
                // The gap shrinks like 1 / patience once patience dwarfs the waits.
                for w in gaps[2..].windows(2) {
                    assert!(w[1] <= w[0] * 0.03 + 1e-10, "A={traffic} N={n}: {gaps:?}");
                }
                let gap = gaps[4];
                assert!(gap < 1e-7, "A={traffic} N={n}: {gaps:?}");
            }
        }
        // And the sizing agrees with a day's patience (the longest accepted).
        for calls in [15.0, 105.0, 1000.0, 5000.0] {
            let a = erlang_a(&request_a(calls, 180.0, MAX_DURATION_S)).unwrap();
            let c = erlang_c(&request_c(calls, 180.0)).unwrap();
            assert_eq!(a.raw_agents, c.raw_agents, "calls={calls}");
        }
    }

    #[test]
    fn both_routes_to_the_answered_within_t_agree() {
        // Where the difference keeps its digits (late-answered share 5 % to 90 %), the positive
        // negative-binomial series must give the same service level.
        let mut compared = 0;
        let mut rng = SplitMix(0x000a_110c);
        for _ in 0..250 {
            let traffic = rng.log_uniform(0.2, 2000.0);
            let aht = rng.log_uniform(20.0, 1000.0);
            let t = aht * rng.log_uniform(0.002, 3.0);
            let patience = aht * rng.log_uniform(0.05, 30.0);
            let n = (traffic * rng.log_uniform(0.7, 1.3)).max(1.0) as u32;
            let below = ErlangB::new(traffic).below(n);
            let run = |how| erlang_a_with(traffic, aht, t, patience, n, below, how);
            let nb_mean = (f64::from(n) * patience / aht + 1.0) * (t / patience).exp_m1();
            if nb_mean > 1e5 {
                continue; // the series is only used where it is short
            }
            let (d, s) = (run(EarlyAnswers::Difference), run(EarlyAnswers::Series));
            let waiting_sl = d.service_level - (1.0 - d.probability_of_waiting);
            let served_share =
                1.0 - d.probability_of_abandonment - (1.0 - d.probability_of_waiting);
            if waiting_sl > 0.1 * served_share && waiting_sl < 0.95 * served_share {
                compared += 1;
                let rel = (d.service_level - s.service_level).abs() / d.service_level;
                assert!(
                    rel < 1e-11,
                    "A={traffic} N={n} t={t} patience={patience}: {d:?} vs {s:?}"
                );
            }
            assert_eq!(
                run(EarlyAnswers::Auto),
                erlang_a_from_below(traffic, aht, t, patience, n, below)
            );
        }
        assert!(compared > 50, "{compared}");
    }

    #[test]
    fn abandonment_lets_erlang_a_staff_below_the_load() {
        let mut req = request_a(100.0, 180.0, 60.0);
        req.target_service_level = 0.6;
        req.answer_time_s = 300.0;
        let got = erlang_a(&req).unwrap();
        assert!(
            f64::from(got.raw_agents) < got.traffic_erlangs,
            "{}",
            got.raw_agents
        );
        assert!(got.probability_of_abandonment > 0.0);
    }

    // ---- validation --------------------------------------------------------------------------

    #[test]
    fn validation_errors_name_their_fields() {
        let base = request_a(100.0, 180.0, 60.0);
        type Mutation = fn(&mut ErlangARequest);
        let cases: Vec<(&str, Mutation, bool)> = vec![
            ("calls", |r| r.calls = 0.0, false),
            ("calls", |r| r.calls = -3.0, false),
            ("calls", |r| r.calls = f64::NAN, false),
            ("calls", |r| r.calls = 2e8, true), // 20,000,000 Erlangs
            ("interval_s", |r| r.interval_s = 0.0, false),
            ("interval_s", |r| r.interval_s = 1e6, true),
            ("aht_s", |r| r.aht_s = -180.0, false),
            ("aht_s", |r| r.aht_s = f64::INFINITY, false),
            ("aht_s", |r| r.aht_s = 1e5, true),
            (
                "target_service_level",
                |r| r.target_service_level = 0.0,
                false,
            ),
            (
                "target_service_level",
                |r| r.target_service_level = 1.0,
                false,
            ),
            (
                "target_service_level",
                |r| r.target_service_level = 80.0,
                false,
            ),
            ("answer_time_s", |r| r.answer_time_s = -1.0, false),
            ("answer_time_s", |r| r.answer_time_s = 1e6, true),
            ("shrinkage", |r| r.shrinkage = -0.1, false),
            ("shrinkage", |r| r.shrinkage = 1.0, false),
            ("shrinkage", |r| r.shrinkage = 0.99999999, true), // ~1e9 scheduled
            ("max_occupancy", |r| r.max_occupancy = 0.0, false),
            ("max_occupancy", |r| r.max_occupancy = 1.2, false),
            ("max_occupancy", |r| r.max_occupancy = 1e-6, true), // 100 Erlangs / 1e-6
            ("patience_s", |r| r.patience_s = 0.0, false),
            ("patience_s", |r| r.patience_s = 1e5, true),
            (
                "patience_s",
                |r| {
                    r.calls = 1_000_000.0;
                    r.aht_s = 1.0;
                    r.patience_s = 3600.0;
                },
                true,
            ),
        ];
        for (field, mutate, too_large) in cases {
            let mut req = base;
            mutate(&mut req);
            let err = erlang_a(&req).expect_err(field);
            assert_eq!(err.field(), field, "{err}");
            assert_eq!(
                matches!(err, StaffingError::TooLarge { .. }),
                too_large,
                "{err}"
            );
            assert!(err.to_string().starts_with(field), "{err}");
            assert!(err.interval().is_none());
            if field != "patience_s" {
                let c = ErlangCRequest {
                    calls: req.calls,
                    interval_s: req.interval_s,
                    aht_s: req.aht_s,
                    target_service_level: req.target_service_level,
                    answer_time_s: req.answer_time_s,
                    shrinkage: req.shrinkage,
                    max_occupancy: req.max_occupancy,
                };
                assert_eq!(erlang_c(&c).expect_err(field).field(), field);
            }
        }
        // Every problem at once, for a 422 listing them all.
        let mut req = base;
        req.calls = -1.0;
        req.target_service_level = 2.0;
        req.shrinkage = 1.5;
        let fields: Vec<_> = req.validate().iter().map(StaffingError::field).collect();
        assert_eq!(fields, ["calls", "target_service_level", "shrinkage"]);
        assert!(base.validate().is_empty());
    }

    #[test]
    fn plans_allow_empty_intervals_and_name_the_bad_one() {
        let params = PlanParameters {
            interval_s: 1800.0,
            target_service_level: 0.8,
            answer_time_s: 20.0,
            shrinkage: 0.3,
            max_occupancy: 0.85,
        };
        let intervals = [
            PlanInterval {
                calls: 0.0,
                aht_s: 0.0,
            },
            PlanInterval {
                calls: 120.0,
                aht_s: 240.0,
            },
            PlanInterval {
                calls: 0.0,
                aht_s: 300.0,
            },
        ];
        let c = plan_erlang_c(&intervals, &params).unwrap();
        let a = plan_erlang_a(&intervals, &params, 90.0).unwrap();
        assert_eq!(
            c.iter().map(|r| r.raw_agents).collect::<Vec<_>>()[..],
            [0, c[1].raw_agents, 0]
        );
        assert_eq!((a[0].raw_agents, a[2].scheduled_agents), (0, 0));
        assert!(c[1].raw_agents > 16 && a[1].raw_agents <= c[1].raw_agents);
        assert_eq!(c[1], erlang_c(&params.erlang_c(&intervals[1])).unwrap());

        let mut bad = intervals;
        bad[2] = PlanInterval {
            calls: 10.0,
            aht_s: 0.0,
        };
        let err = plan_erlang_c(&bad, &params).unwrap_err();
        assert_eq!((err.interval(), err.field()), (Some(2), "aht_s"));
        assert_eq!(
            err.to_string(),
            "intervals[2]: aht_s: must be greater than 0"
        );
        bad[2] = PlanInterval {
            calls: -1.0,
            aht_s: 100.0,
        };
        let err = plan_erlang_a(&bad, &params, 60.0).unwrap_err();
        assert_eq!((err.interval(), err.field()), (Some(2), "calls"));
        let err = plan_erlang_a(&intervals, &params, -60.0).unwrap_err();
        assert_eq!((err.interval(), err.field()), (None, "patience_s"));
        let err = plan_erlang_c(
            &intervals,
            &PlanParameters {
                shrinkage: 1.0,
                ..params
            },
        )
        .unwrap_err();
        assert_eq!((err.interval(), err.field()), (None, "shrinkage"));
        assert!(plan_erlang_c(&[], &params).unwrap().is_empty());
    }

    // ---- serde and OpenAPI -------------------------------------------------------------------

    #[test]
    fn requests_reject_unknown_fields_and_default_the_optional_ones() {
        let req: ErlangCRequest = serde_json::from_str(
            r#"{"calls": 100, "interval_s": 1800, "aht_s": 180,
                "target_service_level": 0.8, "answer_time_s": 20}"#,
        )
        .unwrap();
        assert_eq!((req.shrinkage, req.max_occupancy), (0.0, 1.0));
        let err = serde_json::from_str::<ErlangCRequest>(
            r#"{"calls": 100, "interval_s": 1800, "aht_s": 180,
                "target_service_level": 0.8, "answer_time_s": 20, "agents": 3}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `agents`"), "{err}");
        let err = serde_json::from_str::<ErlangARequest>(
            r#"{"calls": 100, "interval_s": 1800, "aht_s": 180,
                "target_service_level": 0.8, "answer_time_s": 20}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("missing field `patience_s`"),
            "{err}"
        );
    }

    #[test]
    fn schemas_carry_the_field_docs() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(ErlangCRequest::schema()).unwrap();
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        let required = schema["required"].as_array().unwrap();
        assert!(required.contains(&"calls".into()) && !required.contains(&"shrinkage".into()));
        let result = serde_json::to_value(ErlangCRow::schema()).unwrap();
        let asa = &result["properties"]["average_speed_of_answer_s"];
        assert!(asa.to_string().contains("null"), "{asa}");
        assert!(asa["description"].as_str().unwrap().contains("overloaded"));
        let a = serde_json::to_value(ErlangAResult::schema()).unwrap();
        assert!(a["properties"]["probability_of_abandonment"]["description"].is_string());
    }

    // ---- timing (cargo test --release -- --ignored --nocapture timing) -----------------------

    #[test]
    #[ignore = "prints timings; run with --release --ignored --nocapture"]
    fn timing() {
        use std::hint::black_box;
        use std::time::Instant;
        fn time<T>(what: &str, reps: u32, mut f: impl FnMut() -> T) {
            black_box(f());
            let start = Instant::now();
            for _ in 0..reps {
                black_box(f());
            }
            println!("{what}: {:?} per run", start.elapsed() / reps);
        }
        let mut c = request_c(36_000.0, 180.0);
        time("Erlang C 3600 Erlangs 80/20", 200, || {
            erlang_c(black_box(&c)).unwrap()
        });
        c.calls = 1_000_000.0;
        time("Erlang C 100,000 Erlangs 80/20", 20, || {
            erlang_c(black_box(&c)).unwrap()
        });
        for patience in [30.0, 120.0, 600.0] {
            let a = request_a(36_000.0, 180.0, patience);
            time(
                &format!("Erlang A 3600 Erlangs 80/20 patience {patience} s"),
                50,
                || erlang_a(black_box(&a)).unwrap(),
            );
        }
        // Near the limits: 100,000 Erlangs, 1,000,000 arrivals per mean patience.
        let mut a = request_a(1_000_000.0, 180.0, 1800.0);
        time("Erlang A 100,000 Erlangs 80/20 patience 1800 s", 3, || {
            erlang_a(black_box(&a)).unwrap()
        });
        a.target_service_level = 0.05;
        a.answer_time_s = 3600.0;
        time(
            "Erlang A 100,000 Erlangs 5 % in 1 h, patience 1800 s (answer far below the load)",
            3,
            || erlang_a(black_box(&a)).unwrap(),
        );
        let fx: PlanFixture = serde_json::from_str(PLAN_FIXTURE).unwrap();
        time("plan Erlang C, 48 intervals (fixture day)", 100, || {
            plan_erlang_c(black_box(&fx.intervals), &fx.parameters).unwrap()
        });
        time("plan Erlang A, 48 intervals (fixture day)", 20, || {
            plan_erlang_a(black_box(&fx.intervals), &fx.parameters, fx.patience_s).unwrap()
        });
        let big: Vec<_> = (0..48)
            .map(|i| PlanInterval {
                calls: 36_000.0 * (0.5 + f64::from(i % 7) / 10.0),
                aht_s: 180.0,
            })
            .collect();
        time(
            "plan Erlang C, 48 intervals at 1800-4000 Erlangs",
            10,
            || plan_erlang_c(black_box(&big), &fx.parameters).unwrap(),
        );
        time(
            "plan Erlang A, 48 intervals at 1800-4000 Erlangs",
            5,
            || plan_erlang_a(black_box(&big), &fx.parameters, 120.0).unwrap(),
        );
    }
}
