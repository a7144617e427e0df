//! Who is chased, and when. Each rung is sent at most once per occurrence or ticket (the caller records the rungs it
//! has sent and passes them back in).
//!
//! Missed work: the assignees `remind_after_minutes` after the due time, then the escalation contacts
//! `escalate_after_minutes` after it. A report without the required photo: a photo request to the reporter
//! [`PHOTO_GRACE_MINUTES`] after the report (the photo often follows the text), then the same escalation if the photo
//! has still not come. Tickets: past the respond-by time the owner, then the escalation contacts
//! `escalate_after_minutes` later; past the resolve-by time the same again.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::status::OccurrenceStatus;

/// Minutes after a report without its required photo before the photo is asked for.
pub const PHOTO_GRACE_MINUTES: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rung {
    /// The assignees: the report is missing.
    Remind,
    /// The reporter: the photo is missing.
    PhotoRequest,
    /// The escalation contacts.
    Escalate,
    /// A ticket's owner: not acknowledged by its respond-by time.
    RespondOwner,
    /// The escalation contacts: still not acknowledged.
    RespondEscalate,
    /// A ticket's owner: not resolved by its resolve-by time.
    ResolveOwner,
    /// The escalation contacts: still not resolved.
    ResolveEscalate,
}

impl Rung {
    pub const ALL: [Rung; 7] = [
        Rung::Remind,
        Rung::PhotoRequest,
        Rung::Escalate,
        Rung::RespondOwner,
        Rung::RespondEscalate,
        Rung::ResolveOwner,
        Rung::ResolveEscalate,
    ];

    pub fn parse(s: &str) -> Option<Rung> {
        Rung::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rung::Remind => "remind",
            Rung::PhotoRequest => "photo_request",
            Rung::Escalate => "escalate",
            Rung::RespondOwner => "respond_owner",
            Rung::RespondEscalate => "respond_escalate",
            Rung::ResolveOwner => "resolve_owner",
            Rung::ResolveEscalate => "resolve_escalate",
        }
    }
}

/// A rung that is due, and the moment it became due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub rung: Rung,
    pub at: DateTime<Utc>,
}

fn after(t: DateTime<Utc>, minutes: Option<i64>) -> Option<DateTime<Utc>> {
    t.checked_add_signed(Duration::try_minutes(minutes?)?)
}

/// Adds `rung` when it has a time, that time has come and it was not sent yet.
fn push_due(
    out: &mut Vec<Due>,
    rung: Rung,
    at: Option<DateTime<Utc>>,
    sent: &[Rung],
    now: DateTime<Utc>,
) {
    if let Some(at) = at {
        if at <= now && !sent.contains(&rung) {
            out.push(Due { rung, at });
        }
    }
}

/// The rungs due at `now` for an occurrence and not yet in `sent`.
pub fn occurrence_rungs(
    status: OccurrenceStatus,
    due_at: DateTime<Utc>,
    reported_at: Option<DateTime<Utc>>,
    remind_after: Option<i64>,
    escalate_after: Option<i64>,
    sent: &[Rung],
    now: DateTime<Utc>,
) -> Vec<Due> {
    let mut out = vec![];
    let mut push = |rung, at| push_due(&mut out, rung, at, sent, now);
    match status {
        OccurrenceStatus::Missed => {
            push(Rung::Remind, after(due_at, remind_after));
            push(Rung::Escalate, after(due_at, escalate_after));
        }
        OccurrenceStatus::MissingPhoto => {
            push(
                Rung::PhotoRequest,
                reported_at.and_then(|r| after(r, Some(PHOTO_GRACE_MINUTES))),
            );
            push(Rung::Escalate, after(due_at, escalate_after));
        }
        _ => {}
    }
    out
}

/// A ticket's state as far as chasing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketClock {
    pub respond_by: Option<DateTime<Utc>>,
    pub resolve_by: Option<DateTime<Utc>>,
    pub acknowledged: bool,
    pub resolved: bool,
}

