//! Campaigns end to end on a real PostgreSQL: a scoring run of the demo model, cases in the
//! case store, links, then selection, suppression, sticky holdout, call lists, exclusions,
//! attempts and KPIs, and every refusal as problem+json.

use crate::common;

use std::collections::{HashMap, HashSet};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use common::{Reply, TestApp};
use serde_json::{Value, json};
use switchboard::campaigns::{holdout, intervals};

const AS_OF: &str = "2026-03-20T00:00:00Z";

/// Scores the 1,200 accounts of the batch fixture; returns the run id and the stored scores,
/// highest probability first (ties by account id), as the campaign orders them.
async fn scored_run(app: &TestApp) -> (i64, Vec<(String, f64, i16)>) {
    let file = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/scoring/batch/accounts.csv"),
    )
    .unwrap();
    let run = app
        .upload_ok("/v1/scoring-runs?wait=true", "accounts.csv", &file)
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let run_id = run["id"].as_i64().unwrap();
    let mut scores: Vec<(String, f64, i16)> = sqlx::query_as(
        "SELECT account_id, probability, decile FROM account_scores WHERE run_id = $1",
    )
    .bind(run_id)
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (run_id, scores)
}

async fn send_body(
    app: &TestApp,
    method: Method,
    uri: &str,
    content_type: &str,
    body: String,
) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {}", app.keys.admin))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

async fn ok_json(reply: Reply) -> Value {
    assert!(
        reply.status.is_success(),
        "{}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

fn event(case: &str, activity: &str, time: &str, customer: &str, extra: Value) -> Value {
    let mut e = json!({"case_id": case, "activity": activity, "event_time": time, "customer": customer, "agent": "ana"});
    if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            e.insert(k.clone(), v.clone());
        }
    }
    e
}

