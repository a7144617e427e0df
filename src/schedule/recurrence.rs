//! When expected work starts: an RFC 5545 recurrence (`DTSTART;TZID=…` and `RRULE:` lines), expanded with the
//! `rrule` crate. Floating starts (`DTSTART:20261201T070000`, no zone) are read in the site's zone.

use chrono::{DateTime, Duration, Utc};

use super::{Invalid, MAX_WINDOW_MINUTES};

/// A parsed, validated recurrence.
#[derive(Clone)]
pub struct Recurrence {
    set: rrule::RRuleSet,
    tz: chrono_tz::Tz,
    /// Whether the rule set may be re-anchored on a later occurrence (no COUNT anywhere): expanding a window months
    /// after DTSTART then starts near the window instead of walking every occurrence since DTSTART.
    rebasable: bool,
}

impl std::fmt::Debug for Recurrence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recurrence")
            .field("tz", &self.tz)
            .field("set", &self.set.to_string())
            .finish()
    }
}

/// At most this many starts are expanded for one window (a minutely rule over a month stays bounded).
const MAX_STARTS: u16 = 10_000;

fn invalid(reason: impl Into<String>) -> Invalid {
    Invalid::new("rrule", reason)
}

impl Recurrence {
    /// Parses recurrence text. `default_tz` is used for a floating DTSTART. Errors name the field `rrule`.
    pub fn parse(text: &str, default_tz: chrono_tz::Tz) -> Result<Recurrence, Invalid> {
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("required"));
        }
        if text.len() > 2_000 {
            return Err(invalid("longer than 2000 characters"));
        }
        let mut lines: Vec<String> = Vec::new();
        let mut tz = default_tz;
        let mut saw_start = false;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("DTSTART") {
                saw_start = true;
                let (head, value) = line
                    .split_once(':')
                    .ok_or_else(|| invalid("DTSTART has no value"))?;
                let mut zone = None;
                for param in head.split(';').skip(1) {
                    if let Some((k, v)) = param.split_once('=') {
                        if k.eq_ignore_ascii_case("TZID") {
                            zone = Some(v.trim_matches('"').to_string());
                        }
                    }
                }
                match zone {
                    Some(z) => {
                        tz = z
                            .parse::<chrono_tz::Tz>()
                            .map_err(|_| invalid(format!("unknown time zone {z:?}")))?;
                        lines.push(format!("DTSTART;TZID={}:{}", tz.name(), value.trim()));
                    }
                    None if value.trim().ends_with(['Z', 'z']) => {
                        tz = chrono_tz::UTC;
                        lines.push(format!("DTSTART:{}", value.trim()));
                    }
                    None => lines.push(format!("DTSTART;TZID={}:{}", tz.name(), value.trim())),
                }
            } else if upper.starts_with("RRULE:")
                || upper.starts_with("RDATE")
                || upper.starts_with("EXDATE")
            {
                lines.push(line.to_string());
            } else if upper.starts_with("FREQ=") {
                lines.push(format!("RRULE:{line}"));
            } else {
                return Err(invalid(format!(
                    "unexpected line {:?} (give DTSTART and RRULE lines)",
                    truncate(line, 40)
                )));
            }
        }
        if !saw_start {
            return Err(invalid(
                "DTSTART is missing (for example DTSTART;TZID=Asia/Kuala_Lumpur:20261201T070000)",
            ));
        }
        if !lines
            .iter()
            .any(|l| l.to_ascii_uppercase().starts_with("RRULE:"))
        {
            return Err(invalid("RRULE is missing (for example RRULE:FREQ=DAILY)"));
        }
        let rebasable = !lines.iter().any(|l| {
            let u = l.to_ascii_uppercase();
            u.starts_with("RRULE:") && u.contains("COUNT=")
        });
        let joined = lines.join("\n");
        let set: rrule::RRuleSet = joined
            .parse()
            .map_err(|e: rrule::RRuleError| invalid(e.to_string()))?;
        Ok(Recurrence { set, tz, rebasable })
    }

    /// The zone the recurrence is written in.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.tz
    }

    /// The recurrence as RFC 5545 text (normalised).
    pub fn text(&self) -> String {
        self.set.to_string()
    }

    /// Starts in `[from, to)`, oldest first (at most 10,000).
    pub fn starts_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        if to <= from {
            return vec![];
        }
        let rtz: rrule::Tz = self.tz.into();
        let set = self.anchored_before(from);
        let result = set
            .after(from.with_timezone(&rtz))
            .before(to.with_timezone(&rtz))
            .all(MAX_STARTS);
        result
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&Utc))
            .filter(|d| *d >= from && *d < to)
            .collect()
    }

    /// The rule set to expand a window starting at `from`: when allowed, re-anchored on the last start at least a
    /// day before `from` found by stepping back from DTSTART in yearly hops, so expansion cost does not grow with the
    /// schedule's age.
    fn anchored_before(&self, from: DateTime<Utc>) -> rrule::RRuleSet {
        let start = self.set.get_dt_start().with_timezone(&Utc);
        let Some(probe_from) = from.checked_sub_signed(Duration::days(1)) else {
            return self.set.clone();
        };
        if !self.rebasable || probe_from <= start {
            return self.set.clone();
        }
        // The last start before `probe_from`, searched in the day before it only: rules that fire less often than
        // daily are cheap to walk from DTSTART anyway.
        let rtz: rrule::Tz = self.tz.into();
        let Some(window_start) = probe_from.checked_sub_signed(Duration::days(1)) else {
            return self.set.clone();
        };
        let near = self
            .set
            .clone()
            .after(window_start.max(start).with_timezone(&rtz))
            .before(probe_from.with_timezone(&rtz))
            .all(MAX_STARTS);
        match near.dates.last() {
            Some(anchor) if near.dates.len() > 1 => rebase(&self.set, *anchor),
            _ => self.set.clone(),
        }
    }

    /// The shortest gap between two consecutive starts among the first 200 (None for a single start): a report
    /// window longer than this would overlap the next occurrence.
    pub fn shortest_period(&self) -> Option<Duration> {
        let starts = self.set.clone().all(200).dates;
        starts
            .windows(2)
            .filter_map(|w| {
                let gap = w[1].signed_duration_since(w[0]);
                (gap > Duration::zero()).then_some(gap)
            })
            .min()
    }

    /// Checks a report window against the recurrence: positive, at most 31 days and no longer than the period.
    pub fn check_window(&self, window_minutes: i64) -> Result<(), Invalid> {
        if window_minutes <= 0 {
            return Err(Invalid::new("window_minutes", "must be at least 1"));
        }
        if window_minutes > MAX_WINDOW_MINUTES {
            return Err(Invalid::new(
                "window_minutes",
                format!("must be at most {MAX_WINDOW_MINUTES} (31 days)"),
            ));
        }
        if let Some(period) = self.shortest_period() {
            if Duration::minutes(window_minutes) > period {
                return Err(Invalid::new(
                    "window_minutes",
                    format!(
                        "{window_minutes} minutes is longer than the time between two occurrences ({} minutes)",
                        period.num_minutes()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The same rules re-anchored on `anchor` (one of the set's own starts): valid for rules without COUNT, whose
/// sequence from any of its starts onward is unchanged.
fn rebase(set: &rrule::RRuleSet, anchor: DateTime<rrule::Tz>) -> rrule::RRuleSet {
    let text = set.to_string();
    let stamp = anchor.format("%Y%m%dT%H%M%S").to_string();
    let zone = anchor.timezone().name().to_string();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.to_ascii_uppercase().starts_with("DTSTART") {
            if zone == "UTC" {
                out.push(format!("DTSTART:{stamp}Z"));
            } else {
                out.push(format!("DTSTART;TZID={zone}:{stamp}"));
            }
        } else {
            out.push(line.to_string());
        }
    }
    out.join("\n").parse().unwrap_or_else(|_| set.clone())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const KL: chrono_tz::Tz = chrono_tz::Asia::Kuala_Lumpur;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    #[test]
    fn daily_at_seven_local_expands_in_the_site_zone() {
        let r = Recurrence::parse(
            "DTSTART;TZID=Asia/Kuala_Lumpur:20261201T070000\nRRULE:FREQ=DAILY",
            KL,
        )
        .unwrap();
        let s = r.starts_between(utc(2026, 12, 6, 16, 0), utc(2026, 12, 8, 16, 0));
        // 07:00 in Kuala Lumpur (UTC+8) is 23:00 UTC the day before.
        assert_eq!(s, vec![utc(2026, 12, 6, 23, 0), utc(2026, 12, 7, 23, 0)]);
    }

    #[test]
    fn a_floating_start_is_read_in_the_default_zone_and_a_bare_rule_line_is_accepted() {
        let r = Recurrence::parse("DTSTART:20261201T070000\nFREQ=WEEKLY;BYDAY=MO,TH", KL).unwrap();
        let s = r.starts_between(utc(2026, 12, 6, 0, 0), utc(2026, 12, 13, 0, 0));
        assert_eq!(s, vec![utc(2026, 12, 6, 23, 0), utc(2026, 12, 9, 23, 0)]);
        assert_eq!(r.tz(), KL);
    }

    #[test]
    fn bad_rules_and_zones_are_refused_naming_the_field() {
        for (text, why) in [
            ("", "required"),
            ("RRULE:FREQ=DAILY", "DTSTART is missing"),
            (
                "DTSTART;TZID=Mars/Olympus:20261201T070000\nRRULE:FREQ=DAILY",
                "unknown time zone",
            ),
            (
                "DTSTART;TZID=Asia/Kuala_Lumpur:20261201T070000",
                "RRULE is missing",
            ),
            (
                "DTSTART;TZID=Asia/Kuala_Lumpur:20261201T070000\nRRULE:FREQ=SOMETIMES",
                "",
            ),
            (
                "DTSTART;TZID=Asia/Kuala_Lumpur:2026-12-01\nRRULE:FREQ=DAILY",
                "",
            ),
            ("hello", "unexpected line"),
        ] {
            let e = Recurrence::parse(text, KL).unwrap_err();
            assert_eq!(e.field, "rrule", "{text}");
            assert!(e.reason.contains(why), "{text}: {}", e.reason);
        }
    }

    #[test]
    fn a_window_longer_than_the_period_is_refused() {
        let r = Recurrence::parse(
            "DTSTART;TZID=Asia/Kuala_Lumpur:20261201T220000\nRRULE:FREQ=HOURLY;INTERVAL=2",
            KL,
        )
        .unwrap();
        assert!(r.check_window(120).is_ok());
        let e = r.check_window(121).unwrap_err();
        assert_eq!(e.field, "window_minutes");
        assert!(e.reason.contains("120 minutes"), "{}", e.reason);
        assert_eq!(r.check_window(0).unwrap_err().field, "window_minutes");
        assert_eq!(
            r.check_window(i64::MAX).unwrap_err().field,
            "window_minutes"
        );
    }

    #[test]
    fn expanding_a_window_years_after_the_start_matches_walking_from_the_start() {
        let text = "DTSTART;TZID=Asia/Kuala_Lumpur:20240101T220000\nRRULE:FREQ=HOURLY;INTERVAL=2;BYHOUR=22,0,2,4";
        let r = Recurrence::parse(text, KL).unwrap();
        let (from, to) = (utc(2026, 12, 7, 0, 0), utc(2026, 12, 9, 0, 0));
        let fast = r.starts_between(from, to);
        let slow: Vec<DateTime<Utc>> = r
            .set
            .clone()
            .all(u16::MAX)
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&Utc))
            .filter(|d| *d >= from && *d < to)
            .collect();
        assert!(!fast.is_empty());
        assert_eq!(fast, slow);
        // A rule with COUNT is never re-anchored.
        let counted = Recurrence::parse(
            "DTSTART;TZID=Asia/Kuala_Lumpur:20261201T070000\nRRULE:FREQ=DAILY;COUNT=3",
            KL,
        )
        .unwrap();
        assert_eq!(
            counted
                .starts_between(utc(2026, 11, 1, 0, 0), utc(2027, 1, 1, 0, 0))
                .len(),
            3
        );
        assert!(counted
            .starts_between(utc(2026, 12, 10, 0, 0), utc(2027, 1, 1, 0, 0))
            .is_empty());
    }
}
