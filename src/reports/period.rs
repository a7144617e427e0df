//! Report periods: a day, a week starting Monday, or a calendar month, in the appliance's time zone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Daily,
    Weekly,
    Monthly,
}

impl PeriodKind {
    pub fn parse(s: &str) -> Option<PeriodKind> {
        match s {
            "daily" => Some(PeriodKind::Daily),
            "weekly" => Some(PeriodKind::Weekly),
            "monthly" => Some(PeriodKind::Monthly),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Daily => "daily",
            PeriodKind::Weekly => "weekly",
            PeriodKind::Monthly => "monthly",
        }
    }
}

/// A resolved period: its local dates (first and last day, inclusive) and the UTC instants it covers,
/// `from` inclusive and `to` exclusive.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Period {
    pub kind: PeriodKind,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("date: {0}")]
pub struct PeriodError(pub String);

/// The first instant of a local day in `tz` (the earliest when midnight repeats; the first hour that exists when a
/// DST change skips midnight).
pub fn day_start(d: NaiveDate, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    (0..3).find_map(|h| {
        d.and_hms_opt(h, 0, 0)
            .and_then(|t| tz.from_local_datetime(&t).earliest())
            .map(|t| t.with_timezone(&Utc))
    })
}

impl Period {
    /// The period of `kind` that contains the local date `date`.
    pub fn containing(
        kind: PeriodKind,
        date: NaiveDate,
        tz: chrono_tz::Tz,
    ) -> Result<Period, PeriodError> {
        let out_of_range = || PeriodError(format!("{date} is out of range"));
        let (first, next) = match kind {
            PeriodKind::Daily => (date, date.succ_opt().ok_or_else(out_of_range)?),
            PeriodKind::Weekly => {
                let back = i64::from(date.weekday().num_days_from_monday());
                let first = date
                    .checked_sub_signed(Duration::days(back))
                    .ok_or_else(out_of_range)?;
                (
                    first,
                    first
                        .checked_add_signed(Duration::days(7))
                        .ok_or_else(out_of_range)?,
                )
            }
            PeriodKind::Monthly => {
                let first = date.with_day(1).ok_or_else(out_of_range)?;
                let next = if first.month() == 12 {
                    NaiveDate::from_ymd_opt(
                        first.year().checked_add(1).ok_or_else(out_of_range)?,
                        1,
                        1,
                    )
                } else {
                    NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
                }
                .ok_or_else(out_of_range)?;
                (first, next)
            }
        };
        let last = next.pred_opt().ok_or_else(out_of_range)?;
        let from = day_start(first, tz).ok_or_else(out_of_range)?;
        let to = day_start(next, tz).ok_or_else(out_of_range)?;
        Ok(Period {
            kind,
            first_day: first,
            last_day: last,
            from,
            to,
            timezone: tz.name().to_string(),
        })
    }

    /// The period of the same kind just before this one (for comparisons).
    pub fn previous(&self, tz: chrono_tz::Tz) -> Result<Period, PeriodError> {
        let day = self
            .first_day
            .pred_opt()
            .ok_or_else(|| PeriodError(format!("{} has no previous period", self.first_day)))?;
        Period::containing(self.kind, day, tz)
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.from && t < self.to
    }

    /// A short name: `2026-12-07`, `2026-W50` (ISO week), `2026-12`.
    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::Daily => self.first_day.format("%Y-%m-%d").to_string(),
            PeriodKind::Weekly => {
                let w = self.first_day.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            PeriodKind::Monthly => self.first_day.format("%Y-%m").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_start_at_local_midnight_weeks_on_monday_and_months_roll_over_the_year() {
        let kl = chrono_tz::Asia::Kuala_Lumpur;
        let p = Period::containing(PeriodKind::Daily, d(2026, 12, 7), kl).unwrap();
        assert_eq!(p.from.to_rfc3339(), "2026-12-06T16:00:00+00:00");
        assert_eq!(p.to.to_rfc3339(), "2026-12-07T16:00:00+00:00");
        // 2026-12-10 is a Thursday: its week is Monday 7th to Sunday 13th.
        let w = Period::containing(PeriodKind::Weekly, d(2026, 12, 10), kl).unwrap();
        assert_eq!((w.first_day, w.last_day), (d(2026, 12, 7), d(2026, 12, 13)));
        assert_eq!(w.label(), "2026-W50");
        assert_eq!(w.previous(kl).unwrap().first_day, d(2026, 11, 30));
        // A Sunday belongs to the week that started six days before.
        let s = Period::containing(PeriodKind::Weekly, d(2026, 12, 13), kl).unwrap();
        assert_eq!(s.first_day, d(2026, 12, 7));
        let m = Period::containing(PeriodKind::Monthly, d(2026, 12, 31), kl).unwrap();
        assert_eq!((m.first_day, m.last_day), (d(2026, 12, 1), d(2026, 12, 31)));
        assert_eq!(m.to.to_rfc3339(), "2026-12-31T16:00:00+00:00");
        let prev = m.previous(kl).unwrap();
        assert_eq!(
            (prev.first_day, prev.last_day),
            (d(2026, 11, 1), d(2026, 11, 30))
        );
        let jan = Period::containing(PeriodKind::Monthly, d(2027, 1, 15), kl).unwrap();
        assert_eq!(jan.previous(kl).unwrap().label(), "2026-12");
    }

    #[test]
    fn a_day_without_a_midnight_starts_at_its_first_hour_and_a_dst_day_is_23_hours() {
        // Santiago skips 00:00 -> 01:00 on 2026-09-06.
        let cl = chrono_tz::America::Santiago;
        let p = Period::containing(PeriodKind::Daily, d(2026, 9, 6), cl).unwrap();
        assert_eq!(p.to - p.from, Duration::hours(23));
        // The last representable date has no next day: an error, not a panic.
        assert!(Period::containing(PeriodKind::Daily, NaiveDate::MAX, cl).is_err());
        assert!(Period::containing(PeriodKind::Monthly, NaiveDate::MAX, cl).is_err());
    }
}
