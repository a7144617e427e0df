//! Issues, tasks, the engine's per-chat state and manager corrections: applying the records engine's effects, and
//! the queries behind `/api/v1/issues` and `/api/v1/tasks`.

use chrono::{DateTime, Utc};
use rusqlite::{
    params, params_from_iter, types::Value, Connection, OptionalExtension, Transaction,
};
use serde::Serialize;

use super::people::PersonRef;
use super::StoreError;
use crate::classify::types::Location;
use crate::records::{ChatState, Effect, IssueStatus, Overrides, RecordRef, SlaPolicy};

// ---------------------------------------------------------------------------------------------------------------
// Engine state, overrides, settings

/// The saved snapshot of a chat's engine state and the message id it covers (a new state and 0 when there is none).
pub fn load_state(conn: &Connection, chat_id: i64) -> Result<(ChatState, i64), StoreError> {
    let row: Option<(Option<String>, i64)> = conn
        .prepare_cached("SELECT state, state_through FROM chat_states WHERE chat_id = ?1")?
        .query_row([chat_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        Some((Some(s), through)) => match serde_json::from_str(&s) {
            Ok(st) => Ok((st, through)),
            Err(e) => {
                tracing::warn!(chat = chat_id, error = %e, "unreadable records state; rebuilding from the messages");
                Ok((ChatState::new(chat_id), 0))
            }
        },
        _ => Ok((ChatState::new(chat_id), 0)),
    }
}

/// The chat's current seq and the process that set it (0, 0 when it has no row).
pub fn seq_and_owner(conn: &Connection, chat_id: i64) -> Result<(i64, i64), StoreError> {
    Ok(conn
        .prepare_cached("SELECT seq, owner FROM chat_seqs WHERE chat_id = ?1")?
        .query_row([chat_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0)))
}

/// Records that process `owner` changed the chat's state; returns the new seq. The counter never goes back (not
/// even when a chat is reset), so a cached state can always tell it is stale.
pub fn bump_seq(tx: &Transaction<'_>, chat_id: i64, owner: i64) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO chat_seqs(chat_id, seq, owner) VALUES (?1, 1, ?2) \
             ON CONFLICT(chat_id) DO UPDATE SET seq = seq + 1, owner = excluded.owner RETURNING seq",
        )?
        .query_row(params![chat_id, owner], |r| r.get(0))?)
}

/// Saves a snapshot of the chat's state covering processed messages up to `through`.
pub fn save_state(
    tx: &Transaction<'_>,
    chat_id: i64,
    st: &ChatState,
    through: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO chat_states(chat_id, state, state_through, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(chat_id) DO UPDATE SET state = excluded.state, state_through = excluded.state_through, \
         updated_at = excluded.updated_at",
    )?
    .execute(params![chat_id, serde_json::to_string(st)?, through, super::now_str()])?;
    Ok(())
}

/// A stored manager correction.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Correction {
    pub id: i64,
    pub chat_id: i64,
    pub target: String,
    pub target_id: Option<i64>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub actor: String,
    pub reason: Option<String>,
    pub at: String,
}

pub fn add_correction(
    tx: &Transaction<'_>,
    chat_id: i64,
    target: &str,
    target_id: Option<i64>,
    data: &serde_json::Value,
    actor: &str,
    reason: Option<&str>,
) -> Result<i64, StoreError> {
    tx.prepare_cached("INSERT INTO corrections(chat_id, target, target_id, data, actor, reason, at) VALUES (?1,?2,?3,?4,?5,?6,?7)")?.execute(
        params![chat_id, target, target_id, data.to_string(), actor, reason, super::now_str()],
    )?;
    Ok(tx.last_insert_rowid())
}

