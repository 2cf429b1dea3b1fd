//! Online scoring end to end: the model registry, `POST /v1/scores` with deciles and reason
//! codes, validation, and activation under load — against real PostgreSQL and real models.

use crate::common;

use std::sync::Arc;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use common::{TestApp, request};
use serde_json::{Value, json};
use switchboard::scoring::{
    deciles::DecileEdges,
    population::{AccountGenerator, FEATURE_NAMES, N_FEATURES},
    reference::ReferenceBooster,
};

const DEMO_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/demo/model.txt");
const DEMO_DECILES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/demo/model.deciles.json"
);

async fn demo_app() -> TestApp {
    TestApp::with_demo_model().await
}

/// Synthetic accounts shaped like the demo model's training population.
fn accounts(seed: u64, n: usize) -> Vec<Vec<f64>> {
    let mut generator = AccountGenerator::new(seed);
    (0..n)
        .map(|_| {
            let mut row = vec![0.0; N_FEATURES];
            generator.next_account(&mut row);
            row
        })
        .collect()
}

fn features_json(row: &[f64]) -> Value {
    let map: serde_json::Map<String, Value> = FEATURE_NAMES
        .iter()
        .zip(row)
        .map(|(name, v)| {
            (
                (*name).to_owned(),
                if v.is_nan() { Value::Null } else { json!(v) },
            )
        })
        .collect();
    Value::Object(map)
}

fn reference_booster() -> ReferenceBooster {
    ReferenceBooster::from_string(&std::fs::read_to_string(DEMO_MODEL).unwrap()).unwrap()
}

#[tokio::test]
async fn model_path_registers_and_activates_the_demo_model_with_its_deciles() {
    let app = demo_app().await;
    let models = app.get("/v1/models", Some(&app.keys.viewer)).await;
    assert_eq!(models.status, StatusCode::OK);
    let list = models.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let model = &list[0];
    assert_eq!(model["active"], true);
    assert_eq!(model["name"], "demo");
    assert_eq!(model["trees"], 500);
    assert_eq!(model["features"].as_array().unwrap().len(), 64);
    assert_eq!(model["categorical_features"], json!(["infra_type"]));
    assert!(model["objective"].as_str().unwrap().starts_with("binary"));
    assert_eq!(model["native_evaluator"]["passed"], true, "{model}");
    assert!(model["native_evaluator"]["max_abs_diff"].as_f64().unwrap() <= 1e-12);
    let shipped: Value =
        serde_json::from_str(&std::fs::read_to_string(DEMO_DECILES).unwrap()).unwrap();
    assert_eq!(model["decile_reference"]["edges"], shipped["edges"]);

    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&ready.body).contains("native evaluator"));
}

