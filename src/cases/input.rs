//! Incoming events: the JSON shape of `POST /v1/events`, the validated [`NewEvent`] every
//! importer produces, and timestamp parsing (offsets honoured; no offset: a configured zone).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::metrics::Reported;
use crate::validation::FieldError;

/// One event as sent to `POST /v1/events` (field names are the template's columns).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EventInput {
    pub case_id: Option<String>,
    /// Activity name: a canonical code, its English or Portuguese name, or a mapped label.
    pub activity: Option<String>,
    /// RFC 3339 (offset honoured) or without offset (read in the configured zone).
    #[schema(example = "2026-03-02T09:15:00Z")]
    pub event_time: Option<String>,
    /// Makes re-sending idempotent. Without it the natural key (case, activity, time, agent) is.
    pub event_id: Option<String>,
    pub lifecycle: Option<String>,
    pub source_system: Option<String>,
    pub channel: Option<String>,
    pub sla_target_resolution_s: Option<f64>,
    pub status_reason: Option<String>,
    pub agent: Option<String>,
    pub customer: Option<String>,
    pub priority: Option<String>,
    pub request_type: Option<String>,
    pub owner_team: Option<String>,
    pub is_escalated: Option<bool>,
    pub knowledge_article_id: Option<String>,
    /// 1 to 5.
    pub csat: Option<i64>,
    pub product: Option<String>,
    /// The template's `LastDataUpdate`: when the source data was extracted. The latest one
    /// becomes the `data_as_of` of KPIs.
    pub last_data_update: Option<String>,
    /// The template's `IsFirstContactResolution` as the source computed it (kept as reported,
    /// see `GET /v1/reconciliation`).
    pub reported_first_contact_resolution: Option<bool>,
    /// The template's `IsRework` as reported.
    pub reported_rework: Option<bool>,
    /// The template's `IsSlaBreached` as reported.
    pub reported_sla_breached: Option<bool>,
    /// The template's `ServiceRequestCycleTime` as reported, in seconds.
    pub reported_cycle_time_s: Option<f64>,
    /// Any further attributes, kept as JSON.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: BTreeMap<String, Value>,
}

/// A validated event, ready to store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewEvent {
    pub case_id: String,
    pub activity: String,
    pub event_time: DateTime<Utc>,
    pub event_id: Option<String>,
    pub lifecycle: Option<String>,
    pub source_system: Option<String>,
    pub channel: Option<String>,
    pub sla_target_resolution_s: Option<f64>,
    pub status_reason: Option<String>,
    pub agent: Option<String>,
    pub customer: Option<String>,
    pub priority: Option<String>,
    pub request_type: Option<String>,
    pub owner_team: Option<String>,
    pub is_escalated: Option<bool>,
    pub knowledge_article_id: Option<String>,
    pub csat: Option<i16>,
    pub product: Option<String>,
    /// The template's `LastDataUpdate`.
    pub last_data_update: Option<DateTime<Utc>>,
    /// The template's derived columns, as reported.
    pub reported: Reported,
    pub attributes: BTreeMap<String, Value>,
    /// For events without an id read from a file: how many earlier rows of the same file had
    /// the same natural key. Real logs repeat identical events (helpdesk: 127), and a file is
    /// a record of what happened, so those are distinct events; re-importing the file gives
    /// the same occurrences, so it still dedupes.
    pub occurrence: u32,
}

impl NewEvent {
    /// The idempotence key: the caller's event id, else the natural key.
    pub fn event_key(&self) -> [u8; 16] {
        let mut hasher = Sha256::new();
        match &self.event_id {
            Some(id) => {
                hasher.update(b"id\x1f");
                hasher.update(id.as_bytes());
            }
            None => {
                hasher.update(b"nk\x1f");
                hasher.update(self.activity.as_bytes());
                hasher.update(b"\x1f");
                hasher.update(self.event_time.timestamp_micros().to_le_bytes());
                hasher.update(b"\x1f");
                hasher.update(self.agent.as_deref().unwrap_or("").as_bytes());
                if self.occurrence > 0 {
                    hasher.update(b"\x1f");
                    hasher.update(self.occurrence.to_le_bytes());
                }
            }
        }
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        key
    }
}

/// Longest accepted text value (case ids, names, attributes).
const MAX_TEXT: usize = 500;

