//! The values of the template's columns in English and Portuguese, as its own examples write
//! them: booleans, the system agent, priorities and status reasons meaning "on hold".
//!
//! Pure functions; matching ignores case, surrounding spaces and (for words) accents, so
//! `não`, `Nao` and `NÃO` are the same answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Lower case, trimmed, with the Portuguese accents removed (`Não` → `nao`).
fn fold(text: &str) -> String {
    let text = text.trim();
    // Most values are ASCII: the same result without decoding characters (recomputations fold
    // every event's agent and status reason).
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    fold_characters(text)
}

fn fold_characters(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'ê' | 'è' => 'e',
            'í' | 'ì' => 'i',
            'ó' | 'ô' | 'õ' | 'ò' => 'o',
            'ú' | 'ü' | 'ù' => 'u',
            'ç' => 'c',
            other => other,
        })
        .collect()
}

/// A boolean in English or Portuguese: `true`/`false`, `verdadeiro`/`falso`, `sim`/`não`,
/// `yes`/`no`, `1`/`0` (and `t`/`f`, `y`/`n`, `v`, `s`). `None` for anything else.
pub fn parse_bool(text: &str) -> Option<bool> {
    match fold(text).as_str() {
        "true" | "t" | "yes" | "y" | "1" | "verdadeiro" | "v" | "sim" | "s" => Some(true),
        "false" | "f" | "no" | "n" | "0" | "falso" | "nao" => Some(false),
        _ => None,
    }
}

/// The message of a value [`parse_bool`] refuses.
pub fn bool_error(text: &str) -> String {
    format!("'{text}' is not a boolean (true/false, verdadeiro/falso, sim/não, yes/no, 1/0)")
}

/// The automatic agent of the template: `System`, or `Sistema` in Portuguese files. Its events
/// are not an agent's work (no owner, no first response).
pub fn is_system_agent(agent: &str) -> bool {
    let agent = agent.trim();
    if agent.is_ascii() {
        // `fold` without allocating: asked of every event.
        return agent.eq_ignore_ascii_case("system") || agent.eq_ignore_ascii_case("sistema");
    }
    matches!(fold(agent).as_str(), "system" | "sistema")
}

/// The canonical order of priorities, lowest first. The text of a case's priority is kept as
/// given (for display); this is what sorts and compares it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PriorityLevel {
    /// `Low`, `Baixo`, `Baixa`.
    Low,
    /// `Normal`, `Medium`, `Média`, `Médio`.
    Normal,
    /// `High`, `Alto`, `Alta`.
    High,
    /// `Urgent`, `Urgente`, `Critical`, `Crítica`.
    Urgent,
}

impl PriorityLevel {
    /// The level of a priority text in English or Portuguese; `None` for other labels.
    pub fn parse(text: &str) -> Option<PriorityLevel> {
        Some(match fold(text).as_str() {
            "low" | "baixo" | "baixa" | "1" => PriorityLevel::Low,
            "normal" | "medium" | "media" | "medio" | "2" => PriorityLevel::Normal,
            "high" | "alto" | "alta" | "3" => PriorityLevel::High,
            "urgent" | "urgente" | "critical" | "critico" | "critica" | "4" => {
                PriorityLevel::Urgent
            }
            _ => return None,
        })
    }

    /// The snake_case code, as stored in `cases.priority_level`.
    pub fn code(self) -> &'static str {
        match self {
            PriorityLevel::Low => "low",
            PriorityLevel::Normal => "normal",
            PriorityLevel::High => "high",
            PriorityLevel::Urgent => "urgent",
        }
    }
}

/// The status reasons that mean "waiting on the customer" in the template's English and
/// Portuguese: what `HOLD_STATUS_REASONS=standard` stands for.
pub const STANDARD_HOLD_REASONS: [&str; 4] = [
    "On Hold",
    "Em Espera",
    "Waiting for Details",
    "Aguardando Cliente",
];

/// Expands a configured hold set: the word `standard` stands for [`STANDARD_HOLD_REASONS`];
/// other entries are kept (trimmed, blanks dropped, no duplicates).
pub fn expand_hold_reasons(configured: &[String]) -> Vec<String> {
    let mut reasons: Vec<String> = Vec::new();
    for entry in configured
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
    {
        let expanded: Vec<&str> = if entry.eq_ignore_ascii_case("standard") {
            STANDARD_HOLD_REASONS.to_vec()
        } else {
            vec![entry]
        };
        for reason in expanded {
            if !reasons.iter().any(|r| fold(r) == fold(reason)) {
                reasons.push(reason.to_owned());
            }
        }
    }
    reasons
}

/// A status reason as the hold set matches it (case, spaces and accents ignored).
pub fn status_key(reason: &str) -> String {
    fold(reason)
}

/// A duration in seconds, as the template writes them (`259200`, `86400.0`, `14400,5`).
pub fn parse_seconds(text: &str) -> Option<f64> {
    let value: f64 = text.trim().replace(',', ".").parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_shortcut_folds_as_the_characters_do() {
        for text in [
            "On Hold",
            "  EM ESPERA ",
            "System",
            "x-Y_z 09",
            "",
            "\tTab\n",
        ] {
            assert_eq!(fold(text), fold_characters(text.trim()), "{text:?}");
        }
        assert_eq!(fold(" Não "), "nao");
    }

    #[test]
    fn booleans_in_english_and_portuguese() {
        for yes in ["true", "TRUE", " Verdadeiro ", "sim", "Yes", "1"] {
            assert_eq!(parse_bool(yes), Some(true), "{yes}");
        }
        for no in ["false", "Falso", "não", "NAO", "no", "0"] {
            assert_eq!(parse_bool(no), Some(false), "{no}");
        }
        for neither in ["", "talvez", "2", "yess"] {
            assert_eq!(parse_bool(neither), None, "{neither}");
        }
    }

    #[test]
    fn the_system_agent_in_both_languages() {
        assert!(is_system_agent("System"));
        assert!(is_system_agent(" SISTEMA "));
        assert!(!is_system_agent("Sistemas Lda"));
    }

    #[test]
    fn priorities_have_a_canonical_order() {
        let level = |t| PriorityLevel::parse(t).unwrap();
        assert_eq!(level("Baixo"), PriorityLevel::Low);
        assert_eq!(level("baixa"), PriorityLevel::Low);
        assert_eq!(level("Normal"), PriorityLevel::Normal);
        assert_eq!(level("ALTA"), PriorityLevel::High);
        assert_eq!(level("Urgente"), PriorityLevel::Urgent);
        assert!(level("Low") < level("Normal") && level("Alto") < level("Urgent"));
        assert_eq!(PriorityLevel::parse("P7"), None);
    }

    #[test]
    fn the_standard_hold_set_expands_and_dedupes() {
        let reasons = expand_hold_reasons(&[
            "standard".into(),
            " em espera ".into(),
            "Pending Vendor".into(),
            "".into(),
        ]);
        assert_eq!(
            reasons,
            [
                "On Hold",
                "Em Espera",
                "Waiting for Details",
                "Aguardando Cliente",
                "Pending Vendor"
            ]
        );
        assert_eq!(status_key("Informação Fornecida"), "informacao fornecida");
    }

    #[test]
    fn seconds_as_the_template_writes_them() {
        assert_eq!(parse_seconds("259200"), Some(259_200.0));
        assert_eq!(parse_seconds("14400,5"), Some(14_400.5));
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("3 days"), None);
    }
}
