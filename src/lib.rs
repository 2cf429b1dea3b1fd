//! Switchboard: propensity scoring and contact-center case KPIs as one web service.
//!
//! Modules by capability (`auth`, later `scoring`, `cases`, `kpi`) on shared plumbing
//! (`config`, `db`, `http`, `state`, `telemetry`); `cli` is what the binary runs.

pub mod auth;
pub mod campaigns;
pub mod cases;
pub mod cli;
pub mod config;
pub mod db;
pub mod escalation;
pub mod http;
pub mod kpi;
mod random;
pub mod replica;
pub mod scoring;
pub mod sla;
pub mod staffing;
pub mod state;
pub mod telemetry;
pub mod validation;
