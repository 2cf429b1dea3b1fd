//! The case store end to end: event ingest, imports, activity mappings and the case read API,
//! on a real PostgreSQL, plus the real public event logs checked against pm4py's values.

use crate::common;

use std::{io::Read, path::Path};

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};
use switchboard::cases::{
    import::{Classifier, ColumnMapping, ImportFormat, ImportLimits, ImportOptions},
    ingest::{self, ImportReport},
};

fn event(case_id: &str, activity: &str, time: &str, extra: Value) -> Value {
    let mut event = json!({ "case_id": case_id, "activity": activity, "event_time": time });
    if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
        event.extend(extra.clone());
    }
    event
}

/// A complete, quickly resolved case in January 2026 (long matured by now).
fn simple_case(case_id: &str) -> Vec<Value> {
    let attrs = json!({"customer": "k1", "channel": "phone", "priority": "high", "sla_target_resolution_s": 28800.0});
    vec![
        event(
            case_id,
            "Case Created",
            "2026-01-05T09:00:00Z",
            json!({"agent": "System"}).merge(&attrs),
        ),
        event(
            case_id,
            "SLA Timer Started",
            "2026-01-05T09:00:00Z",
            json!({}),
        ),
        event(
            case_id,
            "Queue Item Picked by Agent",
            "2026-01-05T09:30:00Z",
            json!({"agent": "ana"}),
        ),
        event(
            case_id,
            "Solution Proposed to Customer",
            "2026-01-05T09:45:00+00:00",
            json!({"agent": "ana"}),
        ),
        event(
            case_id,
            "case_resolved",
            "2026-01-05T10:00:00Z",
            json!({"agent": "ana", "csat": 5}),
        ),
        event(case_id, "Caso Encerrado", "2026-01-05T12:00:00Z", json!({})),
    ]
}

trait Merge {
    fn merge(self, other: &Value) -> Value;
}

impl Merge for Value {
    fn merge(mut self, other: &Value) -> Value {
        if let (Some(target), Some(source)) = (self.as_object_mut(), other.as_object()) {
            target.extend(source.clone());
        }
        self
    }
}

#[tokio::test]
async fn events_are_stored_once_and_their_case_computed() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    let reply = app
        .post_json("/v1/events", admin, json!({ "events": simple_case("C-1") }))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.json(),
        json!({"events_stored": 6, "duplicates_skipped": 0, "cases_touched": 1, "unmapped_activities": 0})
    );

    // Re-sending changes nothing.
    let again = app
        .post_json("/v1/events", admin, Value::Array(simple_case("C-1")))
        .await;
    assert_eq!(again.json()["duplicates_skipped"], 6);
    assert_eq!(again.json()["events_stored"], 0);

    let case = app
        .get("/v1/cases/C-1", Some(&app.keys.viewer))
        .await
        .json();
    assert_eq!(case["state"], "closed");
    assert_eq!(case["customer"], "k1");
    assert_eq!(case["agent"], "ana");
    assert_eq!(case["cycle_time_s"], 3600.0);
    assert_eq!(case["first_pickup_s"], 1800.0);
    assert_eq!(case["first_response_s"], 2700.0);
    assert_eq!(case["time_to_close_s"], 10800.0);
    assert_eq!(case["admin_lag_s"], 7200.0);
    assert_eq!(case["sla_elapsed_s"], 3600.0);
    assert_eq!(case["sla_status"], "succeeded");
    assert_eq!(case["csat"], 5);
    assert_eq!(case["csat_satisfied"], true);
    assert_eq!(case["resolving_agent"], "ana");
    assert_eq!(case["fcr_no_reactivation"], "true");
    assert_eq!(case["fcr_single_interaction"], "true");
    assert_eq!(case["event_count"], 6);
    let events = case["events"].as_array().unwrap();
    assert_eq!(events.len(), 6);
    assert_eq!(events[0]["activity_code"], "case_created");
    assert_eq!(events[5]["activity_code"], "case_closed");
    // Equal times keep arrival order.
    assert_eq!(events[1]["activity"], "SLA Timer Started");

    // A late event (reactivation) reopens the case, recomputed from all its events.
    let late = event(
        "C-1",
        "Case Reactivated",
        "2026-01-06T08:00:00Z",
        json!({"agent": "rui"}),
    );
    let reply = app.post_json("/v1/events", admin, late).await;
    assert_eq!(reply.json()["events_stored"], 1);
    let case = app
        .get("/v1/cases/C-1", Some(&app.keys.viewer))
        .await
        .json();
    assert_eq!(case["state"], "open");
    assert_eq!(case["cycle_time_s"], Value::Null);
    assert_eq!(case["reactivations"], 1);
    assert_eq!(case["fcr_no_reactivation"], "false");

    // Activities without a canonical role are stored and counted.
    let custom = event(
        "C-2",
        "Customer called back",
        "2026-01-07T08:00:00Z",
        json!({}),
    );
    assert_eq!(
        app.post_json("/v1/events", admin, custom).await.json()["unmapped_activities"],
        1
    );
}

