//! SLA policies: time to respond (first update / acknowledgement) and time to resolve, per (category?, priority),
//! optionally counted in business hours of the site's timezone.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::classify::types::{Category, Priority};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaTarget {
    pub respond_within_mins: i64,
    pub resolve_within_mins: i64,
    /// Count wall-clock time even when the policy has business hours (e.g. urgent issues).
    #[serde(default)]
    pub around_the_clock: bool,
}

/// A target for a category (None = any) and a priority (None = any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaRule {
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub priority: Option<Priority>,
    pub target: SlaTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    /// Local start and end of the working day (`end` > `start`).
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub weekdays: Vec<Weekday>,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

impl BusinessHours {
    fn is_usable(&self) -> bool {
        self.end > self.start && !self.weekdays.is_empty()
    }
    fn works_on(&self, d: NaiveDate) -> bool {
        self.weekdays.contains(&d.weekday()) && !self.holidays.contains(&d)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPolicy {
    /// Most specific match wins: category+priority, then category only, then priority only, then `default`.
    pub rules: Vec<SlaRule>,
    pub default: SlaTarget,
    pub business_hours: Option<BusinessHours>,
}

impl Default for SlaPolicy {
    /// Urgent: respond 15 min, resolve 4 h, around the clock; high: 1 h / 24 h; normal: 4 h / 72 h;
    /// low: 24 h / 7 days. No business hours.
    fn default() -> Self {
        let rule = |p, respond, resolve, around| SlaRule {
            category: None,
            priority: Some(p),
            target: SlaTarget {
                respond_within_mins: respond,
                resolve_within_mins: resolve,
                around_the_clock: around,
            },
        };
        SlaPolicy {
            rules: vec![
                rule(Priority::Urgent, 15, 4 * 60, true),
                rule(Priority::High, 60, 24 * 60, false),
                rule(Priority::Normal, 4 * 60, 72 * 60, false),
                rule(Priority::Low, 24 * 60, 7 * 24 * 60, false),
            ],
            default: SlaTarget {
                respond_within_mins: 4 * 60,
                resolve_within_mins: 72 * 60,
                around_the_clock: false,
            },
            business_hours: None,
        }
    }
}

/// The longest target a policy may set: 365 days, in minutes. Deadlines are computed with targets clamped to
/// `0..=MAX_TARGET_MINS`, so even a policy stored before this check existed cannot push a deadline out of range.
pub const MAX_TARGET_MINS: i64 = 365 * 24 * 60;
/// Most rules and holidays a policy may list.
pub const MAX_RULES: usize = 500;
pub const MAX_HOLIDAYS: usize = 3_660;

impl SlaTarget {
    fn validate(&self, at: &str) -> Result<(), String> {
        for (name, v) in [
            ("respond_within_mins", self.respond_within_mins),
            ("resolve_within_mins", self.resolve_within_mins),
        ] {
            if !(1..=MAX_TARGET_MINS).contains(&v) {
                return Err(format!(
                    "{at}.{name}: must be between 1 and {MAX_TARGET_MINS} minutes (365 days), got {v}"
                ));
            }
        }
        Ok(())
    }
}

impl SlaPolicy {
    /// Checks a policy that comes from outside; the error names the field at fault (`rules[2].target.resolve_within_mins: …`).
    pub fn validate(&self) -> Result<(), String> {
        if self.rules.len() > MAX_RULES {
            return Err(format!("rules: at most {MAX_RULES} rules"));
        }
        self.default.validate("default")?;
        for (i, r) in self.rules.iter().enumerate() {
            r.target.validate(&format!("rules[{i}].target"))?;
        }
        if let Some(bh) = &self.business_hours {
            if bh.end <= bh.start {
                return Err("business_hours.end: must be after business_hours.start".into());
            }
            if bh.weekdays.is_empty() {
                return Err("business_hours.weekdays: name at least one day".into());
            }
            if bh.holidays.len() > MAX_HOLIDAYS {
                return Err(format!(
                    "business_hours.holidays: at most {MAX_HOLIDAYS} days"
                ));
            }
        }
        Ok(())
    }

    pub fn target(&self, category: Option<Category>, priority: Option<Priority>) -> SlaTarget {
        let score = |r: &SlaRule| -> Option<u8> {
            let cat_ok = r.category.is_none() || r.category == category;
            let pri_ok = r.priority.is_none() || r.priority == priority;
            (cat_ok && pri_ok).then_some(match (r.category.is_some(), r.priority.is_some()) {
                (true, true) => 3,
                (true, false) => 2,
                (false, true) => 1,
                (false, false) => 0,
            })
        };
        let mut best: Option<(u8, &SlaRule)> = None;
        for r in &self.rules {
            if let Some(s) = score(r) {
                if best.is_none_or(|(b, _)| s > b) {
                    best = Some((s, r));
                }
            }
        }
        best.map_or(self.default, |(_, r)| r.target)
    }
}

/// `(respond_by, resolve_by)` for a ticket opened at `opened_at`, in business hours of `tz` when the policy has
/// them and the target is not around the clock.
pub fn sla_deadlines(
    policy: &SlaPolicy,
    category: Option<Category>,
    priority: Option<Priority>,
    opened_at: DateTime<Utc>,
    tz: Tz,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let t = policy.target(category, priority);
    match policy
        .business_hours
        .as_ref()
        .filter(|b| b.is_usable() && !t.around_the_clock)
    {
        None => (
            add_minutes(opened_at, t.respond_within_mins),
            add_minutes(opened_at, t.resolve_within_mins),
        ),
        Some(bh) => (
            add_business_minutes(bh, opened_at, t.respond_within_mins, tz),
            add_business_minutes(bh, opened_at, t.resolve_within_mins, tz),
        ),
    }
}

/// A target's length, clamped to `0..=MAX_TARGET_MINS` (a stored policy is not trusted to be in range).
fn target_duration(minutes: i64) -> Duration {
    Duration::minutes(minutes.clamp(0, MAX_TARGET_MINS))
}

/// `start` plus a target of `minutes` of wall-clock time; `start` itself if that is past the end of time.
fn add_minutes(start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    start
        .checked_add_signed(target_duration(minutes))
        .unwrap_or(start)
}

fn local_to_utc(tz: Tz, ndt: NaiveDateTime) -> DateTime<Utc> {
    // Earliest reading of an ambiguous time; a time in a DST gap moves forward an hour.
    match tz.from_local_datetime(&ndt).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => match ndt
            .checked_add_signed(Duration::hours(1))
            .and_then(|n| tz.from_local_datetime(&n).earliest())
        {
            Some(t) => t.with_timezone(&Utc),
            None => Utc.from_utc_datetime(&ndt),
        },
    }
}

/// `start` plus `minutes` of business time. Bounded to ten years of calendar days.
pub fn add_business_minutes(
    bh: &BusinessHours,
    start: DateTime<Utc>,
    minutes: i64,
    tz: Tz,
) -> DateTime<Utc> {
    if !bh.is_usable() {
        return add_minutes(start, minutes);
    }
    let mut left = target_duration(minutes);
    let local = start.with_timezone(&tz).naive_local();
    let mut day = local.date();
    for _ in 0..3660 {
        if bh.works_on(day) {
            let open = local_to_utc(tz, day.and_time(bh.start));
            let close = local_to_utc(tz, day.and_time(bh.end));
            let from = open.max(start);
            if from < close {
                let avail = close - from;
                if left <= avail {
                    return from.checked_add_signed(left).unwrap_or(from);
                }
                left -= avail;
            }
        }
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    add_minutes(start, minutes)
}

/// Breached when done after the deadline, or not done and `now` is past it.
pub fn breached(
    deadline: DateTime<Utc>,
    done_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    match done_at {
        Some(d) => d > deadline,
        None => now > deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kl(s: &str) -> DateTime<Utc> {
        let ndt = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::Asia::Kuala_Lumpur
            .from_local_datetime(&ndt)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn office() -> BusinessHours {
        BusinessHours {
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            weekdays: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            holidays: vec![],
        }
    }

    #[test]
    fn wall_clock_deadlines_by_priority() {
        let p = SlaPolicy::default();
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        let opened = kl("2026-11-27 17:30"); // a Friday
        let (r, s) = sla_deadlines(&p, Some(Category::Lift), Some(Priority::High), opened, tz);
        assert_eq!(r, kl("2026-11-27 18:30"));
        assert_eq!(s, kl("2026-11-28 17:30"));
        let (r, s) = sla_deadlines(&p, None, Some(Priority::Urgent), opened, tz);
        assert_eq!(r, kl("2026-11-27 17:45"));
        assert_eq!(s, kl("2026-11-27 21:30"));
        let (r, _) = sla_deadlines(&p, None, None, opened, tz);
        assert_eq!(r, kl("2026-11-27 21:30"));
    }

    #[test]
    fn business_hours_skip_nights_weekends_and_holidays() {
        let mut p = SlaPolicy {
            business_hours: Some(office()),
            ..SlaPolicy::default()
        };
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        // Friday 17:30 + 1 h of business time → 30 min Friday + 30 min Monday.
        let (r, s) = sla_deadlines(&p, None, Some(Priority::High), kl("2026-11-27 17:30"), tz);
        assert_eq!(r, kl("2026-11-30 09:30"));
        // 24 h of business time = 2 days 6 h of 9-hour days: Fri 0.5 h, Mon 9, Tue 9, Wed 5.5 → Wed 14:30.
        assert_eq!(s, kl("2026-12-02 14:30"));
        // Opened on Saturday night: the clock starts Monday 09:00.
        let (r, _) = sla_deadlines(&p, None, Some(Priority::Normal), kl("2026-11-28 22:00"), tz);
        assert_eq!(r, kl("2026-11-30 13:00"));
        // Urgent ignores business hours.
        let (r, _) = sla_deadlines(&p, None, Some(Priority::Urgent), kl("2026-11-28 22:00"), tz);
        assert_eq!(r, kl("2026-11-28 22:15"));
        // A holiday on Monday pushes to Tuesday.
        if let Some(bh) = p.business_hours.as_mut() {
            bh.holidays
                .push(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        }
        let (r, _) = sla_deadlines(&p, None, Some(Priority::High), kl("2026-11-27 17:30"), tz);
        assert_eq!(r, kl("2026-12-01 09:30"));
    }

    #[test]
    fn most_specific_rule_wins() {
        let mut p = SlaPolicy::default();
        p.rules.push(SlaRule {
            category: Some(Category::Lift),
            priority: Some(Priority::High),
            target: SlaTarget {
                respond_within_mins: 10,
                resolve_within_mins: 120,
                around_the_clock: true,
            },
        });
        p.rules.push(SlaRule {
            category: Some(Category::Lift),
            priority: None,
            target: SlaTarget {
                respond_within_mins: 20,
                resolve_within_mins: 240,
                around_the_clock: false,
            },
        });
        assert_eq!(
            p.target(Some(Category::Lift), Some(Priority::High))
                .respond_within_mins,
            10
        );
        assert_eq!(
            p.target(Some(Category::Lift), Some(Priority::Low))
                .respond_within_mins,
            20
        );
        assert_eq!(
            p.target(Some(Category::Pest), Some(Priority::Low))
                .respond_within_mins,
            24 * 60
        );
    }

    #[test]
    fn breach_checks() {
        let d = kl("2026-11-27 10:00");
        assert!(!breached(
            d,
            Some(kl("2026-11-27 09:59")),
            kl("2026-11-28 00:00")
        ));
        assert!(breached(
            d,
            Some(kl("2026-11-27 10:01")),
            kl("2026-11-27 10:01")
        ));
        assert!(!breached(d, None, kl("2026-11-27 10:00")));
        assert!(breached(
            d,
            None,
            kl("2026-11-27 10:00") + Duration::seconds(1)
        ));
    }

    #[test]
    fn huge_or_negative_targets_are_refused_and_never_panic_when_stored() {
        let mut p = SlaPolicy::default();
        p.default.respond_within_mins = i64::MAX;
        let e = p.validate().unwrap_err();
        assert!(e.starts_with("default.respond_within_mins:"), "{e}");
        let mut p = SlaPolicy::default();
        p.rules[2].target.resolve_within_mins = 0;
        assert!(p
            .validate()
            .unwrap_err()
            .starts_with("rules[2].target.resolve_within_mins:"));
        assert!(SlaPolicy::default().validate().is_ok());
        // A policy stored before the check: 365 days at most (of business time with business hours), never a panic.
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        let opened = kl("2026-11-27 17:30");
        for bh in [None, Some(office())] {
            let p = SlaPolicy {
                rules: vec![],
                default: SlaTarget {
                    respond_within_mins: i64::MIN,
                    resolve_within_mins: i64::MAX,
                    around_the_clock: false,
                },
                business_hours: bh,
            };
            let (r, s) = sla_deadlines(&p, None, None, opened, tz);
            assert_eq!(r, opened);
            assert!(s > opened && s <= opened + Duration::days(365 * 5), "{s}");
        }
        let far = DateTime::<Utc>::MAX_UTC - Duration::minutes(1);
        let (_, s) = sla_deadlines(&SlaPolicy::default(), None, None, far, chrono_tz::UTC);
        assert_eq!(s, far, "no deadline past the end of time");
    }
}
