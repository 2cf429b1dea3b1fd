//! Erlang A at a given N (the exact birth-death chain) and Erlang A sizing.

use std::collections::BTreeMap;

use super::*;

/// How [`erlang_a_from_below`] gets the waiting callers answered within t.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EarlyAnswers {
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
pub(super) fn erlang_a_from_below(
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

pub(super) fn erlang_a_with(
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
pub(super) fn series_is_short(a: f64, theta_t: f64, answered: usize) -> bool {
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
pub(super) fn answered_within(a: f64, theta_t: f64, k_low: u64, answered: &[f64]) -> f64 {
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
