//! The built-in pages in a real headless browser (Debian's chromium driven through
//! chromedriver by fantoccini), against the real service on a loopback port and a real
//! database: sign-in, every page drawn with data, the wallboard's live update and its 304
//! polls, role checks. Screenshots of every page go to `target/ui-screenshots/`.
//!
//! Without chromium and chromedriver the test skips, saying so; under `CI=true` it fails
//! (`scripts/bootstrap` installs both).

use crate::common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use chrono::{Duration as Span, Utc};
use common::TestApp;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use switchboard::cases::{
    ingest,
    synthetic::{self, SyntheticConfig},
};

/// chromium and chromedriver, from `CHROME_BIN` / `CHROMEDRIVER` or the Debian paths.
fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let find = |variable: &str, candidates: &[&str]| -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(variable) {
            return Some(PathBuf::from(path));
        }
        candidates
            .iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
    };
    let chrome = find(
        "CHROME_BIN",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let driver = find(
        "CHROMEDRIVER",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    );
    match (chrome, driver) {
        (Some(chrome), Some(driver)) => Some((chrome, driver)),
        _ => {
            let message = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver, or scripts/bootstrap)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message}");
            }
            eprintln!("skipping the browser test: {message}");
            None
        }
    }
}

/// chromedriver on a free port, ended when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_browser(chrome: &Path, driver: &Path) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        // The browser's "today" and time formatting: UTC, whatever the machine says.
        .env("TZ", "UTC")
        .env("LANG", "en_US.UTF-8")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver { child, port };
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chrome,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1920,1080", "--hide-scrollbars", "--lang=en-US"],
        }),
    );
    let started = Instant::now();
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
        {
            Ok(client) => break client,
            Err(error) if started.elapsed() < Duration::from_secs(30) => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("chromedriver did not start a session: {error}"),
        }
    };
    viewport(&client, 1920, 1080).await;
    (driver, client)
}

