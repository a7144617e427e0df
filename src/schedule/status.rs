//! An occurrence's status from what was reported for it.
//!
//! A task report counts for an occurrence when it was sent at or after the start, by one of the assignees or in the
//! schedule's chat, with the schedule's category (or none, from an assignee) and a location that matches the
//! schedule's (linking rule L3: a shared key with the same value and no shared key different; an assignee's report
//! with no location counts too). Among the reports that count, the best outcome wins: done on time with the photo
//! (`fulfilled`) > done on time without the required photo (`missing_photo`) > done after the due time (`late`) >
//! reported blocked (`blocked`). A report sent once the schedule's next occurrence has started is that one's, never
//! a late one for this ([`Window::next_start`]). With none of these: `pending` until the due time, `missed` after it. A manager's
//! excuse overrides everything.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::classify::types::{Category, Location, TaskStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OccurrenceStatus {
    Pending,
    Fulfilled,
    Late,
    MissingPhoto,
    Blocked,
    Missed,
    Excused,
}

impl OccurrenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OccurrenceStatus::Pending => "pending",
            OccurrenceStatus::Fulfilled => "fulfilled",
            OccurrenceStatus::Late => "late",
            OccurrenceStatus::MissingPhoto => "missing_photo",
            OccurrenceStatus::Blocked => "blocked",
            OccurrenceStatus::Missed => "missed",
            OccurrenceStatus::Excused => "excused",
        }
    }

    pub fn parse(s: &str) -> Option<OccurrenceStatus> {
        [
            OccurrenceStatus::Pending,
            OccurrenceStatus::Fulfilled,
            OccurrenceStatus::Late,
            OccurrenceStatus::MissingPhoto,
            OccurrenceStatus::Blocked,
            OccurrenceStatus::Missed,
            OccurrenceStatus::Excused,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether nothing reported later can change it (reminders stop).
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            OccurrenceStatus::Fulfilled
                | OccurrenceStatus::Late
                | OccurrenceStatus::Blocked
                | OccurrenceStatus::Excused
        )
    }
}

/// One occurrence's time window: reports are due by `due_at`. What is reported from `next_start` on (the same
/// schedule's next occurrence) belongs to that one, so a report decides at most one occurrence of a schedule: the one
/// whose window it falls in, or, late, the last one started before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub starts_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// The next occurrence's start; `None` when there is none (the schedule ended).
    pub next_start: Option<DateTime<Utc>>,
}

impl Window {
    /// `start + window_minutes`, or `None` if that overflows.
    pub fn new(starts_at: DateTime<Utc>, window_minutes: i64) -> Option<Window> {
        let due_at = starts_at.checked_add_signed(Duration::try_minutes(window_minutes)?)?;
        Some(Window {
            starts_at,
            due_at,
            next_start: None,
        })
    }

    /// Whether something sent at `at` (and seen by `now`) concerns this occurrence rather than an earlier or a later
    /// one.
    pub fn covers(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        at >= self.starts_at && at <= now && self.next_start.is_none_or(|n| at < n)
    }
}

/// What the schedule expects.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub category: Category,
    pub location: Location,
    pub photo_required: bool,
}

/// A task-log entry that may concern the occurrence.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The task entry, when the report became one (a bare poster-tag photo may not).
    pub task: Option<i64>,
    pub at: DateTime<Utc>,
    pub status: TaskStatus,
    pub category: Option<Category>,
    pub location: Location,
    pub has_photo: bool,
    /// Sent by one of the schedule's assignees (or a member of its vendor).
    pub by_assignee: bool,
    /// Sent in the schedule's chat.
    pub in_chat: bool,
    /// The report's text (the reason, when blocked).
    pub text: Option<String>,
}

/// The evaluated status, the report that decided it and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: OccurrenceStatus,
    pub task: Option<i64>,
    pub reason: Option<String>,
    /// When the deciding report was sent.
    pub reported_at: Option<DateTime<Utc>>,
}

