//! Canonical activities: the roles events play in the per-case metrics, and how incoming
//! activity names (English, the template's Portuguese, snake_case codes, or a customer's own
//! labels from the configurable mapping) resolve to them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A canonical activity of the Dynamics 365 Customer Service template.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    CaseCreated,
    CaseAssigned,
    QueueItemPicked,
    SlaTimerStarted,
    AgentInvestigated,
    InfoRequested,
    SolutionProposed,
    CaseResolved,
    CaseReactivated,
    CaseEscalated,
    CategorizationChanged,
    SurveySent,
    CaseClosed,
}

impl Activity {
    pub const ALL: [Activity; 13] = [
        Activity::CaseCreated,
        Activity::CaseAssigned,
        Activity::QueueItemPicked,
        Activity::SlaTimerStarted,
        Activity::AgentInvestigated,
        Activity::InfoRequested,
        Activity::SolutionProposed,
        Activity::CaseResolved,
        Activity::CaseReactivated,
        Activity::CaseEscalated,
        Activity::CategorizationChanged,
        Activity::SurveySent,
        Activity::CaseClosed,
    ];

    /// The snake_case code, as stored in `events.activity_code`.
    pub fn code(self) -> &'static str {
        self.names().0
    }

    /// The English display name of the template.
    pub fn english(self) -> &'static str {
        self.names().1
    }

    /// The Portuguese name of the template.
    pub fn portuguese(self) -> &'static str {
        self.names().2
    }

    /// (code, English, Portuguese) as in the spec's table.
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Activity::CaseCreated => ("case_created", "Case Created", "Caso Criado"),
            Activity::CaseAssigned => ("case_assigned", "Case Assigned", "Caso Atribuído"),
            Activity::QueueItemPicked => (
                "queue_item_picked",
                "Queue Item Picked by Agent",
                "Item da fila retirado pelo agente",
            ),
            Activity::SlaTimerStarted => (
                "sla_timer_started",
                "SLA Timer Started",
                "Timer do SLA iniciado",
            ),
            Activity::AgentInvestigated => (
                "agent_investigated",
                "Agent Investigated Issue",
                "Agente Investigou o Problema",
            ),
            Activity::InfoRequested => (
                "info_requested",
                "Information Requested from Customer",
                "Informação Solicitada ao Cliente",
            ),
            Activity::SolutionProposed => (
                "solution_proposed",
                "Solution Proposed to Customer",
                "Solução proposta ao cliente",
            ),
            Activity::CaseResolved => ("case_resolved", "Case Resolved", "Caso Resolvido"),
            Activity::CaseReactivated => ("case_reactivated", "Case Reactivated", "Caso Reativado"),
            Activity::CaseEscalated => ("case_escalated", "Case Escalated", "Caso Escalado"),
            Activity::CategorizationChanged => (
                "categorization_changed",
                "Case Categorization Changed",
                "Categorização do Caso Alterada",
            ),
            Activity::SurveySent => (
                "survey_sent",
                "Satisfaction Survey Sent",
                "Pesquisa de satisfação enviada",
            ),
            Activity::CaseClosed => ("case_closed", "Case Closed", "Caso Encerrado"),
        }
    }

    pub fn from_code(code: &str) -> Option<Activity> {
        Activity::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// Normalises a name for matching: case and surrounding spaces are ignored.
pub fn normalise_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Resolves activity names to canonical activities: the built-in names plus a mapping of
/// a customer's own labels (which win over the built-in names).
#[derive(Debug, Clone)]
pub struct ActivityResolver {
    names: HashMap<String, Activity>,
}

impl Default for ActivityResolver {
    fn default() -> Self {
        Self::with_mapping(std::iter::empty::<(String, Activity)>())
    }
}

impl ActivityResolver {
    /// The built-in names plus `mapping` (label → activity).
    pub fn with_mapping<S: AsRef<str>>(mapping: impl IntoIterator<Item = (S, Activity)>) -> Self {
        let mut names = HashMap::new();
        for activity in Activity::ALL {
            let (code, english, portuguese) = activity.names();
            for name in [code, english, portuguese] {
                names.insert(normalise_name(name), activity);
            }
        }
        for (label, activity) in mapping {
            names.insert(normalise_name(label.as_ref()), activity);
        }
        Self { names }
    }

    pub fn resolve(&self, name: &str) -> Option<Activity> {
        self.names.get(&normalise_name(name)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_the_table_resolves_ignoring_case_and_spaces() {
        let resolver = ActivityResolver::default();
        for activity in Activity::ALL {
            let (code, english, portuguese) = activity.names();
            assert_eq!(resolver.resolve(code), Some(activity));
            assert_eq!(
                resolver.resolve(&format!("  {}  ", english.to_uppercase())),
                Some(activity)
            );
            assert_eq!(resolver.resolve(portuguese), Some(activity));
            assert_eq!(Activity::from_code(code), Some(activity));
        }
        assert_eq!(
            resolver.resolve("caso atribuído"),
            Some(Activity::CaseAssigned)
        );
        assert_eq!(resolver.resolve("Assign seriousness"), None);
    }

    #[test]
    fn a_mapping_adds_labels() {
        let resolver = ActivityResolver::with_mapping([("Resolve ticket", Activity::CaseResolved)]);
        assert_eq!(
            resolver.resolve("resolve TICKET "),
            Some(Activity::CaseResolved)
        );
        assert_eq!(
            resolver.resolve("Case Resolved"),
            Some(Activity::CaseResolved)
        );
    }
}
