//! Hardening (issue 16): hostile input, clients and failures never take the service down.
//! Every test runs the real router (or the real binary) against a real PostgreSQL.

use crate::common;

use axum::http::{Method, StatusCode};
use common::{TestApp, request};

/// A NUL character anywhere a client can put text is a 400/422 problem naming the field,
/// never a 500 from PostgreSQL.
#[tokio::test]
async fn nul_characters_are_refused_naming_the_field() {
    let app = TestApp::with_demo_model().await;
    let (admin, viewer, scorer) = (&app.keys.admin, &app.keys.viewer, &app.keys.scorer);
    let range = "from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z";
    let cases: Vec<(String, &str, &str)> = vec![
        ("/v1/cases/%00".into(), viewer.as_str(), "case_id"),
        ("/v1/cases/abc%00def".into(), admin.as_str(), "case_id"),
        (
            "/v1/accounts/%00/score".into(),
            scorer.as_str(),
            "account_id",
        ),
        ("/v1/cases?channel=%00".into(), viewer.as_str(), "channel"),
        (
            format!("/v1/kpis/summary?{range}&channel=%00"),
            viewer.as_str(),
            "channel",
        ),
        (
            format!("/v1/kpis/timeseries?{range}&bucket=day&owner_team=a%00b"),
            viewer.as_str(),
            "owner_team",
        ),
        (
            format!("/v1/process/variants?{range}&channel=%00"),
            viewer.as_str(),
            "channel",
        ),
        (
            format!("/v1/staffing/plan?{range}&channel=%00"),
            viewer.as_str(),
            "channel",
        ),
    ];
    for (uri, key, field) in cases {
        let reply = app.get(&uri, Some(key)).await;
        let problem = reply.problem(StatusCode::BAD_REQUEST);
        assert_eq!(problem["errors"][0]["field"], field, "{uri}: {problem}");
    }

    let model = app
        .send(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri("/v1/models?name=a%00")
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "text/plain")
                .body(axum::body::Body::from("tree"))
                .expect("request"),
        )
        .await;
    let problem = model.problem(StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["field"], "name", "{problem}");

    let mapping = app
        .put_json(
            "/v1/activity-mappings",
            Some(admin),
            serde_json::json!({"mappings": {"Resolve\u{0}it": "case_resolved"}}),
        )
        .await;
    let problem = mapping.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem["errors"][0]["field"], "/mappings/Resolve\\0it",
        "{problem}"
    );
    let value = app
        .send(request(
            Method::PUT,
            "/v1/activity-mappings",
            Some(admin),
            Some(r#"{"mappings": {"Resolve it": "case_\u0000resolved"}}"#.into()),
        ))
        .await;
    let problem = value.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "/mappings/Resolve it");

    // An escaped backslash followed by `u0000` is ordinary text, not a NUL.
    let literal = app
        .send(request(
            Method::PUT,
            "/v1/activity-mappings",
            Some(admin),
            Some(r#"{"mappings": {"Resolve \\u0000": "case_resolved"}}"#.into()),
        ))
        .await;
    assert_eq!(literal.status, StatusCode::OK, "{:?}", literal.json());

    // The service is still fine.
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// Hostile import files fail at IMPORT_MAX_RECORD_BYTES (1 MiB in the tests) instead of
/// growing memory: blank lines, a line without end, the same gzipped; blank lines below the
/// bound cost nothing and keep line numbers right.
#[tokio::test]
async fn hostile_import_files_fail_at_the_record_bound() {
    let app = TestApp::new().await;
    let header = b"case_id,activity,event_time\n".to_vec();

    let mut newlines = header.clone();
    newlines.extend(std::iter::repeat_n(b'\n', 3 << 20));
    let mut zeros = header.clone();
    zeros.extend(std::iter::repeat_n(b'0', 3 << 20));
    for (name, file) in [
        ("newlines.csv", newlines.clone()),
        ("zeros.csv", zeros),
        ("newlines.csv.gz", gzip(&newlines)),
    ] {
        let import = app.upload_ok("/v1/imports?wait=true", name, &file).await;
        assert_eq!(import["status"], "failed", "{name}: {import}");
        let error = import["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("IMPORT_MAX_RECORD_BYTES"),
            "{name}: {import}"
        );
        assert_eq!(import["events_stored"], 0, "{name}: {import}");
    }

    // 100,000 blank lines between two rows: under the bound, imported, lines counted.
    let mut spaced = header;
    spaced.extend_from_slice(b"C1,Case Created,2026-01-01T00:00:00Z\n");
    spaced.extend(std::iter::repeat_n(b'\n', 100_000));
    spaced.extend_from_slice(b"C1,Case Resolved,not a time\n");
    let import = app
        .upload_ok("/v1/imports?wait=true", "spaced.csv", &spaced)
        .await;
    assert_eq!(import["status"], "failed", "{import}");
    assert_eq!(import["bad_rows"][0]["line"], 100_003, "{import}");
}

/// XML that is not an XES log is refused at once (422 naming the file), not "imported" with
/// no events.
#[tokio::test]
async fn xml_that_is_not_xes_is_refused() {
    let app = TestApp::new().await;
    let reply = app
        .post_file(
            "/v1/imports?wait=true",
            Some(&app.keys.admin),
            "page.xml",
            b"<?xml version=\"1.0\"?>\n<html><body><p>hello</p></body></html>\n",
            None,
        )
        .await;
    let problem = reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "file", "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not an XES log")),
        "{problem}"
    );
    let listed = app.get("/v1/imports", Some(&app.keys.admin)).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
}

