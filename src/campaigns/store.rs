//! All SQL of campaigns: account links, creation (selection, suppression, holdout and the
//! members, in one transaction, entirely inside PostgreSQL), call lists, attempts and KPIs.
//!
//! Creation and the grouped KPI queries are built from parts (a partition's name, a rule
//! list, a grouping key) and so are unchecked; every value is bound, never formatted in.

use chrono::{DateTime, NaiveTime, Utc};
use std::collections::HashMap;

use sqlx::{PgConnection, PgExecutor, PgPool};

use super::{holdout, rules::Rule};
use crate::{db::copy::BinaryRows, scoring::reasons::PackedReason};

/// One link as uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub account_id: String,
    pub customer: String,
    pub time_zone: Option<String>,
    pub window: Option<(NaiveTime, NaiveTime)>,
}

/// Upserts links (a link is `(account_id, customer)`; its zone and window are replaced);
/// returns (inserted, updated).
pub async fn upsert_links(conn: &mut PgConnection, links: &[Link]) -> sqlx::Result<(u64, u64)> {
    let mut accounts = Vec::with_capacity(links.len());
    let mut customers = Vec::with_capacity(links.len());
    let mut zones = Vec::with_capacity(links.len());
    let mut starts = Vec::with_capacity(links.len());
    let mut ends = Vec::with_capacity(links.len());
    for link in links {
        accounts.push(link.account_id.as_str());
        customers.push(link.customer.as_str());
        zones.push(link.time_zone.as_deref());
        starts.push(link.window.map(|w| w.0));
        ends.push(link.window.map(|w| w.1));
    }
    // `xmax = 0` tells a fresh row from an updated one.
    let rows = sqlx::query_scalar!(
        r#"INSERT INTO account_links (account_id, customer, time_zone, window_start, window_end)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::time[], $5::time[])
           ON CONFLICT (account_id, customer) DO UPDATE
             SET time_zone = EXCLUDED.time_zone, window_start = EXCLUDED.window_start,
                 window_end = EXCLUDED.window_end, updated_at = now()
           RETURNING (xmax = 0) AS "inserted!""#,
        &accounts as &[&str],
        &customers as &[&str],
        &zones as &[Option<&str>],
        &starts as &[Option<NaiveTime>],
        &ends as &[Option<NaiveTime>],
    )
    .fetch_all(&mut *conn)
    .await?;
    let inserted = rows.iter().filter(|&&fresh| fresh).count() as u64;
    Ok((inserted, rows.len() as u64 - inserted))
}

/// A stored campaign.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub run_id: i64,
    pub seed: String,
    pub holdout_share: f64,
    pub rules: serde_json::Value,
    pub as_of: DateTime<Utc>,
    pub time_zone: String,
    pub window_start: NaiveTime,
    pub window_end: NaiveTime,
    pub selected: i64,
    pub suppressed: serde_json::Value,
    pub held_out: i64,
    pub to_call: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

pub async fn get_campaign(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<CampaignRow>> {
    sqlx::query_as!(CampaignRow, "SELECT * FROM campaigns WHERE id = $1", id)
        .fetch_optional(db)
        .await
}

pub async fn list_campaigns(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<Vec<CampaignRow>> {
    sqlx::query_as!(
        CampaignRow,
        "SELECT * FROM campaigns ORDER BY id DESC LIMIT $1",
        limit
    )
    .fetch_all(db)
    .await
}

/// The newest succeeded run (the default of a campaign).
pub async fn newest_run(db: impl PgExecutor<'_>) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT id FROM scoring_runs WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1"
    )
    .fetch_optional(db)
    .await
}

/// A run's status, if it exists.
pub async fn run_status(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT status FROM scoring_runs WHERE id = $1", id)
        .fetch_optional(db)
        .await
}

/// Everything creation needs, validated.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub name: String,
    pub run_id: i64,
    pub seed: String,
    pub holdout_share: f64,
    pub rules: serde_json::Value,
    pub as_of: DateTime<Utc>,
    pub time_zone: String,
    pub window: (NaiveTime, NaiveTime),
    pub created_by: String,
    pub selection: Selection,
    pub suppression: Suppression,
}

