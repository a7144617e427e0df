//! The reads an audit export needs beyond the list queries: which raw payload each message came from, the payloads'
//! bodies, and the stretch of the event log that falls in a period.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::events::{self, Event};
use super::StoreError;

/// A webhook body as it arrived.
#[derive(Debug, Clone)]
pub struct RawPayload {
    pub id: i64,
    pub source: String,
    pub received_at: String,
    pub sha256: String,
    pub body: Vec<u8>,
}

/// For each message id, the id of the raw payload it was parsed from (messages from chat exports have none).
pub fn raw_payload_ids(conn: &Connection, ids: &[i64]) -> Result<HashMap<i64, i64>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT raw_payload_id FROM messages WHERE id = ?1 AND raw_payload_id IS NOT NULL",
    )?;
    let mut out = HashMap::new();
    for id in ids {
        if let Some(raw) = st.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
            out.insert(*id, raw);
        }
    }
    Ok(out)
}

pub fn raw_payload(conn: &Connection, id: i64) -> Result<RawPayload, StoreError> {
    conn.prepare_cached(
        "SELECT id, source, received_at, sha256, body FROM raw_payloads WHERE id = ?1",
    )?
    .query_row([id], |r| {
        Ok(RawPayload {
            id: r.get(0)?,
            source: r.get(1)?,
            received_at: r.get(2)?,
            sha256: r.get(3)?,
            body: r.get(4)?,
        })
    })
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("raw payload {id}")))
}

/// The ids of the first and last events recorded in `[from, to]` (RFC 3339 UTC strings, as the `at` column holds),
/// or `None` when the log has none then. Event ids grow with time, so the events in between are exactly the period's.
pub fn event_span(
    conn: &Connection,
    from: &str,
    to: &str,
) -> Result<Option<(i64, i64)>, StoreError> {
    let span: (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT min(id), max(id) FROM events WHERE at >= ?1 AND at <= ?2",
        params![from, to],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(match span {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    })
}

/// The hash the event before `id` ended with (the chain's anchor for a stretch starting at `id`).
pub fn hash_before(conn: &Connection, id: i64) -> Result<String, StoreError> {
    Ok(conn
        .prepare_cached("SELECT hash FROM events WHERE id < ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .unwrap_or_else(|| events::GENESIS.to_string()))
}

/// Events with `after < id <= last`, in id order, at most `limit`.
pub fn events_up_to(
    conn: &Connection,
    after: i64,
    last: i64,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let mut evs = events::list(conn, after, limit)?;
    evs.retain(|e| e.id <= last);
    Ok(evs)
}
