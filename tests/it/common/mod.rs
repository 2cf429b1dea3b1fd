//! Test harness: a fresh, migrated database per test on a real PostgreSQL, and the real router.
//!
//! The server is `DATABASE_URL` when set, otherwise the project's private local cluster (the
//! same zero-configuration path `switchboard serve` takes).

#![allow(dead_code)]

use std::{
    path::PathBuf,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use sqlx::{Connection, PgConnection};
use switchboard::{
    auth::{self, Role},
    config::{CasesConfig, Config, DatabaseConfig, DatabaseUrl, ServeConfig},
    db,
    state::AppState,
};
use tokio::sync::OnceCell;
use tower::ServiceExt;

/// The server every test database lives on.
pub async fn server_url() -> DatabaseUrl {
    static URL: OnceCell<DatabaseUrl> = OnceCell::const_new();
    URL.get_or_init(|| async {
        let url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => DatabaseUrl::new(url),
            _ => {
                let cluster = db::local::LocalCluster::new(&local_pg_dir(), local_pg_port());
                tokio::task::spawn_blocking(move || cluster.ensure_running())
                    .await
                    .expect("join")
                    .expect("start the private PostgreSQL cluster")
            }
        };
        drop_stale_test_databases(&url).await;
        url
    })
    .await
    .clone()
}

fn local_pg_dir() -> PathBuf {
    std::env::var_os("LOCAL_PG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("var/postgres"))
}

fn local_pg_port() -> u16 {
    std::env::var("LOCAL_PG_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(54329)
}

fn with_database(url: &DatabaseUrl, database: &str) -> DatabaseUrl {
    let text = url.expose();
    let (base, _) = text.rsplit_once('/').expect("URL has a database");
    DatabaseUrl::new(format!("{base}/{database}"))
}

/// Test databases are named `sbtest_<unix seconds>_<random>`; those older than an hour are
/// leftovers of earlier runs.
async fn drop_stale_test_databases(url: &DatabaseUrl) {
    let Ok(mut conn) = PgConnection::connect(url.expose()).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'sbtest\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    let now = unix_seconds();
    for name in names {
        let created: u64 = name
            .split('_')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if now.saturating_sub(created) > 3600 {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\""
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new, empty, migrated database; returns its URL.
pub async fn fresh_database() -> DatabaseUrl {
    let server = server_url().await;
    let name = format!(
        "sbtest_{}_{}",
        unix_seconds(),
        uuid::Uuid::new_v4().simple()
    );
    let mut conn = PgConnection::connect(server.expose())
        .await
        .expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let url = with_database(&server, &name);
    let pool = db::connect(&url).await.expect("connect");
    db::migrate(&pool).await.expect("migrate");
    pool.close().await;
    url
}

pub fn database_config(url: &DatabaseUrl) -> DatabaseConfig {
    DatabaseConfig {
        database_url: Some(url.clone()),
        local_pg_dir: local_pg_dir(),
        local_pg_port: local_pg_port(),
        database_max_connections: 8,
        database_acquire_timeout_s: 2,
    }
}

/// The service's settings for tests ([`ServeConfig::for_tests`]).
pub fn serve_config() -> ServeConfig {
    ServeConfig::for_tests()
}

/// Keys of every role, created through the same code as `switchboard keys create`.
pub struct Keys {
    pub admin: String,
    pub scorer: String,
    pub viewer: String,
}

/// The real application on a fresh database.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub keys: Keys,
    pub url: DatabaseUrl,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(serve_config()).await
    }

    pub async fn with_config(serve: ServeConfig) -> Self {
        let url = fresh_database().await;
        Self::on_database(url, serve).await
    }

    pub async fn on_database(url: DatabaseUrl, serve: ServeConfig) -> Self {
        let database = database_config(&url);
        let pool = db::pool(&url, &database).expect("pool");
        let keys = Keys {
            admin: auth::create_key(&pool, "test-admin", Role::Admin)
                .await
                .expect("key"),
            scorer: auth::create_key(&pool, "test-scorer", Role::Scorer)
                .await
                .expect("key"),
            viewer: auth::create_key(&pool, "test-viewer", Role::Viewer)
                .await
                .expect("key"),
        };
        let state = AppState::new(
            pool,
            Config {
                database,
                serve,
                cases: CasesConfig::for_tests(),
            },
        );
        let router = state.router();
        TestApp {
            state,
            router,
            keys,
            url,
        }
    }

    /// Registers and activates the shipped demo model, as `MODEL_PATH` does at start.
    pub async fn load_demo_model(&self) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/demo/model.txt");
        self.state
            .models
            .bootstrap_from_file(&self.state.db, &path)
            .await
            .expect("demo model registers");
    }

    /// The app on a fresh database, serving the demo model.
    pub async fn with_demo_model() -> Self {
        let app = Self::new().await;
        app.load_demo_model().await;
        app
    }

    /// Sends a request through the real router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body: bytes,
        }
    }

    pub async fn get(&self, uri: &str, key: Option<&str>) -> Reply {
        self.send(request(Method::GET, uri, key, None)).await
    }

    pub async fn post_json(&self, uri: &str, key: Option<&str>, body: serde_json::Value) -> Reply {
        self.send(request(Method::POST, uri, key, Some(body.to_string())))
            .await
    }

    pub async fn put_json(&self, uri: &str, key: Option<&str>, body: serde_json::Value) -> Reply {
        self.send(request(Method::PUT, uri, key, Some(body.to_string())))
            .await
    }

    /// Uploads a file as admin (`multipart/form-data`, no options) and expects 200: the
    /// reply's JSON. Imports and scoring runs with `?wait=true` answer their report this way.
    pub async fn upload_ok(&self, uri: &str, name: &str, file: &[u8]) -> serde_json::Value {
        let reply = self
            .post_file(uri, Some(&self.keys.admin), name, file, None)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    /// Uploads a file as `multipart/form-data` with a `file` part and optional JSON `options`.
    pub async fn post_file(
        &self,
        uri: &str,
        key: Option<&str>,
        file_name: &str,
        file: &[u8],
        options: Option<serde_json::Value>,
    ) -> Reply {
        const BOUNDARY: &str = "switchboard-test-boundary-7d1c";
        let mut body = Vec::new();
        if let Some(options) = options {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"options\"\r\nContent-Type: application/json\r\n\r\n{options}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let mut builder = Request::builder().method(Method::POST).uri(uri).header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        );
        if let Some(key) = key {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        self.send(builder.body(Body::from(body)).expect("request"))
            .await
    }
}

pub fn request(
    method: Method,
    uri: &str,
    key: Option<&str>,
    json: Option<String>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    match json {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body)),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    pub fn problem(&self, status: StatusCode) -> serde_json::Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.content_type(), "application/problem+json");
        let problem = self.json();
        assert_eq!(problem["status"], status.as_u16());
        assert!(problem["title"].is_string());
        assert!(problem["type"].is_string());
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "problem without detail: {problem}"
        );
        problem
    }
}

