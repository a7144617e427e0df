//! Storing one inbound delivery durably: the raw body, its normalised messages, evidence rows, fetch jobs, edits,
//! receipts and an event, all in the caller's (group-commit) transaction.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{chats, events, evidence, jobs, messages, people, StoreError};
use crate::message::{InboundMessage, Normalized, Source};

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DeliveryOutcome {
    pub raw_payload_id: i64,
    pub new_messages: Vec<i64>,
    pub duplicates: usize,
    pub changes: usize,
    pub statuses: usize,
    pub fetch_jobs: usize,
    /// Gateway lookups queued (WAHA `@lid` senders without a phone).
    pub lookup_jobs: usize,
    /// The new messages of a webhook delivery ([`store_delivery`]) as the records processor sees them, each with its
    /// position in the delivery and its chat's site (so a classification made before the write can be checked
    /// against it). Empty for messages stored one by one ([`store_message`]).
    #[serde(skip)]
    pub stored: Vec<StoredNew>,
}

/// A message this delivery added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNew {
    /// Position in [`Normalized::messages`].
    pub index: usize,
    pub pending: messages::Pending,
    pub site_id: Option<i64>,
}

pub const FETCH_JOB: &str = "fetch_media";

/// Stores a raw body whose parsing failed (kept verbatim so nothing is lost to a parser bug).
pub fn store_malformed(
    tx: &Transaction<'_>,
    source: Source,
    body: &[u8],
    error: &str,
) -> Result<i64, StoreError> {
    let sha = hex::encode(Sha256::digest(body));
    let id = store_raw(tx, source, body, &sha, "malformed", Some(error))?;
    Ok(id)
}

fn store_raw(
    tx: &Transaction<'_>,
    source: Source,
    body: &[u8],
    sha: &str,
    outcome: &str,
    error: Option<&str>,
) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO raw_payloads(source, received_at, sha256, body, outcome, error) VALUES (?1,?2,?3,?4,?5,?6)",
    )?
    .execute(params![source.as_str(), super::now_str(), sha, body, outcome, error])?;
    Ok(tx.last_insert_rowid())
}

/// Stores one message (deduplicated), its sender, chat, evidence rows and fetch jobs; answers its id when it is new.
pub fn store_message(
    tx: &Transaction<'_>,
    m: &InboundMessage,
    raw_payload_id: Option<i64>,
    out: &mut DeliveryOutcome,
) -> Result<Option<i64>, StoreError> {
    Ok(store_new(tx, m, raw_payload_id, out)?.map(|n| n.id))
}

/// Where a new message was stored.
struct Placed {
    id: i64,
    chat_id: i64,
    sender_id: Option<i64>,
    site_id: Option<i64>,
}

/// [`store_message`], answering where a new message went.
fn store_new(
    tx: &Transaction<'_>,
    m: &InboundMessage,
    raw_payload_id: Option<i64>,
    out: &mut DeliveryOutcome,
) -> Result<Option<Placed>, StoreError> {
    let (chat_id, site_id) = chats::upsert_with_site(tx, m.source.as_str(), &m.chat)?;
    let sender_id = match &m.sender {
        Some(s) => Some(people::resolve(tx, s)?),
        None => None,
    };
    match messages::insert(tx, m, chat_id, sender_id, raw_payload_id)? {
        messages::Inserted::Duplicate(_) => {
            out.duplicates += 1;
            Ok(None)
        }
        messages::Inserted::New(id) => {
            let sent = super::fmt_time(m.sent_at);
            chats::touch(tx, chat_id, &sent)?;
            let now_ms = super::now().timestamp_millis();
            for (i, media) in m.media.iter().enumerate() {
                let (eid, needs_fetch) = evidence::insert(tx, id, i, media, &super::now_str())?;
                if needs_fetch {
                    jobs::enqueue(
                        tx,
                        FETCH_JOB,
                        &serde_json::json!({ "evidence": eid }).to_string(),
                        now_ms,
                    )?;
                    out.fetch_jobs += 1;
                }
            }
            if let Some(s) = m
                .sender
                .as_ref()
                .filter(|_| m.source == Source::Waha && !m.from_me)
            {
                if super::lids::request(tx, s, now_ms)? {
                    out.lookup_jobs += 1;
                }
            }
            out.new_messages.push(id);
            Ok(Some(Placed {
                id,
                chat_id,
                sender_id,
                site_id,
            }))
        }
    }
}

/// Stores a whole webhook delivery: raw body first, then everything it normalised to.
pub fn store_delivery(
    tx: &Transaction<'_>,
    source: Source,
    body: &[u8],
    n: &Normalized,
) -> Result<DeliveryOutcome, StoreError> {
    let (raw_id, sha) = store_raw_stored(tx, source, body)?;
    file_delivery(tx, source, raw_id, &sha, n)
}