#[tokio::test]
async fn invalid_events_store_nothing_and_name_every_field() {
    let app = TestApp::new().await;
    let reply = app
        .post_json(
            "/v1/events",
            Some(&app.keys.admin),
            json!({"events": [
                simple_case("C-ok")[0].clone(),
                {"case_id": " ", "activity": "Case Created", "event_time": "yesterday", "csat": 7},
                {"case_id": 5, "activity": "Case Created", "event_time": "2026-01-01T00:00:00Z"},
            ]}),
        )
        .await;
    let problem = reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let fields = common::strings(&problem["errors"], "field");
    assert_eq!(
        fields,
        [
            "/events/1/case_id",
            "/events/1/event_time",
            "/events/1/csat",
            "/events/2"
        ]
    );
    let cases = app.get("/v1/cases", Some(&app.keys.viewer)).await.json();
    assert_eq!(cases["cases"], json!([]), "nothing was stored");

    // Viewers may not write; too many events is 413.
    let reply = app
        .post_json(
            "/v1/events",
            Some(&app.keys.viewer),
            simple_case("C-x")[0].clone(),
        )
        .await;
    reply.problem(StatusCode::FORBIDDEN);
    let many: Vec<Value> = (0..1001)
        .map(|i| {
            event(
                &format!("C{i}"),
                "Case Created",
                "2026-01-01T00:00:00Z",
                json!({}),
            )
        })
        .collect();
    app.post_json("/v1/events", Some(&app.keys.admin), Value::Array(many))
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_new_case_of_the_same_customer_refreshes_earlier_cases() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    let key = json!({"customer": "k9", "request_type": "billing", "product": "fibre"});
    let first = vec![
        event("A", "Case Created", "2026-02-02T09:00:00Z", key.clone()),
        event("A", "Case Resolved", "2026-02-02T10:00:00Z", json!({})),
    ];
    app.post_json("/v1/events", admin, Value::Array(first))
        .await;
    assert_eq!(
        app.get("/v1/cases/A", admin).await.json()["fcr_no_repeat"],
        "true"
    );
    // The customer comes back about the same thing three days later: A was not resolved.
    app.post_json(
        "/v1/events",
        admin,
        event("B", "Case Created", "2026-02-05T09:00:00Z", key),
    )
    .await;
    assert_eq!(
        app.get("/v1/cases/A", admin).await.json()["fcr_no_repeat"],
        "false"
    );
    // Another product is not a repeat.
    let other = json!({"customer": "k9", "request_type": "billing", "product": "mobile"});
    app.post_json(
        "/v1/events",
        admin,
        event("C", "Case Created", "2026-02-04T09:00:00Z", other),
    )
    .await;
    let b = app.get("/v1/cases/B", admin).await.json();
    assert_eq!(b["fcr_no_repeat"], Value::Null, "B is not resolved");
}