/// The real public event logs, `../shared/data/eventlogs/` (or `SWITCHBOARD_EVENTLOGS` at
/// build time). Tests that read them carry
/// `#[cfg_attr(no_eventlogs, ignore = "needs ../shared/data/eventlogs")]` (see `build.rs`), so
/// they are ignored, visibly, where the folder is absent, and fail here under `CI=true`.
pub fn eventlogs() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("SWITCHBOARD_EVENTLOGS_DIR"));
    assert!(
        dir.is_dir(),
        "{} is absent: the real event logs live outside the repository (CI must have them)",
        dir.display()
    );
    dir
}

/// The string `key` of every element of the JSON array `array`, in order (each error's
/// `field`, each case's `case_id`, ...).
pub fn strings<'a>(array: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|e| {
            e[key]
                .as_str()
                .unwrap_or_else(|| panic!("no string `{key}` in {e}"))
        })
        .collect()
}

/// The strings of a JSON array of strings.
pub fn strings_of(array: &serde_json::Value) -> Vec<String> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|e| {
            e.as_str()
                .unwrap_or_else(|| panic!("not a string: {e}"))
                .to_owned()
        })
        .collect()
}

/// A committed JSON fixture, by its path under `tests/fixtures/`.
pub fn fixture(path: &str) -> serde_json::Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A TCP relay in front of PostgreSQL that can be cut and restored, to take the database
/// away from a running service and give it back.
pub struct CuttableRelay {
    pub addr: std::net::SocketAddr,
    upstream: String,
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl CuttableRelay {
    pub async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let relay = CuttableRelay {
            addr,
            upstream,
            tasks: Arc::new(std::sync::Mutex::new(Vec::new())),
        };
        relay.accept_on(listener);
        relay
    }

    fn accept_on(&self, listener: tokio::net::TcpListener) {
        let upstream = self.upstream.clone();
        let tasks = self.tasks.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().expect("lock").push(pipe);
            }
        });
        self.tasks.lock().expect("lock").push(acceptor);
    }

    /// `url` with its host and port replaced by the relay's.
    pub fn url_for(&self, url: &DatabaseUrl) -> DatabaseUrl {
        DatabaseUrl::new(
            url.expose()
                .replacen(&self.upstream, &self.addr.to_string(), 1),
        )
    }

    /// Drops every connection and stops listening: the database is "down".
    pub fn cut(&self) {
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port: the database is "back".
    pub async fn restore(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("rebind");
        self.accept_on(listener);
    }
}

/// The `host:port` of a database URL.
pub fn host_port(url: &DatabaseUrl) -> String {
    let text = url.expose();
    let after_at = text.split('@').nth(1).expect("host in URL");
    after_at.split('/').next().expect("host:port").to_owned()
}
