//! HTTP handlers of the KPI capability: summaries, time series, backlog, agent and team
//! tables, and process views; every response carries freshness and an ETag.

use std::collections::{BTreeMap, BTreeSet};

use axum::{extract::State, response::Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    conditional::{Conditional, Freshness, Stop},
    params::{BucketParams, FilterParams, GroupParams, InstantParams, PeriodParams},
    store::{self, CreatedAggregates, DurationValues, Filter, ResolvedAggregates, SnapshotCounts},
};
use crate::{
    auth::{Authorized, ViewerAccess},
    http::error::{ApiError, Query},
    state::AppState,
    validation::FieldError,
};

type Problem = crate::http::error::Problem;

/// The parsed `value`, or 422 naming every offending parameter (parsers push an error
/// whenever they return None).
pub(super) fn validated<T>(
    detail: &str,
    errors: Vec<FieldError>,
    value: Option<T>,
) -> Result<T, ApiError> {
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(ApiError::validation(detail, errors)),
    }
}

// ---------------------------------------------------------------------------------------------
// KPI values

/// A count over a cohort.
#[derive(Debug, Serialize, ToSchema)]
pub struct Count {
    /// `created`, `resolved`, `responded` or `snapshot`.
    pub cohort: &'static str,
    pub value: i64,
}

/// Σ numerator / Σ denominator over the set; null when the denominator is 0.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rate {
    pub cohort: &'static str,
    pub numerator: i64,
    pub denominator: i64,
    pub value: Option<f64>,
}

/// A mean over the cases that have the value.
#[derive(Debug, Serialize, ToSchema)]
pub struct Mean {
    pub cohort: &'static str,
    pub count: i64,
    pub value: Option<f64>,
}

/// Duration statistics in seconds (median and p90 interpolate linearly, as pandas).
#[derive(Debug, Serialize, ToSchema)]
pub struct Durations {
    pub cohort: &'static str,
    pub count: i64,
    pub mean_s: Option<f64>,
    pub median_s: Option<f64>,
    pub p90_s: Option<f64>,
}

/// Every KPI of the spec, each naming its cohort.
#[derive(Debug, Serialize, ToSchema)]
pub struct Kpis {
    pub volume: Count,
    pub escalation_rate: Rate,
    pub recategorization_rate: Rate,
    pub first_response: Durations,
    pub resolved: Count,
    /// succeeded / (succeeded + noncompliant).
    pub sla_compliance: Rate,
    /// true / matured (true or false) resolved cases.
    pub fcr_no_reactivation: Rate,
    pub fcr_no_repeat: Rate,
    pub fcr_single_interaction: Rate,
    pub reactivation_rate: Rate,
    pub rework_rate: Rate,
    pub knowledge_use_rate: Rate,
    /// Mean CSAT of the resolved cases with a response.
    pub csat: Mean,
    /// Satisfied (4 or 5) / responses.
    pub csat_satisfied: Rate,
    /// Mean handoffs per resolved case.
    pub handoffs: Mean,
    pub cycle_time: Durations,
    pub on_hold: Durations,
    pub queue_wait: Durations,
    /// Open cases breaching their SLA now (not limited to the period).
    pub active_breaches: Option<Count>,
    /// Open cases nearing their SLA now.
    pub nearing: Option<Count>,
    /// First-response SLA (a policy's target): succeeded / (succeeded + noncompliant) of the
    /// cases created in the period.
    pub first_response_sla_compliance: Rate,
    /// Business seconds to the first response, on the SLA policy's calendar, excluding pauses.
    pub business_first_response: Durations,
    /// Business seconds of the resolution SLA clock (the policy's calendar, or 24x7 without a
    /// policy), excluding pauses and, under a policy, the time the case stood resolved.
    pub business_resolution: Durations,
    /// Open cases past their first-response target without a response now.
    pub first_response_active_breaches: Option<Count>,
    /// Open cases nearing their first-response target now.
    pub first_response_nearing: Option<Count>,
}

fn rate(cohort: &'static str, numerator: i64, denominator: i64) -> Rate {
    let value = (denominator > 0).then(|| numerator as f64 / denominator as f64);
    Rate {
        cohort,
        numerator,
        denominator,
        value,
    }
}

