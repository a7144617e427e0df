//! People: senders identified by phone where known, else by a source id; names kept as aliases; mergeable.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::message::SenderRef;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PersonRef {
    pub id: i64,
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Person {
    pub id: i64,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub vendor: Option<super::chats::NamedRef>,
    pub aliases: Vec<String>,
    pub ids: Vec<String>,
}

/// Follows merges to the surviving person.
fn canonical(tx: &Connection, mut id: i64) -> Result<i64, StoreError> {
    for _ in 0..16 {
        let next: Option<i64> = tx
            .prepare_cached("SELECT merged_into FROM people WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .flatten();
        match next {
            Some(n) => id = n,
            None => return Ok(id),
        }
    }
    Ok(id)
}

/// (id, name, phone, merged_into) of a person found by one of their source ids.
type KnownPerson = (i64, Option<String>, Option<String>, Option<i64>);

/// Resolves a sender to a person, creating one when new, and records the id and name it appeared under.
///
/// Matching order: phone; a known source id; a known alias that belongs to exactly one person (so an export author
/// "Siti Cleaner" joins the live sender whose push name was "Siti Cleaner").
pub fn resolve(tx: &Transaction<'_>, s: &SenderRef) -> Result<i64, StoreError> {
    // Fast path: the id this sender arrived under is known and nothing new is learned.
    let known: Option<KnownPerson> = tx
        .prepare_cached(
            "SELECT p.id, p.name, p.phone, p.merged_into FROM person_ids i JOIN people p ON p.id = i.person_id \
             WHERE i.external_id = ?1",
        )?
        .query_row([&s.external_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    if let Some((id, name, phone, None)) = &known {
        let phone_known = s.phone.is_none() || phone.is_some();
        let name_known = s.display_name.is_none() || name.is_some();
        if phone_known && name_known && (s.display_name.is_none() || s.display_name == *name) {
            return Ok(*id);
        }
    }
    let mut found: Option<i64> = None;
    if let Some(phone) = &s.phone {
        found = tx
            .prepare_cached("SELECT id FROM people WHERE phone = ?1")?
            .query_row([phone], |r| r.get(0))
            .optional()?;
    }
    if found.is_none() {
        found = known.map(|k| k.0);
    }
    if found.is_none() && s.phone.is_none() {
        if let Some(name) = &s.display_name {
            let mut st = tx.prepare_cached(
                "SELECT DISTINCT person_id FROM person_aliases WHERE alias = ?1 LIMIT 2",
            )?;
            let ids: Vec<i64> = st
                .query_map([name], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if ids.len() == 1 {
                found = Some(ids[0]);
            }
        }
    }
    let id = match found {
        Some(id) => {
            let id = canonical(tx, id)?;
            if let Some(phone) = &s.phone {
                tx.prepare_cached(
                    "UPDATE people SET phone = ?1 WHERE id = ?2 AND phone IS NULL AND NOT EXISTS (SELECT 1 FROM people WHERE phone = ?1)",
                )?
                .execute(params![phone, id])?;
            }
            if let Some(name) = &s.display_name {
                tx.prepare_cached("UPDATE people SET name = ?1 WHERE id = ?2 AND name IS NULL")?
                    .execute(params![name, id])?;
            }
            id
        }
        None => {
            tx.prepare_cached("INSERT INTO people(name, phone, created_at) VALUES (?1, ?2, ?3)")?
                .execute(params![s.display_name, s.phone, super::now_str()])?;
            tx.last_insert_rowid()
        }
    };
    tx.prepare_cached("INSERT OR IGNORE INTO person_ids(external_id, person_id) VALUES (?1, ?2)")?
        .execute(params![s.external_id, id])?;
    if let Some(name) = &s.display_name {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO person_aliases(person_id, alias) VALUES (?1, ?2)",
        )?
        .execute(params![id, name])?;
    }
    Ok(id)
}

pub fn get_ref(conn: &Connection, id: i64) -> Result<PersonRef, StoreError> {
    conn.prepare_cached("SELECT id, name, phone FROM people WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(PersonRef {
                id: r.get(0)?,
                name: r.get(1)?,
                phone: r.get(2)?,
            })
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("person {id}")))
}

