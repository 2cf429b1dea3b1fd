//! Batch scoring runs end to end on a real PostgreSQL with the demo model: stored scores and
//! deciles, outcomes, lift, AUC and stability checked against pandas, scikit-learn and
//! LightGBM (tests/fixtures/scoring/batch/, written by tools/fixtures/make_batch_fixtures.py).

use crate::common;

use switchboard::scoring::reasons::PackedReason;

use std::{collections::HashMap, io::Write, path::Path};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use common::{Reply, TestApp, fixture};
use serde_json::Value;

const REL: f64 = 1e-12;

fn batch_file(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scoring/batch")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A repr-string float of the fixture (`null` -> None).
fn num(value: &Value) -> Option<f64> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.parse().expect("float string")),
        Value::Number(n) => n.as_f64(),
        other => panic!("not a number: {other}"),
    }
}

fn assert_close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (Some(g), Some(w)) => {
            let scale = w.abs().max(f64::MIN_POSITIVE);
            assert!(
                (g - w).abs() <= REL * scale,
                "{what}: got {g:e}, want {w:e}"
            );
        }
        (None, None) => {}
        other => panic!("{what}: {other:?}"),
    }
}

async fn start_run(app: &TestApp, query: &str, name: &str, file: &[u8]) -> Value {
    app.upload_ok(&format!("/v1/scoring-runs?wait=true{query}"), name, file)
        .await
}

async fn post_outcomes(
    app: &TestApp,
    run: i64,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/scoring-runs/{run}/outcomes{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.keys.admin))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("request");
    app.send(request).await
}

async fn stored_scores(app: &TestApp, run: i64) -> HashMap<String, (f64, i16)> {
    sqlx::query_as::<_, (String, f64, i16)>(
        "SELECT account_id, probability, decile FROM account_scores WHERE run_id = $1",
    )
    .bind(run)
    .fetch_all(&app.state.db)
    .await
    .expect("scores")
    .into_iter()
    .map(|(id, p, d)| (id, (p, d)))
    .collect()
}