/// A form's text fields are read piece by piece and refused past 64 KiB.
#[tokio::test]
async fn an_oversized_form_field_is_refused() {
    let app = TestApp::new().await;
    let options = serde_json::Value::String("x".repeat(100_000));
    let reply = app
        .post_file(
            "/v1/imports",
            Some(&app.keys.admin),
            "events.csv",
            b"case_id,activity,event_time\n",
            Some(options),
        )
        .await;
    reply.problem(StatusCode::PAYLOAD_TOO_LARGE);
}

/// Serves the real application on a loopback port with these connection limits.
async fn serve_with_limits(
    app: &TestApp,
    max_connections: usize,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = switchboard::http::ConnectionLimits {
        max_connections,
        header_read_timeout: std::time::Duration::from_secs(1),
    };
    tokio::spawn(switchboard::http::serve(
        listener,
        app.router.clone(),
        async move {
            let _ = stopped.await;
        },
        std::time::Duration::from_secs(5),
        limits,
    ));
    (addr, stop)
}

/// A client sending its request head one byte at a time, or nothing at all, is cut off at
/// HTTP_HEADER_READ_TIMEOUT_S; connections beyond HTTP_MAX_CONNECTIONS wait, and /healthz is
/// answered while many idle connections are open.
#[tokio::test]
async fn slow_and_idle_connections_cannot_exhaust_the_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::new().await;
    let (addr, _stop) = serve_with_limits(&app, 32).await;

    // A slow header: a byte every 300 ms never completes a head; the server closes it.
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let closed = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let mut rest = Vec::new();
        // Closed by the server: the read ends (EOF or reset) without an answer.
        let _ = slow.read_to_end(&mut rest).await;
        !String::from_utf8_lossy(&rest).contains("200 OK")
    };
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(60), closed)
            .await
            .expect("the slow connection was not closed"),
        "a slow header got an answer"
    );

    // Twice the connection limit of idle connections: /healthz is still answered (the idle
    // ones are closed after the header timeout, making room).
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("client");
    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    // The idle connections were closed by the server.
    let mut closed = 0;
    for mut stream in idle {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    assert_eq!(closed, 64, "idle connections left open");

    // An idle keep-alive connection after a request is closed the same way.
    let mut keep_alive = tokio::net::TcpStream::connect(addr).await.expect("connect");
    keep_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            match keep_alive.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "an idle keep-alive connection stayed open");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
}

