//! Cases and events: idempotent ingest, importers (JSON, CSV, XES) and per-case metrics.
//!
//! `activity` resolves activity names to canonical roles; `metrics` is the pure per-case
//! metrics function.

pub mod activity;
pub mod import;
pub mod ingest;
pub mod input;
pub mod metrics;
pub mod store;
