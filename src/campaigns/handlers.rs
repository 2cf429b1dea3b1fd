//! HTTP handlers of campaigns: account links, creation, call lists, exclusions, attempts, KPIs.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveTime, Utc};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    holdout,
    intervals::{self, Difference},
    kpis::{KpiSet, Rate, Tally},
    rules::Rule,
    store::{self, Attempt, CampaignRow, CreateError, Link, MemberRow, NewCampaign},
    window::{CallingWindow, Windows, csv_quoted},
};
use crate::{
    auth::{AdminAccess, AnyRole, Authorized, ViewerAccess},
    http::{
        error::{ApiError, Json, Path, Problem, Query},
        upload,
    },
    scoring::{handlers::Reason, runs::input::account_id_problem},
    state::AppState,
    validation::{BadRow, FieldError},
};

/// Bad rows listed in a 422, and accounts listed as not on the call list.
const LISTED: usize = 100;

/// The calling window of accounts whose link gives none, unless the campaign sets one.
const DEFAULT_WINDOW: (&str, &str, &str) = ("UTC", "09:00", "20:00");

pub(super) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

pub(super) async fn read_body(state: &AppState, body: axum::body::Body) -> Result<Bytes, ApiError> {
    let limit = usize::try_from(state.config.serve.body_limit_bytes).unwrap_or(usize::MAX);
    upload::read_small(body, limit).await
}

pub(super) fn text_problem(value: &str, max: usize) -> Option<String> {
    if value.trim().is_empty() {
        Some("must not be empty".into())
    } else if value.chars().count() > max {
        Some(format!("must be at most {max} characters"))
    } else if value.contains('\0') {
        Some("must not contain a NUL character (U+0000)".into())
    } else {
        None
    }
}

fn parse_hhmm(value: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(value.trim(), "%H:%M")
        .map_err(|_| format!("`{}` is not a time of day as HH:MM", value.escape_debug()))
}

fn zone_problem(zone: &str) -> Option<String> {
    zone.parse::<chrono_tz::Tz>()
        .err()
        .map(|_| format!("`{}` is not an IANA time zone", zone.escape_debug()))
}

/// 422 listing bad rows, each field named `line N: column` (or its JSON pointer).
fn bad_rows(what: &str, rows: &[BadRow]) -> ApiError {
    let errors = rows
        .iter()
        .take(LISTED)
        .flat_map(|row| {
            row.errors.iter().map(move |e| {
                if e.field.starts_with('/') {
                    e.clone()
                } else {
                    FieldError::new(format!("line {}: {}", row.line, e.field), e.message.clone())
                }
            })
        })
        .collect();
    ApiError::validation(
        format!("{} bad {what} row(s); nothing was stored", rows.len()),
        errors,
    )
}

/// A CSV record: its line (the header is line 1) and its cells by lower-cased column name.
type CsvRecord = (u64, HashMap<String, String>);

/// Reads a CSV body's records.
fn csv_records(bytes: &[u8]) -> Result<Vec<CsvRecord>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| {
            ApiError::validation(
                "the CSV header cannot be read",
                vec![FieldError::new("header", e.to_string())],
            )
        })?
        .iter()
        .map(str::to_lowercase)
        .collect();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            ApiError::validation(
                "the CSV cannot be read",
                vec![FieldError::new(format!("line {line}"), e.to_string())],
            )
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let fields = names
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_owned))
            .collect();
        out.push((line, fields));
    }
    Ok(out)
}

fn require_columns(wanted: &[&str], bytes: &[u8]) -> Result<(), ApiError> {
    let header = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let names: Vec<String> = String::from_utf8_lossy(header)
        .split(',')
        .map(|n| n.trim().trim_matches('"').to_lowercase())
        .collect();
    let missing: Vec<FieldError> = wanted
        .iter()
        .filter(|w| !names.iter().any(|n| n == *w))
        .map(|w| FieldError::new("header", format!("the header has no `{w}` column")))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(
            "the CSV header lacks required columns",
            missing,
        ))
    }
}

/// The rows of an upload before validation: JSON items, or CSV records with their lines.
pub(super) enum Upload<I> {
    /// Items of a JSON body; `pointer` prefixes their fields' names (`/links` gives
    /// `/links/0/customer`).
    Json {
        pointer: &'static str,
        items: Vec<I>,
    },
    /// Records of a CSV body with their line numbers, or what was wrong reading one.
    Csv(Vec<(u64, Result<I, Vec<FieldError>>)>),
}

/// A JSON body of type `B` (`what` names it in the 422 of a body that does not parse), its
/// items taken out by `items`.
pub(super) fn json_upload<B: serde::de::DeserializeOwned, I>(
    bytes: &[u8],
    what: &str,
    pointer: &'static str,
    items: impl FnOnce(B) -> Vec<I>,
) -> Result<Upload<I>, ApiError> {
    let body: B = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::validation(
            format!("the body is not {what}"),
            vec![FieldError::new("body", e.to_string())],
        )
    })?;
    Ok(Upload::Json {
        pointer,
        items: items(body),
    })
}

/// A CSV body with the `required` columns, each record made an item by `item` (which takes
/// cells out by lower-cased column name).
pub(super) fn csv_upload<I>(
    bytes: &[u8],
    required: &[&str],
    item: impl Fn(&mut HashMap<String, String>) -> Result<I, Vec<FieldError>>,
) -> Result<Upload<I>, ApiError> {
    require_columns(required, bytes)?;
    Ok(Upload::Csv(
        csv_records(bytes)?
            .into_iter()
            .map(|(line, mut fields)| (line, item(&mut fields)))
            .collect(),
    ))
}