/// After a crash, a running import or scoring run whose heartbeat is stale and whose replica
/// is not alive is marked failed with what was committed; one whose replica is alive, or
/// whose own heartbeat is recent, is left alone.
#[tokio::test]
async fn orphaned_jobs_are_failed_and_live_ones_left_alone() {
    let app = TestApp::with_demo_model().await;
    let db = &app.state.db;
    let (dead, live) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    sqlx::query(
        "INSERT INTO replicas (id, host, pid, heartbeat_at)
         VALUES ($1, 'dead', 1, now() - interval '1 hour'), ($2, 'live', 2, now())",
    )
    .bind(dead)
    .bind(live)
    .execute(db)
    .await
    .expect("replicas");
    let import = |owner: Option<uuid::Uuid>, age_s: i32| {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO imports (file_name, format, status, requested_by, owner, heartbeat_at,
                                  rows_read, rows_committed)
             VALUES ('log.csv', 'csv', 'running', 'test', $1,
                     now() - make_interval(secs => $2), 100000, 75000)
             RETURNING id",
        )
        .bind(owner)
        .bind(f64::from(age_s))
        .fetch_one(db)
    };
    let orphan = import(Some(dead), 3600).await.expect("import");
    let unowned = import(None, 3600).await.expect("import");
    let slow_but_alive = import(Some(live), 3600).await.expect("import");
    let fresh = import(Some(dead), 1).await.expect("import");
    let model_id: i64 = sqlx::query_scalar("SELECT id FROM models LIMIT 1")
        .fetch_one(db)
        .await
        .expect("model");
    let run = |owner: uuid::Uuid, age_s: i32| {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO scoring_runs (model_id, source, status, requested_by, owner, heartbeat_at,
                                       phase, rows_read)
             VALUES ($1, 'upload', 'running', 'test', $2, now() - make_interval(secs => $3),
                     'storing', 5000)
             RETURNING id",
        )
        .bind(model_id)
        .bind(owner)
        .bind(f64::from(age_s))
        .fetch_one(db)
    };
    let orphan_run = run(dead, 3600).await.expect("run");
    let live_run = run(live, 3600).await.expect("run");

    // Another replica reconciling right now: this one skips the round.
    let mut other = db.acquire().await.expect("connection");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(switchboard::replica::locks::RECONCILE)
        .execute(&mut *other)
        .await
        .expect("lock");
    let skipped = switchboard::replica::reconcile(db, std::time::Duration::from_secs(120))
        .await
        .expect("reconcile");
    assert_eq!(skipped, None);
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(switchboard::replica::locks::RECONCILE)
        .execute(&mut *other)
        .await
        .expect("unlock");

    let done = switchboard::replica::reconcile(db, std::time::Duration::from_secs(120))
        .await
        .expect("reconcile");
    assert_eq!(
        done,
        Some(switchboard::replica::Reconciled {
            imports: 2,
            runs: 1,
            recomputations: 0
        })
    );
    let admin = Some(app.keys.admin.as_str());
    for id in [orphan, unowned] {
        let import = app.get(&format!("/v1/imports/{id}"), admin).await.json();
        assert_eq!(import["status"], "failed", "{import}");
        assert_eq!(import["rows_committed"], 75000, "{import}");
        let error = import["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("abandoned")
                && error.contains("at least the first 75000 rows are committed"),
            "{import}"
        );
    }
    for id in [slow_but_alive, fresh] {
        let import = app.get(&format!("/v1/imports/{id}"), admin).await.json();
        assert_eq!(import["status"], "running", "{import}");
    }
    let failed = app
        .get(&format!("/v1/scoring-runs/{orphan_run}"), admin)
        .await
        .json();
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("phase storing")),
        "{failed}"
    );
    let running = app
        .get(&format!("/v1/scoring-runs/{live_run}"), admin)
        .await
        .json();
    assert_eq!(running["status"], "running", "{running}");
}

