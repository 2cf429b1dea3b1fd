//! HTTP handlers of escalation rules and escalation accuracy.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    rules::{EscalationRule, Verdict, judge, normalise},
    store::{self, RuleRow},
};
use crate::{
    auth::{AdminAccess, AnyRole, Authorized, ViewerAccess},
    http::error::{ApiError, Json, Problem, Query},
    state::AppState,
    validation::FieldError,
};

/// Local hours `[start, end)` in an IANA zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleHours {
    #[schema(example = "Europe/Lisbon")]
    pub time_zone: String,
    #[schema(example = "08:00")]
    pub start: String,
    #[schema(example = "18:00")]
    pub end: String,
}

/// Cases of `request_type` may be escalated to `owner_team` (within `hours`, if given).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationRuleBody {
    #[schema(example = "Billing")]
    pub request_type: String,
    #[schema(example = "Billing L2")]
    pub owner_team: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<RuleHours>,
}

/// The whole rule set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationRules {
    pub rules: Vec<EscalationRuleBody>,
}

fn hhmm(value: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(value.trim(), "%H:%M").ok()
}

fn validate(body: &EscalationRules) -> Result<Vec<RuleRow>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    for (i, rule) in body.rules.iter().enumerate() {
        for (field, value) in [
            ("request_type", &rule.request_type),
            ("owner_team", &rule.owner_team),
        ] {
            if value.trim().is_empty() || value.chars().count() > 200 || value.contains('\0') {
                errors.push(FieldError::new(
                    format!("/rules/{i}/{field}"),
                    "must be 1 to 200 characters, without NUL",
                ));
            }
        }
        let mut row = RuleRow {
            request_type: rule.request_type.trim().to_owned(),
            owner_team: rule.owner_team.trim().to_owned(),
            time_zone: None,
            hours_start: None,
            hours_end: None,
        };
        if let Some(hours) = &rule.hours {
            if hours.time_zone.parse::<chrono_tz::Tz>().is_err() {
                errors.push(FieldError::new(
                    format!("/rules/{i}/hours/time_zone"),
                    "is not an IANA time zone",
                ));
            }
            match (hhmm(&hours.start), hhmm(&hours.end)) {
                (Some(s), Some(e)) if s < e => {
                    row.time_zone = Some(hours.time_zone.trim().to_owned());
                    row.hours_start = Some(s);
                    row.hours_end = Some(e);
                }
                (Some(_), Some(_)) => errors.push(FieldError::new(
                    format!("/rules/{i}/hours/end"),
                    "must be after start",
                )),
                (s, e) => {
                    for (field, parsed) in [("start", s), ("end", e)] {
                        if parsed.is_none() {
                            errors.push(FieldError::new(
                                format!("/rules/{i}/hours/{field}"),
                                "must be a time of day as HH:MM",
                            ));
                        }
                    }
                }
            }
        }
        rows.push(row);
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn to_body(rows: Vec<RuleRow>) -> EscalationRules {
    EscalationRules {
        rules: rows
            .into_iter()
            .map(|r| EscalationRuleBody {
                request_type: r.request_type,
                owner_team: r.owner_team,
                hours: match (r.time_zone, r.hours_start, r.hours_end) {
                    (Some(time_zone), Some(s), Some(e)) => Some(RuleHours {
                        time_zone,
                        start: s.format("%H:%M").to_string(),
                        end: e.format("%H:%M").to_string(),
                    }),
                    _ => None,
                },
            })
            .collect(),
    }
}

/// Replace the escalation rules (admin): which request types may be escalated to which owner
/// teams, optionally only within local hours. All or nothing.
#[utoipa::path(put, path = "/v1/escalation-rules", tag = "kpis",
    security(("api_key" = [])),
    request_body = EscalationRules,
    responses(
        (status = 200, description = "The rules now in force", body = EscalationRules),
        (status = 422, description = "Invalid rules (each field named); nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_escalation_rules(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Json(body): Json<EscalationRules>,
) -> Result<Json<EscalationRules>, ApiError> {
    let rows = validate(&body).map_err(|e| ApiError::validation("the rules are invalid", e))?;
    let mut tx = state.db.begin().await?;
    store::replace_rules(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(Json(to_body(store::list_rules(&state.db).await?)))
}

/// The escalation rules in force.
#[utoipa::path(get, path = "/v1/escalation-rules", tag = "kpis",
    security(("api_key" = [])),
    responses((status = 200, description = "The rules", body = EscalationRules)))]
pub async fn get_escalation_rules(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
) -> Result<Json<EscalationRules>, ApiError> {
    Ok(Json(to_body(store::list_rules(&state.db).await?)))
}

/// The period of escalation accuracy (cases created in it).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccuracyParams {
    /// Start of the period (inclusive), RFC 3339.
    pub from: DateTime<Utc>,
    /// End of the period (exclusive), RFC 3339.
    pub to: DateTime<Utc>,
}

