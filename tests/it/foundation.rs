//! The service foundation end to end: health and readiness, authentication and roles, problem
//! documents, metrics, docs, graceful shutdown, the CLI's key commands and the OpenAPI file.

use crate::common;

use std::{process::Stdio, time::Duration};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
    routing::get,
};
use common::{CuttableRelay, TestApp, fresh_database, request, serve_config};
use tokio::{
    io::AsyncBufReadExt,
    net::{TcpListener, TcpStream},
};

#[tokio::test]
async fn healthz_and_readyz_answer_when_all_is_well() {
    let app = TestApp::with_demo_model().await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");

    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{:?}", ready.json());
    let body = ready.json();
    assert_eq!(body["status"], "ready");
    let checks = body["checks"].as_array().expect("checks");
    assert!(checks.iter().all(|c| c["ok"] == true), "{body}");
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "migrations" && c["detail"] == "all applied")
    );
}

#[tokio::test]
async fn readyz_reports_pending_migrations() {
    let app = TestApp::new().await;
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&app.state.db)
        .await
        .expect("forget migrations");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.headers[header::RETRY_AFTER], "5");
    let reason = ready.json()["reason"].as_str().expect("reason").to_owned();
    assert!(reason.starts_with("migrations:"), "{reason}");
}

#[tokio::test]
async fn readiness_flips_when_the_database_goes_down_and_comes_back() {
    let url = fresh_database().await;
    let upstream = {
        let text = url.expose();
        let after_at = text.split('@').nth(1).expect("host in URL");
        after_at.split('/').next().expect("host:port").to_owned()
    };
    let relay = CuttableRelay::start(upstream.clone()).await;
    let relayed = relay.url_for(&url);
    let app = TestApp::on_database(relayed, serve_config()).await;
    app.load_demo_model().await;

    assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);

    relay.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let down = app.get("/readyz", None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = down.json();
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["reason"]
            .as_str()
            .expect("reason")
            .starts_with("database:"),
        "{body}"
    );
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    // A request that needs the database gets 503 problem+json, not a 500.
    let key_list = app.get("/v1/keys", Some(&app.keys.admin)).await;
    let problem = key_list.problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        key_list.headers.contains_key(header::RETRY_AFTER),
        "{problem}"
    );

    relay.restore().await;
    let mut ready = false;
    for _ in 0..50 {
        if app.get("/readyz", None).await.status == StatusCode::OK {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "readiness did not come back with the database");
}

