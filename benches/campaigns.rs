//! Campaigns at scale: `POST /v1/campaigns` selecting every account of a 2,000,000-account run
//! with every suppression rule judged against 1,000,000 cases (plus 400,000 links, an opt-out
//! list, a contact cap and a 10 % holdout), and `GET /v1/campaigns/{id}/call-list?format=csv`
//! streaming the whole list, in rows per second. Each is run three times over HTTP on loopback.
//!
//! Run with `cargo bench --bench campaigns`. The data is made by SQL (`generate_series`) in a
//! scratch database, about 40 s; `SWITCHBOARD_BENCH_CAMPAIGN_DB=<name>` loads into (and keeps)
//! that database and reuses it on the next run. `SWITCHBOARD_BENCH_ACCOUNTS` and
//! `SWITCHBOARD_BENCH_CASES` change the sizes.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod support;

use std::time::Instant;

use serde_json::{Value, json};
use sqlx::PgPool;
use support::Settings;
use switchboard::db;

/// The instant the synthetic cases are dated back from, and the campaigns' `as_of`.
const AS_OF: &str = "2026-03-20T00:00:00Z";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A succeeded run of `accounts` scores (uniform probabilities, deciles by value, three reason
/// codes each, one with a missing value), `cases`
/// cases (one in 25 open, one in 19 with an SLA breach, one in 33 reactivated, one in 14
/// escalated, one in 7 with a CSAT, one in 20 a complaint; created over the year before
/// `AS_OF`; nine in ten of customers named like accounts, one in ten linked customers) and
/// 400,000 links with time zones, half with their own calling window.
async fn load(pool: &PgPool, accounts: usize, cases: usize) {
    let statements = [
        "INSERT INTO models (name, version_label, sha256, feature_names, tree_count, objective,
                             model_text, uploaded_by, native_check_passed, native_check_rows,
                             native_check_detail)
         SELECT 'bench', 'v1', 'bench-campaigns', array_agg('feature_' || k ORDER BY k), 1,
                'binary', 'bench', 'bench', true, 0, 'bench'
         FROM generate_series(0, 63) k"
            .to_owned(),
        format!(
            "INSERT INTO scoring_runs (model_id, source, status, requested_by, phase, accounts_scored,
                                       explain, finished_at)
             SELECT id, 'bench', 'succeeded', 'bench', 'done', {accounts}, 3, now() FROM models
             WHERE sha256 = 'bench-campaigns'"
        ),
        "CREATE TABLE account_scores_run_1 (LIKE account_scores INCLUDING CONSTRAINTS, CHECK (run_id = 1))"
            .to_owned(),
        format!(
            "INSERT INTO account_scores_run_1
             SELECT 1, 'ACC' || lpad(i::text, 8, '0'), p, least(10, 1 + floor((1 - p) * 10))::smallint,
                    int2send((i % 64)::int2) || float8send(p * 10) || float8send(0.9 * p)
                    || int2send(((i * 7) % 64)::int2) || float8send((i % 5)::float8) || float8send(0.5 * p)
                    || int2send(((i * 13) % 64)::int2) || float8send('NaN') || float8send(0.1 * p)
             FROM (SELECT i, (hashint8(i) & 2147483647)::float8 / 2147483648.0 AS p
                   FROM generate_series(1, {accounts}::bigint) i) s"
        ),
        "CREATE UNIQUE INDEX account_scores_run_1_account ON account_scores_run_1 (account_id, run_id)"
            .to_owned(),
        "ALTER TABLE account_scores ATTACH PARTITION account_scores_run_1 FOR VALUES IN (1)".to_owned(),
        format!(
            "INSERT INTO cases (case_id, customer, request_type, state, event_count, first_event_at,
                                last_event_at, created_at, reactivations, is_rework, escalated,
                                recategorized, kb_used, kb_articles, handoffs, csat, sla_breached,
                                sla_breached_at, metrics_as_of, metrics_version)
             SELECT 'CAS-' || i,
                    CASE WHEN i % 10 = 0 THEN 'CUST' || lpad(((h >> 3) % 400000)::text, 7, '0')
                         ELSE 'ACC' || lpad((1 + (h >> 3) % ({accounts} * 5 / 4))::text, 8, '0') END,
                    CASE WHEN i % 20 = 0 THEN 'Complaint' WHEN i % 3 = 0 THEN 'Billing' ELSE 'Technical' END,
                    CASE WHEN i % 25 = 0 THEN 'open' ELSE 'resolved' END,
                    4, t, t + interval '2 hours', t,
                    CASE WHEN i % 33 = 0 THEN 1 ELSE 0 END, false, i % 14 = 0, false, false, 0, 0,
                    CASE WHEN i % 7 = 0 THEN (1 + i % 5)::smallint END,
                    i % 19 = 0, CASE WHEN i % 19 = 0 THEN t + interval '1 hour' END,
                    '{AS_OF}', 1
             FROM (SELECT i, (hashint8(i * 7919) & 2147483647)::bigint AS h,
                          timestamptz '{AS_OF}' - (i % 365) * interval '1 day'
                            - (i % 1440) * interval '1 minute' AS t
                   FROM generate_series(1, {cases}::bigint) i) s"
        ),
        "INSERT INTO account_links (account_id, customer, time_zone, window_start, window_end)
         SELECT 'ACC' || lpad((1 + i * 5)::text, 8, '0'), 'CUST' || lpad(i::text, 7, '0'),
                (ARRAY['Europe/Lisbon', 'America/Sao_Paulo', 'Europe/Madrid', 'America/New_York'])[1 + i % 4],
                CASE WHEN i % 2 = 0 THEN time '10:00' END, CASE WHEN i % 2 = 0 THEN time '19:00' END
         FROM generate_series(0, 399999) i"
            .to_owned(),
        "VACUUM ANALYZE cases".to_owned(),
        "VACUUM ANALYZE account_links".to_owned(),
        "VACUUM ANALYZE account_scores_run_1".to_owned(),
    ];
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
            .expect("load");
    }
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_env();
    let server = db::resolve_url(&settings.database)
        .await
        .expect("a PostgreSQL server");
    let accounts = env_number("SWITCHBOARD_BENCH_ACCOUNTS", 2_000_000);
    let cases = env_number("SWITCHBOARD_BENCH_CASES", 1_000_000);
    let keep = std::env::var("SWITCHBOARD_BENCH_CAMPAIGN_DB").ok();
    let name = keep
        .clone()
        .unwrap_or_else(|| format!("bench_campaigns_{}", std::process::id()));
    let url = support::database_on(&server, &name);
    let existing = match &keep {
        Some(_) => db::connect(&url).await.ok(),
        None => None,
    };
    let loaded: i64 = match &existing {
        Some(pool) => sqlx::query_scalar("SELECT count(*) FROM account_scores WHERE run_id = 1")
            .fetch_one(pool)
            .await
            .unwrap_or(0),
        None => 0,
    };
    let pool = if loaded == accounts as i64 {
        println!("reusing database {name} ({loaded} accounts)");
        let pool = existing.unwrap();
        db::migrate(&pool).await.expect("migrate");
        pool
    } else {
        let (_, pool) = support::scratch_database(&server, &name).await;
        let started = Instant::now();
        load(&pool, accounts, cases).await;
        println!(
            "loaded {accounts} scores, {cases} cases, 400000 links in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        pool
    };

    let address = support::serve(Settings::from_env(), url, pool.clone()).await;
    let client = reqwest::Client::new();
    let opt_out: Vec<String> = (0..10_000)
        .map(|i| format!("ACC{:08}", 1 + i * 197))
        .collect();
    let mut creations = Vec::new();
    let mut streams = Vec::new();
    for round in 1..=3 {
        let body = json!({
            "name": format!("bench {round}"),
            "run_id": 1,
            "selection": {"deciles": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]},
            "suppression": {"request_types": ["complaint"], "opt_out": opt_out, "within_days": 30},
            "contact_cap": {"max_attempts": 3, "period_days": 30},
            "holdout_share": 0.1,
            "seed": "bench",
            "as_of": AS_OF,
        });
        let started = Instant::now();
        let reply = client
            .post(format!("http://{address}/v1/campaigns"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let campaign: Value = reply.json().await.unwrap();
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(status, reqwest::StatusCode::CREATED, "{campaign}");
        creations.push(seconds);
        if round == 1 {
            println!(
                "campaign: selected {}, suppressed {} ({}), held out {}, to call {}",
                campaign["selected"],
                campaign["suppressed_total"],
                campaign["suppressed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| format!("{} {}", r["rule"].as_str().unwrap(), r["accounts"]))
                    .collect::<Vec<_>>()
                    .join(", "),
                campaign["held_out"],
                campaign["to_call"]
            );
        }
        println!("create campaign {round}: {seconds:.2} s");

        let id = campaign["id"].as_i64().unwrap();
        let started = Instant::now();
        let mut reply = client
            .get(format!(
                "http://{address}/v1/campaigns/{id}/call-list?format=csv&at={AS_OF}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), reqwest::StatusCode::OK);
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(chunk) = reply.chunk().await.unwrap() {
            bytes += chunk.len();
            lines += chunk.iter().filter(|&&b| b == b'\n').count();
        }
        let seconds = started.elapsed().as_secs_f64();
        let rows = lines - 1;
        assert_eq!(rows as i64, campaign["to_call"].as_i64().unwrap());
        streams.push(rows as f64 / seconds);
        println!(
            "call list {round}: {rows} rows, {:.0} MB in {seconds:.2} s = {:.0} rows/s",
            bytes as f64 / 1e6,
            rows as f64 / seconds
        );
    }
    creations.sort_by(f64::total_cmp);
    streams.sort_by(f64::total_cmp);
    println!(
        "\nmedian of 3: create {:.2} s (target < 10 s), call list CSV {:.0} rows/s (target >= 500000)",
        creations[1], streams[1]
    );

    // The bench's campaigns are dropped so a kept database stays the same size.
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM campaigns")
        .fetch_all(&pool)
        .await
        .unwrap();
    for id in ids {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP TABLE campaign_members_{id}"
        )))
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("DELETE FROM campaigns")
        .execute(&pool)
        .await
        .unwrap();
    if keep.is_none() {
        support::drop_database(&server, &name, pool).await;
    }
}
