//! The newest succeeded run's scores held in memory, so the CRM's look-up of an account's latest
//! score is a hash probe instead of a database round trip (PostgreSQL alone answers about 20k of
//! those look-ups a second on 2 cores; the service needs its CPU for the rest).
//!
//! Only the newest run is held: an account it scored has its latest score there. An account it
//! did not score may have one in an older run, so a miss falls back to the database. Replicas
//! pick up a run finished elsewhere on their next refresh (`MODEL_REFRESH_S`); until then they
//! answer from the run before. Memory: about 60 bytes per account.

use std::collections::HashMap;

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::PgPool;

use super::store::LatestScore;

/// One run's scores by account id.
struct RunIndex {
    run_id: i64,
    model_id: i64,
    scored_at: DateTime<Utc>,
    scores: HashMap<Box<str>, (f64, i16)>,
}

/// The newest run's scores, swapped whole when a newer run is loaded.
#[derive(Default)]
pub struct LatestScores {
    current: ArcSwapOption<RunIndex>,
    /// Serialises loads, so two refreshes never load the same run twice at once.
    loading: tokio::sync::Mutex<()>,
}

impl LatestScores {
    pub fn new() -> Self {
        Self::default()
    }

    /// The account's score in the newest run, if that run scored it.
    pub fn get(&self, account_id: &str) -> Option<LatestScore> {
        let index = self.current.load();
        let index = index.as_ref()?;
        let &(probability, decile) = index.scores.get(account_id)?;
        Some(LatestScore {
            account_id: account_id.to_owned(),
            probability,
            decile,
            run_id: index.run_id,
            model_id: index.model_id,
            scored_at: index.scored_at,
        })
    }

    /// The run held now, if any.
    pub fn run_id(&self) -> Option<i64> {
        self.current.load().as_ref().map(|i| i.run_id)
    }

    /// Loads the newest succeeded run if it is not the one held. Runs with more than
    /// `max_accounts` accounts are not held (look-ups then go to the database).
    pub async fn refresh(&self, db: &PgPool, max_accounts: u64) -> sqlx::Result<()> {
        let _guard = self.loading.lock().await;
        let newest = sqlx::query!(
            r#"SELECT id, model_id, accounts_scored, finished_at AS "finished_at!"
               FROM scoring_runs WHERE status = 'succeeded' AND finished_at IS NOT NULL
               ORDER BY id DESC LIMIT 1"#
        )
        .fetch_optional(db)
        .await?;
        let Some(newest) = newest else {
            self.current.store(None);
            return Ok(());
        };
        if self.run_id() == Some(newest.id) {
            return Ok(());
        }
        let accounts = u64::try_from(newest.accounts_scored).unwrap_or(0);
        if accounts > max_accounts {
            tracing::info!(
                run = newest.id,
                accounts,
                max_accounts,
                "the newest run is larger than LATEST_SCORES_MAX_ACCOUNTS: account look-ups go to the database"
            );
            self.current.store(None);
            return Ok(());
        }
        let started = std::time::Instant::now();
        let mut scores = HashMap::with_capacity(accounts as usize);
        let mut rows = sqlx::query!(
            "SELECT account_id, probability, decile FROM account_scores WHERE run_id = $1",
            newest.id
        )
        .fetch(db);
        while let Some(row) = rows.try_next().await? {
            scores.insert(
                row.account_id.into_boxed_str(),
                (row.probability, row.decile),
            );
        }
        tracing::info!(
            run = newest.id,
            accounts = scores.len(),
            seconds = started.elapsed().as_secs_f64(),
            "holding the newest run's scores for account look-ups"
        );
        self.current.store(Some(std::sync::Arc::new(RunIndex {
            run_id: newest.id,
            model_id: newest.model_id,
            scored_at: newest.finished_at,
            scores,
        })));
        Ok(())
    }
}