fn durations(values: Option<&DurationValues>) -> Durations {
    let stats = values.and_then(DurationValues::stats);
    Durations {
        cohort: "resolved",
        count: stats.map_or(0, |s| s.count),
        mean_s: stats.map(|s| s.mean),
        median_s: stats.map(|s| s.median),
        p90_s: stats.map(|s| s.p90),
    }
}

impl Kpis {
    /// A group's KPIs from its cohorts' aggregates (the defaults, all zero, for a cohort
    /// without cases in the group); `snapshot` only where open-case counts are asked for.
    fn from_rows(
        c: &CreatedAggregates,
        r: &ResolvedAggregates,
        snapshot: Option<&SnapshotCounts>,
    ) -> Kpis {
        Kpis {
            volume: Count {
                cohort: "created",
                value: c.volume,
            },
            escalation_rate: rate("created", c.escalated, c.volume),
            recategorization_rate: rate("created", c.recategorized, c.volume),
            first_response: Durations {
                cohort: "created",
                ..durations(c.first_response.as_ref())
            },
            resolved: Count {
                cohort: "resolved",
                value: r.resolved,
            },
            sla_compliance: rate(
                "resolved",
                r.sla_succeeded,
                r.sla_succeeded + r.sla_noncompliant,
            ),
            fcr_no_reactivation: rate(
                "resolved",
                r.fcr_no_reactivation_true,
                r.fcr_no_reactivation_matured,
            ),
            fcr_no_repeat: rate("resolved", r.fcr_no_repeat_true, r.fcr_no_repeat_matured),
            fcr_single_interaction: rate(
                "resolved",
                r.fcr_single_interaction_true,
                r.fcr_single_interaction_matured,
            ),
            reactivation_rate: rate("resolved", r.reactivated, r.resolved),
            rework_rate: rate("resolved", r.rework, r.resolved),
            knowledge_use_rate: rate("resolved", r.kb_used, r.resolved),
            csat: Mean {
                cohort: "responded",
                count: r.csat_responses,
                value: r.csat_mean(),
            },
            csat_satisfied: rate("responded", r.csat_satisfied, r.csat_responses),
            handoffs: Mean {
                cohort: "resolved",
                count: r.resolved,
                value: (r.resolved > 0)
                    .then(|| r.handoffs_sum.unwrap_or(0) as f64 / r.resolved as f64),
            },
            cycle_time: durations(r.cycle_time.as_ref()),
            on_hold: durations(r.on_hold.as_ref()),
            queue_wait: durations(r.queue_wait.as_ref()),
            active_breaches: snapshot.map(|s| Count {
                cohort: "snapshot",
                value: s.active_breaches,
            }),
            nearing: snapshot.map(|s| Count {
                cohort: "snapshot",
                value: s.nearing,
            }),
            first_response_sla_compliance: rate(
                "created",
                c.first_response_sla_succeeded,
                c.first_response_sla_succeeded + c.first_response_sla_noncompliant,
            ),
            business_first_response: Durations {
                cohort: "created",
                ..durations(c.business_first_response.as_ref())
            },
            business_resolution: durations(r.business_resolution.as_ref()),
            first_response_active_breaches: snapshot.map(|s| Count {
                cohort: "snapshot",
                value: s.first_response_active_breaches,
            }),
            first_response_nearing: snapshot.map(|s| Count {
                cohort: "snapshot",
                value: s.first_response_nearing,
            }),
        }
    }
}

type GroupKey = Vec<Option<String>>;

fn named(names: &[&str], key: &GroupKey) -> BTreeMap<String, Option<String>> {
    names
        .iter()
        .map(|n| (*n).to_owned())
        .zip(key.iter().cloned())
        .collect()
}

/// One group's KPIs.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiGroup {
    /// The group's value per `group_by` dimension (empty without grouping).
    #[schema(value_type = Object)]
    pub group: BTreeMap<String, Option<String>>,
    pub kpis: Kpis,
}

/// KPIs over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryResponse {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: Vec<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
    pub groups: Vec<KpiGroup>,
}

