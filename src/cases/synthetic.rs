//! Deterministic synthetic event log of a Dynamics 365 Customer Service contact center, for
//! the demo cases, tests and benchmarks.
//!
//! [`events`] streams [`NewEvent`]s case by case (only one case is held in memory, so millions
//! of events cost no memory); the demo log (`demo`) is built on it. `write_csv` (feature
//! `test-kits`: tests and benchmarks) writes the same events as a CSV file in the template's
//! columns. The same [`SyntheticConfig`] always gives the same events, bit for bit on every
//! platform: every random stream is xoshiro256++ seeded from a hash of the seed and an
//! index, and every transcendental function is `libm`'s.
//!
//! # The log
//!
//! Cases are numbered in creation order (`CAS-0000001`, ...). Creation times are spread over
//! `span_days` from `start` with the contact center's rhythm: business hours (UTC) weigh most,
//! nights little, Saturdays less and Sundays least, with day-to-day noise and a slight growth.
//! Agents work Monday to Friday 08:00-20:00 and Saturday 09:00-17:00 (UTC): agent actions that
//! would fall outside those hours wait for the next opening, so overnight queues are long.
//!
//! The main flow, with every event carrying the case's attributes (customer, channel,
//! priority, SLA target, request type, product, owning team, `is_escalated`):
//!
//! `Case Created` (System) → `SLA Timer Started` (System, usually the same instant) →
//! `Case Assigned` (to a team queue: no agent) → `Queue Item Picked by Agent` →
//! `Agent Investigated Issue` (often with a knowledge article) → `Solution Proposed to
//! Customer` → `Case Resolved` → `Satisfaction Survey Sent` (System; some with a CSAT score) →
//! `Case Closed` (a day or a few later, by System or the agent).
//!
//! That exact sequence is the most common variant (38 % of the cases); the others
//! come from these variations (shares of all cases, measured on 100,000 cases with 60,000
//! customers):
//!
//! | variation | share |
//! |---|---|
//! | information requested from the customer (holds of hours to days) / twice | 22 % / 5 % |
//! | misrouted: re-queued to another team (`Case Assigned`) and picked by another agent | 5 % |
//! | recategorized (`Case Categorization Changed`; some then moved to the right team) | 6 % |
//! | escalated (`Case Escalated`, `is_escalated`, re-queued, picked by another agent) | 8 % |
//! | a second investigation, or a proposed solution the customer rejects | 11 % |
//! | no investigation (simple requests solved on the spot) | 11 % |
//! | reactivated after resolution, within 7 days / later (then resolved again) | 2.1 % / 1.2 % |
//! | cancelled: closed without resolution (withdrawn, or the customer never replies) | 3 % |
//! | survey sent / CSAT answered (skewed to 4-5, lower after a bad experience) | 81 % / 33 % |
//! | repeat: another case of the same customer, request type and product within days | 7 % |
//! | still open at the end of the span (recent cases: events past the end are cut) | 1.4 % |
//! | resolved but not yet closed at the end | 2.3 % |
//!
//! Fed to `metrics::compute` (as of the end), that gives about: SLA compliance 77 %,
//! `fcr_no_reactivation` 97 %, `fcr_no_repeat` 90 %, `fcr_single_interaction` 62 %, rework
//! 35 % (the literal definition: any repeated activity), 0.18 handoffs per case, median cycle
//! time 17 h, median first response 3 h, CSAT mean 4.0 (75 % satisfied).
//!
//! Priorities carry SLA targets (`High` 8 h, `Normal` 24 h, `Low` 72 h, as
//! `sla_target_resolution_s`); an escalation sometimes raises the priority. Equal timestamps
//! are common (creation and SLA start, queue assignment, on-the-spot resolutions, surveys).
//! Event ids are `{case_id}-{n}` (n from 1), so re-importing the same log dedupes.

use std::fmt::Write as _;

use crate::random::{Draw, mix64};
use chrono::{DateTime, TimeZone, Utc};

use super::activity::Activity;
#[cfg(feature = "test-kits")]
use super::import::csv::TEMPLATE_FIELDS;
use super::input::NewEvent;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Number of cases (≈ 10 events each). Default 10,000.
    pub cases: usize,
    /// Seed of every random stream. Default 42.
    pub seed: u64,
    /// Start of the span cases are created in (truncated to whole seconds). Default
    /// 2026-01-05T00:00:00Z, a Monday.
    pub start: DateTime<Utc>,
    /// Length of the span in days (from 1 to 36,600; other values are clamped). Events after
    /// `start + span_days` are not generated, so recent cases are still open at the end.
    /// Default 90.
    pub span_days: u32,
    /// Number of customers cases are drawn from: 2 % of them are business accounts opening
    /// 15 % of the cases, the other cases spread evenly (so most customers have one or two
    /// cases, a few have many, some none). Default 6,000.
    pub customers: usize,
    /// Number of agents, split over the six teams (0 counts as 1). Default 50.
    pub agents: usize,
    /// Prefix of the case ids (`{prefix}-0000001`). Event ids derive from case ids, so two
    /// different logs stored side by side need different prefixes. Default `CAS`.
    pub case_prefix: String,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            cases: 10_000,
            seed: 42,
            start: Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap(),
            span_days: 90,
            customers: 6_000,
            agents: 50,
            case_prefix: "CAS".to_owned(),
        }
    }
}