/// Validates every row of an upload, all or nothing: a 422 naming every bad field of every
/// bad row (`/links/3/customer`, `line 4: customer`), else the valid rows in order.
pub(super) fn validate_upload<I, T>(
    what: &str,
    upload: Upload<I>,
    validate: impl Fn(I, &dyn Fn(&str) -> String) -> Result<T, Vec<FieldError>>,
) -> Result<Vec<T>, ApiError> {
    let mut valid = Vec::new();
    let mut bad = Vec::new();
    let mut judge = |line: u64, result: Result<T, Vec<FieldError>>| match result {
        Ok(row) => valid.push(row),
        Err(errors) => bad.push(BadRow { line, errors }),
    };
    match upload {
        Upload::Json { pointer, items } => {
            for (i, item) in items.into_iter().enumerate() {
                judge(
                    i as u64 + 1,
                    validate(item, &|field| format!("{pointer}/{i}/{field}")),
                );
            }
        }
        Upload::Csv(records) => {
            for (line, item) in records {
                judge(
                    line,
                    item.and_then(|item| validate(item, &|field| field.to_owned())),
                );
            }
        }
    }
    if bad.is_empty() {
        Ok(valid)
    } else {
        Err(bad_rows(what, &bad))
    }
}

// ---------------------------------------------------------------------------------------------
// Account links

/// One link between a scored account and a customer of the case store.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub account_id: String,
    /// The case store's `customer` of this account.
    pub customer: String,
    /// IANA zone of the customer's calling window, e.g. `Europe/Lisbon`.
    pub time_zone: Option<String>,
    /// Local `HH:MM` the customer may be called from (with `window_end`).
    pub window_start: Option<String>,
    /// Local `HH:MM` the customer may be called until.
    pub window_end: Option<String>,
}

/// A JSON body of links: `{"links": [...]}` or the bare array.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LinksBody {
    Wrapped { links: Vec<LinkInput> },
    Bare(Vec<LinkInput>),
}

/// What a links upload did.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinksReport {
    pub rows: u64,
    pub inserted: u64,
    /// Links already stored whose zone or window were rewritten (unchanged ones count too).
    pub updated: u64,
}

fn validate_link(input: LinkInput, at: &dyn Fn(&str) -> String) -> Result<Link, Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(p) =
        account_id_problem(&input.account_id).or_else(|| text_problem(&input.account_id, 200))
    {
        errors.push(FieldError::new(at("account_id"), p));
    }
    if let Some(p) = text_problem(&input.customer, 200) {
        errors.push(FieldError::new(at("customer"), p));
    }
    let time_zone = input
        .time_zone
        .filter(|z| !z.trim().is_empty())
        .map(|z| z.trim().to_owned());
    if let Some(p) = time_zone.as_deref().and_then(zone_problem) {
        errors.push(FieldError::new(at("time_zone"), p));
    }
    let start = input.window_start.filter(|s| !s.trim().is_empty());
    let end = input.window_end.filter(|s| !s.trim().is_empty());
    let window = match (start, end) {
        (None, None) => None,
        (Some(s), Some(e)) => match (parse_hhmm(&s), parse_hhmm(&e)) {
            (Ok(s), Ok(e)) if s < e => Some((s, e)),
            (Ok(_), Ok(_)) => {
                errors.push(FieldError::new(
                    at("window_end"),
                    "must be after window_start",
                ));
                None
            }
            (s, e) => {
                for (field, r) in [("window_start", s), ("window_end", e)] {
                    if let Err(p) = r {
                        errors.push(FieldError::new(at(field), p));
                    }
                }
                None
            }
        },
        (Some(_), None) => {
            errors.push(FieldError::new(
                at("window_end"),
                "is needed with window_start",
            ));
            None
        }
        (None, Some(_)) => {
            errors.push(FieldError::new(
                at("window_start"),
                "is needed with window_end",
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok(Link {
            account_id: input.account_id,
            customer: input.customer,
            time_zone,
            window,
        })
    } else {
        Err(errors)
    }
}

/// Link scored accounts to customers of the case store (admin): CSV (`text/csv`, columns
/// `account_id`, `customer`, optional `time_zone`, `window_start`, `window_end`) or JSON
/// (`{"links": [...]}`). A link is `(account_id, customer)`; sending it again replaces its
/// zone and window, so uploads are idempotent. All or nothing: a bad row stores nothing.
/// Accounts without a link are matched to the customer with the same id.
#[utoipa::path(post, path = "/v1/account-links", tag = "campaigns",
    security(("api_key" = [])),
    request_body(content(
        (String = "text/csv"),
        (LinksBody = "application/json"),
    )),
    responses(
        (status = 200, description = "Stored", body = LinksReport),
        (status = 413, description = "Larger than BODY_LIMIT_BYTES", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad rows (each field named) or no usable header; nothing stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_account_links(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<LinksReport>, ApiError> {
    let bytes = read_body(&state, body).await?;
    let upload = if is_json(&headers) {
        json_upload(&bytes, "a links document", "/links", |body| match body {
            LinksBody::Wrapped { links } | LinksBody::Bare(links) => links,
        })?
    } else {
        csv_upload(&bytes, &["account_id", "customer"], |cells| {
            let mut take = |name: &str| cells.remove(name);
            Ok(LinkInput {
                account_id: take("account_id").unwrap_or_default(),
                customer: take("customer").unwrap_or_default(),
                time_zone: take("time_zone"),
                window_start: take("window_start"),
                window_end: take("window_end"),
            })
        })?
    };
    let links = validate_upload("link", upload, validate_link)?;
    // The last row of a repeated link wins (one upsert may not touch a row twice).
    let mut last: HashMap<(String, String), usize> = HashMap::new();
    for (i, link) in links.iter().enumerate() {
        last.insert((link.account_id.clone(), link.customer.clone()), i);
    }
    let rows = links.len() as u64;
    let unique: Vec<Link> = links
        .into_iter()
        .enumerate()
        .filter(|(i, l)| last.get(&(l.account_id.clone(), l.customer.clone())) == Some(i))
        .map(|(_, l)| l)
        .collect();
    let mut tx = state.db.begin().await?;
    let (inserted, updated) = store::upsert_links(&mut tx, &unique).await?;
    tx.commit().await?;
    Ok(Json(LinksReport {
        rows,
        inserted,
        updated,
    }))
}

// ---------------------------------------------------------------------------------------------
// Campaigns

/// Whom to take from the run: any combination, at least one. Deciles and the floor filter;
/// `top_n` then keeps the highest probabilities (ties by account id).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectionRequest {
    /// Deciles to take, 1 (highest scores) to 10.
    pub deciles: Option<Vec<i64>>,
    /// The N accounts with the highest probabilities.
    pub top_n: Option<i64>,
    /// Accounts with a probability at least this.
    pub min_probability: Option<f64>,
}

/// Service-aware suppression, judged against the case store when the campaign is created.
/// Every case rule is on unless switched off; windows count back from `as_of`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SuppressionRequest {
    /// Skip customers with an open case.
    pub open_case: bool,
    /// Skip customers with an SLA breach within `within_days`.
    pub sla_breach: bool,
    /// Skip customers with a reactivated case active within `within_days`.
    pub reactivation: bool,
    /// Skip customers with an escalated case active within `within_days`.
    pub escalation: bool,
    /// Skip customers with a CSAT of 1 or 2 on a case active within `within_days`.
    pub low_csat: bool,
    /// Days back from `as_of` the rules above look (default 30).
    pub within_days: i64,
    /// Skip customers with an open or recent case of these request types (e.g. `Complaint`;
    /// matched ignoring case).
    pub request_types: Vec<String>,
    /// Account ids never to call.
    pub opt_out: Vec<String>,
}

impl Default for SuppressionRequest {
    fn default() -> Self {
        SuppressionRequest {
            open_case: true,
            sla_breach: true,
            reactivation: true,
            escalation: true,
            low_csat: true,
            within_days: 30,
            request_types: Vec::new(),
            opt_out: Vec::new(),
        }
    }
}

/// At most `max_attempts` attempts per account, across campaigns, over `period_days`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactCapRequest {
    pub max_attempts: i64,
    pub period_days: i64,
}

/// Daily local hours in an IANA zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowRequest {
    #[schema(example = "Europe/Lisbon")]
    pub time_zone: String,
    #[schema(example = "09:00")]
    pub start: String,
    #[schema(example = "20:00")]
    pub end: String,
}

/// `POST /v1/campaigns`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaignRequest {
    pub name: String,
    /// The scoring run to select from (default: the newest succeeded run).
    pub run_id: Option<i64>,
    pub selection: SelectionRequest,
    #[serde(default)]
    pub suppression: SuppressionRequest,
    pub contact_cap: Option<ContactCapRequest>,
    /// Share of the eligible accounts held out (not called), 0 to 0.9 (default 0.1).
    pub holdout_share: Option<f64>,
    /// The holdout's seed (default: the name). Campaigns with one seed hold out the same
    /// accounts.
    pub seed: Option<String>,
    /// The calling window of accounts whose link gives none (default UTC 09:00-20:00).
    pub calling_window: Option<WindowRequest>,
    /// The instant suppression windows end at (default: now).
    pub as_of: Option<DateTime<Utc>>,
}

