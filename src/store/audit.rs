//! The reads an audit export needs beyond the list queries: which delivery (raw payload) each message came from, the
//! deliveries' bodies, and the stretch of the event log that falls in a period.

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

/// The delivery a message was parsed from: the raw payload's id and the SHA-256 of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRef {
    pub id: i64,
    pub sha256: String,
}

/// For each message id, the raw payload it was parsed from (messages from chat exports have none).
pub fn delivery_refs(
    conn: &Connection,
    ids: &[i64],
) -> Result<HashMap<i64, DeliveryRef>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT r.id, r.sha256 FROM messages m JOIN raw_payloads r ON r.id = m.raw_payload_id WHERE m.id = ?1",
    )?;
    let mut out = HashMap::new();
    for id in ids {
        let found = st
            .query_row([id], |r| {
                Ok(DeliveryRef {
                    id: r.get(0)?,
                    sha256: r.get(1)?,
                })
            })
            .optional()?;
        if let Some(d) = found {
            out.insert(*id, d);
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

/// The last event recorded at or before `at` (RFC 3339 UTC, as the `at` column) and its hash: the chain's head then.
pub fn head_at(conn: &Connection, at: &str) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id, hash FROM events WHERE at <= ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([at], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
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