impl SyntheticConfig {
    /// The end of the span: no event is later than this.
    pub fn end(&self) -> DateTime<Utc> {
        let (_, end) = span(self);
        DateTime::from_timestamp(end, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The events of the log, case by case, each case's events in time order (ties in a
/// meaningful order). Holds one case in memory at a time.
pub fn events(config: &SyntheticConfig) -> impl Iterator<Item = NewEvent> + use<> {
    Events::new(config)
}

// Tests and benchmarks only: the product (the demo) streams `events`.
#[cfg(feature = "test-kits")]
/// Writes the log as CSV in the template's columns (the `import::csv` header), times in
/// RFC 3339 UTC with whole seconds, absent values as empty cells. Returns the number of events
/// (rows after the header). The csv writer buffers, so `writer` need not.
///
/// # Errors
///
/// Any error `writer` returns.
pub fn write_csv(config: &SyntheticConfig, writer: impl std::io::Write) -> std::io::Result<u64> {
    let mut csv = csv::Writer::from_writer(writer);
    csv.write_record(TEMPLATE_FIELDS)?;
    let mut log = Events::new(config);
    let (mut event_id, mut article, mut time) = (String::new(), String::new(), Vec::new());
    let mut count = 0_u64;
    // Cells are written from the generator's state, without building `NewEvent`s; the test
    // `csv_imports_back_to_the_same_events` keeps both paths equal.
    while log.advance() {
        for (n, step) in log.steps.iter().enumerate() {
            log.event_id(n, &mut event_id);
            article.clear();
            if let Some(id) = step.knowledge_article {
                let _ = write!(article, "KA-{id:05}");
            }
            time.clear();
            push_rfc3339(&mut time, step.time);
            let csat_digit;
            let csat: &[u8] = match step.csat {
                Some(score) => {
                    csat_digit = [b'0' + score as u8];
                    &csat_digit
                }
                None => b"",
            };
            let priority = step.priority as usize;
            csv.write_record([
                log.case_id.as_bytes(),
                step.activity.english().as_bytes(),
                &time,
                event_id.as_bytes(),
                LIFECYCLE.as_bytes(),
                SOURCE_SYSTEM.as_bytes(),
                CHANNELS[log.channel].as_bytes(),
                SLA_TARGET_TEXT[priority].as_bytes(),
                step.status.name().as_bytes(),
                log.agent(step).unwrap_or("").as_bytes(),
                log.customer.as_bytes(),
                PRIORITIES[priority].as_bytes(),
                REQUEST_TYPES[step.request_type as usize].name.as_bytes(),
                TEAMS[step.team as usize].as_bytes(),
                if step.escalated { b"true" } else { b"false" },
                article.as_bytes(),
                csat,
                PRODUCTS[step.product as usize].as_bytes(),
            ])?;
        }
        count += log.steps.len() as u64;
    }
    csv.flush()?;
    Ok(count)
}

#[cfg(feature = "test-kits")]
/// Appends `secs` (Unix time) as RFC 3339 UTC with whole seconds (`2026-01-05T09:30:00Z`).
fn push_rfc3339(buf: &mut Vec<u8>, secs: i64) {
    // Days to civil date (H. Hinnant's algorithm), for years 0 to 9999.
    let (days, second) = (secs.div_euclid(DAY), secs.rem_euclid(DAY));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        let time = DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
        buf.extend_from_slice(
            time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .as_bytes(),
        );
        return;
    }
    let mut text = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, value: i64| {
        text[at] = b'0' + (value / 10) as u8;
        text[at + 1] = b'0' + (value % 10) as u8;
    };
    put(0, year / 100);
    put(2, year % 100);
    put(5, month);
    put(8, day);
    put(11, second / 3600);
    put(14, second / 60 % 60);
    put(17, second % 60);
    buf.extend_from_slice(&text);
}

// ---------------------------------------------------------------------------------------------
// Vocabulary.

const SOURCE_SYSTEM: &str = "Dynamics 365 Customer Service";
const LIFECYCLE: &str = "complete";
const SYSTEM_AGENT: &str = "System";

const CHANNELS: [&str; 4] = ["Phone", "Email", "Chat", "Web"];
const PHONE: usize = 0;
const CHAT: usize = 2;
/// Channel mix of cases created while the contact center is open / closed.
const CHANNEL_OPEN: [f64; 4] = [0.36, 0.28, 0.20, 0.16];
const CHANNEL_CLOSED: [f64; 4] = [0.03, 0.50, 0.07, 0.40];

const PRIORITIES: [&str; 3] = ["High", "Normal", "Low"];
const HIGH: u8 = 0;
/// SLA resolution target per priority: 8 h, 24 h, 72 h.
const SLA_TARGET_S: [f64; 3] = [8.0 * 3600.0, 24.0 * 3600.0, 72.0 * 3600.0];
#[cfg(feature = "test-kits")]
const SLA_TARGET_TEXT: [&str; 3] = ["28800", "86400", "259200"];
/// Queue waits scale with priority.
const PRIORITY_WAIT: [f64; 3] = [0.4, 1.0, 1.8];

const PRODUCTS: [&str; 5] = [
    "Fiber Internet",
    "Mobile Plan",
    "TV Package",
    "Landline",
    "Smart Home",
];
const PRODUCT_WEIGHTS: [f64; 5] = [0.35, 0.30, 0.15, 0.10, 0.10];

const TEAMS: [&str; 6] = [
    "Tier 1 Support",
    "Billing",
    "Technical Support",
    "Customer Care",
    "Tier 2 Support",
    "Escalations",
];
/// Share of the agents in each team.
const TEAM_SHARE: [f64; 6] = [0.24, 0.20, 0.24, 0.16, 0.10, 0.06];
const TIER_1: u8 = 0;
const ESCALATIONS: u8 = 5;

struct RequestType {
    name: &'static str,
    weight: f64,
    /// The team that owns this kind of case.
    team: u8,
    /// The team escalations go to.
    escalation_team: u8,
    /// Multiplies working times.
    complexity: f64,
    info_requested: f64,
    escalated: f64,
    /// High, Normal, Low.
    priorities: [f64; 3],
}

static REQUEST_TYPES: [RequestType; 5] = [
    RequestType {
        name: "Billing",
        weight: 0.28,
        team: 1,
        escalation_team: 5,
        complexity: 0.8,
        info_requested: 0.18,
        escalated: 0.06,
        priorities: [0.10, 0.60, 0.30],
    },
    RequestType {
        name: "Technical Issue",
        weight: 0.30,
        team: 2,
        escalation_team: 4,
        complexity: 1.6,
        info_requested: 0.32,
        escalated: 0.12,
        priorities: [0.22, 0.58, 0.20],
    },
    RequestType {
        name: "Service Request",
        weight: 0.18,
        team: 3,
        escalation_team: 4,
        complexity: 1.0,
        info_requested: 0.25,
        escalated: 0.05,
        priorities: [0.08, 0.57, 0.35],
    },
    RequestType {
        name: "Complaint",
        weight: 0.10,
        team: 3,
        escalation_team: 5,
        complexity: 1.4,
        info_requested: 0.22,
        escalated: 0.20,
        priorities: [0.30, 0.60, 0.10],
    },
    RequestType {
        name: "Information",
        weight: 0.14,
        team: 0,
        escalation_team: 3,
        complexity: 0.5,
        info_requested: 0.08,
        escalated: 0.02,
        priorities: [0.05, 0.45, 0.50],
    },
];
const TECHNICAL: u8 = 1;
const COMPLAINT: u8 = 3;
const INFORMATION: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Status {
    New,
    InProgress,
    Researching,
    WaitingForDetails,
    ProblemSolved,
    InformationProvided,
    Cancelled,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::New => "New",
            Status::InProgress => "In Progress",
            Status::Researching => "Researching",
            Status::WaitingForDetails => "Waiting for Details",
            Status::ProblemSolved => "Problem Solved",
            Status::InformationProvided => "Information Provided",
            Status::Cancelled => "Cancelled",
        }
    }
}

const FIRST_NAMES: [&str; 20] = [
    "Ana", "Rui", "Marta", "João", "Sofia", "Pedro", "Inês", "Tiago", "Carla", "Miguel", "Laura",
    "David", "Rita", "Nuno", "Sara", "Bruno", "Joana", "Paulo", "Helena", "Luís",
];
const LAST_NAMES: [&str; 20] = [
    "Silva",
    "Santos",
    "Ferreira",
    "Pereira",
    "Oliveira",
    "Costa",
    "Rodrigues",
    "Martins",
    "Jesus",
    "Sousa",
    "Fernandes",
    "Gonçalves",
    "Gomes",
    "Lopes",
    "Marques",
    "Alves",
    "Almeida",
    "Ribeiro",
    "Pinto",
    "Carvalho",
];

/// Relative case arrivals per hour of day (UTC): business hours heavy, a lunch dip, quiet
/// nights.
const HOUR_PROFILE: [f64; 24] = [
    0.15, 0.10, 0.08, 0.08, 0.10, 0.20, 0.40, 0.80, 1.60, 2.20, 2.40, 2.30, 1.80, 2.00, 2.30, 2.20,
    2.00, 1.70, 1.30, 1.00, 0.80, 0.60, 0.40, 0.25,
];
/// Relative case arrivals per weekday, Monday first.
const WEEKDAY_PROFILE: [f64; 7] = [1.10, 1.00, 0.95, 0.95, 0.85, 0.40, 0.25];

/// Opening hours of the contact center (UTC seconds of the day), Monday first.
const OPENING: [Option<(i64, i64)>; 7] = [
    Some((8 * 3600, 20 * 3600)),
    Some((8 * 3600, 20 * 3600)),
    Some((8 * 3600, 20 * 3600)),
    Some((8 * 3600, 20 * 3600)),
    Some((8 * 3600, 20 * 3600)),
    Some((9 * 3600, 17 * 3600)),
    None,
];

// Timings by channel (Phone, Email, Chat, Web): medians in seconds.
const QUEUE_MEDIAN_S: [f64; 4] = [90.0, 2.0 * 3600.0, 150.0, 2.5 * 3600.0];
const INVESTIGATE_MEDIAN_S: [f64; 4] = [180.0, 1200.0, 240.0, 1500.0];
const SOLUTION_MEDIAN_S: [f64; 4] = [420.0, 2.0 * 3600.0, 540.0, 2.5 * 3600.0];
/// Chance the resolution is recorded with the proposal (same instant).
const RESOLVED_AT_ONCE: [f64; 4] = [0.65, 0.15, 0.60, 0.15];
/// Customer confirming the solution.
const CONFIRM_MEDIAN_S: [f64; 4] = [1800.0, 3.0 * 3600.0, 1800.0, 4.0 * 3600.0];
const ESCALATION_QUEUE_MEDIAN_S: f64 = 2.0 * 3600.0;
const CUSTOMER_REPLY_MEDIAN_S: f64 = 18.0 * 3600.0;
const CLOSE_MEDIAN_S: f64 = 2.0 * 86_400.0;
const DAY: i64 = 86_400;
/// About a century: the arrival table holds one weight per hour of the span.
const MAX_SPAN_DAYS: u32 = 36_600;
/// No single drawn duration exceeds this (keeps the lognormal tail sane).
const MAX_DURATION_S: f64 = 45.0 * 86_400.0;

