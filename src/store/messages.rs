//! Messages: insert (deduplicated), list with filters and cursor pagination, full-text search, processing state.

use base64::Engine;
use rusqlite::{
    params, params_from_iter, types::Value, Connection, OptionalExtension, Transaction,
};
use serde::Serialize;

use super::people::PersonRef;
use super::StoreError;
use crate::message::{InboundMessage, MediaFetch};

/// A stored message in the API shape of `interfaces.md`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Message {
    pub id: i64,
    pub chat: super::chats::NamedRefOpt,
    pub sender: Option<PersonRef>,
    pub sent_at: String,
    #[serde(rename = "type")]
    pub msg_type: String,
    pub text: Option<String>,
    pub edited: bool,
    pub deleted: bool,
    pub from_me: bool,
    pub kind: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub classification: Option<serde_json::Value>,
    pub record: Option<RecordRef>,
    pub link_reason: Option<String>,
    pub media: Vec<i64>,
    pub source: String,
    pub reply_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// A voice note's transcript (only where `[transcribe] command` ran on it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<super::transcripts::MessageTranscript>,
    /// `voice_note` when the message was classified and linked by its voice note's transcript (it has no text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_source: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RecordRef {
    #[serde(rename = "type")]
    pub record_type: String,
    pub id: i64,
}

/// What happened to one inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New(i64),
    Duplicate(i64),
}

/// The normalised message as stored: inline media bytes are not repeated (they live in the raw payload / evidence).
pub fn normalized_json(m: &InboundMessage) -> String {
    let mut m = m.clone();
    for media in &mut m.media {
        if let MediaFetch::Inline { bytes } = &mut media.fetch {
            bytes.clear();
        }
    }
    serde_json::to_string(&m).unwrap_or_else(|_| "{}".into())
}

/// Inserts a message unless the same source id is already stored.
pub fn insert(
    tx: &Transaction<'_>,
    m: &InboundMessage,
    chat_id: i64,
    sender_id: Option<i64>,
    raw_payload_id: Option<i64>,
) -> Result<Inserted, StoreError> {
    let mut st = tx.prepare_cached(
        "INSERT INTO messages(source, source_message_id, chat_id, sender_id, from_me, sent_at, sent_ms, received_at, type, \
         source_type, text, reply_to, forwarded, edited, deleted, raw_payload_id, normalized) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17) \
         ON CONFLICT(source, source_message_id) DO NOTHING",
    )?;
    let n = st.execute(params![
        m.source.as_str(),
        m.source_message_id,
        chat_id,
        sender_id,
        m.from_me,
        super::fmt_time(m.sent_at),
        m.sent_at.timestamp_millis(),
        super::now_str(),
        m.msg_type.as_str(),
        m.source_type,
        m.text,
        m.reply_to,
        m.forwarded,
        m.edited,
        m.deleted,
        raw_payload_id,
        // With the raw payload kept verbatim, the normalised JSON is derivable from it: store it only when there is
        // no raw payload (chat exports, demo data).
        if raw_payload_id.is_some() {
            String::new()
        } else {
            normalized_json(m)
        },
    ])?;
    if n == 1 {
        return Ok(Inserted::New(tx.last_insert_rowid()));
    }
    let id: i64 = tx.query_row(
        "SELECT id FROM messages WHERE source = ?1 AND source_message_id = ?2",
        params![m.source.as_str(), m.source_message_id],
        |r| r.get(0),
    )?;
    Ok(Inserted::Duplicate(id))
}

/// Finds a message by its source id (normalisers reduce every gateway id form to the raw WhatsApp id).
pub fn find_by_source_id(
    conn: &Connection,
    source: &str,
    id: &str,
) -> Result<Option<(i64, Option<String>)>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, text FROM messages WHERE source = ?1 AND source_message_id = ?2",
        )?
        .query_row(params![source, id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Filters for listing messages. All optional; ranges inclusive (already resolved to unix ms by the caller).
#[derive(Debug, Default, Clone)]
pub struct MessageFilter {
    pub chat: Option<i64>,
    pub person: Option<i64>,
    pub site: Option<i64>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub kind: Option<String>,
    pub source: Option<String>,
    pub category: Option<String>,
    pub msg_type: Option<String>,
}

/// Keyset cursor over (sent_ms, id), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub ms: i64,
    pub id: i64,
}

/// Splits a `limit + 1` query result into the page and the cursor of the next page (rows carry their sort time).
pub fn split_page<T>(
    mut rows: Vec<(T, i64)>,
    limit: usize,
    id: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<Cursor>) {
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|(r, ms)| Cursor { ms: *ms, id: id(r) })
    } else {
        None
    };
    (rows.into_iter().map(|(r, _)| r).collect(), next)
}

