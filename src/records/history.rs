//! One plain-language history per ticket: its messages, status changes, assignments, merges, notes and corrections
//! in one list, oldest first ("Ali reported progress", "Assigned to Ravi by manager", "Moved to Block C by manager").
//!
//! Pure: the store loads the ticket's linked messages and the managers' corrections about it, this orders them and
//! says what each did. Status changes made by messages (an update moves an open ticket to in progress, a resolution
//! resolves it) are worked out the way the records engine makes them, with the managers' status changes in between.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{IssueStatus, RecordRef};
use crate::classify::types::{Kind, Location};
use crate::outbox::texts::{place, Lang};

/// Someone in the history: a person of the chats (with id) or a user of tapak (a manager's login or an API token).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Who {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// A tapak login or token rather than a person of the chats.
    pub user: bool,
}

impl Who {
    /// A tapak user from a stored actor (`user:alice`, `token:ci`, `system:…`).
    pub fn actor(actor: &str) -> Who {
        let name = actor
            .split_once(':')
            .map(|(_, n)| n)
            .unwrap_or(actor)
            .to_string();
        Who {
            name: Some(name),
            user: true,
            ..Who::default()
        }
    }
    fn label(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.phone.clone())
            .or_else(|| self.id.map(|i| format!("person #{i}")))
            .unwrap_or_else(|| "someone".into())
    }
}

fn label(w: &Option<Who>) -> String {
    w.as_ref()
        .map(Who::label)
        .unwrap_or_else(|| "someone".into())
}

/// A message linked to the ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Msg {
    pub id: i64,
    #[serde(skip)]
    pub at: DateTime<Utc>,
    pub sender: Option<Who>,
    pub kind: Option<String>,
    #[serde(rename = "type")]
    pub msg_type: String,
    pub text: Option<String>,
    pub media: Vec<i64>,
    pub link_reason: Option<String>,
}

impl Msg {
    /// A message a correction names: its id (and the kind it was given), nothing else.
    fn named(id: i64, at: DateTime<Utc>, kind: Option<Kind>) -> Msg {
        Msg {
            id,
            at,
            sender: None,
            kind: kind.map(|k| k.as_str().to_string()),
            msg_type: String::new(),
            text: None,
            media: vec![],
            link_reason: None,
        }
    }
}

/// What a manager's correction did.
#[derive(Debug, Clone, PartialEq)]
pub enum FixWhat {
    Status(IssueStatus),
    Owner(Who),
    /// Assigned to a vendor (id, name), or taken from its vendor (`None`).
    Vendor(Option<(i64, String)>),
    Merged {
        from: i64,
        into: i64,
    },
    /// A message read as another kind (and so perhaps another category or place).
    Reclassified {
        message: i64,
        kind: Kind,
        location: Location,
    },
    /// A message linked to a record, or to none.
    MessageMoved {
        message: i64,
        to: Option<RecordRef>,
    },
    /// A photo or file linked to a record (as evidence or proof), or to none.
    EvidenceMoved {
        evidence: i64,
        to: Option<RecordRef>,
        proof: bool,
    },
}

/// A manager's correction about the ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub reason: Option<String>,
    pub what: FixWhat,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// RFC 3339.
    pub at: String,
    /// `opened`, `message`, `status`, `assigned`, `vendor_assigned`, `merged`, `reclassified`, `message_moved`,
    /// `evidence_moved`.
    pub event: &'static str,
    /// Who did it: the sender of a message, the manager of a correction.
    pub actor: Option<Who>,
    /// The status the ticket moved to (status changes, and messages that changed it).
    pub status: Option<String>,
    /// The new owner (`assigned`).
    pub person: Option<Who>,
    /// The message (`message`, `opened`, and corrections about a message: its id only).
    pub message: Option<Msg>,
    /// The manager's note or reason.
    pub note: Option<String>,
    /// The place a reclassification gave ("Block C, level 3").
    pub place: Option<String>,
    /// The kind a reclassification gave.
    pub kind: Option<String>,
    /// The record something moved to (`message_moved`, `evidence_moved`, `merged`).
    pub target: Option<RecordRef>,
    /// The evidence concerned (`evidence_moved`).
    pub evidence: Option<i64>,
    /// Whether it became resolution proof (`evidence_moved`).
    pub proof: Option<bool>,
    /// The vendor the ticket went to (`vendor_assigned`; null when it was taken from its vendor).
    pub vendor: Option<String>,
    /// The same in plain English (the UI words it in the user's language from the fields above).
    pub summary: String,
}

