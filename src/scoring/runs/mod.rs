//! Batch scoring: a population file scored with the active model, every account's probability
//! and decile stored, the run's deciles recorded; outcomes uploaded later judge the model by its
//! lift table, ROC AUC and stability against another run.
//!
//! `input` reads population files, `latest` holds the newest run's scores for look-ups, `pipeline` runs a run end to end (CLI and API alike),
//! `outcomes` reads outcome files, `store` holds the SQL, `handlers` the HTTP endpoints and
//! `command` the CLI.

pub mod command;
pub mod handlers;
pub mod input;
pub mod latest;
pub mod outcomes;
pub mod pipeline;
pub mod store;