/// Work that must happen once (time-driven recomputation, reconciliation) runs on the
/// replica that holds its advisory lock; the others skip it.
#[tokio::test]
async fn once_runs_work_on_one_replica_at_a_time() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let key = switchboard::replica::locks::CASE_REFRESH;
    let (inside, leave) = tokio::sync::oneshot::channel::<()>();
    let (entered, wait_entered) = tokio::sync::oneshot::channel::<()>();
    let first = {
        let db = db.clone();
        tokio::spawn(async move {
            switchboard::replica::once(&db, key, async move {
                let _ = entered.send(());
                let _ = leave.await;
                Ok(1)
            })
            .await
        })
    };
    wait_entered.await.expect("first replica inside");
    let second = switchboard::replica::once(db, key, async { Ok(2) })
        .await
        .expect("second");
    assert_eq!(second, None, "two replicas ran the same work at once");
    inside.send(()).expect("release");
    assert_eq!(first.await.expect("join").expect("first"), Some(1));
    let third = switchboard::replica::once(db, key, async { Ok(3) })
        .await
        .expect("third");
    assert_eq!(third, Some(3), "the lock was not released");
}

/// The CRM's scoring call with this key.
async fn score(app: &TestApp, key: &str) -> StatusCode {
    app.post_json(
        "/v1/scores",
        Some(key),
        serde_json::json!({"account_id": "BAN42", "features": {"n_mobile_lines": 2}}),
    )
    .await
    .status
}

/// Through a database outage, scoring keeps answering from the in-memory model for keys
/// validated before it (past AUTH_CACHE_TTL_S, up to AUTH_STALE_MAX_S); a key never seen
/// cannot be checked (503), and all is normal when the database is back.
#[tokio::test]
async fn scoring_survives_a_database_outage() {
    let url = common::fresh_database().await;
    let relay = common::CuttableRelay::start(common::host_port(&url)).await;
    let mut serve = common::serve_config();
    serve.auth_cache_ttl_s = 1;
    serve.auth_stale_max_s = 3600;
    let app = TestApp::on_database(relay.url_for(&url), serve).await;
    app.load_demo_model().await;
    let scorer = app.keys.scorer.clone();
    assert_eq!(score(&app, &scorer).await, StatusCode::OK);

    relay.cut();
    // Past the cache period: the key must be looked up again, and cannot be.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for _ in 0..20 {
        assert_eq!(score(&app, &scorer).await, StatusCode::OK);
    }
    // A key this replica never validated cannot be checked now.
    let unseen = app
        .post_json(
            "/v1/scores",
            Some(&app.keys.viewer),
            serde_json::json!({"account_id": "x", "features": {}}),
        )
        .await;
    unseen.problem(StatusCode::SERVICE_UNAVAILABLE);

    relay.restore().await;
    let mut back = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if app.get("/v1/whoami", Some(&app.keys.viewer)).await.status == StatusCode::OK {
            back = true;
            break;
        }
    }
    assert!(
        back,
        "keys were not checked again once the database returned"
    );
    assert_eq!(score(&app, &scorer).await, StatusCode::OK);
}