#[tokio::test]
async fn a_run_stores_every_score_with_pandas_deciles_and_judges_the_model_like_the_notebook() {
    let app = TestApp::with_demo_model().await;
    let expected = fixture("scoring/batch/expected.json");

    // Scoring: every account's probability (LightGBM's) and decile (pd.qcut's).
    let run = start_run(&app, "", "accounts.csv", &batch_file("accounts.csv")).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["phase"], "done");
    assert_eq!(run["progress"], 1.0);
    assert_eq!(run["accounts_scored"], 1200);
    assert_eq!(run["rows_read"], 1200);
    assert_eq!(run["bad_rows_count"], 0);
    let run_id = run["id"].as_i64().unwrap();
    for phase in [
        "read_s",
        "parse_s",
        "predict_s",
        "scoring_s",
        "store_s",
        "total_s",
    ] {
        assert!(
            run["timings"][phase].as_f64().is_some_and(|t| t > 0.0),
            "{phase}: {run}"
        );
    }
    let scores = stored_scores(&app, run_id).await;
    assert_eq!(scores.len(), 1200);
    let want_probabilities = expected["run"]["probabilities"].as_object().unwrap();
    let want_deciles = expected["run"]["deciles"].as_object().unwrap();
    for (account, want) in want_probabilities {
        let (probability, decile) = scores[account];
        assert_close(Some(probability), num(want), account);
        assert_eq!(
            i64::from(decile),
            want_deciles[account].as_i64().unwrap(),
            "{account}"
        );
    }

    let deciles = app
        .get(
            &format!("/v1/scoring-runs/{run_id}/deciles"),
            Some(&app.keys.viewer),
        )
        .await
        .json();
    assert_eq!(deciles, run["deciles"]);
    assert_eq!(deciles["degenerate"], expected["run"]["degenerate"]);
    for (k, edge) in expected["run"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_close(
            deciles["edges"][k].as_f64(),
            num(edge),
            &format!("edge {k}"),
        );
    }
    for k in 0..10 {
        let row = &deciles["deciles"][k];
        assert_eq!(row["decile"], k + 1);
        assert_eq!(row["accounts"], expected["run"]["counts"][k]);
        assert_close(
            row["mean_probability"].as_f64(),
            num(&expected["run"]["mean_probability"][k]),
            &format!("mean of decile {}", k + 1),
        );
    }

    // The CRM's look-up.
    let score = app
        .get("/v1/accounts/ACC00001/score", Some(&app.keys.scorer))
        .await;
    assert_eq!(score.status, StatusCode::OK);
    let score = score.json();
    assert_eq!(score["run_id"], run_id);
    assert_eq!(score["model_id"], run["model_id"]);
    assert_close(
        score["probability"].as_f64(),
        num(&want_probabilities["ACC00001"]),
        "look-up",
    );
    assert_eq!(score["decile"], want_deciles["ACC00001"]);
    assert!(score["scored_at"].is_string());
    app.get("/v1/accounts/NOBODY/score", Some(&app.keys.scorer))
        .await
        .problem(StatusCode::NOT_FOUND);
    app.get(
        &format!("/v1/scoring-runs/{run_id}/lift"),
        Some(&app.keys.viewer),
    )
    .await
    .problem(StatusCode::CONFLICT);

    // Outcomes: duplicates (last row wins), empty last targets, unknown accounts.
    let reply = post_outcomes(&app, run_id, "", "text/csv", batch_file("outcomes.csv")).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let report = reply.json();
    let want = &expected["outcomes"];
    assert_eq!(report["rows"], want["rows"]);
    assert_eq!(report["unknown_accounts"], want["unknown_accounts"]);
    assert_eq!(report["labelled"], want["labelled"]);
    assert_eq!(report["bad_rows_count"], 0);

    let lift = app
        .get(
            &format!("/v1/scoring-runs/{run_id}/lift"),
            Some(&app.keys.viewer),
        )
        .await
        .json();
    assert_lift(&lift, &expected["lift"]);
    assert_eq!(lift["labelled"], want["labelled"]);
    assert_eq!(lift["positives"], want["positives"]);

    // The same outcomes as JSON, replacing the stored ones, give the same table.
    let json_body = outcomes_as_json(&batch_file("outcomes.csv"));
    let reply = post_outcomes(&app, run_id, "?replace=true", "application/json", json_body).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["labelled"], want["labelled"]);
    let again = app
        .get(
            &format!("/v1/scoring-runs/{run_id}/lift"),
            Some(&app.keys.viewer),
        )
        .await
        .json();
    assert_lift(&again, &expected["lift"]);

    // Stability of a later, shifted population against the first run.
    let later = start_run(
        &app,
        "",
        "accounts_later.csv",
        &batch_file("accounts_later.csv"),
    )
    .await;
    let later_id = later["id"].as_i64().unwrap();
    // ACC accounts are not in the newest run (held in memory): the look-up finds the older one.
    assert_eq!(app.state.latest_scores.run_id(), Some(later_id));
    let score = app
        .get("/v1/accounts/ACC00001/score", Some(&app.keys.scorer))
        .await
        .json();
    assert_eq!(score["run_id"], run_id);
    let score = app
        .get("/v1/accounts/LAT00001/score", Some(&app.keys.scorer))
        .await
        .json();
    assert_eq!(score["run_id"], later_id);
    assert_close(
        score["probability"].as_f64(),
        num(&expected["stability"]["probabilities"]["LAT00001"]),
        "look-up from memory",
    );
    let stability = app
        .get(
            &format!("/v1/scoring-runs/{later_id}/stability?baseline={run_id}"),
            Some(&app.keys.viewer),
        )
        .await
        .json();
    let want = &expected["stability"];
    assert_eq!(stability["accounts"], want["accounts"]);
    assert_close(stability["psi"].as_f64(), num(&want["psi"]), "psi");
    for k in 0..10 {
        let (got, want) = (&stability["deciles"][k], &want["deciles"][k]);
        assert_eq!(got["decile"], want["decile"]);
        assert_eq!(got["count"], want["count"]);
        for field in ["reference_share", "share", "term"] {
            assert_close(
                got[field].as_f64(),
                num(&want[field]),
                &format!("decile {} {field}", k + 1),
            );
        }
    }

    // A newer run of the same accounts is what the CRM reads next; as the model's decile
    // reference it also sets the deciles of online scores.
    // Another replica, serving the same model, follows at its next sync.
    let replica = switchboard::scoring::registry::ModelRegistry::new();
    replica.sync_with_database(&app.state.db).await.unwrap();
    let newer = start_run(
        &app,
        "&reference=true",
        "accounts.csv",
        &batch_file("accounts.csv"),
    )
    .await;
    let newer_id = newer["id"].as_i64().unwrap();
    let score = app
        .get("/v1/accounts/ACC00001/score", Some(&app.keys.scorer))
        .await
        .json();
    assert_eq!(score["run_id"], newer_id);
    let model = app
        .get(
            &format!("/v1/models/{}", newer["model_id"]),
            Some(&app.keys.viewer),
        )
        .await
        .json();
    assert_eq!(
        model["decile_reference"]["source"],
        format!("run:{newer_id}"),
        "{model}"
    );
    assert_eq!(
        model["decile_reference"]["edges"],
        newer["deciles"]["edges"]
    );
    replica.sync_with_database(&app.state.db).await.unwrap();
    let replica_model = replica.active().unwrap();
    assert_eq!(
        replica_model.deciles.load().as_ref().unwrap().source,
        format!("run:{newer_id}")
    );
    let serving = app.state.models.active().unwrap();
    let edges = serving.deciles.load();
    assert_eq!(
        edges.as_ref().unwrap().edges.edges.to_vec(),
        newer["deciles"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_f64().unwrap())
            .collect::<Vec<_>>()
    );
}