/// Sets the page's viewport (the window is that plus the browser's own frame).
async fn viewport(client: &Client, width: u32, height: u32) {
    client
        .set_window_size(width, height)
        .await
        .expect("window size");
    let frame = client
        .execute("return window.outerHeight - window.innerHeight", vec![])
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    client
        .set_window_size(width, height + u32::try_from(frame).unwrap_or(0))
        .await
        .expect("window size");
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Evaluates `expression` in the page until it is truthy; returns its value. Fails (with a
/// screenshot) after 30 s.
async fn wait_for(client: &Client, what: &str, expression: &str) -> Value {
    let started = Instant::now();
    let script = format!("try {{ return ({expression}); }} catch (e) {{ return null; }}");
    loop {
        let value = client.execute(&script, vec![]).await.expect("script");
        let truthy = match &value {
            Value::Null | Value::Bool(false) => false,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return value;
        }
        if started.elapsed() > Duration::from_secs(30) {
            screenshot(client, &format!("failed-{}", what.replace(' ', "-"))).await;
            let body: Value = client
                .execute("return document.body.innerText.slice(0, 2000)", vec![])
                .await
                .unwrap_or(Value::Null);
            panic!("timed out waiting for {what} ({expression}); page text: {body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn eval(client: &Client, expression: &str) -> Value {
    client
        .execute(&format!("return ({expression});"), vec![])
        .await
        .expect("script")
}

async fn sign_in(client: &Client, base: &str, key: &str) {
    client
        .goto(&format!("{base}/ui/"))
        .await
        .expect("sign-in page");
    // A previous key is forgotten first (session storage of this tab).
    eval(client, "sessionStorage.clear() || true").await;
    client.goto(&format!("{base}/ui/")).await.expect("reload");
    let input = client
        .wait()
        .for_element(Locator::Css("#key"))
        .await
        .expect("key field");
    input.send_keys(key).await.expect("type the key");
    client
        .find(Locator::Css("#signin button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    wait_for(
        client,
        "signed in",
        "sessionStorage.getItem('switchboard.role') && !location.pathname.endsWith('/ui/')",
    )
    .await;
}

fn text_number(value: &Value) -> i64 {
    value
        .as_str()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {value}"))
}

/// Ten days of synthetic contact-center cases ending now, stored as an import stores them.
async fn load_cases(app: &TestApp) -> usize {
    let now = Utc::now();
    let generator = SyntheticConfig {
        cases: 600,
        customers: 400,
        span_days: 10,
        start: now - Span::days(10),
        ..Default::default()
    };
    let metrics = switchboard::config::CasesConfig::for_tests().metrics();
    let events: Vec<_> = synthetic::events(&generator)
        .filter(|e| e.event_time <= now)
        .collect();
    let count = events.len();
    ingest::store_batch(&app.state.db, &metrics, events, now)
        .await
        .expect("store the synthetic cases");
    count
}

/// Two scoring runs of generated populations (the first the reference, with outcomes).
async fn load_scoring(app: &TestApp) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (seed, query) in [(7, "&reference=true"), (8, "")] {
        let path = dir.path().join(format!("population-{seed}.csv"));
        switchboard::scoring::runs::command::write_population(&path, 3_000, seed, true)
            .expect("population");
        let file = std::fs::read(&path).expect("read population");
        let reply = app
            .post_file(
                &format!("/v1/scoring-runs?wait=true{query}"),
                Some(&app.keys.admin),
                "population.csv",
                &file,
                None,
            )
            .await;
        assert!(
            reply.status.is_success(),
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        if seed == 7 {
            // The generator's own target column as the run's outcomes.
            let text = String::from_utf8(file).expect("utf-8");
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().expect("header").split(',').collect();
            let id = header.iter().position(|c| *c == "account_id").expect("id");
            let target = header.iter().position(|c| *c == "target").expect("target");
            let mut outcomes = String::from("account_id,target\n");
            for line in lines {
                let cells: Vec<&str> = line.split(',').collect();
                outcomes.push_str(&format!("{},{}\n", cells[id], cells[target]));
            }
            let run = reply.json()["id"].as_i64().expect("run id");
            let request = axum::http::Request::builder()
                .method("POST")
                .uri(format!("/v1/scoring-runs/{run}/outcomes"))
                .header("authorization", format!("Bearer {}", app.keys.admin))
                .header("content-type", "text/csv")
                .body(axum::body::Body::from(outcomes))
                .expect("request");
            let reply = app.send(request).await;
            assert!(
                reply.status.is_success(),
                "{}",
                String::from_utf8_lossy(&reply.body)
            );
        }
    }
}

/// One new case created now, through the public API.
async fn post_new_case(app: &TestApp, case_id: &str) {
    let now = Utc::now();
    let reply = app
        .post_json(
            "/v1/events",
            Some(&app.keys.admin),
            json!([{
                "case_id": case_id, "activity": "Case Created",
                "event_time": (now - Span::seconds(5)).to_rfc3339(),
                "customer": "UI-TEST", "channel": "Phone", "owner_team": "Billing",
                "priority": "High", "sla_target_resolution_s": 28800
            }]),
        )
        .await;
    assert!(
        reply.status.is_success(),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_in_a_real_browser() {
    let Some((chrome, driver)) = browser_binaries() else {
        return;
    };
    let app = TestApp::with_demo_model().await;
    load_cases(&app).await;
    load_scoring(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(switchboard::http::serve(
        listener,
        app.router.clone(),
        std::future::pending(),
        Duration::from_secs(1),
        switchboard::http::ConnectionLimits {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
        },
    ));
    let (_driver, client) = start_browser(&chrome, &driver).await;

    // `/` leads to the pages; the pages carry their own CSP (no inline script).
    let reply = reqwest::get(format!("{base}/ui/wallboard.html"))
        .await
        .expect("GET");
    let csp = reply.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );

    // ---- viewer: sign in lands on the wallboard; no scoring pages
    sign_in(&client, &base, &app.keys.viewer).await;
    let nav = eval(&client, "document.querySelector('#top nav').innerText").await;
    let nav = nav.as_str().unwrap_or_default();
    assert!(
        nav.contains("Wallboard") && nav.contains("Process"),
        "{nav}"
    );
    assert!(
        !nav.contains("Scoring") && !nav.contains("look-up"),
        "{nav}"
    );

    client
        .goto(&format!("{base}/ui/wallboard.html?every=1"))
        .await
        .expect("wallboard");
    wait_for(
        &client,
        "wallboard painted",
        "window.__switchboard.filtersLoaded",
    )
    .await;
    let before = text_number(
        &eval(
            &client,
            "document.querySelector('#volume-today .big').textContent",
        )
        .await,
    );
    let week = text_number(
        &eval(
            &client,
            "document.querySelector('#volume-week .big').textContent",
        )
        .await,
    );
    assert!(week >= before, "week {week} < today {before}");
    let backlog = text_number(
        &eval(
            &client,
            "document.querySelector('#open-backlog .big').textContent",
        )
        .await,
    );
    assert!(backlog > 0, "the synthetic log leaves cases open");
    // Every SLA compliance rate the summary carries is shown.
    let sla = eval(&client, "document.querySelector('#sla').innerText").await;
    assert!(
        sla.as_str().unwrap_or_default().contains("Resolution SLA"),
        "{sla}"
    );
    assert!(
        eval(
            &client,
            "document.querySelectorAll('#backlog svg rect').length"
        )
        .await
        .as_i64()
            == Some(6),
        "six ageing buckets"
    );
    screenshot(&client, "wallboard").await;

    // A refresh cycle with nothing new: one request per panel, each a 304 with no body, and
    // no redraw.
    let history = "JSON.stringify(window.__switchboard.history)";
    let done = eval(&client, "window.__switchboard.history.length")
        .await
        .as_i64()
        .expect("cycles");
    let draws = eval(&client, "JSON.stringify(window.__switchboard.draws)").await;
    wait_for(
        &client,
        "two more polls",
        &format!("window.__switchboard.history.length >= {}", done + 3),
    )
    .await;
    let cycles: Vec<Value> =
        serde_json::from_str(eval(&client, history).await.as_str().expect("history"))
            .expect("json");
    // The cycle under way when the filter lists loaded may count their request: skip it.
    for cycle in &cycles[done as usize + 1..] {
        assert_eq!(
            cycle,
            &json!({"requests": 3, "notModified": 3, "bodies": 0}),
            "{cycles:?}"
        );
    }
    assert_eq!(
        eval(&client, "JSON.stringify(window.__switchboard.draws)").await,
        draws,
        "a 304 redraws nothing"
    );
    // The browser's own record: 304 answers carried no body bytes.
    let timings = eval(
        &client,
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/kpis/') && e.responseStatus === 304).map(e => e.encodedBodySize)",
    )
    .await;
    let sizes = timings.as_array().expect("entries");
    assert!(!sizes.is_empty(), "the browser saw 304s");
    assert!(sizes.iter().all(|s| s.as_i64() == Some(0)), "{timings}");

    // A new case: the wallboard shows it on its next poll.
    post_new_case(&app, "UI-LIVE-1").await;
    wait_for(
        &client,
        "the new case on the wallboard",
        &format!(
            "Number(document.querySelector('#volume-today .big').textContent.replace(/\\D/g, '')) === {}",
            before + 1
        ),
    )
    .await;
    let data_age = eval(&client, "document.querySelector('#data-age').textContent").await;
    assert!(
        data_age.as_str().unwrap_or_default().contains("ago"),
        "{data_age}"
    );

    // Filters in the URL survive a reload (a bookmarked wall screen).
    client
        .goto(&format!("{base}/ui/wallboard.html?channel=Phone&every=1"))
        .await
        .expect("filtered");
    wait_for(
        &client,
        "filtered wallboard",
        "window.__switchboard.filtersLoaded",
    )
    .await;
    assert_eq!(
        eval(&client, "document.querySelector('#channel').value").await,
        "Phone"
    );
    screenshot(&client, "wallboard-phone").await;

    // ---- trends
    client
        .goto(&format!("{base}/ui/trends.html"))
        .await
        .expect("trends");
    wait_for(&client, "trends", "window.__switchboard.trendsLoaded").await;
    let teams = eval(
        &client,
        "document.querySelectorAll('#teams-table tbody tr').length",
    )
    .await;
    assert!(teams.as_i64().unwrap_or(0) >= 2, "{teams}");
    let agents = eval(
        &client,
        "document.querySelectorAll('#agents-table tbody tr').length",
    )
    .await;
    assert!(agents.as_i64().unwrap_or(0) >= 2, "{agents}");
    assert_eq!(
        eval(&client, "document.querySelectorAll('.uplot canvas').length").await,
        3,
        "three charts"
    );
    // Sorting by another column, from the keyboard's button.
    client
        .find(Locator::Css("#agents-table thead th:first-child button"))
        .await
        .expect("header")
        .click()
        .await
        .expect("sort");
    let sorted = eval(
        &client,
        "(() => { const n = [...document.querySelectorAll('#agents-table tbody tr td:first-child')].map(td => td.textContent); return JSON.stringify(n) === JSON.stringify([...n].sort((a, b) => a.localeCompare(b))); })()",
    )
    .await;
    assert_eq!(sorted, true, "agents sorted by name");
    screenshot(&client, "trends").await;

    // ---- process
    client
        .goto(&format!("{base}/ui/process.html"))
        .await
        .expect("process");
    wait_for(&client, "process map", "window.__switchboard.dfgDraws").await;
    let nodes = eval(
        &client,
        "document.querySelectorAll('#dfg-svg .node').length",
    )
    .await;
    assert!(nodes.as_i64().unwrap_or(0) >= 5, "{nodes}");
    let variants = eval(
        &client,
        "document.querySelectorAll('#variants-table tbody tr').length",
    )
    .await;
    assert!(variants.as_i64().unwrap_or(0) >= 3, "{variants}");
    screenshot(&client, "process").await;
    // The whole map, on a tall screen.
    eval(
        &client,
        "(document.querySelector('.dfg-wrap').style.maxHeight = 'none') && true",
    )
    .await;
    viewport(&client, 1920, 2400).await;
    let map = client
        .find(Locator::Id("dfg"))
        .await
        .expect("map")
        .screenshot()
        .await
        .expect("map screenshot");
    std::fs::write(screenshot_dir().join("process-map.png"), map).expect("write");
    viewport(&client, 1920, 1080).await;

    // ---- a case, with its events
    let case_id: String = sqlx::query_scalar(
        "SELECT case_id FROM cases WHERE resolved_at IS NOT NULL ORDER BY event_count DESC, case_id LIMIT 1",
    )
    .fetch_one(&app.state.db)
    .await
    .expect("a case");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE case_id = $1")
        .bind(&case_id)
        .fetch_one(&app.state.db)
        .await
        .expect("events");
    client
        .goto(&format!("{base}/ui/case.html?id={case_id}"))
        .await
        .expect("case");
    let rows = wait_for(
        &client,
        "case events",
        "document.querySelectorAll('#case-events tbody tr').length",
    )
    .await;
    assert_eq!(rows.as_i64(), Some(events));
    // Its SLA clocks as GET /v1/cases/{id}/sla gives them (a service without that endpoint,
    // or a 404, shows no panel).
    let sla = app
        .get(&format!("/v1/cases/{case_id}/sla"), Some(&app.keys.viewer))
        .await;
    if sla.status == axum::http::StatusCode::NOT_FOUND {
        let hidden = eval(&client, "document.querySelector('#sla-panel').hidden").await;
        assert_eq!(hidden, true, "no SLA clocks: no panel");
    } else {
        assert_eq!(sla.status, axum::http::StatusCode::OK);
        let clocks = sla.json();
        let target = &clocks["targets"][0];
        let name = target["target"].as_str().expect("target");
        let segments = wait_for(
            &client,
            "SLA timeline",
            &format!("document.querySelectorAll('#sla-{name} svg rect').length"),
        )
        .await;
        assert_eq!(
            segments.as_u64(),
            Some(target["timeline"].as_array().expect("timeline").len() as u64)
        );
        let heading = eval(
            &client,
            &format!("document.querySelector('#sla-{name} h3').textContent"),
        )
        .await;
        let status = target["status"].as_str().expect("status").replace('_', " ");
        assert!(
            heading.as_str().unwrap_or_default().contains(&status),
            "{heading} vs {status}"
        );
        let panel = client
            .find(Locator::Id("sla-panel"))
            .await
            .expect("SLA panel")
            .screenshot()
            .await
            .expect("SLA panel screenshot");
        std::fs::write(screenshot_dir().join("case-sla.png"), panel).expect("write");
    }
    screenshot(&client, "case").await;

    // ---- a viewer cannot open the scoring pages
    for page in ["scoring", "lookup"] {
        client
            .goto(&format!("{base}/ui/{page}.html"))
            .await
            .expect("page");
        wait_for(&client, "refusal", "document.querySelector('#denied')").await;
        let tables = eval(&client, "document.querySelectorAll('table').length").await;
        assert_eq!(tables, 0, "nothing of {page} is drawn");
    }
    screenshot(&client, "scoring-denied-viewer").await;

    // ---- scorer: scoring pages only
    sign_in(&client, &base, &app.keys.scorer).await;
    let url = client.current_url().await.expect("url");
    assert!(url.path().ends_with("/scoring.html"), "{url}");
    let nav = eval(&client, "document.querySelector('#top nav').innerText").await;
    assert!(
        !nav.as_str().unwrap_or_default().contains("Wallboard"),
        "{nav}"
    );
    wait_for(
        &client,
        "deciles",
        "document.querySelectorAll('#deciles-table tbody tr').length === 10",
    )
    .await;
    wait_for(&client, "stability", "document.querySelector('#psi')").await;
    // Run 2 is shown first (newest); its lift has no outcomes. Run 1 has them.
    let first_run: i64 = sqlx::query_scalar("SELECT min(id) FROM scoring_runs")
        .fetch_one(&app.state.db)
        .await
        .expect("run");
    client
        .goto(&format!("{base}/ui/scoring.html?run={first_run}"))
        .await
        .expect("run 1");
    let auc = wait_for(
        &client,
        "AUC",
        "document.querySelector('#auc') && document.querySelector('#auc').textContent",
    )
    .await;
    let auc: f64 = auc
        .as_str()
        .unwrap_or_default()
        .replace(',', ".")
        .parse()
        .expect("AUC");
    assert!((0.5..1.0).contains(&auc), "AUC {auc}");
    wait_for(
        &client,
        "lift table",
        "document.querySelectorAll('#lift-table tbody tr').length === 10",
    )
    .await;
    wait_for(
        &client,
        "stability of run 1",
        "document.querySelector('#psi')",
    )
    .await;
    assert!(
        eval(
            &client,
            "document.querySelector('#models-table').innerText.includes('active')"
        )
        .await
            == true
    );
    screenshot(&client, "scoring").await;
    client
        .goto(&format!("{base}/ui/wallboard.html"))
        .await
        .expect("wallboard");
    wait_for(&client, "refusal", "document.querySelector('#denied')").await;

    // One account: stored score and reason codes from its features.
    client
        .goto(&format!("{base}/ui/lookup.html"))
        .await
        .expect("look-up");
    client
        .wait()
        .for_element(Locator::Css("#account"))
        .await
        .expect("field")
        .send_keys("BAN0000000042")
        .await
        .expect("type");
    client
        .find(Locator::Css("#features"))
        .await
        .expect("features")
        .send_keys(r#"{"n_mobile_lines": 2, "usage_gb_m1": 31.5, "promo_expiring_next_month": 1}"#)
        .await
        .expect("type");
    client
        .find(Locator::Css("#lookup-form button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    let reasons = wait_for(
        &client,
        "reason codes",
        "document.querySelectorAll('#reasons-table tbody tr').length",
    )
    .await;
    assert!(reasons.as_i64().unwrap_or(0) >= 3, "{reasons}");
    wait_for(
        &client,
        "stored score",
        "document.querySelector('#stored-probability') || document.querySelector('#stored-none')",
    )
    .await;
    screenshot(&client, "lookup").await;

    // ---- admin sees every page
    sign_in(&client, &base, &app.keys.admin).await;
    let nav = eval(&client, "document.querySelector('#top nav').innerText").await;
    let nav = nav.as_str().unwrap_or_default();
    assert!(
        nav.contains("Wallboard") && nav.contains("Scoring"),
        "{nav}"
    );
    screenshot(&client, "admin-start").await;

    client.close().await.expect("close the browser");
}

/// The files behind the pages: `/` and `/ui` lead to them, each file has its type, an ETag
/// and a 304 when unchanged, the pages their own CSP, and nothing outside `ui/` is served.
#[tokio::test]
async fn the_page_files_are_served_with_their_types_and_csp() {
    let app = TestApp::new().await;
    let root = app.get("/", None).await;
    assert!(root.status.is_redirection(), "{}", root.status);
    assert_eq!(root.headers["location"], "/ui/");
    let bare = app.get("/ui", None).await;
    assert_eq!(bare.status, axum::http::StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers["location"], "/ui/");

    let index = app.get("/ui/", None).await;
    assert_eq!(index.status, axum::http::StatusCode::OK);
    assert_eq!(index.content_type(), "text/html; charset=utf-8");
    assert!(String::from_utf8_lossy(&index.body).contains("js/index.js"));
    let csp = index.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("connect-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    for (path, kind) in [
        ("/ui/js/wallboard.js", "text/javascript; charset=utf-8"),
        ("/ui/css/app.css", "text/css; charset=utf-8"),
        (
            "/ui/vendor/uplot/uPlot.esm.js",
            "text/javascript; charset=utf-8",
        ),
        ("/ui/vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
    ] {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, axum::http::StatusCode::OK, "{path}");
        assert_eq!(reply.content_type(), kind, "{path}");
        // Revalidation: the same ETag gives a 304 without a body.
        let etag = reply.headers["etag"].to_str().expect("etag").to_owned();
        let request = axum::http::Request::builder()
            .uri(path)
            .header("if-none-match", &etag)
            .body(axum::body::Body::empty())
            .expect("request");
        let again = app.send(request).await;
        assert_eq!(again.status, axum::http::StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
    }
    let licence = app.get("/ui/vendor/uplot/LICENSE", None).await;
    assert!(String::from_utf8_lossy(&licence.body).contains("The MIT License"));

    for path in [
        "/ui/missing.html",
        "/ui/../Cargo.toml",
        "/ui/js/%2e%2e/%2e%2e/Cargo.toml",
        "/ui/js//app.js",
    ] {
        app.get(path, None)
            .await
            .problem(axum::http::StatusCode::NOT_FOUND);
    }
}
