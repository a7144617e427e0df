//! Occurrences of scheduled work, what the scheduler reads to evaluate them (task reports, check-ins, tickets) and
//! the ladder steps it has taken.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use std::collections::HashMap;

use super::chats::NamedRef;
use super::StoreError;

/// An occurrence as the API shows it (`interfaces.md`, "occurrence").
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Occurrence {
    pub id: i64,
    pub schedule: NamedRef,
    pub site: Option<NamedRef>,
    pub starts_at: String,
    pub due_at: String,
    /// Patrols: the round's number within its day.
    pub round: Option<i64>,
    pub status: String,
    /// The task entry that fulfilled (or decided) it.
    pub task: Option<i64>,
    /// The report's text.
    pub report: Option<String>,
    pub reported_at: Option<String>,
    pub reason: Option<String>,
    pub missing_checkpoints: Vec<String>,
    pub excused_reason: Option<String>,
    pub excused_by: Option<String>,
    /// Evidence ids of the deciding report.
    pub evidence: Vec<i64>,
    /// Every reminder, photo request and escalation sent for it.
    pub reminders: Vec<Step>,
}

/// One rung of a ladder acted on: who was sent what, when.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Step {
    pub id: i64,
    pub rung: String,
    pub purpose: String,
    pub to: String,
    pub text: String,
    pub at: String,
    /// The outbox send queued for it, and where that send is (`queued`, `sent`, `delivered`, `read`, `failed`,
    /// `unconfirmed`); null when the outbox could not address the recipient.
    pub send: Option<i64>,
    pub state: Option<String>,
}

/// Creates the occurrence unless it exists (idempotent).
pub fn materialize(
    tx: &Transaction<'_>,
    schedule: i64,
    starts_ms: i64,
    due_ms: i64,
    round: Option<i64>,
) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO occurrences(schedule_id, starts_at_ms, due_at_ms, round) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![schedule, starts_ms, due_ms, round])?;
    Ok(n > 0)
}

/// An occurrence still open (not settled), as the scheduler evaluates it.
#[derive(Debug, Clone)]
pub struct Open {
    pub id: i64,
    pub schedule: i64,
    pub starts_ms: i64,
    pub due_ms: i64,
    /// The same schedule's next occurrence's start, if there is one.
    pub next_starts_ms: Option<i64>,
    pub round: Option<i64>,
    pub status: String,
    pub task: Option<i64>,
    pub excused_reason: Option<String>,
    pub missing: Vec<String>,
}

/// Open occurrences that have started by `now_ms`, oldest first.
pub fn open(conn: &Connection, now_ms: i64) -> Result<Vec<Open>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT o.id, o.schedule_id, o.starts_at_ms, o.due_at_ms, o.round, o.status, o.task_id, o.excused_reason, \
         o.missing_checkpoints, (SELECT n.starts_at_ms FROM occurrences n WHERE n.schedule_id = o.schedule_id \
         AND n.starts_at_ms > o.starts_at_ms ORDER BY n.starts_at_ms LIMIT 1) \
         FROM occurrences o \
         WHERE o.settled = 0 AND o.starts_at_ms <= ?1 ORDER BY o.starts_at_ms, o.id",
    )?;
    let rows = st.query_map([now_ms], |r| {
        Ok(Open {
            id: r.get(0)?,
            schedule: r.get(1)?,
            starts_ms: r.get(2)?,
            due_ms: r.get(3)?,
            round: r.get(4)?,
            status: r.get(5)?,
            task: r.get(6)?,
            excused_reason: r.get(7)?,
            missing: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
            next_starts_ms: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What an evaluation decided.
#[derive(Debug, Clone)]
pub struct Decided<'a> {
    pub status: &'a str,
    pub task: Option<i64>,
    pub reported_ms: Option<i64>,
    pub reason: Option<&'a str>,
    pub missing: &'a [String],
    pub settled: bool,
}

/// Stores an evaluation and points the deciding task entry at the occurrence (and no other task).
pub fn decide(tx: &Transaction<'_>, id: i64, d: &Decided<'_>) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE occurrences SET status = ?2, task_id = ?3, reported_ms = ?4, reason = ?5, missing_checkpoints = ?6, \
         settled = ?7, evaluated_at = ?8 WHERE id = ?1",
    )?
    .execute(params![
        id,
        d.status,
        d.task,
        d.reported_ms,
        d.reason,
        serde_json::to_string(d.missing)?,
        d.settled,
        super::now_str()
    ])?;
    tx.prepare_cached(
        "UPDATE tasks SET schedule_occurrence = NULL WHERE schedule_occurrence = ?1 AND id IS NOT ?2",
    )?
    .execute(params![id, d.task])?;
    if let Some(task) = d.task {
        tx.prepare_cached("UPDATE tasks SET schedule_occurrence = ?1 WHERE id = ?2")?
            .execute(params![id, task])?;
    }
    Ok(())
}

/// Sets a manager's excuse; the next tick settles the occurrence as `excused`.
pub fn excuse(tx: &Transaction<'_>, id: i64, reason: &str, by: &str) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached(
            "UPDATE occurrences SET excused_reason = ?2, excused_by = ?3, status = 'excused', reason = ?2, settled = 1, \
             evaluated_at = ?4 WHERE id = ?1",
        )?
        .execute(params![id, reason, by, super::now_str()])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("occurrence {id}")));
    }
    Ok(())
}