/// Groups from the created and resolved cohorts (and the snapshot), merged by key.
async fn grouped_kpis(
    state: &AppState,
    filter: &Filter,
    created_groups: &[&str],
    resolved_groups: &[&str],
    with_snapshot: bool,
) -> Result<Vec<(GroupKey, Kpis)>, ApiError> {
    // The cohorts are independent queries: run them side by side on pooled connections.
    let (created, resolved, snapshot) = tokio::try_join!(
        store::created_aggregates(&state.db, filter, created_groups, None),
        store::resolved_aggregates(&state.db, filter, resolved_groups, None),
        async {
            if with_snapshot {
                store::snapshot_counts(&state.db, filter, created_groups).await
            } else {
                Ok(Vec::new())
            }
        },
    )?;
    let created: BTreeMap<&GroupKey, &CreatedAggregates> =
        created.iter().map(|row| (&row.group_key, row)).collect();
    let resolved: BTreeMap<&GroupKey, &ResolvedAggregates> =
        resolved.iter().map(|row| (&row.group_key, row)).collect();
    let snapshot: BTreeMap<&GroupKey, &SnapshotCounts> =
        snapshot.iter().map(|row| (&row.group_key, row)).collect();
    let mut keys: BTreeSet<GroupKey> = created
        .keys()
        .chain(resolved.keys())
        .chain(snapshot.keys())
        .map(|key| (*key).clone())
        .collect();
    if created_groups.is_empty() {
        keys.insert(Vec::new());
    }
    let (no_created, no_resolved, no_snapshot) = Default::default();
    Ok(keys
        .into_iter()
        .map(|key| {
            let kpis = Kpis::from_rows(
                created.get(&key).copied().unwrap_or(&no_created),
                resolved.get(&key).copied().unwrap_or(&no_resolved),
                with_snapshot.then(|| snapshot.get(&key).copied().unwrap_or(&no_snapshot)),
            );
            (key, kpis)
        })
        .collect())
}

/// Every KPI over a period (`from`, `to` required), optionally grouped. Created-cohort KPIs
/// count cases created in the period; resolved-cohort ones cases resolved in it; rates are
/// Σ numerator / Σ denominator with both given.
#[utoipa::path(get, path = "/v1/kpis/summary", tag = "kpis",
    security(("api_key" = [])),
    params(PeriodParams, FilterParams, GroupParams),
    responses(
        (status = 200, description = "KPIs", body = SummaryResponse),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_summary(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    conditional: Conditional,
    Query(period): Query<PeriodParams>,
    Query(filters): Query<FilterParams>,
    Query(grouping): Query<GroupParams>,
) -> Result<Response, Stop> {
    let mut errors = Vec::new();
    let period = period.parse(&mut errors);
    let groups = grouping.parse(&mut errors);
    let period = validated("invalid KPI query", errors, period)?;
    let (freshness, reply) = conditional.check(&state.db).await?;
    let kpis = grouped_kpis(&state, &period.filter(&filters), &groups, &groups, true).await?;
    Ok(reply.json(SummaryResponse {
        from: period.from,
        to: period.to,
        group_by: groups.iter().map(|g| (*g).to_owned()).collect(),
        freshness,
        groups: kpis
            .into_iter()
            .map(|(key, kpis)| KpiGroup {
                group: named(&groups, &key),
                kpis,
            })
            .collect(),
    }))
}

/// A row of the agent or team table.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableRow {
    /// The agent or team; null for cases without one.
    pub name: Option<String>,
    pub kpis: Kpis,
}

/// A table of KPIs per agent or team.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableResponse {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub freshness: Freshness,
    pub rows: Vec<TableRow>,
}

async fn table(
    state: AppState,
    conditional: Conditional,
    period: PeriodParams,
    filters: FilterParams,
    created_column: &'static str,
    resolved_column: &'static str,
) -> Result<Response, Stop> {
    let mut errors = Vec::new();
    let period = period.parse(&mut errors);
    let period = validated("invalid KPI query", errors, period)?;
    let (freshness, reply) = conditional.check(&state.db).await?;
    let groups = grouped_kpis(
        &state,
        &period.filter(&filters),
        &[created_column],
        &[resolved_column],
        false,
    )
    .await?;
    Ok(reply.json(TableResponse {
        from: period.from,
        to: period.to,
        freshness,
        rows: groups
            .into_iter()
            .map(|(mut key, kpis)| TableRow {
                name: key.pop().flatten(),
                kpis,
            })
            .collect(),
    }))
}