#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub deciles: Option<Vec<i16>>,
    pub min_probability: Option<f64>,
    pub top_n: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct Suppression {
    pub open_case: bool,
    pub sla_breach: bool,
    pub reactivation: bool,
    pub escalation: bool,
    pub low_csat: bool,
    pub within_days: i32,
    /// Lower-cased.
    pub request_types: Vec<String>,
    pub opt_out: Vec<String>,
    /// (attempts, days).
    pub contact_cap: Option<(i64, i32)>,
}

/// Stage counts of a created campaign.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageCounts {
    pub selected: i64,
    /// Per rule, in rule order, every rule listed (0 when it excluded nobody).
    pub suppressed: Vec<(Rule, i64)>,
    pub held_out: i64,
    pub to_call: i64,
}

/// Why creation stopped without creating anything.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the selection matches no account of run {0}")]
    EmptySelection(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn partition(id: i64) -> String {
    format!("campaign_members_{id}")
}

/// Creates a campaign and its members in the caller's transaction: flags accounts with the
/// first suppression rule they meet, then selects the run's accounts, holds out by the sticky
/// hash and stores every selected account with its fate (one binary COPY into the campaign's
/// own partition, indexed before it is attached).
pub async fn create_campaign(
    conn: &mut PgConnection,
    new: &NewCampaign,
) -> Result<(i64, StageCounts), CreateError> {
    // The flags' and links' DISTINCT ON sorts and the members' two indexes (2M rows) stay in
    // memory with these; PostgreSQL takes what it needs, not the whole budget.
    for setting in [
        "SET LOCAL work_mem = '1GB'",
        "SET LOCAL maintenance_work_mem = '512MB'",
    ] {
        sqlx::query(setting).execute(&mut *conn).await?;
    }
    // Flags do not depend on the selection: they are few (the customers with a case that
    // meets a rule, the opt-outs, the capped), and joining them to the selection once is
    // cheaper than joining the selection to every customer.
    sqlx::query(
        "CREATE TEMPORARY TABLE campaign_flags (account_id text, rank int, detail text)
         ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await?;
    let s = &new.suppression;
    if !s.opt_out.is_empty() {
        sqlx::query(
            "INSERT INTO campaign_flags SELECT DISTINCT o, $2, NULL::text FROM unnest($1::text[]) o",
        )
        .bind(&s.opt_out)
        .bind(Rule::OptOut.rank())
        .execute(&mut *conn)
        .await?;
    }
    let case_rules = s.open_case
        || s.sla_breach
        || s.reactivation
        || s.escalation
        || s.low_csat
        || !s.request_types.is_empty();
    if case_rules {
        // Each customer's first rule (and the case meeting it), then the accounts of those
        // customers: the linked ones, and the account with the customer's id unless that
        // account has links of its own.
        sqlx::query(
            "WITH flagged AS MATERIALIZED (
               SELECT DISTINCT ON (customer) customer, rank, case_id
               FROM (SELECT customer, case_id,
                       CASE WHEN $3 AND state = 'open' THEN $9
                            WHEN $4 AND sla_breached AND sla_breached_at > $1
                                 AND sla_breached_at <= $2 THEN $10
                            WHEN $5 AND reactivations > 0 AND last_event_at > $1 THEN $11
                            WHEN $6 AND escalated AND last_event_at > $1 THEN $12
                            WHEN $7 AND csat <= 2 AND last_event_at > $1 THEN $13
                            WHEN lower(request_type) = ANY($8)
                                 AND (state = 'open' OR last_event_at > $1) THEN $14
                       END AS rank
                     FROM cases
                     WHERE customer IS NOT NULL AND created_at <= $2
                       AND (state = 'open' OR last_event_at > $1)) c
               WHERE rank IS NOT NULL
               ORDER BY customer, rank, case_id)
             INSERT INTO campaign_flags
             SELECT l.account_id, f.rank, f.case_id
             FROM flagged f JOIN account_links l ON l.customer = f.customer
             UNION ALL
             SELECT f.customer, f.rank, f.case_id FROM flagged f
             WHERE NOT EXISTS (SELECT 1 FROM account_links l WHERE l.account_id = f.customer)",
        )
        .bind(new.as_of - chrono::TimeDelta::days(i64::from(s.within_days)))
        .bind(new.as_of)
        .bind(s.open_case)
        .bind(s.sla_breach)
        .bind(s.reactivation)
        .bind(s.escalation)
        .bind(s.low_csat)
        .bind(&s.request_types)
        .bind(Rule::OpenCase.rank())
        .bind(Rule::SlaBreach.rank())
        .bind(Rule::Reactivation.rank())
        .bind(Rule::Escalation.rank())
        .bind(Rule::LowCsat.rank())
        .bind(Rule::RequestType.rank())
        .execute(&mut *conn)
        .await?;
    }
    if let Some((max_attempts, days)) = s.contact_cap {
        sqlx::query(
            "INSERT INTO campaign_flags
             SELECT account_id, $4, count(*)::text FROM campaign_attempts
             WHERE started_at > $1 AND started_at <= $2
             GROUP BY account_id HAVING count(*) >= $3",
        )
        .bind(new.as_of - chrono::TimeDelta::days(i64::from(days)))
        .bind(new.as_of)
        .bind(max_attempts)
        .bind(Rule::ContactCap.rank())
        .execute(&mut *conn)
        .await?;
    }
    // The selection, the flags and the links go to Rust, which orders, judges and holds out
    // each account on both cores and streams the members back with a binary COPY: in one
    // `INSERT ... SELECT` PostgreSQL did all of it on one core (2M accounts: 9.4 s).
    let selected = fetch_selection(&mut *conn, new).await?;
    if selected.is_empty() {
        return Err(CreateError::EmptySelection(new.run_id));
    }
    let flags: HashMap<String, (i32, Option<String>)> =
        sqlx::query_as::<_, (String, i32, Option<String>)>(
            "SELECT DISTINCT ON (account_id) account_id, rank, detail
         FROM campaign_flags ORDER BY account_id, rank, detail",
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(account, rank, detail)| (account, (rank, detail)))
        .collect();
    let links: HashMap<String, MemberLink> = sqlx::query_as::<_, MemberLink>(
        "SELECT DISTINCT ON (account_id) account_id, customer, time_zone, window_start, window_end
         FROM account_links ORDER BY account_id, customer",
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|link| (link.account_id.clone(), link))
    .collect();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO campaigns (name, run_id, seed, holdout_share, rules, as_of, time_zone,
                                window_start, window_end, selected, suppressed, held_out,
                                to_call, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, '{}', 0, 0, $10) RETURNING id",
    )
    .bind(&new.name)
    .bind(new.run_id)
    .bind(&new.seed)
    .bind(new.holdout_share)
    .bind(&new.rules)
    .bind(new.as_of)
    .bind(&new.time_zone)
    .bind(new.window.0)
    .bind(new.window.1)
    .bind(&new.created_by)
    .fetch_one(&mut *conn)
    .await?;
    let table = partition(id);
    // The CHECK proves the partition bound, so ATTACH does not scan the rows.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (LIKE campaign_members INCLUDING CONSTRAINTS,
                               CHECK (campaign_id = {id}))"
    )))
    .execute(&mut *conn)
    .await?;
    let mut sink = conn
        .copy_in_raw(&format!(
            "COPY {table} (campaign_id, account_id, probability, decile, position, status, rule,
                           rule_detail, customer, time_zone, window_start, window_end, reasons)
             FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let judging = Judging {
        campaign_id: id,
        seed: new.seed.clone(),
        holdout_share: new.holdout_share,
        top_n: new.selection.top_n,
        flags,
        links,
    };
    let formatter = tokio::task::spawn_blocking(move || judging.members(selected, &sender));
    while let Some(message) = receiver.recv().await {
        sink.send(message).await?;
    }
    let counts = formatter
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("judging the campaign's members: {e}")))?;
    sink.finish().await?;
    for statement in [
        format!(r#"CREATE INDEX {table}_account ON {table} (account_id)"#),
        format!("CREATE INDEX {table}_position ON {table} (position)"),
        format!("ALTER TABLE campaign_members ATTACH PARTITION {table} FOR VALUES IN ({id})"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *conn)
            .await?;
    }
    let suppressed: serde_json::Map<String, serde_json::Value> = counts
        .suppressed
        .iter()
        .map(|(rule, n)| (rule.name().to_owned(), (*n).into()))
        .collect();
    sqlx::query!(
        "UPDATE campaigns SET selected = $2, suppressed = $3, held_out = $4, to_call = $5
         WHERE id = $1",
        id,
        counts.selected,
        serde_json::Value::Object(suppressed),
        counts.held_out,
        counts.to_call
    )
    .execute(&mut *conn)
    .await?;
    Ok((id, counts))
}

