//! Demo cases: a deterministic synthetic event log written in the Dynamics 365 template's own
//! 21 columns (`ServiceRequest`, `ActivityName`, ... `ServiceRequestCycleTime`), as a file
//! extracted with that template would be.
//!
//! The events are [`synthetic`]'s. On top of them:
//! - About 40 % of the cases are written in Portuguese, as the template's own examples are
//!   (activity names, `verdadeiro`/`falso` or `sim`/`não`, the agent `Sistema`, priorities
//!   `Alto`/`Normal`/`Baixo`, status reasons such as `Em Espera`, channel `Telefone`, times
//!   without an offset); the rest in English (`true`/`false` or `Yes`/`No`, RFC 3339 times).
//! - `LastDataUpdate` is the end of the span (the extraction time) on every row.
//! - The derived columns are filled on every row of a case by the template's definitions
//!   (`ServiceRequestCycleTime` = last resolution − first event, `IsSlaBreached` = cycle time >
//!   target, `IsFirstContactResolution` = Switchboard's `fcr_single_interaction`, `IsRework`
//!   = Switchboard's `is_rework`), with deliberate inconsistencies a reconciliation finds:
//!   5 % of the resolved cases that had events after their resolution report a cycle time
//!   counted to the last event, 3 % of the FCR and rework flags are flipped, and 2 % of the
//!   SLA flags (the others follow the reported cycle time).

use std::{io, sync::Arc};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::{
    activity::{Activity, ActivityResolver},
    input::NewEvent,
    metrics::{self, CaseEvent, CaseMetrics, Fcr, MetricsConfig},
    synthetic::{self, SyntheticConfig},
};
use crate::random::mix64;

/// The template's columns, in its order.
pub const HEADER: [&str; 21] = [
    "ServiceRequest",
    "ActivityName",
    "EventTime",
    "SourceSystem",
    "LastDataUpdate",
    "Channel",
    "SlaTargetResolutionTime",
    "StatusReason",
    "AgentName",
    "CustomerName",
    "Priority",
    "ServiceRequestType",
    "IsFirstContactResolution",
    "IsRework",
    "OwnerTeam",
    "IsEscalated",
    "KnowledgeArticleId",
    "CustomerSatisfactionScore",
    "ProductInvolved",
    "IsSlaBreached",
    "ServiceRequestCycleTime",
];

/// The demo log's settings: [`SyntheticConfig`]'s defaults (cases created from 2026-01-05
/// over 90 days) with `cases` cases, one customer per ~1.7 cases, and case ids `SR-0000001`...
pub fn config(cases: usize, seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        cases,
        seed,
        customers: (cases * 3 / 5).max(1),
        agents: (cases / 100).clamp(5, 50),
        case_prefix: "SR".to_owned(),
        ..SyntheticConfig::default()
    }
}

/// What [`write_csv`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub cases: u64,
    pub rows: u64,
    /// Cases written in Portuguese.
    pub portuguese_cases: u64,
    /// Cases with at least one derived column made inconsistent on purpose.
    pub inconsistent_cases: u64,
}

/// Writes the demo log of `config` as CSV with the template's header. The same config always
/// writes the same bytes.
///
/// # Errors
///
/// Any error `writer` returns.
pub fn write_csv(config: &SyntheticConfig, writer: impl io::Write) -> io::Result<DemoSummary> {
    let mut csv = csv::Writer::from_writer(writer);
    csv.write_record(HEADER)?;
    let extracted = config.end();
    // Everything matured: the derived columns are final, as in an extract of closed history.
    let as_of = extracted + TimeDelta::days(60);
    let resolver = ActivityResolver::default();
    let metrics_config = MetricsConfig::default();
    let mut summary = DemoSummary::default();
    let mut case: Vec<NewEvent> = Vec::new();
    let mut index = 0_u64;
    let flush = |case: &mut Vec<NewEvent>,
                 index: &mut u64,
                 csv: &mut csv::Writer<_>,
                 summary: &mut DemoSummary|
     -> io::Result<()> {
        if case.is_empty() {
            return Ok(());
        }
        let events: Vec<CaseEvent> = case
            .iter()
            .zip(0_i64..)
            .map(|(e, seq)| case_event(e, seq, &resolver))
            .collect();
        let m = metrics::compute(&events, &[], &metrics_config, as_of);
        let draw = mix64(mix64(config.seed ^ 0xDE30_0000_0000_0022) ^ mix64(*index));
        let style = Style::of(draw);
        let derived = Derived::of(&m, draw);
        summary.cases += 1;
        summary.portuguese_cases += u64::from(style.portuguese);
        summary.inconsistent_cases += u64::from(derived.inconsistent);
        for event in case.iter() {
            csv.write_record(row(event, &style, &derived, extracted))?;
            summary.rows += 1;
        }
        case.clear();
        *index += 1;
        Ok(())
    };
    for event in synthetic::events(config) {
        if case
            .first()
            .is_some_and(|first| first.case_id != event.case_id)
        {
            flush(&mut case, &mut index, &mut csv, &mut summary)?;
        }
        case.push(event);
    }
    flush(&mut case, &mut index, &mut csv, &mut summary)?;
    csv.flush()?;
    Ok(summary)
}

