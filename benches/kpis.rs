//! KPI polling at scale: with 1,000,000 cases (about 10 million events) loaded, latency of
//! `GET /v1/kpis/summary` for a 30-day window grouped by team (uncached), of a 304
//! revalidation, and 50 concurrent polling clients; plus the query plans that matter.
//!
//! With `SWITCHBOARD_BENCH_SLA` not `0` (the default), it then applies a business-hours SLA
//! policy to every case, adds a holiday and recomputes every case again (each timed), and
//! measures the summary again with the SLA columns filled (`SWITCHBOARD_BENCH_SLA=holiday` on a
//! reused database where the policy is applied: only the holiday and its recomputation).
//!
//! Run with `cargo bench --bench kpis`. Loading takes a few minutes; set
//! `SWITCHBOARD_BENCH_KPI_DB=<name>` to load into (and keep) that database and reuse it on the
//! next run, `SWITCHBOARD_BENCH_CASES` for another size and `SWITCHBOARD_BENCH_POLL_S` for the
//! polling duration (default 60 s).

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod support;

use std::time::Instant;

use chrono::Duration;
use support::{Settings, percentile_ms};
use switchboard::db;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_env();
    let server = db::resolve_url(&settings.database)
        .await
        .expect("a PostgreSQL server");
    let (generator, name, url, pool, keep) = support::kpi_cases(&settings, &server).await;

    // The query plans of a 30-day summary grouped by team.
    let from = generator.start + Duration::days(200);
    let to = from + Duration::days(30);
    for (label, sql) in [
        (
            "created cohort",
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT owner_team, count(*), count(*) FILTER (WHERE escalated),
             percentile_cont(0.5) WITHIN GROUP (ORDER BY first_response_s) FROM cases
             WHERE created_at >= $1 AND created_at < $2 GROUP BY owner_team",
        ),
        (
            "resolved cohort",
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT owner_team, count(*), count(*) FILTER (WHERE sla_status = 'succeeded'),
             percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle_time_s) FROM cases
             WHERE resolved_at >= $1 AND resolved_at < $2 GROUP BY owner_team",
        ),
    ] {
        let plan: Vec<String> =
            sqlx::query_scalar(sql).bind(from).bind(to).fetch_all(&pool).await.expect("explain");
        println!("plan, {label}:\n  {}", plan.join("\n  "));
    }

    let settings_metrics = settings.cases.metrics();
    let address = support::serve(settings, url, pool.clone()).await;
    let client = reqwest::Client::new();
    let summary = |day: i64| {
        let from = generator.start + Duration::days(day);
        format!(
            "http://{address}/v1/kpis/summary?from={}&to={}&group_by=owner_team",
            from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .replace('+', "%2B"),
            (from + Duration::days(30))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .replace('+', "%2B")
        )
    };

    // Uncached: every request another window, so nothing can be reused.
    let uncached = |label: &'static str| {
        let (client, summary) = (client.clone(), &summary);
        async move {
            let mut times = Vec::new();
            for i in 0..200 {
                let started = Instant::now();
                let reply = client.get(summary(30 + i % 300)).send().await.expect("GET");
                assert!(reply.status().is_success(), "{}", reply.status());
                let _ = reply.bytes().await;
                times.push(started.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            println!(
                "summary, 30 days by team, uncached, {label}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms (target p95 < 100 ms)",
                percentile_ms(&times, 50.0),
                percentile_ms(&times, 95.0),
                percentile_ms(&times, 100.0)
            );
        }
    };
    uncached("as loaded").await;

    // SLA policies (issue 18): a business-hours calendar and a two-target default policy
    // applied to every stored case, then a holiday added and every case recomputed again.
    if std::env::var("SWITCHBOARD_BENCH_SLA").as_deref() != Ok("0") {
        let config = settings_metrics.clone();
        let recompute_all = |label: &'static str| {
            let (pool, config) = (pool.clone(), config.clone());
            async move {
                let job = switchboard::sla::store::create_recomputation(
                    &pool,
                    None,
                    None,
                    switchboard::replica::id(),
                    None,
                )
                .await
                .expect("recomputation");
                let started = Instant::now();
                let done = switchboard::sla::handlers::run_recomputation(
                    &pool,
                    &config,
                    job.id,
                    (None, None),
                )
                .await
                .expect("recompute");
                let seconds = started.elapsed().as_secs_f64();
                switchboard::sla::store::finish_recomputation(&pool, job.id, None)
                    .await
                    .expect("finish");
                println!(
                    "SLA recomputation, {label}: {done} cases in {seconds:.1} s ({:.0} cases/s; target: 1M in < 60 s)",
                    done as f64 / seconds
                );
            }
        };
        // `holiday`: a reused database already has the policy applied; only add a holiday.
        if std::env::var("SWITCHBOARD_BENCH_SLA").as_deref() != Ok("holiday") {
            support::install_business_hours_policy(&pool, "Europe/Lisbon").await;
            recompute_all("business-hours policy applied").await;
        }
        // A new date on every run, so a reused database gets a real change.
        let versions: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sla_calendar_versions WHERE calendar_id = 'office'",
        )
        .fetch_one(&pool)
        .await
        .expect("versions");
        let holiday = chrono::NaiveDate::from_ymd_opt(2025, 8, 14).expect("date")
            + chrono::Days::new(versions as u64 * 7);
        support::add_holiday(&pool, "Europe/Lisbon", &holiday.to_string()).await;
        recompute_all("after a holiday is added").await;
        sqlx::query("VACUUM ANALYZE cases")
            .execute(&pool)
            .await
            .expect("analyze");
        uncached("with the SLA policy").await;
    }

    // Revalidation: the same window with its ETag.
    let uri = summary(200);
    let etag = client.get(&uri).send().await.expect("GET").headers()["etag"]
        .to_str()
        .expect("etag")
        .to_owned();
    let mut times = Vec::new();
    for _ in 0..1000 {
        let started = Instant::now();
        let reply = client
            .get(&uri)
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("GET");
        assert_eq!(reply.status(), reqwest::StatusCode::NOT_MODIFIED);
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "304 revalidation: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms (target < 2 ms)",
        percentile_ms(&times, 50.0),
        percentile_ms(&times, 95.0),
        percentile_ms(&times, 99.0)
    );

    // 50 dashboards polling: each revalidates its own window every ~2 s and refetches when
    // told it changed (here it never does, so this is the steady state of a busy wallboard).
    let seconds = env_number("SWITCHBOARD_BENCH_POLL_S", 60) as u64;
    let deadline = Instant::now() + std::time::Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for c in 0..50 {
        let (client, uri) = (client.clone(), summary(100 + c * 3));
        clients.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut full, mut etag) = (0u64, 0u64, 0u64, String::new());
            let mut times = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                match client.get(&uri).header("if-none-match", &etag).send().await {
                    Ok(reply) if reply.status() == reqwest::StatusCode::NOT_MODIFIED => ok += 1,
                    Ok(reply) if reply.status().is_success() => {
                        etag = reply.headers()["etag"]
                            .to_str()
                            .unwrap_or_default()
                            .to_owned();
                        let _ = reply.bytes().await;
                        ok += 1;
                        full += 1;
                    }
                    _ => errors += 1,
                }
                times.push(started.elapsed().as_secs_f64());
                tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
            }
            (ok, errors, full, times)
        }));
    }
    let (mut ok, mut errors, mut full, mut times) = (0, 0, 0, Vec::new());
    for client in clients {
        let (o, e, f, t) = client.await.expect("client");
        ok += o;
        errors += e;
        full += f;
        times.extend(t);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "50 polling clients for {seconds} s: {ok} answers ({full} full, the rest 304), {errors} errors, p95 {:.1} ms",
        percentile_ms(&times, 95.0)
    );
    if !keep {
        support::drop_database(&server, &name, pool).await;
    }
}