/// A selected account as the run scored it.
type Selected = (String, f64, i16, Option<Vec<u8>>);

/// The run's accounts the selection takes, in no particular order (unless `top_n` cuts them:
/// then the best, for PostgreSQL's top-N sort).
async fn fetch_selection(
    conn: &mut PgConnection,
    new: &NewCampaign,
) -> sqlx::Result<Vec<Selected>> {
    let filter = "FROM account_scores
                  WHERE run_id = $1
                    AND ($2::smallint[] IS NULL OR decile = ANY($2))
                    AND ($3::float8 IS NULL OR probability >= $3)";
    let sql = match new.selection.top_n {
        None => format!("SELECT account_id, probability, decile, reasons {filter}"),
        Some(_) => format!(
            r#"SELECT account_id, probability, decile, reasons {filter}
               ORDER BY probability DESC, account_id COLLATE "C" LIMIT $4"#
        ),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(new.run_id)
        .bind(new.selection.deciles.as_deref())
        .bind(new.selection.min_probability)
        .bind(new.selection.top_n)
        .fetch_all(conn)
        .await
}

/// An account's first link (by customer) as a member keeps it.
#[derive(Debug, sqlx::FromRow)]
struct MemberLink {
    account_id: String,
    customer: String,
    time_zone: Option<String>,
    window_start: Option<NaiveTime>,
    window_end: Option<NaiveTime>,
}

/// What decides each selected account's fate.
struct Judging {
    campaign_id: i64,
    seed: String,
    holdout_share: f64,
    top_n: Option<i64>,
    /// Account -> (rank of the first rule it meets, what met it).
    flags: HashMap<String, (i32, Option<String>)>,
    links: HashMap<String, MemberLink>,
}

/// Size of the COPY messages of a campaign's members.
const MEMBER_MESSAGE_BYTES: usize = 1 << 20;

impl Judging {
    /// Orders the selection (probability descending, ties by account id bytewise, as
    /// `ORDER BY probability DESC, account_id COLLATE "C"`), numbers it, judges each account
    /// (excluded by its first rule, else held out by the sticky hash, else called), sends
    /// the rows as binary COPY messages and counts each stage.
    fn members(
        self,
        mut selected: Vec<Selected>,
        sender: &tokio::sync::mpsc::Sender<Vec<u8>>,
    ) -> StageCounts {
        // Probabilities are never NaN or -0 (a sigmoid's), where total_cmp and SQL differ.
        selected.sort_unstable_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
        });
        if let Some(top_n) = self.top_n {
            selected.truncate(usize::try_from(top_n).unwrap_or(usize::MAX));
        }
        let held_out = self.holdouts(&selected);
        let mut counts = StageCounts {
            selected: selected.len() as i64,
            suppressed: Rule::ALL.iter().map(|&r| (r, 0)).collect(),
            ..StageCounts::default()
        };
        let capacity = MEMBER_MESSAGE_BYTES + 4096;
        let mut message = BinaryRows::with_header(capacity);
        for (position, ((account_id, probability, decile, reasons), held_out)) in
            selected.iter().zip(held_out).enumerate()
        {
            let flag = self.flags.get(account_id);
            let rule = flag.and_then(|(rank, _)| Rule::ALL.get(usize::try_from(*rank - 1).ok()?));
            let status = match (flag, held_out) {
                (Some(_), _) => {
                    if let Some(slot) =
                        rule.and_then(|r| counts.suppressed.iter_mut().find(|(s, _)| s == r))
                    {
                        slot.1 += 1;
                    }
                    "excluded"
                }
                (None, true) => {
                    counts.held_out += 1;
                    "holdout"
                }
                (None, false) => {
                    counts.to_call += 1;
                    "call"
                }
            };
            message.start_row(13);
            message.int8(self.campaign_id);
            message.text(account_id.as_bytes());
            message.float8(*probability);
            message.int2(*decile);
            message.int8(position as i64 + 1);
            message.text(status.as_bytes());
            message.opt_text(rule.map(|r| r.name()));
            message.opt_text(flag.and_then(|(_, detail)| detail.as_deref()));
            let link = self.links.get(account_id);
            message.opt_text(link.map(|l| l.customer.as_str()));
            message.opt_text(link.and_then(|l| l.time_zone.as_deref()));
            message.opt_time(link.and_then(|l| l.window_start));
            message.opt_time(link.and_then(|l| l.window_end));
            message.opt_bytea(reasons.as_deref());
            if message.len() >= MEMBER_MESSAGE_BYTES {
                let full = std::mem::replace(&mut message, BinaryRows::continuing(capacity));
                if sender.blocking_send(full.into_bytes()).is_err() {
                    return counts;
                }
            }
        }
        let _ = sender.blocking_send(message.finish());
        counts
    }

    /// Which accounts the sticky hash holds out, computed on two threads (SHA-256 of two
    /// million ids is about a second of one core).
    fn holdouts(&self, selected: &[Selected]) -> Vec<bool> {
        let judge = |part: &[Selected]| -> Vec<bool> {
            part.iter()
                .map(|(account_id, ..)| {
                    holdout::is_holdout(&self.seed, account_id, self.holdout_share)
                })
                .collect()
        };
        let (first, second) = selected.split_at(selected.len() / 2);
        std::thread::scope(|scope| {
            let later = scope.spawn(|| judge(second));
            let mut held_out = judge(first);
            held_out.extend(
                later
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
            held_out
        })
    }
}

