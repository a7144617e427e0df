//! Schedules of expected work (issue 18): stored definitions, soft-deleted, with the scheduler's materialisation mark.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::Serialize;

use super::chats::NamedRef;
use super::StoreError;
use crate::schedule::{Assignee, Checkpoint, Person, ScheduleSpec};

/// A schedule as the API shows it (`interfaces.md`, "schedule").
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Schedule {
    pub id: i64,
    pub name: String,
    pub site: Option<NamedRef>,
    pub category: String,
    #[schema(value_type = Object)]
    pub location: serde_json::Value,
    pub assignees: Vec<Assignee>,
    pub chat: Option<NamedRef>,
    pub rrule: String,
    pub window_minutes: i64,
    pub photo_required: bool,
    pub remind_after_minutes: Option<i64>,
    pub escalate_after_minutes: Option<i64>,
    pub escalate_to: Vec<Person>,
    pub checkpoints: Vec<Checkpoint>,
    /// `cloud_api`, `waha` or `evolution`; null = the site's default.
    pub route: Option<String>,
    /// `group`, `person` or `both`; null = the site's default.
    pub audience: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Schedule {
    /// The definition again, as `POST` takes it (site and chat by id): the base a `PATCH` is applied to.
    pub fn spec(&self) -> ScheduleSpec {
        ScheduleSpec {
            name: self.name.clone(),
            site: self.site.as_ref().map(|s| s.id.to_string()),
            category: self.category.clone(),
            location: serde_json::from_value(self.location.clone()).unwrap_or_default(),
            assignees: self.assignees.clone(),
            chat: self.chat.as_ref().map(|c| c.id.to_string()),
            rrule: self.rrule.clone(),
            window_minutes: self.window_minutes,
            photo_required: self.photo_required,
            remind_after_minutes: self.remind_after_minutes,
            escalate_after_minutes: self.escalate_after_minutes,
            escalate_to: self.escalate_to.clone(),
            checkpoints: self.checkpoints.clone(),
        }
    }
}

/// A validated definition with its site and chat resolved to ids.
#[derive(Debug, Clone)]
pub struct ScheduleRow {
    pub spec: ScheduleSpec,
    pub site_id: Option<i64>,
    pub chat_id: Option<i64>,
    pub route: Option<String>,
    pub audience: Option<String>,
}

const SELECT: &str = "SELECT s.id, s.name, s.site_id, st.name, s.category, s.location, s.assignees, s.chat_id, \
    coalesce(c.name, c.external_id), s.rrule, s.window_minutes, s.photo_required, s.remind_after_minutes, \
    s.escalate_after_minutes, s.escalate_to, s.checkpoints, s.route, s.audience, s.created_at, s.updated_at \
    FROM schedules s LEFT JOIN sites st ON st.id = s.site_id LEFT JOIN chats c ON c.id = s.chat_id";

fn json<T: serde::de::DeserializeOwned + Default>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    Ok(serde_json::from_str(&s).unwrap_or_default())
}

fn named(id: Option<i64>, name: Option<String>) -> Option<NamedRef> {
    id.map(|id| NamedRef {
        id,
        name: name.unwrap_or_default(),
    })
}

fn row(r: &Row<'_>) -> rusqlite::Result<Schedule> {
    Ok(Schedule {
        id: r.get(0)?,
        name: r.get(1)?,
        site: named(r.get(2)?, r.get(3)?),
        category: r.get(4)?,
        location: json(r, 5)?,
        assignees: json(r, 6)?,
        chat: named(r.get(7)?, r.get(8)?),
        rrule: r.get(9)?,
        window_minutes: r.get(10)?,
        photo_required: r.get(11)?,
        remind_after_minutes: r.get(12)?,
        escalate_after_minutes: r.get(13)?,
        escalate_to: json(r, 14)?,
        checkpoints: json(r, 15)?,
        route: r.get(16)?,
        audience: r.get(17)?,
        created_at: r.get(18)?,
        updated_at: r.get(19)?,
    })
}

fn text<T: Serialize>(v: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(v)?)
}

/// Stores a new schedule; occurrences are materialised from `from_ms` on. Returns its id.
pub fn insert(tx: &Transaction<'_>, s: &ScheduleRow, from_ms: i64) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO schedules(name, category, rrule, window_minutes, materialized_ms, created_at, updated_at) \
         VALUES ('', '', '', 0, ?1, ?2, ?2)",
    )?
    .execute(params![from_ms, super::now_str()])?;
    let id = tx.last_insert_rowid();
    write_fields(tx, id, s)?;
    Ok(id)
}