/// Accounts a rule excluded.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleCount {
    pub rule: Rule,
    pub accounts: i64,
}

/// A campaign and what each stage of its creation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignResponse {
    pub id: i64,
    pub name: String,
    pub run_id: i64,
    pub seed: String,
    pub holdout_share: f64,
    pub as_of: DateTime<Utc>,
    /// Accounts the selection took from the run.
    pub selected: i64,
    /// Per rule, in the order rules are judged (an account counts under its first rule).
    pub suppressed: Vec<RuleCount>,
    pub suppressed_total: i64,
    /// Eligible accounts held out by the sticky hash.
    pub held_out: i64,
    /// Accounts on the call list.
    pub to_call: i64,
    /// The selection, suppression and cap rules applied, defaults filled in.
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
    pub calling_window: WindowRequest,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<CampaignRow> for CampaignResponse {
    fn from(row: CampaignRow) -> Self {
        let suppressed: Vec<RuleCount> = Rule::ALL
            .iter()
            .map(|&rule| RuleCount {
                rule,
                accounts: row
                    .suppressed
                    .get(rule.name())
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0),
            })
            .collect();
        CampaignResponse {
            id: row.id,
            name: row.name,
            run_id: row.run_id,
            seed: row.seed,
            holdout_share: row.holdout_share,
            as_of: row.as_of,
            selected: row.selected,
            suppressed_total: suppressed.iter().map(|r| r.accounts).sum(),
            suppressed,
            held_out: row.held_out,
            to_call: row.to_call,
            rules: row.rules,
            calling_window: WindowRequest {
                time_zone: row.time_zone,
                start: row.window_start.format("%H:%M").to_string(),
                end: row.window_end.format("%H:%M").to_string(),
            },
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

/// Validates a request into creation's input (the run is checked by the caller).
fn validate_campaign(
    request: CreateCampaignRequest,
    run_id: i64,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<NewCampaign, Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(p) = text_problem(&request.name, 200) {
        errors.push(FieldError::new("/name", p));
    }
    let share = request.holdout_share.unwrap_or(0.1);
    if !(0.0..=0.9).contains(&share) {
        errors.push(FieldError::new(
            "/holdout_share",
            "must be between 0 and 0.9",
        ));
    }
    let seed = request.seed.unwrap_or_else(|| request.name.clone());
    if seed.contains('\0') || seed.chars().count() > 200 {
        errors.push(FieldError::new(
            "/seed",
            "must be at most 200 characters, without NUL",
        ));
    }
    let selection = &request.selection;
    if selection.deciles.is_none()
        && selection.top_n.is_none()
        && selection.min_probability.is_none()
    {
        errors.push(FieldError::new(
            "/selection",
            "give deciles, top_n or min_probability (or a combination)",
        ));
    }
    let deciles = match &selection.deciles {
        Some(list) if list.is_empty() => {
            errors.push(FieldError::new(
                "/selection/deciles",
                "must list at least one decile",
            ));
            None
        }
        Some(list) => {
            if let Some(bad) = list.iter().find(|d| !(1..=10).contains(*d)) {
                errors.push(FieldError::new(
                    "/selection/deciles",
                    format!("{bad} is not a decile (1 to 10)"),
                ));
            }
            Some(list.iter().map(|&d| d.clamp(1, 10) as i16).collect())
        }
        None => None,
    };
    if selection.top_n.is_some_and(|n| n < 1) {
        errors.push(FieldError::new("/selection/top_n", "must be at least 1"));
    }
    if selection
        .min_probability
        .is_some_and(|p| !(0.0..=1.0).contains(&p))
    {
        errors.push(FieldError::new(
            "/selection/min_probability",
            "must be between 0 and 1",
        ));
    }
    let s = &request.suppression;
    if !(0..=3660).contains(&s.within_days) {
        errors.push(FieldError::new(
            "/suppression/within_days",
            "must be 0 to 3660",
        ));
    }
    for (i, t) in s.request_types.iter().enumerate() {
        if let Some(p) = text_problem(t, 200) {
            errors.push(FieldError::new(
                format!("/suppression/request_types/{i}"),
                p,
            ));
        }
    }
    for (i, id) in s.opt_out.iter().enumerate() {
        if let Some(p) = account_id_problem(id).or_else(|| text_problem(id, 200)) {
            errors.push(FieldError::new(format!("/suppression/opt_out/{i}"), p));
        }
    }
    if let Some(cap) = &request.contact_cap {
        if cap.max_attempts < 1 {
            errors.push(FieldError::new(
                "/contact_cap/max_attempts",
                "must be at least 1",
            ));
        }
        if !(1..=3660).contains(&cap.period_days) {
            errors.push(FieldError::new(
                "/contact_cap/period_days",
                "must be 1 to 3660",
            ));
        }
    }
    let window = request
        .calling_window
        .clone()
        .unwrap_or_else(|| WindowRequest {
            time_zone: DEFAULT_WINDOW.0.into(),
            start: DEFAULT_WINDOW.1.into(),
            end: DEFAULT_WINDOW.2.into(),
        });
    if let Some(p) = zone_problem(&window.time_zone) {
        errors.push(FieldError::new("/calling_window/time_zone", p));
    }
    let hours = match (parse_hhmm(&window.start), parse_hhmm(&window.end)) {
        (Ok(s), Ok(e)) if s < e => Some((s, e)),
        (Ok(_), Ok(_)) => {
            errors.push(FieldError::new(
                "/calling_window/end",
                "must be after start",
            ));
            None
        }
        (s, e) => {
            for (field, r) in [("/calling_window/start", s), ("/calling_window/end", e)] {
                if let Err(p) = r {
                    errors.push(FieldError::new(field, p));
                }
            }
            None
        }
    };
    let as_of = request.as_of.unwrap_or(now);
    let rules = serde_json::json!({
        "selection": request.selection,
        "suppression": request.suppression,
        "contact_cap": request.contact_cap,
    });
    match hours {
        Some(hours) if errors.is_empty() => Ok(NewCampaign {
            name: request.name.trim().to_owned(),
            run_id,
            seed,
            holdout_share: share,
            rules,
            as_of,
            time_zone: window.time_zone.trim().to_owned(),
            window: hours,
            created_by: created_by.to_owned(),
            selection: store::Selection {
                deciles,
                min_probability: request.selection.min_probability,
                top_n: request.selection.top_n,
            },
            suppression: store::Suppression {
                open_case: s.open_case,
                sla_breach: s.sla_breach,
                reactivation: s.reactivation,
                escalation: s.escalation,
                low_csat: s.low_csat,
                within_days: s.within_days as i32,
                request_types: s
                    .request_types
                    .iter()
                    .map(|t| t.trim().to_lowercase())
                    .collect(),
                opt_out: s.opt_out.clone(),
                contact_cap: request
                    .contact_cap
                    .as_ref()
                    .map(|c| (c.max_attempts, c.period_days as i32)),
            },
        }),
        _ => Err(errors),
    }
}

/// Create a campaign from a scoring run (admin): select accounts, suppress by the case store
/// (open cases; SLA breaches, reactivations, escalations and CSAT 1-2 within N days; listed
/// request types; an opt-out list), apply contact caps, hold out a share by a sticky hash of
/// account id and seed, and store every selected account with its fate, in one transaction.
/// The response counts each stage.
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns",
    security(("api_key" = [])),
    request_body = CreateCampaignRequest,
    responses(
        (status = 201, description = "Created; Location names it", body = CampaignResponse),
        (status = 409, description = "The run has not succeeded, or no run has", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (each named), an unknown run, or an empty selection; nothing created", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_campaigns(
    auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Json(request): Json<CreateCampaignRequest>,
) -> Result<Response, ApiError> {
    // The body first, so one reply names every bad field (an unknown run among them); a
    // run that exists but cannot be used is a conflict only once the body is valid.
    let requested_run = request.run_id;
    let validated = validate_campaign(
        request,
        requested_run.unwrap_or_default(),
        &auth.principal.key_name,
        Utc::now(),
    );
    let mut errors = validated.as_ref().err().cloned().unwrap_or_default();
    let run_id: Result<i64, ApiError> = match requested_run {
        Some(id) => match store::run_status(&state.db, id).await? {
            None => {
                errors.insert(
                    0,
                    FieldError::new("/run_id", format!("no scoring run {id}")),
                );
                Ok(id)
            }
            Some(status) if status != "succeeded" => Err(ApiError::new(
                StatusCode::CONFLICT,
                "run-not-succeeded",
                format!("scoring run {id} is {status}; it has no stored scores"),
            )),
            Some(_) => Ok(id),
        },
        None => store::newest_run(&state.db).await?.ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no-scoring-run",
                "no scoring run has succeeded: score a population first (POST /v1/scoring-runs)",
            )
        }),
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(
            "the campaign is invalid; nothing was created",
            errors,
        ));
    }
    let new = NewCampaign {
        run_id: run_id?,
        ..validated.map_err(|errors| ApiError::validation("the campaign is invalid", errors))?
    };
    let mut tx = state.db.begin().await?;
    let (id, _) = match store::create_campaign(&mut tx, &new).await {
        Ok(created) => created,
        Err(CreateError::EmptySelection(run)) => {
            return Err(ApiError::validation(
                format!(
                    "the selection matches no account of scoring run {run}; nothing was created"
                ),
                vec![FieldError::new("/selection", "matches no account")],
            ));
        }
        Err(CreateError::Database(e)) => return Err(e.into()),
    };
    tx.commit().await?;
    let row = store::get_campaign(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("the campaign vanished"))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/campaigns/{id}"))],
        Json(CampaignResponse::from(row)),
    )
        .into_response())
}