/// One member of a campaign.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub account_id: String,
    pub probability: f64,
    pub decile: i16,
    pub position: i64,
    pub status: String,
    pub rule: Option<String>,
    pub rule_detail: Option<String>,
    pub customer: Option<String>,
    pub time_zone: Option<String>,
    pub window_start: Option<NaiveTime>,
    pub window_end: Option<NaiveTime>,
    /// The run's reason codes for the account, packed (see `scoring::reasons`); NULL: the
    /// run kept none.
    pub reasons: Option<Vec<u8>>,
}

impl MemberRow {
    /// The account's reason codes as `(feature name, value, contribution)`, best first.
    pub fn reasons<'a>(
        &'a self,
        feature_names: &'a [String],
    ) -> impl Iterator<Item = (&'a str, Option<f64>, f64)> + 'a {
        PackedReason::unpack(self.reasons.as_deref().unwrap_or_default()).map(move |reason| {
            let name = usize::try_from(reason.feature)
                .ok()
                .and_then(|i| feature_names.get(i))
                .map_or("?", String::as_str);
            (
                name,
                (!reason.value.is_nan()).then_some(reason.value),
                reason.contribution,
            )
        })
    }
}

/// The names of the features of the model that scored a run, in the model's order.
pub async fn run_feature_names(db: impl PgExecutor<'_>, run_id: i64) -> sqlx::Result<Vec<String>> {
    let names = sqlx::query_scalar!(
        "SELECT m.feature_names FROM scoring_runs r JOIN models m ON m.id = r.model_id
         WHERE r.id = $1",
        run_id
    )
    .fetch_optional(db)
    .await?;
    Ok(names.unwrap_or_default())
}