// Flow probabilities.
const P_REPEAT: f64 = 0.07;
/// Share of the cases opened by business accounts (2 % of the customers).
const BUSINESS_SHARE: f64 = 0.15;
const P_CANCEL_EARLY: f64 = 0.012;
const P_CANCEL_AFTER_PICKUP: f64 = 0.008;
const P_NO_REPLY: f64 = 0.05;
const P_SECOND_HOLD: f64 = 0.25;
const P_INVESTIGATE_AFTER_REPLY: f64 = 0.35;
const P_SECOND_LOOK: f64 = 0.05;
const P_SECOND_LOOK_TECHNICAL: f64 = 0.15;
const P_SOLUTION_REJECTED: f64 = 0.06;
const P_TRANSFER: f64 = 0.05;
const P_RECATEGORIZE: f64 = 0.06;
const P_REACTIVATE: f64 = 0.035;
const P_REACTIVATE_COMPLAINT: f64 = 0.08;
const P_SURVEY: f64 = 0.85;
const P_CSAT: f64 = 0.40;
const P_KNOWLEDGE_ARTICLE: f64 = 0.65;
/// CSAT 1..5 after a smooth case / after a bad experience (escalation, repeated holds,
/// breached SLA, misrouting).
const CSAT_GOOD: [f64; 5] = [0.03, 0.03, 0.08, 0.30, 0.56];
const CSAT_BAD: [f64; 5] = [0.12, 0.12, 0.22, 0.30, 0.24];

/// How many earlier cases a repeat may look back to, in days of volume.
const REPEAT_LOOKBACK_DAYS: f64 = 4.0;

// Salts of the independent random streams.
const SALT_FLOW: u64 = 0x0F10_57EA_4D00_0001;
const SALT_ATTRS: u64 = 0xA77E_5000_0000_0002;
const SALT_CUSTOMER: u64 = 0xC057_0E4E_0000_0003;
const SALT_DAY: u64 = 0x0DA7_0000_0000_0004;
const SALT_CUSTOMER_ORDER: u64 = 0x0DE5_0000_0000_0005;

// ---------------------------------------------------------------------------------------------
// Generation.

/// The span as Unix seconds [start, end].
fn span(config: &SyntheticConfig) -> (i64, i64) {
    let start = config.start.timestamp();
    let days = i64::from(config.span_days.clamp(1, MAX_SPAN_DAYS));
    let end = start
        .saturating_add(days * DAY)
        .min(DateTime::<Utc>::MAX_UTC.timestamp());
    (start, end)
}

/// Who did an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    System,
    /// A queue (assignment to a team, no agent).
    Queue,
    Agent(u32),
}

/// One event of the case being generated, with the case's state at that moment.
#[derive(Debug, Clone, Copy)]
struct Step {
    activity: Activity,
    time: i64,
    actor: Actor,
    status: Status,
    team: u8,
    priority: u8,
    request_type: u8,
    product: u8,
    escalated: bool,
    knowledge_article: Option<u32>,
    csat: Option<i16>,
}

/// Who the case is about: fixed per case, shared by a repeat with its earlier case.
#[derive(Debug, Clone, Copy)]
struct Subject {
    customer: u64,
    request_type: u8,
    product: u8,
}

/// Everything derived from the config once.
struct Context {
    cases: u64,
    seed: u64,
    start: i64,
    end: i64,
    customers: u64,
    /// Customer rank → id: `(rank * step + offset) mod customers`, a bijection.
    customer_step: u64,
    customer_offset: u64,
    agent_names: Vec<String>,
    /// First agent and number of agents of each team.
    pools: [(u32, u32); TEAMS.len()],
    /// Cumulative arrival weight at the end of each hour of the span.
    cumulative: Vec<f64>,
    /// How many cases back a repeat may refer to.
    repeat_window: f64,
    case_prefix: String,
}

impl Context {
    fn new(config: &SyntheticConfig) -> Self {
        let (start, end) = span(config);
        let hours = ((end - start) / 3600).max(1) as usize;
        let days = hours.div_ceil(24);
        let day_noise: Vec<f64> = (0..days)
            .map(|day| {
                Draw::new(stream_key(config.seed, SALT_DAY, day as u64)).lognormal(0.0, 0.15)
            })
            .collect();
        let mut total = 0.0;
        let cumulative = (0..hours)
            .map(|hour| {
                let at = start + hour as i64 * 3600;
                let (weekday, second) = weekday_and_second(at);
                let trend = 1.0 + 0.15 * hour as f64 / hours as f64;
                total += HOUR_PROFILE[(second / 3600) as usize]
                    * WEEKDAY_PROFILE[weekday]
                    * day_noise[hour / 24]
                    * trend;
                total
            })
            .collect();

        let agents = config.agents.max(1);
        let mut pools = [(0, 1); TEAMS.len()];
        let mut share = 0.0;
        for (pool, team_share) in pools.iter_mut().zip(TEAM_SHARE) {
            let first = ((share * agents as f64).round() as usize).min(agents - 1);
            share += team_share;
            let last = ((share * agents as f64).round() as usize).clamp(first + 1, agents);
            *pool = (first as u32, (last - first) as u32);
        }

        let customers = config.customers.max(1) as u64;
        let customer_step = [1_000_003_u64, 998_244_353, 2_147_483_647]
            .into_iter()
            .find(|p| !customers.is_multiple_of(*p))
            .unwrap_or(1);
        let cases = config.cases as u64;
        Self {
            cases,
            seed: config.seed,
            start,
            end,
            customers,
            customer_step,
            customer_offset: mix64(config.seed ^ SALT_CUSTOMER_ORDER) % customers,
            agent_names: (0..agents).map(agent_name).collect(),
            pools,
            cumulative,
            repeat_window: (cases as f64 * REPEAT_LOOKBACK_DAYS / days as f64).max(1.0),
            case_prefix: config.case_prefix.clone(),
        }
    }

    /// Creation time of case `index`: its stratum of the arrival distribution, jittered by
    /// `u` in [0, 1), so case numbers follow creation order.
    fn creation_time(&self, index: u64, u: f64) -> i64 {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let target = (index as f64 + u) / self.cases.max(1) as f64 * total;
        let hour = self
            .cumulative
            .partition_point(|&c| c <= target)
            .min(self.cumulative.len() - 1);
        let before = if hour == 0 {
            0.0
        } else {
            self.cumulative[hour - 1]
        };
        let weight = self.cumulative[hour] - before;
        let fraction = if weight > 0.0 {
            ((target - before) / weight).clamp(0.0, 1.0)
        } else {
            0.5
        };
        let time = self.start + hour as i64 * 3600 + (fraction * 3599.0) as i64;
        time.min(self.end)
    }

    /// The subject of case `index`. A repeat takes the subject of an earlier case a few days
    /// back (which may itself be a repeat).
    fn subject(&self, index: u64) -> Subject {
        let mut index = index;
        for _ in 0..8 {
            let mut d = Draw::new(stream_key(self.seed, SALT_ATTRS, index));
            let repeat = d.bernoulli(P_REPEAT);
            let back = 1 + (d.uniform() * self.repeat_window) as u64;
            if repeat && back <= index {
                index -= back;
                continue;
            }
            return self.fresh_subject(&mut d);
        }
        let mut d = Draw::new(stream_key(self.seed, SALT_ATTRS, index));
        d.uniform();
        d.uniform();
        self.fresh_subject(&mut d)
    }