#[tokio::test]
async fn requests_without_a_valid_key_get_401() {
    let app = TestApp::new().await;
    let missing = app.get("/v1/whoami", None).await;
    let problem = missing.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers[header::WWW_AUTHENTICATE], "Bearer");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer")
    );

    let garbage = app.get("/v1/whoami", Some("not-a-key")).await;
    garbage.problem(StatusCode::UNAUTHORIZED);

    // Well-formed but unknown, and a known id with the wrong secret.
    let unknown = "sb_000000000000_000000000000000000000000000000000000000000000000";
    app.get("/v1/whoami", Some(unknown))
        .await
        .problem(StatusCode::UNAUTHORIZED);
    let admin = &app.keys.admin;
    let wrong_secret = format!(
        "{}{}",
        &admin[..admin.len() - 1],
        if admin.ends_with('0') { '1' } else { '0' }
    );
    app.get("/v1/whoami", Some(&wrong_secret))
        .await
        .problem(StatusCode::UNAUTHORIZED);

    let basic = app
        .send(
            Request::get("/v1/whoami")
                .header(header::AUTHORIZATION, format!("Basic {admin}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    basic.problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn each_role_gets_what_it_may_and_403_otherwise() {
    let app = TestApp::new().await;
    for (key, role) in [
        (&app.keys.admin, "admin"),
        (&app.keys.scorer, "scorer"),
        (&app.keys.viewer, "viewer"),
    ] {
        let me = app.get("/v1/whoami", Some(key)).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.json()["role"], role);
        assert_eq!(me.json()["key_name"], format!("test-{role}"));
    }

    let listed = app.get("/v1/keys", Some(&app.keys.admin)).await;
    assert_eq!(listed.status, StatusCode::OK);
    let names: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["test-admin", "test-scorer", "test-viewer"]);
    assert!(
        !String::from_utf8_lossy(&listed.body).contains(&app.keys.scorer[16..]),
        "secrets must never be listed"
    );

    for key in [&app.keys.scorer, &app.keys.viewer] {
        let denied = app.get("/v1/keys", Some(key)).await;
        let problem = denied.problem(StatusCode::FORBIDDEN);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("needs the admin role"),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn auth_disabled_treats_every_request_as_admin() {
    let mut config = serve_config();
    config.auth_disabled = true;
    let app = TestApp::with_config(config).await;
    let me = app.get("/v1/whoami", None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["role"], "admin");
    assert_eq!(me.json()["authenticated"], false);
    assert_eq!(app.get("/v1/keys", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn public_endpoints_need_no_key() {
    let app = TestApp::with_demo_model().await;
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs/"] {
        assert_eq!(app.get(path, None).await.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = TestApp::new().await;
    let missing = app.get("/v1/nothing-here", Some(&app.keys.admin)).await;
    let problem = missing.problem(StatusCode::NOT_FOUND);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("/v1/nothing-here")
    );

    let wrong = app
        .send(request(Method::DELETE, "/healthz", None, None))
        .await;
    wrong.problem(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn oversized_bodies_are_413_problems() {
    let mut config = serve_config();
    config.body_limit_bytes = 2048;
    let app = TestApp::with_config(config).await;
    let big = "x".repeat(4096);
    let reply = app
        .send(
            Request::post("/v1/whoami")
                .header(header::AUTHORIZATION, format!("Bearer {}", app.keys.admin))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, big.len())
                .body(Body::from(big))
                .unwrap(),
        )
        .await;
    reply.problem(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn responses_carry_a_request_id_and_keep_a_given_one() {
    let app = TestApp::new().await;
    let generated = app.get("/healthz", None).await;
    let id = generated.headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let given = app
        .send(
            Request::get("/healthz")
                .header("x-request-id", "crm-trace-42")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(given.headers["x-request-id"], "crm-trace-42");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = TestApp::new().await;
    app.get("/v1/whoami", Some(&app.keys.viewer)).await;
    app.get("/v1/keys", Some(&app.keys.viewer)).await;
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/v1/whoami",status="200"}"#),
        "{text}"
    );
    assert!(text.contains(r#"http_requests_total{method="GET",route="/v1/keys",status="403"}"#));
    assert!(text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/v1/whoami",status="200",le="0.001"}"#));
    assert!(text.contains("http_requests_in_flight"));
    assert!(text.contains("db_pool_max_connections 8"));
}

#[tokio::test]
async fn docs_are_served_from_vendored_assets() {
    let app = TestApp::new().await;
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.body).unwrap();
    assert!(
        !html.contains("cdn") && !html.contains("unpkg"),
        "no CDN: {html}"
    );
    let bundle = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.body.len() > 100_000, "the bundle is served by us");
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(spec.json()["openapi"], "3.1.0");
}

#[tokio::test]
async fn graceful_shutdown_completes_an_in_flight_request() {
    let app = TestApp::new().await;
    // A slow route next to the real ones, so a request is surely in flight at shutdown.
    let router = app.router.clone().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "done"
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(switchboard::http::serve(
        listener,
        router,
        async move {
            let _ = stop_rx.await;
        },
        Duration::from_secs(10),
        switchboard::http::ConnectionLimits::from_config(&serve_config()),
    ));

    let client = reqwest::Client::new();
    let in_flight = tokio::spawn(client.get(format!("http://{addr}/slow")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(()).unwrap();

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops after draining")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting connections"
    );
}

fn switchboard_bin() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .env_remove("AUTH_DISABLED")
        .env_remove("BOOTSTRAP_ADMIN_KEY")
        .env("LOG_FORMAT", "text")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn cli_keys_create_list_and_revoke() {
    let url = fresh_database().await;
    let created = switchboard_bin()
        .args([
            "keys",
            "create",
            "--role",
            "viewer",
            "--name",
            "dashboard-1",
        ])
        .env("DATABASE_URL", url.expose())
        .output()
        .await
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("sb_"), "{key}");
    assert!(String::from_utf8_lossy(&created.stderr).contains("not shown again"));

    let app = TestApp::on_database(url.clone(), serve_config()).await;
    let me = app.get("/v1/whoami", Some(&key)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["key_name"], "dashboard-1");

    let duplicate = switchboard_bin()
        .args(["keys", "create", "--role", "admin", "--name", "dashboard-1"])
        .env("DATABASE_URL", url.expose())
        .output()
        .await
        .unwrap();
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let listed = switchboard_bin()
        .args(["keys", "list"])
        .env("DATABASE_URL", url.expose())
        .output()
        .await
        .unwrap();
    let listing = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listing.contains("dashboard-1") && listing.contains("viewer"),
        "{listing}"
    );
    assert!(!listing.contains(&key[16..]), "the secret is never listed");

    let revoked = switchboard_bin()
        .args(["keys", "revoke", "dashboard-1"])
        .env("DATABASE_URL", url.expose())
        .output()
        .await
        .unwrap();
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    // The test app trusts a key for 0 s, so revocation shows at once.
    app.get("/v1/whoami", Some(&key))
        .await
        .problem(StatusCode::UNAUTHORIZED);

    let again = switchboard_bin()
        .args(["keys", "revoke", "dashboard-1"])
        .env("DATABASE_URL", url.expose())
        .output()
        .await
        .unwrap();
    assert!(
        !again.status.success(),
        "revoking twice says there is nothing to revoke"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_binary_serves_prints_a_first_admin_key_and_stops_on_sigterm() {
    let url = fresh_database().await;
    let port = free_port();
    let mut child = switchboard_bin()
        .arg("serve")
        .env("DATABASE_URL", url.expose())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut admin_key = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Ok(Ok(Some(line))) = tokio::time::timeout_at(deadline, stderr.next_line()).await {
        if let Some(key) = line.trim().strip_prefix("sb_") {
            admin_key = Some(format!("sb_{key}"));
        }
        if line.contains("listening on") {
            break;
        }
    }
    let admin_key = admin_key.expect("the first start prints an admin key");
    let client = reqwest::Client::new();
    let me = client
        .get(format!("http://127.0.0.1:{port}/v1/whoami"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    while let Ok(Some(line)) = stderr.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(
        !rest.contains(&admin_key),
        "the key is printed once, never logged"
    );
}

#[test]
fn committed_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = switchboard::http::openapi::document_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi --output openapi/openapi.json`"
    );
}

#[test]
fn every_operation_documents_problem_responses() {
    let doc: serde_json::Value =
        serde_json::from_str(&switchboard::http::openapi::document_json()).unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let responses = operation["responses"].as_object().unwrap();
            let problem = &responses["500"]["content"]["application/problem+json"];
            assert!(
                problem.is_object(),
                "{method} {path} lacks a problem+json 500"
            );
            if operation.get("security").is_some() {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{method} {path}"
                );
            }
        }
    }
    assert!(operations >= 5);
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
}

/// The service's sessions never JIT-compile: PostgreSQL costs batches of thousands of ids far
/// above what they read and compiled each one (see `db::connect_options`).
#[tokio::test]
async fn sessions_run_without_jit() {
    let app = TestApp::new().await;
    let jit: String = sqlx::query_scalar("SHOW jit")
        .fetch_one(&app.state.db)
        .await
        .expect("SHOW jit");
    assert_eq!(jit, "off");
}
