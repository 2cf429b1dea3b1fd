//! Files in the Dynamics 365 template's own columns, end to end on a real PostgreSQL: English
//! and Portuguese files imported with no options, bad values refused with their line, the
//! reported derived columns reconciled (checked against an independent Python computation),
//! variants paged with a cursor, the demo log, and the zero-configuration start with demo cases.

use crate::common;

use std::{path::Path, process::Stdio, time::Duration};

use axum::http::StatusCode;
use common::{TestApp, fixture, strings};
use serde_json::Value;
use switchboard::cases::{demo, import::ImportOptions, ingest};
use tokio::io::AsyncBufReadExt;

fn repo_file(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn case(app: &TestApp, id: &str) -> Value {
    let reply = app
        .get(&format!("/v1/cases/{id}"), Some(&app.keys.viewer))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{id}");
    reply.json()
}

#[tokio::test]
async fn template_files_in_english_and_portuguese_import_with_no_options() {
    let app = TestApp::new().await;
    let english = app
        .upload_ok(
            "/v1/imports?wait=true",
            "template_en.csv",
            &repo_file("examples/data/template_en.csv"),
        )
        .await;
    assert_eq!(english["status"], "succeeded", "{english}");
    assert_eq!(english["events_stored"], 17);
    assert_eq!(english["unmapped_activities"], 0);
    assert_eq!(english["data_extracted_at"], "2026-03-31T23:00:00Z");
    assert_eq!(english["hint"], Value::Null);

    let resolved = case(&app, "CAS-1001").await;
    assert_eq!(resolved["cycle_time_s"], 9000.0);
    assert_eq!(resolved["priority"], "High");
    assert_eq!(resolved["priority_level"], "high");
    assert_eq!(resolved["kb_used"], true);
    assert_eq!(resolved["csat"], 5);
    assert_eq!(resolved["reported_cycle_time_s"], 9000.0);
    assert_eq!(resolved["reported_first_contact_resolution"], true);
    assert_eq!(resolved["reported_rework"], false);
    assert_eq!(resolved["reported_sla_breached"], false);
    let escalated = case(&app, "CAS-1003").await;
    assert_eq!(escalated["state"], "open");
    assert_eq!(escalated["escalated"], true);
    assert_eq!(escalated["priority"], "Urgent");
    assert_eq!(escalated["priority_level"], "urgent");
    assert_eq!(escalated["reported_cycle_time_s"], Value::Null);

    let portuguese = app
        .upload_ok(
            "/v1/imports?wait=true",
            "template_pt.csv",
            &repo_file("examples/data/template_pt.csv"),
        )
        .await;
    assert_eq!(portuguese["status"], "succeeded", "{portuguese}");
    assert_eq!(portuguese["events_stored"], 14);
    assert_eq!(portuguese["unmapped_activities"], 0);
    let quick = case(&app, "SR-2001").await;
    // Created 09:00 (Sistema), resolved 10:30 by Tiago Gomes: Sistema is not an owner.
    assert_eq!(quick["cycle_time_s"], 5400.0);
    assert_eq!(quick["resolving_agent"], "Tiago Gomes");
    assert_eq!(quick["handoffs"], 0);
    assert_eq!(quick["first_response_s"], 5400.0);
    assert_eq!(quick["priority"], "Alto");
    assert_eq!(quick["priority_level"], "high");
    assert_eq!(quick["channel"], "Telefone");
    assert_eq!(quick["sla_status"], "succeeded");
    assert_eq!(quick["reported_first_contact_resolution"], true);
    let reopened = case(&app, "SR-2002").await;
    assert_eq!(reopened["reactivations"], 1);
    assert_eq!(reopened["is_rework"], true);
    assert_eq!(reopened["reported_rework"], true);
    assert_eq!(reopened["reported_sla_breached"], true, "`sim` is true");
    assert_eq!(reopened["reported_cycle_time_s"], Value::Null);
    let waiting = case(&app, "SR-2003").await;
    assert_eq!(waiting["priority_level"], "low");
    assert_eq!(waiting["reported_first_contact_resolution"], false);
    assert_eq!(waiting["status_reason"], "Aguardando Cliente");

    // Re-importing changes nothing.
    let again = app
        .upload_ok(
            "/v1/imports?wait=true",
            "template_pt.csv",
            &repo_file("examples/data/template_pt.csv"),
        )
        .await;
    assert_eq!(again["events_stored"], 0);
    assert_eq!(again["duplicates_skipped"], 14);

    // The extraction time (LastDataUpdate) is the KPIs' data_as_of, later than every event.
    let summary = app
        .get(
            "/v1/kpis/summary?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&group_by=priority_level",
            Some(&app.keys.viewer),
        )
        .await
        .json();
    assert_eq!(summary["data_as_of"], "2026-03-31T23:00:00Z");
    let high = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"]["priority_level"] == "high")
        .expect("a high group");
    // CAS-1001 (High) and SR-2001 (Alto) are one level.
    assert_eq!(high["kpis"]["volume"]["value"], 2);
}

#[tokio::test]
async fn the_cli_imports_a_template_file_and_prints_the_report() {
    let app = TestApp::new().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["import", "examples/data/template_en.csv"])
        .env("DATABASE_URL", app.url.expose())
        .env("LOG_FORMAT", "text")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["events_stored"], 17);
    assert_eq!(report["data_extracted_at"], "2026-03-31T23:00:00Z");
    assert!(
        !stderr.contains("already exists, skipping"),
        "PostgreSQL notices are not logged at info: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes when stderr is not a terminal: {stderr}"
    );
}