/// A page of members with one status, in call order, after `after` (a position).
pub async fn members_page(
    db: impl PgExecutor<'_>,
    campaign_id: i64,
    status: &str,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as!(
        MemberRow,
        "SELECT account_id, probability, decile, position, status, rule, rule_detail, customer,
                time_zone, window_start, window_end, reasons
         FROM campaign_members
         WHERE campaign_id = $1 AND status = $2 AND position > $3
         ORDER BY position LIMIT $4",
        campaign_id,
        status,
        after,
        limit
    )
    .fetch_all(db)
    .await
}

/// Every member with one status, in call order, as a stream (the CSV call list).
pub fn members_stream<'a>(
    db: &'a PgPool,
    campaign_id: i64,
    status: &'static str,
) -> impl futures_util::Stream<Item = sqlx::Result<MemberRow>> + Send + 'a {
    sqlx::query_as!(
        MemberRow,
        "SELECT account_id, probability, decile, position, status, rule, rule_detail, customer,
                time_zone, window_start, window_end, reasons
         FROM campaign_members
         WHERE campaign_id = $1 AND status = $2
         ORDER BY position",
        campaign_id,
        status
    )
    .fetch(db)
}

/// One member by account id.
pub async fn member(
    db: impl PgExecutor<'_>,
    campaign_id: i64,
    account_id: &str,
) -> sqlx::Result<Option<MemberRow>> {
    sqlx::query_as!(
        MemberRow,
        "SELECT account_id, probability, decile, position, status, rule, rule_detail, customer,
                time_zone, window_start, window_end, reasons
         FROM campaign_members WHERE campaign_id = $1 AND account_id = $2",
        campaign_id,
        account_id
    )
    .fetch_optional(db)
    .await
}

