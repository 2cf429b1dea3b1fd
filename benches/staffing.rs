//! Staffing speed: sizing 3,600 Erlangs at 80/20 (Erlang C and A) and a full day of 48
//! half-hour intervals. Run with `cargo bench --bench staffing`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use std::{hint::black_box, time::Instant};

use switchboard::staffing::erlang::{
    self, ErlangARequest, ErlangCRequest, PlanInterval, PlanParameters,
};

/// Median seconds of `runs` calls.
fn median(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn main() {
    // 3,600 Erlangs: 36,000 calls of 180 s in a half hour.
    let c = ErlangCRequest {
        calls: 36_000.0,
        interval_s: 1800.0,
        aht_s: 180.0,
        target_service_level: 0.8,
        answer_time_s: 20.0,
        shrinkage: 0.3,
        max_occupancy: 1.0,
    };
    let a = ErlangARequest {
        calls: c.calls,
        interval_s: c.interval_s,
        aht_s: c.aht_s,
        target_service_level: c.target_service_level,
        answer_time_s: c.answer_time_s,
        shrinkage: c.shrinkage,
        max_occupancy: c.max_occupancy,
        patience_s: 120.0,
    };
    let sized = erlang::erlang_c(&c).expect("sizes");
    let seconds = median(201, || {
        black_box(erlang::erlang_c(black_box(&c)).expect("sizes"));
    });
    println!(
        "Erlang C, 3,600 Erlangs at 80/20: {} raw / {} scheduled agents in {:.1} µs",
        sized.raw_agents,
        sized.scheduled_agents,
        seconds * 1e6
    );
    let sized = erlang::erlang_a(&a).expect("sizes");
    let seconds = median(51, || {
        black_box(erlang::erlang_a(black_box(&a)).expect("sizes"));
    });
    println!(
        "Erlang A, 3,600 Erlangs at 80/20, patience 120 s: {} raw agents in {:.1} µs",
        sized.raw_agents,
        seconds * 1e6
    );

    // A day of 48 half hours shaped like a contact center's (quiet nights, two peaks).
    let day: Vec<PlanInterval> = (0..48)
        .map(|i| {
            let hour = i as f64 / 2.0;
            let load =
                (-(hour - 10.5).powi(2) / 8.0).exp() + 0.8 * (-(hour - 15.0).powi(2) / 6.0).exp();
            PlanInterval {
                calls: (36_000.0 * load).round(),
                aht_s: 180.0,
            }
        })
        .collect();
    let params = PlanParameters {
        interval_s: 1800.0,
        target_service_level: 0.8,
        answer_time_s: 20.0,
        shrinkage: 0.3,
        max_occupancy: 0.9,
    };
    let seconds = median(51, || {
        black_box(erlang::plan_erlang_c(black_box(&day), &params).expect("sizes"));
    });
    println!(
        "Erlang C, a day of 48 intervals (peak 3,600 Erlangs): {:.2} ms",
        seconds * 1e3
    );
    let seconds = median(11, || {
        black_box(erlang::plan_erlang_a(black_box(&day), &params, 120.0).expect("sizes"));
    });
    println!(
        "Erlang A, the same day, patience 120 s: {:.2} ms",
        seconds * 1e3
    );
}
