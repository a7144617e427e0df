//! When a send may go: quiet hours, retry backoff. Pure functions of the injected clock's time.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};

/// A daily quiet period in local time (`22:00-07:00`; it may wrap midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// `"HH:MM-HH:MM"`, or empty for none.
    pub fn parse(s: &str) -> Result<Option<QuietHours>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not like 22:00-07:00"))?;
        let t = |x: &str| {
            NaiveTime::parse_from_str(x.trim(), "%H:%M")
                .map_err(|_| format!("{x:?} is not a time like 07:00"))
        };
        let (start, end) = (t(a)?, t(b)?);
        if start == end {
            return Err(format!("{s:?} starts and ends at the same time"));
        }
        Ok(Some(QuietHours { start, end }))
    }

    /// When `now` falls inside the quiet hours (local time in `tz`), the moment they end; else `None`.
    pub fn end_if_quiet<Z: TimeZone>(&self, now: DateTime<Utc>, tz: &Z) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(tz).naive_local();
        let (day, t) = (local.date(), local.time());
        let end_day = if self.start < self.end {
            (self.start <= t && t < self.end).then_some(day)?
        } else if t >= self.start {
            day.succ_opt()?
        } else if t < self.end {
            day
        } else {
            return None;
        };
        let end_local = end_day.and_time(self.end);
        let end = tz
            .from_local_datetime(&end_local)
            .earliest()
            // The end falls in a DST gap: an hour later exists.
            .or_else(|| {
                tz.from_local_datetime(&end_local.checked_add_signed(Duration::hours(1))?)
                    .earliest()
            })?;
        Some(end.with_timezone(&Utc).max(now))
    }
}

/// The delay before retry number `attempt` (1 after the first failure): `base` doubled each time, at most `max`.
pub fn backoff(attempt: u32, base_seconds: u64, max_seconds: u64) -> Duration {
    let factor = 1u64
        .checked_shl(attempt.saturating_sub(1).min(30))
        .unwrap_or(u64::MAX);
    let secs = base_seconds
        .saturating_mul(factor)
        .min(max_seconds)
        .min(i64::MAX as u64 / 1000);
    Duration::try_seconds(secs as i64).unwrap_or(Duration::zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn quiet_hours_wrapping_midnight() {
        let q = QuietHours::parse("22:00-07:00").unwrap().unwrap();
        let kl = chrono_tz::Asia::Kuala_Lumpur;
        // 23:30 local (15:30 UTC) → ends 07:00 local next day (23:00 UTC).
        assert_eq!(
            q.end_if_quiet(utc("2026-12-07T15:30:00Z"), &kl),
            Some(utc("2026-12-07T23:00:00Z"))
        );
        // 03:00 local → 07:00 the same day.
        assert_eq!(
            q.end_if_quiet(utc("2026-12-07T19:00:00Z"), &kl),
            Some(utc("2026-12-07T23:00:00Z"))
        );
        // 07:00 local exactly and noon are not quiet.
        assert_eq!(q.end_if_quiet(utc("2026-12-07T23:00:00Z"), &kl), None);
        assert_eq!(q.end_if_quiet(utc("2026-12-08T04:00:00Z"), &kl), None);
    }

    #[test]
    fn quiet_hours_within_a_day_and_bad_input() {
        let q = QuietHours::parse("13:00-14:00").unwrap().unwrap();
        assert_eq!(
            q.end_if_quiet(utc("2026-12-07T13:30:00Z"), &Utc),
            Some(utc("2026-12-07T14:00:00Z"))
        );
        assert_eq!(q.end_if_quiet(utc("2026-12-07T14:00:00Z"), &Utc), None);
        assert_eq!(QuietHours::parse("").unwrap(), None);
        assert!(QuietHours::parse("22:00").is_err());
        assert!(QuietHours::parse("25:00-07:00").is_err());
        assert!(QuietHours::parse("07:00-07:00").is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1, 30, 3600), Duration::seconds(30));
        assert_eq!(backoff(2, 30, 3600), Duration::seconds(60));
        assert_eq!(backoff(4, 30, 3600), Duration::seconds(240));
        assert_eq!(backoff(40, 30, 3600), Duration::seconds(3600));
        assert!(backoff(u32::MAX, u64::MAX, u64::MAX) > Duration::zero());
    }
}