/// The latest 100 campaigns, newest first.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns",
    security(("api_key" = [])),
    responses((status = 200, description = "Campaigns", body = Vec<CampaignResponse>)))]
pub async fn get_campaigns(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
) -> Result<Json<Vec<CampaignResponse>>, ApiError> {
    let rows = store::list_campaigns(&state.db, 100).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

pub(super) async fn campaign(state: &AppState, id: i64) -> Result<CampaignRow, ApiError> {
    store::get_campaign(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no campaign {id}")))
}

/// One campaign with its stage counts.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignResponse),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_campaign(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CampaignResponse>, ApiError> {
    Ok(Json(campaign(&state, id).await?.into()))
}

// ---------------------------------------------------------------------------------------------
// Call list, exclusions, one account

/// Paging and format of a call list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallListParams {
    /// `json` (pages, the default) or `csv` (the whole list, streamed). `Accept: text/csv`
    /// also asks for CSV.
    pub format: Option<String>,
    /// Rows per JSON page, 1 to 10000 (default 1000).
    pub limit: Option<i64>,
    /// Continue after this position (a page's `next_after`).
    pub after: Option<i64>,
    /// The instant calling windows are computed for (default: now).
    pub at: Option<DateTime<Utc>>,
}

/// One account to call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallListRow {
    /// 1 for the highest probability of the campaign's selection.
    pub position: i64,
    pub account_id: String,
    pub probability: f64,
    pub decile: i16,
    /// The linked customer (absent: the account id is the customer id).
    pub customer: Option<String>,
    pub calling_window: CallingWindow,
    /// Talking points: the account's top reason codes as its scoring run kept them (a run
    /// started with `explain`), largest contribution first; empty when the run kept none.
    pub reasons: Vec<Reason>,
}