impl Cursor {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{}", self.ms, self.id))
    }
    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (a, b) = text.split_once(':')?;
        Some(Cursor {
            ms: a.parse().ok()?,
            id: b.parse().ok()?,
        })
    }
}

const SELECT: &str = "SELECT m.id, m.chat_id, c.name, m.sender_id, p.name, p.phone, m.sent_at, m.type, m.text, m.edited, \
    m.deleted, m.from_me, m.kind, m.classification, m.record_type, m.record_id, m.link_reason, m.source, m.reply_to, m.sent_ms \
    FROM messages m JOIN chats c ON c.id = m.chat_id LEFT JOIN people p ON p.id = m.sender_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Message, i64)> {
    let sender_id: Option<i64> = r.get(3)?;
    let class: Option<String> = r.get(13)?;
    let rtype: Option<String> = r.get(14)?;
    let rid: Option<i64> = r.get(15)?;
    Ok((
        Message {
            id: r.get(0)?,
            chat: super::chats::NamedRefOpt {
                id: r.get(1)?,
                name: r.get(2)?,
            },
            sender: match sender_id {
                Some(id) => Some(PersonRef {
                    id,
                    name: r.get(4)?,
                    phone: r.get(5)?,
                }),
                None => None,
            },
            sent_at: r.get(6)?,
            msg_type: r.get(7)?,
            text: r.get(8)?,
            edited: r.get(9)?,
            deleted: r.get(10)?,
            from_me: r.get(11)?,
            kind: r.get(12)?,
            classification: class.and_then(|c| serde_json::from_str(&c).ok()),
            record: rtype
                .zip(rid)
                .map(|(record_type, id)| RecordRef { record_type, id }),
            link_reason: r.get(16)?,
            media: vec![],
            source: r.get(17)?,
            reply_to: r.get(18)?,
            snippet: None,
            transcript: None,
            text_source: None,
        },
        r.get(19)?,
    ))
}