impl Entry {
    fn new(at: DateTime<Utc>, event: &'static str, actor: Option<Who>) -> Entry {
        Entry {
            at: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            event,
            actor,
            status: None,
            person: None,
            message: None,
            note: None,
            place: None,
            kind: None,
            target: None,
            evidence: None,
            proof: None,
            vendor: None,
            summary: String::new(),
        }
    }
}

fn status_words(s: IssueStatus) -> &'static str {
    match s {
        IssueStatus::Open => "reopened it",
        IssueStatus::Acknowledged => "acknowledged",
        IssueStatus::InProgress => "marked it in progress",
        IssueStatus::Resolved => "resolved it",
        IssueStatus::Closed => "closed it",
    }
}

fn kind_words(k: Kind) -> &'static str {
    match k {
        Kind::TaskReport => "a task report",
        Kind::IssueReport => "a problem report",
        Kind::IssueUpdate => "an update",
        Kind::IssueResolved => "a resolution",
        Kind::CheckIn => "a check-in",
        Kind::Instruction => "an instruction",
        Kind::Chatter => "chatter",
    }
}

fn record_words(r: RecordRef) -> String {
    match r {
        RecordRef::Issue(id) => format!("ticket #{id}"),
        RecordRef::Task(id) => format!("task #{id}"),
    }
}