/// A page of a call list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallListPage {
    pub campaign_id: i64,
    pub rows: Vec<CallListRow>,
    /// `after` of the next page; `null` on the last.
    pub next_after: Option<i64>,
}

const CSV_HEADER: &str = "position,account_id,probability,decile,customer,time_zone,window_start,window_end,open_now,next_window_start,next_window_end,reasons\n";

/// A member's reason codes for the API.
fn reasons_of(row: &MemberRow, feature_names: &[String]) -> Vec<Reason> {
    row.reasons(feature_names)
        .map(|(feature, value, contribution)| Reason {
            feature: feature.to_owned(),
            value,
            contribution,
        })
        .collect()
}

/// A member's reason codes as one CSV cell, into `cell`: `feature=value (+contribution)`
/// joined by `; `, a missing value written `missing`, the contribution to 4 decimals.
fn write_reasons_cell(cell: &mut String, row: &MemberRow, feature_names: &[String]) {
    use std::fmt::Write;
    cell.clear();
    for (k, (feature, value, contribution)) in row.reasons(feature_names).enumerate() {
        if k > 0 {
            cell.push_str("; ");
        }
        cell.push_str(feature);
        cell.push('=');
        let _ = match value {
            Some(value) => write!(cell, "{value}"),
            None => write!(cell, "missing"),
        };
        cell.push_str(" (");
        push_signed_4_decimals(cell, contribution);
        cell.push(')');
    }
}

/// `format!("{:+.4}", x)`, without the exact-decimal machinery the formatter uses for a
/// precision (a call list writes millions): the value rounded to 4 decimals, half away from
/// zero, which differs from it only on exact decimal ties.
fn push_signed_4_decimals(out: &mut String, x: f64) {
    use std::fmt::Write;
    let scaled = (x.abs() * 1e4).round();
    if !scaled.is_finite() || scaled >= 1e15 {
        let _ = write!(out, "{x:+.4}");
        return;
    }
    let units = scaled as u64;
    out.push(if x.is_sign_negative() { '-' } else { '+' });
    let _ = write!(out, "{}.{:04}", units / 10_000, units % 10_000);
}

/// The zone and hours of a row's calling window: the link's, else the campaign's.
fn window_key<'r>(
    row: &'r MemberRow,
    campaign: &'r CampaignRow,
) -> (&'r str, NaiveTime, NaiveTime) {
    let zone = row.time_zone.as_deref().unwrap_or(&campaign.time_zone);
    match (row.window_start, row.window_end) {
        (Some(start), Some(end)) => (zone, start, end),
        _ => (zone, campaign.window_start, campaign.window_end),
    }
}

fn push_csv_row(
    out: &mut String,
    row: &MemberRow,
    window_cells: &str,
    feature_names: &[String],
    reasons_cell: &mut String,
) {
    use std::fmt::Write;
    let _ = write!(out, "{},", row.position);
    out.push_str(&csv_quoted(&row.account_id));
    let _ = write!(out, ",{},{},", row.probability, row.decile);
    if let Some(customer) = &row.customer {
        out.push_str(&csv_quoted(customer));
    }
    out.push(',');
    out.push_str(window_cells);
    out.push(',');
    if row.reasons.is_some() {
        write_reasons_cell(reasons_cell, row, feature_names);
        out.push_str(&csv_quoted(reasons_cell));
    }
    out.push('\n');
}

/// The call list (scorer or viewer): accounts to call in order of probability, each with its
/// decile, the customer's local calling window (the link's zone and hours, else the
/// campaign's) and the reason codes its scoring run kept (`explain`) as talking points. JSON
/// pages, or the whole list as streamed CSV (reasons in one `reasons` cell).
#[utoipa::path(get, path = "/v1/campaigns/{id}/call-list", tag = "campaigns",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Campaign id"), CallListParams),
    responses(
        (status = 200, description = "A page (JSON) or the whole list (CSV)", content(
            (CallListPage = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Bad paging or format", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_call_list(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(params): Query<CallListParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wants_csv = match params.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::bad_parameters(
                "invalid-query",
                "unknown format",
                vec![FieldError::new(
                    "format",
                    format!("`{}` is not json or csv", other.escape_debug()),
                )],
            ));
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/csv")),
    };
    let campaign = campaign(&state, id).await?;
    let feature_names = store::run_feature_names(&state.db, campaign.run_id).await?;
    let at = params.at.unwrap_or_else(Utc::now);
    if wants_csv {
        return Ok(stream_call_list(state, campaign, feature_names, at));
    }
    let (after, limit) = paging(params.after, params.limit)?;
    let rows = store::members_page(&state.db, id, "call", after, limit).await?;
    let mut windows = Windows::at(at);
    let next_after = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.position))
        .flatten();
    let rows = rows
        .into_iter()
        .map(|row| {
            let (zone, start, end) = window_key(&row, &campaign);
            let calling_window = windows.get(zone, start, end).clone();
            let reasons = reasons_of(&row, &feature_names);
            CallListRow {
                reasons,
                position: row.position,
                account_id: row.account_id,
                probability: row.probability,
                decile: row.decile,
                customer: row.customer,
                calling_window,
            }
        })
        .collect();
    Ok(Json(CallListPage {
        campaign_id: id,
        rows,
        next_after,
    })
    .into_response())
}

