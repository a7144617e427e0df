//! The append-only, hash-chained event log. Each event's hash covers its fields and the previous event's hash, so a
//! changed, removed or reordered event breaks the chain from that point on.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of one event given its predecessor's hash.
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    prev: &str,
    id: i64,
    at: &str,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: Option<&str>,
    data: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &id.to_string(),
        at,
        actor,
        action,
        entity,
        entity_id.unwrap_or(""),
        data,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

impl Event {
    /// What this event's hash must be, given its fields and its `prev_hash`.
    pub fn computed_hash(&self) -> String {
        event_hash(
            &self.prev_hash,
            self.id,
            &self.at,
            &self.actor,
            &self.action,
            &self.entity,
            self.entity_id.as_deref(),
            &self.data,
        )
    }
}

/// Appends an event inside the caller's transaction; returns its id.
pub fn append(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: Option<&str>,
    data: &serde_json::Value,
) -> Result<i64, StoreError> {
    let (last_id, prev): (i64, String) = tx
        .prepare_cached("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, GENESIS.to_string()));
    let id = last_id + 1;
    let at = super::now_str();
    let data = data.to_string();
    let hash = event_hash(&prev, id, &at, actor, action, entity, entity_id, &data);
    tx.prepare_cached("INSERT INTO events(id, at, actor, action, entity, entity_id, data, prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)")?.execute(
        params![id, at, actor, action, entity, entity_id, data, prev, hash],
    )?;
    Ok(id)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        entity: r.get(4)?,
        entity_id: r.get(5)?,
        data: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

const COLS: &str = "id, at, actor, action, entity, entity_id, data, prev_hash, hash";

/// Events in id order, optionally only those for one entity.
pub fn list(conn: &Connection, after_id: i64, limit: usize) -> Result<Vec<Event>, StoreError> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM events WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows = st.query_map(params![after_id, limit as i64], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Checks a sequence of events: each links to the previous and hashes correctly. Returns the first broken event id.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    mut prev: String,
) -> Result<String, i64> {
    for e in events {
        if e.prev_hash != prev {
            return Err(e.id);
        }
        let h = e.computed_hash();
        if h != e.hash {
            return Err(e.id);
        }
        prev = h;
    }
    Ok(prev)
}

/// Verifies the whole log in the database.
pub fn verify_all(conn: &Connection) -> Result<u64, StoreError> {
    let mut prev = GENESIS.to_string();
    let mut after = 0;
    let mut n = 0u64;
    loop {
        let batch = list(conn, after, 10_000)?;
        if batch.is_empty() {
            return Ok(n);
        }
        prev = verify_chain(&batch, prev)
            .map_err(|id| StoreError::Invalid(format!("event log broken at event {id}")))?;
        after = batch.last().map(|e| e.id).unwrap_or(after);
        n += batch.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = c.transaction().unwrap();
        for i in 0..5 {
            append(
                &tx,
                "system",
                "test.event",
                "thing",
                Some(&i.to_string()),
                &serde_json::json!({"i": i}),
            )
            .unwrap();
        }
        tx.commit().unwrap();
        assert_eq!(verify_all(&c).unwrap(), 5);
        let mut evs = list(&c, 0, 100).unwrap();
        assert!(verify_chain(&evs, GENESIS.into()).is_ok());
        evs[2].data = "{\"i\":99}".into();
        assert_eq!(verify_chain(&evs, GENESIS.into()), Err(3));
        let mut evs = list(&c, 0, 100).unwrap();
        evs.remove(1);
        assert_eq!(verify_chain(&evs, GENESIS.into()), Err(3));
    }
}