#[tokio::test]
async fn one_account_is_scored_like_lightgbm_with_its_decile() {
    let app = demo_app().await;
    let row = &accounts(7, 1)[0];
    let reply = app
        .post_json(
            "/v1/scores",
            Some(&app.keys.scorer),
            json!({"account_id": "ban-1", "features": features_json(row)}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["evaluator"], "native");
    let score = &body["scores"][0];
    assert_eq!(score["account_id"], "ban-1");
    let expected = reference_booster().predict_proba(row, N_FEATURES).unwrap()[0];
    let probability = score["probability"].as_f64().unwrap();
    assert!(
        (probability - expected).abs() <= 1e-12,
        "{probability} vs LightGBM {expected}"
    );
    let missing = row.iter().filter(|v| v.is_nan()).count();
    assert_eq!(score["missing_features"], missing);

    let shipped: Value =
        serde_json::from_str(&std::fs::read_to_string(DEMO_DECILES).unwrap()).unwrap();
    let edges: Vec<f64> = serde_json::from_value(shipped["edges"].clone()).unwrap();
    let edges = DecileEdges::from_edges(edges.try_into().unwrap()).unwrap();
    assert_eq!(score["decile"], edges.decile(probability));
}

#[tokio::test]
async fn a_batch_keeps_order_counts_missing_and_explains() {
    let app = demo_app().await;
    let rows = accounts(11, 20);
    let mut batch: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| json!({"account_id": i, "features": features_json(row)}))
        .collect();
    // An account that sends nothing is all missing, and still scored.
    batch.push(json!({"account_id": "empty", "features": {}}));
    let reply = app
        .post_json(
            "/v1/scores",
            Some(&app.keys.scorer),
            json!({"accounts": batch, "explain": 64}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let scores = reply.json()["scores"].as_array().unwrap().clone();
    assert_eq!(scores.len(), 21);
    assert_eq!(scores[3]["account_id"], "3");
    assert_eq!(scores[20]["missing_features"], 64);

    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let expected = reference_booster()
        .predict_proba(&flat, N_FEATURES)
        .unwrap();
    for (score, expected) in scores.iter().zip(&expected) {
        let p = score["probability"].as_f64().unwrap();
        assert!((p - expected).abs() <= 1e-12);
        // Reason codes: all contributions plus the bias give the raw score, whose sigmoid is
        // the probability; the list is sorted by contribution, largest first.
        let explanation = &score["explanation"];
        let reasons = explanation["reasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 64);
        let total: f64 = reasons
            .iter()
            .map(|r| r["contribution"].as_f64().unwrap())
            .sum::<f64>()
            + explanation["bias"].as_f64().unwrap();
        let raw = explanation["raw_score"].as_f64().unwrap();
        assert!(
            (total - raw).abs() < 1e-9,
            "contributions sum {total} vs raw {raw}"
        );
        assert!((1.0 / (1.0 + (-raw).exp()) - p).abs() < 1e-12);
        let contributions: Vec<f64> = reasons
            .iter()
            .map(|r| r["contribution"].as_f64().unwrap())
            .collect();
        assert!(contributions.windows(2).all(|w| w[0] >= w[1]));
    }

    let top3 = app
        .post_json(
            "/v1/scores",
            Some(&app.keys.scorer),
            json!({"account_id": "x", "features": features_json(&rows[0]), "explain": 3}),
        )
        .await;
    let reasons = top3.json()["scores"][0]["explanation"]["reasons"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(reasons.len(), 3);
    assert_eq!(
        reasons[0]["feature"],
        scores[0]["explanation"]["reasons"][0]["feature"]
    );
}

#[tokio::test]
async fn invalid_features_are_422_listing_every_field() {
    let app = demo_app().await;
    let reply = app
        .post_json(
            "/v1/scores",
            Some(&app.keys.scorer),
            json!({"accounts": [
                {"account_id": "a", "features": {"tenure_months": "12", "no_such_feature": 1}},
                {"account_id": "b", "features": {"usage_gb_m1": true, "usage_gb_m2": "Infinity"}}
            ]}),
        )
        .await;
    let problem = reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let fields = common::strings(&problem["errors"], "field");
    assert_eq!(
        fields,
        // In the order sent (json! sorts object keys).
        [
            "/accounts/0/features/no_such_feature",
            "/accounts/0/features/tenure_months",
            "/accounts/1/features/usage_gb_m1",
            "/accounts/1/features/usage_gb_m2"
        ]
    );

    let ignored = app
        .post_json(
            "/v1/scores",
            Some(&app.keys.scorer),
            json!({"account_id": "a", "features": {"tenure_months": 12, "no_such_feature": 1}, "unknown_features": "ignore"}),
        )
        .await;
    assert_eq!(ignored.status, StatusCode::OK);
    assert_eq!(ignored.json()["scores"][0]["missing_features"], 63);
}

#[tokio::test]
async fn malformed_requests_are_problems() {
    let app = demo_app().await;
    let key = Some(app.keys.scorer.as_str());

    let syntax = app
        .send(request(
            Method::POST,
            "/v1/scores",
            key,
            Some("{\"account_id\": ".into()),
        ))
        .await;
    syntax.problem(StatusCode::BAD_REQUEST);

    let not_json = post_text(&app, "/v1/scores", &app.keys.scorer, "{}").await;
    not_json.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let wrong_shape = app
        .post_json("/v1/scores", key, json!({"accounts": "all"}))
        .await;
    let problem = wrong_shape.problem(StatusCode::UNPROCESSABLE_ENTITY);
    // A body that fails is read again with its path tracked: the detail names the field.
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("Failed to deserialize the JSON body into the target type: accounts: invalid type: string \"all\""), "{detail}");
    let nested = app
        .post_json(
            "/v1/scores",
            key,
            json!({"accounts": [{"account_id": "a", "features": {}}, {"account_id": true, "features": {}}]}),
        )
        .await;
    let problem = nested.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("accounts[1].account_id"), "{detail}");

    // JSON with parameters or in another spelling axum takes is read like plain JSON.
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.switchboard+json",
    ] {
        let reply = app
            .send(
                Request::post("/v1/scores")
                    .header(header::AUTHORIZATION, format!("Bearer {}", app.keys.scorer))
                    .header(header::CONTENT_TYPE, content_type)
                    .body(Body::from(
                        r#"{"account_id": "a", "features": {"tenure_months": 12}}"#,
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{content_type}");
        assert_eq!(
            reply.json()["scores"][0]["missing_features"],
            63,
            "{content_type}"
        );
    }

    let nothing = app.post_json("/v1/scores", key, json!({})).await;
    let problem = nothing.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "/accounts");

    let both = app
        .post_json(
            "/v1/scores",
            key,
            json!({"accounts": [], "account_id": "a", "features": {}}),
        )
        .await;
    both.problem(StatusCode::UNPROCESSABLE_ENTITY);

    let too_deep = app
        .post_json(
            "/v1/scores",
            key,
            json!({"account_id": "a", "features": {}, "explain": 65}),
        )
        .await;
    too_deep.problem(StatusCode::UNPROCESSABLE_ENTITY);

    // The test configuration allows 100 accounts per request.
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"account_id": i, "features": {}}))
        .collect();
    let too_many = app
        .post_json("/v1/scores", key, json!({"accounts": many}))
        .await;
    let problem = too_many.problem(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("MAX_ACCOUNTS_PER_REQUEST")
    );
}