fn suppressed(campaign: &Value) -> HashMap<String, i64> {
    campaign["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_owned(),
                r["accounts"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_campaign_selects_suppresses_by_service_holds_out_stickily_and_lists_whom_to_call() {
    let app = TestApp::with_demo_model().await;
    let (run_id, scores) = scored_run(&app).await;
    let decile1: Vec<&(String, f64, i16)> = scores.iter().filter(|s| s.2 == 1).collect();
    // pd.qcut's decile 1 of the fixture (not exactly a tenth).
    assert_eq!(decile1.len(), 116);
    let id = |k: usize| decile1[k].0.clone();

    // The case store: account 0 has an open case (matched by equal ids); account 1 is linked
    // to customer CUST-B whose resolved case got a CSAT of 1; account 2 had a complaint;
    // account 4 an escalation; account 5 only an old resolved case (not suppressed).
    let events = json!([
        event(
            "CAS-0",
            "Case Created",
            "2026-03-15T09:00:00Z",
            &id(0),
            json!({})
        ),
        event(
            "CAS-B",
            "Case Created",
            "2026-03-10T09:00:00Z",
            "CUST-B",
            json!({})
        ),
        event(
            "CAS-B",
            "Case Resolved",
            "2026-03-10T10:00:00Z",
            "CUST-B",
            json!({"csat": 1})
        ),
        event(
            "CAS-2",
            "Case Created",
            "2026-03-12T09:00:00Z",
            &id(2),
            json!({"request_type": "Complaint"})
        ),
        event(
            "CAS-2",
            "Case Resolved",
            "2026-03-12T11:00:00Z",
            &id(2),
            json!({})
        ),
        event(
            "CAS-4",
            "Case Created",
            "2026-03-01T09:00:00Z",
            &id(4),
            json!({})
        ),
        event(
            "CAS-4",
            "Case Escalated",
            "2026-03-01T10:00:00Z",
            &id(4),
            json!({})
        ),
        event(
            "CAS-4",
            "Case Resolved",
            "2026-03-02T10:00:00Z",
            &id(4),
            json!({})
        ),
        event(
            "CAS-5",
            "Case Created",
            "2025-06-01T09:00:00Z",
            &id(5),
            json!({"request_type": "Complaint", "csat": 1})
        ),
        event(
            "CAS-5",
            "Case Resolved",
            "2025-06-01T10:00:00Z",
            &id(5),
            json!({})
        ),
    ]);
    ok_json(
        app.post_json("/v1/events", Some(&app.keys.admin), events)
            .await,
    )
    .await;

    // Links: CSV, then JSON; re-sending is idempotent.
    let links_csv = format!(
        "account_id,customer,time_zone,window_start,window_end\n{},CUST-B,America/Sao_Paulo,10:00,18:00\n",
        id(1)
    );
    let report = ok_json(
        send_body(
            &app,
            Method::POST,
            "/v1/account-links",
            "text/csv",
            links_csv.clone(),
        )
        .await,
    )
    .await;
    assert_eq!(
        (report["inserted"].as_i64(), report["updated"].as_i64()),
        (Some(1), Some(0))
    );
    let report = ok_json(
        send_body(
            &app,
            Method::POST,
            "/v1/account-links",
            "text/csv",
            links_csv,
        )
        .await,
    )
    .await;
    assert_eq!(
        (report["inserted"].as_i64(), report["updated"].as_i64()),
        (Some(0), Some(1))
    );
    let links_json =
        json!({"links": [{"account_id": id(7), "customer": id(7), "time_zone": "Europe/Lisbon"}]});
    ok_json(
        send_body(
            &app,
            Method::POST,
            "/v1/account-links",
            "application/json",
            links_json.to_string(),
        )
        .await,
    )
    .await;

    let request = json!({
        "name": "spring cross-sell",
        "run_id": run_id,
        "selection": {"deciles": [1]},
        "suppression": {"request_types": ["complaint"], "opt_out": [id(3)]},
        "holdout_share": 0.2,
        "seed": "spring-2027",
        "as_of": AS_OF,
    });
    let reply = app
        .post_json("/v1/campaigns", Some(&app.keys.admin), request.clone())
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let campaign = reply.json();
    let campaign_id = campaign["id"].as_i64().unwrap();
    assert_eq!(
        reply.headers[header::LOCATION],
        format!("/v1/campaigns/{campaign_id}").as_str()
    );
    let excluded: HashSet<String> = [0, 1, 2, 3, 4].iter().map(|&k| id(k)).collect();
    let counts = suppressed(&campaign);
    assert_eq!(campaign["selected"], 116);
    assert_eq!(counts["opt_out"], 1);
    assert_eq!(counts["open_case"], 1);
    assert_eq!(counts["low_csat"], 1);
    assert_eq!(counts["request_type"], 1);
    assert_eq!(counts["escalation"], 1);
    assert_eq!(
        counts["sla_breach"] + counts["reactivation"] + counts["contact_cap"],
        0
    );
    assert_eq!(campaign["suppressed_total"], 5);
    // The holdout is the pure hash's: SQL and Rust agree account by account.
    let eligible: Vec<&String> = decile1
        .iter()
        .map(|s| &s.0)
        .filter(|a| !excluded.contains(*a))
        .collect();
    let held: HashSet<&String> = eligible
        .iter()
        .copied()
        .filter(|a| holdout::is_holdout("spring-2027", a, 0.2))
        .collect();
    assert!(!held.is_empty());
    assert_eq!(campaign["held_out"].as_u64(), Some(held.len() as u64));
    assert_eq!(
        campaign["to_call"].as_u64(),
        Some((eligible.len() - held.len()) as u64)
    );
    let to_call: Vec<&String> = eligible
        .iter()
        .copied()
        .filter(|a| !held.contains(a))
        .collect();

    // Exclusions prove why each was skipped.
    let page = ok_json(
        app.get(
            &format!("/v1/campaigns/{campaign_id}/exclusions"),
            Some(&app.keys.viewer),
        )
        .await,
    )
    .await;
    let rows: HashMap<String, (String, Option<String>)> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["account_id"].as_str().unwrap().to_owned(),
                (
                    r["rule"].as_str().unwrap().to_owned(),
                    r["detail"].as_str().map(str::to_owned),
                ),
            )
        })
        .collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[&id(0)], ("open_case".into(), Some("CAS-0".into())));
    assert_eq!(rows[&id(1)], ("low_csat".into(), Some("CAS-B".into())));
    assert_eq!(rows[&id(2)], ("request_type".into(), Some("CAS-2".into())));
    assert_eq!(rows[&id(3)], ("opt_out".into(), None));
    assert_eq!(rows[&id(4)], ("escalation".into(), Some("CAS-4".into())));
    let account = ok_json(
        app.get(
            &format!("/v1/campaigns/{campaign_id}/accounts/{}", id(5)),
            Some(&app.keys.scorer),
        )
        .await,
    )
    .await;
    let bucket = holdout::bucket("spring-2027", &id(5));
    assert_eq!(account["holdout_bucket"].as_f64(), Some(bucket));
    assert_eq!(
        account["status"],
        if bucket < 0.2 { "holdout" } else { "call" }
    );

    // The call list: JSON pages in probability order, then the same rows as CSV.
    let at = "2026-03-23T12:00:00Z";
    let first = ok_json(
        app.get(
            &format!("/v1/campaigns/{campaign_id}/call-list?limit=10&at={at}"),
            Some(&app.keys.scorer),
        )
        .await,
    )
    .await;
    let got: Vec<&str> = first["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["account_id"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = to_call.iter().take(10).map(|s| s.as_str()).collect();
    assert_eq!(got, want);
    let after = first["next_after"].as_i64().unwrap();
    let second = ok_json(
        app.get(
            &format!("/v1/campaigns/{campaign_id}/call-list?limit=1000&after={after}&at={at}"),
            Some(&app.keys.viewer),
        )
        .await,
    )
    .await;
    assert_eq!(second["rows"].as_array().unwrap().len(), to_call.len() - 10);
    assert_eq!(second["next_after"], Value::Null);
    let row0 = &first["rows"][0];
    assert_eq!(row0["decile"], 1);
    assert_eq!(row0["calling_window"]["time_zone"], "UTC");
    assert_eq!(row0["calling_window"]["open_now"], true);
    assert_eq!(row0["calling_window"]["next_end"], "2026-03-23T20:00:00Z");
    if to_call.contains(&&id(7)) {
        let lisbon = second["rows"]
            .as_array()
            .unwrap()
            .iter()
            .chain(first["rows"].as_array().unwrap())
            .find(|r| r["account_id"] == id(7).as_str())
            .unwrap();
        // Lisbon is UTC+0 in March (before the 29th): 09:00-20:00 local.
        assert_eq!(lisbon["calling_window"]["time_zone"], "Europe/Lisbon");
        assert_eq!(
            lisbon["calling_window"]["next_start"],
            "2026-03-23T12:00:00Z"
        );
    }
    let csv = app
        .get(
            &format!("/v1/campaigns/{campaign_id}/call-list?format=csv&at={at}"),
            Some(&app.keys.viewer),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type().starts_with("text/csv"));
    let text = String::from_utf8(csv.body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "position,account_id,probability,decile,customer,time_zone,window_start,window_end,open_now,next_window_start,next_window_end,reasons"
    );
    assert_eq!(lines.len(), to_call.len() + 1);
    let csv_ids: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(
        csv_ids,
        to_call.iter().map(|s| s.as_str()).collect::<Vec<_>>()
    );
    let first_fields: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        first_fields[2].parse::<f64>().unwrap(),
        decile1
            .iter()
            .find(|s| s.0 == to_call[0].as_str())
            .unwrap()
            .1
    );
    assert_eq!(
        &first_fields[5..],
        [
            "UTC",
            "09:00",
            "20:00",
            "true",
            "2026-03-23T12:00:00Z",
            "2026-03-23T20:00:00Z",
            "" // reasons: the run kept none
        ]
    );

    // Sticky: the same seed holds out the same accounts; another seed others.
    let again = ok_json(
        app.post_json(
            "/v1/campaigns",
            Some(&app.keys.admin),
            json!({
        "name": "spring wave 2", "run_id": run_id, "selection": {"deciles": [1, 2]},
        "holdout_share": 0.2, "seed": "spring-2027", "as_of": AS_OF}),
        )
        .await,
    )
    .await;
    let held_again: HashSet<String> = sqlx::query_scalar(
        "SELECT account_id FROM campaign_members WHERE campaign_id = $1 AND status = 'holdout'",
    )
    .bind(again["id"].as_i64().unwrap())
    .fetch_all(&app.state.db)
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert!(held.iter().all(|a| held_again.contains(*a)));
    let top_two = scores.iter().filter(|s| s.2 <= 2).count();
    assert_eq!(again["selected"].as_u64(), Some(top_two as u64));

    // The default run is the newest; top_n and a floor select too.
    let top = ok_json(app.post_json("/v1/campaigns", Some(&app.keys.admin), json!({
        "name": "top 50", "selection": {"top_n": 50, "min_probability": 0.0},
        "suppression": {"open_case": false, "sla_breach": false, "reactivation": false, "escalation": false, "low_csat": false},
        "holdout_share": 0, "as_of": AS_OF})).await).await;
    assert_eq!(top["run_id"], run_id);
    assert_eq!(
        (top["selected"].as_i64(), top["to_call"].as_i64()),
        (Some(50), Some(50))
    );
}

