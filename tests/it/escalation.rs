//! Escalation accuracy on a real PostgreSQL: rules, escalated cases from events, the share
//! the rules allow by agent and by team, and refusals.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};

fn event(case: &str, activity: &str, time: &str, extra: Value) -> Value {
    let mut e = json!({"case_id": case, "activity": activity, "event_time": time});
    if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            e.insert(k.clone(), v.clone());
        }
    }
    e
}

#[tokio::test]
async fn escalations_are_judged_by_the_rules_by_agent_and_team() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    let viewer = Some(app.keys.viewer.as_str());
    let q = "/v1/kpis/escalation-accuracy?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";
    app.get(q, viewer).await.problem(StatusCode::CONFLICT);
    let rules = json!({"rules": [
        {"request_type": "Billing", "owner_team": "Billing L2"},
        {"request_type": "Technical", "owner_team": "Tech L2",
         "hours": {"time_zone": "Europe/Lisbon", "start": "08:00", "end": "18:00"}},
    ]});
    let reply = app
        .put_json("/v1/escalation-rules", admin, rules.clone())
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json(), rules);
    let events = json!([
        // Correct: billing to Billing L2.
        event(
            "E1",
            "Case Created",
            "2026-03-02T09:00:00Z",
            json!({"request_type": "Billing", "owner_team": "Billing L1"})
        ),
        event(
            "E1",
            "Case Escalated",
            "2026-03-02T09:30:00Z",
            json!({"agent": "ana", "owner_team": "Billing L2"})
        ),
        // Incorrect: billing to Tech L2.
        event(
            "E2",
            "Case Created",
            "2026-03-02T09:00:00Z",
            json!({"request_type": "Billing"})
        ),
        event(
            "E2",
            "Case Escalated",
            "2026-03-02T10:00:00Z",
            json!({"agent": "ana", "owner_team": "Tech L2"})
        ),
        // Correct: technical to Tech L2 at 10:00 in Lisbon (UTC+0 in March before the 29th).
        event(
            "E3",
            "Case Created",
            "2026-03-03T09:00:00Z",
            json!({"request_type": "Technical"})
        ),
        event(
            "E3",
            "Case Escalated",
            "2026-03-03T10:00:00Z",
            json!({"agent": "bob", "owner_team": "Tech L2"})
        ),
        // Incorrect: the same at 20:30, outside the rule's hours.
        event(
            "E4",
            "Case Created",
            "2026-03-03T19:00:00Z",
            json!({"request_type": "Technical"})
        ),
        event(
            "E4",
            "Case Escalated",
            "2026-03-03T20:30:00Z",
            json!({"agent": "bob", "owner_team": "Tech L2"})
        ),
        // Unjudged: no request type.
        event("E5", "Case Created", "2026-03-04T09:00:00Z", json!({})),
        event(
            "E5",
            "Case Escalated",
            "2026-03-04T10:00:00Z",
            json!({"agent": "bob", "owner_team": "Tech L2"})
        ),
        // Not escalated; and escalated outside the period.
        event(
            "N1",
            "Case Created",
            "2026-03-04T09:00:00Z",
            json!({"request_type": "Billing"})
        ),
        event(
            "O1",
            "Case Created",
            "2026-02-04T09:00:00Z",
            json!({"request_type": "Billing"})
        ),
        event(
            "O1",
            "Case Escalated",
            "2026-02-04T10:00:00Z",
            json!({"agent": "ana", "owner_team": "Tech L2"})
        ),
    ]);
    let reply = app.post_json("/v1/events", admin, events).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    let reply = app.get(q, viewer).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["cohort"], "created");
    assert_eq!(body["rules"], 2);
    assert_eq!(
        (
            &body["escalated"],
            &body["judged"],
            &body["correct"],
            &body["accuracy"]
        ),
        (&json!(5), &json!(4), &json!(2), &json!(0.5))
    );
    let agents: Vec<(String, i64, i64, i64)> = body["by_agent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["agent"].as_str().unwrap().to_owned(),
                a["escalated"].as_i64().unwrap(),
                a["judged"].as_i64().unwrap(),
                a["correct"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(agents, [("ana".into(), 2, 2, 1), ("bob".into(), 3, 2, 1)]);
    let teams: Vec<(String, Value)> = body["by_team"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["owner_team"].as_str().unwrap().to_owned(),
                t["accuracy"].clone(),
            )
        })
        .collect();
    assert_eq!(
        teams,
        [
            ("Billing L2".into(), json!(1.0)),
            ("Tech L2".into(), json!(1.0 / 3.0))
        ]
    );

    // Refusals: bad rules name their fields and change nothing; roles.
    let problem = app
        .put_json(
            "/v1/escalation-rules",
            admin,
            json!({"rules": [{"request_type": "", "owner_team": "X",
            "hours": {"time_zone": "Nowhere", "start": "18:00", "end": "08:00"}}]}),
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let fields = common::strings(&problem["errors"], "field");
    assert_eq!(
        fields,
        [
            "/rules/0/request_type",
            "/rules/0/hours/time_zone",
            "/rules/0/hours/end"
        ]
    );
    assert_eq!(app.get("/v1/escalation-rules", viewer).await.json(), rules);
    app.put_json("/v1/escalation-rules", viewer, rules)
        .await
        .problem(StatusCode::FORBIDDEN);
    app.get(q, Some(&app.keys.scorer))
        .await
        .problem(StatusCode::FORBIDDEN);
    app.get(
        "/v1/kpis/escalation-accuracy?from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z",
        viewer,
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
}