impl EventInput {
    /// Validates every field, naming each offending one as `prefix` + name (a JSON pointer such as `/events/3/`).
    pub fn validate(self, zone: Tz, prefix: &str) -> Result<NewEvent, Vec<FieldError>> {
        let mut errors = Vec::new();
        let field = |name: &str| format!("{prefix}{name}");
        let case_id = required_text(self.case_id, &field("case_id"), &mut errors);
        let activity = required_text(self.activity, &field("activity"), &mut errors);
        let event_time = match self.event_time.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(FieldError::new(field("event_time"), "is required"));
                None
            }
            Some(text) => match parse_timestamp(text, zone, None) {
                Ok(time) => Some(time),
                Err(message) => {
                    errors.push(FieldError::new(field("event_time"), message));
                    None
                }
            },
        };
        if let Some(target) = self.sla_target_resolution_s
            && !(target.is_finite() && target >= 0.0)
        {
            errors.push(FieldError::new(
                field("sla_target_resolution_s"),
                "must be a non-negative number of seconds",
            ));
        }
        if let Some(reported) = self.reported_cycle_time_s
            && !(reported.is_finite() && reported >= 0.0)
        {
            errors.push(FieldError::new(
                field("reported_cycle_time_s"),
                "must be a non-negative number of seconds",
            ));
        }
        let last_data_update = match self.last_data_update.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => match parse_timestamp(text, zone, None) {
                Ok(time) => Some(time),
                Err(message) => {
                    errors.push(FieldError::new(field("last_data_update"), message));
                    None
                }
            },
        };
        if case_id
            .as_ref()
            .is_some_and(|id| id.chars().count() > MAX_CASE_ID)
        {
            errors.push(FieldError::new(
                field("case_id"),
                format!("is longer than {MAX_CASE_ID} characters"),
            ));
        }
        if let Some(time) = event_time
            && !(1..=9999).contains(&chrono::Datelike::year(&time))
        {
            errors.push(FieldError::new(
                field("event_time"),
                "the year must be from 1 to 9999",
            ));
        }
        for (key, value) in &self.extra {
            if key.contains('\0') || json_has_nul(value) {
                errors.push(FieldError::new(field(key), "contains a NUL character"));
            }
        }
        let csat = match self.csat {
            None => None,
            Some(score @ 1..=5) => Some(score as i16),
            Some(_) => {
                errors.push(FieldError::new(
                    field("csat"),
                    "must be an integer from 1 to 5",
                ));
                None
            }
        };
        let mut text =
            |value: Option<String>, name: &str| optional_text(value, &field(name), &mut errors);
        let event = NewEvent {
            event_id: text(self.event_id, "event_id"),
            lifecycle: text(self.lifecycle, "lifecycle"),
            source_system: text(self.source_system, "source_system"),
            channel: text(self.channel, "channel"),
            status_reason: text(self.status_reason, "status_reason"),
            agent: text(self.agent, "agent"),
            customer: text(self.customer, "customer"),
            priority: text(self.priority, "priority"),
            request_type: text(self.request_type, "request_type"),
            owner_team: text(self.owner_team, "owner_team"),
            knowledge_article_id: text(self.knowledge_article_id, "knowledge_article_id"),
            product: text(self.product, "product"),
            case_id: case_id.unwrap_or_default(),
            activity: activity.unwrap_or_default(),
            event_time: event_time.unwrap_or_default(),
            sla_target_resolution_s: self.sla_target_resolution_s,
            is_escalated: self.is_escalated,
            csat,
            last_data_update,
            reported: Reported {
                first_contact_resolution: self.reported_first_contact_resolution,
                rework: self.reported_rework,
                sla_breached: self.reported_sla_breached,
                cycle_time_s: self.reported_cycle_time_s,
            },
            attributes: self.extra,
            occurrence: 0,
        };
        if errors.is_empty() {
            Ok(event)
        } else {
            Err(errors)
        }
    }
}

fn required_text(
    value: Option<String>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match value.map(|v| v.trim().to_owned()) {
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        Some(v) if v.is_empty() => {
            errors.push(FieldError::new(field, "must not be empty"));
            None
        }
        Some(v) => optional_text(Some(v), field, errors),
    }
}

/// Empty text is no value; over-long text is an error.
fn optional_text(
    value: Option<String>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())?;
    if value.chars().count() > MAX_TEXT {
        errors.push(FieldError::new(
            field,
            format!("is longer than {MAX_TEXT} characters"),
        ));
        return None;
    }
    // PostgreSQL text cannot hold NUL: refuse it here rather than fail mid-import.
    if value.contains('\0') {
        errors.push(FieldError::new(field, "contains a NUL character"));
        return None;
    }
    Some(value)
}