/// A task-log entry in a time range, with what matching needs.
#[derive(Debug, Clone)]
pub struct TaskReport {
    pub task: i64,
    pub at_ms: i64,
    pub status: String,
    pub category: Option<String>,
    pub location: String,
    pub chat: i64,
    pub phone: Option<String>,
    pub vendor: Option<i64>,
    pub text: Option<String>,
    pub has_photo: bool,
    /// The occurrence it already decided, if any.
    pub occurrence: Option<i64>,
}

/// Task entries reported in `[from_ms, to_ms]`.
pub fn task_reports(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<TaskReport>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT t.id, t.reported_ms, t.status, t.category, t.location, t.chat_id, p.phone, p.vendor_id, m.text, \
         EXISTS (SELECT 1 FROM evidence e WHERE e.record_type = 'task' AND e.record_id = t.id AND e.kind = 'photo'), \
         t.schedule_occurrence \
         FROM tasks t LEFT JOIN people p ON p.id = t.reported_by LEFT JOIN messages m ON m.id = t.id \
         WHERE t.reported_ms BETWEEN ?1 AND ?2",
    )?;
    let rows = st.query_map([from_ms, to_ms], |r| {
        Ok(TaskReport {
            task: r.get(0)?,
            at_ms: r.get(1)?,
            status: r.get(2)?,
            category: r.get(3)?,
            location: r.get(4)?,
            chat: r.get(5)?,
            phone: r.get(6)?,
            vendor: r.get(7)?,
            text: r.get(8)?,
            has_photo: r.get(9)?,
            occurrence: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A message whose first line may be a poster tag (`#C-L3 Kenanga Heights`), with whether it carries a photo and the
/// task entry it became, if any.
#[derive(Debug, Clone)]
pub struct TaggedMessage {
    pub at_ms: i64,
    pub text: String,
    pub has_photo: bool,
    pub task: Option<i64>,
}

/// Messages starting with `#` sent in `[from_ms, to_ms]` (from anyone: a poster tag verifies the place).
pub fn tagged_messages(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<TaggedMessage>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT m.sent_ms, m.text, \
         EXISTS (SELECT 1 FROM evidence e WHERE e.message_id = m.id AND e.kind = 'photo'), \
         CASE WHEN m.record_type = 'task' THEN m.record_id END \
         FROM messages m WHERE m.sent_ms BETWEEN ?1 AND ?2 AND m.text LIKE '#%' AND m.deleted = 0",
    )?;
    let rows = st.query_map(params![from_ms, to_ms], |r| {
        Ok(TaggedMessage {
            at_ms: r.get(0)?,
            text: r.get(1)?,
            has_photo: r.get(2)?,
            task: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A message that may be a patrol check-in.
#[derive(Debug, Clone)]
pub struct CheckInMessage {
    pub at_ms: i64,
    pub chat: i64,
    pub phone: Option<String>,
    pub vendor: Option<i64>,
    pub text: String,
}

/// Text messages sent in `[from_ms, to_ms]` in one of `chats` or by one of `senders` (phones), or anywhere when they
/// start with `#` (a poster tag).
pub fn checkin_messages(
    conn: &Connection,
    chats: &[i64],
    senders: &[String],
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<CheckInMessage>, StoreError> {
    let map = |r: &rusqlite::Row<'_>| {
        Ok(CheckInMessage {
            at_ms: r.get(0)?,
            chat: r.get(1)?,
            phone: r.get(2)?,
            vendor: r.get(3)?,
            text: r.get(4)?,
        })
    };
    let mut out = vec![];
    let mut st = conn.prepare_cached(
        "SELECT m.sent_ms, m.chat_id, p.phone, p.vendor_id, m.text FROM messages m \
         LEFT JOIN people p ON p.id = m.sender_id \
         WHERE m.chat_id = ?1 AND m.sent_ms BETWEEN ?2 AND ?3 AND m.text IS NOT NULL AND m.deleted = 0",
    )?;
    for c in chats {
        for r in st.query_map(params![c, from_ms, to_ms], map)? {
            out.push(r?);
        }
    }
    let mut st = conn.prepare_cached(
        "SELECT m.sent_ms, m.chat_id, p.phone, p.vendor_id, m.text FROM people p \
         JOIN messages m ON m.sender_id = p.id \
         WHERE p.phone = ?1 AND m.sent_ms BETWEEN ?2 AND ?3 AND m.text IS NOT NULL AND m.deleted = 0",
    )?;
    for phone in senders {
        for r in st.query_map(params![phone, from_ms, to_ms], map)? {
            let r = r?;
            if !chats.contains(&r.chat) {
                out.push(r);
            }
        }
    }
    let mut st = conn.prepare_cached(
        "SELECT m.sent_ms, m.chat_id, p.phone, p.vendor_id, m.text FROM messages m \
         LEFT JOIN people p ON p.id = m.sender_id \
         WHERE m.sent_ms BETWEEN ?1 AND ?2 AND m.text LIKE '#%' AND m.deleted = 0",
    )?;
    for r in st.query_map(params![from_ms, to_ms], map)? {
        let r = r?;
        let seen = chats.contains(&r.chat) || r.phone.as_ref().is_some_and(|p| senders.contains(p));
        if !seen {
            out.push(r);
        }
    }
    Ok(out)
}

/// Person ids' vendors by vendor name (for `{"vendor": ...}` assignees).
pub fn vendor_id(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM vendors WHERE name = ?1")?
        .query_row([name.trim()], |r| r.get(0))
        .optional()?)
}

/// The rungs already taken for a subject.
pub fn rungs_taken(
    conn: &Connection,
    about_type: &str,
    about_id: i64,
) -> Result<Vec<String>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT rung FROM ladder_steps WHERE about_type = ?1 AND about_id = ?2",
    )?;
    let rows = st.query_map(params![about_type, about_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A ladder step to record.
#[derive(Debug, Clone)]
pub struct NewStep<'a> {
    pub about_type: &'a str,
    pub about_id: i64,
    pub rung: &'a str,
    pub recipient: &'a str,
    pub purpose: &'a str,
    pub text: &'a str,
    pub at_ms: i64,
}

/// Records a ladder step once: false when this subject, rung and recipient was done already.
pub fn take_step(tx: &Transaction<'_>, s: &NewStep<'_>) -> Result<bool, StoreError> {
    let at = chrono::DateTime::from_timestamp_millis(s.at_ms)
        .map(super::fmt_time)
        .unwrap_or_else(super::now_str);
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO ladder_steps(about_type, about_id, rung, recipient, purpose, text, at_ms, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            s.about_type,
            s.about_id,
            s.rung,
            s.recipient,
            s.purpose,
            s.text,
            s.at_ms,
            at
        ])?;
    Ok(n > 0)
}

/// Filters for the occurrence list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub site: Option<i64>,
    pub status: Option<String>,
    pub schedule: Option<i64>,
}

fn ms_str(ms: Option<i64>) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(super::fmt_time)
}

/// Occurrences matching `f`, newest start first, after `before` (a `(starts_ms, id)` cursor).
pub fn list(
    conn: &Connection,
    f: &Filter,
    before: Option<(i64, i64)>,
    limit: usize,
) -> Result<Vec<Occurrence>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT o.id, o.schedule_id, s.name, s.site_id, st.name, o.starts_at_ms, o.due_at_ms, o.round, o.status, \
         o.task_id, m.text, o.reported_ms, o.reason, o.missing_checkpoints, o.excused_reason, o.excused_by \
         FROM occurrences o JOIN schedules s ON s.id = o.schedule_id LEFT JOIN sites st ON st.id = s.site_id \
         LEFT JOIN messages m ON m.id = o.task_id \
         WHERE (?1 IS NULL OR o.starts_at_ms >= ?1) AND (?2 IS NULL OR o.starts_at_ms <= ?2) \
         AND (?3 IS NULL OR s.site_id = ?3) AND (?4 IS NULL OR o.status = ?4) AND (?5 IS NULL OR o.schedule_id = ?5) \
         AND (?6 IS NULL OR o.starts_at_ms < ?6 OR (o.starts_at_ms = ?6 AND o.id < ?7)) \
         ORDER BY o.starts_at_ms DESC, o.id DESC LIMIT ?8",
    )?;
    let rows = st.query_map(
        params![
            f.from_ms,
            f.to_ms,
            f.site,
            f.status,
            f.schedule,
            before.map(|b| b.0),
            before.map(|b| b.1),
            limit as i64
        ],
        |r| {
            let site_id: Option<i64> = r.get(3)?;
            let site_name: Option<String> = r.get(4)?;
            let missing: String = r.get(13)?;
            Ok(Occurrence {
                id: r.get(0)?,
                schedule: NamedRef {
                    id: r.get(1)?,
                    name: r.get(2)?,
                },
                site: site_id.map(|id| NamedRef {
                    id,
                    name: site_name.unwrap_or_default(),
                }),
                starts_at: ms_str(r.get(5)?).unwrap_or_default(),
                due_at: ms_str(r.get(6)?).unwrap_or_default(),
                round: r.get(7)?,
                status: r.get(8)?,
                task: r.get(9)?,
                report: r.get(10)?,
                reported_at: ms_str(r.get(11)?),
                reason: r.get(12)?,
                missing_checkpoints: serde_json::from_str(&missing).unwrap_or_default(),
                excused_reason: r.get(14)?,
                excused_by: r.get(15)?,
                evidence: vec![],
                reminders: vec![],
            })
        },
    )?;
    let mut out: Vec<Occurrence> = rows.collect::<Result<_, _>>()?;
    // The page's evidence and reminders in one query each (not two per occurrence).
    let tasks: Vec<i64> = out.iter().filter_map(|o| o.task).collect();
    let mut evidence: HashMap<i64, Vec<i64>> = HashMap::new();
    if !tasks.is_empty() {
        let mut ev = conn.prepare_cached(
            "SELECT record_id, id FROM evidence WHERE record_type = 'task' \
             AND record_id IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )?;
        let ids = serde_json::to_string(&tasks)?;
        for r in ev.query_map([ids], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (task, id) = r?;
            evidence.entry(task).or_default().push(id);
        }
    }
    let ids: Vec<i64> = out.iter().map(|o| o.id).collect();
    let mut reminders = steps_of(conn, "occurrence", &ids)?;
    for o in &mut out {
        if let Some(t) = o.task {
            o.evidence = evidence.remove(&t).unwrap_or_default();
        }
        o.reminders = reminders.remove(&o.id).unwrap_or_default();
    }
    Ok(out)
}

/// The steps taken for each of many subjects (one query), oldest first, by subject id.
fn steps_of(
    conn: &Connection,
    about_type: &str,
    about_ids: &[i64],
) -> Result<HashMap<i64, Vec<Step>>, StoreError> {
    let mut out: HashMap<i64, Vec<Step>> = HashMap::new();
    if about_ids.is_empty() {
        return Ok(out);
    }
    let mut st = conn.prepare_cached(
        "SELECT l.id, l.rung, l.purpose, l.recipient, l.text, l.at, o.id, o.state, l.about_id FROM ladder_steps l \
         LEFT JOIN outbox o ON o.about_type = l.about_type AND o.about_id = l.about_id AND o.rung = l.rung \
         AND o.recipient = l.recipient \
         WHERE l.about_type = ?1 AND l.about_id IN (SELECT value FROM json_each(?2)) ORDER BY l.at_ms, l.id",
    )?;
    let ids = serde_json::to_string(about_ids)?;
    let rows = st.query_map(params![about_type, ids], |r| {
        Ok((
            r.get::<_, i64>(8)?,
            Step {
                id: r.get(0)?,
                rung: r.get(1)?,
                purpose: r.get(2)?,
                to: r.get(3)?,
                text: r.get(4)?,
                at: r.get(5)?,
                send: r.get(6)?,
                state: r.get(7)?,
            },
        ))
    })?;
    for r in rows {
        let (id, step) = r?;
        out.entry(id).or_default().push(step);
    }
    Ok(out)
}

/// The sort key of an occurrence (for cursors).
pub fn sort_key(conn: &Connection, id: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT starts_at_ms FROM occurrences WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// Counts by status of occurrences starting in `[from_ms, to_ms)` (the daily summary).
pub fn counts(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT status, count(*) FROM occurrences WHERE starts_at_ms >= ?1 AND starts_at_ms < ?2 GROUP BY status",
    )?;
    let rows = st.query_map([from_ms, to_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An unresolved ticket past one of its SLA times, for the chase ladder.
#[derive(Debug, Clone)]
pub struct OverdueTicket {
    pub id: i64,
    pub title: String,
    pub status: String,
    pub site: Option<i64>,
    pub chat_external: String,
    pub owner_phone: Option<String>,
    pub respond_by_ms: Option<i64>,
    pub resolve_by_ms: Option<i64>,
}

/// Open tickets whose respond-by or resolve-by time has passed by `now_ms`.
pub fn overdue_tickets(conn: &Connection, now_ms: i64) -> Result<Vec<OverdueTicket>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT i.id, i.title, i.status, c.site_id, c.external_id, p.phone, i.respond_by_ms, i.resolve_by_ms \
         FROM issues i JOIN chats c ON c.id = i.chat_id LEFT JOIN people p ON p.id = i.owner_id \
         WHERE i.status NOT IN ('resolved', 'closed') AND i.merged_into IS NULL \
         AND ((i.respond_by_ms <= ?1 AND i.responded_at IS NULL AND i.status = 'open') OR i.resolve_by_ms <= ?1)",
    )?;
    let rows = st.query_map([now_ms], |r| {
        Ok(OverdueTicket {
            id: r.get(0)?,
            title: r.get(1)?,
            status: r.get(2)?,
            site: r.get(3)?,
            chat_external: r.get(4)?,
            owner_phone: r.get(5)?,
            respond_by_ms: r.get(6)?,
            resolve_by_ms: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Open tickets, and of them those past a due time, at `now_ms` (the daily summary).
pub fn ticket_counts(conn: &Connection, now_ms: i64) -> Result<(i64, i64), StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(CASE WHEN (respond_by_ms <= ?1 AND responded_at IS NULL) OR resolve_by_ms <= ?1 \
             THEN 1 ELSE 0 END), 0) FROM issues WHERE status NOT IN ('resolved', 'closed') AND merged_into IS NULL",
        )?
        .query_row([now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// A site's settings JSON and its name.
pub fn site_settings(
    conn: &Connection,
    site: i64,
) -> Result<Option<(String, serde_json::Value)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT name, settings FROM sites WHERE id = ?1")?
        .query_row([site], |r| {
            let s: String = r.get(1)?;
            Ok((r.get(0)?, serde_json::from_str(&s).unwrap_or_default()))
        })
        .optional()?)
}

/// A chat's WhatsApp id (where group reminders go).
pub fn chat_external(conn: &Connection, chat: i64) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT external_id FROM chats WHERE id = ?1")?
        .query_row([chat], |r| r.get(0))
        .optional()?)
}