pub fn corrections(conn: &Connection, chat_id: i64) -> Result<Vec<Correction>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT id, chat_id, target, target_id, data, actor, reason, at FROM corrections WHERE chat_id = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([chat_id], |r| {
        let data: String = r.get(4)?;
        Ok(Correction {
            id: r.get(0)?,
            chat_id: r.get(1)?,
            target: r.get(2)?,
            target_id: r.get(3)?,
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            actor: r.get(5)?,
            reason: r.get(6)?,
            at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The engine's overrides for a chat, built from its corrections (later corrections of the same target win).
pub fn load_overrides(conn: &Connection, chat_id: i64) -> Result<Overrides, StoreError> {
    let mut ov = Overrides::default();
    for c in corrections(conn, chat_id)? {
        match (c.target.as_str(), c.target_id) {
            ("message", Some(id)) => {
                let entry = ov.messages.entry(id).or_default();
                if let Some(class) = c.data.get("class").filter(|v| !v.is_null()) {
                    entry.class = serde_json::from_value(class.clone()).ok();
                }
                if let Some(rec) = c.data.get("record").filter(|v| !v.is_null()) {
                    entry.record = serde_json::from_value(rec.clone()).ok();
                }
            }
            ("evidence", Some(id)) => {
                if let Ok(e) = serde_json::from_value(c.data.clone()) {
                    ov.evidence.insert(id, e);
                }
            }
            ("action", _) => {
                if let Ok(a) = serde_json::from_value(c.data.clone()) {
                    ov.actions.push(a);
                }
            }
            _ => {}
        }
    }
    Ok(ov)
}

pub use super::settings::{sla_policy, SLA_SETTING};

/// Forgets everything the engine derived for a chat (records, links, state) so it can be replayed.
/// Manager corrections are kept: the replay applies them again.
pub fn reset_chat(tx: &Transaction<'_>, chat_id: i64) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE evidence SET record_type = NULL, record_id = NULL, role = NULL, link_reason = NULL \
         WHERE message_id IN (SELECT id FROM messages WHERE chat_id = ?1)")?.execute(
        [chat_id],
    )?;
    // The kind goes back to the classification's (the records engine may have read a message as a follow-up).
    tx.prepare_cached(
        "UPDATE messages SET record_type = NULL, record_id = NULL, link_reason = NULL, \
         kind = coalesce(json_extract(classification, '$.kind'), kind) WHERE chat_id = ?1",
    )?
    .execute([chat_id])?;
    tx.prepare_cached("DELETE FROM issues WHERE chat_id = ?1")?
        .execute([chat_id])?;
    tx.prepare_cached("DELETE FROM tasks WHERE chat_id = ?1")?
        .execute([chat_id])?;
    tx.prepare_cached("DELETE FROM chat_states WHERE chat_id = ?1")?
        .execute([chat_id])?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Applying effects

/// What applying a batch of effects created (for summaries and metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub issues_opened: usize,
    pub tasks_opened: usize,
    pub links: usize,
}

fn loc_json(l: &Location) -> String {
    serde_json::to_string(l).unwrap_or_else(|_| "{}".into())
}

fn record_parts(r: RecordRef) -> (&'static str, i64) {
    match r {
        RecordRef::Issue(id) => ("issue", id),
        RecordRef::Task(id) => ("task", id),
    }
}

pub fn apply_effect(
    tx: &Transaction<'_>,
    fx: &Effect,
    sla: &SlaPolicy,
    tz: chrono_tz::Tz,
    out: &mut Applied,
) -> Result<(), StoreError> {
    let now = super::now_str();
    match fx {
        Effect::OpenIssue {
            issue_id,
            chat_id,
            title,
            category,
            location,
            priority,
            repeat_of,
            opened_at,
            reported_by,
            ..
        } => {
            let (respond_by, resolve_by) =
                crate::records::sla_deadlines(sla, *category, *priority, *opened_at, tz);
            tx.prepare_cached(
                "INSERT OR REPLACE INTO issues(id, chat_id, title, status, category, priority, location, block, level, unit, area, \
                 opened_at, opened_ms, reported_by, repeat_of, respond_by, resolve_by, respond_by_ms, resolve_by_ms, updated_at) \
                 VALUES (?1,?2,?3,'open',?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
            )?
            .execute(params![
                issue_id,
                chat_id,
                title,
                category.map(|c| c.as_str()),
                priority.map(|p| p.as_str()),
                loc_json(location),
                location.block,
                location.level,
                location.unit,
                location.area,
                super::fmt_time(*opened_at),
                opened_at.timestamp_millis(),
                reported_by,
                repeat_of,
                super::fmt_time(respond_by),
                super::fmt_time(resolve_by),
                respond_by.timestamp_millis(),
                resolve_by.timestamp_millis(),
                now,
            ])?;
            out.issues_opened += 1;
        }
        Effect::OpenTask {
            task_id,
            chat_id,
            status,
            category,
            location,
            reported_at,
            reported_by,
            ..
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO tasks(id, chat_id, status, category, location, block, level, unit, area, reported_at, \
                 reported_ms, reported_by, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
            )?
            .execute(params![
                task_id,
                chat_id,
                status.as_str(),
                category.map(|c| c.as_str()),
                loc_json(location),
                location.block,
                location.level,
                location.unit,
                location.area,
                super::fmt_time(*reported_at),
                reported_at.timestamp_millis(),
                reported_by,
                now,
            ])?;
            out.tasks_opened += 1;
        }
        Effect::CompleteTask { task_id, msg, at } => {
            tx.prepare_cached(
                "UPDATE tasks SET status = 'done', completed_at = ?2, completed_by = ?3, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![task_id, super::fmt_time(*at), msg, now])?;
        }
        Effect::LinkMessage {
            msg,
            record,
            reason,
        } => {
            let (t, id) = record_parts(*record);
            tx.prepare_cached("UPDATE messages SET record_type = ?2, record_id = ?3, link_reason = ?4 WHERE id = ?1")?
                .execute(params![msg, t, id, reason.explain()])?;
            out.links += 1;
        }
        Effect::ReadInContext {
            msg, kind, cues, ..
        } => {
            tx.prepare_cached(
                "UPDATE messages SET kind = ?2, link_reason = coalesce(link_reason, '') || ?3 WHERE id = ?1",
            )?
            .execute(params![msg, kind.as_str(), crate::records::context::cue_note(cues)])?;
        }
        Effect::MessageUnlinked { msg, reason } => {
            tx.prepare_cached(
                "UPDATE messages SET record_type = NULL, record_id = NULL, link_reason = ?2 WHERE id = ?1",
            )?
            .execute(params![msg, reason.explain()])?;
        }
        Effect::SetIssueStatus {
            issue, status, at, ..
        } => {
            let at_s = super::fmt_time(*at);
            let resolved = matches!(status, IssueStatus::Resolved).then(|| at_s.clone());
            let closed = matches!(status, IssueStatus::Closed).then(|| at_s.clone());
            tx.prepare_cached(
                "UPDATE issues SET status = ?2, \
                 responded_at = CASE WHEN responded_at IS NULL AND ?2 <> 'open' THEN ?3 ELSE responded_at END, \
                 resolved_at = CASE WHEN ?2 = 'resolved' THEN ?4 WHEN ?2 IN ('open','acknowledged','in_progress') THEN NULL ELSE resolved_at END, \
                 closed_at = CASE WHEN ?2 = 'closed' THEN ?5 ELSE NULL END, updated_at = ?6 WHERE id = ?1",
            )?
            .execute(params![issue, status.as_str(), at_s, resolved, closed, now])?;
        }
        Effect::SetOwner { issue, person, .. } => {
            tx.prepare_cached("UPDATE issues SET owner_id = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![issue, person, now])?;
        }
        Effect::SetVendor { issue, vendor } => {
            tx.prepare_cached("UPDATE issues SET vendor_id = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![issue, vendor, now])?;
        }
        Effect::MergeIssues { from, into, at } => {
            tx.prepare_cached(
                "UPDATE issues SET merged_into = ?2, status = 'closed', closed_at = ?3, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![from, into, super::fmt_time(*at), now])?;
            tx.prepare_cached(
                "UPDATE messages SET record_id = ?2 WHERE record_type = 'issue' AND record_id = ?1",
            )?
            .execute(params![from, into])?;
            tx.prepare_cached(
                "UPDATE evidence SET record_id = ?2 WHERE record_type = 'issue' AND record_id = ?1",
            )?
            .execute(params![from, into])?;
        }
        Effect::LinkEvidence {
            evidence,
            record,
            role,
            reason,
            ..
        } => {
            let (t, id) = record_parts(*record);
            super::evidence::set_record(
                tx,
                *evidence,
                Some((t, id)),
                Some(role.as_str()),
                Some(&reason.explain()),
            )?;
        }
        Effect::UnlinkEvidence { evidence, .. } => {
            super::evidence::set_record(tx, *evidence, None, None, None)?;
        }
        Effect::EvidenceUnlinked {
            evidence, reason, ..
        } => {
            super::evidence::set_record(tx, *evidence, None, None, Some(&reason.explain()))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Sla {
    pub respond_by: Option<String>,
    pub resolve_by: Option<String>,
    pub breached: bool,
    pub respond_breached: bool,
    pub resolve_breached: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Issue {
    pub id: i64,
    pub title: String,
    pub status: String,
    pub category: Option<String>,
    pub priority: Option<String>,
    #[schema(value_type = Object)]
    pub location: serde_json::Value,
    pub site: Option<super::chats::NamedRef>,
    pub chat: super::chats::NamedRefOpt,
    pub opened_at: String,
    pub reported_by: Option<PersonRef>,
    pub owner: Option<PersonRef>,
    /// The vendor (contractor firm) the ticket is assigned to.
    pub vendor: Option<super::chats::NamedRef>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub repeat_of: Option<i64>,
    pub merged_into: Option<i64>,
    pub sla: Sla,
    pub messages: i64,
    pub photos: i64,
    /// The vendor the owner works for, if any.
    pub owner_vendor: Option<super::chats::NamedRef>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub id: i64,
    pub sent_at: String,
    pub sender: Option<PersonRef>,
    pub kind: Option<String>,
    #[serde(rename = "type")]
    pub msg_type: String,
    pub text: Option<String>,
    pub link_reason: Option<String>,
    pub media: Vec<i64>,
    /// A voice note's transcript (the text it was read by), when `[transcribe] command` made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct IssueDetail {
    #[serde(flatten)]
    pub issue: Issue,
    pub timeline: Vec<TimelineEntry>,
    pub evidence: Vec<super::evidence::Evidence>,
    pub corrections: Vec<Correction>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Task {
    pub id: i64,
    pub status: String,
    pub category: Option<String>,
    #[schema(value_type = Object)]
    pub location: serde_json::Value,
    pub site: Option<super::chats::NamedRef>,
    pub chat: super::chats::NamedRefOpt,
    pub reported_at: String,
    pub reported_by: Option<PersonRef>,
    pub completed_at: Option<String>,
    pub schedule: Option<i64>,
    pub text: Option<String>,
    pub evidence: Vec<super::evidence::Evidence>,
}

/// Filters for issues and tasks.
#[derive(Debug, Default, Clone)]
pub struct RecordFilter {
    pub site: Option<i64>,
    pub chat: Option<i64>,
    pub person: Option<i64>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Only issues whose SLA is breached as of `now_ms`.
    pub breached: Option<bool>,
    pub now_ms: i64,
    /// Only open issues (status not resolved/closed).
    pub open: Option<bool>,
    /// Only issues overdue now (true: open and past a deadline not met, as counted by [`counts`]), or not (false).
    /// Unlike `breached`, an issue that was late once (responded or resolved after its deadline) is not overdue now.
    pub overdue: Option<bool>,
    /// Issues owned by this person.
    pub owner: Option<i64>,
    /// Issues assigned to this vendor, or owned by one of its people.
    pub vendor: Option<i64>,
    /// Location words: each must be the block, level or unit, or (three letters or more) part of the area.
    pub location: Vec<String>,
    /// Free text: in the title or in a linked message (full-text index); a number also finds the ticket of that id.
    pub text: Option<String>,
    /// Tasks in this block (`Some("")`: tasks with no block).
    pub block: Option<String>,
    /// Tasks that fulfilled an occurrence of this schedule.
    pub schedule: Option<i64>,
    /// Tasks with (true) or without (false) a photo.
    pub photo: Option<bool>,
}

/// How a list of issues is ordered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum IssueSort {
    /// Newest opened first (the default).
    #[default]
    Newest,
    Oldest,
    /// Most urgent first (urgent, high, normal, low, none), newest first within a priority.
    Priority,
    /// Soonest resolve-by deadline first (no deadline last).
    Deadline,
}

impl IssueSort {
    pub fn parse(s: &str) -> Option<IssueSort> {
        Some(match s {
            "newest" | "-opened" => IssueSort::Newest,
            "oldest" | "opened" => IssueSort::Oldest,
            "priority" => IssueSort::Priority,
            "deadline" => IssueSort::Deadline,
            _ => return None,
        })
    }
    /// The keyset: an integer expression and whether it ascends (ties broken by id the same way).
    fn key(self) -> (&'static str, bool) {
        match self {
            IssueSort::Newest => ("i.opened_ms", false),
            IssueSort::Oldest => ("i.opened_ms", true),
            // rank * 10^13 + (10^13 - opened_ms): by priority, then newest first (times stay below 10^13 ms).
            IssueSort::Priority => (
                "((CASE i.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 WHEN 'low' THEN 3 ELSE 4 END) \
                 * 10000000000000 + (10000000000000 - i.opened_ms))",
                true,
            ),
            IssueSort::Deadline => ("coalesce(i.resolve_by_ms, 9000000000000000000)", true),
        }
    }
}

/// Counts over a filtered list of issues (the totals shown above the list).
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct IssueTotals {
    /// Every issue that matches.
    pub all: i64,
    /// Not resolved or closed.
    pub open: i64,
    /// Open and past a deadline not met (as the `overdue=true` filter).
    pub overdue_now: i64,
    /// Late once but not overdue now (as `breached=true&overdue=false`).
    pub late_once: i64,
    /// Resolved or closed.
    pub done: i64,
}

fn person(r: &rusqlite::Row<'_>, id: usize) -> rusqlite::Result<Option<PersonRef>> {
    let pid: Option<i64> = r.get(id)?;
    Ok(match pid {
        Some(id_) => Some(PersonRef {
            id: id_,
            name: r.get(id + 1)?,
            phone: r.get(id + 2)?,
        }),
        None => None,
    })
}

fn parse_ts(s: &Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref().and_then(super::parse_time)
}

const ISSUE_SELECT: &str = "SELECT i.id, i.title, i.status, i.category, i.priority, i.location, c.site_id, s.name, i.chat_id, c.name, \
    i.opened_at, i.reported_by, rp.name, rp.phone, i.owner_id, op.name, op.phone, i.resolved_at, i.closed_at, i.repeat_of, \
    i.merged_into, i.respond_by, i.resolve_by, i.responded_at, i.opened_ms, \
    (SELECT count(*) FROM messages m WHERE m.record_type = 'issue' AND m.record_id = i.id), \
    (SELECT count(*) FROM evidence e WHERE e.record_type = 'issue' AND e.record_id = i.id AND e.kind = 'photo'), \
    ov.id, ov.name, i.vendor_id, vn.name \
    FROM issues i JOIN chats c ON c.id = i.chat_id LEFT JOIN sites s ON s.id = c.site_id \
    LEFT JOIN people rp ON rp.id = i.reported_by LEFT JOIN people op ON op.id = i.owner_id \
    LEFT JOIN vendors ov ON ov.id = op.vendor_id LEFT JOIN vendors vn ON vn.id = i.vendor_id";

fn issue_row(r: &rusqlite::Row<'_>, now: DateTime<Utc>) -> rusqlite::Result<(Issue, i64)> {
    let site_id: Option<i64> = r.get(6)?;
    let site_name: Option<String> = r.get(7)?;
    let loc: String = r.get(5)?;
    let respond_by: Option<String> = r.get(21)?;
    let resolve_by: Option<String> = r.get(22)?;
    let responded: Option<String> = r.get(23)?;
    let resolved: Option<String> = r.get(17)?;
    let closed: Option<String> = r.get(18)?;
    let done = parse_ts(&resolved).or(parse_ts(&closed));
    let respond_breached = parse_ts(&respond_by)
        .map(|d| crate::records::breached(d, parse_ts(&responded).or(done), now))
        .unwrap_or(false);
    let resolve_breached = parse_ts(&resolve_by)
        .map(|d| crate::records::breached(d, done, now))
        .unwrap_or(false);
    Ok((
        Issue {
            id: r.get(0)?,
            title: r.get(1)?,
            status: r.get(2)?,
            category: r.get(3)?,
            priority: r.get(4)?,
            location: serde_json::from_str(&loc).unwrap_or(serde_json::json!({})),
            site: site_id
                .zip(site_name)
                .map(|(id, name)| super::chats::NamedRef { id, name }),
            chat: super::chats::NamedRefOpt {
                id: r.get(8)?,
                name: r.get(9)?,
            },
            opened_at: r.get(10)?,
            reported_by: person(r, 11)?,
            owner: person(r, 14)?,
            vendor: {
                let id: Option<i64> = r.get(29)?;
                let name: Option<String> = r.get(30)?;
                id.zip(name)
                    .map(|(id, name)| super::chats::NamedRef { id, name })
            },
            resolved_at: resolved,
            closed_at: closed,
            repeat_of: r.get(19)?,
            merged_into: r.get(20)?,
            sla: Sla {
                respond_by,
                resolve_by,
                breached: respond_breached || resolve_breached,
                respond_breached,
                resolve_breached,
            },
            messages: r.get(25)?,
            photos: r.get(26)?,
            owner_vendor: r
                .get::<_, Option<i64>>(27)?
                .zip(r.get::<_, Option<String>>(28)?)
                .map(|(id, name)| super::chats::NamedRef { id, name }),
        },
        r.get(24)?,
    ))
}

fn add(w: &mut Vec<String>, args: &mut Vec<Value>, cond: &str, v: Value) {
    args.push(v);
    w.push(cond.replace('?', &format!("?{}", args.len())));
}

fn record_where(
    f: &RecordFilter,
    alias: &str,
    time_col: &str,
    args: &mut Vec<Value>,
) -> Vec<String> {
    let mut w: Vec<String> = vec!["1=1".into()];
    if let Some(v) = f.site {
        add(&mut w, args, "c.site_id = ?", v.into());
    }
    if let Some(v) = f.chat {
        add(&mut w, args, &format!("{alias}.chat_id = ?"), v.into());
    }
    if let Some(v) = f.person {
        if alias == "i" {
            args.push(v.into());
            let n = args.len();
            w.push(format!("(i.reported_by = ?{n} OR i.owner_id = ?{n})"));
        } else {
            add(&mut w, args, &format!("{alias}.reported_by = ?"), v.into());
        }
    }
    if let Some(v) = &f.status {
        add(
            &mut w,
            args,
            &format!("{alias}.status = ?"),
            v.clone().into(),
        );
    }
    if let Some(v) = &f.category {
        add(
            &mut w,
            args,
            &format!("{alias}.category = ?"),
            v.clone().into(),
        );
    }
    if let (Some(v), "i") = (&f.priority, alias) {
        add(&mut w, args, "i.priority = ?", v.clone().into());
    }
    if let Some(v) = f.from_ms {
        add(&mut w, args, &format!("{alias}.{time_col} >= ?"), v.into());
    }
    if let Some(v) = f.to_ms {
        add(&mut w, args, &format!("{alias}.{time_col} <= ?"), v.into());
    }
    for word in &f.location {
        args.push(word.clone().into());
        let n = args.len();
        let mut any = format!(
            "({alias}.block = ?{n} COLLATE NOCASE OR {alias}.level = ?{n} COLLATE NOCASE OR {alias}.unit = ?{n} COLLATE NOCASE"
        );
        if word.chars().count() >= 3 {
            args.push(format!("%{}%", like_escape(word)).into());
            any.push_str(&format!(
                " OR {alias}.area LIKE ?{} ESCAPE '\\'",
                args.len()
            ));
        }
        any.push(')');
        w.push(any);
    }
    if alias == "t" {
        match f.block.as_deref() {
            Some("") => w.push("t.block IS NULL".into()),
            Some(b) => add(
                &mut w,
                args,
                "t.block = ? COLLATE NOCASE",
                b.to_string().into(),
            ),
            None => {}
        }
        if let Some(s) = f.schedule {
            add(
                &mut w,
                args,
                "t.schedule_occurrence IN (SELECT id FROM occurrences WHERE schedule_id = ?)",
                s.into(),
            );
        }
        if let Some(p) = f.photo {
            let has = "EXISTS (SELECT 1 FROM evidence e WHERE e.record_type = 'task' AND e.record_id = t.id AND e.kind = 'photo')";
            w.push(if p {
                has.to_string()
            } else {
                format!("NOT {has}")
            });
        }
    }
    if alias == "i" {
        if let Some(v) = f.owner {
            add(&mut w, args, "i.owner_id = ?", v.into());
        }
        if let Some(v) = f.vendor {
            add(
                &mut w,
                args,
                "(i.vendor_id = ? OR i.owner_id IN (SELECT id FROM people WHERE vendor_id = ?))",
                v.into(),
            );
        }
        if let Some(q) = f.text.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let mut any = vec![];
            args.push(format!("%{}%", like_escape(q)).into());
            any.push(format!("i.title LIKE ?{} ESCAPE '\\'", args.len()));
            if let Ok(id) = q.trim_start_matches('#').parse::<i64>() {
                args.push(id.into());
                any.push(format!("i.id = ?{}", args.len()));
            }
            if let Some(fq) = super::messages::fts_query(q) {
                args.push(fq.into());
                any.push(format!(
                    "i.id IN (SELECT m.record_id FROM messages m WHERE m.record_type = 'issue' AND m.id IN \
                     (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?{}))",
                    args.len()
                ));
            }
            w.push(format!("({})", any.join(" OR ")));
        }
    }
    if alias == "i" {
        if let Some(open) = f.open {
            w.push(if open {
                "i.status NOT IN ('resolved','closed')".into()
            } else {
                "i.status IN ('resolved','closed')".into()
            });
        }
        if let Some(b) = f.breached {
            args.push(f.now_ms.into());
            let n = args.len();
            let cond = format!("({BREACHED})").replace("?1", &format!("?{n}"));
            w.push(if b { cond } else { format!("NOT {cond}") });
        }
        if let Some(o) = f.overdue {
            args.push(f.now_ms.into());
            let n = args.len();
            let cond = format!("({OVERDUE_NOW})").replace("?1", &format!("?{n}"));
            w.push(if o { cond } else { format!("NOT {cond}") });
        }
    }
    w
}

/// Adds the keyset condition of `cursor` over (`key`, `id`): the rows after it in the order `cmp` gives (`<` for
/// descending, `>` for ascending).
fn after_cursor(
    w: &mut Vec<String>,
    args: &mut Vec<Value>,
    cursor: Option<super::messages::Cursor>,
    key: &str,
    id: &str,
    cmp: &str,
) {
    if let Some(c) = cursor {
        args.push(c.ms.into());
        let a = args.len();
        args.push(c.id.into());
        let b = args.len();
        w.push(format!(
            "({key} {cmp} ?{a} OR ({key} = ?{a} AND {id} {cmp} ?{b}))"
        ));
    }
}

/// An issue late at any time (`?1` = now): overdue now, or answered or resolved after its deadline.
const BREACHED: &str = "(i.status NOT IN ('resolved','closed') AND (i.resolve_by_ms < ?1 OR (i.responded_at IS NULL AND i.respond_by_ms < ?1))) \
     OR (i.resolved_at IS NOT NULL AND i.resolved_at > i.resolve_by) OR (i.responded_at IS NOT NULL AND i.responded_at > i.respond_by)";

/// `%` and `_` (and the escape itself) taken literally in a LIKE pattern with `ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// An issue overdue now (`?1` = now): open and past its resolve-by, or past its respond-by with no response yet. The
/// dashboard's count and the `overdue` list filter share it, so the tile's number is the list's length.
const OVERDUE_NOW: &str = "i.status NOT IN ('resolved','closed') \
     AND (i.resolve_by_ms < ?1 OR (i.responded_at IS NULL AND i.respond_by_ms < ?1))";

/// Issues newest first (by opening time) with keyset pagination on (opened_ms, id).
pub fn list_issues(
    conn: &Connection,
    f: &RecordFilter,
    cursor: Option<super::messages::Cursor>,
    limit: usize,
) -> Result<(Vec<Issue>, Option<super::messages::Cursor>), StoreError> {
    list_issues_sorted(conn, f, IssueSort::Newest, cursor, limit)
}

/// Issues in the order `sort` with keyset pagination on (the sort key, id): the cursor's `ms` holds the key.
pub fn list_issues_sorted(
    conn: &Connection,
    f: &RecordFilter,
    sort: IssueSort,
    cursor: Option<super::messages::Cursor>,
    limit: usize,
) -> Result<(Vec<Issue>, Option<super::messages::Cursor>), StoreError> {
    if sort != IssueSort::Newest {
        return list_issues_by_key(conn, f, sort, cursor, limit);
    }
    let mut args = vec![];
    let mut w = record_where(f, "i", "opened_ms", &mut args);
    after_cursor(&mut w, &mut args, cursor, "i.opened_ms", "i.id", "<");
    let sql = format!(
        "{ISSUE_SELECT} WHERE {} ORDER BY i.opened_ms DESC, i.id DESC LIMIT {}",
        w.join(" AND "),
        limit + 1
    );
    let now = chrono::DateTime::from_timestamp_millis(f.now_ms).unwrap_or_else(super::now);
    let mut st = conn.prepare_cached(&sql)?;
    let rows: Vec<(Issue, i64)> = st
        .query_map(params_from_iter(args), |r| issue_row(r, now))?
        .collect::<Result<_, _>>()?;
    Ok(super::messages::split_page(rows, limit, |i: &Issue| i.id))
}

/// Another order than newest first: the page's ids by their key first (no per-row work for the rows not shown),
/// then those rows.
fn list_issues_by_key(
    conn: &Connection,
    f: &RecordFilter,
    sort: IssueSort,
    cursor: Option<super::messages::Cursor>,
    limit: usize,
) -> Result<(Vec<Issue>, Option<super::messages::Cursor>), StoreError> {
    let (key, asc) = sort.key();
    let (cmp, dir) = if asc { (">", "ASC") } else { ("<", "DESC") };
    let mut args = vec![];
    let mut w = record_where(f, "i", "opened_ms", &mut args);
    after_cursor(&mut w, &mut args, cursor, key, "i.id", cmp);
    let sql = format!(
        "SELECT i.id, {key} FROM issues i JOIN chats c ON c.id = i.chat_id WHERE {} ORDER BY {key} {dir}, i.id {dir} LIMIT {}",
        w.join(" AND "),
        limit + 1
    );
    let keys: Vec<(i64, i64)> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let now = chrono::DateTime::from_timestamp_millis(f.now_ms).unwrap_or_else(super::now);
    let mut rows = Vec::with_capacity(keys.len());
    let mut st = conn.prepare_cached(&format!("{ISSUE_SELECT} WHERE i.id = ?1"))?;
    for (id, k) in keys {
        if let Some((issue, _)) = st.query_row([id], |r| issue_row(r, now)).optional()? {
            rows.push((issue, k));
        }
    }
    Ok(super::messages::split_page(rows, limit, |i: &Issue| i.id))
}

/// The totals of the issues a filter selects (all of them, not a page).
pub fn issue_totals(conn: &Connection, f: &RecordFilter) -> Result<IssueTotals, StoreError> {
    let mut args: Vec<Value> = vec![f.now_ms.into()];
    let w = record_where(f, "i", "opened_ms", &mut args);
    let sql = format!(
        "SELECT count(*), \
         coalesce(sum(i.status NOT IN ('resolved','closed')), 0), \
         coalesce(sum({OVERDUE_NOW}), 0), \
         coalesce(sum(({BREACHED}) AND NOT ({OVERDUE_NOW})), 0) \
         FROM issues i JOIN chats c ON c.id = i.chat_id WHERE {}",
        w.join(" AND ")
    );
    let (all, open, overdue_now, late_once): (i64, i64, i64, i64) = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    Ok(IssueTotals {
        all,
        open,
        overdue_now,
        late_once,
        done: all - open,
    })
}

pub fn get_issue(conn: &Connection, id: i64, now: DateTime<Utc>) -> Result<Issue, StoreError> {
    conn.query_row(&format!("{ISSUE_SELECT} WHERE i.id = ?1"), [id], |r| {
        issue_row(r, now)
    })
    .optional()?
    .map(|(i, _)| i)
    .ok_or_else(|| StoreError::NotFound(format!("issue {id}")))
}

pub fn timeline(
    conn: &Connection,
    record_type: &str,
    id: i64,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT m.id, m.sent_at, m.sender_id, p.name, p.phone, m.kind, m.type, m.text, m.link_reason \
         FROM messages m LEFT JOIN people p ON p.id = m.sender_id \
         WHERE m.record_type = ?1 AND m.record_id = ?2 ORDER BY m.sent_ms, m.id",
    )?;
    let mut out: Vec<TimelineEntry> = st
        .query_map(params![record_type, id], |r| {
            Ok(TimelineEntry {
                id: r.get(0)?,
                sent_at: r.get(1)?,
                sender: person(r, 2)?,
                kind: r.get(5)?,
                msg_type: r.get(6)?,
                text: r.get(7)?,
                link_reason: r.get(8)?,
                media: vec![],
                transcript: None,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut ev =
        conn.prepare_cached("SELECT id FROM evidence WHERE message_id = ?1 ORDER BY ordinal")?;
    for t in &mut out {
        t.media = ev
            .query_map([t.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    let with_media: Vec<i64> = out
        .iter()
        .filter(|t| !t.media.is_empty())
        .map(|t| t.id)
        .collect();
    let mut transcripts = super::transcripts::for_messages(conn, &with_media)?;
    for t in &mut out {
        t.transcript = transcripts
            .remove(&t.id)
            .filter(|x| super::transcripts::reads_voice_note(t.text.as_deref(), Some(x)))
            .and_then(|x| x.text);
    }
    Ok(out)
}

/// The corrections of chat `chat` about ticket `id`: its actions, merges into it, and moves of its messages
/// (`msg_ids`) and evidence (`ev_ids`) or of anything onto it.
fn issue_corrections(
    conn: &Connection,
    id: i64,
    chat: i64,
    msg_ids: &std::collections::BTreeSet<i64>,
    ev_ids: &std::collections::BTreeSet<i64>,
) -> Result<Vec<Correction>, StoreError> {
    let rec = serde_json::json!({"type": "issue", "id": id});
    Ok(corrections(conn, chat)?
        .into_iter()
        .filter(|c| {
            let about_this = match (c.target.as_str(), c.target_id) {
                ("action", Some(t)) => t == id,
                ("message", Some(t)) => msg_ids.contains(&t),
                ("evidence", Some(t)) => ev_ids.contains(&t),
                _ => false,
            };
            about_this
                || c.data.pointer("/action/into").and_then(|v| v.as_i64()) == Some(id)
                || c.data.pointer("/record/record") == Some(&rec)
                || c.data.pointer("/record") == Some(&rec)
        })
        .collect())
}

/// A correction as the ticket's history tells it (None for what it cannot word, e.g. unreadable data).
fn history_fix(
    conn: &Connection,
    c: &Correction,
) -> Result<Option<crate::records::history::Fix>, StoreError> {
    use crate::records::history::{Fix, FixWhat, Who};
    use crate::records::{Action, EvidenceOverride, EvidenceRole, ManagerAction, RecordOverride};
    let Some(at) = super::parse_time(&c.at) else {
        return Ok(None);
    };
    let what = match (c.target.as_str(), c.target_id) {
        ("action", _) => match serde_json::from_value::<ManagerAction>(c.data.clone()) {
            Ok(a) => match a.action {
                Action::SetStatus { status, .. } => FixWhat::Status(status),
                Action::SetOwner { person, .. } => {
                    let p = super::people::get_ref(conn, person).ok();
                    FixWhat::Owner(Who {
                        id: Some(person),
                        name: p.as_ref().and_then(|p| p.name.clone()),
                        phone: p.and_then(|p| p.phone),
                        user: false,
                    })
                }
                Action::SetVendor { vendor, .. } => FixWhat::Vendor(vendor.map(|v| {
                    super::chats::get_vendor(conn, v)
                        .map(|n| (n.id, n.name))
                        .unwrap_or((v, format!("#{v}")))
                })),
                Action::Merge { from, into } => FixWhat::Merged { from, into },
            },
            Err(_) => return Ok(None),
        },
        ("message", Some(message)) => {
            if let Some(class) = c.data.get("class").filter(|v| !v.is_null()) {
                match serde_json::from_value::<crate::classify::types::Classification>(
                    class.clone(),
                ) {
                    Ok(k) => FixWhat::Reclassified {
                        message,
                        kind: k.kind,
                        location: k.location,
                    },
                    Err(_) => return Ok(None),
                }
            } else {
                match c
                    .data
                    .get("record")
                    .map(|r| serde_json::from_value::<RecordOverride>(r.clone()))
                {
                    Some(Ok(RecordOverride::Link { record })) => FixWhat::MessageMoved {
                        message,
                        to: Some(record),
                    },
                    Some(Ok(RecordOverride::NoRecord)) => {
                        FixWhat::MessageMoved { message, to: None }
                    }
                    _ => return Ok(None),
                }
            }
        }
        ("evidence", Some(evidence)) => {
            match serde_json::from_value::<EvidenceOverride>(c.data.clone()) {
                Ok(EvidenceOverride::Link { record, role }) => FixWhat::EvidenceMoved {
                    evidence,
                    to: Some(record),
                    proof: role == EvidenceRole::ResolutionProof,
                },
                Ok(EvidenceOverride::Unlinked) => FixWhat::EvidenceMoved {
                    evidence,
                    to: None,
                    proof: false,
                },
                Err(_) => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Fix {
        at,
        actor: c.actor.clone(),
        reason: c.reason.clone(),
        what,
    }))
}

/// Ticket `id`'s history in plain language: its messages and the managers' corrections about it, oldest first.
pub fn issue_history(
    conn: &Connection,
    id: i64,
) -> Result<Vec<crate::records::history::Entry>, StoreError> {
    use crate::records::history::{Msg, Who};
    let chat = chat_of(conn, "issue", id)?;
    let timeline = timeline(conn, "issue", id)?;
    let ev_ids: std::collections::BTreeSet<i64> = super::evidence::for_record(conn, "issue", id)?
        .iter()
        .map(|e| e.id)
        .collect();
    let msg_ids: std::collections::BTreeSet<i64> = timeline.iter().map(|t| t.id).collect();
    let mut fixes = vec![];
    for c in issue_corrections(conn, id, chat, &msg_ids, &ev_ids)? {
        if let Some(f) = history_fix(conn, &c)? {
            fixes.push(f);
        }
    }
    let msgs = timeline
        .into_iter()
        .filter_map(|t| {
            Some(Msg {
                at: super::parse_time(&t.sent_at)?,
                id: t.id,
                sender: t.sender.map(|p| Who {
                    id: Some(p.id),
                    name: p.name,
                    phone: p.phone,
                    user: false,
                }),
                kind: t.kind,
                msg_type: t.msg_type,
                text: t.text,
                media: t.media,
                link_reason: t.link_reason,
            })
        })
        .collect();
    Ok(crate::records::history::build(id, msgs, fixes))
}

pub fn issue_detail(
    conn: &Connection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<IssueDetail, StoreError> {
    let issue = get_issue(conn, id, now)?;
    let chat = issue.chat.id;
    let timeline = timeline(conn, "issue", id)?;
    let evidence = super::evidence::for_record(conn, "issue", id)?;
    let msg_ids: std::collections::BTreeSet<i64> = timeline.iter().map(|t| t.id).collect();
    let ev_ids: std::collections::BTreeSet<i64> = evidence.iter().map(|e| e.id).collect();
    let corrections = issue_corrections(conn, id, chat, &msg_ids, &ev_ids)?;
    Ok(IssueDetail {
        timeline,
        evidence,
        issue,
        corrections,
    })
}

const TASK_SELECT: &str = "SELECT t.id, t.status, t.category, t.location, c.site_id, s.name, t.chat_id, c.name, t.reported_at, \
    t.reported_by, rp.name, rp.phone, t.completed_at, t.schedule_occurrence, om.text, t.reported_ms \
    FROM tasks t JOIN chats c ON c.id = t.chat_id LEFT JOIN sites s ON s.id = c.site_id \
    LEFT JOIN people rp ON rp.id = t.reported_by LEFT JOIN messages om ON om.id = t.id";

fn task_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Task, i64)> {
    let site_id: Option<i64> = r.get(4)?;
    let site_name: Option<String> = r.get(5)?;
    let loc: String = r.get(3)?;
    Ok((
        Task {
            id: r.get(0)?,
            status: r.get(1)?,
            category: r.get(2)?,
            location: serde_json::from_str(&loc).unwrap_or(serde_json::json!({})),
            site: site_id
                .zip(site_name)
                .map(|(id, name)| super::chats::NamedRef { id, name }),
            chat: super::chats::NamedRefOpt {
                id: r.get(6)?,
                name: r.get(7)?,
            },
            reported_at: r.get(8)?,
            reported_by: person(r, 9)?,
            completed_at: r.get(12)?,
            schedule: r.get(13)?,
            text: r.get(14)?,
            evidence: vec![],
        },
        r.get(15)?,
    ))
}

pub fn list_tasks(
    conn: &Connection,
    f: &RecordFilter,
    cursor: Option<super::messages::Cursor>,
    limit: usize,
) -> Result<(Vec<Task>, Option<super::messages::Cursor>), StoreError> {
    let mut args = vec![];
    let mut w = record_where(f, "t", "reported_ms", &mut args);
    after_cursor(&mut w, &mut args, cursor, "t.reported_ms", "t.id", "<");
    let sql = format!(
        "{TASK_SELECT} WHERE {} ORDER BY t.reported_ms DESC, t.id DESC LIMIT {}",
        w.join(" AND "),
        limit + 1
    );
    let mut st = conn.prepare_cached(&sql)?;
    let rows: Vec<(Task, i64)> = st
        .query_map(params_from_iter(args), task_row)?
        .collect::<Result<_, _>>()?;
    let (mut tasks, next) = super::messages::split_page(rows, limit, |t: &Task| t.id);
    for t in &mut tasks {
        t.evidence = super::evidence::for_record(conn, "task", t.id)?;
    }
    Ok((tasks, next))
}

pub fn get_task(conn: &Connection, id: i64) -> Result<Task, StoreError> {
    let mut t = conn
        .query_row(&format!("{TASK_SELECT} WHERE t.id = ?1"), [id], task_row)
        .optional()?
        .map(|(t, _)| t)
        .ok_or_else(|| StoreError::NotFound(format!("task {id}")))?;
    t.evidence = super::evidence::for_record(conn, "task", id)?;
    Ok(t)
}

/// Which chat an issue / task / message / evidence belongs to.
pub fn chat_of(conn: &Connection, what: &str, id: i64) -> Result<i64, StoreError> {
    let sql = match what {
        "issue" => "SELECT chat_id FROM issues WHERE id = ?1",
        "task" => "SELECT chat_id FROM tasks WHERE id = ?1",
        "message" => "SELECT chat_id FROM messages WHERE id = ?1",
        "evidence" => "SELECT m.chat_id FROM evidence e JOIN messages m ON m.id = e.message_id WHERE e.id = ?1",
        _ => return Err(StoreError::Invalid(format!("unknown record type {what}"))),
    };
    conn.query_row(sql, [id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("{what} {id}")))
}

/// Counts for the dashboard.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RecordCounts {
    pub open_issues: i64,
    pub overdue_issues: i64,
    pub tasks_done_today: i64,
    pub tasks_today: i64,
}

pub fn counts(
    conn: &Connection,
    today_from_ms: i64,
    now_ms: i64,
) -> Result<RecordCounts, StoreError> {
    Ok(RecordCounts {
        open_issues: conn
            .prepare_cached(
                "SELECT count(*) FROM issues WHERE status NOT IN ('resolved','closed')",
            )?
            .query_row([], |r| r.get(0))?,
        overdue_issues: conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM issues i WHERE {OVERDUE_NOW}"
            ))?
            .query_row([now_ms], |r| r.get(0))?,
        tasks_done_today: conn
            .prepare_cached(
                "SELECT count(*) FROM tasks WHERE status = 'done' AND reported_ms >= ?1",
            )?
            .query_row([today_from_ms], |r| r.get(0))?,
        tasks_today: conn
            .prepare_cached("SELECT count(*) FROM tasks WHERE reported_ms >= ?1")?
            .query_row([today_from_ms], |r| r.get(0))?,
    })
}

/// Every ticket (optionally within a time range) as the repeated-problems analysis needs it.
pub fn ticket_summaries(
    conn: &Connection,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
) -> Result<Vec<crate::records::TicketSummary>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT i.id, c.site_id, i.chat_id, i.category, i.location, i.opened_ms, \
         COALESCE(json_extract(m.classification, '$.repeat'), 0) \
         FROM issues i JOIN chats c ON c.id = i.chat_id LEFT JOIN messages m ON m.id = i.id \
         WHERE i.opened_ms >= ?1 AND i.opened_ms <= ?2 AND i.merged_into IS NULL ORDER BY i.opened_ms, i.id",
    )?;
    let rows = st.query_map(
        params![from_ms.unwrap_or(i64::MIN), to_ms.unwrap_or(i64::MAX)],
        |r| {
            let cat: Option<String> = r.get(3)?;
            let loc: String = r.get(4)?;
            let ms: i64 = r.get(5)?;
            let rep: i64 = r.get(6)?;
            Ok(crate::records::TicketSummary {
                id: r.get(0)?,
                site_id: r.get(1)?,
                chat_id: r.get(2)?,
                category: cat
                    .as_deref()
                    .and_then(crate::classify::types::Category::parse),
                location: serde_json::from_str(&loc).unwrap_or_default(),
                opened_at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                said_repeat: rep != 0,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces a correction's data (an action gets its own id and time once stored).
pub fn set_correction_data(
    tx: &Transaction<'_>,
    id: i64,
    data: &serde_json::Value,
) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE corrections SET data = ?2 WHERE id = ?1")?
        .execute(params![id, data.to_string()])?;
    Ok(())
}

/// Every reclassification managers made, oldest first: (the message's text, the class given, as JSON).
pub fn reclassification_lessons(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT m.text, json_extract(k.data, '$.class') FROM corrections k JOIN messages m ON m.id = k.target_id \
         WHERE k.target = 'message' AND json_extract(k.data, '$.class') IS NOT NULL AND m.text IS NOT NULL ORDER BY k.id",
    )?;
    let r = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(r)
}