/// KPIs per agent: created-cohort KPIs by the case's current owner, resolved-cohort ones (CSAT
/// included) credited to the agent who resolved the case.
#[utoipa::path(get, path = "/v1/kpis/agents", tag = "kpis",
    security(("api_key" = [])),
    params(PeriodParams, FilterParams),
    responses(
        (status = 200, description = "One row per agent", body = TableResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_agents(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    conditional: Conditional,
    Query(period): Query<PeriodParams>,
    Query(filters): Query<FilterParams>,
) -> Result<Response, Stop> {
    table(
        state,
        conditional,
        period,
        filters,
        "agent",
        "resolving_agent",
    )
    .await
}

/// KPIs per owner team.
#[utoipa::path(get, path = "/v1/kpis/teams", tag = "kpis",
    security(("api_key" = [])),
    params(PeriodParams, FilterParams),
    responses(
        (status = 200, description = "One row per team", body = TableResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_teams(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    conditional: Conditional,
    Query(period): Query<PeriodParams>,
    Query(filters): Query<FilterParams>,
) -> Result<Response, Stop> {
    table(
        state,
        conditional,
        period,
        filters,
        "owner_team",
        "owner_team",
    )
    .await
}

/// One bucket of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// The bucket's start (a local midnight, hour, Monday or first of month in `tz`).
    pub start: DateTime<Utc>,
    pub kpis: Kpis,
}

/// One group's series.
#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    #[schema(value_type = Object)]
    pub group: BTreeMap<String, Option<String>>,
    pub points: Vec<SeriesPoint>,
}

/// KPIs per time bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeseriesResponse {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: String,
    pub tz: String,
    pub group_by: Vec<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
    pub series: Vec<Series>,
}

/// KPIs per hour, day, ISO week or month, cut in an IANA zone (DST-correct: a local day is
/// 23 or 25 hours when the clocks change). Each bucket counts created-cohort KPIs by creation
/// time and resolved-cohort ones by resolution time. Empty buckets are listed (null rates).
#[utoipa::path(get, path = "/v1/kpis/timeseries", tag = "kpis",
    security(("api_key" = [])),
    params(PeriodParams, BucketParams, FilterParams, GroupParams),
    responses(
        (status = 200, description = "Series", body = TimeseriesResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter, bucket or zone", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_timeseries(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    conditional: Conditional,
    Query(period): Query<PeriodParams>,
    Query(bucket): Query<BucketParams>,
    Query(filters): Query<FilterParams>,
    Query(grouping): Query<GroupParams>,
) -> Result<Response, Stop> {
    let mut errors = Vec::new();
    let period = period.parse(&mut errors);
    let groups = grouping.parse(&mut errors);
    let bucket = bucket.parse(period, &mut errors);
    let (period, bucket) = validated("invalid time series query", errors, period.zip(bucket))?;
    let (freshness, reply) = conditional.check(&state.db).await?;
    let filter = period.filter(&filters);
    let (starts, created, resolved) = tokio::try_join!(
        store::bucket_starts(&state.db, &bucket, period.from, period.to),
        store::created_aggregates(&state.db, &filter, &groups, Some(&bucket)),
        store::resolved_aggregates(&state.db, &filter, &groups, Some(&bucket)),
    )?;
    let created_at: BTreeMap<(&GroupKey, DateTime<Utc>), &CreatedAggregates> = created
        .iter()
        .filter_map(|row| Some(((&row.group_key, row.bucket?), row)))
        .collect();
    let resolved_at: BTreeMap<(&GroupKey, DateTime<Utc>), &ResolvedAggregates> = resolved
        .iter()
        .filter_map(|row| Some(((&row.group_key, row.bucket?), row)))
        .collect();
    let mut keys: BTreeSet<GroupKey> = created_at
        .keys()
        .chain(resolved_at.keys())
        .map(|(g, _)| (*g).clone())
        .collect();
    if groups.is_empty() {
        keys.insert(Vec::new());
    }
    let (no_created, no_resolved) = Default::default();
    let series = keys
        .into_iter()
        .map(|group| {
            let points = starts
                .iter()
                .map(|start| {
                    let key = (&group, *start);
                    SeriesPoint {
                        start: *start,
                        kpis: Kpis::from_rows(
                            created_at.get(&key).copied().unwrap_or(&no_created),
                            resolved_at.get(&key).copied().unwrap_or(&no_resolved),
                            None,
                        ),
                    }
                })
                .collect();
            Series {
                group: named(&groups, &group),
                points,
            }
        })
        .collect();
    Ok(reply.json(TimeseriesResponse {
        from: period.from,
        to: period.to,
        bucket: bucket.unit.as_str().into(),
        tz: bucket.zone,
        group_by: groups.iter().map(|g| (*g).to_owned()).collect(),
        freshness,
        series,
    }))
}

/// One ageing bucket of the backlog.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgeingBucket {
    /// e.g. `0-1d`, `30d+`.
    pub age: String,
    pub cases: i64,
}

/// The backlog of one group.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacklogGroup {
    #[schema(value_type = Object)]
    pub group: BTreeMap<String, Option<String>>,
    /// Cases open at the instant (cohort `snapshot`).
    pub backlog: i64,
    pub ageing: Vec<AgeingBucket>,
    /// Time to due: open cases by the time from the instant to their earliest running SLA
    /// due instant (resolution, and first response until one happens).
    pub time_to_due: Vec<DueBucket>,
}

