//! A chat's records at one moment: its tickets with their status, its task entries, and where each of its messages
//! and evidence files is linked. A correction reads it before and after it is applied (in the same transaction) to
//! tell what else it changed.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

use super::StoreError;

/// Where a message or an evidence file is linked: (`issue` or `task`, record id), or nothing.
pub type Link = Option<(String, i64)>;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChatRecords {
    /// Ticket id → status.
    pub issues: BTreeMap<i64, String>,
    pub tasks: BTreeSet<i64>,
    pub messages: BTreeMap<i64, Link>,
    /// Evidence id → (link, role).
    pub evidence: BTreeMap<i64, (Link, Option<String>)>,
}

fn link(t: Option<String>, id: Option<i64>) -> Link {
    t.zip(id)
}

pub fn chat_records(conn: &Connection, chat_id: i64) -> Result<ChatRecords, StoreError> {
    let mut out = ChatRecords::default();
    let mut st = conn.prepare_cached("SELECT id, status FROM issues WHERE chat_id = ?1")?;
    for r in st.query_map([chat_id], |r| Ok((r.get(0)?, r.get(1)?)))? {
        let (id, status) = r?;
        out.issues.insert(id, status);
    }
    let mut st = conn.prepare_cached("SELECT id FROM tasks WHERE chat_id = ?1")?;
    for r in st.query_map([chat_id], |r| r.get(0))? {
        out.tasks.insert(r?);
    }
    let mut st =
        conn.prepare_cached("SELECT id, record_type, record_id FROM messages WHERE chat_id = ?1")?;
    for r in st.query_map([chat_id], |r| Ok((r.get(0)?, link(r.get(1)?, r.get(2)?))))? {
        let (id, l) = r?;
        out.messages.insert(id, l);
    }
    let mut st = conn.prepare_cached(
        "SELECT e.id, e.record_type, e.record_id, e.role FROM evidence e \
         JOIN messages m ON m.id = e.message_id WHERE m.chat_id = ?1",
    )?;
    for r in st.query_map([chat_id], |r| {
        Ok((r.get(0)?, (link(r.get(1)?, r.get(2)?), r.get(3)?)))
    })? {
        let (id, l) = r?;
        out.evidence.insert(id, l);
    }
    Ok(out)
}