fn assert_lift(lift: &Value, want: &Value) {
    assert_eq!(lift["degenerate"], want["degenerate"]);
    assert_close(lift["roc_auc"].as_f64(), num(&want["roc_auc"]), "roc_auc");
    assert_close(
        lift["base_rate"].as_f64(),
        num(&want["overall_rate"]),
        "base rate",
    );
    for (k, edge) in want["edges"].as_array().unwrap().iter().enumerate() {
        assert_close(
            lift["edges"][k].as_f64(),
            num(edge),
            &format!("lift edge {k}"),
        );
    }
    for k in 0..10 {
        let (got, want_row) = (&lift["deciles"][k], &want["rows"][k]);
        for field in [
            "decile",
            "accounts",
            "positives",
            "cumulative_accounts",
            "cumulative_positives",
        ] {
            assert_eq!(got[field], want_row[field], "decile {} {field}", k + 1);
        }
        for field in [
            "mean_probability",
            "actual_rate",
            "lift",
            "cumulative_captured",
            "cumulative_lift",
        ] {
            assert_close(
                got[field].as_f64(),
                num(&want_row[field]),
                &format!("decile {} {field}", k + 1),
            );
        }
        assert_close(
            got["overall_rate"].as_f64(),
            num(&want["overall_rate"]),
            "overall rate",
        );
    }
}

/// outcomes.csv as a JSON body (empty target -> null).
fn outcomes_as_json(csv: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(csv).unwrap();
    let outcomes: Vec<Value> = text
        .lines()
        .skip(1)
        .map(|line| {
            let (id, target) = line.split_once(',').unwrap();
            let target = match target {
                "" => Value::Null,
                t => Value::from(t.parse::<i64>().unwrap()),
            };
            serde_json::json!({"account_id": id, "target": target})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "outcomes": outcomes })).unwrap()
}

/// The first `n` data lines of accounts.csv with its header.
fn accounts_head(n: usize) -> String {
    let text = String::from_utf8(batch_file("accounts.csv")).unwrap();
    text.lines().take(n + 1).map(|l| format!("{l}\n")).collect()
}

async fn partition_exists(app: &TestApp, run: i64) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("account_scores_run_{run}"))
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bad_row_fails_the_run_with_its_line_and_stores_nothing_unless_allowed() {
    let app = TestApp::with_demo_model().await;
    let mut lines: Vec<String> = accounts_head(5).lines().map(str::to_owned).collect();
    // Line 4 of the file (header = 1): a feature that is not a number.
    let mut cells: Vec<&str> = lines[3].split(',').collect();
    cells[2] = "lots";
    lines[3] = cells.join(",");
    let file = lines.join("\n") + "\n";
    let header: Vec<&str> = lines[0].split(',').collect();

    let run = start_run(&app, "", "bad.csv", file.as_bytes()).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["accounts_scored"], 0);
    assert_eq!(run["bad_rows_count"], 1);
    assert_eq!(run["bad_rows"][0]["line"], 4);
    assert_eq!(run["bad_rows"][0]["errors"][0]["field"], header[2]);
    assert_eq!(
        run["bad_rows"][0]["errors"][0]["message"],
        "`lots` is not a number"
    );
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("nothing was stored"),
        "{run}"
    );
    let id = run["id"].as_i64().unwrap();
    assert!(!partition_exists(&app, id).await);
    assert!(stored_scores(&app, id).await.is_empty());
    app.get(
        &format!("/v1/scoring-runs/{id}/deciles"),
        Some(&app.keys.viewer),
    )
    .await
    .problem(StatusCode::CONFLICT);

    // Allowed: the other four are stored; gzip is read the same.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(file.as_bytes()).unwrap();
    let run = start_run(
        &app,
        "&max_bad_rows=1",
        "bad.csv.gz",
        &gzip.finish().unwrap(),
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["accounts_scored"], 4);
    assert_eq!(run["rows_read"], 5);
    assert_eq!(
        stored_scores(&app, run["id"].as_i64().unwrap()).await.len(),
        4
    );
}

