//! SLA policies: which cases a policy applies to (match rules in rank order, with a default),
//! on which calendar, with which targets and pause rules. Pure: the versions in force are
//! chosen from a case's creation instant, never from the clock.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::{ALWAYS_OPEN_ID, CalendarVersions};
use crate::{cases::values, validation::FieldError};

/// A policy as users write it (`PUT /v1/sla-policies/{id}`) and as each version is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDefinition {
    pub name: String,
    /// Evaluation order: the policy with the lowest rank whose rules match a case applies.
    #[serde(default)]
    pub rank: i32,
    /// Applies to the cases no other policy matches (at most one default policy).
    #[serde(default)]
    pub is_default: bool,
    /// Conditions on the case's attributes, all of which must hold (a list: any of its values;
    /// compared ignoring case and surrounding spaces). Empty: every case.
    #[serde(default, rename = "match")]
    pub match_rules: MatchRules,
    /// The calendar the clocks count on (`24x7` when absent).
    #[serde(default = "always_open_id")]
    pub calendar_id: String,
    pub targets: Targets,
    /// When the clocks pause. Absent: the service's hold rule (`HOLD_STATUS_REASONS`, else
    /// `info_requested`).
    #[serde(default)]
    pub pause: Option<PauseRules>,
}

fn always_open_id() -> String {
    ALWAYS_OPEN_ID.to_owned()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRules {
    /// Raw labels or canonical levels (`low`, `normal`, `high`, `urgent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_team: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_system: Option<Vec<String>>,
    /// Any other stored attribute (the events' extra attributes, e.g. a CSV column kept as
    /// an attribute or an XES attribute): attribute name -> accepted values. The latest
    /// non-null value of the case counts; numbers and booleans compare as their text.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// From creation to the first customer-facing agent event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response: Option<TargetDefinition>,
    /// From the SLA start to the resolution. A case's own `sla_target_resolution_s` overrides
    /// it (counted on this policy's calendar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<TargetDefinition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetDefinition {
    /// Business seconds allowed.
    pub target_s: f64,
    /// Share of the target from which a running clock is `nearing` (default 0.75).
    #[serde(default = "default_warning_share")]
    pub warning_share: f64,
}

fn default_warning_share() -> f64 {
    0.75
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRules {
    /// Status reasons that pause the clocks while in force (e.g. `On Hold`, `Em Espera`;
    /// `standard` stands for the template's hold reasons, as in `HOLD_STATUS_REASONS`).
    #[serde(default)]
    pub status_reasons: Vec<String>,
    /// Pause from an `info_requested` to the case's next event.
    #[serde(default)]
    pub info_requested: bool,
}

impl PolicyDefinition {
    /// Checks the definition against the calendars that exist; every problem with a pointer.
    pub fn validate(&self, calendar_exists: impl Fn(&str) -> bool) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.len() > 200 {
            errors.push(FieldError::new("/name", "must be 1 to 200 characters"));
        }
        if !calendar_exists(&self.calendar_id) {
            errors.push(FieldError::new(
                "/calendar_id",
                format!(
                    "no calendar {:?} (GET /v1/calendars lists them)",
                    self.calendar_id
                ),
            ));
        }
        for (field, values) in self.match_rules.fields() {
            if values.is_some_and(|v| v.iter().all(|value| value.trim().is_empty())) {
                errors.push(FieldError::new(
                    format!("/match/{field}"),
                    "an empty list matches no case: give at least one value, or leave the field out",
                ));
            }
        }
        for (key, values) in &self.match_rules.attributes {
            if key.trim().is_empty() {
                errors.push(FieldError::new(
                    "/match/attributes",
                    "an attribute name must not be empty",
                ));
            } else if values.iter().all(|value| value.trim().is_empty()) {
                errors.push(FieldError::new(
                    format!("/match/attributes/{key}"),
                    "an empty list matches no case: give at least one value, or leave the attribute out",
                ));
            }
        }
        if self.is_default && !self.match_rules.is_empty() {
            errors.push(FieldError::new(
                "/match",
                "the default policy applies to the cases no other policy matches: it takes no match rules",
            ));
        }
        for (name, target) in [
            ("first_response", &self.targets.first_response),
            ("resolution", &self.targets.resolution),
        ] {
            let Some(target) = target else { continue };
            if !(target.target_s.is_finite() && target.target_s > 0.0) {
                errors.push(FieldError::new(
                    format!("/targets/{name}/target_s"),
                    "must be a positive number of seconds",
                ));
            }
            if !(target.warning_share > 0.0 && target.warning_share <= 1.0) {
                errors.push(FieldError::new(
                    format!("/targets/{name}/warning_share"),
                    "must be in (0, 1]",
                ));
            }
        }
        if self.targets.first_response.is_none() && self.targets.resolution.is_none() {
            errors.push(FieldError::new(
                "/targets",
                "give at least one target: first_response or resolution",
            ));
        }
        if let Some(pause) = &self.pause
            && pause.status_reasons.iter().any(|r| r.trim().is_empty())
        {
            errors.push(FieldError::new(
                "/pause/status_reasons",
                "status reasons must not be empty",
            ));
        }
        errors
    }
}

impl MatchRules {
    fn fields(&self) -> [(&'static str, Option<&Vec<String>>); 7] {
        [
            ("priority", self.priority.as_ref()),
            ("channel", self.channel.as_ref()),
            ("request_type", self.request_type.as_ref()),
            ("product", self.product.as_ref()),
            ("owner_team", self.owner_team.as_ref()),
            ("customer", self.customer.as_ref()),
            ("source_system", self.source_system.as_ref()),
        ]
    }

    fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, v)| v.is_none()) && self.attributes.is_empty()
    }

    /// Whether every condition holds for these attributes.
    pub fn matches(&self, case: &CaseAttributes<'_>) -> bool {
        let same = |a: &str, b: &str| {
            a.trim().eq_ignore_ascii_case(b.trim())
                || values::status_key(a) == values::status_key(b)
        };
        let holds = |rule: Option<&Vec<String>>, value: Option<&str>, also: Option<&str>| match rule
        {
            None => true,
            Some(allowed) => allowed
                .iter()
                .any(|a| value.is_some_and(|v| same(a, v)) || also.is_some_and(|v| same(a, v))),
        };
        holds(self.priority.as_ref(), case.priority, case.priority_level)
            && holds(self.channel.as_ref(), case.channel, None)
            && holds(self.request_type.as_ref(), case.request_type, None)
            && holds(self.product.as_ref(), case.product, None)
            && holds(self.owner_team.as_ref(), case.owner_team, None)
            && holds(self.customer.as_ref(), case.customer, None)
            && holds(self.source_system.as_ref(), case.source_system, None)
            && self.attributes.iter().all(|(key, allowed)| {
                let value = case
                    .extra
                    .and_then(|extra| extra.get(key))
                    .map(String::as_str);
                holds(Some(allowed), value, None)
            })
    }
}