#[tokio::test]
async fn scoring_needs_the_scorer_role_and_an_active_model() {
    let app = TestApp::new().await;
    let body = json!({"account_id": "a", "features": {}});
    app.post_json("/v1/scores", Some(&app.keys.viewer), body.clone())
        .await
        .problem(StatusCode::FORBIDDEN);
    let none = app
        .post_json("/v1/scores", Some(&app.keys.scorer), body.clone())
        .await;
    let problem = none.problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no model is active")
    );
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.json()["reason"]
            .as_str()
            .unwrap()
            .contains("model: no active model")
    );
}

/// A small model on the demo features, trained here with LightGBM.
fn train_small_model(objective: &str, trees: usize) -> String {
    let rows = accounts(99, 2000);
    let labels: Vec<f32> = rows.iter().map(|r| f32::from(r[0] + r[1] > 2.0)).collect();
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let mut dataset =
        lightgbm3::Dataset::from_slice(&flat, &labels, N_FEATURES as i32, true).unwrap();
    let names: Vec<String> = FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect();
    dataset.set_feature_names(&names).unwrap();
    let params = json!({
        "objective": objective, "num_iterations": trees, "num_leaves": 7, "verbose": -1,
        "num_threads": 1, "deterministic": true, "seed": 3
    });
    lightgbm3::Booster::train(dataset, &params)
        .unwrap()
        .save_string()
        .unwrap()
}

/// POSTs a text body with a key.
async fn post_text(app: &TestApp, uri: &str, key: &str, text: &str) -> common::Reply {
    app.send(
        Request::post(uri)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(text.to_owned()))
            .unwrap(),
    )
    .await
}

/// Activates a model as admin.
async fn activate(app: &TestApp, id: i64) -> common::Reply {
    let uri = format!("/v1/models/{id}/activate");
    app.send(request(Method::POST, &uri, Some(&app.keys.admin), None))
        .await
}

async fn upload(app: &TestApp, text: &str, name: &str, version: &str) -> common::Reply {
    let uri = format!("/v1/models?name={name}&version={version}");
    post_text(app, &uri, &app.keys.admin, text).await
}