#[tokio::test]
async fn rows_written_are_counted_until_the_case_indexes_are_rebuilt() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    let written = || async {
        sqlx::query_scalar::<_, i64>("SELECT rows_written_since_reindex FROM ingest_state")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    let index_oid = || async {
        sqlx::query_scalar::<_, i64>("SELECT 'cases_resolved_kpi'::regclass::oid::int8")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    assert_eq!(written().await, 0);
    let reply = app
        .post_json("/v1/events", admin, Value::Array(simple_case("R1")))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // One batch, one case row written.
    assert_eq!(written().await, 1);
    let reply = app
        .post_json(
            "/v1/events",
            admin,
            event("R1", "Case Closed", "2026-01-07T09:00:00Z", json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(written().await, 2);

    // Every row of this table was written since: rebuilt, and the count starts again.
    let before = index_oid().await;
    assert_eq!(
        ingest::rebuild_indexes_if_bloated(&app.state.db)
            .await
            .unwrap(),
        Some(2)
    );
    assert_ne!(index_oid().await, before);
    assert_eq!(written().await, 0);
    // Nothing written since: nothing to do.
    let rebuilt = index_oid().await;
    assert_eq!(
        ingest::rebuild_indexes_if_bloated(&app.state.db)
            .await
            .unwrap(),
        None
    );
    assert_eq!(index_oid().await, rebuilt);
}

#[tokio::test]
async fn cases_are_listed_with_filters_and_keyset_pages() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    let mut events = Vec::new();
    for i in 0..7 {
        let channel = if i % 2 == 0 { "email" } else { "chat" };
        events.push(event(
            &format!("L{i}"),
            "Case Created",
            &format!("2026-03-0{}T08:00:00Z", i + 1),
            json!({"channel": channel}),
        ));
    }
    app.post_json("/v1/events", admin, Value::Array(events))
        .await;
    let mut seen = Vec::new();
    let mut uri = "/v1/cases?limit=3&order=asc".to_owned();
    loop {
        let page = app.get(&uri, admin).await.json();
        seen.extend(
            page["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["case_id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/cases?limit=3&order=asc&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["L0", "L1", "L2", "L3", "L4", "L5", "L6"]);
    let chats = app
        .get(
            "/v1/cases?channel=chat&created_from=2026-03-03T00:00:00Z",
            admin,
        )
        .await
        .json();
    let ids = common::strings(&chats["cases"], "case_id");
    assert_eq!(ids, ["L5", "L3"], "newest first by default");
    let bad = app
        .get("/v1/cases?limit=0&cursor=zzz&state=lost", admin)
        .await;
    let problem = bad.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3);
    app.get("/v1/cases/nope", admin)
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_activity_mapping_gives_stored_events_their_role() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    let events = vec![
        event("M1", "Ticket opened", "2026-04-01T08:00:00Z", json!({})),
        event("M1", "Resolve ticket", "2026-04-01T09:00:00Z", json!({})),
    ];
    app.post_json("/v1/events", admin, Value::Array(events))
        .await;
    assert_eq!(app.get("/v1/cases/M1", admin).await.json()["state"], "open");
    let reply = app
        .put_json(
            "/v1/activity-mappings",
            admin,
            json!({"mappings": {" Resolve Ticket ": "case_resolved"}}),
        )
        .await;
    assert_eq!(reply.json(), json!({"mappings": 1, "cases_recomputed": 1}));
    let case = app.get("/v1/cases/M1", admin).await.json();
    assert_eq!(case["state"], "resolved");
    assert_eq!(case["cycle_time_s"], 3600.0);
    let mapping = app
        .get("/v1/activity-mappings", Some(&app.keys.viewer))
        .await
        .json();
    assert_eq!(
        mapping,
        json!({"mappings": {"resolve ticket": "case_resolved"}})
    );
    let bad = app
        .put_json(
            "/v1/activity-mappings",
            admin,
            json!({"mappings": {"x": "case_teleported"}}),
        )
        .await;
    bad.problem(StatusCode::UNPROCESSABLE_ENTITY);
}

const TEMPLATE_CSV: &str = "case_id,activity,event_time,agent,csat\n\
C1,Case Created,2026-01-01T00:00:00Z,,\n\
C1,,2026-01-01T01:00:00Z,ana,\n\
C2,Case Created,not a time,,9\n\
C2,Case Resolved,2026-01-02T00:00:00Z,rui,\n";

#[tokio::test]
async fn an_import_with_bad_rows_stores_nothing_unless_allowed() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    let reply = app
        .post_file(
            "/v1/imports?wait=true",
            admin,
            "cases.csv",
            TEMPLATE_CSV.as_bytes(),
            None,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let import = reply.json();
    assert_eq!(import["status"], "failed");
    assert_eq!(import["format"], "csv");
    assert_eq!(import["rows_read"], 4);
    assert_eq!(import["bad_rows_count"], 2);
    assert_eq!(import["events_stored"], 0);
    let bad = import["bad_rows"].as_array().unwrap();
    assert_eq!(
        (
            bad[0]["line"].as_u64(),
            bad[0]["errors"][0]["field"].as_str()
        ),
        (Some(3), Some("activity"))
    );
    let fields = common::strings(&bad[1]["errors"], "field");
    assert_eq!(
        (bad[1]["line"].as_u64(), fields),
        (Some(4), vec!["event_time", "csat"])
    );
    app.get("/v1/cases/C1", admin)
        .await
        .problem(StatusCode::NOT_FOUND);

    let allowed = app
        .post_file(
            "/v1/imports?wait=true",
            admin,
            "cases.csv",
            TEMPLATE_CSV.as_bytes(),
            Some(json!({"max_bad_rows": 2})),
        )
        .await
        .json();
    assert_eq!(allowed["status"], "succeeded");
    assert_eq!(
        (
            allowed["events_stored"].as_u64(),
            allowed["cases_touched"].as_u64()
        ),
        (Some(2), Some(2))
    );

    // Options are checked; a form without a file is refused.
    let reply = app
        .post_file(
            "/v1/imports",
            admin,
            "x.csv",
            b"",
            Some(json!({"timezone": "Mars/Olympus"})),
        )
        .await;
    reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
    app.post_file("/v1/imports", Some(&app.keys.viewer), "x.csv", b"", None)
        .await
        .problem(StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------------------------
// The real public event logs against pm4py's values (tests/fixtures/eventlogs/README.md).

async fn import(app: &TestApp, path: &Path, options: ImportOptions) -> ImportReport {
    import_with(app, path, options, ImportLimits::default()).await
}

async fn import_with(
    app: &TestApp,
    path: &Path,
    options: ImportOptions,
    limits: ImportLimits,
) -> ImportReport {
    let config = app.state.config.cases.metrics();
    ingest::import_file(
        &app.state.db,
        path,
        &options,
        chrono_tz::Tz::UTC,
        limits,
        &config,
        |_, _| {},
    )
    .await
    .expect("import")
}

/// Counts, and every case's first-to-last-event duration, equal pm4py's.
async fn assert_matches_pm4py(app: &TestApp, report: &ImportReport, expected: &Value) {
    let events = expected["events"].as_u64().unwrap();
    let cases = expected["cases"].as_u64().unwrap();
    assert_eq!(report.rows_read, events);
    assert_eq!(report.bad_rows_count, 0);
    assert_eq!(report.stored.events_stored, events);
    assert_eq!(report.stored.cases_touched, cases);
    let rows: Vec<(String, f64)> = sqlx::query_as(
        "SELECT case_id, extract(epoch FROM last_event_at - first_event_at)::float8 FROM cases",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(rows.len() as u64, cases);
    let total: f64 = rows.iter().map(|(_, seconds)| seconds).sum();
    assert!((total - expected["duration_sum_s"].as_f64().unwrap()).abs() < 1e-3);
    assert_eq!(
        durations_digest(rows),
        expected["case_durations_sha256"].as_str().unwrap(),
        "some case's duration differs from pm4py's"
    );
}

/// SHA-256 of a case -> seconds table as the fixtures hold it (so that no real case id or
/// duration is committed): `<case id>\t<seconds>\n` lines in case-id order, whole seconds
/// without a fraction.
fn durations_digest(mut table: Vec<(String, f64)>) -> String {
    table.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::new();
    for (case_id, seconds) in &table {
        let whole = seconds.round();
        let seconds = if (seconds - whole).abs() < 1e-6 {
            format!("{}", whole as i64)
        } else {
            format!("{seconds:?}")
        };
        text.push_str(&format!("{case_id}\t{seconds}\n"));
    }
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()))
}

async fn distinct_activities(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(DISTINCT activity) FROM events")
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[cfg_attr(no_eventlogs, ignore = "needs ../shared/data/eventlogs")]
#[tokio::test]
async fn the_running_example_through_the_api_twice() {
    let dir = common::eventlogs();
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    let file = std::fs::read(dir.join("running-example.xes")).unwrap();
    // In the background: 202 with a Location to poll.
    let started = app
        .post_file("/v1/imports", admin, "running-example.xes", &file, None)
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    let location = started.headers["location"].to_str().unwrap().to_owned();
    let mut import = started.json();
    for _ in 0..200 {
        if import["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        import = app.get(&location, admin).await.json();
    }
    assert_eq!(import["status"], "succeeded", "{import}");
    assert_eq!(import["format"], "xes");
    assert_eq!(
        (
            import["rows_read"].as_u64(),
            import["events_stored"].as_u64()
        ),
        (Some(42), Some(42))
    );
    assert_eq!(
        (
            import["cases_touched"].as_u64(),
            import["unmapped_activities"].as_u64()
        ),
        (Some(6), Some(42))
    );
    // Every case's span, read through the API, against pm4py's whole-table digest.
    let expected = common::fixture("eventlogs/running-example.json");
    let listed = app.get("/v1/cases?limit=100", admin).await.json();
    let ids = common::strings(&listed["cases"], "case_id");
    assert_eq!(ids.len(), 6);
    let mut spans = Vec::new();
    for case_id in ids {
        let case = app.get(&format!("/v1/cases/{case_id}"), admin).await.json();
        let span = chrono::DateTime::parse_from_rfc3339(case["last_event_at"].as_str().unwrap())
            .unwrap()
            - chrono::DateTime::parse_from_rfc3339(case["first_event_at"].as_str().unwrap())
                .unwrap();
        spans.push((case_id.to_owned(), span.num_seconds() as f64));
    }
    assert_eq!(
        durations_digest(spans),
        expected["case_durations_sha256"].as_str().unwrap(),
        "some case's span differs from pm4py's"
    );
    // The same file again changes nothing.
    let again = app
        .post_file(
            "/v1/imports?wait=true",
            admin,
            "running-example.xes",
            &file,
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            again["events_stored"].as_u64(),
            again["duplicates_skipped"].as_u64()
        ),
        (Some(0), Some(42))
    );
    assert_eq!(again["cases_touched"], 0);
}

#[cfg_attr(no_eventlogs, ignore = "needs ../shared/data/eventlogs")]
#[tokio::test]
async fn helpdesk_matches_pm4py() {
    let dir = common::eventlogs();
    // Stored while it is validated (one transaction), and, as a file too large for that,
    // validated first and then stored batch by batch: the same result.
    for max_streamed_rows in [ImportLimits::default().max_streamed_rows, 1_000] {
        let app = TestApp::new().await;
        let limits = ImportLimits {
            max_streamed_rows,
            ..Default::default()
        };
        let report = import_with(
            &app,
            &dir.join("helpdesk.xes.gz"),
            ImportOptions::default(),
            limits,
        )
        .await;
        assert_eq!(report.format, Some(ImportFormat::Xes));
        assert_matches_pm4py(&app, &report, &common::fixture("eventlogs/helpdesk.json")).await;
    }
}

#[cfg_attr(no_eventlogs, ignore = "needs ../shared/data/eventlogs")]
#[tokio::test]
async fn bpic_2013_matches_pm4py_with_both_classifiers() {
    let dir = common::eventlogs();
    let expected = common::fixture("eventlogs/bpic2013_incidents.json");
    for (classifier, activities) in [(Classifier::Name, 4), (Classifier::NameAndLifecycle, 13)] {
        let app = TestApp::new().await;
        let options = ImportOptions {
            classifier,
            ..Default::default()
        };
        let report = import(&app, &dir.join("bpic2013_incidents.xes.gz"), options).await;
        assert_matches_pm4py(&app, &report, &expected).await;
        assert_eq!(
            distinct_activities(&app).await,
            activities,
            "{classifier:?}"
        );
    }
    let process = common::fixture("eventlogs/bpic2013_incidents.name_lifecycle.process.json");
    assert!(
        process["activity_events"]
            .as_object()
            .unwrap()
            .contains_key("Accepted+In Progress")
    );
}

#[cfg_attr(no_eventlogs, ignore = "needs ../shared/data/eventlogs")]
#[tokio::test]
async fn the_uci_servicenow_csv_through_a_column_mapping_matches_pm4py() {
    let dir = common::eventlogs();
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(dir.join("uci_incident_event_log.zip")).unwrap())
            .unwrap();
    let mut csv = Vec::new();
    archive
        .by_name("incident_event_log.csv")
        .unwrap()
        .read_to_end(&mut csv)
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &csv).unwrap();
    let mapping = ColumnMapping {
        case_id: "number".into(),
        activity: "incident_state".into(),
        event_time: "sys_updated_at".into(),
        time_format: Some("%d/%m/%Y %H:%M".into()),
        fields: [
            ("agent", "assigned_to"),
            ("priority", "priority"),
            ("owner_team", "assignment_group"),
            ("channel", "contact_type"),
        ]
        .into_iter()
        .map(|(f, c)| (f.to_owned(), c.to_owned()))
        .collect(),
        attributes: vec!["made_sla".into(), "reassignment_count".into()],
        // The audit log has no event id; update counter and time identify a row.
        event_id_columns: vec!["sys_mod_count".into(), "sys_updated_at".into()],
    };
    let options = ImportOptions {
        mapping: Some(mapping),
        ..Default::default()
    };
    let app = TestApp::new().await;
    let report = import(&app, file.path(), options).await;
    assert_eq!(report.format, Some(ImportFormat::Csv));
    assert_matches_pm4py(
        &app,
        &report,
        &common::fixture("eventlogs/uci_incident_event_log.json"),
    )
    .await;
    assert_eq!(distinct_activities(&app).await, 9);
}