    fn fresh_subject(&self, d: &mut Draw) -> Subject {
        // Business accounts (the first 2 % of the ranks) open 15 % of the cases; the other
        // cases spread evenly over all customers.
        let u = d.uniform();
        let accounts = (self.customers / 50).max(1);
        let rank = if u < BUSINESS_SHARE {
            (u / BUSINESS_SHARE * accounts as f64) as u64
        } else {
            ((u - BUSINESS_SHARE) / (1.0 - BUSINESS_SHARE) * self.customers as f64) as u64
        }
        .min(self.customers - 1);
        let customer = ((u128::from(rank) * u128::from(self.customer_step)
            + u128::from(self.customer_offset))
            % u128::from(self.customers)) as u64;
        let usual_product =
            Draw::new(stream_key(self.seed, SALT_CUSTOMER, customer)).choose(&PRODUCT_WEIGHTS);
        let product = if d.bernoulli(0.7) {
            usual_product
        } else {
            d.choose(&PRODUCT_WEIGHTS)
        };
        let weights: [f64; 5] = std::array::from_fn(|i| REQUEST_TYPES[i].weight);
        Subject {
            customer,
            request_type: d.choose(&weights) as u8,
            product: product as u8,
        }
    }
}

/// The agent's display name: unique for the first 400 agents, numbered after that.
fn agent_name(agent: usize) -> String {
    let first = agent % 20;
    let last = (agent / 20 + 3 * first) % 20;
    let mut name = format!("{} {}", FIRST_NAMES[first], LAST_NAMES[last]);
    if agent >= 400 {
        let _ = write!(name, " {}", agent / 400 + 1);
    }
    name
}

/// (weekday with Monday = 0, second of the day) of a Unix time, in UTC.
fn weekday_and_second(t: i64) -> (usize, i64) {
    let day = t.div_euclid(DAY);
    // 1970-01-01 was a Thursday.
    ((day + 3).rem_euclid(7) as usize, t.rem_euclid(DAY))
}

fn is_open(t: i64) -> bool {
    let (weekday, second) = weekday_and_second(t);
    OPENING[weekday].is_some_and(|(open, close)| (open..close).contains(&second))
}

/// The first instant at or after `t` when the contact center is open.
fn next_opening(t: i64) -> i64 {
    let mut day_start = t - t.rem_euclid(DAY);
    for _ in 0..8 {
        let (weekday, _) = weekday_and_second(day_start);
        if let Some((open, close)) = OPENING[weekday] {
            if t < day_start + open {
                return day_start + open;
            }
            if t < day_start + close {
                return t;
            }
        }
        day_start += DAY;
    }
    t
}

/// Generates one case's steps.
struct CaseBuilder<'a> {
    ctx: &'a Context,
    d: Draw,
    steps: &'a mut Vec<Step>,
    channel: usize,
    now: i64,
    /// An event fell after the end of the span: this and later events are dropped.
    cut: bool,
    team: u8,
    priority: u8,
    request_type: u8,
    product: u8,
    escalated: bool,
    /// Seconds on hold so far (closed holds).
    hold_s: i64,
    /// Since when the case waits on the customer (the last event was `info_requested`).
    on_hold_since: Option<i64>,
    /// No event before this (the customer's reply plus the agent's reaction).
    not_before: i64,
    /// Status reason of the last resolution (kept by the survey and the close).
    resolution: Status,
}