/// Escalations judged against the rules.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Accuracy {
    /// Escalated cases.
    pub escalated: i64,
    /// Escalated cases with a request type and an owner team.
    pub judged: i64,
    /// Judged escalations a rule allows.
    pub correct: i64,
    /// `correct / judged`; `null` when nothing was judged.
    pub accuracy: Option<f64>,
}

impl Accuracy {
    fn count(&mut self, verdict: Verdict) {
        self.escalated += 1;
        if verdict != Verdict::Unjudged {
            self.judged += 1;
        }
        if verdict == Verdict::Correct {
            self.correct += 1;
        }
        self.accuracy = (self.judged > 0).then(|| self.correct as f64 / self.judged as f64);
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentAccuracy {
    /// Who escalated (the escalation event's agent, else the case's); `null` when unknown.
    pub agent: Option<String>,
    #[serde(flatten)]
    pub accuracy: Accuracy,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamAccuracy {
    /// The team escalated to (the escalation event's owner team, else the case's).
    pub owner_team: Option<String>,
    #[serde(flatten)]
    pub accuracy: Accuracy,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationAccuracyResponse {
    /// `created`: escalated cases created in the period.
    pub cohort: &'static str,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub rules: usize,
    #[serde(flatten)]
    pub total: Accuracy,
    pub by_agent: Vec<AgentAccuracy>,
    pub by_team: Vec<TeamAccuracy>,
}

/// Escalation accuracy (viewer): the share of escalations of cases created in the period that
/// the escalation rules allow (request type to owner team, within the rule's local hours), in
/// total, by the agent who escalated and by the team escalated to.
#[utoipa::path(get, path = "/v1/kpis/escalation-accuracy", tag = "kpis",
    security(("api_key" = [])),
    params(AccuracyParams),
    responses(
        (status = 200, description = "Escalation accuracy", body = EscalationAccuracyResponse),
        (status = 400, description = "A missing or malformed period", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No escalation rules are set", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_escalation_accuracy(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    Query(params): Query<AccuracyParams>,
) -> Result<Json<EscalationAccuracyResponse>, ApiError> {
    if params.to <= params.from {
        return Err(ApiError::bad_parameters(
            "invalid-query",
            "the period is empty",
            vec![FieldError::new("to", "must be after from")],
        ));
    }
    let rules: Vec<EscalationRule> = store::list_rules(&state.db)
        .await?
        .into_iter()
        .map(|r| EscalationRule {
            request_type: normalise(&r.request_type),
            owner_team: normalise(&r.owner_team),
            hours: match (
                r.time_zone.and_then(|z| z.parse().ok()),
                r.hours_start,
                r.hours_end,
            ) {
                (Some(zone), Some(s), Some(e)) => Some((zone, s, e)),
                _ => None,
            },
        })
        .collect();
    if rules.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "no-escalation-rules",
            "no escalation rules are set: PUT /v1/escalation-rules first",
        ));
    }
    let mut total = Accuracy::default();
    let mut by_agent: BTreeMap<Option<String>, Accuracy> = BTreeMap::new();
    let mut by_team: BTreeMap<Option<String>, Accuracy> = BTreeMap::new();
    for e in store::escalations(&state.db, params.from, params.to).await? {
        let verdict = judge(
            &rules,
            e.request_type.as_deref(),
            e.owner_team.as_deref(),
            e.escalated_at,
        );
        total.count(verdict);
        by_agent.entry(e.agent).or_default().count(verdict);
        by_team.entry(e.owner_team).or_default().count(verdict);
    }
    Ok(Json(EscalationAccuracyResponse {
        cohort: "created",
        from: params.from,
        to: params.to,
        rules: rules.len(),
        total,
        by_agent: by_agent
            .into_iter()
            .map(|(agent, accuracy)| AgentAccuracy { agent, accuracy })
            .collect(),
        by_team: by_team
            .into_iter()
            .map(|(owner_team, accuracy)| TeamAccuracy {
                owner_team,
                accuracy,
            })
            .collect(),
    }))
}
