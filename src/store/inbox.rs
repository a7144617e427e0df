//! The inbox (migration 0008): webhook deliveries acknowledged while the writer is busy, each as its raw body (in
//! `raw_payloads`) plus the parser's output as JSON, waiting to be filed into messages and records in large batches.
//! A queued delivery is as durable as a filed one; whatever is here after a crash is filed on the next start.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::ingest::{file_delivery, DeliveryOutcome};
use super::StoreError;
use crate::message::{Normalized, Source};

/// A delivery waiting in the inbox.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: i64,
    pub raw_payload_id: i64,
    pub source: Source,
    pub sha256: String,
    /// What the parser made of the body at receipt; an error when the stored JSON cannot be read back (the delivery
    /// is then set aside, see [`set_aside`]).
    pub normalized: Result<Normalized, String>,
}

/// Stores a delivery's raw body and its normalised form (`normalized`, the JSON of a [`Normalized`]) for filing
/// later; answers the raw payload's id.
pub fn push(
    tx: &Transaction<'_>,
    source: Source,
    body: &[u8],
    normalized: &str,
) -> Result<i64, StoreError> {
    let (raw_id, _) = super::ingest::store_raw_stored(tx, source, body)?;
    tx.prepare_cached("INSERT INTO inbox(raw_payload_id, source, normalized) VALUES (?1, ?2, ?3)")?
        .execute(params![raw_id, source.as_str(), normalized])?;
    Ok(raw_id)
}

/// Whether any delivery waits (a delivery may only be filed at once when none does: chat order must hold).
pub fn is_empty(c: &Connection) -> Result<bool, StoreError> {
    Ok(c.prepare_cached("SELECT 1 FROM inbox LIMIT 1")?
        .query_row([], |_| Ok(()))
        .optional()?
        .is_none())
}

/// Deliveries waiting. Filing takes them strictly in id order and new ones go at the end, so the waiting ones are
/// always one contiguous id range: two index probes instead of a scan of the whole table (which, with a large backlog,
/// filled a reader's page cache each time `/metrics` was scraped).
pub fn count(c: &Connection) -> Result<i64, StoreError> {
    Ok(c.prepare_cached(
        "SELECT COALESCE((SELECT max(id) FROM inbox) - (SELECT min(id) FROM inbox) + 1, 0)",
    )?
    .query_row([], |r| r.get(0))?)
}

/// Up to `limit` waiting deliveries after inbox id `after`, oldest first.
pub fn next(c: &Connection, after: i64, limit: usize) -> Result<Vec<Queued>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT i.id, i.raw_payload_id, i.source, r.sha256, i.normalized FROM inbox i
         JOIN raw_payloads r ON r.id = i.raw_payload_id WHERE i.id > ?1 ORDER BY i.id LIMIT ?2",
    )?;
    let rows = st.query_map(params![after, limit as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = vec![];
    for row in rows {
        let (id, raw_payload_id, source, sha256, json) = row?;
        let source = Source::parse(&source);
        let normalized = match source {
            Some(_) => serde_json::from_str::<Normalized>(&json).map_err(|e| e.to_string()),
            None => Err("unknown source in the inbox".to_string()),
        };
        out.push(Queued {
            id,
            raw_payload_id,
            source: source.unwrap_or(Source::CloudApi),
            sha256,
            normalized,
        });
    }
    Ok(out)
}

/// Files one queued delivery (see [`file_delivery`]) and removes it from the inbox.
pub fn file(
    tx: &Transaction<'_>,
    q: &Queued,
    n: &Normalized,
) -> Result<DeliveryOutcome, StoreError> {
    let out = file_delivery(tx, q.source, q.raw_payload_id, &q.sha256, n)?;
    remove(tx, q.id)?;
    Ok(out)
}

fn remove(tx: &Transaction<'_>, id: i64) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM inbox WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Takes a delivery that cannot be filed out of the inbox so it does not hold up the others: its raw body stays (with
/// outcome `failed` and the reason), a source error records it, and it can be re-filed from the raw body later.
pub fn set_aside(tx: &Transaction<'_>, q: &Queued, error: &str) -> Result<(), StoreError> {
    remove(tx, q.id)?;
    tx.prepare_cached("UPDATE raw_payloads SET outcome = 'failed', error = ?2 WHERE id = ?1")?
        .execute(params![q.raw_payload_id, error])?;
    tx.prepare_cached(
        "INSERT INTO source_errors(source, at, detail, raw_payload_id) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        q.source.as_str(),
        super::now_str(),
        format!("queued delivery could not be filed: {error}"),
        q.raw_payload_id
    ])?;
    super::events::append(
        tx,
        &format!("webhook:{}", q.source.as_str()),
        "payload.set_aside",
        "raw_payload",
        Some(&q.raw_payload_id.to_string()),
        &serde_json::json!({ "sha256": q.sha256, "error": error }),
    )?;
    Ok(())
}