/// With AUTH_STALE_MAX_S=0 nothing is trusted without the database.
#[tokio::test]
async fn without_staleness_an_outage_refuses_keys() {
    let url = common::fresh_database().await;
    let relay = common::CuttableRelay::start(common::host_port(&url)).await;
    let mut serve = common::serve_config();
    serve.auth_cache_ttl_s = 1;
    serve.auth_stale_max_s = 0;
    let app = TestApp::on_database(relay.url_for(&url), serve).await;
    app.load_demo_model().await;
    assert_eq!(score(&app, &app.keys.scorer).await, StatusCode::OK);
    relay.cut();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        score(&app, &app.keys.scorer).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// A wrong secret with a valid key id never marks the key used; an unknown id is answered
/// from the cache for AUTH_CACHE_TTL_S (no database round trip per garbage key).
#[tokio::test]
async fn wrong_secrets_do_not_touch_keys_and_unknown_ids_are_cached() {
    let mut serve = common::serve_config();
    serve.auth_cache_ttl_s = 3600;
    let app = TestApp::with_config(serve).await;
    let viewer = app.keys.viewer.clone();
    let wrong = format!(
        "{}{}",
        &viewer[..viewer.len() - 1],
        if viewer.ends_with('0') { '1' } else { '0' }
    );
    for _ in 0..3 {
        app.get("/v1/whoami", Some(&wrong))
            .await
            .problem(StatusCode::UNAUTHORIZED);
    }
    let last_used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM api_keys WHERE name = 'test-viewer'")
            .fetch_one(&app.state.db)
            .await
            .expect("key");
    assert_eq!(last_used, None, "a wrong secret marked the key used");
    assert_eq!(
        app.get("/v1/whoami", Some(&viewer)).await.status,
        StatusCode::OK
    );
    let last_used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM api_keys WHERE name = 'test-viewer'")
            .fetch_one(&app.state.db)
            .await
            .expect("key");
    assert!(
        last_used.is_some(),
        "the right secret did not mark the key used"
    );

    // An unknown id is remembered as unknown: a key created with that id afterwards is only
    // seen once the cache period is over.
    let key = switchboard::auth::keys::ApiKey::generate().expect("key");
    let text = key.reveal();
    app.get("/v1/whoami", Some(&text))
        .await
        .problem(StatusCode::UNAUTHORIZED);
    switchboard::auth::store_key(&app.state.db, &key, "late", switchboard::auth::Role::Viewer)
        .await
        .expect("store");
    app.get("/v1/whoami", Some(&text))
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

/// A small succeeded scoring run of the demo model; returns its id and account ids.
async fn small_run(app: &TestApp) -> (i64, Vec<String>) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("accounts.csv");
    switchboard::scoring::runs::command::write_population(&path, 100, 7, false)
        .expect("population");
    let file = std::fs::read(&path).expect("population");
    let text = String::from_utf8(file.clone()).expect("utf-8");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let id_column = header
        .iter()
        .position(|h| *h == "account_id" || *h == "ban")
        .expect("id column");
    let ids = lines
        .map(|l| l.split(',').nth(id_column).expect("id").to_owned())
        .collect();
    let reply = app
        .post_file(
            "/v1/scoring-runs?wait=true",
            Some(&app.keys.admin),
            "accounts.csv",
            &file,
            None,
        )
        .await;
    let run = reply.json();
    assert_eq!(run["status"], "succeeded", "{run}");
    (run["id"].as_i64().expect("run id"), ids)
}

async fn post_outcomes(
    app: &TestApp,
    run: i64,
    content_type: &str,
    body: Vec<u8>,
) -> common::Reply {
    app.send(
        axum::http::Request::builder()
            .method(Method::POST)
            .uri(format!("/v1/scoring-runs/{run}/outcomes"))
            .header("authorization", format!("Bearer {}", app.keys.admin))
            .header("content-type", content_type)
            .body(axum::body::Body::from(body))
            .expect("request"),
    )
    .await
}

/// CSV outcomes are streamed (to disk, then to the database a piece at a time), so an upload
/// far larger than BODY_LIMIT_BYTES (1 MiB in the tests) is read in bounded memory with the
/// last row per account winning; JSON outcomes, parsed whole, are held to BODY_LIMIT_BYTES.
#[tokio::test]
async fn large_outcome_uploads_are_streamed() {
    let app = TestApp::with_demo_model().await;
    let (run, ids) = small_run(&app).await;
    let mut csv = String::from("account_id,target\n");
    // 200,000 rows (~3 MB) of accounts the run did not score, then the run's own accounts
    // twice: the second time wins.
    for i in 0..200_000 {
        csv.push_str(&format!("X{i},1\n"));
    }
    for round in 0..2 {
        for (i, id) in ids.iter().enumerate() {
            csv.push_str(&format!("{id},{}\n", (i + round) % 2));
        }
    }
    let reply = post_outcomes(&app, run, "text/csv", csv.into_bytes()).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let report = reply.json();
    assert_eq!(report["rows"], 200_200, "{report}");
    assert_eq!(report["accounts"], 200_100, "{report}");
    assert_eq!(report["unknown_accounts"], 200_000, "{report}");
    assert_eq!(report["stored"], 100, "{report}");
    let positives: i64 =
        sqlx::query_scalar("SELECT count(*) FROM run_outcomes WHERE run_id = $1 AND target")
            .bind(run)
            .fetch_one(&app.state.db)
            .await
            .expect("count");
    assert_eq!(positives, 50);
    let a1: bool =
        sqlx::query_scalar("SELECT target FROM run_outcomes WHERE run_id = $1 AND account_id = $2")
            .bind(run)
            .bind(&ids[1])
            .fetch_one(&app.state.db)
            .await
            .expect("A1");
    assert!(!a1, "the last row of A1 (target 0) did not win");

    // A bad row among many: nothing stored, the line named.
    let mut bad = String::from("account_id,target\n");
    for i in 0..50_000 {
        bad.push_str(&format!("{},1\n", ids[i % 100]));
    }
    bad.push_str(&format!("{},maybe\n", ids[1]));
    let reply = post_outcomes(&app, run, "text/csv", bad.into_bytes()).await;
    let problem = reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem["errors"][0]["field"], "line 50002: target",
        "{problem}"
    );

    let mut json = String::from("[");
    for i in 0..100_000 {
        json.push_str(&format!("{{\"account_id\": \"X{i}\", \"target\": 1}},"));
    }
    json.push_str(&format!(
        "{{\"account_id\": \"{}\", \"target\": 1}}]",
        ids[1]
    ));
    let reply = post_outcomes(&app, run, "application/json", json.into_bytes()).await;
    reply.problem(StatusCode::PAYLOAD_TOO_LARGE);
}