/// One attempt, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub attempt_id: String,
    pub account_id: String,
    pub agent: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub disposition: &'static str,
    pub offer_result: Option<&'static str>,
}

/// What storing attempts did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttemptsStored {
    pub stored: u64,
    /// Attempt ids already stored, or repeated in the upload (the first is kept).
    pub duplicates: u64,
    /// Attempts of accounts that are not on the call list (not stored), and the first ids.
    pub not_on_list: u64,
    pub not_on_list_accounts: Vec<String>,
}

/// Stores attempts of accounts on the call list; duplicates by attempt id are skipped.
pub async fn store_attempts(
    conn: &mut PgConnection,
    campaign_id: i64,
    attempts: &[Attempt],
    listed: i32,
) -> sqlx::Result<AttemptsStored> {
    let mut ids = Vec::with_capacity(attempts.len());
    let mut accounts = Vec::with_capacity(attempts.len());
    let mut agents = Vec::with_capacity(attempts.len());
    let mut starts = Vec::with_capacity(attempts.len());
    let mut ends = Vec::with_capacity(attempts.len());
    let mut dispositions = Vec::with_capacity(attempts.len());
    let mut offers = Vec::with_capacity(attempts.len());
    for a in attempts {
        ids.push(a.attempt_id.as_str());
        accounts.push(a.account_id.as_str());
        agents.push(a.agent.as_str());
        starts.push(a.started_at);
        ends.push(a.ended_at);
        dispositions.push(a.disposition);
        offers.push(a.offer_result);
    }
    sqlx::query(
        "CREATE TEMPORARY TABLE incoming_attempts ON COMMIT DROP AS
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                              $5::timestamptz[], $6::text[], $7::text[])
                WITH ORDINALITY AS i(attempt_id, account_id, agent, started_at, ended_at,
                                     disposition, offer_result, seq)",
    )
    .bind(&ids)
    .bind(&accounts)
    .bind(&agents)
    .bind(&starts)
    .bind(&ends)
    .bind(&dispositions)
    .bind(&offers)
    .execute(&mut *conn)
    .await?;
    let (not_on_list, not_on_list_accounts): (i64, Vec<String>) = sqlx::query_as(
        "SELECT count(*), coalesce((array_agg(DISTINCT account_id))[1:$2], '{}')
         FROM incoming_attempts i
         WHERE NOT EXISTS (SELECT 1 FROM campaign_members m
                           WHERE m.campaign_id = $1 AND m.account_id = i.account_id
                             AND m.status = 'call')",
    )
    .bind(campaign_id)
    .bind(listed)
    .fetch_one(&mut *conn)
    .await?;
    let stored = sqlx::query(
        "INSERT INTO campaign_attempts (campaign_id, attempt_id, account_id, agent, started_at,
                                       ended_at, disposition, offer_result)
         SELECT DISTINCT ON (attempt_id) $1, attempt_id, account_id, agent, started_at,
                ended_at, disposition, offer_result
         FROM incoming_attempts i
         WHERE EXISTS (SELECT 1 FROM campaign_members m
                       WHERE m.campaign_id = $1 AND m.account_id = i.account_id
                         AND m.status = 'call')
         ORDER BY attempt_id, seq
         ON CONFLICT (campaign_id, attempt_id) DO NOTHING",
    )
    .bind(campaign_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let on_list = attempts.len() as u64 - not_on_list as u64;
    Ok(AttemptsStored {
        stored,
        duplicates: on_list - stored,
        not_on_list: not_on_list as u64,
        not_on_list_accounts,
    })
}

