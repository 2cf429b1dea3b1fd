//! Case-store ingest, measured against pm4py in the same run.
//!
//! Run with `cargo bench --bench case_import`. It uses the PostgreSQL server of DATABASE_URL
//! (or the private cluster), in scratch databases it drops afterwards, and reports:
//! 1. BPIC 2013 (65,533 events) from XES.gz into PostgreSQL with every per-case metric, against
//!    pm4py reading the same file and computing case durations
//!    (`tools/bench/pm4py_case_durations.py`, run with `PM4PY_PYTHON`, default `python3`;
//!    skipped when pm4py or `../shared/data/eventlogs/` is absent);
//! 2. `SWITCHBOARD_BENCH_EVENTS` (default 1,000,000) synthetic D365 events from CSV, end to end;
//! 3. the streaming path: `POST /v1/events` over loopback HTTP in batches of 500.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod support;

use std::{path::Path, time::Instant};

use support::{Settings, drop_database, scratch_database};
use switchboard::{
    cases::{
        import::ImportOptions,
        ingest,
        synthetic::{self, SyntheticConfig},
    },
    db,
};

#[tokio::main]
async fn main() {
    let settings = Settings::from_env();
    let server = db::resolve_url(&settings.database)
        .await
        .expect("a PostgreSQL server");
    let metrics = settings.cases.metrics();
    let zone = settings.cases.event_timezone;
    let tag = std::process::id();
    println!("case import benchmark (server {})", server.redacted());

    // 1. BPIC 2013 against pm4py.
    let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/eventlogs");
    let bpic = logs.join("bpic2013_incidents.xes.gz");
    if bpic.exists() {
        // Once as shipped (no SLA policy: 24x7), once with a business-hours calendar and a
        // default policy with two targets; pm4py is compared with the second.
        let mut ours = 0.0;
        for with_policy in [false, true] {
            let name = format!("bench_bpic_{tag}_{with_policy}");
            let (_, pool) = scratch_database(&server, &name).await;
            if with_policy {
                support::install_business_hours_policy(&pool, "Europe/Brussels").await;
            }
            let started = Instant::now();
            let report = ingest::import_file(
                &pool,
                &bpic,
                &ImportOptions::default(),
                zone,
                switchboard::cases::import::ImportLimits::default(),
                &metrics,
                |_, _| {},
            )
            .await
            .expect("import");
            ours = started.elapsed().as_secs_f64();
            drop_database(&server, &name, pool).await;
            println!(
                "BPIC 2013 XES.gz -> PostgreSQL with all metrics{}: {ours:.2} s ({} events, {} cases, {:.0} events/s)",
                if with_policy {
                    ", business-hours SLA policy (2 targets)"
                } else {
                    ", no SLA policy"
                },
                report.stored.events_stored,
                report.stored.cases_touched,
                report.stored.events_stored as f64 / ours
            );
        }
        let python = std::env::var("PM4PY_PYTHON").unwrap_or_else(|_| "python3".into());
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/bench/pm4py_case_durations.py");
        let started = Instant::now();
        let output = std::process::Command::new(&python)
            .arg(&script)
            .arg(&bpic)
            .output();
        let theirs = started.elapsed().as_secs_f64();
        match output {
            Ok(output) if output.status.success() => println!(
                "pm4py read + format + case durations: {theirs:.2} s wall (script's own clock: {} s); Switchboard is {:.1}x faster while also persisting",
                String::from_utf8_lossy(&output.stdout)
                    .split_whitespace()
                    .next()
                    .unwrap_or("?"),
                theirs / ours
            ),
            _ => println!(
                "pm4py reference skipped: `{python}` cannot import pm4py (pip install pm4py==2.7.23.11, or set PM4PY_PYTHON)"
            ),
        }
    } else {
        println!("BPIC 2013 skipped: {} is absent", logs.display());
    }

    // 2. A million synthetic events from CSV.
    let events: usize = std::env::var("SWITCHBOARD_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let generator = SyntheticConfig {
        cases: events / 10,
        ..Default::default()
    };
    let csv = tempfile::NamedTempFile::new().expect("temp file");
    let started = Instant::now();
    let rows = synthetic::write_csv(&generator, std::io::BufWriter::new(csv.as_file()))
        .expect("write CSV");
    println!(
        "generated {rows} synthetic events ({} cases) as CSV in {:.1} s ({} MB)",
        generator.cases,
        started.elapsed().as_secs_f64(),
        std::fs::metadata(csv.path())
            .map(|m| m.len() >> 20)
            .unwrap_or(0)
    );
    let name = format!("bench_synthetic_{tag}");
    let (url, pool) = scratch_database(&server, &name).await;
    let started = Instant::now();
    let report = ingest::import_file(
        &pool,
        csv.path(),
        &ImportOptions::default(),
        zone,
        switchboard::cases::import::ImportLimits::default(),
        &metrics,
        |_, _| {},
    )
    .await
    .expect("import");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "synthetic CSV -> PostgreSQL with all metrics: {seconds:.1} s for {} events / {} cases ({:.0} events/s; target < 60 s)",
        report.stored.events_stored,
        report.stored.cases_touched,
        report.stored.events_stored as f64 / seconds
    );

    // 3. The streaming path, over HTTP, into the same database (new cases).
    let address = support::serve(settings, url, pool.clone()).await;
    let stream = SyntheticConfig {
        cases: 10_000,
        seed: 7,
        case_prefix: "STREAM".into(),
        ..Default::default()
    };
    let stream_events: Vec<_> = synthetic::events(&stream).collect();
    let total = stream_events.len();
    let batches: Vec<String> = stream_events
        .chunks(500)
        .map(|chunk| {
            let events: Vec<serde_json::Value> = chunk
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "case_id": e.case_id, "activity": e.activity, "event_time": e.event_time.to_rfc3339(),
                        "event_id": e.event_id, "agent": e.agent, "customer": e.customer, "channel": e.channel,
                        "priority": e.priority, "request_type": e.request_type, "product": e.product,
                        "owner_team": e.owner_team, "sla_target_resolution_s": e.sla_target_resolution_s,
                        "status_reason": e.status_reason, "is_escalated": e.is_escalated,
                        "knowledge_article_id": e.knowledge_article_id, "csat": e.csat,
                    })
                })
                .collect();
            serde_json::json!({ "events": events }).to_string()
        })
        .collect();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut stored = 0u64;
    for body in batches {
        let reply = client
            .post(format!("http://{address}/v1/events"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /v1/events");
        assert!(
            reply.status().is_success(),
            "POST /v1/events answered {}",
            reply.status()
        );
        let counts: serde_json::Value = reply.json().await.expect("JSON");
        stored += counts["events_stored"].as_u64().unwrap_or(0);
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "POST /v1/events, batches of 500, one client: {stored} of {total} events stored in {seconds:.1} s ({:.0} events/s)",
        stored as f64 / seconds
    );
    drop_database(&server, &name, pool).await;
}
