//! Chats, sites and vendors.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::message::ChatRef;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Chat {
    pub id: i64,
    pub name: Option<String>,
    pub source: String,
    pub external_id: String,
    pub is_group: bool,
    pub site: Option<NamedRef>,
    pub last_message_at: Option<String>,
    pub messages: i64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
pub struct NamedRef {
    pub id: i64,
    pub name: String,
}

/// Finds or creates the chat; fills in a name learned later. Returns the chat id.
pub fn upsert(tx: &Transaction<'_>, source: &str, chat: &ChatRef) -> Result<i64, StoreError> {
    Ok(upsert_with_site(tx, source, chat)?.0)
}

/// [`upsert`], also answering the chat's site (a new chat has none).
pub fn upsert_with_site(
    tx: &Transaction<'_>,
    source: &str,
    chat: &ChatRef,
) -> Result<(i64, Option<i64>), StoreError> {
    let existing: Option<(i64, Option<String>, Option<i64>)> = tx
        .prepare_cached("SELECT id, name, site_id FROM chats WHERE external_id = ?1")?
        .query_row([&chat.external_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match existing {
        Some((id, name, site)) => {
            if name.is_none() && chat.name.is_some() {
                tx.prepare_cached("UPDATE chats SET name = ?1 WHERE id = ?2")?
                    .execute(params![chat.name, id])?;
            }
            Ok((id, site))
        }
        None => {
            tx.prepare_cached("INSERT INTO chats(source, external_id, name, is_group, created_at) VALUES (?1,?2,?3,?4,?5)")?.execute(
                params![source, chat.external_id, chat.name, chat.is_group, super::now_str()],
            )?;
            Ok((tx.last_insert_rowid(), None))
        }
    }
}

/// A chat's site (`None` for a chat in no site) and that site's settings.
pub type SiteOfChat = (Option<i64>, super::settings::SiteSettings);

/// The site of the chat with this external id, with the site's settings (what its classifier is built from); `None`
/// for a chat not seen yet.
pub fn site_of_external(
    conn: &Connection,
    external_id: &str,
) -> Result<Option<SiteOfChat>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT c.site_id, s.settings FROM chats c LEFT JOIN sites s ON s.id = c.site_id WHERE c.external_id = ?1",
        )?
        .query_row([external_id], |r| {
            Ok((r.get(0)?, r.get::<_, Option<String>>(1)?))
        })
        .optional()?
        .map(|(site, text)| {
            (
                site,
                super::settings::SiteSettings::from_stored(text.as_deref()),
            )
        }))
}

/// Records that a message arrived in the chat.
pub fn touch(tx: &Transaction<'_>, chat_id: i64, sent_at: &str) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE chats SET message_count = message_count + 1, \
         last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < ?1 THEN ?1 ELSE last_message_at END \
         WHERE id = ?2")?.execute(
        params![sent_at, chat_id],
    )?;
    Ok(())
}

const CHAT_SELECT: &str = "SELECT c.id, c.name, c.source, c.external_id, c.is_group, c.site_id, s.name, c.last_message_at, c.message_count \
     FROM chats c LEFT JOIN sites s ON s.id = c.site_id";

fn chat_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Chat> {
    let site_id: Option<i64> = r.get(5)?;
    let site_name: Option<String> = r.get(6)?;
    Ok(Chat {
        id: r.get(0)?,
        name: r.get(1)?,
        source: r.get(2)?,
        external_id: r.get(3)?,
        is_group: r.get(4)?,
        site: site_id
            .zip(site_name)
            .map(|(id, name)| NamedRef { id, name }),
        last_message_at: r.get(7)?,
        messages: r.get(8)?,
    })
}

pub fn list(conn: &Connection) -> Result<Vec<Chat>, StoreError> {
    let mut st = conn.prepare(&format!(
        "{CHAT_SELECT} ORDER BY c.last_message_at IS NULL, c.last_message_at DESC, c.id DESC"
    ))?;
    let rows = st.query_map([], chat_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Chat, StoreError> {
    conn.query_row(&format!("{CHAT_SELECT} WHERE c.id = ?1"), [id], chat_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("chat {id}")))
}

/// The chat a source knows by `external_id`, if it has been seen.
pub fn id_of_external(conn: &Connection, external_id: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM chats WHERE external_id = ?1")?
        .query_row([external_id], |r| r.get(0))
        .optional()?)
}

/// A site's name.
pub fn site_name(conn: &Connection, site_id: i64) -> Result<String, StoreError> {
    conn.prepare_cached("SELECT name FROM sites WHERE id = ?1")?
        .query_row([site_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("site {site_id}")))
}

pub fn find_by_name(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM chats WHERE name = ?1 COLLATE NOCASE ORDER BY id LIMIT 1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub fn set_site(
    tx: &Transaction<'_>,
    chat_id: i64,
    site_id: Option<i64>,
) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached("UPDATE chats SET site_id = ?1 WHERE id = ?2")?
        .execute(params![site_id, chat_id])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("chat {chat_id}")));
    }
    Ok(())
}

pub fn rename(tx: &Transaction<'_>, chat_id: i64, name: &str) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached("UPDATE chats SET name = ?1 WHERE id = ?2")?
        .execute(params![name, chat_id])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("chat {chat_id}")));
    }
    Ok(())
}