/// Per-group sums of a campaign's records and attempts (see `kpis::Tally`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TallyRow {
    pub key: String,
    pub records: i64,
    pub processed: i64,
    pub attempts: i64,
    pub contacted: i64,
    pub rpc_records: i64,
    pub rpc_attempts: i64,
    pub converted: i64,
    /// Agent time in seconds (by agent only).
    pub agent_seconds: Option<f64>,
}

/// Per account of a campaign (and group): its attempts and what they reached. An attempt
/// "contacts" when someone answered (wrong party, right party, callback requested).
const PER_RECORD: &str = "count(*) AS attempts,
    bool_or(disposition IN ('wrong_party', 'right_party_contact', 'callback_requested')) AS contacted,
    bool_or(disposition = 'right_party_contact') AS rpc,
    count(*) FILTER (WHERE disposition = 'right_party_contact') AS rpc_attempts,
    bool_or(offer_result = 'accepted') AS converted";

const SUMS: &str = "coalesce(sum(r.attempts), 0)::bigint AS attempts,
    count(*) FILTER (WHERE r.contacted) AS contacted,
    count(*) FILTER (WHERE r.rpc) AS rpc_records,
    coalesce(sum(r.rpc_attempts), 0)::bigint AS rpc_attempts,
    count(*) FILTER (WHERE r.converted) AS converted";

/// Records on the call list per decile (processed or not).
pub async fn tally_by_decile(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Vec<TallyRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT m.decile::text AS key, count(*) AS records, count(r.account_id) AS processed,
                {SUMS}, NULL::float8 AS agent_seconds
         FROM campaign_members m
         LEFT JOIN (SELECT account_id, {PER_RECORD} FROM campaign_attempts
                    WHERE campaign_id = $1 GROUP BY account_id) r USING (account_id)
         WHERE m.campaign_id = $1 AND m.status = 'call'
         GROUP BY m.decile ORDER BY m.decile"
    )))
    .bind(id)
    .fetch_all(db)
    .await
}

/// Records each agent attempted, with the agent's time per UTC day: the logged time supplied
/// for that day (`campaign_agent_time`), else the span from the day's first attempt start to its
/// last attempt end; summed over days. An agent with logged time and no attempt is listed with
/// no records.
pub async fn tally_by_agent(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Vec<TallyRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.agent AS key, count(r.account_id) AS records, count(r.account_id) AS processed,
                {SUMS}, max(t.seconds) AS agent_seconds
         FROM (SELECT agent, sum(coalesce(l.logged_seconds, d.span))::float8 AS seconds
               FROM (SELECT agent, (started_at AT TIME ZONE 'UTC')::date AS day,
                            extract(epoch FROM max(ended_at) - min(started_at)) AS span
                     FROM campaign_attempts WHERE campaign_id = $1
                     GROUP BY 1, 2) d
               FULL JOIN (SELECT agent, day, logged_seconds FROM campaign_agent_time
                          WHERE campaign_id = $1) l USING (agent, day)
               GROUP BY agent) t
         LEFT JOIN (SELECT agent, account_id, {PER_RECORD} FROM campaign_attempts
                    WHERE campaign_id = $1 GROUP BY agent, account_id) r USING (agent)
         GROUP BY t.agent ORDER BY t.agent"
    )))
    .bind(id)
    .fetch_all(db)
    .await
}

/// One agent's logged time on one UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentTime {
    pub agent: String,
    pub day: chrono::NaiveDate,
    pub logged_seconds: f64,
}

