//! The OpenAPI 3.1 document: assembled from the routes registered with `utoipa-axum`, plus the
//! security scheme and the problem+json error responses every operation shares.

use utoipa::{
    OpenApi, ToSchema,
    openapi::{
        self, Content, RefOr, Response,
        path::Operation,
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

use super::error::{PROBLEM_JSON, Problem};
use crate::validation::FieldError;

/// Name of the bearer-key security scheme in the document.
pub const SECURITY_SCHEME: &str = "api_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "Propensity scoring (LightGBM models, deciles, reason codes, batch runs, lift) and contact-center case KPIs (SLA, first contact resolution, process views).\n\nAuthenticate with `Authorization: Bearer <key>`; keys have the role `scorer`, `viewer` or `admin` and are created with `switchboard keys create` (the binary is `target/release/switchboard` after `cargo build --release`, or on the PATH after `cargo install --path .`). Errors are RFC 9457 `application/problem+json`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    tags(
        (name = "operations", description = "Health, readiness and metrics (no key needed)"),
        (name = "auth", description = "API keys (created and revoked with `switchboard keys`)"),
        (name = "models", description = "LightGBM model registry: upload, inspect, activate"),
        (name = "scores", description = "Online propensity scores with deciles and reason codes"),
        (name = "scoring runs", description = "Batch scoring of whole populations, stored scores and their look-up, outcomes, lift table, AUC and stability (PSI)"),
        (name = "cases", description = "Customer-service cases and their events: streaming, file imports (CSV, XES), activity mappings, per-case metrics"),
        (name = "kpis", description = "Contact-center KPIs over cases: summary, time series, backlog, agents and teams"),
        (name = "process", description = "Process views of the event log: variants, directly-follows graph, activities"),
        (name = "sla", description = "SLA policies on business-hours calendars: calendars, policies (versioned), recomputation, a case's SLA timeline"),
        (name = "staffing", description = "Erlang C / Erlang A staffing requirements and plans from observed demand"),
        (name = "campaigns", description = "Service-aware cross-sell campaigns: account links, call lists from a run's deciles suppressed by the case store, sticky holdouts, attempts, RPC KPIs and incremental conversion"),
    ),
    components(schemas(Problem, FieldError)),
)]
struct ApiDoc;

/// The document before routes are added.
pub fn base() -> openapi::OpenApi {
    let mut api = ApiDoc::openapi();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    if let Some(components) = api.components.as_mut() {
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sb_<id>_<secret>")
                    .description(Some("An API key from `switchboard keys create`"))
                    .build(),
            ),
        );
    }
    api
}

/// Adds the shared error responses to every operation: 400 where there are parameters; 400,
/// 413, 415 and 422 where there is a body; 401, 403 and 503 where a key is needed; 408 and 500
/// everywhere. Operations declare their own other responses themselves.
pub fn finish(mut api: openapi::OpenApi) -> openapi::OpenApi {
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            add_error_responses(operation);
        }
    }
    api
}

fn add_error_responses(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let has_parameters = operation
        .parameters
        .as_ref()
        .is_some_and(|parameters| !parameters.is_empty());
    let has_body = operation.request_body.is_some();
    let mut add = |status: &str, description: &str| {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem_response(description));
    };
    if has_parameters {
        add(
            "400",
            "A path or query parameter is malformed (not a number, out of range, unknown, or holding a NUL character)",
        );
    }
    if has_body {
        add("400", "The body is malformed");
        add("413", "The body is larger than the server accepts");
        add(
            "415",
            "The body's content type is not one this operation reads",
        );
        add(
            "422",
            "The body is well-formed but invalid (every offending field is listed)",
        );
    }
    if secured {
        add("401", "No API key, or an invalid or revoked one");
        add("403", "The key's role may not call this operation");
        add(
            "503",
            "The database is unavailable (or the key cannot be checked); retry after `Retry-After` seconds",
        );
    }
    add(
        "408",
        "The request took longer than the server's time limit (REQUEST_TIMEOUT_S)",
    );
    add(
        "500",
        "Unexpected server failure (details are logged, not returned)",
    );
}

/// A response whose body is a problem document.
pub fn problem_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        Response::builder()
            .description(description)
            .content(PROBLEM_JSON, Content::new(Some(problem_schema())))
            .build(),
    )
}

fn problem_schema() -> RefOr<openapi::schema::Schema> {
    RefOr::Ref(openapi::Ref::from_schema_name(Problem::name()))
}

/// The complete document as `switchboard openapi` prints it and `openapi/openapi.json` holds it.
pub fn document() -> openapi::OpenApi {
    let (_, api) = super::api_router().split_for_parts();
    finish(api)
}

/// `document()` as pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