/// The history of ticket `issue`, oldest first. `opener` is the message that opened it (its id is the ticket's),
/// `msgs` the messages linked to it now, `fixes` the managers' corrections about it.
pub fn build(issue: i64, msgs: Vec<Msg>, mut fixes: Vec<Fix>) -> Vec<Entry> {
    // Messages and corrections in time order; at the same instant a message comes first (a manager answers it).
    fixes.sort_by_key(|f| f.at);
    let mut out = Vec::with_capacity(msgs.len() + fixes.len());
    let mut status = IssueStatus::Open;
    let mut fixes = fixes.into_iter().peekable();
    let mut msgs = msgs.into_iter().peekable();
    loop {
        let take_msg = match (msgs.peek(), fixes.peek()) {
            (Some(m), Some(f)) => m.at <= f.at,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_msg {
            let Some(m) = msgs.next() else { break };
            out.push(message_entry(issue, m, &mut status));
        } else {
            let Some(f) = fixes.next() else { break };
            out.push(fix_entry(issue, f, &mut status));
        }
    }
    out
}

fn message_entry(issue: i64, m: Msg, status: &mut IssueStatus) -> Entry {
    let who = label(&m.sender);
    let kind = m.kind.as_deref().and_then(Kind::parse);
    if m.id == issue {
        let mut e = Entry::new(m.at, "opened", m.sender.clone());
        e.summary = format!("{who} reported the problem");
        e.message = Some(m);
        return e;
    }
    let mut e = Entry::new(m.at, "message", m.sender.clone());
    let moved = match (kind, *status) {
        (Some(Kind::IssueUpdate), IssueStatus::Open | IssueStatus::Acknowledged) => {
            Some(IssueStatus::InProgress)
        }
        (Some(Kind::IssueResolved), s) if s.is_open() => Some(IssueStatus::Resolved),
        _ => None,
    };
    e.summary = match moved {
        Some(IssueStatus::InProgress) => format!("{who} reported progress"),
        Some(IssueStatus::Resolved) => format!("{who} reported it fixed"),
        _ => match m.msg_type.as_str() {
            "media" => format!("{who} sent a photo or file"),
            _ => format!("{who} wrote"),
        },
    };
    if let Some(s) = moved {
        *status = s;
        e.status = Some(s.as_str().to_string());
    }
    e.message = Some(m);
    e
}

fn fix_entry(issue: i64, f: Fix, status: &mut IssueStatus) -> Entry {
    let actor = Who::actor(&f.actor);
    let by = actor.label();
    let event = match &f.what {
        FixWhat::Status(_) => "status",
        FixWhat::Owner(_) => "assigned",
        FixWhat::Vendor(_) => "vendor_assigned",
        FixWhat::Merged { .. } => "merged",
        FixWhat::Reclassified { .. } => "reclassified",
        FixWhat::MessageMoved { .. } => "message_moved",
        FixWhat::EvidenceMoved { .. } => "evidence_moved",
    };
    let mut entry = Entry::new(f.at, event, Some(actor));
    entry.note = f.reason.clone();
    let summary = match f.what {
        FixWhat::Status(s) => {
            *status = s;
            entry.status = Some(s.as_str().to_string());
            format!("{by} {}", status_words(s))
        }
        FixWhat::Owner(p) => {
            let s = format!("Assigned to {} by {by}", p.label());
            entry.person = Some(p);
            s
        }
        FixWhat::Vendor(Some((_, name))) => {
            let s = format!("Assigned to vendor {name} by {by}");
            entry.vendor = Some(name);
            s
        }
        FixWhat::Vendor(None) => format!("{by} took the ticket from its vendor"),
        FixWhat::Merged { from, into } => {
            entry.target = Some(RecordRef::Issue(into));
            if from == issue {
                *status = IssueStatus::Closed;
                entry.status = Some(IssueStatus::Closed.as_str().to_string());
                format!("{by} merged this ticket into ticket #{into}")
            } else {
                format!("{by} merged ticket #{from} into this one")
            }
        }
        FixWhat::Reclassified {
            message,
            kind,
            location,
        } => {
            entry.kind = Some(kind.as_str().to_string());
            let at = (location != Location::default()).then(|| place(Lang::En, &location));
            entry.place = at.clone();
            entry.message = Some(Msg::named(message, f.at, Some(kind)));
            match (message == issue, at) {
                (true, Some(p)) => format!("Moved to {p} by {by}"),
                _ => format!("{by} read a message as {}", kind_words(kind)),
            }
        }
        FixWhat::MessageMoved { message, to } => {
            entry.target = to;
            entry.message = Some(Msg::named(message, f.at, None));
            match to {
                Some(RecordRef::Issue(id)) if id == issue => {
                    format!("{by} added a message to this ticket")
                }
                Some(r) => format!("{by} moved a message to {}", record_words(r)),
                None => format!("{by} took a message off this ticket"),
            }
        }
        FixWhat::EvidenceMoved {
            evidence,
            to,
            proof,
        } => {
            entry.target = to;
            entry.evidence = Some(evidence);
            entry.proof = Some(proof);
            match to {
                Some(RecordRef::Issue(id)) if id == issue && proof => {
                    format!("{by} marked a photo as proof of the repair")
                }
                Some(RecordRef::Issue(id)) if id == issue => {
                    format!("{by} marked a photo as evidence")
                }
                Some(r) => format!("{by} moved a photo to {}", record_words(r)),
                None => format!("{by} took a photo off this ticket"),
            }
        }
    };
    entry.summary = summary;
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 8, min, 0).unwrap()
    }

    fn msg(id: i64, min: u32, who: &str, kind: &str, text: &str) -> Msg {
        Msg {
            id,
            at: at(min),
            sender: Some(Who {
                id: Some(id * 10),
                name: Some(who.into()),
                ..Who::default()
            }),
            kind: Some(kind.into()),
            msg_type: "text".into(),
            text: Some(text.into()),
            media: vec![],
            link_reason: None,
        }
    }

    fn fix(min: u32, what: FixWhat, reason: Option<&str>) -> Fix {
        Fix {
            at: at(min),
            actor: "user:manager".into(),
            reason: reason.map(String::from),
            what,
        }
    }

    #[test]
    fn messages_and_corrections_read_as_one_story_in_time_order() {
        let msgs = vec![
            msg(7, 0, "Siti", "issue_report", "Lif blok A rosak"),
            msg(9, 20, "Ali", "issue_update", "on the way"),
            msg(12, 40, "Ali", "issue_resolved", "dah ok"),
        ];
        let fixes = vec![
            fix(
                30,
                FixWhat::Reclassified {
                    message: 7,
                    kind: Kind::IssueReport,
                    location: Location {
                        block: Some("C".into()),
                        ..Location::default()
                    },
                },
                Some("it is block C"),
            ),
            fix(5, FixWhat::Status(IssueStatus::Acknowledged), None),
            fix(
                10,
                FixWhat::Owner(Who {
                    id: Some(90),
                    name: Some("Ali".into()),
                    ..Who::default()
                }),
                Some("lift contractor"),
            ),
            fix(50, FixWhat::Status(IssueStatus::Closed), Some("checked")),
        ];
        let h = build(7, msgs, fixes);
        let said: Vec<&str> = h.iter().map(|e| e.summary.as_str()).collect();
        assert_eq!(
            said,
            [
                "Siti reported the problem",
                "manager acknowledged",
                "Assigned to Ali by manager",
                "Ali reported progress",
                "Moved to Block C by manager",
                "Ali reported it fixed",
                "manager closed it",
            ]
        );
        let times: Vec<&str> = h.iter().map(|e| e.at.as_str()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "oldest first");
        assert_eq!(h[3].status.as_deref(), Some("in_progress"));
        assert_eq!(h[5].status.as_deref(), Some("resolved"));
        assert_eq!(h[2].note.as_deref(), Some("lift contractor"));
        assert_eq!(h[2].person.as_ref().and_then(|p| p.id), Some(90));
        assert_eq!(h[4].place.as_deref(), Some("Block C"));
        assert_eq!(h[0].message.as_ref().map(|m| m.id), Some(7));
    }

    #[test]
    fn an_update_after_the_ticket_is_resolved_changes_nothing_and_a_reopen_counts() {
        let msgs = vec![
            msg(1, 0, "Siti", "issue_report", "paip bocor"),
            msg(2, 10, "Ali", "issue_resolved", "siap"),
            msg(3, 20, "Ali", "issue_update", "check again"),
            msg(4, 40, "Ali", "issue_update", "replacing the pipe"),
        ];
        let fixes = vec![fix(
            30,
            FixWhat::Status(IssueStatus::Open),
            Some("still leaking"),
        )];
        let h = build(1, msgs, fixes);
        let st: Vec<Option<&str>> = h.iter().map(|e| e.status.as_deref()).collect();
        assert_eq!(
            st,
            [
                None,
                Some("resolved"),
                None,
                Some("open"),
                Some("in_progress")
            ]
        );
        assert_eq!(h[2].summary, "Ali wrote");
        assert_eq!(h[3].summary, "manager reopened it");
    }

    #[test]
    fn moves_and_merges_say_where_things_went() {
        let fixes = vec![
            fix(
                1,
                FixWhat::MessageMoved {
                    message: 5,
                    to: Some(RecordRef::Issue(8)),
                },
                None,
            ),
            fix(
                2,
                FixWhat::EvidenceMoved {
                    evidence: 3,
                    to: Some(RecordRef::Issue(1)),
                    proof: true,
                },
                None,
            ),
            fix(3, FixWhat::Merged { from: 1, into: 8 }, None),
        ];
        let h = build(1, vec![], fixes);
        assert_eq!(h[0].summary, "manager moved a message to ticket #8");
        assert_eq!(
            h[1].summary,
            "manager marked a photo as proof of the repair"
        );
        assert_eq!(h[2].summary, "manager merged this ticket into ticket #8");
        assert_eq!(h[2].status.as_deref(), Some("closed"));
        assert_eq!(h[1].actor.as_ref().map(|a| a.user), Some(true));
    }
}
