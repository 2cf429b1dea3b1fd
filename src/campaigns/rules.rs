//! The suppression rules a campaign applies, in the order they are judged: an account meeting
//! several is counted, and shown in the exclusions, under the first.

use serde::Serialize;
use utoipa::ToSchema;

/// Why an account selected for a campaign is not called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The account is on the request's opt-out list.
    OptOut,
    /// A case of the customer is open.
    OpenCase,
    /// A case of the customer breached its SLA within the window.
    SlaBreach,
    /// A case of the customer with a reactivation had activity within the window.
    Reactivation,
    /// An escalated case of the customer had activity within the window.
    Escalation,
    /// A case of the customer with a CSAT of 1 or 2 had activity within the window.
    LowCsat,
    /// A case of a listed request type (e.g. complaints) is open or had activity within the window.
    RequestType,
    /// The account had at least the cap's number of attempts, across campaigns, in its period.
    ContactCap,
}

impl Rule {
    /// Every rule, in the order they are judged.
    pub const ALL: [Rule; 8] = [
        Rule::OptOut,
        Rule::OpenCase,
        Rule::SlaBreach,
        Rule::Reactivation,
        Rule::Escalation,
        Rule::LowCsat,
        Rule::RequestType,
        Rule::ContactCap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::OptOut => "opt_out",
            Rule::OpenCase => "open_case",
            Rule::SlaBreach => "sla_breach",
            Rule::Reactivation => "reactivation",
            Rule::Escalation => "escalation",
            Rule::LowCsat => "low_csat",
            Rule::RequestType => "request_type",
            Rule::ContactCap => "contact_cap",
        }
    }

    /// 1-based position in [`Rule::ALL`] (the SQL arrays are 1-based).
    pub fn rank(self) -> i32 {
        Rule::ALL
            .iter()
            .position(|&r| r == self)
            .map_or(0, |i| i as i32 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_the_judging_order() {
        let ranks: Vec<i32> = Rule::ALL.iter().map(|r| r.rank()).collect();
        assert_eq!(ranks, (1..=8).collect::<Vec<_>>());
        assert_eq!(Rule::ContactCap.name(), "contact_cap");
        assert_eq!(
            serde_json::to_value(Rule::LowCsat).unwrap(),
            serde_json::json!("low_csat")
        );
    }
}