/// Whether `r` is a report of the expected work.
pub fn counts(expect: &Expect, r: &Report) -> bool {
    if !(r.by_assignee || r.in_chat) {
        return false;
    }
    let category_ok = match r.category {
        Some(c) => c == expect.category,
        None => r.by_assignee,
    };
    let location_ok = expect.location.is_empty()
        || expect.location.matches(&r.location)
        || (r.location.is_empty() && r.by_assignee);
    category_ok && location_ok
}

/// The occurrence's status at `now`. `excused` is the manager's reason when excused.
pub fn evaluate(
    window: Window,
    expect: &Expect,
    reports: &[Report],
    now: DateTime<Utc>,
    excused: Option<&str>,
) -> Outcome {
    if let Some(reason) = excused {
        return Outcome {
            status: OccurrenceStatus::Excused,
            task: None,
            reason: Some(reason.to_string()),
            reported_at: None,
        };
    }
    let rank = |r: &Report| -> Option<(u8, OccurrenceStatus)> {
        match r.status {
            TaskStatus::Done if r.at <= window.due_at => {
                if r.has_photo || !expect.photo_required {
                    Some((0, OccurrenceStatus::Fulfilled))
                } else {
                    Some((1, OccurrenceStatus::MissingPhoto))
                }
            }
            TaskStatus::Done => Some((2, OccurrenceStatus::Late)),
            TaskStatus::Blocked => Some((3, OccurrenceStatus::Blocked)),
            TaskStatus::InProgress => None,
        }
    };
    let best = reports
        .iter()
        .filter(|r| window.covers(r.at, now) && counts(expect, r))
        .filter_map(|r| rank(r).map(|(k, s)| (k, r.at, s, r)))
        .min_by_key(|(k, at, _, _)| (*k, *at));
    match best {
        Some((_, _, status, r)) => Outcome {
            status,
            task: r.task,
            reason: match status {
                OccurrenceStatus::Blocked => r.text.clone(),
                OccurrenceStatus::MissingPhoto => {
                    Some("reported without the required photo".into())
                }
                OccurrenceStatus::Late => Some("reported after the due time".into()),
                _ => None,
            },
            reported_at: Some(r.at),
        },
        None if now < window.due_at => Outcome {
            status: OccurrenceStatus::Pending,
            task: None,
            reason: None,
            reported_at: None,
        },
        None => Outcome {
            status: OccurrenceStatus::Missed,
            task: None,
            reason: Some("no report by the due time".into()),
            reported_at: None,
        },
    }
}

/// A check-in that may concern a patrol round: the checkpoint codes it names (or all of them, for "Round 2 ok").
#[derive(Debug, Clone, PartialEq)]
pub struct CheckIn {
    pub at: DateTime<Utc>,
    pub codes: Vec<String>,
    pub whole_round: bool,
    pub by_assignee: bool,
    pub in_chat: bool,
}

/// A patrol round's status, with the checkpoints seen and missing.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundOutcome {
    pub status: OccurrenceStatus,
    pub seen: Vec<String>,
    pub missing: Vec<String>,
}