/// Stores logged agent time; a day already stored for the agent is replaced (the last upload
/// wins). Returns how many days were new and how many replaced.
pub async fn upsert_agent_time(
    conn: &mut PgConnection,
    campaign_id: i64,
    rows: &[AgentTime],
) -> sqlx::Result<(u64, u64)> {
    let agents: Vec<&str> = rows.iter().map(|r| r.agent.as_str()).collect();
    let days: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.day).collect();
    let seconds: Vec<f64> = rows.iter().map(|r| r.logged_seconds).collect();
    // Within one upload the last row of a day wins too.
    let (inserted, replaced): (i64, i64) = sqlx::query_as(
        "WITH incoming AS (
           SELECT DISTINCT ON (agent, day) agent, day, logged_seconds
           FROM unnest($2::text[], $3::date[], $4::float8[]) WITH ORDINALITY
                AS u(agent, day, logged_seconds, seq)
           ORDER BY agent, day, seq DESC),
         written AS (
           INSERT INTO campaign_agent_time (campaign_id, agent, day, logged_seconds)
           SELECT $1, agent, day, logged_seconds FROM incoming
           ON CONFLICT (campaign_id, agent, day)
             DO UPDATE SET logged_seconds = excluded.logged_seconds, uploaded_at = now()
           RETURNING (xmax = 0) AS inserted)
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
         FROM written",
    )
    .bind(campaign_id)
    .bind(&agents)
    .bind(&days)
    .bind(&seconds)
    .fetch_one(&mut *conn)
    .await?;
    Ok((inserted as u64, replaced as u64))
}

/// Records attempted per hour of the customer's local day (the link's zone, else the
/// campaign's), by the attempt's start.
pub async fn tally_by_local_hour(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Vec<TallyRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.hour::text AS key, count(*) AS records, count(*) AS processed, {SUMS},
                NULL::float8 AS agent_seconds
         FROM (SELECT extract(hour FROM a.started_at AT TIME ZONE
                                   coalesce(m.time_zone, c.time_zone))::int AS hour,
                      a.account_id, {PER_RECORD}
               FROM campaign_attempts a
               JOIN campaigns c ON c.id = a.campaign_id
               JOIN campaign_members m ON m.campaign_id = a.campaign_id
                                      AND m.account_id = a.account_id
               WHERE a.campaign_id = $1
               GROUP BY 1, a.account_id) r
         GROUP BY r.hour ORDER BY r.hour"
    )))
    .bind(id)
    .fetch_all(db)
    .await
}

/// Treated and holdout records per decile with their conversions: treated records convert
/// when an attempt's offer was accepted, holdout records by the run's outcomes (target 1).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UpliftRow {
    pub decile: i16,
    pub treated: i64,
    pub treated_processed: i64,
    pub treated_converted: i64,
    pub holdout: i64,
    pub holdout_labelled: i64,
    pub holdout_converted: i64,
}

pub async fn uplift_by_decile(
    db: impl PgExecutor<'_>,
    id: i64,
    run_id: i64,
) -> sqlx::Result<Vec<UpliftRow>> {
    sqlx::query_as!(
        UpliftRow,
        r#"SELECT m.decile,
                  count(*) FILTER (WHERE m.status = 'call') AS "treated!",
                  count(a.account_id) FILTER (WHERE m.status = 'call') AS "treated_processed!",
                  count(*) FILTER (WHERE m.status = 'call' AND a.converted) AS "treated_converted!",
                  count(*) FILTER (WHERE m.status = 'holdout') AS "holdout!",
                  count(o.account_id) FILTER (WHERE m.status = 'holdout') AS "holdout_labelled!",
                  count(*) FILTER (WHERE m.status = 'holdout' AND o.target) AS "holdout_converted!"
           FROM campaign_members m
           LEFT JOIN (SELECT account_id, bool_or(offer_result = 'accepted') AS converted
                      FROM campaign_attempts WHERE campaign_id = $1
                      GROUP BY account_id) a ON a.account_id = m.account_id
           LEFT JOIN run_outcomes o ON o.run_id = $2 AND o.account_id = m.account_id
           WHERE m.campaign_id = $1 AND m.status IN ('call', 'holdout')
           GROUP BY m.decile ORDER BY m.decile"#,
        id,
        run_id
    )
    .fetch_all(db)
    .await
}
