//! KPIs and process views over a real PostgreSQL: hand-checked values, cohorts, empty groups,
//! DST buckets, backlog, conditional requests, and pm4py's values on the real logs.

use crate::common;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use common::TestApp;
use serde_json::{Value, json};
use switchboard::cases::{import::ImportOptions, ingest};

fn event(case_id: &str, activity: &str, time: &str, extra: Value) -> Value {
    let mut event = json!({ "case_id": case_id, "activity": activity, "event_time": time });
    if let (Some(target), Some(source)) = (event.as_object_mut(), extra.as_object()) {
        target.extend(source.clone());
    }
    event
}

/// Four cases in March 2026, checked by hand:
/// - A (team north): created 03-02 09:00, escalated, resolved 11:00 within its 4 h SLA, CSAT 5.
/// - B (north): created 03-03 09:00, resolved 03-04 09:00, breaching its 8 h SLA; CSAT 2.
/// - C (south): created 03-05 10:00, still open, SLA 1 h: an active breach.
/// - D (south): created 2026-02-20, resolved 03-02 12:00 (resolved cohort of March only).
async fn seed(app: &TestApp) {
    let north = json!({"owner_team": "north", "channel": "phone"});
    let south = json!({"owner_team": "south", "channel": "email"});
    let with = |base: &Value, extra: Value| {
        let mut v = base.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let events = vec![
        event(
            "A",
            "Case Created",
            "2026-03-02T09:00:00Z",
            with(&north, json!({"sla_target_resolution_s": 14400.0})),
        ),
        event(
            "A",
            "Case Escalated",
            "2026-03-02T09:30:00Z",
            json!({"agent": "ana"}),
        ),
        event(
            "A",
            "Case Resolved",
            "2026-03-02T11:00:00Z",
            json!({"agent": "ana", "csat": 5}),
        ),
        event(
            "B",
            "Case Created",
            "2026-03-03T09:00:00Z",
            with(&north, json!({"sla_target_resolution_s": 28800.0})),
        ),
        event(
            "B",
            "Information Requested from Customer",
            "2026-03-03T10:00:00Z",
            json!({"agent": "rui"}),
        ),
        event(
            "B",
            "Solution Proposed to Customer",
            "2026-03-03T12:00:00Z",
            json!({"agent": "rui"}),
        ),
        event(
            "B",
            "Case Resolved",
            "2026-03-04T09:00:00Z",
            json!({"agent": "rui", "csat": 2}),
        ),
        event(
            "C",
            "Case Created",
            "2026-03-05T10:00:00Z",
            with(&south, json!({"sla_target_resolution_s": 3600.0})),
        ),
        event("D", "Case Created", "2026-02-20T10:00:00Z", south.clone()),
        event(
            "D",
            "Case Resolved",
            "2026-03-02T12:00:00Z",
            json!({"agent": "eva"}),
        ),
    ];
    let reply = app
        .post_json("/v1/events", Some(&app.keys.admin), Value::Array(events))
        .await;
    assert_eq!(reply.json()["events_stored"], 10);
}

const MARCH: &str = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";

#[tokio::test]
async fn summary_kpis_name_their_cohorts_and_match_hand_counts() {
    let app = TestApp::new().await;
    seed(&app).await;
    let viewer = Some(app.keys.viewer.as_str());
    let summary = app
        .get(&format!("/v1/kpis/summary?{MARCH}"), viewer)
        .await
        .json();
    assert_eq!(summary["data_as_of"], "2026-03-05T10:00:00Z");
    assert!(summary["last_ingested_at"].is_string());
    let kpis = &summary["groups"][0]["kpis"];
    assert_eq!(kpis["volume"], json!({"cohort": "created", "value": 3}));
    assert_eq!(
        kpis["escalation_rate"],
        json!({"cohort": "created", "numerator": 1, "denominator": 3, "value": 1.0 / 3.0})
    );
    assert_eq!(kpis["resolved"], json!({"cohort": "resolved", "value": 3}));
    // A succeeded, B breached; D has no target.
    assert_eq!(
        kpis["sla_compliance"],
        json!({"cohort": "resolved", "numerator": 1, "denominator": 2, "value": 0.5})
    );
    assert_eq!(
        kpis["csat"],
        json!({"cohort": "responded", "count": 2, "value": 3.5})
    );
    assert_eq!(kpis["csat_satisfied"]["value"], 0.5);
    // Cycle times: A 2 h, B 24 h, D 10 d 2 h.
    let cycle = &kpis["cycle_time"];
    assert_eq!(cycle["count"], 3);
    assert_eq!(cycle["median_s"], 86400.0);
    assert_eq!(cycle["mean_s"], (7200.0 + 86400.0 + 871_200.0) / 3.0);
    // p90 of [7200, 86400, 871200], linear: 86400 + 0.8 * (871200 - 86400).
    assert!((cycle["p90_s"].as_f64().unwrap() - (86400.0 + 0.8 * 784_800.0)).abs() < 1e-6);
    assert_eq!(
        kpis["active_breaches"],
        json!({"cohort": "snapshot", "value": 1})
    );
    // Rework: B asked for information only once; nobody repeated an activity.
    assert_eq!(kpis["rework_rate"]["numerator"], 0);
    // FCR matured long ago: A true (escalated but not reactivated), B true, D true.
    assert_eq!(kpis["fcr_no_reactivation"]["value"], 1.0);
    assert_eq!(
        kpis["fcr_single_interaction"]["numerator"], 1,
        "only D: A escalated, B asked for information"
    );

    // Grouped: every rate's numerator and denominator per team; an empty denominator is null.
    let grouped = app
        .get(
            &format!("/v1/kpis/summary?{MARCH}&group_by=owner_team"),
            viewer,
        )
        .await
        .json();
    let groups = grouped["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["group"], json!({"owner_team": "north"}));
    assert_eq!(groups[0]["kpis"]["volume"]["value"], 2);
    assert_eq!(groups[1]["kpis"]["volume"]["value"], 1);
    assert_eq!(groups[1]["kpis"]["sla_compliance"]["denominator"], 0);
    assert_eq!(groups[1]["kpis"]["sla_compliance"]["value"], Value::Null);
    assert_eq!(groups[1]["kpis"]["csat"]["value"], Value::Null);

    // Filters, and a period before any data: zeros and nulls, not an error.
    let phone = app
        .get(&format!("/v1/kpis/summary?{MARCH}&channel=phone"), viewer)
        .await
        .json();
    assert_eq!(phone["groups"][0]["kpis"]["volume"]["value"], 2);
    let empty = app
        .get(
            "/v1/kpis/summary?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z",
            viewer,
        )
        .await
        .json();
    assert_eq!(empty["groups"][0]["kpis"]["volume"]["value"], 0);
    assert_eq!(
        empty["groups"][0]["kpis"]["escalation_rate"]["value"],
        Value::Null
    );

    // Agents: CSAT credited to the resolving agent.
    let agents = app
        .get(&format!("/v1/kpis/agents?{MARCH}"), viewer)
        .await
        .json();
    let rui = agents["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "rui")
        .unwrap();
    assert_eq!(rui["kpis"]["csat"]["value"], 2.0);
    let teams = app
        .get(&format!("/v1/kpis/teams?{MARCH}"), viewer)
        .await
        .json();
    assert_eq!(teams["rows"].as_array().unwrap().len(), 2);

    let bad = app
        .get(
            "/v1/kpis/summary?from=2026-03-01T00:00:00Z&group_by=mood",
            viewer,
        )
        .await;
    assert_eq!(
        bad.problem(StatusCode::UNPROCESSABLE_ENTITY)["errors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn polling_gets_304_until_the_data_changes() {
    let app = TestApp::new().await;
    seed(&app).await;
    let uri = format!("/v1/kpis/summary?{MARCH}");
    let first = app.get(&uri, Some(&app.keys.viewer)).await;
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    assert_eq!(first.headers[header::CACHE_CONTROL], "private, no-cache");
    let conditional = |etag: &str| {
        Request::builder()
            .method(Method::GET)
            .uri(&uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", app.keys.viewer))
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .unwrap()
    };
    let again = app.send(conditional(&etag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    // Another query has another tag; new data changes every tag.
    let other = app
        .get(&format!("{uri}&group_by=channel"), Some(&app.keys.viewer))
        .await;
    assert_ne!(other.headers[header::ETAG].to_str().unwrap(), etag);
    let late = event("C", "Case Resolved", "2026-03-06T10:00:00Z", json!({}));
    app.post_json("/v1/events", Some(&app.keys.admin), late)
        .await;
    let changed = app.send(conditional(&etag)).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.json()["groups"][0]["kpis"]["resolved"]["value"], 4);
}

#[tokio::test]
async fn time_series_buckets_follow_local_days_across_dst() {
    let app = TestApp::new().await;
    // Lisbon moves to UTC+1 at 01:00 UTC on 2026-03-29: that local day lasts 23 hours.
    let events = vec![
        event("S1", "Case Created", "2026-03-28T23:30:00Z", json!({})), // 03-28 local
        event("S2", "Case Created", "2026-03-29T22:30:00Z", json!({})), // 03-29 23:30 local
        event("S3", "Case Created", "2026-03-29T23:30:00Z", json!({})), // 03-30 00:30 local
        event("S3", "Case Resolved", "2026-03-30T08:00:00Z", json!({})),
    ];
    app.post_json("/v1/events", Some(&app.keys.admin), Value::Array(events))
        .await;
    let series = app
        .get(
            "/v1/kpis/timeseries?from=2026-03-28T00:00:00Z&to=2026-03-30T23:00:00Z&bucket=day&tz=Europe/Lisbon",
            Some(&app.keys.viewer),
        )
        .await
        .json();
    let points = series["series"][0]["points"].as_array().unwrap();
    let starts = common::strings(&series["series"][0]["points"], "start");
    assert_eq!(
        starts,
        [
            "2026-03-28T00:00:00Z",
            "2026-03-29T00:00:00Z",
            "2026-03-29T23:00:00Z"
        ]
    );
    let volumes: Vec<i64> = points
        .iter()
        .map(|p| p["kpis"]["volume"]["value"].as_i64().unwrap())
        .collect();
    assert_eq!(volumes, [1, 1, 1]);
    assert_eq!(points[2]["kpis"]["resolved"]["value"], 1);
    assert_eq!(points[0]["kpis"]["escalation_rate"]["value"], 0.0);
    assert_eq!(points[1]["kpis"]["sla_compliance"]["value"], Value::Null);
    // Hours are absolute: the spring-forward night has no repeated or missing bucket.
    let hours = app
        .get(
            "/v1/kpis/timeseries?from=2026-03-29T00:00:00Z&to=2026-03-29T03:00:00Z&bucket=hour&tz=Europe/Lisbon",
            Some(&app.keys.viewer),
        )
        .await
        .json();
    let starts = common::strings(&hours["series"][0]["points"], "start");
    assert_eq!(
        starts,
        [
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T02:00:00Z"
        ]
    );
    let bad = app
        .get("/v1/kpis/timeseries?from=2026-03-28T00:00:00Z&to=2026-03-30T00:00:00Z&bucket=fortnight&tz=Lisbon", Some(&app.keys.viewer))
        .await;
    assert_eq!(
        bad.problem(StatusCode::UNPROCESSABLE_ENTITY)["errors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn the_backlog_at_an_instant_with_ageing() {
    let app = TestApp::new().await;
    seed(&app).await;
    let backlog = app
        .get(
            "/v1/kpis/backlog?at=2026-03-03T12:00:00Z",
            Some(&app.keys.viewer),
        )
        .await
        .json();
    // Open then: B (created 03-03 09:00, 3 h old). A and D were resolved; C not yet created.
    let group = &backlog["groups"][0];
    assert_eq!(group["backlog"], 1);
    assert_eq!(group["ageing"][0], json!({"age": "0-1d", "cases": 1}));
    // B's 8 h SLA, started 09:00, is due at 17:00: 5 h away.
    assert_eq!(group["time_to_due"][3], json!({"due": "4-24h", "cases": 1}));
    let later = app
        .get(
            "/v1/kpis/backlog?at=2026-03-25T10:00:00Z&group_by=owner_team",
            Some(&app.keys.viewer),
        )
        .await
        .json();
    assert_eq!(
        later["groups"],
        json!([{"group": {"owner_team": "south"}, "backlog": 1, "ageing": [
        {"age": "0-1d", "cases": 0}, {"age": "1-3d", "cases": 0}, {"age": "3-7d", "cases": 0},
        {"age": "7-14d", "cases": 0}, {"age": "14-30d", "cases": 1}, {"age": "30d+", "cases": 0}],
        // C's 1 h SLA fell due on 03-05 at 11:00.
        "time_to_due": [{"due": "overdue", "cases": 1}, {"due": "0-1h", "cases": 0},
        {"due": "1-4h", "cases": 0}, {"due": "4-24h", "cases": 0}, {"due": "24h+", "cases": 0},
        {"due": "no_due", "cases": 0}]}])
    );
}

/// Median and p90 with linear interpolation (pandas' default), computed here independently.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = q * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64))
}

#[tokio::test]
async fn kpis_of_a_generated_set_equal_an_independent_count() {
    use std::collections::BTreeMap;
    use switchboard::cases::synthetic::{self, SyntheticConfig};

    let app = TestApp::new().await;
    let generator = SyntheticConfig {
        cases: 1500,
        customers: 900,
        span_days: 60,
        ..Default::default()
    };
    let mut csv = Vec::new();
    let rows = synthetic::write_csv(&generator, &mut csv).unwrap();
    let import = app
        .post_file(
            "/v1/imports?wait=true",
            Some(&app.keys.admin),
            "synthetic.csv",
            &csv,
            None,
        )
        .await
        .json();
    assert_eq!(import["status"], "succeeded", "{import}");
    assert_eq!(import["events_stored"].as_u64(), Some(rows));
    assert_eq!(import["cases_touched"], 1500);
    assert_eq!(
        import["unmapped_activities"], 0,
        "the generator uses the canonical English names"
    );

    let from = generator.start + chrono::Duration::days(10);
    let to = from + chrono::Duration::days(30);
    // The expected values, from the case rows with plain Rust (not the KPI SQL).
    type Case = (
        Option<String>,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
        bool,
        Option<String>,
        Option<String>,
        Option<i16>,
        Option<f64>,
    );
    let cases: Vec<Case> = sqlx::query_as(
        "SELECT owner_team, created_at, resolved_at, escalated, sla_status, fcr_no_repeat, csat, cycle_time_s FROM cases",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    #[derive(Default)]
    struct Expected {
        volume: i64,
        escalated: i64,
        resolved: i64,
        sla_ok: i64,
        sla_bad: i64,
        fcr_true: i64,
        fcr_matured: i64,
        csat: Vec<f64>,
        cycle: Vec<f64>,
    }
    let mut expected: BTreeMap<Option<String>, Expected> = BTreeMap::new();
    for (team, created, resolved, escalated, sla, fcr, csat, cycle) in &cases {
        let e = expected.entry(team.clone()).or_default();
        if *created >= from && *created < to {
            e.volume += 1;
            e.escalated += i64::from(*escalated);
        }
        if resolved.is_some_and(|r| r >= from && r < to) {
            e.resolved += 1;
            e.sla_ok += i64::from(sla.as_deref() == Some("succeeded"));
            e.sla_bad += i64::from(sla.as_deref() == Some("noncompliant"));
            e.fcr_true += i64::from(fcr.as_deref() == Some("true"));
            e.fcr_matured += i64::from(matches!(fcr.as_deref(), Some("true" | "false")));
            e.csat.extend(csat.map(f64::from));
            e.cycle.extend(*cycle);
        }
    }
    expected.retain(|_, e| e.volume > 0 || e.resolved > 0);

    let uri = format!(
        "/v1/kpis/summary?from={}&to={}&group_by=owner_team",
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let summary = app.get(&uri, Some(&app.keys.viewer)).await.json();
    let groups = summary["groups"].as_array().unwrap();
    assert_eq!(groups.len(), expected.len());
    assert!(
        expected.len() >= 3,
        "the generator spreads cases over its teams"
    );
    for group in groups {
        let team = group["group"]["owner_team"].as_str().map(str::to_owned);
        let e = &expected[&team];
        let k = &group["kpis"];
        assert_eq!(k["volume"]["value"], e.volume, "{team:?}");
        assert_eq!(
            (
                k["escalation_rate"]["numerator"].as_i64(),
                k["escalation_rate"]["denominator"].as_i64()
            ),
            (Some(e.escalated), Some(e.volume))
        );
        assert_eq!(k["resolved"]["value"], e.resolved);
        assert_eq!(
            (
                k["sla_compliance"]["numerator"].as_i64(),
                k["sla_compliance"]["denominator"].as_i64()
            ),
            (Some(e.sla_ok), Some(e.sla_ok + e.sla_bad))
        );
        assert_eq!(
            (
                k["fcr_no_repeat"]["numerator"].as_i64(),
                k["fcr_no_repeat"]["denominator"].as_i64()
            ),
            (Some(e.fcr_true), Some(e.fcr_matured))
        );
        assert_eq!(k["csat"]["count"].as_i64(), Some(e.csat.len() as i64));
        if !e.csat.is_empty() {
            // Exactly pandas' mean of integer scores: their sum over their count.
            assert_eq!(
                k["csat"]["value"].as_f64(),
                Some(e.csat.iter().sum::<f64>() / e.csat.len() as f64),
                "csat of {team:?}"
            );
        }
        let mut cycle = e.cycle.clone();
        cycle.sort_by(f64::total_cmp);
        assert_eq!(k["cycle_time"]["count"].as_i64(), Some(cycle.len() as i64));
        if let (Some(median), Some(p90)) = (quantile(&cycle, 0.5), quantile(&cycle, 0.9)) {
            close(
                &k["cycle_time"]["median_s"],
                &json!(median),
                "median cycle time",
            );
            close(&k["cycle_time"]["p90_s"], &json!(p90), "p90 cycle time");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Process views against pm4py on the real logs (tests/fixtures/eventlogs/README.md).

fn close(actual: &Value, expected: &Value, what: &str) {
    let (a, e) = (actual.as_f64().unwrap(), expected.as_f64().unwrap());
    assert!(
        (a - e).abs() <= 1e-6 * e.abs().max(1.0),
        "{what}: {a} vs pm4py {e}"
    );
}

async fn assert_process_views_match(app: &TestApp, expected: &Value) {
    let viewer = Some(app.keys.viewer.as_str());
    let dfg = app.get("/v1/process/dfg", viewer).await.json();
    let edges = dfg["edges"].as_array().unwrap();
    assert_eq!(edges.len(), expected["dfg"].as_array().unwrap().len());
    let find = |from: &str, to: &str| {
        edges
            .iter()
            .find(|e| e["from"] == from && e["to"] == to)
            .cloned()
    };
    for edge in expected["dfg"].as_array().unwrap() {
        let ours = find(edge[0].as_str().unwrap(), edge[1].as_str().unwrap())
            .unwrap_or_else(|| panic!("edge {edge}"));
        assert_eq!(ours["frequency"], edge[2], "{edge}");
    }
    for edge in expected["performance_dfg"].as_array().unwrap() {
        let ours = find(edge[0].as_str().unwrap(), edge[1].as_str().unwrap()).unwrap();
        close(&ours["mean_s"], &edge[2]["mean"], "mean");
        close(&ours["median_s"], &edge[2]["median"], "median");
        close(&ours["max_s"], &edge[2]["max"], "max");
    }
    let activities = app.get("/v1/process/activities", viewer).await.json();
    for activity in activities["activities"].as_array().unwrap() {
        let name = activity["activity"].as_str().unwrap();
        assert_eq!(
            activity["events"], expected["activity_events"][name],
            "{name}"
        );
        assert_eq!(
            activity["starts"].as_i64().unwrap(),
            expected["start_activities"][name].as_i64().unwrap_or(0),
            "{name}"
        );
        assert_eq!(
            activity["ends"].as_i64().unwrap(),
            expected["end_activities"][name].as_i64().unwrap_or(0),
            "{name}"
        );
    }
    // The fixture holds a digest of the ranked variants (no real case's trace is committed)
    // and the most frequent few in full.
    let covered = expected["variants_sha256_count"].as_u64().unwrap();
    let variants = app
        .get(&format!("/v1/process/variants?limit={covered}"), viewer)
        .await
        .json();
    assert_eq!(variants["variant_count"], expected["variant_count"]);
    let ranked = variants["variants"].as_array().unwrap();
    assert_eq!(ranked.len() as u64, covered);
    let lines: String = ranked
        .iter()
        .map(|v| {
            let activities: Vec<&str> = v["activities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            format!("{}\t{}\n", activities.join("\u{1f}"), v["cases"])
        })
        .collect();
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(lines.as_bytes())),
        expected["variants_sha256"].as_str().unwrap(),
        "the ranked variants differ from pm4py's"
    );
    for (ours, theirs) in ranked.iter().zip(expected["variants"].as_array().unwrap()) {
        assert_eq!(ours["activities"], theirs["activities"]);
        assert_eq!(ours["cases"], theirs["count"]);
        if let Some(mean) = theirs.get("mean_case_duration_s") {
            close(&ours["mean_duration_s"], mean, "variant mean duration");
        }
    }
}

#[cfg_attr(no_eventlogs, ignore = "needs ../shared/data/eventlogs")]
#[tokio::test]
async fn process_views_match_pm4py_on_the_running_example_and_helpdesk() {
    let dir = common::eventlogs();
    for (file, fixture_name) in [
        ("running-example.xes", "running-example.process.json"),
        ("helpdesk.xes.gz", "helpdesk.process.json"),
    ] {
        let app = TestApp::new().await;
        let config = app.state.config.cases.metrics();
        ingest::import_file(
            &app.state.db,
            &dir.join(file),
            &ImportOptions::default(),
            chrono_tz::Tz::UTC,
            switchboard::cases::import::ImportLimits::default(),
            &config,
            |_, _| {},
        )
        .await
        .expect("import");
        assert_process_views_match(&app, &common::fixture(&format!("eventlogs/{fixture_name}")))
            .await;
    }
}

#[cfg_attr(no_eventlogs, ignore = "needs ../shared/data/eventlogs")]
#[tokio::test]
async fn process_views_match_pm4py_on_bpic_2013_by_name_and_lifecycle() {
    let dir = common::eventlogs();
    let app = TestApp::new().await;
    let config = app.state.config.cases.metrics();
    let options = ImportOptions {
        classifier: switchboard::cases::import::Classifier::NameAndLifecycle,
        ..Default::default()
    };
    ingest::import_file(
        &app.state.db,
        &dir.join("bpic2013_incidents.xes.gz"),
        &options,
        chrono_tz::Tz::UTC,
        switchboard::cases::import::ImportLimits::default(),
        &config,
        |_, _| {},
    )
    .await
    .expect("import");
    assert_process_views_match(
        &app,
        &common::fixture("eventlogs/bpic2013_incidents.name_lifecycle.process.json"),
    )
    .await;
}

/// The summaries' duration statistics come from the values PostgreSQL collects (as the KPI
/// queries do: each value's float8 bytes, concatenated), computed in Rust
/// (`DurationValues::stats`); they must be PostgreSQL's own `count`, `avg` and `percentile_cont`,
/// bit for bit, whatever the count, ties and spread.
#[tokio::test]
async fn duration_statistics_equal_postgresql_avg_and_percentile_cont() {
    use switchboard::kpi::store::DurationValues;
    let app = TestApp::new().await;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for n in [1usize, 2, 3, 10, 11, 99, 1000, 4321] {
        let values: Vec<Option<f64>> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match state % 9 {
                    0 => Some(3600.0),
                    1 => Some(0.0),
                    2 => None,
                    _ => Some((state % 10_000_000) as f64 / 3.0),
                }
            })
            .collect();
        type Row = (i64, Option<f64>, Option<Vec<f64>>, Option<DurationValues>);
        let (count, mean, percentiles, ours): Row = sqlx::query_as(
            "SELECT count(v), avg(v), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY v),
                    string_agg(float8send(v), ''::bytea)
             FROM unnest($1::float8[]) v",
        )
        .bind(&values)
        .fetch_one(&app.state.db)
        .await
        .expect("statistics");
        let Some(ours) = ours.and_then(|values| values.stats()) else {
            assert_eq!(count, 0);
            continue;
        };
        let (mean, percentiles) = (mean.expect("a mean"), percentiles.expect("percentiles"));
        assert_eq!(ours.count, count, "count of {n}");
        assert_eq!(ours.mean.to_bits(), mean.to_bits(), "mean of {n}");
        assert_eq!(
            ours.median.to_bits(),
            percentiles[0].to_bits(),
            "median of {n}"
        );
        assert_eq!(ours.p90.to_bits(), percentiles[1].to_bits(), "p90 of {n}");
    }
}