/// One time-to-due bucket of the backlog.
#[derive(Debug, Serialize, ToSchema)]
pub struct DueBucket {
    /// `overdue`, `0-1h`, `1-4h`, `4-24h`, `24h+`, or `no_due` (no target, or paused short
    /// of it).
    pub due: String,
    pub cases: i64,
}

/// The backlog at an instant.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacklogResponse {
    pub at: DateTime<Utc>,
    pub group_by: Vec<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
    pub groups: Vec<BacklogGroup>,
}

/// Cases open at `at` (default now): created by then and not resolved or closed by then, with
/// ageing buckets 0-1 d, 1-3 d, 3-7 d, 7-14 d, 14-30 d, > 30 d, and time to due (overdue,
/// 0-1 h, 1-4 h, 4-24 h, 24 h+, no due) from the cases' SLA clocks as last computed. The
/// period filters do not apply.
#[utoipa::path(get, path = "/v1/kpis/backlog", tag = "kpis",
    security(("api_key" = [])),
    params(InstantParams, FilterParams, GroupParams),
    responses(
        (status = 200, description = "The backlog", body = BacklogResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_backlog(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    conditional: Conditional,
    Query(instant): Query<InstantParams>,
    Query(filters): Query<FilterParams>,
    Query(grouping): Query<GroupParams>,
) -> Result<Response, Stop> {
    let mut errors = Vec::new();
    let groups = grouping.parse(&mut errors);
    validated("invalid KPI query", errors, Some(()))?;
    // Without `at`, the answer moves with the clock: no ETag, no 304.
    let (freshness, reply) = match instant.at {
        Some(_) => conditional.check(&state.db).await?,
        None => conditional.uncached(&state.db).await?,
    };
    let at = instant.at.unwrap_or_else(Utc::now);
    let rows = store::backlog(&state.db, at, &filters.without_period(), &groups).await?;
    let mut groups_out: Vec<BacklogGroup> = rows
        .into_iter()
        .map(|row| BacklogGroup {
            group: named(&groups, &row.group_key),
            backlog: row.backlog,
            ageing: store::AGEING_DAYS
                .iter()
                .zip(row.ageing)
                .map(|((low, high), cases)| AgeingBucket {
                    age: match high {
                        Some(high) => format!("{low}-{high}d"),
                        None => format!("{low}d+"),
                    },
                    cases,
                })
                .collect(),
            time_to_due: std::iter::once(DueBucket {
                due: "overdue".into(),
                cases: row.overdue,
            })
            .chain(
                store::DUE_HOURS
                    .iter()
                    .zip(row.due_in)
                    .map(|((low, high), cases)| DueBucket {
                        due: match high {
                            Some(high) => format!("{low}-{high}h"),
                            None => format!("{low}h+"),
                        },
                        cases,
                    }),
            )
            .chain(std::iter::once(DueBucket {
                due: "no_due".into(),
                cases: row.no_due,
            }))
            .collect(),
        })
        .collect();
    groups_out.retain(|g| groups.is_empty() || g.backlog > 0);
    Ok(reply.json(BacklogResponse {
        at,
        group_by: groups.iter().map(|g| (*g).to_owned()).collect(),
        freshness,
        groups: groups_out,
    }))
}
