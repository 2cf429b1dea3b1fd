//! The wallboard's first paint with 1,000,000 cases loaded, in Debian's headless chromium
//! (through chromedriver) on loopback: from navigation start to every panel drawn with data
//! (the page's `wallboard-painted` performance mark), over several fresh page loads; then
//! what a refresh cycle with nothing new costs (requests, 304s, bodies per cycle).
//!
//! Run with `cargo bench --bench ui_wallboard` (needs `chromium` and `chromium-driver`, which
//! `scripts/bootstrap` installs). The cases are the `kpis` bench's (about 3 minutes to load);
//! `SWITCHBOARD_BENCH_KPI_DB=name` keeps them for the next run of either bench.

mod support;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use support::Settings;
use switchboard::db;

const LOADS: usize = 7;

fn binary(variable: &str, candidates: &[&str]) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .or_else(|| candidates.iter().map(PathBuf::from).find(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!("{variable}: not found (apt-get install chromium chromium-driver, or scripts/bootstrap)")
        })
}

async fn eval(client: &Client, expression: &str) -> Value {
    client
        .execute(&format!("return ({expression});"), vec![])
        .await
        .expect("script")
}

async fn wait_for(client: &Client, expression: &str) -> Value {
    let started = Instant::now();
    loop {
        let value = eval(
            client,
            &format!("(() => {{ try {{ return {expression}; }} catch (e) {{ return null; }} }})()"),
        )
        .await;
        if !value.is_null() && value != Value::Bool(false) {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "timed out waiting for {expression}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let chrome = binary("CHROME_BIN", &["/usr/bin/chromium"]);
    let chromedriver = binary("CHROMEDRIVER", &["/usr/bin/chromedriver"]);
    let settings = Settings::from_env();
    let server = db::resolve_url(&settings.database)
        .await
        .expect("a PostgreSQL server");
    let (_, name, url, pool, keep) = support::kpi_cases(&settings, &server).await;
    let address = support::serve(settings, url, pool.clone()).await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut driver = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .env("TZ", "UTC")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": chrome, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--window-size=1920,1080"]}),
    );
    let started = Instant::now();
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => break client,
            Err(error) => {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "chromedriver: {error}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };

    // The bench's service runs without keys: any key signs in (as admin).
    let base = format!("http://{address}");
    client
        .goto(&format!("{base}/ui/"))
        .await
        .expect("sign-in page");
    eval(
        &client,
        "sessionStorage.setItem('switchboard.key', 'bench') || sessionStorage.setItem('switchboard.role', 'admin') || sessionStorage.setItem('switchboard.keyName', 'bench') || true",
    )
    .await;

    let mut painted = Vec::new();
    let mut first_contentful = Vec::new();
    for load in 0..LOADS {
        client
            .goto(&format!("{base}/ui/wallboard.html?every=2"))
            .await
            .expect("wallboard");
        let mark = wait_for(
            &client,
            "performance.getEntriesByName('wallboard-painted')[0].startTime",
        )
        .await
        .as_f64()
        .expect("mark");
        let fcp = eval(
            &client,
            "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null",
        )
        .await
        .as_f64()
        .unwrap_or(f64::NAN);
        println!(
            "load {}: every panel drawn {mark:.0} ms after navigation start (first contentful paint {fcp:.0} ms)",
            load + 1
        );
        painted.push(mark);
        first_contentful.push(fcp);
    }
    let shown = eval(
        &client,
        "document.querySelector('#volume-today .big').textContent + ' cases on ' + document.querySelector('#scope').textContent",
    )
    .await;
    let mut sorted = painted.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "wallboard first paint with data, {LOADS} loads: first {:.0} ms, median {:.0} ms, max {:.0} ms (target < 1000 ms); showing {shown}",
        painted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );

    // Refresh cycles with nothing new.
    let done = wait_for(
        &client,
        "window.__switchboard.filtersLoaded && window.__switchboard.history.length",
    )
    .await
    .as_u64()
    .expect("cycles");
    wait_for(
        &client,
        &format!("window.__switchboard.history.length >= {}", done + 5),
    )
    .await;
    let history = eval(&client, "JSON.stringify(window.__switchboard.history)").await;
    let cycles: Vec<Value> =
        serde_json::from_str(history.as_str().expect("history")).expect("json");
    let quiet = &cycles[done as usize + 1..];
    let durations = eval(
        &client,
        "JSON.stringify(performance.getEntriesByType('resource').filter(e => e.responseStatus === 304).map(e => [e.duration, e.encodedBodySize, e.transferSize]))",
    )
    .await;
    let entries: Vec<(f64, u64, u64)> =
        serde_json::from_str(durations.as_str().expect("entries")).expect("json");
    let mut times: Vec<f64> = entries.iter().map(|e| e.0).collect();
    times.sort_by(f64::total_cmp);
    println!(
        "refresh cycles with nothing new: {} cycles, each {:?}; {} 304 answers in the browser, body bytes {}, median {:.1} ms, max {:.1} ms, {} bytes of headers each (median)",
        quiet.len(),
        quiet
            .iter()
            .map(Value::to_string)
            .collect::<std::collections::BTreeSet<_>>(),
        entries.len(),
        entries.iter().map(|e| e.1).sum::<u64>(),
        times.get(times.len() / 2).copied().unwrap_or(f64::NAN),
        times.last().copied().unwrap_or(f64::NAN),
        {
            let mut sizes: Vec<u64> = entries.iter().map(|e| e.2).collect();
            sizes.sort_unstable();
            sizes.get(sizes.len() / 2).copied().unwrap_or(0)
        }
    );

    client.close().await.expect("close");
    let _ = driver.kill();
    let _ = driver.wait();
    if !keep {
        support::drop_database(&server, &name, pool).await;
    }
}
