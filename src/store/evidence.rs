//! Evidence rows: media attached to messages, their download state, hashes, thumbnails and record links.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::message::{MediaFetch, MediaRef, PhotoHash};

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Evidence {
    pub id: i64,
    pub kind: String,
    pub mime: Option<String>,
    pub sha256: Option<String>,
    pub bytes: Option<i64>,
    pub status: String,
    pub filename: Option<String>,
    pub received_at: String,
    pub message: i64,
    pub record: Option<super::messages::RecordRef>,
    pub role: Option<String>,
    pub link_reason: Option<String>,
    pub duplicate_of: Option<i64>,
    pub thumbnail: bool,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub exif: Option<serde_json::Value>,
    /// When its message was sent and by whom.
    pub sent_at: Option<String>,
    pub sender: Option<super::people::PersonRef>,
}

/// Internal view for the fetch worker.
#[derive(Debug, Clone)]
pub struct FetchTarget {
    pub id: i64,
    pub message_id: i64,
    pub ordinal: i64,
    pub kind: String,
    pub mime: Option<String>,
    pub expected_sha256: Option<String>,
    pub fetch: MediaFetch,
    pub status: String,
    pub source: String,
    pub raw_payload_id: Option<i64>,
}

/// Adds an evidence row for one media item of a message; returns its id and whether it needs fetching.
pub fn insert(
    tx: &Transaction<'_>,
    message_id: i64,
    ordinal: usize,
    m: &MediaRef,
    received_at: &str,
) -> Result<(i64, bool), StoreError> {
    let (status, needs_fetch) = match &m.fetch {
        MediaFetch::Unavailable => ("failed", false),
        MediaFetch::ExportFile { .. } => ("pending", false),
        _ => ("pending", true),
    };
    let mut fetch = m.fetch.clone();
    if let MediaFetch::Inline { bytes } = &mut fetch {
        bytes.clear();
    }
    tx.prepare_cached(
        "INSERT INTO evidence(message_id, ordinal, kind, mime, expected_sha256, status, filename, received_at, fetch, error) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    )?
    .execute(params![
        message_id,
        ordinal as i64,
        m.kind.as_str(),
        m.mime,
        m.sha256,
        status,
        m.filename,
        received_at,
        serde_json::to_string(&fetch)?,
        if status == "failed" { Some("the source did not provide the file") } else { None },
    ])?;
    Ok((tx.last_insert_rowid(), needs_fetch))
}

const SELECT: &str = "SELECT id, kind, mime, sha256, bytes, status, filename, received_at, message_id, record_type, record_id, role, \
    link_reason, duplicate_of, thumbnail, width, height, error, exif, \
    (SELECT m.sent_at FROM messages m WHERE m.id = evidence.message_id), \
    (SELECT m.sender_id FROM messages m WHERE m.id = evidence.message_id), \
    (SELECT p.name FROM messages m JOIN people p ON p.id = m.sender_id WHERE m.id = evidence.message_id), \
    (SELECT p.phone FROM messages m JOIN people p ON p.id = m.sender_id WHERE m.id = evidence.message_id) FROM evidence";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Evidence> {
    let rt: Option<String> = r.get(9)?;
    let rid: Option<i64> = r.get(10)?;
    let exif: Option<String> = r.get(18)?;
    Ok(Evidence {
        id: r.get(0)?,
        kind: r.get(1)?,
        mime: r.get(2)?,
        sha256: r.get(3)?,
        bytes: r.get(4)?,
        status: r.get(5)?,
        filename: r.get(6)?,
        received_at: r.get(7)?,
        message: r.get(8)?,
        record: rt
            .zip(rid)
            .map(|(record_type, id)| super::messages::RecordRef { record_type, id }),
        role: r.get(11)?,
        link_reason: r.get(12)?,
        duplicate_of: r.get(13)?,
        thumbnail: r.get(14)?,
        width: r.get(15)?,
        height: r.get(16)?,
        error: r.get(17)?,
        exif: exif.and_then(|e| serde_json::from_str(&e).ok()),
        sent_at: r.get(19)?,
        sender: r
            .get::<_, Option<i64>>(20)?
            .map(|id| -> rusqlite::Result<_> {
                Ok(super::people::PersonRef {
                    id,
                    name: r.get(21)?,
                    phone: r.get(22)?,
                })
            })
            .transpose()?,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<Evidence, StoreError> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("evidence {id}")))
}

pub fn for_message(conn: &Connection, message_id: i64) -> Result<Vec<Evidence>, StoreError> {
    let mut st =
        conn.prepare_cached(&format!("{SELECT} WHERE message_id = ?1 ORDER BY ordinal"))?;
    let rows = st.query_map([message_id], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn for_record(
    conn: &Connection,
    record_type: &str,
    record_id: i64,
) -> Result<Vec<Evidence>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "{SELECT} WHERE record_type = ?1 AND record_id = ?2 ORDER BY received_at, id"
    ))?;
    let rows = st.query_map(params![record_type, record_id], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn fetch_target(conn: &Connection, id: i64) -> Result<FetchTarget, StoreError> {
    conn.prepare_cached("SELECT e.id, e.message_id, e.ordinal, e.kind, e.mime, e.expected_sha256, e.fetch, e.status, m.source, m.raw_payload_id \
         FROM evidence e JOIN messages m ON m.id = e.message_id WHERE e.id = ?1")?.query_row(
        [id],
        |r| {
            let fetch: String = r.get(6)?;
            Ok(FetchTarget {
                id: r.get(0)?,
                message_id: r.get(1)?,
                ordinal: r.get(2)?,
                kind: r.get(3)?,
                mime: r.get(4)?,
                expected_sha256: r.get(5)?,
                fetch: serde_json::from_str(&fetch).unwrap_or(MediaFetch::Unavailable),
                status: r.get(7)?,
                source: r.get(8)?,
                raw_payload_id: r.get(9)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("evidence {id}")))
}

/// Facts about a stored file.
#[derive(Debug, Clone, Default)]
pub struct StoredFile {
    pub sha256: String,
    pub bytes: i64,
    pub mime: Option<String>,
    pub thumbnail: bool,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub hash: Option<crate::message::PhotoHash>,
    pub exif: Option<String>,
    pub filename: Option<String>,
    /// Set when the bytes did not match the source's hash or could not be decoded: kept, but noted.
    pub warning: Option<String>,
}

pub fn mark_ready(tx: &Transaction<'_>, id: i64, f: &StoredFile) -> Result<(), StoreError> {
    // An earlier photo that is the same picture (perceptual hash) makes this one a duplicate.
    tx.prepare_cached("UPDATE evidence SET status = 'ready', sha256 = ?2, bytes = ?3, mime = COALESCE(?4, mime), thumbnail = ?5, width = ?6, \
         height = ?7, phash = ?8, dhash = ?12, exif = ?9, filename = COALESCE(filename, ?10), error = ?11 WHERE id = ?1")?.execute(
        params![
            id,
            f.sha256,
            f.bytes,
            f.mime,
            f.thumbnail,
            f.width,
            f.height,
            f.hash.map(|h| h.phash as i64),
            f.exif,
            f.filename,
            f.warning,
            f.hash.map(|h| h.dhash as i64),
        ],
    )?;
    Ok(())
}

pub fn set_duplicate_of(tx: &Transaction<'_>, id: i64, of: i64) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE evidence SET duplicate_of = ?2 WHERE id = ?1")?
        .execute(params![id, of])?;
    Ok(())
}

/// How many earlier photos a new one is compared with.
const DUPLICATE_LOOKBACK: i64 = 20_000;

/// The earliest stored photo (among the most recent [`DUPLICATE_LOOKBACK`] received no later than `before_id`) that
/// is the same picture as `h`; `pick` decides which of them is (`evidence::photo_hash::find_duplicate`), given them
/// oldest first.
pub fn find_duplicate(
    conn: &Connection,
    before_id: i64,
    h: &PhotoHash,
    pick: impl Fn(&PhotoHash, &[(i64, PhotoHash)]) -> Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT id, phash, dhash FROM evidence WHERE phash IS NOT NULL AND dhash IS NOT NULL AND id <> ?1 \
         AND received_at <= (SELECT received_at FROM evidence WHERE id = ?1) ORDER BY id DESC LIMIT ?2",
    )?;
    let mut earlier: Vec<(i64, PhotoHash)> = st
        .query_map(params![before_id, DUPLICATE_LOOKBACK], |r| {
            let (p, d): (i64, i64) = (r.get(1)?, r.get(2)?);
            Ok((
                r.get(0)?,
                PhotoHash {
                    phash: p as u64,
                    dhash: d as u64,
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    earlier.reverse();
    Ok(pick(h, &earlier))
}

pub fn mark_failed(
    tx: &Transaction<'_>,
    id: i64,
    status: &str,
    error: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE evidence SET status = ?2, error = ?3 WHERE id = ?1")?
        .execute(params![id, status, error])?;
    Ok(())
}

pub fn set_record(
    tx: &Transaction<'_>,
    id: i64,
    record: Option<(&str, i64)>,
    role: Option<&str>,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE evidence SET record_type = ?2, record_id = ?3, role = ?4, link_reason = ?5 WHERE id = ?1",
    )?
    .execute(params![id, record.map(|r| r.0), record.map(|r| r.1), role, reason])?;
    Ok(())
}

pub fn count_by_status(conn: &Connection, status: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM evidence WHERE status = ?1")?
        .query_row([status], |r| r.get(0))?)
}

/// The evidence ids of a message, in the order its media came.
/// The evidence row of a message's `ordinal`-th media item.
pub fn id_at(conn: &Connection, message_id: i64, ordinal: i64) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT id FROM evidence WHERE message_id = ?1 AND ordinal = ?2")?
        .query_row(params![message_id, ordinal], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("evidence {ordinal} of message {message_id}")))
}

pub fn ids_of_message(conn: &Connection, message_id: i64) -> Result<Vec<i64>, StoreError> {
    let mut st =
        conn.prepare_cached("SELECT id FROM evidence WHERE message_id = ?1 ORDER BY ordinal")?;
    let ids = st
        .query_map([message_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}
