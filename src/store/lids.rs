//! WAHA hidden ids (`<digits>@lid`) → phone numbers: the durable lookup cache and its job queue entries.
//!
//! A WAHA message from a `@lid` sender whose phone the payload does not give queues one `waha_lid` job (see
//! [`request`]); the gateway worker (`crate::gateway`) asks WAHA's lids API and records the answer here
//! ([`record_mapped`], [`record_miss`]). A lid is asked about once: a mapped lid never again, one the gateway did not
//! know again only after [`RECHECK_AFTER_HOURS`] and only when the person speaks again.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::{events, jobs, people, StoreError};
use crate::message::SenderRef;

/// Job kind of a pending lookup; payload `{"lid": "<digits>@lid"}`.
pub const LID_JOB: &str = "waha_lid";

/// A lid the gateway could not map is asked about again (on the person's next message) after this long.
pub const RECHECK_AFTER_HOURS: i64 = 24;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LidLookup {
    pub lid: String,
    pub phone: Option<String>,
    /// `pending`, `mapped` or `unknown`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub checked_at: Option<String>,
}

/// The canonical `<digits>@lid` of a sender id that is a WAHA hidden id, else `None`.
pub fn lid_of(external_id: &str) -> Option<String> {
    let (user, server) = external_id.trim().rsplit_once('@')?;
    if !server.eq_ignore_ascii_case("lid") {
        return None;
    }
    let user = user.split(':').next().unwrap_or(user);
    (!user.is_empty() && user.len() <= 32 && user.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{user}@lid"))
}

/// Queues a lookup for a sender that arrived under an unmapped `@lid` (no phone in the payload, and the person known
/// under that id has no phone either). Returns whether a job was queued. Cheap when nothing is to be done: one
/// indexed read, or an `INSERT OR IGNORE` that ignores.
pub fn request(tx: &Transaction<'_>, sender: &SenderRef, now_ms: i64) -> Result<bool, StoreError> {
    if sender.phone.is_some() {
        return Ok(false);
    }
    let Some(lid) = lid_of(&sender.external_id) else {
        return Ok(false);
    };
    let has_phone: bool = tx
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM person_ids i JOIN people p ON p.id = i.person_id \
             WHERE i.external_id = ?1 AND p.phone IS NOT NULL)",
        )?
        .query_row([&lid], |r| r.get(0))?;
    if has_phone {
        return Ok(false);
    }
    let now = super::now_str();
    let mut queued = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO lid_lookups(lid, state, created_at) VALUES (?1, 'pending', ?2)",
        )?
        .execute(params![lid, now])?;
    if queued == 0 {
        let cutoff = super::fmt_time(super::now() - chrono::Duration::hours(RECHECK_AFTER_HOURS));
        queued = tx
            .prepare_cached(
                "UPDATE lid_lookups SET state = 'pending', attempts = 0 \
                 WHERE lid = ?1 AND state = 'unknown' AND checked_at < ?2",
            )?
            .execute(params![lid, cutoff])?;
    }
    if queued == 0 {
        return Ok(false);
    }
    jobs::enqueue(
        tx,
        LID_JOB,
        &serde_json::json!({ "lid": lid }).to_string(),
        now_ms,
    )?;
    Ok(true)
}

pub fn get(conn: &Connection, lid: &str) -> Result<Option<LidLookup>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT lid, phone, state, attempts, last_error, checked_at FROM lid_lookups WHERE lid = ?1",
        )?
        .query_row([lid], |r| {
            Ok(LidLookup {
                lid: r.get(0)?,
                phone: r.get(1)?,
                state: r.get(2)?,
                attempts: r.get(3)?,
                last_error: r.get(4)?,
                checked_at: r.get(5)?,
            })
        })
        .optional()?)
}

/// What recording a mapping did to the people directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapped {
    /// The person who now has the phone (and the lid), if anyone was known under the lid.
    pub person: Option<i64>,
    /// The lid's own person when it was merged into the phone's owner.
    pub merged_from: Option<i64>,
}

/// The gateway said `lid` is `phone`: the person known under the lid gets the phone (or is merged into the person who
/// already has it), the cache row is marked `mapped`, and a `person.lid_mapped` event is logged.
pub fn record_mapped(tx: &Transaction<'_>, lid: &str, phone: &str) -> Result<Mapped, StoreError> {
    let attached = people::attach_phone(tx, lid, phone)?;
    let now = super::now_str();
    tx.prepare_cached(
        "INSERT INTO lid_lookups(lid, phone, state, attempts, checked_at, created_at) VALUES (?1, ?2, 'mapped', 1, ?3, ?3) \
         ON CONFLICT(lid) DO UPDATE SET phone = ?2, state = 'mapped', attempts = attempts + 1, last_error = NULL, checked_at = ?3",
    )?
    .execute(params![lid, phone, now])?;
    let out = Mapped {
        person: attached.map(|a| a.person),
        merged_from: attached.and_then(|a| a.merged_from),
    };
    events::append(
        tx,
        "system:waha",
        "person.lid_mapped",
        "person",
        out.person.map(|p| p.to_string()).as_deref(),
        &serde_json::json!({
            "lid": lid,
            "phone": phone,
            "merged_from": out.merged_from,
        }),
    )?;
    Ok(out)
}