#[tokio::test]
async fn account_ids_are_stored_byte_for_byte() {
    let app = TestApp::with_demo_model().await;
    let lines: Vec<String> = accounts_head(4).lines().map(str::to_owned).collect();
    // Characters COPY's text format would have to escape, CSV quoting, and non-ASCII.
    let ids = ["tab\there", "back\\slash\\N", "quo\"te,comma", "Zürich-ß-7"];
    let cells = [
        "\"tab\there\"",
        "back\\slash\\N",
        "\"quo\"\"te,comma\"",
        "Zürich-ß-7",
    ];
    let mut file = format!("{}\n", lines[0]);
    for (line, cell) in lines[1..].iter().zip(cells) {
        let (_, rest) = line.split_once(',').unwrap();
        file.push_str(&format!("{cell},{rest}\n"));
    }
    let run = start_run(&app, "", "ids.csv", file.as_bytes()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let stored = stored_scores(&app, run["id"].as_i64().unwrap()).await;
    let mut stored_ids: Vec<&str> = stored.keys().map(String::as_str).collect();
    stored_ids.sort_unstable();
    let mut expected = ids.to_vec();
    expected.sort_unstable();
    assert_eq!(stored_ids, expected);
    let reply = app
        .get(
            "/v1/accounts/back%5Cslash%5CN/score",
            Some(&app.keys.scorer),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let score: Value = reply.json();
    assert_eq!(score["account_id"], "back\\slash\\N");
    assert_eq!(score["probability"], stored["back\\slash\\N"].0);
}

#[tokio::test]
async fn unusable_files_fail_clearly() {
    let app = TestApp::with_demo_model().await;
    let head = accounts_head(3);

    // An account twice: the unique index refuses it and the run stores nothing.
    let second = head.lines().nth(1).unwrap();
    let run = start_run(&app, "", "dup.csv", format!("{head}{second}\n").as_bytes()).await;
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("more than once") && error.contains(second.split(',').next().unwrap()),
        "{error}"
    );
    assert!(!partition_exists(&app, run["id"].as_i64().unwrap()).await);

    // A header the model cannot use is refused at once (422), and no run is created: a
    // feature column missing, an empty file, no account id column; gzip is read the same.
    let without_last: String = head
        .lines()
        .map(|l| format!("{}\n", &l[..l.rfind(',').unwrap()]))
        .collect();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(without_last.as_bytes()).unwrap();
    let runs_before = app
        .get("/v1/scoring-runs", Some(&app.keys.viewer))
        .await
        .json();
    for (name, body, needle) in [
        (
            "short.csv",
            without_last.as_bytes().to_vec(),
            "lacks 1 of the model's features",
        ),
        (
            "short.csv.gz",
            gzip.finish().unwrap(),
            "lacks 1 of the model's features",
        ),
        ("f.csv", Vec::new(), "empty"),
        ("f.csv", b"x,y\n1,2\n".to_vec(), "account id column"),
    ] {
        let problem = app
            .post_file(
                "/v1/scoring-runs?wait=true",
                Some(&app.keys.admin),
                name,
                &body,
                None,
            )
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "file", "{problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle}: {problem}");
    }
    let runs_after = app
        .get("/v1/scoring-runs", Some(&app.keys.viewer))
        .await
        .json();
    assert_eq!(runs_after, runs_before, "a refused file creates no run");

    // A header alone is a run that fails: there is no account to score.
    let run = start_run(&app, "", "f.csv", head.lines().next().unwrap().as_bytes()).await;
    assert_eq!(run["status"], "failed");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("no account to score"),
        "{run}"
    );

    // A NUL in a cell (PostgreSQL cannot store one) is a bad row like any other.
    let mut lines: Vec<String> = head.lines().map(str::to_owned).collect();
    let mut cells: Vec<String> = lines[1].split(',').map(str::to_owned).collect();
    cells[1] = "1\0x".into();
    lines[1] = cells.join(",");
    let run = start_run(&app, "", "nul.csv", (lines.join("\n") + "\n").as_bytes()).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["bad_rows"][0]["line"], 2);
    assert_eq!(
        run["bad_rows"][0]["errors"][0]["message"],
        "`1\\0x` is not a number"
    );

    // A run whose process stopped (no progress for two minutes) is marked failed.
    let model_id = run["model_id"].as_i64().unwrap();
    let stale: i64 = sqlx::query_scalar(
        "INSERT INTO scoring_runs (model_id, source, status, requested_by, heartbeat_at)
         VALUES ($1, 'gone.csv', 'running', 'test', now() - interval '5 minutes') RETURNING id",
    )
    .bind(model_id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let failed = switchboard::scoring::runs::store::fail_abandoned_runs(&app.state.db, 120.0)
        .await
        .unwrap();
    assert_eq!(failed, 1);
    let run = app
        .get(&format!("/v1/scoring-runs/{stale}"), Some(&app.keys.viewer))
        .await
        .json();
    assert_eq!(run["status"], "failed");
    assert!(run["error"].as_str().unwrap().starts_with("abandoned"));

    // Outcomes: bad rows are listed with lines and nothing is stored; unknown runs are 404.
    let run = start_run(&app, "", "ok.csv", head.as_bytes()).await;
    let id = run["id"].as_i64().unwrap();
    let first = head.lines().nth(1).unwrap().split(',').next().unwrap();
    let body = format!("account_id,target\n{first},1\n{first},maybe\n");
    let problem = post_outcomes(&app, id, "", "text/csv", body.into_bytes())
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "line 3: target", "{problem}");
    let problem = post_outcomes(&app, id, "", "text/csv", b"account,outcome\n".to_vec())
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("account id column")
    );
    post_outcomes(
        &app,
        999_999,
        "",
        "text/csv",
        b"account_id,target\n".to_vec(),
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    // Only one class: a lift table but no AUC.
    let body = format!("account_id,target\n{first},1\n");
    let reply = post_outcomes(&app, id, "", "text/csv", body.into_bytes()).await;
    assert_eq!(reply.json()["labelled"], 1);
    let lift = app
        .get(
            &format!("/v1/scoring-runs/{id}/lift"),
            Some(&app.keys.viewer),
        )
        .await
        .json();
    assert_eq!(lift["roc_auc"], Value::Null);
    assert_eq!(lift["labelled"], 1);

    // Roles: the scorer reads scores but cannot start runs.
    app.post_file(
        "/v1/scoring-runs",
        Some(&app.keys.scorer),
        "f.csv",
        head.as_bytes(),
        None,
    )
    .await
    .problem(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_cli_scores_a_generated_gzip_population_and_stores_it() {
    let app = TestApp::with_demo_model().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("population.csv.gz");
    switchboard::scoring::runs::command::write_population(&path, 5_000, 7, true).unwrap();
    let model_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/demo/model.txt");
    switchboard::scoring::runs::command::score_batch(
        &app.state.db,
        &path,
        false,
        0,
        2,
        model_path.to_str().unwrap(),
    )
    .await
    .expect("score-batch");
    let run_id: i64 = sqlx::query_scalar("SELECT max(id) FROM scoring_runs")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let run = app
        .get(
            &format!("/v1/scoring-runs/{run_id}"),
            Some(&app.keys.viewer),
        )
        .await
        .json();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["accounts_scored"], 5_000);
    assert_eq!(run["ignored_columns"], serde_json::json!(["target"]));
    // `--explain 2`: every account kept two reasons, the larger contribution first.
    assert_eq!(run["explain"], 2);
    let kept: Vec<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT reasons FROM account_scores WHERE run_id = $1")
            .bind(run_id)
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(kept.len(), 5_000);
    for packed in &kept {
        let reasons: Vec<PackedReason> = PackedReason::unpack(packed.as_deref().unwrap()).collect();
        assert_eq!(reasons.len(), 2);
        assert!(reasons[0].contribution >= reasons[1].contribution);
        assert_ne!(reasons[0].feature, reasons[1].feature);
    }
    // Every decile holds a tenth of the accounts (no ties in a continuous population).
    for decile in run["deciles"]["deciles"].as_array().unwrap() {
        assert_eq!(decile["accounts"], 500, "{decile}");
    }
    // The generated rows score as the generator's own rows do.
    let mut generator = switchboard::scoring::population::AccountGenerator::new(7);
    let mut row = vec![0.0; switchboard::scoring::population::N_FEATURES];
    generator.next_account(&mut row);
    let model = app.state.models.active().unwrap();
    let want = model.predict(&row).unwrap()[0];
    let scores = stored_scores(&app, run_id).await;
    assert_eq!(scores["BAN0000000000"].0, want);
}