/// Stores a delivery's raw body alone (outcome `stored`), as [`store_delivery`] and [`super::inbox::push`] begin;
/// answers its id and SHA-256 (hex).
pub(super) fn store_raw_stored(
    tx: &Transaction<'_>,
    source: Source,
    body: &[u8],
) -> Result<(i64, String), StoreError> {
    let sha = hex::encode(Sha256::digest(body));
    let id = store_raw(tx, source, body, &sha, "stored", None)?;
    Ok((id, sha))
}

/// Files what a delivery whose raw body is already stored (`raw_id`, SHA-256 `sha`) normalised to: messages (deduplicated),
/// evidence rows and fetch jobs, edits, receipts, source errors and the `payload.received` event. Sets the raw body's
/// outcome to `duplicate` or `ignored` when nothing new came of it.
pub fn file_delivery(
    tx: &Transaction<'_>,
    source: Source,
    raw_id: i64,
    sha: &str,
    n: &Normalized,
) -> Result<DeliveryOutcome, StoreError> {
    let mut out = DeliveryOutcome {
        raw_payload_id: raw_id,
        ..DeliveryOutcome::default()
    };
    for (index, m) in n.messages.iter().enumerate() {
        if let Some(p) = store_new(tx, m, Some(raw_id), &mut out)? {
            out.stored.push(StoredNew {
                index,
                pending: messages::Pending {
                    id: p.id,
                    chat_id: p.chat_id,
                    sender_id: p.sender_id,
                    sent_ms: m.sent_at.timestamp_millis(),
                    msg_type: m.msg_type.as_str().to_string(),
                    text: m.text.clone(),
                    deleted: m.deleted,
                    reply_to: m.reply_to.clone(),
                    source: m.source.as_str().to_string(),
                },
                site_id: p.site_id,
            });
        }
    }
    for c in &n.changes {
        if let Some((mid, old_text)) =
            messages::find_by_source_id(tx, c.source.as_str(), &c.target_id)?
        {
            messages::apply_change(
                tx,
                mid,
                old_text.as_deref(),
                c.new_text.as_deref(),
                &super::fmt_time(c.at),
                Some(raw_id),
            )?;
            out.changes += 1;
        }
    }
    for s in &n.statuses {
        let n = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO message_statuses(source, message_id, status, at, recipient, errors) VALUES (?1,?2,?3,?4,?5,?6)",
            )?
            .execute(params![
                s.source.as_str(),
                s.message_id,
                s.status,
                super::fmt_time(s.at),
                s.recipient_id,
                if s.errors.is_empty() { None } else { Some(s.errors.join("; ")) },
            ])?;
        out.statuses += n;
        if let Some(route) = crate::outbox::Route::parse(s.source.as_str()) {
            super::outbox::apply_status(
                tx,
                route,
                &s.message_id,
                &s.status,
                &s.errors,
                s.callback.as_deref(),
                s.at,
            )?;
        }
    }
    for e in &n.errors {
        tx.prepare_cached(
            "INSERT INTO source_errors(source, at, detail, raw_payload_id) VALUES (?1,?2,?3,?4)",
        )?
        .execute(params![source.as_str(), super::now_str(), e, raw_id])?;
    }
    if out.new_messages.is_empty() && out.changes == 0 && out.statuses == 0 && n.errors.is_empty() {
        tx.prepare_cached("UPDATE raw_payloads SET outcome = ?2 WHERE id = ?1")?
            .execute(params![
                raw_id,
                if out.duplicates > 0 {
                    "duplicate"
                } else {
                    "ignored"
                }
            ])?;
    }
    events::append(
        tx,
        &format!("webhook:{}", source.as_str()),
        "payload.received",
        "raw_payload",
        Some(&raw_id.to_string()),
        &serde_json::json!({
            "sha256": sha,
            "messages": out.new_messages,
            "duplicates": out.duplicates,
            "changes": out.changes,
            "statuses": out.statuses,
        }),
    )?;
    Ok(out)
}

/// The newest webhook delivery received from a source: when, and what became of it.
#[derive(Debug, Clone, serde::Serialize, PartialEq, utoipa::ToSchema)]
pub struct LastDelivery {
    pub received_at: String,
    /// `stored`, `duplicate`, `malformed`, `ignored` or `failed`.
    pub outcome: String,
    pub error: Option<String>,
}

pub fn last_delivery(
    conn: &Connection,
    source: Source,
) -> Result<Option<LastDelivery>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT received_at, outcome, error FROM raw_payloads WHERE source = ?1 ORDER BY id DESC LIMIT 1",
        )?
        .query_row([source.as_str()], |r| {
            Ok(LastDelivery {
                received_at: r.get(0)?,
                outcome: r.get(1)?,
                error: r.get(2)?,
            })
        })
        .optional()?)
}