/// A lookup that gave no phone (`pn: null`, or the gateway failed). With `gave_up` the row becomes `unknown` (asked
/// again only after [`RECHECK_AFTER_HOURS`]); otherwise it stays `pending` for the job's next try.
pub fn record_miss(
    tx: &Transaction<'_>,
    lid: &str,
    error: &str,
    gave_up: bool,
) -> Result<(), StoreError> {
    let now = super::now_str();
    tx.prepare_cached(
        "INSERT INTO lid_lookups(lid, state, attempts, last_error, checked_at, created_at) VALUES (?1, ?2, 1, ?3, ?4, ?4) \
         ON CONFLICT(lid) DO UPDATE SET state = ?2, attempts = attempts + 1, last_error = ?3, checked_at = ?4",
    )?
    .execute(params![
        lid,
        if gave_up { "unknown" } else { "pending" },
        error,
        now
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::db::migrate(&mut c).unwrap();
        c
    }

    fn lid_sender(lid: &str) -> SenderRef {
        SenderRef {
            external_id: lid.into(),
            phone: None,
            display_name: Some("Rajesh Security".into()),
        }
    }

    fn jobs_of(c: &Connection) -> i64 {
        jobs::count(c, LID_JOB).unwrap()
    }

    #[test]
    fn lid_ids() {
        assert_eq!(
            lid_of("215555123456789@lid").as_deref(),
            Some("215555123456789@lid")
        );
        assert_eq!(
            lid_of("215555123456789:12@LID").as_deref(),
            Some("215555123456789@lid")
        );
        for not in [
            "60167654302",
            "60167654302@c.us",
            "@lid",
            "12a@lid",
            "1/../2@lid",
            "",
        ] {
            assert_eq!(lid_of(not), None, "{not}");
        }
    }

    #[test]
    fn one_lookup_per_lid_and_mapping_attaches_the_phone() {
        let mut c = db();
        let tx = c.transaction().unwrap();
        let s = lid_sender("215555123456789@lid");
        let p = people::resolve(&tx, &s).unwrap();
        assert!(request(&tx, &s, 0).unwrap());
        assert!(!request(&tx, &s, 0).unwrap(), "already pending");
        // Phone senders and non-lid ids never queue anything.
        let phone = SenderRef {
            external_id: "60167654302".into(),
            phone: Some("60167654302".into()),
            display_name: None,
        };
        assert!(!request(&tx, &phone, 0).unwrap());
        assert!(!request(&tx, &lid_sender("Siti Cleaner"), 0).unwrap());
        assert_eq!(jobs_of(&tx), 1);

        let m = record_mapped(&tx, "215555123456789@lid", "60167654302").unwrap();
        assert_eq!(
            m,
            Mapped {
                person: Some(p),
                merged_from: None
            }
        );
        assert_eq!(
            people::get_ref(&tx, p).unwrap().phone.as_deref(),
            Some("60167654302")
        );
        // The phone now resolves to the same person; the lid keeps resolving too.
        assert_eq!(people::resolve(&tx, &phone).unwrap(), p);
        assert_eq!(people::resolve(&tx, &s).unwrap(), p);
        assert!(!request(&tx, &s, 0).unwrap(), "mapped: never asked again");
        let row = get(&tx, "215555123456789@lid").unwrap().unwrap();
        assert_eq!(
            (row.state.as_str(), row.phone.as_deref()),
            ("mapped", Some("60167654302"))
        );
        let ev: (String, String) = tx
            .query_row(
                "SELECT entity_id, data FROM events WHERE action = 'person.lid_mapped'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(ev.0, p.to_string());
        assert!(
            ev.1.contains("215555123456789@lid") && ev.1.contains("60167654302"),
            "{}",
            ev.1
        );
    }

    #[test]
    fn mapping_onto_a_known_phone_merges_the_two_people() {
        let mut c = db();
        let tx = c.transaction().unwrap();
        let by_phone = people::resolve(
            &tx,
            &SenderRef {
                external_id: "60198765403".into(),
                phone: Some("60198765403".into()),
                display_name: None,
            },
        )
        .unwrap();
        let by_lid = people::resolve(&tx, &lid_sender("99887766554433@lid")).unwrap();
        assert_ne!(by_phone, by_lid);
        let m = record_mapped(&tx, "99887766554433@lid", "60198765403").unwrap();
        assert_eq!(
            m,
            Mapped {
                person: Some(by_phone),
                merged_from: Some(by_lid)
            }
        );
        assert_eq!(
            people::resolve(&tx, &lid_sender("99887766554433@lid")).unwrap(),
            by_phone
        );
        let survivor = people::get_ref(&tx, by_phone).unwrap();
        assert_eq!(survivor.phone.as_deref(), Some("60198765403"));
        assert_eq!(
            survivor.name.as_deref(),
            Some("Rajesh Security"),
            "name taken from the lid person"
        );
        let listed: Vec<i64> = people::list(&tx)
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(listed, vec![by_phone]);
    }

    #[test]
    fn misses_give_up_and_are_rechecked_only_later() {
        let mut c = db();
        let tx = c.transaction().unwrap();
        let s = lid_sender("215555000000001@lid");
        let p = people::resolve(&tx, &s).unwrap();
        assert!(request(&tx, &s, 0).unwrap());
        record_miss(&tx, "215555000000001@lid", "pn: null", false).unwrap();
        assert!(!request(&tx, &s, 0).unwrap());
        record_miss(&tx, "215555000000001@lid", "pn: null", true).unwrap();
        let row = get(&tx, "215555000000001@lid").unwrap().unwrap();
        assert_eq!((row.state.as_str(), row.attempts), ("unknown", 2));
        assert!(!request(&tx, &s, 0).unwrap(), "checked just now");
        assert_eq!(people::get_ref(&tx, p).unwrap().phone, None);
        // A day later the next message asks again.
        tx.execute(
            "UPDATE lid_lookups SET checked_at = '2020-01-01T00:00:00.000Z'",
            [],
        )
        .unwrap();
        assert!(request(&tx, &s, 0).unwrap());
        assert_eq!(
            get(&tx, "215555000000001@lid").unwrap().unwrap().state,
            "pending"
        );
    }
}
