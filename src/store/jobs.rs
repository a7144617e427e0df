//! The persistent job queue: rows are work, `run_after` is the schedule, failures back off.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
}

pub fn enqueue(
    tx: &Transaction<'_>,
    kind: &str,
    payload: &str,
    run_after_ms: i64,
) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO jobs(kind, payload, run_after, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![kind, payload, run_after_ms, super::now_str()])?;
    Ok(tx.last_insert_rowid())
}

/// Jobs due now (`run_after <= now`), oldest first.
pub fn due(
    conn: &Connection,
    kind: &str,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<Job>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT id, kind, payload, attempts FROM jobs WHERE kind = ?1 AND run_after <= ?2 ORDER BY run_after, id LIMIT ?3",
    )?;
    let rows = st.query_map(params![kind, now_ms, limit as i64], |r| {
        Ok(Job {
            id: r.get(0)?,
            kind: r.get(1)?,
            payload: r.get(2)?,
            attempts: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The earliest `run_after` of any job of this kind, if any.
pub fn next_due(conn: &Connection, kind: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT min(run_after) FROM jobs WHERE kind = ?1")?
        .query_row([kind], |r| r.get(0))
        .optional()?
        .flatten())
}

pub fn complete(tx: &Transaction<'_>, id: i64) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM jobs WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Records a failure and reschedules with exponential backoff.
pub fn retry_later(
    tx: &Transaction<'_>,
    id: i64,
    error: &str,
    run_after_ms: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE jobs SET attempts = attempts + 1, last_error = ?2, run_after = ?3 WHERE id = ?1",
    )?
    .execute(params![id, error, run_after_ms])?;
    Ok(())
}

pub fn count(conn: &Connection, kind: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM jobs WHERE kind = ?1")?
        .query_row([kind], |r| r.get(0))?)
}

/// Backoff for the n-th failed attempt: 2 s doubling, capped at 30 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 10) as u32;
    (2_000i64 << exp).min(30 * 60 * 1000)
}

/// How long a queue worker may sleep before the next job of `kind` is due (50 ms to 30 s; 30 s when none is queued).
pub async fn wait_until_due(db: &super::Db, kind: &'static str) -> std::time::Duration {
    let next = db.read(move |c| next_due(c, kind)).await.ok().flatten();
    match next {
        Some(t) => {
            let ms = t
                .saturating_sub(db.now().timestamp_millis())
                .clamp(50, 30_000);
            std::time::Duration::from_millis(ms as u64)
        }
        None => std::time::Duration::from_secs(30),
    }
}