fn attach_media(conn: &Connection, msgs: &mut [Message]) -> Result<(), StoreError> {
    let mut st =
        conn.prepare_cached("SELECT id FROM evidence WHERE message_id = ?1 ORDER BY ordinal")?;
    for m in msgs.iter_mut() {
        m.media = st
            .query_map([m.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    // Voice-note transcripts: only messages with media can have one.
    let with_media: Vec<i64> = msgs
        .iter()
        .filter(|m| !m.media.is_empty())
        .map(|m| m.id)
        .collect();
    let mut transcripts = super::transcripts::for_messages(conn, &with_media)?;
    for m in msgs {
        m.transcript = transcripts.remove(&m.id);
        if super::transcripts::reads_voice_note(m.text.as_deref(), m.transcript.as_ref()) {
            m.text_source = Some("voice_note".into());
        }
    }
    Ok(())
}

fn where_clause(f: &MessageFilter, cursor: Option<Cursor>, args: &mut Vec<Value>) -> String {
    let mut w = vec!["1=1".to_string()];
    let mut push = |cond: &str, v: Value, args: &mut Vec<Value>| {
        args.push(v);
        w.push(cond.replace('?', &format!("?{}", args.len())));
    };
    if let Some(c) = f.chat {
        push("m.chat_id = ?", c.into(), args);
    }
    if let Some(p) = f.person {
        push("m.sender_id = ?", p.into(), args);
    }
    if let Some(s) = f.site {
        push("c.site_id = ?", s.into(), args);
    }
    if let Some(t) = f.from_ms {
        push("m.sent_ms >= ?", t.into(), args);
    }
    if let Some(t) = f.to_ms {
        push("m.sent_ms <= ?", t.into(), args);
    }
    if let Some(k) = &f.kind {
        push("m.kind = ?", k.clone().into(), args);
    }
    if let Some(s) = &f.source {
        push("m.source = ?", s.clone().into(), args);
    }
    if let Some(c) = &f.category {
        push(
            "json_extract(m.classification, '$.category') = ?",
            c.clone().into(),
            args,
        );
    }
    if let Some(t) = &f.msg_type {
        push("m.type = ?", t.clone().into(), args);
    }
    if let Some(cur) = cursor {
        args.push(cur.ms.into());
        let a = args.len();
        args.push(cur.id.into());
        let b = args.len();
        w.push(format!(
            "(m.sent_ms < ?{a} OR (m.sent_ms = ?{a} AND m.id < ?{b}))"
        ));
    }
    w.join(" AND ")
}

/// Newest first; returns the page and the cursor of the next page.
pub fn list(
    conn: &Connection,
    f: &MessageFilter,
    cursor: Option<Cursor>,
    limit: usize,
) -> Result<(Vec<Message>, Option<Cursor>), StoreError> {
    let mut args = vec![];
    let w = where_clause(f, cursor, &mut args);
    let sql = format!(
        "{SELECT} WHERE {w} ORDER BY m.sent_ms DESC, m.id DESC LIMIT {}",
        limit + 1
    );
    let mut st = conn.prepare_cached(&sql)?;
    let rows: Vec<(Message, i64)> = st
        .query_map(params_from_iter(args), row)?
        .collect::<Result<_, _>>()?;
    let (mut msgs, next) = split_page(rows, limit, |m: &Message| m.id);
    attach_media(conn, &mut msgs)?;
    Ok((msgs, next))
}

/// The id the source gave a stored message.
pub fn source_id(conn: &Connection, id: i64) -> Result<String, StoreError> {
    conn.prepare_cached("SELECT source_message_id FROM messages WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("message {id}")))
}

pub fn get(conn: &Connection, id: i64) -> Result<Message, StoreError> {
    let mut m = conn
        .query_row(&format!("{SELECT} WHERE m.id = ?1"), [id], row)
        .optional()?
        .map(|(m, _)| m)
        .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
    attach_media(conn, std::slice::from_mut(&mut m))?;
    Ok(m)
}

/// Turns free text into a safe FTS5 query: every word becomes a quoted prefix term, all required.
pub fn fts_query(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(16)
        .map(|t| format!("\"{}\"*", t.replace('"', "")))
        .collect();
    if terms.is_empty() {
        None
    } else {
        Some(terms.join(" AND "))
    }
}

/// Above this many matches, search walks messages by time instead of sorting the matches.
const SEARCH_PROBE: i64 = 5_000;

/// Full-text search, newest first, with a snippet marking the match between « and ».
pub fn search(
    conn: &Connection,
    q: &str,
    f: &MessageFilter,
    cursor: Option<Cursor>,
    limit: usize,
) -> Result<(Vec<Message>, Option<Cursor>), StoreError> {
    let Some(fq) = fts_query(q) else {
        return Ok((vec![], None));
    };
    // A common word matches a large share of all messages: then walking messages newest first and checking
    // membership beats sorting every match (see BENCHMARKS.md, "Records: listing and filtering").
    let matches: i64 = conn
        .prepare_cached("SELECT count(*) FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ?1 LIMIT ?2)")?
        .query_row(params![fq, SEARCH_PROBE], |r| r.get(0))?;
    let membership = if matches < SEARCH_PROBE {
        "m.id"
    } else {
        "+m.id"
    };
    let mut args: Vec<Value> = vec![fq.into()];
    let w = where_clause(f, cursor, &mut args);
    let sql = format!(
        "WITH sub AS MATERIALIZED ({SELECT} WHERE {membership} IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1) \
           AND {w} ORDER BY m.sent_ms DESC, m.id DESC LIMIT {}) \
         SELECT sub.*, snippet(messages_fts, 0, '«', '»', '…', 12) FROM messages_fts JOIN sub ON sub.id = messages_fts.rowid \
         WHERE messages_fts MATCH ?1 AND messages_fts.rowid >= (SELECT min(id) FROM sub) \
         AND messages_fts.rowid <= (SELECT max(id) FROM sub) ORDER BY sub.sent_ms DESC, sub.id DESC",
        limit + 1
    );
    let mut st = conn.prepare_cached(&sql)?;
    let rows: Vec<(Message, i64)> = st
        .query_map(params_from_iter(args), |r| {
            let (mut m, ms) = row(r)?;
            m.snippet = r.get(20)?;
            Ok((m, ms))
        })?
        .collect::<Result<_, _>>()?;
    let (mut msgs, next) = split_page(rows, limit, |m: &Message| m.id);
    attach_media(conn, &mut msgs)?;
    // A voice note matched by its transcript: the index's snippet reads the (empty) message text.
    for m in &mut msgs {
        if m.text_source.is_some() && m.snippet.as_deref().is_none_or(str::is_empty) {
            if let Some(t) = m.transcript.as_ref().and_then(|t| t.text.as_deref()) {
                m.snippet = Some(super::transcripts::snippet(t, q));
            }
        }
    }
    Ok((msgs, next))
}

/// A message waiting for processing (classification, indexing, linking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub chat_id: i64,
    pub sender_id: Option<i64>,
    pub sent_ms: i64,
    pub msg_type: String,
    pub text: Option<String>,
    pub deleted: bool,
    pub reply_to: Option<String>,
    pub source: String,
}

pub fn pending(conn: &Connection, limit: usize) -> Result<Vec<Pending>, StoreError> {
    pending_after(conn, 0, limit)
}

/// Pending messages with an id above `after`, oldest first.
pub fn pending_after(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<Pending>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, chat_id, sender_id, sent_ms, type, {}, deleted, reply_to, source FROM messages \
         WHERE processed = 0 AND id > ?1 ORDER BY id LIMIT ?2",
        super::transcripts::TEXT_OR_TRANSCRIPT
    ))?;
    let rows = st.query_map(params![after, limit as i64], |r| {
        Ok(Pending {
            id: r.get(0)?,
            chat_id: r.get(1)?,
            sender_id: r.get(2)?,
            sent_ms: r.get(3)?,
            msg_type: r.get(4)?,
            text: r.get(5)?,
            deleted: r.get(6)?,
            reply_to: r.get(7)?,
            source: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether an earlier message of the chat still waits for processing (then later ones must wait too).
pub fn chat_has_pending_before(
    conn: &Connection,
    chat_id: i64,
    id: i64,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM messages WHERE processed = 0 AND chat_id = ?1 AND id < ?2 LIMIT 1",
        )?
        .query_row(params![chat_id, id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether any message of the chat still waits to be processed.
pub fn chat_has_pending(conn: &Connection, chat_id: i64) -> Result<bool, StoreError> {
    chat_has_pending_before(conn, chat_id, i64::MAX)
}

pub fn count_pending(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM messages WHERE processed = 0",
        [],
        |r| r.get(0),
    )?)
}

/// Stores the classification (or none); marks the message processed. (Search indexing is [`index_pending`]'s.)
pub fn set_processed(
    tx: &Transaction<'_>,
    id: i64,
    kind: Option<&str>,
    classification: Option<&str>,
    version: Option<&str>,
) -> Result<(), StoreError> {
    set_processed_linked(tx, id, kind, classification, version, None)
}

/// As [`set_processed`], also setting the record the message belongs to (one row update instead of two).
pub fn set_processed_linked(
    tx: &Transaction<'_>,
    id: i64,
    kind: Option<&str>,
    classification: Option<&str>,
    version: Option<&str>,
    record: Option<(&str, i64, &str)>,
) -> Result<(), StoreError> {
    match record {
        None => tx
            .prepare_cached(
                "UPDATE messages SET processed = 1, kind = ?2, classification = ?3, classifier_version = ?4 WHERE id = ?1",
            )?
            .execute(params![id, kind, classification, version])?,
        Some((rtype, rid, reason)) => tx
            .prepare_cached(
                "UPDATE messages SET processed = 1, kind = ?2, classification = ?3, classifier_version = ?4, \
                 record_type = ?5, record_id = ?6, link_reason = ?7 WHERE id = ?1",
            )?
            .execute(params![id, kind, classification, version, rtype, rid, reason])?,
    };
    Ok(())
}

/// Every message with an id up to this one is in the full-text index.
pub fn indexed_through(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT through FROM index_state WHERE name = 'fts'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Messages stored but not yet in the full-text index.
pub fn count_unindexed(conn: &Connection) -> Result<i64, StoreError> {
    let through = indexed_through(conn)?;
    Ok(conn
        .prepare_cached("SELECT count(*) FROM messages WHERE id > ?1")?
        .query_row([through], |r| r.get(0))?)
}

/// Adds up to `limit` messages, in id order, to the full-text index; returns how many it took. Indexing runs behind
/// ingest in batches like this one because FTS5 writes (and later merges) a segment per flush: one flush for a
/// thousand messages costs a fraction of a thousand flushes.
pub fn index_pending(tx: &Transaction<'_>, limit: usize) -> Result<usize, StoreError> {
    let through = indexed_through(tx)?;
    let rows: Vec<(i64, Option<String>)> = {
        let mut st =
            tx.prepare_cached("SELECT id, text FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let rows = st
            .query_map(params![through, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        rows
    };
    let Some(last) = rows.last().map(|r| r.0) else {
        return Ok(0);
    };
    {
        let mut ins = tx.prepare_cached("INSERT INTO messages_fts(rowid, text) VALUES (?1, ?2)")?;
        for (id, text) in &rows {
            if let Some(t) = text.as_deref().filter(|t| !t.is_empty()) {
                ins.execute(params![id, t])?;
            }
        }
    }
    tx.prepare_cached(
        "INSERT INTO index_state(name, through) VALUES ('fts', ?1) \
         ON CONFLICT(name) DO UPDATE SET through = excluded.through",
    )?
    .execute([last])?;
    Ok(rows.len())
}

/// Applies an edit (new text, version kept) or a revoke (flagged deleted, text kept for audit).
pub fn apply_change(
    tx: &Transaction<'_>,
    id: i64,
    old_text: Option<&str>,
    new_text: Option<&str>,
    at: &str,
    raw_payload_id: Option<i64>,
) -> Result<(), StoreError> {
    let indexed = id <= indexed_through(tx)?;
    let change = if new_text.is_some() { "edit" } else { "revoke" };
    tx.execute(
        "INSERT INTO message_versions(message_id, text, changed_at, change, raw_payload_id) VALUES (?1,?2,?3,?4,?5)",
        params![id, old_text, at, change, raw_payload_id],
    )?;
    match new_text {
        Some(t) => {
            // Already in the search index: swap the old text for the new (else the indexer will take the new one).
            if indexed {
                if let Some(old) = old_text.filter(|t| !t.is_empty()) {
                    tx.execute(
                        "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', ?1, ?2)",
                        params![id, old],
                    )?;
                }
                if !t.is_empty() {
                    tx.execute(
                        "INSERT INTO messages_fts(rowid, text) VALUES (?1, ?2)",
                        params![id, t],
                    )?;
                }
            }
            // Re-processing classifies the new text.
            tx.execute(
                "UPDATE messages SET text = ?2, edited = 1, processed = 0 WHERE id = ?1",
                params![id, t],
            )?;
        }
        None => {
            tx.execute("UPDATE messages SET deleted = 1 WHERE id = ?1", [id])?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub text: Option<String>,
    pub changed_at: String,
    pub change: String,
}

pub fn versions(conn: &Connection, id: i64) -> Result<Vec<Version>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT text, changed_at, change FROM message_versions WHERE message_id = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([id], |r| {
        Ok(Version {
            text: r.get(0)?,
            changed_at: r.get(1)?,
            change: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?)
}

/// The messages with an id above `after`: (the highest id, or `after` when there is none; how many).
pub fn count_after(conn: &Connection, after: i64) -> Result<(i64, i64), StoreError> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), ?1), count(*) FROM messages WHERE id > ?1")?
        .query_row([after], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

pub fn count_filtered(conn: &Connection, f: &MessageFilter) -> Result<i64, StoreError> {
    let mut args = vec![];
    let w = where_clause(f, None, &mut args);
    let sql = format!("SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id WHERE {w}");
    Ok(conn.query_row(&sql, params_from_iter(args), |r| r.get(0))?)
}

/// A chat's processed messages after message id `after`, in chat order, with their stored classification (JSON).
pub fn processed_after(
    conn: &Connection,
    chat_id: i64,
    after: i64,
) -> Result<Vec<(Pending, Option<String>)>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, chat_id, sender_id, sent_ms, type, {}, deleted, reply_to, source, classification \
         FROM messages WHERE chat_id = ?1 AND processed = 1 AND id > ?2 ORDER BY sent_ms, id",
        super::transcripts::TEXT_OR_TRANSCRIPT
    ))?;
    let rows = st
        .query_map(params![chat_id, after], |r| {
            Ok((
                Pending {
                    id: r.get(0)?,
                    chat_id: r.get(1)?,
                    sender_id: r.get(2)?,
                    sent_ms: r.get(3)?,
                    msg_type: r.get(4)?,
                    text: r.get(5)?,
                    deleted: r.get(6)?,
                    reply_to: r.get(7)?,
                    source: r.get(8)?,
                },
                r.get(9)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Which message ids between `lo` and `hi` (inclusive) still wait to be processed.
pub fn pending_ids_between(
    conn: &Connection,
    lo: i64,
    hi: i64,
) -> Result<std::collections::HashSet<i64>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT id FROM messages WHERE id BETWEEN ?1 AND ?2 AND processed = 0")?;
    let ids = st
        .query_map(params![lo, hi], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// A chat's processed, classified messages with text: (id, text).
pub fn classified_texts(conn: &Connection, chat_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT id, text FROM messages WHERE chat_id = ?1 AND processed = 1 AND kind IS NOT NULL AND text IS NOT NULL",
    )?;
    let rows = st
        .query_map([chat_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Stores a message's classification made by classifier `version`; with `only_if_changed` the row is left alone when
/// it holds this classification already. Returns whether the row was written.
pub fn set_classification(
    tx: &Transaction<'_>,
    id: i64,
    kind: &str,
    json: &str,
    version: &str,
    only_if_changed: bool,
) -> Result<bool, StoreError> {
    let sql = if only_if_changed {
        "UPDATE messages SET kind = ?2, classification = ?3, classifier_version = ?4 \
         WHERE id = ?1 AND (classification IS NOT ?3)"
    } else {
        "UPDATE messages SET kind = ?2, classification = ?3, classifier_version = ?4 WHERE id = ?1"
    };
    let n = tx
        .prepare_cached(sql)?
        .execute(params![id, kind, json, version])?;
    Ok(n > 0)
}

/// Stores a manager's classification on the message row (what the message shows; the correction itself is what the
/// records engine replays).
pub fn set_corrected_classification(
    tx: &Transaction<'_>,
    id: i64,
    kind: &str,
    json: &str,
) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached("UPDATE messages SET kind = ?2, classification = ?3 WHERE id = ?1")?
        .execute(params![id, kind, json])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("message {id}")));
    }
    Ok(())
}

/// Chats with processed messages sent since `since_ms` that a classifier other than `version` classified.
pub fn chats_with_outdated(
    conn: &Connection,
    version: &str,
    since_ms: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT chat_id FROM messages WHERE processed = 1 AND kind IS NOT NULL \
         AND classifier_version IS NOT ?1 AND sent_ms >= ?2",
    )?;
    let r = st
        .query_map(params![version, since_ms], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(r)
}

/// A chat's messages of [`chats_with_outdated`]: (id, text, stored classification JSON).
pub fn outdated_in_chat(
    conn: &Connection,
    chat_id: i64,
    version: &str,
    since_ms: i64,
) -> Result<Vec<(i64, String, Option<String>)>, StoreError> {
    let text = super::transcripts::TEXT_OR_TRANSCRIPT;
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, {text}, classification FROM messages WHERE chat_id = ?1 AND processed = 1 AND kind IS NOT NULL \
         AND {text} IS NOT NULL AND classifier_version IS NOT ?2 AND sent_ms >= ?3",
    ))?;
    let r = st
        .query_map(params![chat_id, version, since_ms], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    Ok(r)
}

#[cfg(test)]
mod search_tests {
    use super::*;
    use crate::message::{ChatRef, Source};

    fn msg(i: i64, text: &str) -> InboundMessage {
        let chat = ChatRef {
            external_id: "chat".into(),
            name: Some("Ops".into()),
            is_group: true,
        };
        let at = chrono::DateTime::from_timestamp(1_800_000_000 + i * 60, 0).unwrap();
        crate::ingest::test_support::text_message(
            Source::Import,
            &format!("m{i}"),
            chat,
            None,
            at,
            text,
        )
    }

    fn hits(conn: &Connection, q: &str) -> Vec<i64> {
        let mut st = conn
            .prepare("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY rowid")
            .unwrap();
        let v = st.query_map([q], |r| r.get(0)).unwrap();
        v.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn the_indexer_follows_its_watermark_and_edits_keep_the_index_right() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = conn.transaction().unwrap();
        let chat = crate::store::chats::upsert(&tx, "import", &msg(0, "").chat).unwrap();
        let mut ids = vec![];
        for (i, text) in ["pump room leak", "lobby mopped", ""].iter().enumerate() {
            let Inserted::New(id) = insert(&tx, &msg(i as i64, text), chat, None, None).unwrap()
            else {
                panic!()
            };
            ids.push(id);
        }
        // Not searchable until indexed; the indexer takes messages in id order up to its limit.
        assert!(hits(&tx, "pump").is_empty());
        assert_eq!(count_unindexed(&tx).unwrap(), 3);
        assert_eq!(index_pending(&tx, 2).unwrap(), 2);
        assert_eq!(indexed_through(&tx).unwrap(), ids[1]);
        assert_eq!(hits(&tx, "pump"), vec![ids[0]]);
        assert_eq!(
            index_pending(&tx, 2).unwrap(),
            1,
            "an empty text moves the mark"
        );
        assert_eq!(index_pending(&tx, 2).unwrap(), 0);
        assert_eq!(count_unindexed(&tx).unwrap(), 0);
        // An edit of an indexed message swaps its words.
        apply_change(
            &tx,
            ids[0],
            Some("pump room leak"),
            Some("genset tripped"),
            "t",
            None,
        )
        .unwrap();
        assert!(hits(&tx, "pump").is_empty());
        assert_eq!(hits(&tx, "genset"), vec![ids[0]]);
        // A message edited before the indexer reached it is indexed once, with its new text.
        let Inserted::New(late) =
            insert(&tx, &msg(9, "bin centre smelly"), chat, None, None).unwrap()
        else {
            panic!()
        };
        apply_change(
            &tx,
            late,
            Some("bin centre smelly"),
            Some("bin centre cleared"),
            "t",
            None,
        )
        .unwrap();
        assert_eq!(index_pending(&tx, 10).unwrap(), 1);
        assert!(hits(&tx, "smelly").is_empty());
        assert_eq!(hits(&tx, "cleared"), vec![late]);
        assert_eq!(hits(&tx, "bin"), vec![late]);
    }

    #[test]
    fn search_pages_newest_first_for_rare_and_common_words() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = conn.transaction().unwrap();
        let chat = crate::store::chats::upsert(&tx, "import", &msg(0, "").chat).unwrap();
        // 6,000 "lobby" messages (above the probe: the time-walking plan) and a few rare ones.
        for i in 0..6_000 {
            let text = if i % 1000 == 7 {
                format!("pump room leak {i}")
            } else {
                format!("lobby mopped {i}")
            };
            let Inserted::New(id) = insert(&tx, &msg(i, &text), chat, None, None).unwrap() else {
                panic!()
            };
            set_processed(&tx, id, None, None, None).unwrap();
        }
        while index_pending(&tx, 1000).unwrap() > 0 {}
        tx.commit().unwrap();
        let f = MessageFilter::default();
        let (page, next) = search(&conn, "lobby", &f, None, 50).unwrap();
        assert_eq!(page.len(), 50);
        assert!(page[0].text.as_deref().unwrap().ends_with("5999"));
        assert!(page.windows(2).all(|w| w[0].sent_at >= w[1].sent_at));
        assert!(page[0].snippet.as_deref().unwrap().contains("«lobby»"));
        let (page2, _) = search(&conn, "lobby", &f, next, 50).unwrap();
        assert!(
            page2[0].text.as_deref().unwrap().ends_with("5949"),
            "{:?}",
            page2[0].text
        );
        let (rare, more) = search(&conn, "pump leak", &f, None, 50).unwrap();
        assert_eq!(rare.len(), 6);
        assert!(more.is_none());
        assert!(rare[0].snippet.as_deref().unwrap().contains("«pump»"));
    }
}
