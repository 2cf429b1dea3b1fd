//! The query parameters of the KPI, process and reconciliation endpoints, one struct per
//! concern so each endpoint reads (and `/docs` lists) only the ones it uses, and their parsing
//! into the types the store takes. Parsing collects every offending field before answering.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::store::{Bucket, BucketUnit, DIMENSIONS, Filter};
use crate::validation::FieldError;

/// Case attributes every KPI and process view can be filtered by (equality).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    pub channel: Option<String>,
    /// The priority as written in the data (`High`, `Alto`, ...).
    pub priority: Option<String>,
    /// The canonical level: low, normal, high or urgent (`High` and `Alto` are both high).
    pub priority_level: Option<String>,
    pub request_type: Option<String>,
    pub product: Option<String>,
    pub owner_team: Option<String>,
    /// Current owner.
    pub agent: Option<String>,
    pub customer: Option<String>,
    /// The SLA policy that applied (`GET /v1/sla-policies`).
    pub sla_policy_id: Option<String>,
}

impl FilterParams {
    /// (column of [`DIMENSIONS`], value) for every filter given.
    fn equals(&self) -> Vec<(&'static str, String)> {
        [
            ("channel", &self.channel),
            ("priority", &self.priority),
            ("priority_level", &self.priority_level),
            ("request_type", &self.request_type),
            ("product", &self.product),
            ("owner_team", &self.owner_team),
            ("agent", &self.agent),
            ("customer", &self.customer),
            ("sla_policy_id", &self.sla_policy_id),
        ]
        .into_iter()
        .filter_map(|(column, value)| value.clone().map(|v| (column, v)))
        .collect()
    }

    /// The filter without a period (the backlog's: its instant replaces the period).
    pub fn without_period(&self) -> Filter {
        Filter {
            from: None,
            to: None,
            equals: self.equals(),
        }
    }
}

/// A period the endpoint requires.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// Start of the period (RFC 3339), included.
    #[param(required = true)]
    pub from: Option<DateTime<Utc>>,
    /// End of the period, excluded.
    #[param(required = true)]
    pub to: Option<DateTime<Utc>>,
}

/// A period the endpoint can do without (all cases when absent).
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OptionalPeriodParams {
    /// Start of the period (RFC 3339), included; cases created from then on.
    pub from: Option<DateTime<Utc>>,
    /// End of the period, excluded.
    pub to: Option<DateTime<Utc>>,
}

/// A period that is there: `from` < `to`.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

fn check_order(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    errors: &mut Vec<FieldError>,
) -> bool {
    if let (Some(from), Some(to)) = (from, to)
        && to <= from
    {
        errors.push(FieldError::new("to", "must be after from"));
        return false;
    }
    true
}

impl PeriodParams {
    /// The period, or None with the errors pushed.
    pub fn parse(&self, errors: &mut Vec<FieldError>) -> Option<Period> {
        let ordered = check_order(self.from, self.to, errors);
        match (self.from, self.to) {
            (Some(from), Some(to)) => ordered.then_some(Period { from, to }),
            _ => {
                errors.push(FieldError::new("from", "from and to are required"));
                None
            }
        }
    }
}

impl OptionalPeriodParams {
    /// The filter of the period's cases (all cases without one).
    pub fn filter(&self, filters: &FilterParams, errors: &mut Vec<FieldError>) -> Filter {
        check_order(self.from, self.to, errors);
        Filter {
            from: self.from,
            to: self.to,
            equals: filters.equals(),
        }
    }
}

impl Period {
    pub fn filter(&self, filters: &FilterParams) -> Filter {
        Filter {
            from: Some(self.from),
            to: Some(self.to),
            equals: filters.equals(),
        }
    }
}

/// Grouping of the results.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupParams {
    /// Comma-separated dimensions to group by: channel, priority, priority_level,
    /// request_type, product, owner_team, agent, customer, sla_policy_id (breaches by policy).
    pub group_by: Option<String>,
}

impl GroupParams {
    /// The dimensions, each once, in the order given.
    pub fn parse(&self, errors: &mut Vec<FieldError>) -> Vec<&'static str> {
        let mut groups = Vec::new();
        for name in self
            .group_by
            .iter()
            .flat_map(|g| g.split(','))
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            match DIMENSIONS.iter().find(|d| **d == name) {
                Some(dimension) if !groups.contains(dimension) => groups.push(*dimension),
                Some(_) => {}
                None => errors.push(FieldError::new(
                    "group_by",
                    format!("'{name}' is not one of {}", DIMENSIONS.join(", ")),
                )),
            }
        }
        groups
    }
}

/// The buckets of a time series.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BucketParams {
    /// hour, day (default), week (ISO, Monday) or month.
    pub bucket: Option<String>,
    /// IANA zone the buckets are cut in (default UTC); DST-correct.
    pub tz: Option<String>,
}

impl BucketParams {
    /// The bucket, checked against the period's length when there is one.
    pub fn parse(&self, period: Option<Period>, errors: &mut Vec<FieldError>) -> Option<Bucket> {
        let unit = BucketUnit::parse(self.bucket.as_deref().unwrap_or("day"));
        if unit.is_none() {
            errors.push(FieldError::new(
                "bucket",
                "must be hour, day, week or month",
            ));
        }
        let zone = self.tz.clone().unwrap_or_else(|| "UTC".into());
        if zone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError::new("tz", "is not an IANA time zone"));
        }
        let limit = match unit {
            Some(BucketUnit::Hour) => chrono::Duration::days(400),
            _ => chrono::Duration::days(366 * 20),
        };
        if let Some(period) = period
            && period.to - period.from > limit
        {
            errors.push(FieldError::new("to", "the period holds too many buckets"));
        }
        Some(Bucket { unit: unit?, zone })
    }
}

/// The backlog's instant.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstantParams {
    /// The instant (default now).
    pub at: Option<DateTime<Utc>>,
}

/// A page of a long list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The page size (default 50, at most 1000).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page size, and the cursor decoded by `decode` (None for the first page).
    pub fn parse<T>(
        &self,
        decode: impl FnOnce(&str) -> Option<T>,
        errors: &mut Vec<FieldError>,
    ) -> (usize, Option<T>) {
        let limit = self.limit.unwrap_or(50);
        if !(1..=1000).contains(&limit) {
            errors.push(FieldError::new("limit", "must be from 1 to 1000"));
        }
        let after = match self.cursor.as_deref().map(decode) {
            None => None,
            Some(Some(key)) => Some(key),
            Some(None) => {
                errors.push(FieldError::new(
                    "cursor",
                    "is not a cursor this endpoint returned",
                ));
                None
            }
        };
        (limit, after)
    }
}