#[tokio::test]
async fn attempts_give_rpc_kpis_and_incremental_conversion_against_the_holdout() {
    let app = TestApp::with_demo_model().await;
    let (run_id, _) = scored_run(&app).await;
    let created = ok_json(
        app.post_json(
            "/v1/campaigns",
            Some(&app.keys.admin),
            json!({
        "name": "kpis", "run_id": run_id, "selection": {"deciles": [1, 2]},
        "holdout_share": 0.5, "seed": "k", "as_of": AS_OF}),
        )
        .await,
    )
    .await;
    let campaign_id = created["id"].as_i64().unwrap();
    let members: Vec<(String, String, i16)> = sqlx::query_as(
        "SELECT account_id, status, decile FROM campaign_members WHERE campaign_id = $1 ORDER BY position",
    )
    .bind(campaign_id)
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let calls: Vec<&(String, String, i16)> = members.iter().filter(|m| m.1 == "call").collect();
    let holdouts: Vec<&(String, String, i16)> =
        members.iter().filter(|m| m.1 == "holdout").collect();
    let c = |k: usize| calls[k].0.as_str();
    let attempt = |id: &str,
                   account: &str,
                   agent: &str,
                   start: &str,
                   end: &str,
                   disposition: &str,
                   offer: Option<&str>| {
        json!({"attempt_id": id, "account_id": account, "agent": agent, "started_at": start,
               "ended_at": end, "disposition": disposition, "offer_result": offer})
    };
    let uri = format!("/v1/campaigns/{campaign_id}/attempts");
    let batch = json!({"attempts": [
        attempt("a1", c(0), "ana", "2026-03-23T09:00:00Z", "2026-03-23T09:05:00Z", "no_answer", None),
        attempt("a2", c(0), "ana", "2026-03-23T09:30:00Z", "2026-03-23T09:40:00Z", "right_party_contact", Some("accepted")),
        attempt("a3", c(1), "ana", "2026-03-23T09:10:00Z", "2026-03-23T09:12:00Z", "busy", None),
        attempt("a1", c(0), "ana", "2026-03-23T09:00:00Z", "2026-03-23T09:05:00Z", "no_answer", None),
        attempt("h1", &holdouts[0].0, "ana", "2026-03-23T09:50:00Z", "2026-03-23T09:51:00Z", "busy", None),
    ]});
    let report = ok_json(
        send_body(
            &app,
            Method::POST,
            &uri,
            "application/json",
            batch.to_string(),
        )
        .await,
    )
    .await;
    assert_eq!(report["received"], 5);
    assert_eq!(report["stored"], 3);
    assert_eq!(report["duplicates"], 1);
    assert_eq!(report["not_on_list"], 1);
    assert_eq!(report["not_on_list_accounts"], json!([holdouts[0].0]));
    // CSV, with a0 a duplicate of a stored attempt.
    let csv = format!(
        "attempt_id,account_id,agent,started_at,ended_at,disposition,offer_result\n\
         a3,{c1},ana,2026-03-23T09:10:00Z,2026-03-23T09:12:00Z,busy,\n\
         b1,{c2},bob,2026-03-23T10:00:00Z,2026-03-23T10:10:00Z,wrong_party,\n\
         b2,{c3},bob,2026-03-23T10:20:00Z,2026-03-23T10:30:00Z,right_party_contact,declined\n\
         b3,{c4},bob,2026-03-23T11:00:00Z,2026-03-23T11:20:00Z,callback_requested,\n",
        c1 = c(1),
        c2 = c(2),
        c3 = c(3),
        c4 = c(4)
    );
    let report = ok_json(send_body(&app, Method::POST, &uri, "text/csv", csv.clone()).await).await;
    assert_eq!(
        (report["stored"].as_i64(), report["duplicates"].as_i64()),
        (Some(3), Some(1))
    );
    let report = ok_json(send_body(&app, Method::POST, &uri, "text/csv", csv).await).await;
    assert_eq!(
        (report["stored"].as_i64(), report["duplicates"].as_i64()),
        (Some(0), Some(4))
    );

    // Bad values refuse the whole upload, naming each field; nothing is stored.
    let bad = json!([
        attempt(
            "x1",
            c(5),
            "ana",
            "2026-03-23T12:00:00Z",
            "2026-03-23T12:01:00Z",
            "hung_up",
            None
        ),
        attempt(
            "x2",
            c(5),
            "ana",
            "2026-03-23T12:00:00Z",
            "2026-03-23T11:00:00Z",
            "busy",
            Some("accepted")
        ),
    ]);
    let problem = send_body(
        &app,
        Method::POST,
        &uri,
        "application/json",
        bad.to_string(),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let fields = common::strings(&problem["errors"], "field");
    assert_eq!(
        fields,
        [
            "/attempts/0/disposition",
            "/attempts/1/ended_at",
            "/attempts/1/offer_result"
        ]
    );
    let bad_csv = "attempt_id,account_id,agent,started_at,ended_at,disposition\nx3,A,ana,yesterday,2026-03-23T11:00:00Z,busy\n";
    let problem = send_body(&app, Method::POST, &uri, "text/csv", bad_csv.into())
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "line 2: started_at");
    let problem = send_body(
        &app,
        Method::POST,
        &uri,
        "text/csv",
        "attempt_id,account_id\nx,y\n".into(),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("`agent`"))
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM campaign_attempts")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 6);

    // Holdout outcomes from the run's outcomes upload: 3 of the first 10 holdouts converted.
    let mut outcomes = String::from("account_id,target\n");
    for (k, h) in holdouts.iter().take(10).enumerate() {
        outcomes.push_str(&format!("{},{}\n", h.0, u8::from(k < 3)));
    }
    ok_json(
        send_body(
            &app,
            Method::POST,
            &format!("/v1/scoring-runs/{run_id}/outcomes"),
            "text/csv",
            outcomes,
        )
        .await,
    )
    .await;

    let kpis = ok_json(
        app.get(
            &format!("/v1/campaigns/{campaign_id}/kpis"),
            Some(&app.keys.viewer),
        )
        .await,
    )
    .await;
    let totals = &kpis["totals"];
    assert_eq!(totals["records"].as_u64(), Some(calls.len() as u64));
    assert_eq!(totals["processed"], 5);
    assert_eq!(totals["attempts"], 6);
    assert_eq!(
        totals["rpc_rate"],
        json!({"numerator": 2, "denominator": 5, "value": 0.4})
    );
    assert_eq!(totals["contact_rate"]["value"], 0.8);
    assert_eq!(totals["attempts_per_record"], 1.2);
    assert_eq!(
        totals["conversion_per_rpc"],
        json!({"numerator": 1, "denominator": 2, "value": 0.5})
    );
    // ana 09:00-09:40, bob 10:00-11:20: two agent hours, two right-party contacts.
    assert_eq!(totals["agent_hours"], 2.0);
    assert_eq!(totals["rpc_per_agent_hour"], 1.0);
    let agents = kpis["by_agent"].as_array().unwrap();
    assert_eq!(agents[0]["agent"], "ana");
    assert_eq!(agents[0]["processed"], 2);
    assert_eq!(agents[0]["rpc_per_agent_hour"], 1.5);
    assert_eq!(agents[1]["agent"], "bob");
    assert_eq!(agents[1]["rpc_per_agent_hour"], 0.75);
    let hours: Vec<(i64, i64, i64)> = kpis["by_local_hour"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["local_hour"].as_i64().unwrap(),
                h["processed"].as_i64().unwrap(),
                h["attempts"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(hours, [(9, 2, 3), (10, 2, 2), (11, 1, 1)]);
    let deciles = kpis["by_decile"].as_array().unwrap();
    assert_eq!(deciles.len(), 2);
    assert_eq!(
        deciles
            .iter()
            .map(|d| d["records"].as_i64().unwrap())
            .sum::<i64>(),
        calls.len() as i64
    );

    // Incremental conversion: treated = accepted offers over the call list's records;
    // holdout = converted outcomes over holdout accounts with an outcome.
    let all = kpis["incremental"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(all["decile"], Value::Null);
    assert_eq!(all["treated_records"].as_u64(), Some(calls.len() as u64));
    assert_eq!(all["treated_conversion"]["numerator"], 1);
    assert_eq!(all["holdout_records"].as_u64(), Some(holdouts.len() as u64));
    assert_eq!(
        all["holdout_conversion"],
        json!({"numerator": 3, "denominator": 10, "value": 0.3})
    );
    let want =
        intervals::newcombe_difference(1, calls.len() as u64, 3, 10, intervals::Z_95).unwrap();
    assert_eq!(all["uplift"]["difference"].as_f64(), Some(want.difference));
    assert_eq!(all["uplift"]["lower"].as_f64(), Some(want.lower));
    assert_eq!(all["uplift"]["upper"].as_f64(), Some(want.upper));

    // Logged agent time replaces the span of the days it covers: ana logged 2 hours on the
    // 23rd (JSON, then re-sent as seconds: replaced), carl 1 hour with no attempt (CSV).
    let time_uri = format!("/v1/campaigns/{campaign_id}/agent-time");
    let report = ok_json(
        send_body(
            &app,
            Method::POST,
            &time_uri,
            "application/json",
            json!({"agent_time": [{"agent": "ana", "date": "2026-03-23", "logged_hours": 2}]})
                .to_string(),
        )
        .await,
    )
    .await;
    assert_eq!(
        (report["inserted"].as_u64(), report["replaced"].as_u64()),
        (Some(1), Some(0))
    );
    let report = ok_json(
        send_body(
            &app,
            Method::POST,
            &time_uri,
            "text/csv",
            "agent,date,logged_seconds\nana,2026-03-23,7200\ncarl,2026-03-23,3600\n".into(),
        )
        .await,
    )
    .await;
    assert_eq!(
        (report["inserted"].as_u64(), report["replaced"].as_u64()),
        (Some(1), Some(1))
    );
    let problem = send_body(
        &app,
        Method::POST,
        &time_uri,
        "application/json",
        json!([
            {"agent": "ana", "date": "23/03/2026", "logged_hours": 25},
            {"agent": "", "date": "2026-03-24", "logged_hours": 1, "logged_seconds": 3600},
            {"agent": "bob", "date": "2026-03-24"}
        ])
        .to_string(),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        common::strings(&problem["errors"], "field"),
        [
            "/agent_time/0/date",
            "/agent_time/0/logged_hours",
            "/agent_time/1/agent",
            "/agent_time/1/logged_hours",
            "/agent_time/2/logged_seconds"
        ]
    );
    let problem = send_body(
        &app,
        Method::POST,
        &time_uri,
        "text/csv",
        "agent,date,logged_seconds\nbob,2026-03-24,-5\n".into(),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "line 2: logged_seconds");
    let kpis = ok_json(
        app.get(
            &format!("/v1/campaigns/{campaign_id}/kpis"),
            Some(&app.keys.viewer),
        )
        .await,
    )
    .await;
    // ana 2 h (logged), bob 1 h 20 min (his span), carl 1 h (logged, no attempt).
    let agents = kpis["by_agent"].as_array().unwrap();
    let hours: Vec<(&str, f64, i64)> = agents
        .iter()
        .map(|a| {
            (
                a["agent"].as_str().unwrap(),
                a["agent_hours"].as_f64().unwrap(),
                a["records"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        hours,
        [
            ("ana", 2.0, 2),
            ("bob", 4800.0 / 3600.0, 3),
            ("carl", 1.0, 0)
        ]
    );
    assert_eq!(agents[0]["rpc_per_agent_hour"], 0.5);
    assert_eq!(
        kpis["totals"]["agent_hours"].as_f64(),
        Some(15_600.0 / 3600.0)
    );
    assert_eq!(
        kpis["totals"]["rpc_per_agent_hour"].as_f64(),
        Some(2.0 / (15_600.0 / 3600.0))
    );

    // Contact caps count attempts across campaigns: c(0) had 2 in the period.
    let capped = ok_json(
        app.post_json(
            "/v1/campaigns",
            Some(&app.keys.admin),
            json!({
        "name": "capped", "run_id": run_id, "selection": {"deciles": [1, 2]}, "holdout_share": 0,
        "contact_cap": {"max_attempts": 2, "period_days": 7}, "as_of": "2026-03-24T00:00:00Z"}),
        )
        .await,
    )
    .await;
    assert_eq!(suppressed(&capped)["contact_cap"], 1);
    let member = ok_json(
        app.get(
            &format!("/v1/campaigns/{}/accounts/{}", capped["id"], c(0)),
            Some(&app.keys.viewer),
        )
        .await,
    )
    .await;
    assert_eq!(
        (member["rule"].as_str(), member["detail"].as_str()),
        (Some("contact_cap"), Some("2"))
    );
}

#[tokio::test]
async fn bad_campaigns_are_refused_naming_the_field_and_create_nothing() {
    let app = TestApp::with_demo_model().await;
    let admin = Some(app.keys.admin.as_str());
    // No run yet: 409.
    let reply = app
        .post_json(
            "/v1/campaigns",
            admin,
            json!({"name": "x", "selection": {"deciles": [1]}}),
        )
        .await;
    reply.problem(StatusCode::CONFLICT);
    // A bad body is named before any run is looked for.
    let problem = app
        .post_json(
            "/v1/campaigns",
            admin,
            json!({"name": "x", "selection": {"deciles": [1]}, "holdout_share": 0.95}),
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "/holdout_share");
    let (run_id, _) = scored_run(&app).await;
    // An unknown run and a bad field: one reply names both.
    let problem = app
        .post_json(
            "/v1/campaigns",
            admin,
            json!({"name": "x", "run_id": 999, "selection": {"deciles": [11]}}),
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let fields = common::strings(&problem["errors"], "field");
    assert_eq!(fields, ["/run_id", "/selection/deciles"]);
    let cases = [
        (
            json!({"name": "x", "run_id": 999, "selection": {"deciles": [1]}}),
            "/run_id",
        ),
        (
            json!({"name": "x", "run_id": run_id, "selection": {"deciles": [1]}, "holdout_share": 0.95}),
            "/holdout_share",
        ),
        (
            json!({"name": "x", "run_id": run_id, "selection": {"deciles": [0, 11]}}),
            "/selection/deciles",
        ),
        (
            json!({"name": "x", "run_id": run_id, "selection": {}}),
            "/selection",
        ),
        (
            json!({"name": "", "run_id": run_id, "selection": {"top_n": 5}}),
            "/name",
        ),
        (
            json!({"name": "x", "run_id": run_id, "selection": {"top_n": 5}, "calling_window": {"time_zone": "Mars/Base", "start": "09:00", "end": "08:00"}}),
            "/calling_window/time_zone",
        ),
        (
            json!({"name": "x", "run_id": run_id, "selection": {"top_n": 5}, "contact_cap": {"max_attempts": 0, "period_days": 7}}),
            "/contact_cap/max_attempts",
        ),
        (
            json!({"name": "x", "run_id": run_id, "selection": {"min_probability": 1.0}}),
            "/selection",
        ),
    ];
    for (body, field) in cases {
        let problem = app
            .post_json("/v1/campaigns", admin, body.clone())
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{body}: {problem}"
        );
    }
    // Nothing half-created: no campaign, no members partition.
    let campaigns: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let partitions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'campaign_members_%' AND relkind = 'r'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!((campaigns, partitions), (0, 0));
    // Roles: only admins create and record; scorers read lists, not KPIs.
    let body = json!({"name": "ok", "run_id": run_id, "selection": {"top_n": 3}, "as_of": AS_OF});
    app.post_json("/v1/campaigns", Some(&app.keys.scorer), body.clone())
        .await
        .problem(StatusCode::FORBIDDEN);
    let created = ok_json(app.post_json("/v1/campaigns", admin, body).await).await;
    let id = created["id"].as_i64().unwrap();
    app.get(&format!("/v1/campaigns/{id}/kpis"), Some(&app.keys.scorer))
        .await
        .problem(StatusCode::FORBIDDEN);
    app.get(&format!("/v1/campaigns/{id}/kpis"), None)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    app.get("/v1/campaigns/999/call-list", Some(&app.keys.viewer))
        .await
        .problem(StatusCode::NOT_FOUND);
    let problem = app
        .get(
            &format!("/v1/campaigns/{id}/call-list?limit=0"),
            Some(&app.keys.viewer),
        )
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["field"], "limit");
    let problem = send_body(
        &app,
        Method::POST,
        "/v1/account-links",
        "text/csv",
        "account_id,customer,time_zone\nA,,Nowhere/City\n".into(),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let fields = common::strings(&problem["errors"], "field");
    assert_eq!(fields, ["line 2: customer", "line 2: time_zone"]);
}

/// The fixture's features of `account`, as `POST /v1/score` takes them (an empty cell is
/// missing, so left out).
fn fixture_features(account: &str) -> serde_json::Map<String, Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scoring/batch/accounts.csv");
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    let record = reader
        .records()
        .map(Result::unwrap)
        .find(|r| &r[0] == account)
        .unwrap();
    header
        .iter()
        .zip(record.iter())
        .skip(1)
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_owned(), json!(v.parse::<f64>().unwrap())))
        .collect()
}

#[tokio::test]
async fn a_run_that_keeps_reasons_gives_the_call_list_its_talking_points() {
    let app = TestApp::with_demo_model().await;
    let file = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/scoring/batch/accounts.csv"),
    )
    .unwrap();
    // More reasons than the service keeps: refused, naming the parameter; no run made.
    let problem = app
        .post_file(
            "/v1/scoring-runs?wait=true&explain=11",
            Some(&app.keys.admin),
            "accounts.csv",
            &file,
            None,
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "explain");
    let run = app
        .upload_ok(
            "/v1/scoring-runs?wait=true&explain=3",
            "accounts.csv",
            &file,
        )
        .await;
    assert_eq!(
        (run["status"].as_str(), run["explain"].as_i64()),
        (Some("succeeded"), Some(3))
    );
    let created = ok_json(
        app.post_json(
            "/v1/campaigns",
            Some(&app.keys.admin),
            json!({"name": "talking points", "run_id": run["id"], "selection": {"top_n": 5},
                   "holdout_share": 0, "as_of": AS_OF}),
        )
        .await,
    )
    .await;
    let campaign_id = created["id"].as_i64().unwrap();
    let page = ok_json(
        app.get(
            &format!("/v1/campaigns/{campaign_id}/call-list?limit=5"),
            Some(&app.keys.viewer),
        )
        .await,
    )
    .await;
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for row in rows {
        // The run's reasons are exactly what online scoring explains for the same features.
        let account = row["account_id"].as_str().unwrap();
        let scored = ok_json(
            app.post_json(
                "/v1/scores",
                Some(&app.keys.scorer),
                json!({"account_id": account, "features": fixture_features(account), "explain": 3}),
            )
            .await,
        )
        .await;
        let online = &scored["scores"][0];
        assert_eq!(row["probability"], online["probability"], "{account}");
        assert_eq!(
            row["reasons"], online["explanation"]["reasons"],
            "{account}"
        );
        assert_eq!(row["reasons"].as_array().unwrap().len(), 3);
    }
    let member = ok_json(
        app.get(
            &format!(
                "/v1/campaigns/{campaign_id}/accounts/{}",
                rows[0]["account_id"].as_str().unwrap()
            ),
            Some(&app.keys.viewer),
        )
        .await,
    )
    .await;
    assert_eq!(member["reasons"], rows[0]["reasons"]);

    // CSV: one `reasons` cell, `feature=value (+contribution)` joined by `; `.
    let csv = app
        .get(
            &format!("/v1/campaigns/{campaign_id}/call-list?format=csv"),
            Some(&app.keys.viewer),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let text = String::from_utf8(csv.body.to_vec()).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().next_back(),
        Some("reasons")
    );
    let first = reader.records().next().unwrap().unwrap();
    let want: Vec<String> = rows[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let value = r["value"]
                .as_f64()
                .map_or_else(|| "missing".to_owned(), |v| v.to_string());
            format!(
                "{}={value} ({:+.4})",
                r["feature"].as_str().unwrap(),
                r["contribution"].as_f64().unwrap()
            )
        })
        .collect();
    assert_eq!(first.iter().next_back(), Some(want.join("; ").as_str()));

    // A run without reasons: the rows say so with an empty list, and an empty CSV cell.
    let (plain_run, _) = scored_run(&app).await;
    let plain = ok_json(
        app.post_json(
            "/v1/campaigns",
            Some(&app.keys.admin),
            json!({"name": "plain", "run_id": plain_run, "selection": {"top_n": 2},
                   "holdout_share": 0, "as_of": AS_OF}),
        )
        .await,
    )
    .await;
    let page = ok_json(
        app.get(
            &format!("/v1/campaigns/{}/call-list", plain["id"]),
            Some(&app.keys.viewer),
        )
        .await,
    )
    .await;
    assert_eq!(page["rows"][0]["reasons"], json!([]));
}
