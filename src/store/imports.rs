//! Chat-export imports: the chat an export goes into, matching exported lines with messages that already arrived
//! live through a gateway (or the Cloud API), attaching the archive's files to evidence rows, and the `imports`
//! bookkeeping table. Orchestration lives in `ingest::import`; this file holds only its SQL.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::{chats, evidence, StoreError};
use crate::message::PhotoHash;

/// The chat (and site) an export is imported into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub chat_id: i64,
    pub chat_external_id: String,
    pub chat_name: String,
    pub site_id: Option<i64>,
}

/// The chat named `name` (case-insensitive; the oldest when several share it): `(id, external_id)`.
pub fn find_chat(conn: &Connection, name: &str) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, external_id FROM chats WHERE name = ?1 COLLATE NOCASE ORDER BY id LIMIT 1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Finds the chat by name or creates it (external id `export_external_id`, source `import`); with `site`, finds or
/// creates that site and assigns the chat to it.
pub fn resolve_target(
    tx: &Transaction<'_>,
    chat_name: &str,
    export_external_id: &str,
    site: Option<&str>,
) -> Result<Target, StoreError> {
    let (chat_id, chat_external_id) = match find_chat(tx, chat_name)? {
        Some(found) => found,
        None => {
            let r = crate::message::ChatRef {
                external_id: export_external_id.to_string(),
                name: Some(chat_name.to_string()),
                is_group: true,
            };
            (chats::upsert(tx, "import", &r)?, r.external_id)
        }
    };
    let site_id = match site {
        Some(s) => {
            let id = chats::site_by_name(tx, s)?;
            chats::set_site(tx, chat_id, Some(id))?;
            Some(id)
        }
        None => tx.query_row("SELECT site_id FROM chats WHERE id = ?1", [chat_id], |r| {
            r.get(0)
        })?,
    };
    Ok(Target {
        chat_id,
        chat_external_id,
        chat_name: chat_name.to_string(),
        site_id,
    })
}

/// True when the chat, or another chat of the same name, holds messages that did not come from an import (so
/// exported lines may already be stored as live messages).
pub fn has_live_messages(conn: &Connection, t: &Target) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM messages WHERE source <> 'import' AND chat_id IN \
         (SELECT id FROM chats WHERE id = ?1 OR name = ?2 COLLATE NOCASE))",
        params![t.chat_id, t.chat_name],
        |r| r.get(0),
    )?)
}

/// True when an export line with this synthetic id is already stored.
pub fn import_exists(conn: &Connection, source_message_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE source = 'import' AND source_message_id = ?1)",
        )?
        .query_row([source_message_id], |r| r.get(0))?)
}

/// Which of these synthetic ids are already stored (used to skip re-storing the files of known messages).
pub fn existing_imports(conn: &Connection, ids: &[String]) -> Result<HashSet<String>, StoreError> {
    let mut out = HashSet::new();
    let mut st = conn.prepare_cached(
        "SELECT 1 FROM messages WHERE source = 'import' AND source_message_id = ?1",
    )?;
    for id in ids {
        if st.exists([id])? {
            out.insert(id.clone());
        }
    }
    Ok(out)
}

/// What an exported line is compared on.
#[derive(Debug, Clone)]
pub struct LiveKey<'a> {
    pub target: &'a Target,
    /// Start of the line's wall-clock minute, unix ms (a minute is the same in UTC and any whole-minute zone).
    pub minute_ms: i64,
    pub sender_id: i64,
    /// `normalize_text` of the line's text (caption for media).
    pub text: &'a str,
    pub deleted: bool,
    pub msg_type: &'a str,
}

/// Text as compared across sources: bidi marks dropped, whitespace runs collapsed, trimmed, lower-cased.
pub fn normalize_text(s: Option<&str>) -> String {
    let mut out = String::new();
    for w in s.unwrap_or("").split(|c: char| {
        c.is_whitespace()
            || matches!(c, '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}' | '\u{2066}'..='\u{2069}')
    }) {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars().flat_map(char::to_lowercase));
    }
    out
}

