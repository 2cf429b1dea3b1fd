//! Erlang C and A against published tables and fixtures, and the limits.

use serde::Deserialize;

use super::*;

const ERLANG_C_FIXTURES: &str = include_str!("../../../tests/fixtures/staffing/erlang_c.json");
const ERLANG_A_FIXTURES: &str = include_str!("../../../tests/fixtures/staffing/erlang_a.json");
const PLAN_FIXTURE: &str = include_str!("../../../tests/fixtures/staffing/plan_day.json");

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
    let fx: Fixtures<ErlangCRequest, ExpectedC> = serde_json::from_str(ERLANG_C_FIXTURES).unwrap();
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
    let fx: Fixtures<ErlangARequest, ExpectedA> = serde_json::from_str(ERLANG_A_FIXTURES).unwrap();
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
    let fx: Fixtures<ErlangCRequest, ExpectedC> = serde_json::from_str(ERLANG_C_FIXTURES).unwrap();
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
                            (a.average_speed_of_answer_s / c.average_speed_of_answer_s - 1.0).abs(),
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
        let served_share = 1.0 - d.probability_of_abandonment - (1.0 - d.probability_of_waiting);
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
