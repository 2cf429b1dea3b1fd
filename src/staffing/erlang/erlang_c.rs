//! Erlang B and C at a given N, and Erlang C sizing.

use super::*;

/// Erlang B values `B(0), B(1), ...` for one traffic, extended on demand by the recursion.
pub(super) struct ErlangB {
    traffic: f64,
    values: Vec<f64>,
}

impl ErlangB {
    pub(super) fn new(traffic: f64) -> Self {
        ErlangB {
            traffic,
            values: vec![1.0],
        }
    }

    pub(super) fn get(&mut self, n: u32) -> f64 {
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
    pub(super) fn below(&mut self, n: u32) -> f64 {
        f64::from(n) / (self.traffic * self.get(n - 1))
    }
}

/// Erlang B blocking probability of `agents` servers offered `traffic` Erlangs (O(agents)).
#[must_use]
pub fn erlang_b(traffic: f64, agents: u32) -> f64 {
    ErlangB::new(traffic).get(agents)
}

pub(super) fn erlang_c_from_b(
    traffic: f64,
    aht_s: f64,
    answer_time_s: f64,
    n: u32,
    b: f64,
) -> ErlangCMetrics {
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

// ---------------------------------------------------------------------------------------------
// Sizing

/// Smallest N > A with SL >= target and A / N <= max occupancy, stepping up from floor(A) + 1
/// with the Erlang B recursion carried forward. `None` above `limit`.
pub(super) fn erlang_c_search(
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