/// Finds a site by name, creating it when new. Returns the site id.
pub fn site_by_name(tx: &Transaction<'_>, name: &str) -> Result<i64, StoreError> {
    if let Some(id) = tx
        .prepare_cached("SELECT id FROM sites WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    tx.prepare_cached("INSERT INTO sites(name, created_at) VALUES (?1, ?2)")?
        .execute(params![name, super::now_str()])?;
    Ok(tx.last_insert_rowid())
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Site {
    pub id: i64,
    pub name: String,
    pub chats: i64,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
}

pub fn list_sites(conn: &Connection) -> Result<Vec<Site>, StoreError> {
    let mut st = conn.prepare(
        "SELECT s.id, s.name, s.settings, (SELECT count(*) FROM chats c WHERE c.site_id = s.id) FROM sites s ORDER BY s.name",
    )?;
    let rows = st.query_map([], |r| {
        let settings: String = r.get(2)?;
        Ok(Site {
            id: r.get(0)?,
            name: r.get(1)?,
            settings: serde_json::from_str(&settings).unwrap_or(serde_json::Value::Null),
            chats: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A site by its id or its name (any case), as users give it on the command line or in a filter.
pub fn find_site(conn: &Connection, key: &str) -> Result<Option<Site>, StoreError> {
    Ok(list_sites(conn)?
        .into_iter()
        .find(|s| s.id.to_string() == key || s.name.eq_ignore_ascii_case(key)))
}

pub fn create_site(
    tx: &Transaction<'_>,
    name: &str,
    settings: &serde_json::Value,
) -> Result<i64, StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO sites(name, settings, created_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![name, settings.to_string(), super::now_str()])?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("site {name:?}")));
    }
    Ok(tx.last_insert_rowid())
}

pub fn update_site(
    tx: &Transaction<'_>,
    id: i64,
    name: Option<&str>,
    settings: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    if let Some(name) = name {
        tx.prepare_cached("UPDATE sites SET name = ?1 WHERE id = ?2")?
            .execute(params![name, id])
            .map_err(|e| super::conflict_if_unique(e, || format!("site {name:?}")))?;
    }
    if let Some(s) = settings {
        tx.prepare_cached("UPDATE sites SET settings = ?1 WHERE id = ?2")?
            .execute(params![s.to_string(), id])?;
    }
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM sites WHERE id = ?1)")?
        .query_row([id], |r| r.get(0))?;
    if !exists {
        return Err(StoreError::NotFound(format!("site {id}")));
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Vendor {
    pub id: i64,
    pub name: String,
    pub trade: Option<String>,
    /// The vendor's people (technicians, cleaners), by name.
    pub people: Vec<super::people::PersonRef>,
    /// Open tickets assigned to the vendor.
    pub open_issues: i64,
}

/// Every vendor with its people and its open tickets: three queries, whatever the number of vendors.
pub fn list_vendors(conn: &Connection) -> Result<Vec<Vendor>, StoreError> {
    let mut people: std::collections::HashMap<i64, Vec<super::people::PersonRef>> =
        std::collections::HashMap::new();
    let mut st = conn.prepare_cached(
        "SELECT vendor_id, id, name, phone FROM people WHERE vendor_id IS NOT NULL AND merged_into IS NULL \
         ORDER BY name COLLATE NOCASE, id",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        people
            .entry(r.get(0)?)
            .or_default()
            .push(super::people::PersonRef {
                id: r.get(1)?,
                name: r.get(2)?,
                phone: r.get(3)?,
            });
    }
    let mut open: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    let mut st = conn.prepare_cached(
        "SELECT vendor_id, count(*) FROM issues WHERE vendor_id IS NOT NULL \
         AND status NOT IN ('resolved', 'closed') GROUP BY vendor_id",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        open.insert(r.get(0)?, r.get(1)?);
    }
    let mut st = conn.prepare_cached("SELECT id, name, trade FROM vendors ORDER BY name")?;
    let rows = st.query_map([], |r| {
        let id: i64 = r.get(0)?;
        Ok(Vendor {
            id,
            name: r.get(1)?,
            trade: r.get(2)?,
            people: people.remove(&id).unwrap_or_default(),
            open_issues: open.get(&id).copied().unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A vendor's name, or not found.
pub fn get_vendor(conn: &Connection, id: i64) -> Result<NamedRef, StoreError> {
    conn.prepare_cached("SELECT id, name FROM vendors WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(NamedRef {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("vendor {id}")))
}

/// Renames a vendor or changes its trade (`Some(None)` clears it).
pub fn update_vendor(
    tx: &Transaction<'_>,
    id: i64,
    name: Option<&str>,
    trade: Option<Option<&str>>,
) -> Result<(), StoreError> {
    get_vendor(tx, id)?;
    if let Some(n) = name {
        let taken: bool = tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM vendors WHERE name = ?1 AND id <> ?2)")?
            .query_row(params![n, id], |r| r.get(0))?;
        if taken {
            return Err(StoreError::Conflict(format!("vendor {n:?}")));
        }
        tx.prepare_cached("UPDATE vendors SET name = ?2 WHERE id = ?1")?
            .execute(params![id, n])?;
    }
    if let Some(t) = trade {
        tx.prepare_cached("UPDATE vendors SET trade = ?2 WHERE id = ?1")?
            .execute(params![id, t])?;
    }
    Ok(())
}

pub fn create_vendor(
    tx: &Transaction<'_>,
    name: &str,
    trade: Option<&str>,
) -> Result<i64, StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO vendors(name, trade, created_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![name, trade, super::now_str()])?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("vendor {name:?}")));
    }
    Ok(tx.last_insert_rowid())
}

/// A chat reference whose name may be unknown.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct NamedRefOpt {
    pub id: i64,
    pub name: Option<String>,
}