fn case_event(e: &NewEvent, seq: i64, resolver: &ActivityResolver) -> CaseEvent {
    CaseEvent {
        seq,
        event_time: e.event_time,
        role: resolver.resolve(&e.activity),
        agent: e.agent.as_deref().map(Arc::from),
        customer: e.customer.as_deref().map(Arc::from),
        channel: e.channel.as_deref().map(Arc::from),
        priority: e.priority.as_deref().map(Arc::from),
        request_type: e.request_type.as_deref().map(Arc::from),
        product: e.product.as_deref().map(Arc::from),
        owner_team: e.owner_team.as_deref().map(Arc::from),
        source_system: e.source_system.as_deref().map(Arc::from),
        status_reason: e.status_reason.as_deref().map(Arc::from),
        sla_target_resolution_s: e.sla_target_resolution_s,
        is_escalated: e.is_escalated,
        knowledge_article_id: e.knowledge_article_id.clone(),
        csat: e.csat,
        reported: Default::default(),
        extra: Default::default(),
    }
}

/// How a case is written: its language and its spelling of booleans.
struct Style {
    portuguese: bool,
    /// `Yes`/`No` (English) or `sim`/`não` (Portuguese) instead of true/false.
    words: bool,
}

impl Style {
    fn of(draw: u64) -> Style {
        Style {
            portuguese: draw % 100 < 40,
            words: (draw >> 8).is_multiple_of(4),
        }
    }