/// A live (non-import) message in the same chat (or a chat of the same name), sent in the same minute by the same
/// person with the same normalised text, not yet matched by this import (`taken`). Deleted lines match a deleted
/// live message of that person in that minute; lines without text match one of the same type without text.
pub fn find_live_match(
    conn: &Connection,
    k: &LiveKey<'_>,
    taken: &HashSet<i64>,
) -> Result<Option<i64>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT id, text, type, deleted FROM messages WHERE source <> 'import' AND sender_id = ?3 \
         AND sent_ms >= ?4 AND sent_ms < ?4 + 60000 \
         AND chat_id IN (SELECT id FROM chats WHERE id = ?1 OR name = ?2 COLLATE NOCASE) ORDER BY sent_ms, id",
    )?;
    let rows = st.query_map(
        params![
            k.target.chat_id,
            k.target.chat_name,
            k.sender_id,
            k.minute_ms
        ],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        },
    )?;
    for row in rows {
        let (id, text, ty, deleted) = row?;
        if taken.contains(&id) {
            continue;
        }
        let hit = if k.deleted {
            deleted
        } else if k.text.is_empty() {
            normalize_text(text.as_deref()).is_empty() && ty == k.msg_type
        } else {
            normalize_text(text.as_deref()) == k.text
        };
        if hit {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Stores an export's messages into its target chat: the same rows as `store::ingest::store_message` (sender
/// resolved through `people::resolve`, message deduplicated on its synthetic id, one evidence row per media item),
/// with the chat resolved once, senders resolved once per author, and the chat's counters updated once at the end.
#[derive(Debug)]
pub struct ExportWriter {
    target: Target,
    people: std::collections::HashMap<(String, Option<String>), i64>,
    new: i64,
    newest: Option<chrono::DateTime<chrono::Utc>>,
    received_at: String,
}

impl ExportWriter {
    pub fn new(target: Target) -> ExportWriter {
        ExportWriter {
            target,
            people: Default::default(),
            new: 0,
            newest: None,
            received_at: super::now_str(),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The person an export author is (created when new; the same person as a live sender with that phone or alias).
    pub fn sender(
        &mut self,
        tx: &Transaction<'_>,
        s: &crate::message::SenderRef,
    ) -> Result<i64, StoreError> {
        let key = (s.external_id.clone(), s.display_name.clone());
        if let Some(id) = self.people.get(&key) {
            return Ok(*id);
        }
        let id = super::people::resolve(tx, s)?;
        self.people.insert(key, id);
        Ok(id)
    }

    /// Stores one message unless its synthetic id is known; returns the new message id and its evidence row ids
    /// (in `m.media` order) in `evidence`.
    pub fn store(
        &mut self,
        tx: &Transaction<'_>,
        m: &crate::message::InboundMessage,
        evidence: &mut Vec<i64>,
    ) -> Result<Option<i64>, StoreError> {
        evidence.clear();
        let sender_id = match &m.sender {
            Some(s) => Some(self.sender(tx, s)?),
            None => None,
        };
        match super::messages::insert(tx, m, self.target.chat_id, sender_id, None)? {
            super::messages::Inserted::Duplicate(_) => Ok(None),
            super::messages::Inserted::New(id) => {
                for (i, media) in m.media.iter().enumerate() {
                    evidence.push(self::evidence::insert(tx, id, i, media, &self.received_at)?.0);
                }
                self.new += 1;
                self.newest = Some(self.newest.map_or(m.sent_at, |n| n.max(m.sent_at)));
                Ok(Some(id))
            }
        }
    }

    /// Updates the chat's message count and last message time.
    pub fn finish(self, tx: &Transaction<'_>) -> Result<Target, StoreError> {
        if let Some(newest) = self.newest {
            tx.execute(
                "UPDATE chats SET message_count = message_count + ?3, \
                 last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < ?1 THEN ?1 ELSE last_message_at END \
                 WHERE id = ?2",
                params![super::fmt_time(newest), self.target.chat_id, self.new],
            )?;
        }
        Ok(self.target)
    }
}

/// The file of an export's media marker, as found in the archive.
#[derive(Debug, Clone)]
pub enum ExportFile {
    /// Stored in the evidence store.
    Stored(evidence::StoredFile),
    /// In the archive but not stored (dry run).
    Present,
    /// In the archive but unreadable or over the size limit.
    Failed(String),
}

/// Counts of what [`attach_files`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Attached {
    pub stored: u64,
    pub missing: u64,
    pub failed: u64,
}

/// Settles the evidence rows of a newly stored export message (`evidence`: row id and media item, as returned by
/// [`ExportWriter::store`]): a file found in the archive makes its row `ready` (and flags a photo that repeats an
/// earlier one, as `same_picture` decides: see [`self::evidence::find_duplicate`]); a file named but absent, or media
/// exported without files, becomes `missing_from_export`.
pub fn attach_files(
    tx: &Transaction<'_>,
    evidence: &[(i64, &crate::message::MediaRef)],
    files: &impl Fn(&str) -> Option<ExportFile>,
    same_picture: &impl Fn(&PhotoHash, &[(i64, PhotoHash)]) -> Option<i64>,
    out: &mut Attached,
) -> Result<(), StoreError> {
    let mut settle =
        tx.prepare_cached("UPDATE evidence SET status = ?2, error = ?3 WHERE id = ?1")?;
    for (id, media) in evidence {
        let name = match &media.fetch {
            crate::message::MediaFetch::ExportFile { filename } => Some(filename.as_str()),
            _ => None,
        };
        match name.and_then(files) {
            Some(ExportFile::Stored(f)) => {
                self::evidence::mark_ready(tx, *id, &f)?;
                if let Some(h) = f.hash {
                    if let Some(of) = self::evidence::find_duplicate(tx, *id, &h, same_picture)? {
                        self::evidence::set_duplicate_of(tx, *id, of)?;
                    }
                }
                out.stored += 1;
            }
            Some(ExportFile::Present) => out.stored += 1,
            Some(ExportFile::Failed(why)) => {
                settle.execute(params![id, "failed", why])?;
                out.failed += 1;
            }
            None => {
                let why = match name {
                    Some(n) => format!("{n} is not in the export (exported without media?)"),
                    None => "the chat was exported without media".to_string(),
                };
                settle.execute(params![id, "missing_from_export", why])?;
                out.missing += 1;
            }
        }
    }
    Ok(())
}

/// One row of the `imports` table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ImportRow {
    pub id: i64,
    pub created_at: String,
    pub actor: String,
    pub path: String,
    pub sha256: String,
    pub bytes: i64,
    pub chat: Option<chats::NamedRefOpt>,
    pub site: Option<chats::NamedRef>,
    pub messages: i64,
    pub new: i64,
    pub duplicates: i64,
    pub live_matches: i64,
    pub media: i64,
    pub media_stored: i64,
    pub media_missing: i64,
    pub records_created: i64,
    pub date_order: Option<String>,
    pub first_message_at: Option<String>,
    pub last_message_at: Option<String>,
}

/// Records a finished import; returns its id.
pub fn insert(tx: &Transaction<'_>, r: &ImportRow) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO imports(created_at, actor, path, sha256, bytes, chat_id, site_id, messages, new_messages, duplicates, \
         live_matches, media, media_stored, media_missing, records_created, date_order, first_message_at, last_message_at) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
        params![
            super::now_str(),
            r.actor,
            r.path,
            r.sha256,
            r.bytes,
            r.chat.as_ref().map(|c| c.id),
            r.site.as_ref().map(|s| s.id),
            r.messages,
            r.new,
            r.duplicates,
            r.live_matches,
            r.media,
            r.media_stored,
            r.media_missing,
            r.records_created,
            r.date_order,
            r.first_message_at,
            r.last_message_at,
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

pub fn set_event(tx: &Transaction<'_>, id: i64, event_id: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE imports SET event_id = ?2 WHERE id = ?1",
        params![id, event_id],
    )?;
    Ok(())
}

pub fn set_records_created(tx: &Transaction<'_>, id: i64, n: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE imports SET records_created = ?2 WHERE id = ?1",
        params![id, n],
    )?;
    Ok(())
}

const SELECT: &str = "SELECT i.id, i.created_at, i.actor, i.path, i.sha256, i.bytes, i.chat_id, c.name, i.site_id, s.name, \
    i.messages, i.new_messages, i.duplicates, i.live_matches, i.media, i.media_stored, i.media_missing, i.records_created, \
    i.date_order, i.first_message_at, i.last_message_at \
    FROM imports i LEFT JOIN chats c ON c.id = i.chat_id LEFT JOIN sites s ON s.id = i.site_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImportRow> {
    let chat_id: Option<i64> = r.get(6)?;
    let site_id: Option<i64> = r.get(8)?;
    let site_name: Option<String> = r.get(9)?;
    Ok(ImportRow {
        id: r.get(0)?,
        created_at: r.get(1)?,
        actor: r.get(2)?,
        path: r.get(3)?,
        sha256: r.get(4)?,
        bytes: r.get(5)?,
        chat: match chat_id {
            Some(id) => Some(chats::NamedRefOpt {
                id,
                name: r.get(7)?,
            }),
            None => None,
        },
        site: site_id
            .zip(site_name)
            .map(|(id, name)| chats::NamedRef { id, name }),
        messages: r.get(10)?,
        new: r.get(11)?,
        duplicates: r.get(12)?,
        live_matches: r.get(13)?,
        media: r.get(14)?,
        media_stored: r.get(15)?,
        media_missing: r.get(16)?,
        records_created: r.get(17)?,
        date_order: r.get(18)?,
        first_message_at: r.get(19)?,
        last_message_at: r.get(20)?,
    })
}

/// Past imports, newest first, with ids below `before` (keyset pagination).
pub fn list(
    conn: &Connection,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<ImportRow>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "{SELECT} WHERE i.id < ?1 ORDER BY i.id DESC LIMIT ?2"
    ))?;
    let rows = st.query_map(params![before.unwrap_or(i64::MAX), limit as i64], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<ImportRow, StoreError> {
    conn.query_row(&format!("{SELECT} WHERE i.id = ?1"), [id], row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("import {id}")))
}