fn paging(after: Option<i64>, limit: Option<i64>) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(1000);
    let mut errors = Vec::new();
    if !(1..=10_000).contains(&limit) {
        errors.push(FieldError::new("limit", "must be 1 to 10000"));
    }
    let after = after.unwrap_or(0);
    if after < 0 {
        errors.push(FieldError::new("after", "must not be negative"));
    }
    if errors.is_empty() {
        Ok((after, limit))
    } else {
        Err(ApiError::bad_parameters(
            "invalid-query",
            "bad paging",
            errors,
        ))
    }
}

/// Streams the whole call list as CSV from a database cursor: memory stays flat whatever the
/// list's length. A failure midway cuts the body (the client sees a truncated transfer).
fn stream_call_list(
    state: AppState,
    campaign: CampaignRow,
    feature_names: Vec<String>,
    at: DateTime<Utc>,
) -> Response {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let file_name = format!(
        "attachment; filename=\"campaign-{}-call-list.csv\"",
        campaign.id
    );
    tokio::spawn(async move {
        let mut windows = Windows::at(at);
        let mut reasons_cell = String::new();
        let mut chunk = String::with_capacity(1 << 17);
        chunk.push_str(CSV_HEADER);
        let mut rows = store::members_stream(&state.db, campaign.id, "call");
        loop {
            match rows.try_next().await {
                Ok(Some(row)) => {
                    let (zone, start, end) = window_key(&row, &campaign);
                    let window_cells = windows.csv_cells(zone, start, end);
                    push_csv_row(
                        &mut chunk,
                        &row,
                        window_cells,
                        &feature_names,
                        &mut reasons_cell,
                    );
                    if chunk.len() >= 1 << 16 {
                        let full = std::mem::replace(&mut chunk, String::with_capacity(1 << 17));
                        if sender.send(Ok(Bytes::from(full))).await.is_err() {
                            return; // The client went away.
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(campaign = campaign.id, %error, "streaming a call list failed");
                    let _ = sender
                        .send(Err(std::io::Error::other(
                            "the call list could not be read",
                        )))
                        .await;
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = sender.send(Ok(Bytes::from(chunk))).await;
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file_name),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// Paging of exclusions.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExclusionParams {
    /// Rows per page, 1 to 10000 (default 1000).
    pub limit: Option<i64>,
    /// Continue after this position (a page's `next_after`).
    pub after: Option<i64>,
}

/// An account selected but not called, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExclusionRow {
    pub position: i64,
    pub account_id: String,
    pub probability: f64,
    pub decile: i16,
    /// The first rule the account met.
    pub rule: Option<String>,
    /// What met it: the case id (case rules) or the attempts counted (contact cap).
    pub detail: Option<String>,
    /// The customer whose case met it, when linked (absent: the account id).
    pub customer: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExclusionPage {
    pub campaign_id: i64,
    pub rows: Vec<ExclusionRow>,
    pub next_after: Option<i64>,
}

/// Accounts the campaign selected but excluded, in call order, each with the rule that
/// excluded it and the case (or count) that met the rule (scorer or viewer).
#[utoipa::path(get, path = "/v1/campaigns/{id}/exclusions", tag = "campaigns",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Campaign id"), ExclusionParams),
    responses(
        (status = 200, description = "A page of exclusions", body = ExclusionPage),
        (status = 400, description = "Bad paging", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_exclusions(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(params): Query<ExclusionParams>,
) -> Result<Json<ExclusionPage>, ApiError> {
    campaign(&state, id).await?;
    let (after, limit) = paging(params.after, params.limit)?;
    let rows = store::members_page(&state.db, id, "excluded", after, limit).await?;
    let next_after = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.position))
        .flatten();
    Ok(Json(ExclusionPage {
        campaign_id: id,
        rows: rows
            .into_iter()
            .map(|r| ExclusionRow {
                position: r.position,
                account_id: r.account_id,
                probability: r.probability,
                decile: r.decile,
                rule: r.rule,
                detail: r.rule_detail,
                customer: r.customer,
            })
            .collect(),
        next_after,
    }))
}

/// What became of one account in a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberResponse {
    pub campaign_id: i64,
    pub account_id: String,
    /// `call`, `holdout` or `excluded`.
    pub status: String,
    pub position: i64,
    pub probability: f64,
    pub decile: i16,
    pub rule: Option<String>,
    pub detail: Option<String>,
    /// The account's holdout bucket in [0, 1): held out when below the share (unless excluded
    /// first).
    pub holdout_bucket: f64,
    pub holdout_share: f64,
    /// The account's reason codes as its scoring run kept them (empty: none kept).
    pub reasons: Vec<Reason>,
}

/// Why one account was called, held out or skipped (scorer or viewer). 404 when the campaign's
/// selection did not take the account.
#[utoipa::path(get, path = "/v1/campaigns/{id}/accounts/{account_id}", tag = "campaigns",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Campaign id"), ("account_id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account's fate", body = MemberResponse),
        (status = 404, description = "No such campaign, or the account was not selected", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_campaign_account(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path((id, account_id)): Path<(i64, String)>,
) -> Result<Json<MemberResponse>, ApiError> {
    let campaign = campaign(&state, id).await?;
    let row = store::member(&state.db, id, &account_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "campaign {id} did not select account `{account_id}`"
            ))
        })?;
    let feature_names = store::run_feature_names(&state.db, campaign.run_id).await?;
    Ok(Json(MemberResponse {
        reasons: reasons_of(&row, &feature_names),
        campaign_id: id,
        holdout_bucket: holdout::bucket(&campaign.seed, &row.account_id),
        holdout_share: campaign.holdout_share,
        account_id: row.account_id,
        status: row.status,
        position: row.position,
        probability: row.probability,
        decile: row.decile,
        rule: row.rule,
        detail: row.rule_detail,
    }))
}

// ---------------------------------------------------------------------------------------------
// Attempts

/// Dispositions of an attempt.
pub const DISPOSITIONS: [&str; 5] = [
    "no_answer",
    "busy",
    "wrong_party",
    "right_party_contact",
    "callback_requested",
];

/// One call attempt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptInput {
    /// Unique within the campaign: re-sending an attempt is ignored (and counted).
    pub attempt_id: String,
    pub account_id: String,
    pub agent: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339, not before `started_at`.
    pub ended_at: String,
    /// `no_answer`, `busy`, `wrong_party`, `right_party_contact` or `callback_requested`.
    pub disposition: String,
    /// For right-party contacts: `accepted` or `declined`.
    pub offer_result: Option<String>,
}

/// A JSON body of attempts: `{"attempts": [...]}` or the bare array.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AttemptsBody {
    Wrapped { attempts: Vec<AttemptInput> },
    Bare(Vec<AttemptInput>),
}

/// What an attempts upload did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptsReport {
    pub campaign_id: i64,
    /// Attempts received.
    pub received: u64,
    pub stored: u64,
    /// Attempt ids already stored or repeated in the upload: ignored.
    pub duplicates: u64,
    /// Attempts of accounts that are not on the call list (held out, excluded or never
    /// selected): not stored.
    pub not_on_list: u64,
    /// The first 100 such accounts.
    pub not_on_list_accounts: Vec<String>,
}