impl CaseBuilder<'_> {
    fn push(&mut self, activity: Activity, time: i64, actor: Actor, status: Status) {
        self.push_with(activity, time, actor, status, None, None);
    }

    fn push_with(
        &mut self,
        activity: Activity,
        time: i64,
        actor: Actor,
        status: Status,
        knowledge_article: Option<u32>,
        csat: Option<i16>,
    ) {
        let time = time.max(self.now).max(self.not_before);
        if time > self.ctx.end {
            self.cut = true;
        }
        if self.cut {
            return;
        }
        self.now = time;
        if let Some(since) = self.on_hold_since.take() {
            self.hold_s += time - since;
        }
        if activity == Activity::InfoRequested {
            self.on_hold_since = Some(time);
        }
        self.steps.push(Step {
            activity,
            time,
            actor,
            status,
            team: self.team,
            priority: self.priority,
            request_type: self.request_type,
            product: self.product,
            escalated: self.escalated,
            knowledge_article,
            csat,
        });
    }

    /// A lognormal duration in whole seconds with the given median.
    fn duration(&mut self, median_s: f64, sigma: f64) -> i64 {
        self.d
            .lognormal(libm::log(median_s), sigma)
            .min(MAX_DURATION_S) as i64
    }

    /// Now plus a working time of the given median, in opening hours.
    fn after_work(&mut self, median_s: f64, sigma: f64) -> i64 {
        let work = self.duration(median_s, sigma);
        self.working(self.now + work)
    }

    /// `t`, or shortly after the next opening when the contact center is closed at `t`.
    fn working(&mut self, t: i64) -> i64 {
        if is_open(t) {
            t
        } else {
            next_opening(t) + self.duration(12.0 * 60.0, 0.9)
        }
    }

    fn complexity(&self) -> f64 {
        REQUEST_TYPES[self.request_type as usize].complexity
    }

    fn random_agent(&mut self, team: u8) -> u32 {
        let (first, count) = self.ctx.pools[team as usize];
        first + ((self.d.uniform() * f64::from(count)) as u32).min(count - 1)
    }

    /// The case sits in the current team's queue until an agent picks it.
    fn pick(&mut self, median_wait_s: f64) -> u32 {
        let wait = self.duration(median_wait_s * PRIORITY_WAIT[self.priority as usize], 1.0);
        let at = self.working(self.now + wait);
        let agent = self.random_agent(self.team);
        self.push(
            Activity::QueueItemPicked,
            at,
            Actor::Agent(agent),
            Status::InProgress,
        );
        agent
    }

    /// Moves the case to `team`'s queue (no agent).
    fn assign_to_queue(&mut self, team: u8, at: i64) {
        self.team = team;
        self.push(Activity::CaseAssigned, at, Actor::Queue, Status::InProgress);
    }

    fn investigate(&mut self, agent: u32) {
        let median = INVESTIGATE_MEDIAN_S[self.channel] * self.complexity();
        let work = self.duration(median, 0.9);
        let at = self.working(self.now + work);
        let article = self
            .d
            .bernoulli(P_KNOWLEDGE_ARTICLE)
            .then(|| self.knowledge_article());
        self.push_with(
            Activity::AgentInvestigated,
            at,
            Actor::Agent(agent),
            Status::Researching,
            article,
            None,
        );
    }

    /// A knowledge article about the case's request type and product (a few popular ones).
    fn knowledge_article(&mut self) -> u32 {
        let popular = (libm::pow(self.d.uniform(), 2.0) * 40.0) as u32;
        u32::from(self.request_type) * 1000 + u32::from(self.product) * 100 + popular + 1
    }

    /// Proposes a solution and resolves; returns whether the SLA was breached at resolution.
    fn solve(&mut self, agent: u32, created: i64) -> bool {
        let median = SOLUTION_MEDIAN_S[self.channel] * self.complexity();
        let work = self.duration(median, 1.0);
        let at = self.working(self.now + work);
        self.push(
            Activity::SolutionProposed,
            at,
            Actor::Agent(agent),
            Status::InProgress,
        );
        if self.d.bernoulli(P_SOLUTION_REJECTED) {
            // The customer reports the proposal did not work: another round.
            let answer = self.duration(CONFIRM_MEDIAN_S[self.channel], 1.0);
            self.not_before = self.working(self.now + answer);
            self.investigate(agent);
            let at = self.after_work(median, 1.0);
            self.push(
                Activity::SolutionProposed,
                at,
                Actor::Agent(agent),
                Status::InProgress,
            );
        }
        let at = if self.d.bernoulli(RESOLVED_AT_ONCE[self.channel]) {
            self.now
        } else {
            let wait = self.duration(CONFIRM_MEDIAN_S[self.channel], 1.2);
            self.working(self.now + wait)
        };
        self.resolution = if self.request_type == INFORMATION {
            Status::InformationProvided
        } else {
            Status::ProblemSolved
        };
        self.push(
            Activity::CaseResolved,
            at,
            Actor::Agent(agent),
            self.resolution,
        );
        let elapsed = (self.now - created - self.hold_s) as f64;
        elapsed > SLA_TARGET_S[self.priority as usize]
    }

    /// Closes a resolved case `CLOSE_MEDIAN_S`-ish after `from`, by System or the agent.
    fn close_time(&mut self, from: i64) -> i64 {
        let median = if self.channel == PHONE || self.channel == CHAT {
            CLOSE_MEDIAN_S / 2.0
        } else {
            CLOSE_MEDIAN_S
        };
        from + self.duration(median, 0.7)
    }

    fn close(&mut self, at: i64, agent: u32, by_system: bool) {
        let (at, actor) = if by_system {
            (at, Actor::System)
        } else {
            (self.working(at), Actor::Agent(agent))
        };
        self.push(Activity::CaseClosed, at, actor, self.resolution);
    }

    /// The whole case. The order of the draws is part of the log's definition.
    fn run(&mut self, created: i64, subject: Subject) {
        let d = &mut self.d;
        self.channel = d.choose(if is_open(created) {
            &CHANNEL_OPEN
        } else {
            &CHANNEL_CLOSED
        });
        let request = &REQUEST_TYPES[subject.request_type as usize];
        self.request_type = subject.request_type;
        self.product = subject.product;
        self.priority = d.choose(&request.priorities) as u8;
        self.team = if d.bernoulli(0.2) {
            TIER_1
        } else {
            request.team
        };

        // The case's fate, drawn up front.
        let fate = d.uniform();
        let cancel_early = fate < P_CANCEL_EARLY;
        let cancel_after_pickup = !cancel_early && fate < P_CANCEL_EARLY + P_CANCEL_AFTER_PICKUP;
        let escalate = d.bernoulli(request.escalated);
        let transfer = d.bernoulli(P_TRANSFER);
        let recategorize = d.bernoulli(P_RECATEGORIZE);
        let holds = if d.bernoulli(request.info_requested) {
            if d.bernoulli(P_SECOND_HOLD) { 2 } else { 1 }
        } else {
            0
        };
        let skip_investigation = d.bernoulli(if subject.request_type == INFORMATION {
            0.45
        } else {
            0.07
        });
        let reactivate = d.bernoulli(if subject.request_type == COMPLAINT {
            P_REACTIVATE_COMPLAINT
        } else {
            P_REACTIVATE
        });
        let survey = d.bernoulli(P_SURVEY);
        let answers_survey = d.bernoulli(P_CSAT);
        let closed_by_system = d.bernoulli(0.6);

        // Creation, SLA timer, routing to a queue.
        self.push(Activity::CaseCreated, created, Actor::System, Status::New);
        let sla_delay = if self.d.bernoulli(0.85) {
            0
        } else {
            1 + (self.d.uniform() * 5.0) as i64
        };
        self.push(
            Activity::SlaTimerStarted,
            created + sla_delay,
            Actor::System,
            Status::New,
        );
        let routing = if self.d.bernoulli(0.55) {
            0
        } else {
            self.duration(20.0, 0.8)
        };
        self.assign_to_queue(self.team, self.now + routing);

        if cancel_early {
            // Withdrawn or a duplicate: closed from the queue.
            let wait = self.duration(3.0 * 3600.0, 1.2);
            let at = self.working(self.now + wait);
            let agent = self.random_agent(self.team);
            let actor = if self.d.bernoulli(0.3) {
                Actor::System
            } else {
                Actor::Agent(agent)
            };
            self.push(Activity::CaseClosed, at, actor, Status::Cancelled);
            return;
        }

        let mut agent = self.pick(QUEUE_MEDIAN_S[self.channel]);
        let mut misrouted = false;
        if transfer {
            // Misrouted: back to the owning team's queue (or another one).
            let owner = request.team;
            let to = if self.team != owner {
                owner
            } else {
                (owner + 1 + (self.d.uniform() * 3.0) as u8) % 4
            };
            let at = self.after_work(240.0, 0.8);
            self.assign_to_queue(to, at);
            agent = self.pick(QUEUE_MEDIAN_S[self.channel]);
            misrouted = true;
        }

        if cancel_after_pickup {
            let at = self.after_work(1200.0, 1.0);
            self.push(
                Activity::CaseClosed,
                at,
                Actor::Agent(agent),
                Status::Cancelled,
            );
            return;
        }

        if !skip_investigation {
            self.investigate(agent);
        }

        if recategorize {
            let shift = 1 + (self.d.uniform() * 4.0) as u8;
            self.request_type = (self.request_type + shift) % REQUEST_TYPES.len() as u8;
            if self.d.bernoulli(0.3) {
                self.product = self.d.choose(&PRODUCT_WEIGHTS) as u8;
            }
            let at = self.after_work(300.0, 0.8);
            self.push(
                Activity::CategorizationChanged,
                at,
                Actor::Agent(agent),
                Status::InProgress,
            );
            let owner = REQUEST_TYPES[self.request_type as usize].team;
            if owner != self.team && self.d.bernoulli(0.6) {
                let at = self.now + self.duration(60.0, 1.0);
                self.assign_to_queue(owner, at);
                agent = self.pick(QUEUE_MEDIAN_S[self.channel]);
                self.investigate(agent);
                misrouted = true;
            }
        }

        for hold in 0..holds {
            let at = self.after_work(600.0, 1.0);
            self.push(
                Activity::InfoRequested,
                at,
                Actor::Agent(agent),
                Status::WaitingForDetails,
            );
            let asked = self.now;
            if hold + 1 == holds && self.d.bernoulli(P_NO_REPLY) {
                // The customer never answers: the system cancels the case.
                let at = asked + 10 * DAY + (self.d.uniform() * 4.0 * DAY as f64) as i64;
                self.push(Activity::CaseClosed, at, Actor::System, Status::Cancelled);
                return;
            }
            // The agent acts on the reply: investigates again (always between two requests),
            // or goes straight on with the case (escalation or solution).
            let reply = asked + self.duration(CUSTOMER_REPLY_MEDIAN_S, 1.1);
            let reaction = self.duration(1800.0, 1.0);
            self.not_before = self.working(reply + reaction);
            if hold + 1 < holds || self.d.bernoulli(P_INVESTIGATE_AFTER_REPLY) {
                self.investigate(agent);
            }
        }

        if self.d.bernoulli(if self.request_type == TECHNICAL {
            P_SECOND_LOOK_TECHNICAL
        } else {
            P_SECOND_LOOK
        }) {
            self.investigate(agent);
        }

        if escalate {
            self.escalated = true;
            let to = REQUEST_TYPES[self.request_type as usize].escalation_team;
            self.team = if to != self.team { to } else { ESCALATIONS };
            if self.priority > HIGH && self.d.bernoulli(0.35) {
                self.priority -= 1;
            }
            let at = self.after_work(900.0, 1.0);
            self.push(
                Activity::CaseEscalated,
                at,
                Actor::Agent(agent),
                Status::InProgress,
            );
            if self.d.bernoulli(0.5) {
                self.assign_to_queue(self.team, self.now);
            }
            agent = self.pick(ESCALATION_QUEUE_MEDIAN_S);
            self.investigate(agent);
        }

        let breached = self.solve(agent, created);
        let resolved = self.now;

        if survey {
            let bad = breached || self.escalated || misrouted || holds >= 2;
            let csat = answers_survey
                .then(|| 1 + self.d.choose(if bad { &CSAT_BAD } else { &CSAT_GOOD }) as i16);
            let at = if self.d.bernoulli(0.4) {
                self.now
            } else {
                self.now + self.duration(600.0, 1.0)
            };
            self.push_with(
                Activity::SurveySent,
                at,
                Actor::System,
                self.resolution,
                None,
                csat,
            );
        }

        let close_at = self.close_time(resolved);
        if !reactivate {
            self.close(close_at, agent, closed_by_system);
            return;
        }

        // The customer comes back: within the FCR window (7 days) or later.
        let back_after = if self.d.bernoulli(0.6) {
            (0.3 + self.d.uniform() * 6.5) * DAY as f64
        } else {
            (7.5 + self.d.uniform() * 22.5) * DAY as f64
        };
        let reactivated = resolved + back_after as i64;
        if close_at < reactivated {
            self.close(close_at, agent, closed_by_system);
        }
        let by_system = self.d.bernoulli(0.5);
        let (at, actor) = if by_system {
            (reactivated, Actor::System)
        } else {
            (self.working(reactivated), Actor::Agent(agent))
        };
        self.push(Activity::CaseReactivated, at, actor, Status::InProgress);
        if self.d.bernoulli(0.4) {
            self.assign_to_queue(self.team, self.now);
            agent = self.pick(QUEUE_MEDIAN_S[self.channel]);
        }
        self.investigate(agent);
        self.solve(agent, created);
        let close_at = self.close_time(self.now);
        self.close(close_at, agent, closed_by_system);
    }
}