/// Writes a definition's fields into a live schedule's row; the number of rows changed.
fn write_fields(tx: &Transaction<'_>, id: i64, s: &ScheduleRow) -> Result<usize, StoreError> {
    Ok(tx
        .prepare_cached(
            "UPDATE schedules SET name=?2, site_id=?3, chat_id=?4, category=?5, location=?6, assignees=?7, rrule=?8, \
             window_minutes=?9, photo_required=?10, remind_after_minutes=?11, escalate_after_minutes=?12, \
             escalate_to=?13, checkpoints=?14, route=?15, audience=?16, updated_at=?17 WHERE id=?1 AND deleted=0",
        )?
        .execute(params![
            id,
            s.spec.name.trim(),
            s.site_id,
            s.chat_id,
            s.spec.category.trim(),
            text(&s.spec.location)?,
            text(&s.spec.assignees)?,
            s.spec.rrule.trim(),
            s.spec.window_minutes,
            s.spec.photo_required,
            s.spec.remind_after_minutes,
            s.spec.escalate_after_minutes,
            text(&s.spec.escalate_to)?,
            text(&s.spec.checkpoints)?,
            s.route,
            s.audience,
            super::now_str(),
        ])?)
}

/// Replaces a schedule's definition. Occurrences that have started keep their times (open ones are re-evaluated
/// against the new definition by the next tick); those not started yet are dropped and materialised again.
pub fn update(
    tx: &Transaction<'_>,
    id: i64,
    s: &ScheduleRow,
    now_ms: i64,
) -> Result<(), StoreError> {
    let n = write_fields(tx, id, s)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("schedule {id}")));
    }
    tx.prepare_cached(
        "DELETE FROM occurrences WHERE schedule_id = ?1 AND starts_at_ms > ?2 AND status = 'pending' \
         AND NOT EXISTS (SELECT 1 FROM ladder_steps l WHERE l.about_type = 'occurrence' AND l.about_id = occurrences.id)",
    )?
    .execute(params![id, now_ms])?;
    tx.prepare_cached(
        "UPDATE schedules SET materialized_ms = min(materialized_ms, ?2) WHERE id = ?1",
    )?
    .execute(params![id, now_ms])?;
    Ok(())
}

/// Soft-deletes a schedule: no new occurrences, its open ones are settled (kept for the record).
pub fn delete(tx: &Transaction<'_>, id: i64) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached(
            "UPDATE schedules SET deleted = 1, updated_at = ?2 WHERE id = ?1 AND deleted = 0",
        )?
        .execute(params![id, super::now_str()])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("schedule {id}")));
    }
    tx.prepare_cached("UPDATE occurrences SET settled = 1 WHERE schedule_id = ?1 AND settled = 0")?
        .execute([id])?;
    Ok(())
}

pub fn get(conn: &Connection, id: i64) -> Result<Schedule, StoreError> {
    conn.prepare_cached(&format!("{SELECT} WHERE s.id = ?1 AND s.deleted = 0"))?
        .query_row([id], row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("schedule {id}")))
}

/// A schedule by id or by name (any case).
pub fn find(conn: &Connection, key: &str) -> Result<Schedule, StoreError> {
    let key = key.trim();
    if let Ok(id) = key.parse::<i64>() {
        if let Ok(s) = get(conn, id) {
            return Ok(s);
        }
    }
    conn.prepare_cached(&format!(
        "{SELECT} WHERE s.name = ?1 COLLATE NOCASE AND s.deleted = 0 ORDER BY s.id LIMIT 1"
    ))?
    .query_row([key], row)
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("schedule {key:?}")))
}

/// Every live schedule (of one site when given), newest first.
pub fn list(conn: &Connection, site: Option<i64>) -> Result<Vec<Schedule>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "{SELECT} WHERE s.deleted = 0 AND (?1 IS NULL OR s.site_id = ?1) ORDER BY s.id DESC"
    ))?;
    let rows = st.query_map([site], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` live schedules whose occurrences are materialised only up to before `until_ms`, furthest behind
/// first, with their mark.
pub fn behind(
    conn: &Connection,
    until_ms: i64,
    limit: usize,
) -> Result<Vec<(Schedule, i64)>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT id, materialized_ms FROM schedules WHERE deleted = 0 AND materialized_ms <= ?1 \
         ORDER BY materialized_ms, id LIMIT ?2",
    )?;
    let ids: Vec<(i64, i64)> = st
        .query_map(params![until_ms, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for (id, mark) in ids {
        out.push((get(conn, id)?, mark));
    }
    Ok(out)
}

pub fn set_materialized(tx: &Transaction<'_>, id: i64, ms: i64) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE schedules SET materialized_ms = ?2 WHERE id = ?1")?
        .execute(params![id, ms])?;
    Ok(())
}