#[tokio::test]
async fn uploads_are_validated_and_activation_swaps_the_model() {
    let app = demo_app().await;
    let demo_id = app.state.models.active().unwrap().id;

    let garbage = upload(&app, "this is not a model", "x", "1").await;
    let problem = garbage.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("not a valid LightGBM model"),
        "{problem}"
    );

    let regression = upload(&app, &train_small_model("regression", 5), "reg", "1").await;
    let problem = regression.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem["detail"].as_str().unwrap().contains("binary"),
        "{problem}"
    );
    assert_eq!(
        app.state.models.active().unwrap().id,
        demo_id,
        "the active model is untouched"
    );

    let small = train_small_model("binary", 30);
    let scorer_upload = post_text(
        &app,
        "/v1/models?name=small&version=1",
        &app.keys.scorer,
        &small,
    )
    .await;
    scorer_upload.problem(StatusCode::FORBIDDEN);

    let created = upload(&app, &small, "small", "v1").await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let model = created.json();
    assert_eq!(model["active"], false);
    assert_eq!(model["trees"], 30);
    assert_eq!(model["native_evaluator"]["passed"], true);
    assert!(model["decile_reference"].is_null());
    let small_id = model["id"].as_i64().unwrap();

    let again = upload(&app, &small, "small", "v1-again").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["id"], small_id);

    let missing_version = post_text(&app, "/v1/models?name=small", &app.keys.admin, &small).await;
    missing_version.problem(StatusCode::BAD_REQUEST);

    let details = app
        .get(&format!("/v1/models/{small_id}"), Some(&app.keys.viewer))
        .await;
    assert_eq!(details.json()["sha256"].as_str().unwrap().len(), 64);
    app.get("/v1/models/999999", Some(&app.keys.viewer))
        .await
        .problem(StatusCode::NOT_FOUND);
    app.send(request(
        Method::POST,
        "/v1/models/999999/activate",
        Some(&app.keys.admin),
        None,
    ))
    .await
    .problem(StatusCode::NOT_FOUND);

    let activated = activate(&app, small_id).await;
    assert_eq!(activated.status, StatusCode::OK);
    assert_eq!(activated.json()["active"], true);
    let scored = app
        .post_json(
            "/v1/scores",
            Some(&app.keys.scorer),
            json!({"account_id": "a", "features": {}}),
        )
        .await;
    let body = scored.json();
    assert_eq!(body["model_id"], small_id);
    assert!(body["scores"][0]["decile"].is_null());
    assert!(
        body["decile_note"]
            .as_str()
            .unwrap()
            .contains("no decile reference")
    );
    let listed = app.get("/v1/models", Some(&app.keys.viewer)).await.json();
    let active: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["active"] == true)
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(active, [small_id]);
}

#[tokio::test]
async fn importance_matches_lightgbm_sorted_descending() {
    let app = demo_app().await;
    let id = app.state.models.active().unwrap().id;
    let booster = lightgbm3::Booster::from_file(DEMO_MODEL).unwrap();
    for (kind, lgb_kind) in [
        ("split", lightgbm3::ImportanceType::Split),
        ("gain", lightgbm3::ImportanceType::Gain),
    ] {
        let reply = app
            .get(
                &format!("/v1/models/{id}/importance?type={kind}"),
                Some(&app.keys.viewer),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = reply.json();
        let features = body["features"].as_array().unwrap();
        assert_eq!(features.len(), 64);
        let expected = booster.feature_importance(lgb_kind).unwrap();
        for f in features {
            let i = FEATURE_NAMES
                .iter()
                .position(|n| *n == f["feature"])
                .unwrap();
            assert_eq!(
                f["importance"].as_f64().unwrap(),
                expected[i],
                "{kind} {}",
                f["feature"]
            );
        }
        let values: Vec<f64> = features
            .iter()
            .map(|f| f["importance"].as_f64().unwrap())
            .collect();
        assert!(values.windows(2).all(|w| w[0] >= w[1]));
    }
    app.get(
        &format!("/v1/models/{id}/importance?type=weight"),
        Some(&app.keys.viewer),
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn activation_under_load_fails_no_request() {
    let app = Arc::new(demo_app().await);
    let demo_id = app.state.models.active().unwrap().id;
    let small = upload(&app, &train_small_model("binary", 10), "small", "v1")
        .await
        .json();
    let small_id = small["id"].as_i64().unwrap();
    let row = features_json(&accounts(5, 1)[0]);

    let mut clients = Vec::new();
    for _ in 0..4 {
        let (app, row) = (app.clone(), row.clone());
        clients.push(tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..100 {
                let reply = app
                    .post_json(
                        "/v1/scores",
                        Some(&app.keys.scorer),
                        json!({"account_id": "a", "features": row}),
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::OK);
                seen.insert(reply.json()["model_id"].as_i64().unwrap());
            }
            seen
        }));
    }
    for i in 0..6 {
        let id = if i % 2 == 0 { small_id } else { demo_id };
        let reply = activate(&app, id).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let mut seen = std::collections::BTreeSet::new();
    for client in clients {
        seen.extend(client.await.unwrap());
    }
    assert!(seen.iter().all(|id| *id == demo_id || *id == small_id));
    assert_eq!(app.state.models.active().unwrap().id, demo_id);
}
