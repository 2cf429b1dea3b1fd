//! Logged agent time (`POST /v1/campaigns/{id}/agent-time`): the seconds each agent was logged
//! in to the campaign per UTC day, as a dialer or workforce tool reports it. RPC per agent hour
//! uses it for the days it covers and the span of the agent's attempts for the others.

use axum::{extract::State, http::HeaderMap};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    handlers::{
        campaign, csv_upload, is_json, json_upload, read_body, text_problem, validate_upload,
    },
    store::{self, AgentTime},
};
use crate::{
    auth::{AdminAccess, Authorized},
    http::error::{ApiError, Json, Path, Problem},
    state::AppState,
    validation::FieldError,
};

/// One agent's logged time on one day. Give `logged_seconds` or `logged_hours`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentTimeInput {
    pub agent: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// Seconds logged in, 0 to 86400.
    pub logged_seconds: Option<f64>,
    /// Hours logged in, 0 to 24 (instead of `logged_seconds`).
    pub logged_hours: Option<f64>,
}

/// A JSON body of logged time: `{"agent_time": [...]}` or the bare array.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AgentTimeBody {
    Wrapped { agent_time: Vec<AgentTimeInput> },
    Bare(Vec<AgentTimeInput>),
}

/// What a logged-time upload did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTimeReport {
    pub campaign_id: i64,
    /// Rows received.
    pub received: u64,
    /// Agent days stored for the first time.
    pub inserted: u64,
    /// Agent days that replaced an earlier upload's (or an earlier row of this upload's).
    pub replaced: u64,
}

fn validate(
    input: AgentTimeInput,
    at: &dyn Fn(&str) -> String,
) -> Result<AgentTime, Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(problem) = text_problem(&input.agent, 200) {
        errors.push(FieldError::new(at("agent"), problem));
    }
    let day = NaiveDate::parse_from_str(input.date.trim(), "%Y-%m-%d")
        .map_err(|_| {
            errors.push(FieldError::new(
                at("date"),
                format!(
                    "`{}` is not a date as YYYY-MM-DD",
                    input.date.escape_debug()
                ),
            ));
        })
        .ok();
    let seconds = match (input.logged_seconds, input.logged_hours) {
        (Some(seconds), None) => Some((seconds, "logged_seconds", 86_400.0)),
        (None, Some(hours)) => Some((hours, "logged_hours", 24.0)),
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                at("logged_hours"),
                "give logged_seconds or logged_hours, not both",
            ));
            None
        }
        (None, None) => {
            errors.push(FieldError::new(
                at("logged_seconds"),
                "required (or logged_hours)",
            ));
            None
        }
    }
    .and_then(|(value, field, max)| {
        if value.is_finite() && (0.0..=max).contains(&value) {
            Some(if field == "logged_hours" {
                value * 3600.0
            } else {
                value
            })
        } else {
            errors.push(FieldError::new(at(field), format!("must be 0 to {max}")));
            None
        }
    });
    match (day, seconds) {
        (Some(day), Some(logged_seconds)) if errors.is_empty() => Ok(AgentTime {
            agent: input.agent.trim().to_owned(),
            day,
            logged_seconds,
        }),
        _ => Err(errors),
    }
}

fn number(value: Option<String>, field: &str) -> Result<Option<f64>, FieldError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            FieldError::new(field, format!("`{}` is not a number", text.escape_debug()))
        }),
    }
}

/// Record agents' logged time per UTC day (admin): JSON (`{"agent_time": [{"agent", "date",
/// "logged_seconds" | "logged_hours"}]}`) or CSV (`text/csv`, columns `agent, date` and
/// `logged_seconds` or `logged_hours`). Idempotent: an agent's day is replaced by a later upload.
/// RPC per agent hour counts this time for the days it covers instead of the span of the
/// agent's attempts. A bad value refuses the whole upload (422, every bad field named).
#[utoipa::path(post, path = "/v1/campaigns/{id}/agent-time", tag = "campaigns",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Campaign id")),
    request_body(content(
        (String = "text/csv"),
        (AgentTimeBody = "application/json"),
    )),
    responses(
        (status = 200, description = "Stored", body = AgentTimeReport),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than BODY_LIMIT_BYTES", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad rows (each field named) or no usable header; nothing stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_agent_time(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<AgentTimeReport>, ApiError> {
    campaign(&state, id).await?;
    let bytes = read_body(&state, body).await?;
    let upload = if is_json(&headers) {
        json_upload(
            &bytes,
            "a logged-time document",
            "/agent_time",
            |body| match body {
                AgentTimeBody::Wrapped { agent_time } | AgentTimeBody::Bare(agent_time) => {
                    agent_time
                }
            },
        )?
    } else {
        csv_upload(&bytes, &["agent", "date"], |cells| {
            let mut take = |name: &str| cells.remove(name);
            let (agent, date) = (take("agent"), take("date"));
            let (seconds, hours) = (take("logged_seconds"), take("logged_hours"));
            Ok(AgentTimeInput {
                agent: agent.unwrap_or_default(),
                date: date.unwrap_or_default(),
                logged_seconds: number(seconds, "logged_seconds").map_err(|e| vec![e])?,
                logged_hours: number(hours, "logged_hours").map_err(|e| vec![e])?,
            })
        })?
    };
    let rows = validate_upload("logged-time", upload, validate)?;
    if rows.is_empty() {
        return Err(ApiError::validation(
            "no logged time to store",
            vec![FieldError::new("body", "holds no row")],
        ));
    }
    let mut tx = state.db.begin().await?;
    let (inserted, replaced) = store::upsert_agent_time(&mut tx, id, &rows).await?;
    tx.commit().await?;
    Ok(Json(AgentTimeReport {
        campaign_id: id,
        received: rows.len() as u64,
        inserted,
        replaced,
    }))
}
