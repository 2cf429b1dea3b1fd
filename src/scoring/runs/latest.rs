//! The newest succeeded run's scores held in memory, so the CRM's look-up of an account's latest
//! score is a hash probe instead of a database round trip (PostgreSQL alone answers about 20k of
//! those look-ups a second on 2 cores; the service needs its CPU for the rest).
//!
//! Only the newest run is held: an account it scored has its latest score there. An account it
//! did not score may have one in an older run, so a miss falls back to the database. Replicas
//! pick up a run finished elsewhere on their next refresh (`MODEL_REFRESH_S`); until then they
//! answer from the run before. Memory: about 35 bytes per account (ids in one arena, a hash
//! table of 4-byte positions), against about 85 for a `HashMap<String, _>`.

use std::hash::BuildHasher;

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use hashbrown::HashTable;
use sqlx::PgPool;

use super::store::LatestScore;

/// How many accounts a replica holds in memory (`LATEST_SCORES_MAX_ACCOUNTS`); 0, never, when
/// replicas do not refresh (`MODEL_REFRESH_S=0`): they would keep answering from an old run.
pub fn latest_scores_limit(config: &crate::config::ServeConfig) -> u64 {
    if config.model_refresh_s == 0 {
        0
    } else {
        config.latest_scores_max_accounts
    }
}

/// One run's scores by account id.
struct RunIndex {
    run_id: i64,
    model_id: i64,
    scored_at: DateTime<Utc>,
    scores: ScoreTable,
}

/// Account ids in one arena, scores in parallel vectors, and a hash table of positions.
#[derive(Default)]
struct ScoreTable {
    ids: String,
    /// `id_ends[i]` is where account `i`'s id ends in `ids`.
    id_ends: Vec<u32>,
    probabilities: Vec<f64>,
    deciles: Vec<i16>,
    positions: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

/// Account `position`'s id in an arena of ids ending at `id_ends`.
fn id_at<'a>(ids: &'a str, id_ends: &[u32], position: u32) -> &'a str {
    let i = position as usize;
    let start = if i == 0 { 0 } else { id_ends[i - 1] as usize };
    &ids[start..id_ends[i] as usize]
}

impl ScoreTable {
    fn with_capacity(accounts: usize) -> Self {
        Self {
            id_ends: Vec::with_capacity(accounts),
            probabilities: Vec::with_capacity(accounts),
            deciles: Vec::with_capacity(accounts),
            positions: HashTable::with_capacity(accounts),
            ..Self::default()
        }
    }

    fn id(&self, position: u32) -> &str {
        id_at(&self.ids, &self.id_ends, position)
    }

    /// Adds an account (ids within a run are unique: the run's index enforces it).
    fn insert(&mut self, account_id: &str, probability: f64, decile: i16) {
        let position = self.probabilities.len() as u32;
        self.ids.push_str(account_id);
        self.id_ends.push(self.ids.len() as u32);
        self.probabilities.push(probability);
        self.deciles.push(decile);
        let hash = self.hasher.hash_one(account_id);
        // Growing the table rehashes ids; the closure borrows the arena, not `self`.
        let (ids, id_ends, hasher) = (&self.ids, &self.id_ends, &self.hasher);
        self.positions
            .insert_unique(hash, position, |&p| hasher.hash_one(id_at(ids, id_ends, p)));
    }

    fn get(&self, account_id: &str) -> Option<(f64, i16)> {
        let hash = self.hasher.hash_one(account_id);
        let &position = self.positions.find(hash, |&p| self.id(p) == account_id)?;
        Some((
            self.probabilities[position as usize],
            self.deciles[position as usize],
        ))
    }

    fn len(&self) -> usize {
        self.probabilities.len()
    }
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
        let (probability, decile) = index.scores.get(account_id)?;
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
        // Positions are u32 and the arena is indexed by u32.
        if accounts > max_accounts || accounts > u64::from(u32::MAX / 64) {
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
        let mut scores = ScoreTable::with_capacity(accounts as usize);
        let mut rows = sqlx::query!(
            "SELECT account_id, probability, decile FROM account_scores WHERE run_id = $1",
            newest.id
        )
        .fetch(db);
        while let Some(row) = rows.try_next().await? {
            scores.insert(&row.account_id, row.probability, row.decile);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_finds_every_account_and_only_those() {
        let mut table = ScoreTable::with_capacity(4);
        for i in 0..10_000 {
            table.insert(
                &format!("BAN{i:010}"),
                f64::from(i) / 10_000.0,
                (i % 10 + 1) as i16,
            );
        }
        table.insert("", 0.5, 3);
        assert_eq!(table.len(), 10_001);
        for i in (0..10_000).step_by(7) {
            assert_eq!(
                table.get(&format!("BAN{i:010}")),
                Some((f64::from(i) / 10_000.0, (i % 10 + 1) as i16))
            );
        }
        assert_eq!(table.get(""), Some((0.5, 3)));
        assert_eq!(table.get("BAN0000010000"), None);
        assert_eq!(table.get("BAN000000000"), None);
    }
}
