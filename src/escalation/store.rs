//! All SQL of escalation rules and the escalations judged by them.

use chrono::{DateTime, NaiveTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// A rule as stored (names as written).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    pub request_type: String,
    pub owner_team: String,
    pub time_zone: Option<String>,
    pub hours_start: Option<NaiveTime>,
    pub hours_end: Option<NaiveTime>,
}

/// Replaces every rule with `rules`, in order.
pub async fn replace_rules(conn: &mut PgConnection, rules: &[RuleRow]) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM escalation_rules")
        .execute(&mut *conn)
        .await?;
    let types: Vec<&str> = rules.iter().map(|r| r.request_type.as_str()).collect();
    let teams: Vec<&str> = rules.iter().map(|r| r.owner_team.as_str()).collect();
    let zones: Vec<Option<&str>> = rules.iter().map(|r| r.time_zone.as_deref()).collect();
    let starts: Vec<Option<NaiveTime>> = rules.iter().map(|r| r.hours_start).collect();
    let ends: Vec<Option<NaiveTime>> = rules.iter().map(|r| r.hours_end).collect();
    sqlx::query!(
        "INSERT INTO escalation_rules (position, request_type, owner_team, time_zone, hours_start, hours_end)
         SELECT i::int, t, o, z, s, e
         FROM unnest($1::text[], $2::text[], $3::text[], $4::time[], $5::time[])
              WITH ORDINALITY AS r(t, o, z, s, e, i)",
        &types as &[&str],
        &teams as &[&str],
        &zones as &[Option<&str>],
        &starts as &[Option<NaiveTime>],
        &ends as &[Option<NaiveTime>],
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn list_rules(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<RuleRow>> {
    sqlx::query_as!(
        RuleRow,
        "SELECT request_type, owner_team, time_zone, hours_start, hours_end
         FROM escalation_rules ORDER BY position"
    )
    .fetch_all(db)
    .await
}

/// An escalated case: its request type, the team and agent of its first escalation event
/// (else the case's own), and when it was escalated (else its creation).
#[derive(Debug, Clone)]
pub struct EscalationRow {
    pub case_id: String,
    pub request_type: Option<String>,
    pub owner_team: Option<String>,
    pub agent: Option<String>,
    pub escalated_at: DateTime<Utc>,
}

/// Escalated cases created in `[from, to)`.
pub async fn escalations(
    db: impl PgExecutor<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<EscalationRow>> {
    sqlx::query_as!(
        EscalationRow,
        r#"SELECT c.case_id, c.request_type,
                  coalesce(e.owner_team, c.owner_team) AS owner_team,
                  coalesce(e.agent, c.agent) AS agent,
                  coalesce(e.event_time, c.created_at) AS "escalated_at!"
           FROM cases c
           LEFT JOIN LATERAL (
               SELECT ev.owner_team, ev.agent, ev.event_time FROM events ev
               WHERE ev.case_id = c.case_id AND ev.activity_code = 'case_escalated'
               ORDER BY ev.event_time, ev.seq LIMIT 1) e ON true
           WHERE c.escalated AND c.created_at >= $1 AND c.created_at < $2
           ORDER BY c.case_id"#,
        from,
        to
    )
    .fetch_all(db)
    .await
}