/// The rungs due at `now` for an unresolved ticket and not yet in `sent`.
pub fn ticket_rungs(
    t: TicketClock,
    escalate_after: Option<i64>,
    sent: &[Rung],
    now: DateTime<Utc>,
) -> Vec<Due> {
    let mut out = vec![];
    if t.resolved {
        return out;
    }
    let mut push = |rung, at| push_due(&mut out, rung, at, sent, now);
    if !t.acknowledged {
        push(Rung::RespondOwner, t.respond_by);
        push(
            Rung::RespondEscalate,
            t.respond_by.and_then(|r| after(r, escalate_after)),
        );
    }
    push(Rung::ResolveOwner, t.resolve_by);
    push(
        Rung::ResolveEscalate,
        t.resolve_by.and_then(|r| after(r, escalate_after)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).single().unwrap()
    }

    fn rungs(v: &[Due]) -> Vec<Rung> {
        v.iter().map(|d| d.rung).collect()
    }

    #[test]
    fn a_missed_window_gets_a_reminder_then_an_escalation_once_each() {
        let due = t(10, 0);
        let at = |now, sent: &[Rung]| {
            rungs(&occurrence_rungs(
                OccurrenceStatus::Missed,
                due,
                None,
                Some(15),
                Some(60),
                sent,
                now,
            ))
        };
        assert_eq!(at(t(10, 14), &[]), vec![]);
        assert_eq!(at(t(10, 15), &[]), vec![Rung::Remind]);
        assert_eq!(at(t(10, 40), &[Rung::Remind]), vec![]);
        assert_eq!(at(t(11, 0), &[Rung::Remind]), vec![Rung::Escalate]);
        assert_eq!(at(t(12, 0), &[Rung::Remind, Rung::Escalate]), vec![]);
        // A restart after a long outage sends both, once.
        assert_eq!(at(t(12, 0), &[]), vec![Rung::Remind, Rung::Escalate]);
    }

    #[test]
    fn a_missing_photo_is_asked_for_after_the_grace_and_settled_work_is_left_alone() {
        let due = t(10, 0);
        let r = occurrence_rungs(
            OccurrenceStatus::MissingPhoto,
            due,
            Some(t(9, 0)),
            Some(15),
            None,
            &[],
            t(9, 9),
        );
        assert!(r.is_empty());
        let r = occurrence_rungs(
            OccurrenceStatus::MissingPhoto,
            due,
            Some(t(9, 0)),
            Some(15),
            None,
            &[],
            t(9, 10),
        );
        assert_eq!(rungs(&r), vec![Rung::PhotoRequest]);
        for s in [
            OccurrenceStatus::Fulfilled,
            OccurrenceStatus::Late,
            OccurrenceStatus::Excused,
            OccurrenceStatus::Pending,
            OccurrenceStatus::Blocked,
        ] {
            assert!(occurrence_rungs(s, due, None, Some(0), Some(0), &[], t(23, 0)).is_empty());
        }
    }

    #[test]
    fn overdue_tickets_chase_the_owner_then_escalate() {
        let tc = TicketClock {
            respond_by: Some(t(9, 0)),
            resolve_by: Some(t(13, 0)),
            acknowledged: false,
            resolved: false,
        };
        assert_eq!(rungs(&ticket_rungs(tc, Some(30), &[], t(8, 59))), vec![]);
        assert_eq!(
            rungs(&ticket_rungs(tc, Some(30), &[], t(9, 0))),
            vec![Rung::RespondOwner]
        );
        assert_eq!(
            rungs(&ticket_rungs(tc, Some(30), &[Rung::RespondOwner], t(9, 30))),
            vec![Rung::RespondEscalate]
        );
        let acked = TicketClock {
            acknowledged: true,
            ..tc
        };
        assert_eq!(
            rungs(&ticket_rungs(acked, Some(30), &[], t(13, 30))),
            vec![Rung::ResolveOwner, Rung::ResolveEscalate]
        );
        let done = TicketClock {
            resolved: true,
            ..tc
        };
        assert!(ticket_rungs(done, Some(30), &[], t(23, 0)).is_empty());
        // A huge delay never overflows: it simply never comes due.
        assert_eq!(
            rungs(&ticket_rungs(acked, Some(i64::MAX), &[], t(23, 0))),
            vec![Rung::ResolveOwner]
        );
    }
}
