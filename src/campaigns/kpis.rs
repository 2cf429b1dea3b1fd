//! Campaign KPI arithmetic, following the call-center KPI vocabulary: a record is an account
//! on the call list; it is *processed* once it has at least one attempt. Rates are sums over
//! records (never averages of group rates) and carry their numerator and denominator; a zero
//! denominator gives `null`.

use serde::Serialize;
use utoipa::ToSchema;

/// A ratio with its parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[schema(as = CampaignRate)]
pub struct Rate {
    pub numerator: i64,
    pub denominator: i64,
    /// `numerator / denominator`; `null` when the denominator is 0.
    pub value: Option<f64>,
}

impl Rate {
    pub fn of(numerator: i64, denominator: i64) -> Rate {
        Rate {
            numerator,
            denominator,
            value: (denominator > 0).then(|| numerator as f64 / denominator as f64),
        }
    }
}

/// Sums over a group's records and their attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Records in the group (for agents and hours: the records they attempted).
    pub records: i64,
    /// Records with at least one attempt.
    pub processed: i64,
    pub attempts: i64,
    /// Records where someone answered (wrong party, right party or a callback request).
    pub contacted: i64,
    /// Records with at least one right-party contact.
    pub rpc_records: i64,
    /// Attempts that were right-party contacts.
    pub rpc_attempts: i64,
    /// Records with an accepted offer.
    pub converted: i64,
    /// Agent time (by agent): per day the logged time supplied, else the span of the agent's
    /// attempts; summed.
    pub agent_seconds: Option<f64>,
}

/// The KPIs of a group of records.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct KpiSet {
    pub records: i64,
    pub processed: i64,
    pub attempts: i64,
    /// Right Party Connection rate: records with a right-party contact / processed records.
    pub rpc_rate: Rate,
    /// Records where someone answered / processed records.
    pub contact_rate: Rate,
    /// Attempts / processed records.
    pub attempts_per_record: Option<f64>,
    /// Records with an accepted offer / records with a right-party contact.
    pub conversion_per_rpc: Rate,
    /// Agent hours (by agent and in total), per agent and UTC day: the logged time supplied
    /// (`POST /v1/campaigns/{id}/agent-time`), else the span from the agent's first attempt
    /// start to last attempt end; summed. `null` where it does not apply.
    pub agent_hours: Option<f64>,
    /// Right-party contacts (attempts) per agent hour.
    pub rpc_per_agent_hour: Option<f64>,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.records += other.records;
        self.processed += other.processed;
        self.attempts += other.attempts;
        self.contacted += other.contacted;
        self.rpc_records += other.rpc_records;
        self.rpc_attempts += other.rpc_attempts;
        self.converted += other.converted;
        self.agent_seconds = match (self.agent_seconds, other.agent_seconds) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    pub fn kpis(&self) -> KpiSet {
        let agent_hours = self.agent_seconds.map(|s| s / 3600.0);
        // Per hour as count * 3600 / seconds: exact where the figures are (no 1/3 of an hour).
        let per_agent_hour = self
            .agent_seconds
            .filter(|&s| s > 0.0)
            .map(|s| self.rpc_attempts as f64 * 3600.0 / s);
        KpiSet {
            records: self.records,
            processed: self.processed,
            attempts: self.attempts,
            rpc_rate: Rate::of(self.rpc_records, self.processed),
            contact_rate: Rate::of(self.contacted, self.processed),
            attempts_per_record: Rate::of(self.attempts, self.processed).value,
            conversion_per_rpc: Rate::of(self.converted, self.rpc_records),
            agent_hours,
            rpc_per_agent_hour: per_agent_hour,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_sums_over_records() {
        // 10 records, 8 processed with 20 attempts; 6 answered, 4 reached the right party
        // (5 right-party attempts), 1 accepted; agents worked 2.5 hours.
        let a = Tally {
            records: 6,
            processed: 5,
            attempts: 12,
            contacted: 4,
            rpc_records: 3,
            rpc_attempts: 4,
            converted: 1,
            agent_seconds: Some(5400.0),
        };
        let b = Tally {
            records: 4,
            processed: 3,
            attempts: 8,
            contacted: 2,
            rpc_records: 1,
            rpc_attempts: 1,
            converted: 0,
            agent_seconds: Some(3600.0),
        };
        let mut total = a;
        total.add(&b);
        let kpis = total.kpis();
        assert_eq!(kpis.rpc_rate, Rate::of(4, 8));
        assert_eq!(kpis.rpc_rate.value, Some(0.5));
        assert_eq!(kpis.contact_rate.value, Some(0.75));
        assert_eq!(kpis.attempts_per_record, Some(2.5));
        assert_eq!(kpis.conversion_per_rpc.value, Some(0.25));
        assert_eq!(kpis.agent_hours, Some(2.5));
        assert_eq!(kpis.rpc_per_agent_hour, Some(2.0));
        // Not the mean of the groups' rates (0.6 and 1/3).
        assert_ne!(kpis.rpc_rate.value, Some((0.6 + 1.0 / 3.0) / 2.0));
    }

    #[test]
    fn nothing_processed_gives_nulls() {
        let kpis = Tally {
            records: 3,
            ..Tally::default()
        }
        .kpis();
        assert_eq!(kpis.rpc_rate.value, None);
        assert_eq!(kpis.attempts_per_record, None);
        assert_eq!(kpis.conversion_per_rpc.value, None);
        assert_eq!(kpis.rpc_per_agent_hour, None);
    }
}