/// The streaming iterator behind [`events`].
struct Events {
    ctx: Context,
    next_case: u64,
    steps: Vec<Step>,
    position: usize,
    case_id: String,
    customer: String,
    channel: usize,
}

impl Events {
    fn new(config: &SyntheticConfig) -> Self {
        Events {
            ctx: Context::new(config),
            next_case: 0,
            steps: Vec::with_capacity(32),
            position: 0,
            case_id: String::new(),
            customer: String::new(),
            channel: 0,
        }
    }

    /// Generates the next case into `steps`; `false` when every case has been generated.
    fn advance(&mut self) -> bool {
        if self.next_case >= self.ctx.cases {
            return false;
        }
        let index = self.next_case;
        self.next_case += 1;
        let mut d = Draw::new(stream_key(self.ctx.seed, SALT_FLOW, index));
        let created = self.ctx.creation_time(index, d.uniform());
        let subject = self.ctx.subject(index);
        self.steps.clear();
        let mut builder = CaseBuilder {
            ctx: &self.ctx,
            d,
            steps: &mut self.steps,
            channel: 0,
            now: created,
            cut: false,
            team: 0,
            priority: 0,
            request_type: 0,
            product: 0,
            escalated: false,
            hold_s: 0,
            on_hold_since: None,
            not_before: created,
            resolution: Status::ProblemSolved,
        };
        builder.run(created, subject);
        self.channel = builder.channel;

        self.case_id.clear();
        let _ = write!(self.case_id, "{}-{:07}", self.ctx.case_prefix, index + 1);
        self.customer.clear();
        let _ = write!(self.customer, "CUST-{:06}", subject.customer + 1);
        self.position = 0;
        true
    }

    /// The id of the case's event `n` (0-based): `{case_id}-{n + 1}`.
    fn event_id(&self, n: usize, into: &mut String) {
        into.clear();
        into.push_str(&self.case_id);
        let _ = write!(into, "-{}", n + 1);
    }

    fn agent(&self, step: &Step) -> Option<&str> {
        match step.actor {
            Actor::System => Some(SYSTEM_AGENT),
            Actor::Queue => None,
            Actor::Agent(a) => Some(&self.ctx.agent_names[a as usize]),
        }
    }

    fn event(&self, n: usize) -> NewEvent {
        let step = &self.steps[n];
        let mut event_id = String::with_capacity(self.case_id.len() + 4);
        self.event_id(n, &mut event_id);
        let text = |value: &str| Some(value.to_owned());
        NewEvent {
            case_id: self.case_id.clone(),
            activity: step.activity.english().to_owned(),
            event_time: DateTime::from_timestamp(step.time, 0)
                .expect("times lie within the config's span"),
            event_id: Some(event_id),
            lifecycle: text(LIFECYCLE),
            source_system: text(SOURCE_SYSTEM),
            channel: text(CHANNELS[self.channel]),
            sla_target_resolution_s: Some(SLA_TARGET_S[step.priority as usize]),
            status_reason: text(step.status.name()),
            agent: self.agent(step).map(str::to_owned),
            customer: Some(self.customer.clone()),
            priority: text(PRIORITIES[step.priority as usize]),
            request_type: text(REQUEST_TYPES[step.request_type as usize].name),
            owner_team: text(TEAMS[step.team as usize]),
            is_escalated: Some(step.escalated),
            knowledge_article_id: step.knowledge_article.map(|id| format!("KA-{id:05}")),
            csat: step.csat,
            product: text(PRODUCTS[step.product as usize]),
            // No extra attributes; `occurrence` 0 (event ids make every event distinct).
            ..Default::default()
        }
    }
}

impl Iterator for Events {
    type Item = NewEvent;

    fn next(&mut self) -> Option<NewEvent> {
        while self.position >= self.steps.len() {
            if !self.advance() {
                return None;
            }
        }
        let event = self.event(self.position);
        self.position += 1;
        Some(event)
    }
}

// ---------------------------------------------------------------------------------------------
// Random draws (as in `scoring::population`).