/// Longest case id (the `events.case_id` column allows 200 characters).
const MAX_CASE_ID: usize = 200;

/// Extra attributes end up in `jsonb`, which cannot hold NUL either.
fn json_has_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(json_has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

/// Parses a timestamp: RFC 3339 / ISO 8601 with an offset (honoured), or without an offset
/// (read in `zone`). `format` is a chrono format string for zone-less input (e.g. the UCI log's
/// day-first `%d/%m/%Y %H:%M`).
pub fn parse_timestamp(
    text: &str,
    zone: Tz,
    format: Option<&str>,
) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Some(format) = format {
        if let Ok(time) = DateTime::parse_from_str(text, format) {
            return Ok(time.with_timezone(&Utc));
        }
        return match NaiveDateTime::parse_from_str(text, format) {
            Ok(naive) => in_zone(naive, zone, text),
            Err(_) => Err(format!(
                "'{text}' does not match the time format '{format}'"
            )),
        };
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    // ISO 8601 variants: space separator, offset without colon.
    for with_offset in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(time) = DateTime::parse_from_str(text, with_offset) {
            return Ok(time.with_timezone(&Utc));
        }
    }
    for naive in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, naive) {
            return in_zone(time, zone, text);
        }
    }
    Err(format!("'{text}' is not an RFC 3339 / ISO 8601 timestamp"))
}

/// A local time in `zone`. In a DST fold the earlier instant is taken; a time in a DST gap
/// does not exist and is an error.
fn in_zone(naive: NaiveDateTime, zone: Tz, text: &str) -> Result<DateTime<Utc>, String> {
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|time| time.with_timezone(&Utc))
        .ok_or_else(|| format!("'{text}' does not exist in time zone {zone} (DST gap)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_honour_offsets_and_read_naive_times_in_the_zone() {
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            parse_timestamp("2026-03-02T11:30:05.000+02:00", Tz::UTC, None).unwrap(),
            utc("2026-03-02T09:30:05Z")
        );
        assert_eq!(
            parse_timestamp("2026-03-02 11:30:05", Tz::UTC, None).unwrap(),
            utc("2026-03-02T11:30:05Z")
        );
        assert_eq!(
            parse_timestamp("2026-07-01 12:00", chrono_tz::Europe::Lisbon, None).unwrap(),
            utc("2026-07-01T11:00:00Z")
        );
        assert_eq!(
            parse_timestamp("5/3/2026 12:00", Tz::UTC, Some("%d/%m/%Y %H:%M")).unwrap(),
            utc("2026-03-05T12:00:00Z")
        );
        assert!(parse_timestamp("2026-03-29 01:30", chrono_tz::Europe::Lisbon, None).is_err());
        assert!(
            parse_timestamp("yesterday", Tz::UTC, None)
                .unwrap_err()
                .contains("yesterday")
        );
    }

    #[test]
    fn validation_names_every_bad_field() {
        let input = EventInput {
            case_id: Some(" ".into()),
            event_time: Some("nope".into()),
            csat: Some(9),
            sla_target_resolution_s: Some(-1.0),
            ..Default::default()
        };
        let errors = input.validate(Tz::UTC, "/events/2/").unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "/events/2/case_id",
                "/events/2/activity",
                "/events/2/event_time",
                "/events/2/sla_target_resolution_s",
                "/events/2/csat"
            ]
        );
    }

    #[test]
    fn values_postgres_cannot_store_are_refused_up_front() {
        let input = EventInput {
            case_id: Some("C".repeat(201)),
            activity: Some("Case Created".into()),
            event_time: Some("2026-01-01T00:00:00Z".into()),
            agent: Some("a\0b".into()),
            extra: [("note".to_owned(), Value::String("x\0".into()))].into(),
            ..Default::default()
        };
        let errors = input.validate(Tz::UTC, "/").unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["/case_id", "/note", "/agent"]);
    }

    #[test]
    fn the_natural_key_dedupes_without_an_event_id() {
        let event = |agent: Option<&str>| NewEvent {
            case_id: "C1".into(),
            activity: "Case Created".into(),
            agent: agent.map(Into::into),
            ..Default::default()
        };
        assert_eq!(
            event(Some("ana")).event_key(),
            event(Some("ana")).event_key()
        );
        assert_ne!(
            event(Some("ana")).event_key(),
            event(Some("rui")).event_key()
        );
        let with_id = NewEvent {
            event_id: Some("e1".into()),
            ..event(Some("ana"))
        };
        assert_ne!(with_id.event_key(), event(Some("ana")).event_key());
    }
}