/// Every response says nosniff and no framing; the docs get a CSP that lets Swagger UI run;
/// the key listing is never cached.
#[tokio::test]
async fn responses_carry_security_headers() {
    let app = TestApp::new().await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.headers["x-content-type-options"], "nosniff");
    assert_eq!(health.headers["x-frame-options"], "DENY");
    let csp = health.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));

    let docs = app.get("/docs/", None).await;
    assert_eq!(docs.status, StatusCode::OK);
    let csp = docs.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    let keys = app.get("/v1/keys", Some(&app.keys.admin)).await;
    assert_eq!(keys.status, StatusCode::OK);
    assert_eq!(keys.headers["cache-control"], "no-store");
    // Errors carry them too.
    let missing = app.get("/v1/nothing", None).await;
    assert_eq!(missing.headers["x-content-type-options"], "nosniff");
}

/// Every `$ref` of the OpenAPI document resolves, and the statuses the server gives for
/// malformed input (an id overflowing i64, a wrong content type) are documented.
#[tokio::test]
async fn the_openapi_document_is_whole() {
    let document: serde_json::Value =
        serde_json::from_str(&switchboard::http::openapi::document_json()).expect("json");
    fn refs<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    match (key.as_str(), item) {
                        ("$ref", serde_json::Value::String(target)) => out.push(target),
                        _ => refs(item, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&document, &mut found);
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {target}"));
        assert!(
            document["components"]["schemas"][name].is_object(),
            "unresolvable $ref {target}"
        );
    }
    let app = TestApp::new().await;
    let overflow = app
        .get("/v1/imports/99999999999999999999", Some(&app.keys.admin))
        .await;
    overflow.problem(StatusCode::BAD_REQUEST);
    assert!(document["paths"]["/v1/imports/{id}"]["get"]["responses"]["400"].is_object());
    let wrong_type = app
        .send(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri("/v1/scores")
                .header("authorization", format!("Bearer {}", app.keys.scorer))
                .header("content-type", "text/plain")
                .body(axum::body::Body::from("{}"))
                .expect("request"),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    for (path, method) in [
        ("/v1/scores", "post"),
        ("/v1/events", "post"),
        ("/v1/activity-mappings", "put"),
        ("/v1/staffing/erlang-c", "post"),
    ] {
        assert!(
            document["paths"][path][method]["responses"]["415"].is_object(),
            "{method} {path} does not document 415"
        );
    }
}

/// A month-long staffing plan whose first interval has no arrivals, with no aht_s given, is
/// planned (an interval that cannot be sized says why instead of failing the plan); a given
/// aht_s beyond the calculators' range is refused naming `aht_s`.
#[tokio::test]
async fn a_month_long_staffing_plan_is_planned() {
    let app = TestApp::new().await;
    let admin = Some(app.keys.admin.as_str());
    // Cases from the second day on; the pick-up to first answer takes two days in one of them.
    let events = serde_json::json!([
        {"case_id": "C1", "activity": "Case Created", "event_time": "2026-03-02T09:00:00Z", "customer": "K1"},
        {"case_id": "C1", "activity": "Queue Item Picked by Agent", "event_time": "2026-03-02T09:05:00Z", "agent": "ana"},
        {"case_id": "C1", "activity": "Solution Proposed to Customer", "event_time": "2026-03-04T09:05:00Z", "agent": "ana"},
        {"case_id": "C2", "activity": "Case Created", "event_time": "2026-03-10T10:00:00Z", "customer": "K2"},
        {"case_id": "C2", "activity": "Queue Item Picked by Agent", "event_time": "2026-03-10T10:01:00Z", "agent": "rui"},
        {"case_id": "C2", "activity": "Solution Proposed to Customer", "event_time": "2026-03-10T10:06:00Z", "agent": "rui"},
    ]);
    let stored = app.post_json("/v1/events", admin, events).await;
    assert_eq!(stored.status, StatusCode::OK, "{:?}", stored.json());
    let plan = app
        .get(
            "/v1/staffing/plan?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&interval=1h",
            Some(&app.keys.viewer),
        )
        .await;
    assert_eq!(plan.status, StatusCode::OK, "{:?}", plan.json());
    let plan = plan.json();
    let intervals = plan["intervals"].as_array().expect("intervals");
    assert_eq!(intervals.len(), 31 * 24);
    assert_eq!(intervals[0]["observed_arrivals"], 0);
    // C1's interval (2 March, 09:00) has a two-day handling time: no requirement, and why.
    let c1 = &intervals[33];
    assert_eq!(c1["observed_arrivals"], 1, "{c1}");
    assert!(c1["requirement"].is_null(), "{c1}");
    assert!(
        c1["note"].as_str().is_some_and(|n| n.contains("aht_s")),
        "{c1}"
    );
    // C2's is sized.
    assert!(
        intervals[9 * 24 + 10]["requirement"].is_object(),
        "{}",
        intervals[9 * 24 + 10]
    );

    let refused = app
        .get(
            "/v1/staffing/plan?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&aht_s=100000",
            Some(&app.keys.viewer),
        )
        .await;
    let problem = refused.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "aht_s", "{problem}");

    // The plan reads case data: a CRM scorer key may not, as the README says.
    app.get(
        "/v1/staffing/plan?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
        Some(&app.keys.scorer),
    )
    .await
    .problem(StatusCode::FORBIDDEN);
}