fn parse_time(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{}` is not an RFC 3339 instant", value.escape_debug()))
}

fn validate_attempt(
    input: AttemptInput,
    at: &dyn Fn(&str) -> String,
) -> Result<Attempt, Vec<FieldError>> {
    let mut errors = Vec::new();
    for (field, value) in [("attempt_id", &input.attempt_id), ("agent", &input.agent)] {
        if let Some(p) = text_problem(value, 200) {
            errors.push(FieldError::new(at(field), p));
        }
    }
    if let Some(p) =
        account_id_problem(&input.account_id).or_else(|| text_problem(&input.account_id, 200))
    {
        errors.push(FieldError::new(at("account_id"), p));
    }
    let started = parse_time(&input.started_at)
        .map_err(|p| errors.push(FieldError::new(at("started_at"), p)))
        .ok();
    let ended = parse_time(&input.ended_at)
        .map_err(|p| errors.push(FieldError::new(at("ended_at"), p)))
        .ok();
    if let (Some(s), Some(e)) = (started, ended)
        && e < s
    {
        errors.push(FieldError::new(at("ended_at"), "is before started_at"));
    }
    let disposition = DISPOSITIONS
        .iter()
        .copied()
        .find(|d| *d == input.disposition.trim());
    if disposition.is_none() {
        errors.push(FieldError::new(
            at("disposition"),
            format!(
                "`{}` is not one of {}",
                input.disposition.escape_debug(),
                DISPOSITIONS.join(", ")
            ),
        ));
    }
    let offer_result = match input.offer_result.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("accepted") => Some("accepted"),
        Some("declined") => Some("declined"),
        Some(other) => {
            errors.push(FieldError::new(
                at("offer_result"),
                format!("`{}` is not accepted or declined", other.escape_debug()),
            ));
            None
        }
    };
    if offer_result.is_some() && disposition.is_some_and(|d| d != "right_party_contact") {
        errors.push(FieldError::new(
            at("offer_result"),
            "only a right_party_contact has an offer result",
        ));
    }
    match (started, ended, disposition) {
        (Some(started_at), Some(ended_at), Some(disposition)) if errors.is_empty() => Ok(Attempt {
            attempt_id: input.attempt_id,
            account_id: input.account_id,
            agent: input.agent.trim().to_owned(),
            started_at,
            ended_at,
            disposition,
            offer_result,
        }),
        _ => Err(errors),
    }
}

/// Record call attempts and their outcomes (admin): JSON (`{"attempts": [...]}`) or CSV
/// (`text/csv`, columns `attempt_id, account_id, agent, started_at, ended_at, disposition,
/// offer_result`). Idempotent by attempt id. A bad value refuses the whole upload (422, every
/// bad field named); attempts of accounts not on the call list are counted and not stored.
#[utoipa::path(post, path = "/v1/campaigns/{id}/attempts", tag = "campaigns",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Campaign id")),
    request_body(content(
        (String = "text/csv"),
        (AttemptsBody = "application/json"),
    )),
    responses(
        (status = 200, description = "Stored (with duplicates and accounts not on the list counted)", body = AttemptsReport),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than BODY_LIMIT_BYTES", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad rows (each field named) or no usable header; nothing stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_attempts(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<AttemptsReport>, ApiError> {
    campaign(&state, id).await?;
    let bytes = read_body(&state, body).await?;
    let upload = if is_json(&headers) {
        json_upload(
            &bytes,
            "an attempts document",
            "/attempts",
            |body| match body {
                AttemptsBody::Wrapped { attempts } | AttemptsBody::Bare(attempts) => attempts,
            },
        )?
    } else {
        let required = [
            "attempt_id",
            "account_id",
            "agent",
            "started_at",
            "ended_at",
            "disposition",
        ];
        csv_upload(&bytes, &required, |cells| {
            let mut take = |name: &str| cells.remove(name);
            Ok(AttemptInput {
                attempt_id: take("attempt_id").unwrap_or_default(),
                account_id: take("account_id").unwrap_or_default(),
                agent: take("agent").unwrap_or_default(),
                started_at: take("started_at").unwrap_or_default(),
                ended_at: take("ended_at").unwrap_or_default(),
                disposition: take("disposition").unwrap_or_default(),
                offer_result: take("offer_result"),
            })
        })?
    };
    let attempts = validate_upload("attempt", upload, validate_attempt)?;
    let mut tx = state.db.begin().await?;
    let stored = store::store_attempts(&mut tx, id, &attempts, LISTED as i32).await?;
    tx.commit().await?;
    Ok(Json(AttemptsReport {
        campaign_id: id,
        received: attempts.len() as u64,
        stored: stored.stored,
        duplicates: stored.duplicates,
        not_on_list: stored.not_on_list,
        not_on_list_accounts: stored.not_on_list_accounts,
    }))
}

// ---------------------------------------------------------------------------------------------
// KPIs

/// KPIs of one decile of the call list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecileKpis {
    pub decile: i16,
    #[serde(flatten)]
    pub kpis: KpiSet,
}

