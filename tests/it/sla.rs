//! SLA policies on business-hours calendars through the API, over a real PostgreSQL:
//! calendars and policies (validation, versions), per-target clocks on cases, the timeline,
//! and an exact background recomputation after a holiday is added.
//!
//! The calendar in every test: Europe/Lisbon, Monday to Friday 09:00-18:00 (Lisbon is UTC in
//! March, so local and UTC hours agree on the dates used).

use crate::common;

use axum::http::{Method, StatusCode};
use common::{TestApp, request};
use serde_json::{Value, json};

fn office(holidays: Value) -> Value {
    let day = json!([{"start": "09:00", "end": "18:00"}]);
    json!({
        "name": "Lisbon office",
        "time_zone": "Europe/Lisbon",
        "weekly_hours": {
            "monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day
        },
        "holidays": holidays
    })
}

fn event(case_id: &str, activity: &str, time: &str, extra: Value) -> Value {
    let mut event = json!({ "case_id": case_id, "activity": activity, "event_time": time });
    if let (Some(target), Some(source)) = (event.as_object_mut(), extra.as_object()) {
        target.extend(source.clone());
    }
    event
}

async fn post_events(app: &TestApp, events: Vec<Value>) {
    let reply = app
        .post_json(
            "/v1/events",
            Some(&app.keys.admin),
            json!({ "events": events }),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

async fn case(app: &TestApp, id: &str) -> Value {
    let reply = app
        .get(&format!("/v1/cases/{id}"), Some(&app.keys.viewer))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json()
}

/// The office calendar and two policies from 2026-01-01: `urgent` (first response 1 h,
/// resolution 8 h, pausing on the status reason `Em Espera`) and the default (resolution
/// 27 h = three business days).
async fn configure(app: &TestApp) {
    let admin = Some(app.keys.admin.as_str());
    let reply = app
        .put_json(
            "/v1/calendars/lisbon?effective_from=2026-01-01T00:00:00Z",
            admin,
            office(json!([])),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["version"], 1);
    let urgent = json!({
        "name": "Urgent", "rank": 1, "match": {"priority": ["urgent"]}, "calendar_id": "lisbon",
        "targets": {
            "first_response": {"target_s": 3600, "warning_share": 0.5},
            "resolution": {"target_s": 28800}
        },
        "pause": {"status_reasons": ["Em Espera"]}
    });
    let reply = app
        .put_json(
            "/v1/sla-policies/urgent?effective_from=2026-01-01T00:00:00Z",
            admin,
            urgent,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let standard = json!({
        "name": "Standard", "is_default": true, "calendar_id": "lisbon",
        "targets": {"resolution": {"target_s": 97200}}
    });
    let reply = app
        .put_json(
            "/v1/sla-policies/standard?effective_from=2026-01-01T00:00:00Z",
            admin,
            standard,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[tokio::test]
async fn bad_calendars_and_policies_name_every_field_and_store_nothing() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    let bad = json!({
        "name": "x", "time_zone": "Europe/Atlantis",
        "weekly_hours": {"monday": [{"start": "09:00", "end": "25:00"}, {"start": "13:00", "end": "12:00"}]},
        "holidays": [{"date": "2026-13-01", "name": "Nope"}]
    });
    let problem = app
        .put_json("/v1/calendars/bad", admin, bad)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let fields = common::strings(&problem["errors"], "field");
    assert_eq!(
        fields,
        [
            "/time_zone",
            "/weekly_hours/monday/0/end",
            "/weekly_hours/monday/1",
            "/holidays/0/date"
        ]
    );
    let closed = json!({"name": "closed", "time_zone": "UTC", "weekly_hours": {}});
    let problem = app
        .put_json("/v1/calendars/closed", admin, closed)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "/weekly_hours");
    app.get("/v1/calendars/bad", admin)
        .await
        .problem(StatusCode::NOT_FOUND);
    app.put_json("/v1/calendars/24x7", admin, office(json!([])))
        .await
        .problem(StatusCode::CONFLICT);
    app.put_json("/v1/calendars/Bad%20Id", admin, office(json!([])))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    // Only an admin writes; every role reads.
    app.put_json(
        "/v1/calendars/lisbon",
        Some(&app.keys.viewer),
        office(json!([])),
    )
    .await
    .problem(StatusCode::FORBIDDEN);
    let list = app.get("/v1/calendars", Some(&app.keys.scorer)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(common::strings(&list.json(), "id"), ["24x7"]);

    let policy = json!({
        "name": "p", "calendar_id": "nowhere", "match": {"channel": []},
        "targets": {"first_response": {"target_s": 0}}
    });
    let problem = app
        .put_json("/v1/sla-policies/p", admin, policy)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let fields = common::strings(&problem["errors"], "field");
    assert_eq!(
        fields,
        [
            "/calendar_id",
            "/match/channel",
            "/targets/first_response/target_s"
        ]
    );
    let no_targets = json!({"name": "p", "targets": {}});
    let problem = app
        .put_json("/v1/sla-policies/p", admin, no_targets)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "/targets");
    let unknown =
        json!({"name": "p", "targets": {"resolution": {"target_s": 60}}, "colour": "red"});
    app.put_json("/v1/sla-policies/p", admin, unknown)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let list = app.get("/v1/sla-policies", admin).await.json();
    assert_eq!(list, json!([]));

    // A second default policy is refused.
    configure(&app).await;
    let another =
        json!({"name": "Other", "is_default": true, "targets": {"resolution": {"target_s": 60}}});
    let problem = app
        .put_json("/v1/sla-policies/other", admin, another)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "/is_default");
}

#[tokio::test]
async fn clocks_count_business_hours_per_target_with_a_timeline() {
    let app = TestApp::new().await;
    configure(&app).await;
    post_events(
        &app,
        vec![
            // Microsoft's example: started Monday 09:00, succeeded 19:00 on a 09:00-18:00
            // calendar: 9 active hours. First response at 09:40 inside its hour.
            event(
                "M",
                "Case Created",
                "2026-03-02T09:00:00Z",
                json!({"priority": "Urgent"}),
            ),
            event(
                "M",
                "Solution Proposed to Customer",
                "2026-03-02T09:40:00Z",
                json!({"agent": "ana"}),
            ),
            event(
                "M",
                "Case Resolved",
                "2026-03-02T19:00:00Z",
                json!({"agent": "ana"}),
            ),
            // The spec's reactivation example under the default policy: resolved Monday 11:00,
            // reactivated Tuesday 10:00, resolved again 12:00: 4 business hours.
            event(
                "R",
                "Case Created",
                "2026-03-02T09:00:00Z",
                json!({"priority": "Low"}),
            ),
            event(
                "R",
                "Case Resolved",
                "2026-03-02T11:00:00Z",
                json!({"agent": "rui"}),
            ),
            event("R", "Case Reactivated", "2026-03-03T10:00:00Z", json!({})),
            event(
                "R",
                "Case Resolved",
                "2026-03-03T12:00:00Z",
                json!({"agent": "rui"}),
            ),
            // Created Friday 17:00, on hold (Em Espera) Friday 17:30 to Monday 10:00: the hold
            // pauses 30 business minutes; the weekend is closed hours. A case's own target
            // (2 h) overrides the policy's 8 h on the policy's calendar.
            event(
                "P",
                "Case Created",
                "2026-03-06T17:00:00Z",
                json!({"priority": "urgent", "sla_target_resolution_s": 7200}),
            ),
            event(
                "P",
                "Information Requested from Customer",
                "2026-03-06T17:30:00Z",
                json!({"agent": "eva", "status_reason": "Em Espera"}),
            ),
            event(
                "P",
                "Agent Investigated Issue",
                "2026-03-09T10:00:00Z",
                json!({"agent": "eva", "status_reason": "Em Andamento"}),
            ),
            event(
                "P",
                "Case Resolved",
                "2026-03-09T11:00:00Z",
                json!({"agent": "eva"}),
            ),
        ],
    )
    .await;

    let m = case(&app, "M").await;
    assert_eq!(m["sla_policy_id"], "urgent");
    assert_eq!(m["sla_policy_version"], 1);
    assert_eq!(m["sla_calendar_id"], "lisbon");
    assert_eq!(m["sla_elapsed_s"], 32400.0);
    assert_eq!(m["sla_calendar_s"], 36000.0);
    assert_eq!(m["sla_status"], "noncompliant");
    assert_eq!(m["sla_due_at"], "2026-03-02T17:00:00Z");
    assert_eq!(m["sla_breached_at"], "2026-03-02T17:00:00Z");
    assert_eq!(m["first_response_sla_elapsed_s"], 2400.0);
    assert_eq!(m["first_response_sla_status"], "succeeded");
    assert_eq!(m["first_response_sla_due_at"], "2026-03-02T10:00:00Z");

    let r = case(&app, "R").await;
    assert_eq!(r["sla_policy_id"], "standard");
    assert_eq!(r["sla_elapsed_s"], 14400.0);
    assert_eq!(r["sla_status"], "succeeded");
    assert_eq!(r["first_response_sla_status"], Value::Null);

    let p = case(&app, "P").await;
    assert_eq!(p["sla_target_s"], 7200.0);
    // Counted: Fri 17:00-17:30 and Mon 09:00-11:00 minus the hold's Mon 09:00-10:00.
    assert_eq!(p["sla_elapsed_s"], 5400.0);
    assert_eq!(p["sla_paused_s"], 1800.0 + 3600.0);
    assert_eq!(p["sla_status"], "succeeded");
    // The first response (the information request at 17:30) came after 30 minutes.
    assert_eq!(p["first_response_sla_elapsed_s"], 1800.0);

    let sla = app.get("/v1/cases/P/sla", Some(&app.keys.viewer)).await;
    assert_eq!(sla.status, StatusCode::OK);
    let sla = sla.json();
    assert_eq!(sla["policy"]["id"], "urgent");
    assert_eq!(sla["calendar"], json!({"id": "lisbon", "version": 1}));
    let resolution = sla["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "resolution")
        .unwrap();
    let timeline: Vec<(String, String, String, Value)> = resolution["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start"].as_str().unwrap().to_owned(),
                s["end"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
                s["reason"].clone(),
            )
        })
        .collect();
    let row = |a: &str, b: &str, kind: &str, reason: Value| {
        (a.to_owned(), b.to_owned(), kind.to_owned(), reason)
    };
    assert_eq!(
        timeline,
        [
            row(
                "2026-03-06T17:00:00Z",
                "2026-03-06T17:30:00Z",
                "counted",
                Value::Null
            ),
            row(
                "2026-03-06T17:30:00Z",
                "2026-03-06T18:00:00Z",
                "paused",
                json!("Em Espera")
            ),
            row(
                "2026-03-06T18:00:00Z",
                "2026-03-09T09:00:00Z",
                "closed_hours",
                Value::Null
            ),
            row(
                "2026-03-09T09:00:00Z",
                "2026-03-09T10:00:00Z",
                "paused",
                json!("Em Espera")
            ),
            row(
                "2026-03-09T10:00:00Z",
                "2026-03-09T11:00:00Z",
                "counted",
                Value::Null
            ),
        ]
    );
    let counted: f64 = resolution["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "counted")
        .map(|s| s["seconds"].as_f64().unwrap())
        .sum();
    assert_eq!(counted, resolution["elapsed_s"].as_f64().unwrap());
    app.get("/v1/cases/nope/sla", Some(&app.keys.viewer))
        .await
        .problem(StatusCode::NOT_FOUND);

    // KPIs by policy: urgent has M (resolution breached, first response met) and P (both
    // met); standard has R (met, no first-response target).
    let summary = app
        .get(
            "/v1/kpis/summary?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&group_by=sla_policy_id",
            Some(&app.keys.viewer),
        )
        .await;
    assert_eq!(summary.status, StatusCode::OK);
    let summary = summary.json();
    let group = |policy: &str| {
        summary["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group"]["sla_policy_id"] == policy)
            .unwrap()["kpis"]
            .clone()
    };
    let urgent = group("urgent");
    let rate = |v: &Value| (v["numerator"].clone(), v["denominator"].clone());
    assert_eq!(rate(&urgent["sla_compliance"]), (json!(1), json!(2)));
    assert_eq!(
        rate(&urgent["first_response_sla_compliance"]),
        (json!(2), json!(2))
    );
    assert_eq!(urgent["first_response_sla_compliance"]["cohort"], "created");
    // Business first responses 2400 and 1800 s; business resolutions 32400 and 5400 s.
    assert_eq!(urgent["business_first_response"]["count"], 2);
    assert_eq!(urgent["business_first_response"]["mean_s"], 2100.0);
    assert_eq!(urgent["business_resolution"]["median_s"], 18900.0);
    let standard = group("standard");
    assert_eq!(rate(&standard["sla_compliance"]), (json!(1), json!(1)));
    assert_eq!(
        rate(&standard["first_response_sla_compliance"]),
        (json!(0), json!(0))
    );
    assert_eq!(
        standard["first_response_sla_compliance"]["value"],
        Value::Null
    );
    assert_eq!(standard["business_resolution"]["mean_s"], 14400.0);

    // An open urgent case created Monday 2026-03-09 09:00 with no response: at 09:50 its first
    // response is due in 10 minutes (0-1h); at 11:00 it is overdue.
    post_events(
        &app,
        vec![event(
            "Q",
            "Case Created",
            "2026-03-09T09:00:00Z",
            json!({"priority": "urgent"}),
        )],
    )
    .await;
    let q = case(&app, "Q").await;
    assert_eq!(q["first_response_sla_due_at"], "2026-03-09T10:00:00Z");
    assert_eq!(q["first_response_sla_status"], "noncompliant");
    let due = |at: &str| {
        let app = &app;
        let uri = format!("/v1/kpis/backlog?at={at}&priority=urgent");
        async move {
            let backlog = app.get(&uri, Some(&app.keys.viewer)).await.json();
            backlog["groups"][0]["time_to_due"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    (
                        b["due"].as_str().unwrap().to_owned(),
                        b["cases"].as_i64().unwrap(),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect::<Vec<_>>()
        }
    };
    // P (resolved at 11:00) was still open then: its resolution clock, 5400 of its 7200 s
    // used, is due at 11:30.
    assert_eq!(
        due("2026-03-09T09:50:00Z").await,
        [("0-1h".to_owned(), 1), ("1-4h".to_owned(), 1)]
    );
    assert_eq!(
        due("2026-03-09T11:00:00Z").await,
        [("overdue".to_owned(), 1)]
    );
}

#[tokio::test]
async fn a_holiday_added_later_applies_after_an_exact_recomputation() {
    let app = TestApp::new().await;
    configure(&app).await;
    // Created Monday 09:00 under the default policy, resolved Wednesday 12:00: 9 + 9 + 3 h.
    post_events(
        &app,
        vec![
            event("H", "Case Created", "2026-03-02T09:00:00Z", json!({})),
            event(
                "H",
                "Case Resolved",
                "2026-03-04T12:00:00Z",
                json!({"agent": "ana"}),
            ),
            // Resolved before the holiday: its row stays as it is.
            event("O", "Case Created", "2026-03-02T09:00:00Z", json!({})),
            event(
                "O",
                "Case Resolved",
                "2026-03-02T12:00:00Z",
                json!({"agent": "ana"}),
            ),
        ],
    )
    .await;
    assert_eq!(case(&app, "H").await["sla_elapsed_s"], 75600.0);

    // Tuesday becomes a holiday (a new calendar version, effective from the start).
    let admin = Some(app.keys.admin.as_str());
    let reply = app
        .put_json(
            "/v1/calendars/lisbon?effective_from=2026-01-01T00:00:00Z",
            admin,
            office(json!([{"date": "2026-03-03", "name": "Carnival"}])),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["version"], 2);
    assert!(
        reply.json()["note"]
            .as_str()
            .unwrap()
            .contains("recomputation")
    );
    // Stored figures stay until recomputed.
    assert_eq!(case(&app, "H").await["sla_elapsed_s"], 75600.0);

    let recompute = || async {
        let reply = app
            .post_json(
                "/v1/sla/recomputations",
                admin,
                json!({"created_from": "2026-03-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        let id = reply.json()["id"].as_i64().unwrap();
        loop {
            let job = app
                .get(&format!("/v1/sla/recomputations/{id}"), admin)
                .await
                .json();
            if job["status"] != "running" {
                break job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    // A REINDEX ... CONCURRENTLY swaps in a new index under the same name.
    let index_oid = || async {
        sqlx::query_scalar::<_, i64>("SELECT 'cases_created_kpi'::regclass::oid::int8")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    let before = index_oid().await;
    let job = recompute().await;
    assert_eq!(job["status"], "succeeded", "{job}");
    // One row of two changed, more than a quarter of the table: its indexes were rebuilt.
    let rebuilt = index_oid().await;
    assert_ne!(rebuilt, before);
    // Nothing changes the second time: nothing written, nothing rebuilt.
    assert_eq!(recompute().await["status"], "succeeded");
    assert_eq!(index_oid().await, rebuilt);
    assert_eq!(
        (job["cases_total"].as_i64(), job["cases_done"].as_i64()),
        (Some(2), Some(2))
    );
    let h = case(&app, "H").await;
    assert_eq!(h["sla_elapsed_s"], 43200.0);
    let sla = app
        .get("/v1/cases/H/sla", Some(&app.keys.viewer))
        .await
        .json();
    let kinds: Vec<(&str, Option<&str>)> = sla["targets"][0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["reason"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("counted", None),
            ("closed_hours", None),
            ("holiday", Some("Carnival")),
            ("closed_hours", None),
            ("counted", None),
        ]
    );
    assert_eq!(sla["calendar"]["version"], 2);

    // Exact: the recomputed row equals what a fresh import computes under the same setup.
    let fresh = TestApp::new().await;
    configure(&fresh).await;
    fresh
        .put_json(
            "/v1/calendars/lisbon?effective_from=2026-01-01T00:00:00Z",
            Some(&fresh.keys.admin),
            office(json!([{"date": "2026-03-03", "name": "Carnival"}])),
        )
        .await;
    post_events(
        &fresh,
        vec![
            event("H", "Case Created", "2026-03-02T09:00:00Z", json!({})),
            event(
                "H",
                "Case Resolved",
                "2026-03-04T12:00:00Z",
                json!({"agent": "ana"}),
            ),
        ],
    )
    .await;
    let again = case(&fresh, "H").await;
    for field in [
        "sla_elapsed_s",
        "sla_paused_s",
        "sla_due_at",
        "sla_status",
        "sla_breached_at",
        "sla_margin_s",
    ] {
        assert_eq!(again[field], h[field], "{field}");
    }

    app.post_json(
        "/v1/sla/recomputations",
        admin,
        json!({"created_from": "2026-03-02T00:00:00Z", "created_to": "2026-03-01T00:00:00Z"}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn policies_are_versioned_and_retired() {
    let app = TestApp::new().await;
    configure(&app).await;
    let admin = Some(app.keys.admin.as_str());
    // From March on, urgent resolution is 4 h; cases created before keep version 1.
    let v2 = json!({
        "name": "Urgent", "rank": 1, "match": {"priority": ["urgent"]}, "calendar_id": "lisbon",
        "targets": {"resolution": {"target_s": 14400}}
    });
    let reply = app
        .put_json(
            "/v1/sla-policies/urgent?effective_from=2026-03-01T00:00:00Z",
            admin,
            v2,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["version"], 2);
    post_events(
        &app,
        vec![
            event(
                "old",
                "Case Created",
                "2026-02-26T09:00:00Z",
                json!({"priority": "urgent"}),
            ),
            event(
                "new",
                "Case Created",
                "2026-03-02T09:00:00Z",
                json!({"priority": "urgent"}),
            ),
        ],
    )
    .await;
    let old = case(&app, "old").await;
    assert_eq!(
        (
            old["sla_policy_version"].clone(),
            old["sla_target_s"].clone()
        ),
        (json!(1), json!(28800.0))
    );
    let new = case(&app, "new").await;
    assert_eq!(
        (
            new["sla_policy_version"].clone(),
            new["sla_target_s"].clone()
        ),
        (json!(2), json!(14400.0))
    );
    let versions = app
        .get("/v1/sla-policies/urgent/versions", Some(&app.keys.viewer))
        .await
        .json();
    assert_eq!(versions.as_array().unwrap().len(), 2);

    // Any stored attribute: a ranked-first policy for the VIP segment (an extra attribute).
    let vip = json!({
        "name": "VIP", "rank": 0, "match": {"attributes": {"segment": ["vip"]}},
        "targets": {"resolution": {"target_s": 1800}}
    });
    let reply = app
        .put_json(
            "/v1/sla-policies/vip?effective_from=2026-01-01T00:00:00Z",
            admin,
            vip,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    post_events(
        &app,
        vec![event(
            "vip",
            "Case Created",
            "2026-03-02T09:00:00Z",
            json!({"priority": "urgent", "segment": "VIP"}),
        )],
    )
    .await;
    let vip = case(&app, "vip").await;
    assert_eq!(
        (vip["sla_policy_id"].clone(), vip["sla_calendar_id"].clone()),
        (json!("vip"), json!("24x7"))
    );
    assert_eq!(vip["sla_target_s"], 1800.0);
    app.put_json(
        "/v1/sla-policies/empty",
        admin,
        json!({"name": "x", "match": {"attributes": {"segment": []}}, "targets": {"resolution": {"target_s": 60}}}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);

    let reply = app
        .send(request(
            Method::DELETE,
            "/v1/sla-policies/urgent",
            admin,
            None,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["active"], false);
    let list = app.get("/v1/sla-policies", admin).await.json();
    assert_eq!(common::strings(&list, "id"), ["vip", "standard", "urgent"]);
    assert_eq!(list[2]["active"], false);
}
