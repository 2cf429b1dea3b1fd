//! Errors, request and result types, and their validation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;

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

    pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        StaffingError::Invalid {
            field,
            message: message.into(),
        }
    }

    pub(super) fn too_large(field: &'static str, message: impl Into<String>) -> Self {
        StaffingError::TooLarge {
            field,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

pub(super) fn default_max_occupancy() -> f64 {
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

pub(super) struct Checker(pub(super) Vec<StaffingError>);

impl Checker {
    pub(super) fn finite(&mut self, field: &'static str, v: f64) -> bool {
        if v.is_finite() {
            true
        } else {
            self.0
                .push(StaffingError::invalid(field, "must be a finite number"));
            false
        }
    }

    /// `0 < v <= max`.
    pub(super) fn positive(&mut self, field: &'static str, v: f64, max: Option<f64>) {
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
    pub(super) fn non_negative(&mut self, field: &'static str, v: f64, max: f64) {
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

    pub(super) fn parameters(
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
    pub(super) fn sizes(&mut self, calls: f64, interval_s: f64, aht_s: f64, max_occupancy: f64) {
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

    pub(super) fn erlang_c(&self, interval: &PlanInterval) -> ErlangCRequest {
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

pub(super) fn first_error(errors: Vec<StaffingError>) -> Result<(), StaffingError> {
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
