//! Judging an escalation against the escalation rules. Pure: the escalation's instant is data.
//!
//! A rule allows escalating one request type to one owner team, optionally only between two
//! local times of day in an IANA zone. An escalation is correct when a rule allows its case's
//! request type, the team it went to and (for a rule with hours) the local time it happened;
//! names match ignoring case and surrounding spaces. A case without a request type or a team
//! cannot be judged.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq)]
pub struct EscalationRule {
    /// Normalised (trimmed, lower case).
    pub request_type: String,
    /// Normalised (trimmed, lower case).
    pub owner_team: String,
    /// Local hours `[start, end)` in a zone.
    pub hours: Option<(Tz, NaiveTime, NaiveTime)>,
}

/// How a name is compared.
pub fn normalise(name: &str) -> String {
    name.trim().to_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Correct,
    Incorrect,
    /// The case has no request type or no owner team.
    Unjudged,
}

pub fn judge(
    rules: &[EscalationRule],
    request_type: Option<&str>,
    owner_team: Option<&str>,
    at: DateTime<Utc>,
) -> Verdict {
    let (Some(request_type), Some(owner_team)) = (request_type, owner_team) else {
        return Verdict::Unjudged;
    };
    let (request_type, owner_team) = (normalise(request_type), normalise(owner_team));
    let allowed = rules.iter().any(|rule| {
        rule.request_type == request_type
            && rule.owner_team == owner_team
            && rule.hours.is_none_or(|(zone, start, end)| {
                let local = at.with_timezone(&zone).time();
                start <= local && local < end
            })
    });
    if allowed {
        Verdict::Correct
    } else {
        Verdict::Incorrect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_allows_its_type_team_and_hours() {
        let hm = |s| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let rules = [
            EscalationRule {
                request_type: "billing".into(),
                owner_team: "billing l2".into(),
                hours: None,
            },
            EscalationRule {
                request_type: "technical".into(),
                owner_team: "tech l2".into(),
                hours: Some((chrono_tz::Europe::Lisbon, hm("08:00"), hm("18:00"))),
            },
        ];
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let noon = t("2026-07-01T11:00:00Z");
        assert_eq!(
            judge(&rules, Some(" Billing"), Some("Billing L2"), noon),
            Verdict::Correct
        );
        assert_eq!(
            judge(&rules, Some("Billing"), Some("Tech L2"), noon),
            Verdict::Incorrect
        );
        // 07:30 UTC is 08:30 in Lisbon in summer (allowed), 07:30 in winter (not).
        assert_eq!(
            judge(
                &rules,
                Some("Technical"),
                Some("Tech L2"),
                t("2026-07-01T07:30:00Z")
            ),
            Verdict::Correct
        );
        assert_eq!(
            judge(
                &rules,
                Some("Technical"),
                Some("Tech L2"),
                t("2026-01-15T07:30:00Z")
            ),
            Verdict::Incorrect
        );
        assert_eq!(
            judge(&rules, None, Some("Tech L2"), noon),
            Verdict::Unjudged
        );
        assert_eq!(
            judge(&rules, Some("Billing"), None, noon),
            Verdict::Unjudged
        );
    }
}