/// Runs `f` inside a savepoint; with `rollback`, undoes everything it wrote but keeps its result (dry runs).
pub fn in_savepoint<R>(
    tx: &Transaction<'_>,
    rollback: bool,
    f: impl FnOnce(&Transaction<'_>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    tx.execute_batch("SAVEPOINT import_run")?;
    let r = f(tx);
    if rollback || r.is_err() {
        tx.execute_batch("ROLLBACK TO import_run; RELEASE import_run")?;
    } else {
        tx.execute_batch("RELEASE import_run")?;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::test_support::text_message;
    use crate::message::{ChatRef, InboundMessage, SenderRef, Source};
    use crate::store::ingest::{store_message, DeliveryOutcome};

    fn msg(
        source: Source,
        id: &str,
        chat: &ChatRef,
        sender: &str,
        text: &str,
        at: &str,
    ) -> InboundMessage {
        let sender = SenderRef {
            external_id: sender.into(),
            phone: crate::message::normalize_phone(sender),
            display_name: Some("Siti Cleaner".into()),
        };
        let at = chrono::DateTime::parse_from_rfc3339(at).unwrap().into();
        let mut m = text_message(source, id, chat.clone(), Some(sender), at, text);
        m.source_type = "chat".into();
        m
    }

    #[test]
    fn normalised_text_ignores_case_marks_and_spacing() {
        assert_eq!(
            normalize_text(Some("  Siap\u{200e}  MOP\nlobby ")),
            "siap mop lobby"
        );
        assert_eq!(normalize_text(None), "");
    }

    #[test]
    fn live_messages_match_once_by_minute_person_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = c.transaction().unwrap();
        let live = ChatRef {
            external_id: "1203@g.us".into(),
            name: Some("Ops".into()),
            is_group: true,
        };
        let mut out = DeliveryOutcome::default();
        for (id, text, at) in [
            ("A1", "Siap mop lobby", "2026-03-02T01:15:42Z"),
            ("A2", "Siap mop lobby", "2026-03-02T01:15:50Z"),
            ("A3", "lain", "2026-03-02T01:16:01Z"),
        ] {
            store_message(
                &tx,
                &msg(Source::Waha, id, &live, "60123456701", text, at),
                None,
                &mut out,
            )
            .unwrap();
        }
        let t = resolve_target(&tx, "ops", "export:ops", Some("Menara")).unwrap();
        assert_eq!(t.chat_external_id, "1203@g.us", "matched by name, any case");
        assert!(t.site_id.is_some());
        assert!(has_live_messages(&tx, &t).unwrap());
        let sender: i64 = tx
            .query_row(
                "SELECT id FROM people WHERE phone = '60123456701'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let minute = chrono::DateTime::parse_from_rfc3339("2026-03-02T01:15:00Z")
            .unwrap()
            .timestamp_millis();
        let key = LiveKey {
            target: &t,
            minute_ms: minute,
            sender_id: sender,
            text: "siap mop lobby",
            deleted: false,
            msg_type: "text",
        };
        let mut taken = HashSet::new();
        let a = find_live_match(&tx, &key, &taken).unwrap().unwrap();
        taken.insert(a);
        let b = find_live_match(&tx, &key, &taken).unwrap().unwrap();
        assert_ne!(a, b, "two identical lines match two live messages");
        taken.insert(b);
        assert_eq!(find_live_match(&tx, &key, &taken).unwrap(), None);
        let other_minute = LiveKey {
            minute_ms: minute + 60_000,
            ..key.clone()
        };
        assert_eq!(
            find_live_match(&tx, &other_minute, &HashSet::new()).unwrap(),
            None
        );
        let other_text = LiveKey {
            text: "siap",
            ..key
        };
        assert_eq!(
            find_live_match(&tx, &other_text, &HashSet::new()).unwrap(),
            None
        );
    }

    #[test]
    fn new_chat_savepoint_rollback_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = c.transaction().unwrap();
        let n = in_savepoint(&tx, true, |tx| {
            let t = resolve_target(tx, "Ops Menara", "export:Ops Menara", None)?;
            assert_eq!(t.chat_external_id, "export:Ops Menara");
            assert!(!has_live_messages(tx, &t)?);
            Ok(7)
        })
        .unwrap();
        assert_eq!(n, 7);
        assert_eq!(
            find_chat(&tx, "Ops Menara").unwrap(),
            None,
            "dry run rolled back"
        );
        let t = resolve_target(&tx, "Ops Menara", "export:Ops Menara", None).unwrap();
        for i in 0..3 {
            insert(
                &tx,
                &ImportRow {
                    path: format!("f{i}.txt"),
                    chat: Some(chats::NamedRefOpt {
                        id: t.chat_id,
                        name: None,
                    }),
                    messages: i,
                    ..Default::default()
                },
            )
            .unwrap();
        }
        let all = list(&tx, None, 10).unwrap();
        assert_eq!(
            all.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
            ["f2.txt", "f1.txt", "f0.txt"]
        );
        assert_eq!(
            all[0].chat.as_ref().unwrap().name.as_deref(),
            Some("Ops Menara")
        );
        let page2 = list(&tx, Some(all[1].id), 10).unwrap();
        assert_eq!(page2.len(), 1);
        assert_eq!(get(&tx, all[2].id).unwrap().path, "f0.txt");
    }
}
