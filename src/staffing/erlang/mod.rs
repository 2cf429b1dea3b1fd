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

mod erlang_a;
mod erlang_c;
mod plan;
mod request;
#[cfg(test)]
mod tests;

pub use erlang_a::*;
pub use erlang_c::*;
pub use plan::*;
pub use request::*;

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
// Shared by Erlang C and Erlang A

fn traffic(calls: f64, interval_s: f64, aht_s: f64) -> f64 {
    calls * aht_s / interval_s
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