#[tokio::test]
async fn headers_in_any_case_and_order_and_a_header_matching_neither_spelling() {
    let app = TestApp::new().await;
    let shuffled = "eventtime,AGENTNAME,servicerequest,Activity Name,IsEscalated\n\
                    2026-03-02 09:00:00,Sistema,X-1,Caso Criado,Não\n\
                    2026-03-02 10:00:00,ana,X-1,Caso Resolvido,1\n";
    let report = app
        .upload_ok("/v1/imports?wait=true", "shuffled.csv", shuffled.as_bytes())
        .await;
    assert_eq!(report["status"], "succeeded", "{report}");
    let x1 = case(&app, "X-1").await;
    assert_eq!(x1["cycle_time_s"], 3600.0);
    assert_eq!(x1["escalated"], true);

    // A log whose activities have no canonical role says what to do.
    let unmapped = "case_id,activity,event_time\n\
                    H-1,Insert ticket,2026-03-02T09:00:00Z\n\
                    H-1,Resolve ticket,2026-03-02T10:00:00Z\n";
    let report = app
        .upload_ok("/v1/imports?wait=true", "helpdesk.csv", unmapped.as_bytes())
        .await;
    assert_eq!(report["unmapped_activities"], 2);
    let hint = report["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("PUT /v1/activity-mappings"), "{report}");

    // Refused at upload (422), before an import is created, naming both spellings.
    let neither = app
        .post_file(
            "/v1/imports?wait=true",
            Some(&app.keys.admin),
            "other.csv",
            b"number,state,when\n1,New,today\n",
            None,
        )
        .await;
    let problem = neither.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let error = problem["errors"][0]["message"].as_str().unwrap();
    for expected in [
        "ServiceRequest or case_id",
        "ActivityName or activity",
        "EventTime or event_time",
    ] {
        assert!(error.contains(expected), "{error}");
    }
}

#[tokio::test]
async fn bad_values_in_english_or_portuguese_give_line_numbered_errors() {
    let app = TestApp::new().await;
    let header = "ServiceRequest,ActivityName,EventTime,LastDataUpdate,SlaTargetResolutionTime,IsEscalated,IsRework,CustomerSatisfactionScore,ServiceRequestCycleTime,IsSlaBreached\n";
    let rows = [
        "S-1,Caso Criado,2026-03-02 09:00:00,2026-03-31 23:00:00,86400,falso,não,,,sim", // 2: good
        "S-1,Caso Resolvido,2026-03-02 10:00:00,2026-03-31 23:00:00,86400,talvez,não,,,", // 3
        "S-2,Case Created,2026-03-02 09:00:00,2026-03-31 23:00:00,3 dias,false,no,,,",   // 4
        "S-2,Case Closed,2026-03-02 10:00:00,ontem,86400,false,no,,,",                   // 5
        "S-3,Case Created,2026-03-02 09:00:00,,86400,false,no,7,,",                      // 6
        "S-3,Case Closed,2026-03-02 10:00:00,,86400,false,quase,,,",                     // 7
        "S-4,Case Created,2026-03-02 09:00:00,,86400,false,no,,-5,",                     // 8
        "S-4,Case Closed,2026-03-32 10:00:00,,86400,false,no,,,nope",                    // 9
    ];
    let file = format!("{header}{}\n", rows.join("\n"));
    let report = app
        .upload_ok("/v1/imports?wait=true", "bad.csv", file.as_bytes())
        .await;
    assert_eq!(report["status"], "failed");
    assert_eq!(report["events_stored"], 0, "a bad file stores nothing");
    let bad = report["bad_rows"].as_array().unwrap();
    let lines: Vec<u64> = bad.iter().map(|b| b["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8, 9]);
    let fields: Vec<Vec<&str>> = bad.iter().map(|b| strings(&b["errors"], "field")).collect();
    assert_eq!(
        fields,
        [
            vec!["IsEscalated"],
            vec!["SlaTargetResolutionTime"],
            vec!["LastDataUpdate"],
            vec!["CustomerSatisfactionScore"],
            vec!["IsRework"],
            vec!["ServiceRequestCycleTime"],
            // A value that cannot be read stops the row before its times are parsed.
            vec!["IsSlaBreached"],
        ]
    );
    let message = bad[0]["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("talvez") && message.contains("verdadeiro/falso"),
        "{message}"
    );
}

/// The committed demo log with known inconsistencies (see
/// `tools/fixtures/make_reconciliation_fixtures.py`).
const DEMO_FIXTURE: &str = "tests/fixtures/reconciliation/demo_300.csv";

async fn import_demo_fixture(app: &TestApp) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEMO_FIXTURE);
    let report = ingest::import_file(
        &app.state.db,
        &path,
        &ImportOptions::default(),
        chrono_tz::Tz::UTC,
        switchboard::cases::import::ImportLimits::default(),
        &app.state.config.cases.metrics(),
        |_, _| {},
    )
    .await
    .expect("the demo log imports");
    assert_eq!(report.bad_rows_count, 0);
    assert_eq!(report.stored.unmapped_activities, 0);
}

#[test]
fn the_committed_demo_log_is_what_demo_data_writes() {
    let mut written = Vec::new();
    demo::write_csv(&demo::config(300, 22), &mut written).unwrap();
    assert!(
        written == repo_file(DEMO_FIXTURE),
        "{DEMO_FIXTURE} is stale: regenerate it and its expected counts as \
         tools/fixtures/make_reconciliation_fixtures.py says"
    );
}

#[tokio::test]
async fn reconciliation_counts_equal_an_independent_computation() {
    let app = TestApp::new().await;
    import_demo_fixture(&app).await;
    let expected = fixture("reconciliation/expected.json");
    let reply = app
        .get("/v1/reconciliation?limit=1000", Some(&app.keys.viewer))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["cases"], expected["cases"]);
    let checks = body["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4);
    let mut total_differences = 0;
    for check in checks {
        let name = check["check"].as_str().unwrap();
        let want = &expected["checks"][name];
        for count in [
            "compared",
            "agree",
            "differ",
            "reported_only",
            "computed_only",
        ] {
            assert_eq!(check[count], want[count], "{name} {count}");
        }
        let ids = strings(&check["differences"], "case_id");
        let want_ids: Vec<&str> = want["differing_case_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(ids, want_ids, "{name}");
        total_differences += ids.len();
        for difference in check["differences"].as_array().unwrap() {
            assert!(difference["reason"].as_str().is_some_and(|r| !r.is_empty()));
            assert_ne!(difference["reported"], difference["computed"]);
        }
        assert!(check["computed_as"].as_str().is_some());
    }
    assert!(
        total_differences > 10,
        "the fixture has inconsistencies to find"
    );
    let cycle = &checks[0];
    assert_eq!(cycle["column"], "ServiceRequestCycleTime");
    assert!(
        cycle["computed_as"]
            .as_str()
            .unwrap()
            .contains("last resolution minus first event")
    );
    assert!(
        cycle["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["reason"]
                .as_str()
                .unwrap()
                .contains("counts to the last event")
                || d["reason"]
                    .as_str()
                    .unwrap()
                    .contains("counts to the close")),
        "{cycle}"
    );

    // One check's differences, page by page.
    let want_ids = &expected["checks"]["cycle_time"]["differing_case_ids"];
    let mut paged = Vec::new();
    let mut uri = "/v1/reconciliation?check=cycle_time&limit=3".to_owned();
    loop {
        let page = app.get(&uri, Some(&app.keys.viewer)).await.json();
        let only = &page["checks"][0];
        assert_eq!(page["checks"].as_array().unwrap().len(), 1);
        paged.extend(
            strings(&only["differences"], "case_id")
                .into_iter()
                .map(str::to_owned),
        );
        match only["next_cursor"].as_str() {
            Some(cursor) => {
                uri = format!("/v1/reconciliation?check=cycle_time&limit=3&cursor={cursor}")
            }
            None => break,
        }
    }
    let want_ids: Vec<String> = serde_json::from_value(want_ids.clone()).unwrap();
    assert_eq!(paged, want_ids);

    app.get("/v1/reconciliation?cursor=%25%25", Some(&app.keys.viewer))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    app.get("/v1/reconciliation", Some(&app.keys.scorer))
        .await
        .problem(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_variant_can_be_read_page_by_page() {
    let app = TestApp::new().await;
    import_demo_fixture(&app).await;
    let all = app
        .get("/v1/process/variants?limit=1000", Some(&app.keys.viewer))
        .await
        .json();
    let count = all["variant_count"].as_u64().unwrap() as usize;
    assert!(count > 20, "{count}");
    assert_eq!(all["variants"].as_array().unwrap().len(), count);
    assert_eq!(all["next_cursor"], Value::Null);

    let mut paged: Vec<Value> = Vec::new();
    let mut uri = "/v1/process/variants?limit=7".to_owned();
    loop {
        let page = app.get(&uri, Some(&app.keys.viewer)).await.json();
        paged.extend(page["variants"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/process/variants?limit=7&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(&paged, all["variants"].as_array().unwrap());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `switchboard local-db stop` for a private cluster when dropped.
struct StopCluster {
    dir: std::path::PathBuf,
    port: u16,
}

impl Drop for StopCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["local-db", "stop"])
            .env_remove("DATABASE_URL")
            .env("LOCAL_PG_DIR", &self.dir)
            .env("LOCAL_PG_PORT", self.port.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output();
    }
}

#[tokio::test]
async fn the_zero_configuration_start_imports_demo_cases_so_kpis_answer() {
    // A private cluster of this test's own (own directory and port, never the default one),
    // reachable by the unprivileged user PostgreSQL runs as under root.
    let root = tempfile::Builder::new()
        .prefix("switchboard-zero-config-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        root.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (pg_port, http_port) = (free_port(), free_port());
    let pg_dir = root.path().join("postgres");
    let _stop = StopCluster {
        dir: pg_dir.clone(),
        port: pg_port,
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env_remove("DEMO_DATA")
        .env_remove("AUTH_DISABLED")
        .env_remove("BOOTSTRAP_ADMIN_KEY")
        .env("LOCAL_PG_DIR", &pg_dir)
        .env("LOCAL_PG_PORT", pg_port.to_string())
        .env("LISTEN_ADDR", format!("127.0.0.1:{http_port}"))
        .env("MODEL_PATH", "")
        .env("LOG_FORMAT", "text")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut admin_key = None;
    let mut log = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while let Ok(Ok(Some(line))) = tokio::time::timeout_at(deadline, stderr.next_line()).await {
        if let Some(key) = line.trim().strip_prefix("sb_") {
            admin_key = Some(format!("sb_{key}"));
        }
        log.push_str(&line);
        log.push('\n');
        if line.contains("listening on") {
            break;
        }
    }
    assert!(log.contains("demo cases imported"), "{log}");
    let key = admin_key.unwrap_or_else(|| panic!("no admin key printed: {log}"));
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("http://127.0.0.1:{http_port}{path}"))
            .bearer_auth(&key)
            .send()
    };
    // The README's examples, as written.
    let q = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";
    let summary: Value = get(&format!("/v1/kpis/summary?{q}&group_by=owner_team"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let groups = summary["groups"].as_array().unwrap();
    assert!(groups.len() > 1, "{summary}");
    let volume: i64 = groups
        .iter()
        .map(|g| g["kpis"]["volume"]["value"].as_i64().unwrap())
        .sum();
    assert!(volume > 1000, "{summary}");
    assert!(
        groups
            .iter()
            .any(|g| g["kpis"]["sla_compliance"]["value"].is_number())
    );
    let variants: Value = get(&format!("/v1/process/variants?{q}&limit=20"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(variants["variants"].as_array().unwrap().len(), 20);
    let plan: Value = get("/v1/staffing/plan?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z&interval=30m&tz=Europe/Lisbon&target=0.8/20s&channel=Phone")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let arrivals: i64 = plan["intervals"]
        .as_array()
        .unwrap_or_else(|| panic!("{plan}"))
        .iter()
        .map(|i| i["observed_arrivals"].as_i64().unwrap())
        .sum();
    assert!(arrivals > 0, "{plan}");
    let reconciliation: Value = get("/v1/reconciliation?limit=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(reconciliation["cases"].as_i64().unwrap() > 4000);

    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
}

#[tokio::test]
async fn demo_cases_are_never_imported_with_database_url_or_demo_data_false() {
    let app = TestApp::new().await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM cases")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    // DATABASE_URL set (as every test app has it), DEMO_DATA on: nothing.
    let mut config = (*app.state.config).clone();
    config.serve.demo_data = true;
    let state = switchboard::state::AppState::new(app.state.db.clone(), config.clone());
    switchboard::cli::import_demo_cases(&state).await.unwrap();
    assert_eq!(count().await, 0);
    // No DATABASE_URL but DEMO_DATA=false: nothing either.
    config.database.database_url = None;
    config.serve.demo_data = false;
    let state = switchboard::state::AppState::new(app.state.db.clone(), config);
    switchboard::cli::import_demo_cases(&state).await.unwrap();
    assert_eq!(count().await, 0);
}