/// The case attributes policies match on (the latest values).
#[derive(Debug, Clone, Copy, Default)]
pub struct CaseAttributes<'a> {
    pub priority: Option<&'a str>,
    /// The canonical level code of `priority`.
    pub priority_level: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub request_type: Option<&'a str>,
    pub product: Option<&'a str>,
    pub owner_team: Option<&'a str>,
    pub customer: Option<&'a str>,
    pub source_system: Option<&'a str>,
    /// The stored attributes policies name, latest values.
    pub extra: Option<&'a BTreeMap<String, String>>,
}

/// One stored version of a policy; `definition` is `None` for a retirement.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVersion {
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    pub definition: Option<PolicyDefinition>,
}

/// Every policy's and calendar's versions: what the clocks of all cases are computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlaSetup {
    /// Policy id -> versions sorted by effective instant.
    pub policies: BTreeMap<String, Vec<PolicyVersion>>,
    pub calendars: HashMap<String, CalendarVersions>,
}

/// The policy that applies to a case, and its calendar.
#[derive(Debug, Clone, Copy)]
pub struct AppliedPolicy<'a> {
    pub id: &'a str,
    pub version: i32,
    pub definition: &'a PolicyDefinition,
    pub calendar: &'a CalendarVersions,
}

impl SlaSetup {
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The stored attributes any policy version matches on (loaded with the events only then).
    pub fn attribute_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .policies
            .values()
            .flatten()
            .filter_map(|v| v.definition.as_ref())
            .flat_map(|d| d.match_rules.attributes.keys().map(String::as_str))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The policy in force at `created` (each policy's latest version effective by then) with
    /// the lowest rank whose rules match, else the default one; `None`: no policy applies.
    pub fn policy_for(
        &self,
        case: &CaseAttributes<'_>,
        created: DateTime<Utc>,
    ) -> Option<AppliedPolicy<'_>> {
        let mut candidates: Vec<(&str, &PolicyVersion, &PolicyDefinition)> = self
            .policies
            .iter()
            .filter_map(|(id, versions)| {
                let index = versions.partition_point(|v| v.effective_from <= created);
                let version = versions.get(index.checked_sub(1)?)?;
                Some((id.as_str(), version, version.definition.as_ref()?))
            })
            .collect();
        candidates.sort_by_key(|(id, _, def)| (def.is_default, def.rank, *id));
        let (id, version, definition) = candidates
            .into_iter()
            .find(|(_, _, def)| def.is_default || def.match_rules.matches(case))?;
        let calendar = self.calendars.get(&definition.calendar_id)?;
        Some(AppliedPolicy {
            id,
            version: version.version,
            definition,
            calendar,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: serde_json::Value) -> PolicyDefinition {
        serde_json::from_value(json).unwrap()
    }

    fn setup() -> SlaSetup {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let mut setup = SlaSetup::default();
        setup
            .calendars
            .insert("24x7".into(), CalendarVersions::always_open());
        setup.policies.insert(
            "urgent".into(),
            vec![PolicyVersion {
                version: 1,
                effective_from: at("2026-01-01T00:00:00Z"),
                definition: Some(policy(serde_json::json!({
                    "name": "Urgent", "rank": 1, "match": {"priority": ["urgent"]},
                    "targets": {"resolution": {"target_s": 3600}}
                }))),
            }],
        );
        setup.policies.insert(
            "standard".into(),
            vec![
                PolicyVersion {
                    version: 1,
                    effective_from: at("2026-01-01T00:00:00Z"),
                    definition: Some(policy(serde_json::json!({
                        "name": "Standard", "is_default": true,
                        "targets": {"resolution": {"target_s": 86400}}
                    }))),
                },
                PolicyVersion {
                    version: 2,
                    effective_from: at("2026-06-01T00:00:00Z"),
                    definition: None,
                },
            ],
        );
        setup
    }

    #[test]
    fn the_first_matching_policy_by_rank_applies_else_the_default() {
        let setup = setup();
        let created = "2026-03-01T00:00:00Z".parse().unwrap();
        let alta = CaseAttributes {
            priority: Some("Alta"),
            priority_level: Some("urgent"),
            ..Default::default()
        };
        assert_eq!(setup.policy_for(&alta, created).unwrap().id, "urgent");
        let low = CaseAttributes {
            priority: Some("Low"),
            ..Default::default()
        };
        assert_eq!(setup.policy_for(&low, created).unwrap().id, "standard");
        // Retired from June on; before January nothing was in force.
        assert!(
            setup
                .policy_for(&low, "2026-07-01T00:00:00Z".parse().unwrap())
                .is_none()
        );
        assert!(
            setup
                .policy_for(&low, "2025-07-01T00:00:00Z".parse().unwrap())
                .is_none()
        );
    }

    #[test]
    fn validation_names_every_bad_field() {
        let def = policy(serde_json::json!({
            "name": "", "is_default": true, "calendar_id": "nope",
            "match": {"channel": []},
            "targets": {"resolution": {"target_s": -1, "warning_share": 1.5}}
        }));
        let fields: Vec<String> = def
            .validate(|id| id == "24x7")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "/name",
                "/calendar_id",
                "/match/channel",
                "/match",
                "/targets/resolution/target_s",
                "/targets/resolution/warning_share"
            ]
        );
    }
}