/// A round is fulfilled when every checkpoint was checked in by the due time, late when the last one came after
/// it, pending before the due time, and missed (naming the missing checkpoints) after it.
pub fn evaluate_round(
    window: Window,
    checkpoints: &[String],
    checkins: &[CheckIn],
    now: DateTime<Utc>,
    excused: Option<&str>,
) -> RoundOutcome {
    let mut first_seen: Vec<Option<DateTime<Utc>>> = vec![None; checkpoints.len()];
    for c in checkins
        .iter()
        .filter(|c| window.covers(c.at, now) && (c.by_assignee || c.in_chat))
    {
        for (i, code) in checkpoints.iter().enumerate() {
            let hit = c.whole_round || c.codes.iter().any(|k| k.eq_ignore_ascii_case(code));
            if hit && first_seen[i].is_none_or(|t| c.at < t) {
                first_seen[i] = Some(c.at);
            }
        }
    }
    let seen: Vec<String> = checkpoints
        .iter()
        .zip(&first_seen)
        .filter(|(_, t)| t.is_some())
        .map(|(c, _)| c.clone())
        .collect();
    let missing: Vec<String> = checkpoints
        .iter()
        .zip(&first_seen)
        .filter(|(_, t)| t.is_none())
        .map(|(c, _)| c.clone())
        .collect();
    let status = if excused.is_some() {
        OccurrenceStatus::Excused
    } else if missing.is_empty() && !checkpoints.is_empty() {
        if first_seen.iter().flatten().all(|t| *t <= window.due_at) {
            OccurrenceStatus::Fulfilled
        } else {
            OccurrenceStatus::Late
        }
    } else if now < window.due_at {
        OccurrenceStatus::Pending
    } else {
        OccurrenceStatus::Missed
    };
    RoundOutcome {
        status,
        seen,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).single().unwrap()
    }

    fn expect(photo: bool) -> Expect {
        Expect {
            category: Category::Cleaning,
            location: Location {
                block: Some("C".into()),
                ..Default::default()
            },
            photo_required: photo,
        }
    }

    fn report(at: DateTime<Utc>, status: TaskStatus, photo: bool) -> Report {
        Report {
            task: Some(7),
            at,
            status,
            category: Some(Category::Cleaning),
            location: Location {
                block: Some("c".into()),
                ..Default::default()
            },
            has_photo: photo,
            by_assignee: true,
            in_chat: true,
            text: Some("Block C cleaning blocked, no water".into()),
        }
    }

    fn w() -> Window {
        Window::new(t(8, 0), 120).unwrap()
    }

    #[test]
    fn on_time_with_photo_is_fulfilled_and_without_it_asks_for_the_photo() {
        let r = [report(t(9, 0), TaskStatus::Done, true)];
        let o = evaluate(w(), &expect(true), &r, t(9, 30), None);
        assert_eq!((o.status, o.task), (OccurrenceStatus::Fulfilled, Some(7)));
        let r = [report(t(9, 0), TaskStatus::Done, false)];
        assert_eq!(
            evaluate(w(), &expect(true), &r, t(9, 30), None).status,
            OccurrenceStatus::MissingPhoto
        );
        assert_eq!(
            evaluate(w(), &expect(false), &r, t(9, 30), None).status,
            OccurrenceStatus::Fulfilled
        );
    }

    #[test]
    fn nothing_is_pending_then_missed_and_a_late_report_makes_it_late() {
        assert_eq!(
            evaluate(w(), &expect(true), &[], t(9, 59), None).status,
            OccurrenceStatus::Pending
        );
        assert_eq!(
            evaluate(w(), &expect(true), &[], t(10, 0), None).status,
            OccurrenceStatus::Missed
        );
        let r = [report(t(10, 30), TaskStatus::Done, true)];
        assert_eq!(
            evaluate(w(), &expect(true), &r, t(10, 31), None).status,
            OccurrenceStatus::Late
        );
        // Not yet visible at 10:20 (the report comes at 10:30).
        assert_eq!(
            evaluate(w(), &expect(true), &r, t(10, 20), None).status,
            OccurrenceStatus::Missed
        );
    }

    #[test]
    fn blocked_carries_its_reason_and_an_excuse_wins() {
        let r = [report(t(8, 30), TaskStatus::Blocked, false)];
        let o = evaluate(w(), &expect(true), &r, t(11, 0), None);
        assert_eq!(o.status, OccurrenceStatus::Blocked);
        assert!(o.reason.unwrap().contains("no water"));
        let o = evaluate(w(), &expect(true), &r, t(11, 0), Some("public holiday"));
        assert_eq!(o.status, OccurrenceStatus::Excused);
    }

    #[test]
    fn reports_about_other_work_places_or_people_do_not_count() {
        let mut other_block = report(t(9, 0), TaskStatus::Done, true);
        other_block.location.block = Some("D".into());
        let mut other_trade = report(t(9, 0), TaskStatus::Done, true);
        other_trade.category = Some(Category::Plumbing);
        let mut stranger = report(t(9, 0), TaskStatus::Done, true);
        stranger.by_assignee = false;
        stranger.in_chat = false;
        let mut before = report(t(7, 59), TaskStatus::Done, true);
        before.task = Some(1);
        for r in [other_block, other_trade, stranger, before] {
            assert_eq!(
                evaluate(w(), &expect(true), &[r], t(9, 30), None).status,
                OccurrenceStatus::Pending
            );
        }
        // An assignee's "done" with no place named counts; a stranger's in the chat needs the place.
        let mut bare = report(t(9, 0), TaskStatus::Done, true);
        bare.location = Location::default();
        assert!(counts(&expect(true), &bare));
        bare.by_assignee = false;
        assert!(!counts(&expect(true), &bare));
    }

    #[test]
    fn a_round_with_a_missing_checkpoint_is_missed_and_names_it() {
        let cps: Vec<String> = ["CP1", "CP2", "CP3"].map(String::from).to_vec();
        let w = Window::new(t(2, 0), 60).unwrap();
        let ci = |at, codes: &[&str]| CheckIn {
            at,
            codes: codes.iter().map(|s| s.to_string()).collect(),
            whole_round: false,
            by_assignee: true,
            in_chat: true,
        };
        let got = [ci(t(2, 5), &["CP1"]), ci(t(2, 20), &["cp3"])];
        let o = evaluate_round(w, &cps, &got, t(2, 30), None);
        assert_eq!(o.status, OccurrenceStatus::Pending);
        let o = evaluate_round(w, &cps, &got, t(3, 0), None);
        assert_eq!(o.status, OccurrenceStatus::Missed);
        assert_eq!(o.missing, vec!["CP2".to_string()]);
        let all = [ci(t(2, 5), &["CP1"]), ci(t(2, 20), &["CP3", "CP2"])];
        assert_eq!(
            evaluate_round(w, &cps, &all, t(3, 0), None).status,
            OccurrenceStatus::Fulfilled
        );
        let late = [ci(t(2, 5), &["CP1", "CP3"]), ci(t(3, 10), &["CP2"])];
        assert_eq!(
            evaluate_round(w, &cps, &late, t(3, 20), None).status,
            OccurrenceStatus::Late
        );
        let mut round_ok = ci(t(2, 50), &[]);
        round_ok.whole_round = true;
        assert_eq!(
            evaluate_round(w, &cps, &[round_ok], t(3, 0), None).status,
            OccurrenceStatus::Fulfilled
        );
    }

    #[test]
    fn a_report_after_the_next_start_is_the_next_occurrences_not_a_late_one() {
        let mut w = w();
        w.next_start = Some(t(12, 0));
        let next = Window::new(t(12, 0), 120).unwrap();
        let late = [report(t(11, 0), TaskStatus::Done, true)];
        assert_eq!(
            evaluate(w, &expect(true), &late, t(13, 0), None).status,
            OccurrenceStatus::Late
        );
        assert_eq!(
            evaluate(next, &expect(true), &late, t(13, 0), None).status,
            OccurrenceStatus::Pending
        );
        let on_time_next = [report(t(12, 30), TaskStatus::Done, true)];
        assert_eq!(
            evaluate(w, &expect(true), &on_time_next, t(13, 0), None).status,
            OccurrenceStatus::Missed
        );
        assert_eq!(
            evaluate(next, &expect(true), &on_time_next, t(13, 0), None).status,
            OccurrenceStatus::Fulfilled
        );
        // Patrol rounds alike: a check-in in the next round is not a late one for this round.
        let ci = CheckIn {
            at: t(12, 5),
            codes: vec!["CP1".into()],
            whole_round: false,
            by_assignee: true,
            in_chat: true,
        };
        let cps = vec!["CP1".to_string()];
        assert_eq!(
            evaluate_round(w, &cps, std::slice::from_ref(&ci), t(13, 0), None).status,
            OccurrenceStatus::Missed
        );
        assert_eq!(
            evaluate_round(next, &cps, &[ci], t(13, 0), None).status,
            OccurrenceStatus::Fulfilled
        );
    }

    #[test]
    fn a_window_that_overflows_time_is_refused() {
        assert!(Window::new(DateTime::<Utc>::MAX_UTC, 10).is_none());
        assert!(Window::new(t(1, 0), i64::MAX).is_none());
    }
}
