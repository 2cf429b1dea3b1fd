//! Several replicas against one database (issue 16): real `switchboard serve` processes (the
//! built binary) share one fresh database. An activation or a new scoring run made through one
//! is served by the others within MODEL_REFRESH_S; imports of the same events through two
//! replicas at once store each event once; every replica registers and beats; the orphan
//! checks of the others never take over an import a live replica is running.

use crate::common;

use std::{process::Stdio, time::Duration};

use common::fresh_database;

const ADMIN_KEY: &str = "sb_5b5b5b5b5b5b_adadadadadadadadadadadadadadadadadadadadadadadad";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Replica {
    /// Killed when dropped.
    _child: tokio::process::Child,
    base: String,
}

impl Replica {
    async fn start(url: &switchboard::config::DatabaseUrl) -> Self {
        let port = free_port();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .env("DATABASE_URL", url.expose())
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
            .env("MODEL_REFRESH_S", "1")
            .env("JOB_HEARTBEAT_S", "1")
            .env("ORPHAN_TIMEOUT_S", "3")
            .env("AUTH_CACHE_TTL_S", "1")
            .env(
                "MODEL_PATH",
                concat!(env!("CARGO_MANIFEST_DIR"), "/models/demo/model.txt"),
            )
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start serve");
        let replica = Replica {
            _child: child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(reply) = client.get(format!("{}/readyz", replica.base)).send().await
                && reply.status() == 200
            {
                return replica;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("a replica did not become ready");
    }

    /// POSTs a file as multipart `file` and returns the JSON answer.
    async fn post_file(&self, path: &str, name: &str, file: &[u8]) -> serde_json::Value {
        const BOUNDARY: &str = "replicas-test-file-boundary";
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_KEY)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .expect("upload")
            .json()
            .await
            .expect("json")
    }

    async fn get(&self, path: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }
}

/// Polls `check` every 200 ms for up to a minute.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what} did not happen within a minute");
}

#[tokio::test]
async fn replicas_share_activations_and_leave_live_work_alone() {
    let url = fresh_database().await;
    // One at a time at first: each start registers the demo model only when none is active.
    let first = Replica::start(&url).await;
    let others = [Replica::start(&url).await, Replica::start(&url).await];
    let client = reqwest::Client::new();

    // All three registered and beat.
    let pool = switchboard::db::connect(&url).await.expect("connect");
    eventually("three live replicas", async || {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM replicas WHERE heartbeat_at > now() - interval '5 seconds'",
        )
        .fetch_one(&pool)
        .await
        .is_ok_and(|n| n == 3)
    })
    .await;

    // A new model uploaded and activated through the first replica is served by the others.
    let model = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/demo/model.txt"
    ))
    .expect("model");
    let uploaded: serde_json::Value = client
        .post(format!("{}/v1/models?name=second&version=2", first.base))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "text/plain")
        .body(model)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let id = uploaded["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("model id: {uploaded}"));
    let activated = client
        .post(format!("{}/v1/models/{id}/activate", first.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("activate");
    assert_eq!(activated.status(), 200);
    for replica in &others {
        eventually("the activation reaching another replica", async || {
            let reply: serde_json::Value = client
                .post(format!("{}/v1/scores", replica.base))
                .bearer_auth(ADMIN_KEY)
                .json(&serde_json::json!({"account_id": "a", "features": {}}))
                .send()
                .await
                .expect("score")
                .json()
                .await
                .expect("json");
            reply["model_id"].as_i64() == Some(id)
        })
        .await;
    }

    // A scoring run made through the first replica: the others answer look-ups from it.
    let population = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/scoring/batch/accounts.csv"
    ))
    .expect("population");
    let run = first
        .post_file("/v1/scoring-runs?wait=true", "accounts.csv", &population)
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let run_id = run["id"].as_i64().expect("run id");
    let account = std::str::from_utf8(&population)
        .expect("utf-8")
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .expect("an account id")
        .to_owned();
    for replica in &others {
        eventually("the new run reaching another replica", async || {
            replica.get(&format!("/v1/accounts/{account}/score")).await["run_id"].as_i64()
                == Some(run_id)
        })
        .await;
    }

    // The same events imported through two replicas at once: each event is stored once.
    let mut events = String::from("case_id,activity,event_time\n");
    for case in 0..300 {
        events.push_str(&format!(
            "R-{case},Case Created,2026-03-02T09:00:00Z\nR-{case},Case Resolved,2026-03-02T10:00:00Z\n"
        ));
    }
    let (a, b) = tokio::join!(
        first.post_file("/v1/imports?wait=true", "a.csv", events.as_bytes()),
        others[0].post_file("/v1/imports?wait=true", "b.csv", events.as_bytes()),
    );
    assert_eq!(a["status"], "succeeded", "{a}");
    assert_eq!(b["status"], "succeeded", "{b}");
    let stored = a["events_stored"].as_i64().unwrap() + b["events_stored"].as_i64().unwrap();
    let skipped =
        a["duplicates_skipped"].as_i64().unwrap() + b["duplicates_skipped"].as_i64().unwrap();
    assert_eq!((stored, skipped), (600, 600), "{a} {b}");
    let in_store: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(in_store, 600);

    // An import running on one replica, with the others checking for orphans every second
    // (ORPHAN_TIMEOUT_S=3): it completes, untouched. Only where the real logs are (see
    // `build.rs`); the rest of this test runs everywhere.
    if !cfg!(no_eventlogs) {
        let dir = common::eventlogs();
        let file = std::fs::read(dir.join("bpic2013_incidents.xes.gz")).expect("log");
        const BOUNDARY: &str = "replicas-test-boundary";
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bpic.xes.gz\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&file);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let started: serde_json::Value = client
            .post(format!("{}/v1/imports", first.base))
            .bearer_auth(ADMIN_KEY)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .expect("import")
            .json()
            .await
            .expect("json");
        let import_id = started["id"].as_i64().expect("import id");
        let mut done = serde_json::Value::Null;
        eventually("the import finishing", async || {
            done = others[0].get(&format!("/v1/imports/{import_id}")).await;
            done["status"] != "running"
        })
        .await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert!(
            done["events_stored"].as_i64().is_some_and(|n| n > 60_000),
            "{done}"
        );
    }
    drop(first);
    drop(others);
}