    fn boolean(&self, value: bool) -> &'static str {
        match (self.portuguese, self.words, value) {
            (false, false, true) => "true",
            (false, false, false) => "false",
            (false, true, true) => "Yes",
            (false, true, false) => "No",
            (true, false, true) => "verdadeiro",
            (true, false, false) => "falso",
            (true, true, true) => "Sim",
            (true, true, false) => "Não",
        }
    }

    fn activity(&self, name: &str) -> String {
        let known = Activity::ALL.into_iter().find(|a| a.english() == name);
        match known {
            Some(activity) if self.portuguese => activity.portuguese().to_owned(),
            _ => name.to_owned(),
        }
    }

    fn translate<'a>(&self, value: &'a str, table: &[(&str, &'static str)]) -> &'a str {
        if !self.portuguese {
            return value;
        }
        table
            .iter()
            .find(|(english, _)| *english == value)
            .map_or(value, |(_, portuguese)| portuguese)
    }
}

const AGENTS: [(&str, &str); 1] = [("System", "Sistema")];
const PRIORITIES: [(&str, &str); 3] = [("High", "Alto"), ("Normal", "Normal"), ("Low", "Baixo")];
const CHANNELS: [(&str, &str); 1] = [("Phone", "Telefone")];
const STATUS_REASONS: [(&str, &str); 7] = [
    ("New", "Novo"),
    ("In Progress", "Em Progresso"),
    ("Researching", "Em Pesquisa"),
    ("Waiting for Details", "Em Espera"),
    ("Problem Solved", "Problema Resolvido"),
    ("Information Provided", "Informação Fornecida"),
    ("Cancelled", "Cancelado"),
];

/// The derived columns of a case as the demo "source" reports them.
struct Derived {
    first_contact_resolution: Option<bool>,
    rework: bool,
    sla_breached: Option<bool>,
    cycle_time_s: Option<f64>,
    inconsistent: bool,
}

impl Derived {
    fn of(m: &CaseMetrics, draw: u64) -> Derived {
        let roll = |salt: u64| mix64(draw ^ salt) % 100;
        let first = m.first_event_at;
        // The template's definition: last resolution − first event.
        let cycle = m
            .resolved_at
            .zip(first)
            .map(|(rn, first)| seconds(rn - first));
        let to_last_event = match (m.resolved_at, m.last_event_at, first) {
            (Some(rn), Some(last), Some(first)) if last > rn && roll(1) < 5 => {
                Some(seconds(last - first))
            }
            _ => None,
        };
        let cycle_time_s = to_last_event.or(cycle);
        let mut inconsistent = to_last_event.is_some();
        let mut flip = |value: bool, salt: u64, percent: u64| {
            if roll(salt) < percent {
                inconsistent = true;
                !value
            } else {
                value
            }
        };
        let first_contact_resolution = match m.fcr_single_interaction {
            Some(Fcr::True) => Some(flip(true, 2, 3)),
            Some(Fcr::False) => Some(flip(false, 2, 3)),
            Some(Fcr::Pending) | None => None,
        };
        let rework = flip(m.is_rework, 3, 3);
        let sla_breached = m
            .sla_target_s
            .zip(cycle_time_s)
            .map(|(target, cycle)| flip(cycle > target, 4, 2));
        Derived {
            first_contact_resolution,
            rework,
            sla_breached,
            cycle_time_s,
            inconsistent,
        }
    }
}

fn seconds(d: TimeDelta) -> f64 {
    d.num_seconds() as f64
}

fn time_text(time: DateTime<Utc>, style: &Style) -> String {
    if style.portuguese {
        // As the template's examples: local wall time without an offset (read in
        // EVENT_TIMEZONE, UTC by default).
        time.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        time.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

fn row(
    event: &NewEvent,
    style: &Style,
    derived: &Derived,
    extracted: DateTime<Utc>,
) -> Vec<String> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let translated = |value: &Option<String>, table: &[(&str, &'static str)]| {
        value
            .as_deref()
            .map(|v| style.translate(v, table).to_owned())
            .unwrap_or_default()
    };
    let boolean = |value: Option<bool>| value.map(|v| style.boolean(v).to_owned());
    vec![
        event.case_id.clone(),
        style.activity(&event.activity),
        time_text(event.event_time, style),
        text(&event.source_system),
        time_text(extracted, style),
        translated(&event.channel, &CHANNELS),
        event
            .sla_target_resolution_s
            .map(|t| format!("{t}"))
            .unwrap_or_default(),
        translated(&event.status_reason, &STATUS_REASONS),
        translated(&event.agent, &AGENTS),
        text(&event.customer),
        translated(&event.priority, &PRIORITIES),
        text(&event.request_type),
        boolean(derived.first_contact_resolution).unwrap_or_default(),
        boolean(Some(derived.rework)).unwrap_or_default(),
        text(&event.owner_team),
        boolean(event.is_escalated).unwrap_or_default(),
        text(&event.knowledge_article_id),
        event.csat.map(|s| s.to_string()).unwrap_or_default(),
        text(&event.product),
        boolean(derived.sla_breached).unwrap_or_default(),
        derived
            .cycle_time_s
            .map(|c| format!("{c}"))
            .unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_log_is_deterministic_mixed_and_in_the_template_columns() {
        let write = || {
            let mut out = Vec::new();
            let summary = write_csv(&config(200, 7), &mut out).unwrap();
            (out, summary)
        };
        let (first, summary) = write();
        assert_eq!(first, write().0);
        assert_eq!(summary.cases, 200);
        assert!(summary.portuguese_cases > 40 && summary.portuguese_cases < 120);
        assert!(summary.inconsistent_cases > 0);
        let text = String::from_utf8(first).unwrap();
        assert!(text.starts_with("ServiceRequest,ActivityName,EventTime,"));
        assert!(text.contains("Caso Criado") && text.contains("Case Created"));
        assert!(text.contains("Sistema") && text.contains("verdadeiro"));
    }
}