/// KPIs of one agent's attempts (records = the records the agent attempted).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentKpis {
    pub agent: String,
    #[serde(flatten)]
    pub kpis: KpiSet,
}

/// KPIs of the attempts started in one hour of the customers' local day.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourKpis {
    /// 0 to 23, in the customer's zone (the link's, else the campaign's).
    pub local_hour: i16,
    #[serde(flatten)]
    pub kpis: KpiSet,
}

/// Treated against holdout conversion in one decile (or all, `decile` null).
#[derive(Debug, Serialize, ToSchema)]
pub struct UpliftRow {
    pub decile: Option<i16>,
    /// Accounts on the call list (intention to treat: processed or not).
    pub treated_records: i64,
    pub treated_processed: i64,
    /// Treated records with an accepted offer / treated records.
    pub treated_conversion: Rate,
    pub holdout_records: i64,
    /// Holdout accounts with a converted outcome (target 1) / holdout accounts with an
    /// outcome in the run's outcomes.
    pub holdout_conversion: Rate,
    /// Treated minus holdout conversion with its 95 % Newcombe hybrid score interval; `null`
    /// while either side has no records.
    pub uplift: Option<Difference>,
}

/// A campaign's KPIs.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignKpisResponse {
    pub campaign_id: i64,
    pub run_id: i64,
    pub totals: KpiSet,
    pub by_decile: Vec<DecileKpis>,
    pub by_agent: Vec<AgentKpis>,
    pub by_local_hour: Vec<HourKpis>,
    /// Incremental conversion per decile, then all deciles together (`decile` null).
    pub incremental: Vec<UpliftRow>,
}

fn tally(row: &store::TallyRow) -> Tally {
    Tally {
        records: row.records,
        processed: row.processed,
        attempts: row.attempts,
        contacted: row.contacted,
        rpc_records: row.rpc_records,
        rpc_attempts: row.rpc_attempts,
        converted: row.converted,
        agent_seconds: row.agent_seconds,
    }
}

fn uplift(decile: Option<i16>, r: &store::UpliftRow) -> UpliftRow {
    UpliftRow {
        decile,
        treated_records: r.treated,
        treated_processed: r.treated_processed,
        treated_conversion: Rate::of(r.treated_converted, r.treated),
        holdout_records: r.holdout,
        holdout_conversion: Rate::of(r.holdout_converted, r.holdout_labelled),
        uplift: intervals::newcombe_difference(
            r.treated_converted as u64,
            r.treated as u64,
            r.holdout_converted as u64,
            r.holdout_labelled as u64,
            intervals::Z_95,
        ),
    }
}

/// Campaign KPIs (viewer): records processed, RPC rate (records with a right-party contact /
/// processed records), RPC per agent hour, contact rate, attempts per record and conversion
/// per RPC, in total, by decile, by agent and by hour of the customer's local day; and the
/// incremental conversion of calling, treated against holdout per decile with a 95 % interval.
#[utoipa::path(get, path = "/v1/campaigns/{id}/kpis", tag = "campaigns",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "KPIs", body = CampaignKpisResponse),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_campaign_kpis(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CampaignKpisResponse>, ApiError> {
    let campaign = campaign(&state, id).await?;
    let deciles = store::tally_by_decile(&state.db, id).await?;
    let agents = store::tally_by_agent(&state.db, id).await?;
    let hours = store::tally_by_local_hour(&state.db, id).await?;
    let uplifts = store::uplift_by_decile(&state.db, id, campaign.run_id).await?;
    let mut total = Tally::default();
    for row in &deciles {
        total.add(&tally(row));
    }
    let agent_seconds: f64 = agents.iter().filter_map(|a| a.agent_seconds).sum();
    total.agent_seconds = Some(agent_seconds);
    let mut all = store::UpliftRow {
        decile: 0,
        treated: 0,
        treated_processed: 0,
        treated_converted: 0,
        holdout: 0,
        holdout_labelled: 0,
        holdout_converted: 0,
    };
    let mut incremental: Vec<UpliftRow> = Vec::with_capacity(uplifts.len() + 1);
    for r in &uplifts {
        all.treated += r.treated;
        all.treated_processed += r.treated_processed;
        all.treated_converted += r.treated_converted;
        all.holdout += r.holdout;
        all.holdout_labelled += r.holdout_labelled;
        all.holdout_converted += r.holdout_converted;
        incremental.push(uplift(Some(r.decile), r));
    }
    incremental.push(uplift(None, &all));
    Ok(Json(CampaignKpisResponse {
        campaign_id: id,
        run_id: campaign.run_id,
        totals: total.kpis(),
        by_decile: deciles
            .iter()
            .map(|r| DecileKpis {
                decile: r.key.parse().unwrap_or(0),
                kpis: tally(r).kpis(),
            })
            .collect(),
        by_agent: agents
            .iter()
            .map(|r| AgentKpis {
                agent: r.key.clone(),
                kpis: tally(r).kpis(),
            })
            .collect(),
        by_local_hour: hours
            .iter()
            .map(|r| HourKpis {
                local_hour: r.key.parse().unwrap_or(0),
                kpis: tally(r).kpis(),
            })
            .collect(),
        incremental,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributions_are_written_as_the_formatter_writes_them() {
        for x in [
            0.0,
            -0.0,
            0.99734,
            -0.99734,
            0.00004,
            0.00006,
            -0.00006,
            12.5,
            1234.56789,
            3e-9,
            -7.123456789,
            0.1 + 0.2,
            1e20,
            f64::NAN,
            f64::INFINITY,
        ] {
            let mut out = String::new();
            push_signed_4_decimals(&mut out, x);
            assert_eq!(out, format!("{x:+.4}"), "{x}");
        }
    }
}
