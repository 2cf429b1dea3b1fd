//! Open time of a business-hours calendar by arithmetic instead of walking days.
//!
//! A case that stays open for years (BPIC 2013's never resolve) would otherwise map every
//! local day of its window to instants for each clock of each recomputation. The table maps
//! each local day once per calendar version, keeps a running total of open time, and answers
//! "open time between two instants" and "when is this much open time reached" by binary search.

use std::{
    ops::RangeInclusive,
    sync::{Arc, RwLock},
};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use super::calendar::Span;

/// More local years than this in one table means instants no SLA clock meets; callers fall
/// back to walking days.
const MAX_YEARS: i32 = 400;

/// A calendar's open spans over whole local years, with running totals.
#[derive(Debug)]
pub struct OpenTimeTable {
    years: RangeInclusive<i32>,
    starts: Vec<DateTime<Utc>>,
    ends: Vec<DateTime<Utc>>,
    /// `before[i]`: open time of spans `0..i` (one more entry than spans).
    before: Vec<TimeDelta>,
}

impl OpenTimeTable {
    /// `spans` must be sorted and non-overlapping (touching is fine): local days in order.
    fn new(years: RangeInclusive<i32>, spans: impl IntoIterator<Item = Span>) -> Self {
        let mut table = OpenTimeTable {
            years,
            starts: Vec::new(),
            ends: Vec::new(),
            before: vec![TimeDelta::zero()],
        };
        let mut total = TimeDelta::zero();
        for span in spans {
            total += span.end - span.start;
            table.starts.push(span.start);
            table.ends.push(span.end);
            table.before.push(total);
        }
        table
    }

    /// Open time of the table's spans before `t`.
    fn open_before(&self, t: DateTime<Utc>) -> TimeDelta {
        let i = self.ends.partition_point(|end| *end <= t);
        let mut total = self.before[i];
        if let Some(&start) = self.starts.get(i)
            && start < t
        {
            total += t - start;
        }
        total
    }

    /// Open time in `[from, to)`.
    pub fn open_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return TimeDelta::zero();
        }
        self.open_before(to) - self.open_before(from)
    }

    /// The instant after `from` at which `amount` (> 0) of open time has passed, or with
    /// `beyond` the infimum of the instants at which more than `amount` has (the next
    /// opening when `amount` is used up exactly at a closing). `None` past the table's end.
    pub fn reach(
        &self,
        from: DateTime<Utc>,
        amount: TimeDelta,
        beyond: bool,
    ) -> Option<DateTime<Utc>> {
        let goal = self.open_before(from) + amount.max(TimeDelta::zero());
        let totals_through = &self.before[1..];
        let i = if beyond {
            totals_through.partition_point(|total| *total <= goal)
        } else {
            totals_through.partition_point(|total| *total < goal)
        };
        let start = *self.starts.get(i)?;
        Some((start + (goal - self.before[i])).max(from))
    }
}

/// A table built on first use and widened when a query reaches past it; shared by every
/// thread that computes clocks on the same calendar version.
#[derive(Debug, Default)]
pub struct OpenTimeCache {
    table: RwLock<Option<Arc<OpenTimeTable>>>,
}

impl OpenTimeCache {
    /// A table covering the local years `needed`, or `None` when that range is absurd.
    /// `day_spans` maps one local date to its open spans, in order.
    pub fn covering<I>(
        &self,
        needed: RangeInclusive<i32>,
        day_spans: impl Fn(NaiveDate) -> I,
    ) -> Option<Arc<OpenTimeTable>>
    where
        I: IntoIterator<Item = Span>,
    {
        let covers =
            |t: &OpenTimeTable| t.years.start() <= needed.start() && t.years.end() >= needed.end();
        if let Some(table) = self.read().as_ref().filter(|t| covers(t)) {
            return Some(Arc::clone(table));
        }
        let mut slot = self
            .table
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(table) = slot.as_ref().filter(|t| covers(t)) {
            return Some(Arc::clone(table));
        }
        // Widen generously so a stream of slightly later clocks does not rebuild each time.
        let (mut first, mut last) = (*needed.start() - 1, *needed.end() + 1);
        if let Some(old) = slot.as_ref() {
            first = first.min(*old.years.start());
            last = last.max(*old.years.end());
        }
        if last - first > MAX_YEARS {
            return None;
        }
        let from = NaiveDate::from_ymd_opt(first, 1, 1)?;
        let to = NaiveDate::from_ymd_opt(last, 12, 31)?;
        let spans = from
            .iter_days()
            .take_while(|d| *d <= to)
            .flat_map(&day_spans);
        let table = Arc::new(OpenTimeTable::new(first..=last, spans));
        *slot = Some(Arc::clone(&table));
        Some(table)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Arc<OpenTimeTable>>> {
        self.table
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A cache is derived data: copies start empty and comparisons ignore it.
impl Clone for OpenTimeCache {
    fn clone(&self) -> Self {
        OpenTimeCache::default()
    }
}

impl PartialEq for OpenTimeCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The local years a table needs to answer for `[from, to)` on a calendar whose days' spans
/// can begin up to a day before their date's midnight in UTC terms.
pub fn years_for(
    local_date: impl Fn(DateTime<Utc>) -> NaiveDate,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<RangeInclusive<i32>> {
    let first = local_date(from).pred_opt()?.year();
    let last = local_date(to).succ_opt()?.year();
    Some(first..=last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn table() -> OpenTimeTable {
        let span = |a: &str, b: &str| Span {
            start: t(a),
            end: t(b),
        };
        OpenTimeTable::new(
            2026..=2026,
            [
                span("2026-03-02T09:00:00Z", "2026-03-02T18:00:00Z"),
                span("2026-03-02T18:00:00Z", "2026-03-02T20:00:00Z"),
                span("2026-03-03T09:00:00Z", "2026-03-03T18:00:00Z"),
            ],
        )
    }

    #[test]
    fn open_time_clips_to_the_query() {
        let table = table();
        let open = |a, b| table.open_time(t(a), t(b)).num_minutes();
        assert_eq!(
            open("2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z"),
            20 * 60
        );
        assert_eq!(
            open("2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z"),
            11 * 60
        );
        assert_eq!(open("2026-03-02T21:00:00Z", "2026-03-03T08:00:00Z"), 0);
        assert_eq!(open("2026-03-03T10:00:00Z", "2026-03-02T10:00:00Z"), 0);
    }

    #[test]
    fn reach_stops_at_a_closing_but_beyond_it_is_the_next_opening() {
        let table = table();
        let from = t("2026-03-02T10:00:00Z");
        let reach = |hours, beyond| table.reach(from, TimeDelta::hours(hours), beyond);
        assert_eq!(reach(3, false), Some(t("2026-03-02T13:00:00Z")));
        assert_eq!(reach(3, true), Some(t("2026-03-02T13:00:00Z")));
        // Touching spans: 10 hours end at 20:00 and more than 10 start after it.
        assert_eq!(reach(10, false), Some(t("2026-03-02T20:00:00Z")));
        assert_eq!(reach(10, true), Some(t("2026-03-03T09:00:00Z")));
        assert_eq!(reach(8, true), Some(t("2026-03-02T18:00:00Z")));
        assert_eq!(reach(19, false), Some(t("2026-03-03T18:00:00Z")));
        assert_eq!(reach(19, true), None);
        // From a closed instant, zero beyond is the next opening.
        let night = t("2026-03-02T22:00:00Z");
        assert_eq!(
            table.reach(night, TimeDelta::zero(), true),
            Some(t("2026-03-03T09:00:00Z"))
        );
    }
}