/// Seed of stream `index` of kind `salt` in log `seed` (hashed, so neighbouring streams do
/// not overlap).
fn stream_key(seed: u64, salt: u64, index: u64) -> u64 {
    mix64(mix64(seed ^ salt) ^ mix64(index.wrapping_add(0x9E37_79B9_7F4A_7C15)))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};
    use std::io::BufRead;

    use chrono::{Datelike, TimeDelta, Timelike, Weekday};
    use chrono_tz::Tz;

    use super::*;
    use crate::cases::import::csv::CsvRows;

    fn config(cases: usize) -> SyntheticConfig {
        SyntheticConfig {
            cases,
            customers: cases * 3 / 5,
            ..Default::default()
        }
    }

    /// The events of each case, in the order generated.
    fn cases(config: &SyntheticConfig) -> Vec<Vec<NewEvent>> {
        let mut out: Vec<Vec<NewEvent>> = Vec::new();
        for event in events(config) {
            match out.last_mut() {
                Some(case) if case[0].case_id == event.case_id => case.push(event),
                _ => out.push(vec![event]),
            }
        }
        out
    }

    fn count(case: &[NewEvent], activity: Activity) -> usize {
        case.iter()
            .filter(|e| e.activity == activity.english())
            .count()
    }

    fn share(cases: &[Vec<NewEvent>], test: impl Fn(&[NewEvent]) -> bool) -> f64 {
        cases.iter().filter(|c| test(c)).count() as f64 / cases.len() as f64
    }

    #[test]
    fn the_same_config_gives_the_same_events() {
        let a: Vec<_> = events(&config(300)).collect();
        let b: Vec<_> = events(&config(300)).collect();
        assert!(a.len() > 2_000);
        assert_eq!(a, b);
        let other_seed: Vec<_> = events(&SyntheticConfig {
            seed: 43,
            ..config(300)
        })
        .collect();
        assert_ne!(a, other_seed);
        let prefixed: Vec<_> = events(&SyntheticConfig {
            case_prefix: "LOAD".into(),
            ..config(300)
        })
        .collect();
        assert_eq!(prefixed.len(), a.len());
        assert_eq!(prefixed[0].case_id, "LOAD-0000001");
        assert_eq!(prefixed[0].event_id.as_deref(), Some("LOAD-0000001-1"));
        assert_eq!(prefixed[5].event_time, a[5].event_time);
    }

    #[test]
    fn pinned_output_stays_put() {
        // Guards the log's definition (every draw and constant): a change here changes the
        // data tests and benchmarks see. libm and xoshiro make it the same on every platform.
        let mut csv = Vec::new();
        let rows = write_csv(&config(500), &mut csv).unwrap();
        let fingerprint = csv.iter().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01B3)
        });
        assert_eq!((rows, fingerprint), PINNED);
    }

    const PINNED: (u64, u64) = (4_972, 16_513_957_569_469_808_363);

    #[test]
    fn every_canonical_activity_appears_and_nothing_else() {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for event in events(&config(2_000)) {
            *seen.entry(event.activity).or_default() += 1;
        }
        for activity in Activity::ALL {
            assert!(
                seen.get(activity.english()).is_some_and(|n| *n >= 10),
                "{activity:?}: {seen:?}"
            );
        }
        assert_eq!(seen.len(), 13, "{seen:?}");
        assert_eq!(seen["Case Created"], 2_000);
        assert_eq!(seen["SLA Timer Started"], 2_000);
    }

    #[test]
    fn cases_come_in_creation_order_with_ordered_events_and_unique_ids() {
        let config = config(2_000);
        let cases = cases(&config);
        assert_eq!(cases.len(), 2_000);
        let (start, end) = (config.start, config.end());
        assert_eq!(end, start + TimeDelta::days(90));
        let mut ids = HashSet::new();
        let mut previous_creation = start;
        for (i, case) in cases.iter().enumerate() {
            let case_id = format!("CAS-{:07}", i + 1);
            assert_eq!(case[0].case_id, case_id);
            assert_eq!(case[0].activity, "Case Created");
            assert_eq!(case[0].agent.as_deref(), Some("System"));
            assert!(case[0].event_time >= previous_creation);
            previous_creation = case[0].event_time;
            for (n, event) in case.iter().enumerate() {
                assert_eq!(event.case_id, case_id);
                assert_eq!(event.event_id, Some(format!("{case_id}-{}", n + 1)));
                assert!(ids.insert(event.event_key()));
                assert!(start <= event.event_time && event.event_time <= end);
                assert_eq!(event.event_time.nanosecond(), 0);
                let customer = event.customer.as_deref().unwrap();
                assert!(customer.starts_with("CUST-") && customer.len() == 11);
            }
            assert!(
                case.windows(2).all(|w| w[0].event_time <= w[1].event_time),
                "{case:#?}"
            );
        }
    }

    #[test]
    fn about_ten_events_per_case() {
        let events = events(&config(2_000)).count();
        let per_case = events as f64 / 2_000.0;
        assert!((9.3..=10.5).contains(&per_case), "{per_case}");
    }

    #[test]
    fn the_flow_has_its_variations() {
        let config = config(2_000);
        let cases = cases(&config);
        let resolved = |c: &[NewEvent]| count(c, Activity::CaseResolved) > 0;
        let closed = |c: &[NewEvent]| count(c, Activity::CaseClosed) > 0;

        // The main path, in this order, is the most common variant.
        let main_path = [
            "Case Created",
            "SLA Timer Started",
            "Case Assigned",
            "Queue Item Picked by Agent",
            "Agent Investigated Issue",
            "Solution Proposed to Customer",
            "Case Resolved",
            "Satisfaction Survey Sent",
            "Case Closed",
        ];
        let main = share(&cases, |c| {
            c.iter().map(|e| e.activity.as_str()).eq(main_path)
        });
        assert!((0.25..0.45).contains(&main), "{main}");

        // The queue assignment has no agent; pickups and work have one.
        for case in &cases {
            for event in case {
                let agent = event.agent.as_deref();
                match event.activity.as_str() {
                    "Case Assigned" => assert_eq!(agent, None),
                    "Case Created" | "SLA Timer Started" | "Satisfaction Survey Sent" => {
                        assert_eq!(agent, Some("System"))
                    }
                    "Queue Item Picked by Agent"
                    | "Agent Investigated Issue"
                    | "Solution Proposed to Customer"
                    | "Case Resolved" => assert!(agent.is_some_and(|a| a != "System")),
                    _ => {}
                }
            }
        }

        let reactivated = share(&cases, |c| count(c, Activity::CaseReactivated) > 0);
        assert!((0.015..0.06).contains(&reactivated), "{reactivated}");
        let reactivation_days: Vec<f64> = cases
            .iter()
            .filter_map(|c| {
                let resolved = c.iter().find(|e| e.activity == "Case Resolved")?;
                let back = c.iter().find(|e| e.activity == "Case Reactivated")?;
                Some((back.event_time - resolved.event_time).num_seconds() as f64 / 86_400.0)
            })
            .collect();
        assert!(reactivation_days.iter().any(|d| *d <= 7.0));
        assert!(reactivation_days.iter().any(|d| *d > 7.0));
        // A reactivated case is resolved again (unless the log ends first).
        let re_resolved = share(&cases, |c| count(c, Activity::CaseResolved) >= 2);
        assert!(re_resolved > 0.6 * reactivated, "{re_resolved}");

        let cancelled = share(&cases, |c| closed(c) && !resolved(c));
        assert!((0.015..0.05).contains(&cancelled), "{cancelled}");
        assert!(cases.iter().filter(|c| closed(c) && !resolved(c)).all(|c| {
            c.iter()
                .find(|e| e.activity == "Case Closed")
                .is_some_and(|e| e.status_reason.as_deref() == Some("Cancelled"))
        }));

        let escalated = share(&cases, |c| count(c, Activity::CaseEscalated) > 0);
        assert!((0.05..0.13).contains(&escalated), "{escalated}");
        for case in cases
            .iter()
            .filter(|c| count(c, Activity::CaseEscalated) > 0)
        {
            let at = case
                .iter()
                .position(|e| e.activity == "Case Escalated")
                .unwrap();
            assert!(case[..at].iter().all(|e| e.is_escalated == Some(false)));
            assert!(case[at..].iter().all(|e| e.is_escalated == Some(true)));
            // Re-queued to another team and, unless the log ends, picked by another agent.
            assert_ne!(case[at].owner_team, case[at - 1].owner_team);
            if let Some(pick) = case[at..]
                .iter()
                .find(|e| e.activity == "Queue Item Picked by Agent")
            {
                assert_ne!(pick.agent, case[at].agent);
            }
        }

        let held = share(&cases, |c| count(c, Activity::InfoRequested) > 0);
        assert!((0.15..0.30).contains(&held), "{held}");
        let held_twice = share(&cases, |c| count(c, Activity::InfoRequested) >= 2);
        assert!((0.02..0.09).contains(&held_twice), "{held_twice}");
        let hold_hours: Vec<f64> = cases
            .iter()
            .flat_map(|c| {
                c.windows(2)
                    .filter(|w| w[0].activity == "Information Requested from Customer")
                    .map(|w| (w[1].event_time - w[0].event_time).num_seconds() as f64 / 3600.0)
            })
            .collect();
        let long_holds = hold_hours.iter().filter(|h| **h > 24.0).count();
        assert!(
            long_holds * 4 > hold_hours.len(),
            "holds last hours to days"
        );

        let recategorized: Vec<_> = cases
            .iter()
            .filter(|c| count(c, Activity::CategorizationChanged) > 0)
            .collect();
        let share_recategorized = recategorized.len() as f64 / cases.len() as f64;
        assert!((0.03..0.09).contains(&share_recategorized));
        assert!(
            recategorized
                .iter()
                .all(|c| c[0].request_type != c.last().unwrap().request_type)
        );

        let equal_times: usize = cases
            .iter()
            .map(|c| {
                c.windows(2)
                    .filter(|w| w[0].event_time == w[1].event_time)
                    .count()
            })
            .sum();
        let events: usize = cases.iter().map(Vec::len).sum();
        assert!(equal_times * 10 > events, "{equal_times} of {events}");

        let with_article = share(&cases, |c| {
            c.iter().any(|e| {
                e.knowledge_article_id
                    .as_deref()
                    .is_some_and(|id| id.starts_with("KA-") && id.len() == 8)
            })
        });
        assert!((0.5..0.8).contains(&with_article), "{with_article}");
    }

    #[test]
    fn csat_is_on_some_surveys_and_skewed_positive() {
        let scores: Vec<i16> = events(&config(2_000))
            .filter_map(|e| {
                if e.csat.is_some() {
                    assert_eq!(e.activity, "Satisfaction Survey Sent");
                }
                e.csat
            })
            .collect();
        let answered = scores.len() as f64 / 2_000.0;
        assert!((0.2..0.45).contains(&answered), "{answered}");
        assert!(scores.iter().all(|s| (1..=5).contains(s)));
        let mean = scores.iter().map(|s| f64::from(*s)).sum::<f64>() / scores.len() as f64;
        assert!((3.6..4.5).contains(&mean), "{mean}");
        for score in 1..=5 {
            assert!(scores.contains(&score));
        }
    }

    #[test]
    fn customers_come_back_with_the_same_problem() {
        let cases = cases(&config(2_000));
        let mut by_customer: HashMap<&str, usize> = HashMap::new();
        for case in &cases {
            *by_customer
                .entry(case[0].customer.as_deref().unwrap())
                .or_default() += 1;
        }
        assert!(by_customer.len() < 1_500, "{}", by_customer.len());
        assert!(by_customer.values().any(|n| *n >= 5));
        assert!(by_customer.values().filter(|n| **n == 1).count() > 300);

        // A repeat: same customer, request type and product, created within 7 days.
        let mut last_seen: HashMap<(&str, &str, &str), DateTime<Utc>> = HashMap::new();
        let mut repeats = 0;
        for case in &cases {
            let first = &case[0];
            let subject = (
                first.customer.as_deref().unwrap(),
                first.request_type.as_deref().unwrap(),
                first.product.as_deref().unwrap(),
            );
            if let Some(before) = last_seen.insert(subject, first.event_time)
                && first.event_time - before <= TimeDelta::days(7)
            {
                repeats += 1;
            }
        }
        let share = f64::from(repeats) / 2_000.0;
        assert!((0.05..0.15).contains(&share), "{share}");
    }

    #[test]
    fn recent_cases_are_still_open_at_the_end() {
        let config = config(2_000);
        let end = config.end();
        let cases = cases(&config);
        let open: Vec<_> = cases
            .iter()
            .filter(|c| {
                let last = c.last().unwrap();
                !matches!(
                    last.activity.as_str(),
                    "Case Closed" | "Case Resolved" | "Satisfaction Survey Sent"
                )
            })
            .collect();
        assert!((10..100).contains(&open.len()), "{}", open.len());
        let recent = open
            .iter()
            .filter(|c| end - c[0].event_time <= TimeDelta::days(7))
            .count();
        assert!(recent * 10 >= open.len() * 7, "{recent} of {}", open.len());
        // Resolved but not yet closed, too.
        assert!(cases.iter().any(|c| {
            count(c, Activity::CaseResolved) > 0 && count(c, Activity::CaseClosed) == 0
        }));
    }

    #[test]
    fn attributes_take_their_vocabularies() {
        let mut seen: BTreeMap<&str, HashSet<String>> = BTreeMap::new();
        for e in events(&config(2_000)) {
            let target = e.sla_target_resolution_s.unwrap();
            let expected = match e.priority.as_deref().unwrap() {
                "High" => 8.0 * 3600.0,
                "Normal" => 24.0 * 3600.0,
                "Low" => 72.0 * 3600.0,
                other => panic!("priority {other}"),
            };
            assert_eq!(target, expected);
            assert_eq!(e.lifecycle.as_deref(), Some("complete"));
            assert_eq!(
                e.source_system.as_deref(),
                Some("Dynamics 365 Customer Service")
            );
            for (name, value) in [
                ("channel", e.channel),
                ("priority", e.priority),
                ("request_type", e.request_type),
                ("product", e.product),
                ("owner_team", e.owner_team),
                ("status_reason", e.status_reason),
                ("agent", e.agent),
            ] {
                seen.entry(name)
                    .or_default()
                    .insert(value.unwrap_or_default());
            }
        }
        let set = |name: &str| {
            let mut values: Vec<_> = seen[name].iter().cloned().collect();
            values.sort();
            values
        };
        assert_eq!(set("channel"), ["Chat", "Email", "Phone", "Web"]);
        assert_eq!(set("priority"), ["High", "Low", "Normal"]);
        assert_eq!(set("request_type").len(), 5);
        assert_eq!(set("product").len(), 5);
        assert_eq!(set("owner_team").len(), 6);
        assert_eq!(set("status_reason").len(), 7);
        // 50 agents, System, and none (queue assignments).
        assert_eq!(set("agent").len(), 52);
        assert!(seen["agent"].contains("System") && seen["agent"].contains(""));
    }

    #[test]
    fn creation_follows_business_hours_and_weekdays() {
        let created: Vec<DateTime<Utc>> = events(&config(4_000))
            .filter(|e| e.activity == "Case Created")
            .map(|e| e.event_time)
            .collect();
        let n = created.len() as f64;
        let business = created
            .iter()
            .filter(|t| t.weekday().num_days_from_monday() < 5 && (8..20).contains(&t.hour()))
            .count() as f64;
        assert!(business / n > 0.6, "{}", business / n);
        let sundays = created
            .iter()
            .filter(|t| t.weekday() == Weekday::Sun)
            .count() as f64;
        assert!((0.01..0.06).contains(&(sundays / n)), "{}", sundays / n);
        let nights = created.iter().filter(|t| t.hour() < 6).count() as f64;
        assert!((0.005..0.05).contains(&(nights / n)), "{}", nights / n);
        // Every week of the span gets cases.
        let weeks: HashSet<u32> = created.iter().map(|t| t.iso_week().week()).collect();
        assert!(weeks.len() >= 13);
    }

    #[test]
    fn csv_has_the_template_header_and_a_row_per_event() {
        let config = config(300);
        let mut out = Vec::new();
        let rows = write_csv(&config, &mut out).unwrap();
        assert_eq!(rows, events(&config).count() as u64);
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "case_id,activity,event_time,event_id,lifecycle,source_system,channel,\
                 sla_target_resolution_s,status_reason,agent,customer,priority,request_type,\
                 owner_team,is_escalated,knowledge_article_id,csat,product"
            )
        );
        assert_eq!(lines.count() as u64, rows);
        let first = text.lines().nth(1).unwrap();
        assert!(
            first.starts_with("CAS-0000001,Case Created,2026-01-05T"),
            "{first}"
        );
        assert!(first.contains(",CAS-0000001-1,complete,Dynamics 365 Customer Service,"));
        assert!(first.contains(",System,CUST-"));

        let mut empty = Vec::new();
        assert_eq!(write_csv(&config_with_no_cases(), &mut empty).unwrap(), 0);
        assert_eq!(String::from_utf8(empty).unwrap().lines().count(), 1);
    }

    fn config_with_no_cases() -> SyntheticConfig {
        SyntheticConfig {
            cases: 0,
            ..Default::default()
        }
    }

    #[test]
    fn csv_imports_back_to_the_same_events() {
        let config = config(400);
        let mut out = Vec::new();
        write_csv(&config, &mut out).unwrap();
        let reader: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(out));
        let imported: Vec<NewEvent> = CsvRows::new(reader, None, Tz::UTC, 1 << 20)
            .unwrap()
            .map(|row| row.unwrap().event.unwrap())
            .collect();
        let generated: Vec<NewEvent> = events(&config).collect();
        assert_eq!(imported.len(), generated.len());
        for (a, b) in imported.iter().zip(&generated) {
            assert_eq!(a, b);
        }
        assert_eq!(events(&config_with_no_cases()).count(), 0);
    }

    #[test]
    fn timestamps_format_like_chrono() {
        let mut d = Draw::new(7);
        let edges = [
            0,
            -1,
            951_782_400,     // 2000-02-29
            4_107_542_399,   // 2100-02-28T23:59:59
            -62_167_219_200, // 0000-01-01
            253_402_300_799, // 9999-12-31T23:59:59
            253_402_300_800, // 10000-01-01 (chrono's formatting)
            -62_167_219_201, // -0001-12-31T23:59:59
        ];
        let random = (0..20_000).map(|_| ((d.uniform() - 0.2) * 8e9) as i64);
        for secs in edges.into_iter().chain(random) {
            let mut buf = Vec::new();
            push_rfc3339(&mut buf, secs);
            let expected = DateTime::from_timestamp(secs, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            assert_eq!(String::from_utf8(buf).unwrap(), expected, "{secs}");
        }
    }

    #[test]
    fn opening_hours_are_honoured() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        // Monday 2026-01-05.
        assert!(is_open(at("2026-01-05T08:00:00Z")));
        assert!(!is_open(at("2026-01-05T20:00:00Z")));
        assert_eq!(
            next_opening(at("2026-01-05T21:00:00Z")),
            at("2026-01-06T08:00:00Z")
        );
        // Saturday evening → Monday morning (closed on Sundays).
        assert_eq!(
            next_opening(at("2026-01-10T17:30:00Z")),
            at("2026-01-12T08:00:00Z")
        );
        assert_eq!(
            next_opening(at("2026-01-10T07:00:00Z")),
            at("2026-01-10T09:00:00Z")
        );
        assert_eq!(
            next_opening(at("2026-01-07T12:34:56Z")),
            at("2026-01-07T12:34:56Z")
        );
        for (priority, text) in SLA_TARGET_S.iter().zip(SLA_TARGET_TEXT) {
            assert_eq!(priority.to_string(), text);
        }
        assert_eq!(agent_name(0), "Ana Silva");
        let names: HashSet<String> = (0..400).map(agent_name).collect();
        assert_eq!(names.len(), 400);
        assert_eq!(agent_name(400), "Ana Silva 2");
    }
}
