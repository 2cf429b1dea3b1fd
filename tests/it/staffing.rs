//! Staffing over HTTP: Erlang C / A against the committed reference values, validation, and a
//! plan from arrivals observed in the case store.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};

fn close(actual: &Value, expected: &Value, what: &str) {
    let (a, e) = (actual.as_f64().unwrap(), expected.as_f64().unwrap());
    assert!(
        (a - e).abs() <= 1e-9 * e.abs().max(1.0),
        "{what}: {a} vs {e}"
    );
}

#[tokio::test]
async fn erlang_c_and_a_answer_the_reference_values() {
    let app = TestApp::new().await;
    let key = Some(app.keys.viewer.as_str());
    for (path, file) in [
        ("/v1/staffing/erlang-c", "erlang_c.json"),
        ("/v1/staffing/erlang-a", "erlang_a.json"),
    ] {
        let cases = common::fixture(&format!("staffing/{file}"))["cases"]
            .as_array()
            .unwrap()
            .clone();
        for case in cases.iter().take(12) {
            let reply = app.post_json(path, key, case["request"].clone()).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{}: {}",
                case["name"],
                String::from_utf8_lossy(&reply.body)
            );
            let result = reply.json();
            let expected = &case["expected"];
            assert_eq!(
                result["raw_agents"], expected["raw_agents"],
                "{}",
                case["name"]
            );
            assert_eq!(
                result["scheduled_agents"], expected["scheduled_agents"],
                "{}",
                case["name"]
            );
            close(
                &result["service_level"],
                &expected["service_level"],
                "service level",
            );
            close(
                &result["probability_of_waiting"],
                &expected["probability_of_waiting"],
                "P(wait)",
            );
        }
    }
    // 21 agents after 30 % shrinkage is 30, not 31.
    let cases = common::fixture("staffing/erlang_c.json")["cases"]
        .as_array()
        .unwrap()
        .clone();
    let shrinkage = cases
        .iter()
        .find(|c| c["expected"]["raw_agents"] == 21 && c["request"]["shrinkage"] == 0.3);
    if let Some(case) = shrinkage {
        let result = app
            .post_json("/v1/staffing/erlang-c", key, case["request"].clone())
            .await
            .json();
        assert_eq!(result["scheduled_agents"], 30);
    }
}

#[tokio::test]
async fn invalid_inputs_name_their_fields() {
    let app = TestApp::new().await;
    let request = json!({"calls": -5.0, "interval_s": 1800.0, "aht_s": 0.0, "target_service_level": 1.5, "answer_time_s": 20.0});
    let reply = app
        .post_json("/v1/staffing/erlang-c", Some(&app.keys.viewer), request)
        .await;
    let problem = reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let fields = common::strings(&problem["errors"], "field");
    assert!(
        fields.contains(&"calls")
            && fields.contains(&"aht_s")
            && fields.contains(&"target_service_level"),
        "{fields:?}"
    );
    let reply = app
        .get("/v1/staffing/plan?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z&interval=7x&tz=Moon/Base&target=80%", Some(&app.keys.viewer))
        .await;
    let problem = reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 4, "{problem}");
}

#[tokio::test]
async fn a_plan_sizes_observed_arrivals() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    // 6 cases created between 09:00 and 09:30, 3 between 09:30 and 10:00; each picked up and
    // answered 10 minutes later (the handling-time proxy).
    let mut events = Vec::new();
    for i in 0..9 {
        let created = if i < 6 {
            format!("2026-05-04T09:0{i}:00Z")
        } else {
            format!("2026-05-04T09:4{i}:00Z")
        };
        let minute = if i < 6 {
            format!("2026-05-04T09:1{i}:00Z")
        } else {
            format!("2026-05-04T09:5{i}:00Z")
        };
        let answered = if i < 6 {
            format!("2026-05-04T09:2{i}:00Z")
        } else {
            format!("2026-05-04T10:0{i}:00Z")
        };
        let case = format!("P{i}");
        events.push(json!({"case_id": case, "activity": "Case Created", "event_time": created, "channel": "phone"}));
        events.push(json!({"case_id": case, "activity": "Queue Item Picked by Agent", "event_time": minute, "agent": "ana"}));
        events.push(json!({"case_id": case, "activity": "Solution Proposed to Customer", "event_time": answered, "agent": "ana"}));
    }
    let stored = app
        .post_json("/v1/events", admin, Value::Array(events))
        .await
        .json();
    assert_eq!(stored["events_stored"], 27);
    let plan = app
        .get("/v1/staffing/plan?from=2026-05-04T09:00:00Z&to=2026-05-04T10:30:00Z&interval=30m&tz=Europe/Lisbon&channel=phone", admin)
        .await
        .json();
    let intervals = plan["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 3);
    let arrivals: Vec<i64> = intervals
        .iter()
        .map(|i| i["observed_arrivals"].as_i64().unwrap())
        .collect();
    assert_eq!(arrivals, [6, 3, 0]);
    assert_eq!(intervals[0]["aht_s"], 600.0);
    assert_eq!(intervals[0]["local_start"], "2026-05-04T10:00:00+01:00");
    // 6 contacts x 600 s in 1,800 s = 2 Erlangs: the same as asking Erlang C directly.
    let direct = app
        .post_json(
            "/v1/staffing/erlang-c",
            admin,
            json!({"calls": 6.0, "interval_s": 1800.0, "aht_s": 600.0, "target_service_level": 0.8, "answer_time_s": 20.0}),
        )
        .await
        .json();
    assert_eq!(
        intervals[0]["requirement"]["raw_agents"],
        direct["raw_agents"]
    );
    assert_eq!(intervals[2]["requirement"]["raw_agents"], 0);
    let other = app
        .get(
            "/v1/staffing/plan?from=2026-05-04T09:00:00Z&to=2026-05-04T10:00:00Z&channel=email",
            admin,
        )
        .await
        .json();
    assert_eq!(other["intervals"][0]["observed_arrivals"], 0);
}