/// A person id from an API filter value: a numeric id or a phone number in any format.
pub fn lookup(conn: &Connection, key: &str) -> Result<Option<i64>, StoreError> {
    if let Some(phone) = crate::message::normalize_phone(key) {
        if let Some(id) = conn
            .prepare_cached("SELECT id FROM people WHERE phone = ?1")?
            .query_row([&phone], |r| r.get(0))
            .optional()?
        {
            return Ok(Some(id));
        }
    }
    if let Ok(id) = key.parse::<i64>() {
        return Ok(conn
            .prepare_cached("SELECT id FROM people WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?);
    }
    Ok(None)
}

pub fn list(conn: &Connection) -> Result<Vec<Person>, StoreError> {
    let mut st = conn.prepare(
        "SELECT p.id, p.name, p.phone, p.vendor_id, v.name FROM people p LEFT JOIN vendors v ON v.id = p.vendor_id \
         WHERE p.merged_into IS NULL ORDER BY p.name COLLATE NOCASE, p.id",
    )?;
    let mut out: Vec<Person> = st
        .query_map([], |r| {
            let vid: Option<i64> = r.get(3)?;
            let vname: Option<String> = r.get(4)?;
            Ok(Person {
                id: r.get(0)?,
                name: r.get(1)?,
                phone: r.get(2)?,
                vendor: vid
                    .zip(vname)
                    .map(|(id, name)| super::chats::NamedRef { id, name }),
                aliases: vec![],
                ids: vec![],
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut al = conn
        .prepare_cached("SELECT alias FROM person_aliases WHERE person_id = ?1 ORDER BY alias")?;
    let mut ids = conn.prepare_cached(
        "SELECT external_id FROM person_ids WHERE person_id = ?1 ORDER BY external_id",
    )?;
    for p in &mut out {
        p.aliases = al
            .query_map([p.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        p.ids = ids
            .query_map([p.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(out)
}

pub fn create(
    tx: &Transaction<'_>,
    name: Option<&str>,
    phone: Option<&str>,
) -> Result<i64, StoreError> {
    if let Some(p) = phone {
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM people WHERE phone = ?1)")?
            .query_row([p], |r| r.get(0))?;
        if exists {
            return Err(StoreError::Conflict(format!("person with phone {p}")));
        }
    }
    tx.prepare_cached("INSERT INTO people(name, phone, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![name, phone, super::now_str()])?;
    let id = tx.last_insert_rowid();
    if let Some(p) = phone {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO person_ids(external_id, person_id) VALUES (?1, ?2)",
        )?
        .execute(params![p, id])?;
    }
    if let Some(n) = name {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO person_aliases(person_id, alias) VALUES (?1, ?2)",
        )?
        .execute(params![id, n])?;
    }
    Ok(id)
}

pub fn update(
    tx: &Transaction<'_>,
    id: i64,
    name: Option<&str>,
    phone: Option<&str>,
    vendor_id: Option<Option<i64>>,
) -> Result<(), StoreError> {
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM people WHERE id = ?1)")?
        .query_row([id], |r| r.get(0))?;
    if !exists {
        return Err(StoreError::NotFound(format!("person {id}")));
    }
    if let Some(n) = name {
        tx.prepare_cached("UPDATE people SET name = ?1 WHERE id = ?2")?
            .execute(params![n, id])?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO person_aliases(person_id, alias) VALUES (?1, ?2)",
        )?
        .execute(params![id, n])?;
    }
    if let Some(p) = phone {
        tx.prepare_cached("UPDATE people SET phone = ?1 WHERE id = ?2")?
            .execute(params![p, id])
            .map_err(|_| StoreError::Conflict(format!("person with phone {p}")))?;
    }
    if let Some(v) = vendor_id {
        tx.prepare_cached("UPDATE people SET vendor_id = ?1 WHERE id = ?2")?
            .execute(params![v, id])?;
    }
    Ok(())
}

/// Merges `from` into `into`: ids, aliases and messages move; `from` remains as a pointer for audit.
pub fn merge(tx: &Transaction<'_>, from: i64, into: i64) -> Result<(), StoreError> {
    if from == into {
        return Err(StoreError::Invalid(
            "cannot merge a person into itself".into(),
        ));
    }
    for id in [from, into] {
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM people WHERE id = ?1)")?
            .query_row([id], |r| r.get(0))?;
        if !exists {
            return Err(StoreError::NotFound(format!("person {id}")));
        }
    }
    tx.prepare_cached("UPDATE person_ids SET person_id = ?1 WHERE person_id = ?2")?
        .execute(params![into, from])?;
    tx.prepare_cached("INSERT OR IGNORE INTO person_aliases(person_id, alias) SELECT ?1, alias FROM person_aliases WHERE person_id = ?2")?.execute(
        params![into, from],
    )?;
    tx.prepare_cached("UPDATE messages SET sender_id = ?1 WHERE sender_id = ?2")?
        .execute(params![into, from])?;
    let phone: Option<String> = tx
        .prepare_cached("SELECT phone FROM people WHERE id = ?1")?
        .query_row([from], |r| r.get(0))?;
    tx.prepare_cached("UPDATE people SET merged_into = ?1, phone = NULL WHERE id = ?2")?
        .execute(params![into, from])?;
    if let Some(p) = phone {
        tx.prepare_cached("UPDATE people SET phone = ?1 WHERE id = ?2 AND phone IS NULL")?
            .execute(params![p, into])?;
    }
    Ok(())
}

/// What [`attach_phone`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneAttached {
    /// The person who is now known under both the id and the phone.
    pub person: i64,
    /// The id's own person, when it was merged into the phone's owner.
    pub merged_from: Option<i64>,
}

/// A gateway told tapak the phone behind a source id (a WAHA `@lid`): the person known under `external_id` gets the
/// phone and the phone as a second id. When another person already has that phone (or the phone id), both are the
/// same human and the id's person is merged into the phone's owner (whose name, when missing, is taken over).
/// A person who already has a different phone keeps it. `None` when no one is known under `external_id`.
pub fn attach_phone(
    tx: &Transaction<'_>,
    external_id: &str,
    phone: &str,
) -> Result<Option<PhoneAttached>, StoreError> {
    let by_id = |id: &str| -> Result<Option<i64>, StoreError> {
        Ok(tx
            .prepare_cached("SELECT person_id FROM person_ids WHERE external_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    };
    let Some(pid) = by_id(external_id)? else {
        return Ok(None);
    };
    let pid = canonical(tx, pid)?;
    let mut owner: Option<i64> = tx
        .prepare_cached("SELECT id FROM people WHERE phone = ?1")?
        .query_row([phone], |r| r.get(0))
        .optional()?;
    if owner.is_none() {
        owner = by_id(phone)?.map(|o| canonical(tx, o)).transpose()?;
    }
    let (person, merged_from) = match owner {
        Some(o) if o != pid => {
            tx.prepare_cached(
                "UPDATE people SET name = (SELECT name FROM people WHERE id = ?2) WHERE id = ?1 AND name IS NULL",
            )?
            .execute(params![o, pid])?;
            merge(tx, pid, o)?;
            (o, Some(pid))
        }
        _ => (pid, None),
    };
    tx.prepare_cached(
        "UPDATE people SET phone = ?1 WHERE id = ?2 AND phone IS NULL AND NOT EXISTS (SELECT 1 FROM people WHERE phone = ?1)",
    )?
    .execute(params![phone, person])?;
    tx.prepare_cached("INSERT OR IGNORE INTO person_ids(external_id, person_id) VALUES (?1, ?2)")?
        .execute(params![phone, person])?;
    Ok(Some(PhoneAttached {
        person,
        merged_from,
    }))
}

/// The one person whose name or alias is `name` (or starts with `name` followed by a space), if exactly one.
pub fn find_by_name(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    let name = name.trim().trim_start_matches('@');
    if name.is_empty() {
        return Ok(None);
    }
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT a.person_id FROM person_aliases a JOIN people p ON p.id = a.person_id \
         WHERE p.merged_into IS NULL AND (a.alias = ?1 OR a.alias LIKE ?2 ESCAPE '\\') LIMIT 2",
    )?;
    let pattern = format!(
        "{} %",
        name.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let ids: Vec<i64> = st
        .query_map(params![name, pattern], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(if ids.len() == 1 { Some(ids[0]) } else { None })
}
