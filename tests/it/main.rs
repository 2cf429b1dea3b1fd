//! The integration tests, one binary: each module was a test crate of its own; together
//! they link once (LightGBM and every dependency) instead of once per file. `common` is the
//! shared kit: a fresh database per test and the real router.
//!
//! Run one module with `cargo test --test it kpis::`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

mod campaigns;
mod cases;
mod escalation;
mod foundation;
mod fuzz_importers;
mod hardening;
mod kpis;
mod native_evaluator;
mod replicas;
mod scoring;
mod scoring_runs;
mod sla;
mod staffing;
mod template;
mod ui;
mod xgboost;
