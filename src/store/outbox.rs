//! The outbox's SQL: queueing sends, the sender worker's state changes, status receipts, and the lists the API shows.
//! The state machine is described in `migrations/0009_outbox.sql` and [`crate::outbox`].

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{events, fmt_time, StoreError};
use crate::outbox::{
    recipient_digits, About, AboutType, Document, Kind, NewSend, Purpose, Route, Send, SendState,
};

const COLUMNS: &str = "id, recipient, route, kind, text, template_params, mentions, purpose, about_type, about_id, \
     rung, urgent, site_id, state, attempts, error, wa_message_id, next_attempt_at_ms, created_at, updated_at, \
     document_path, document_name, document_mime";

fn bad(what: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("outbox: unknown {what} {v:?}").into(),
    )
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Send> {
    let route: String = r.get(2)?;
    let kind: String = r.get(3)?;
    let purpose: String = r.get(7)?;
    let about_type: String = r.get(8)?;
    let state: String = r.get(13)?;
    let params: String = r.get(5)?;
    let mentions: String = r.get(6)?;
    let state = SendState::parse(&state).ok_or_else(|| bad("state", &state))?;
    let next: i64 = r.get(17)?;
    Ok(Send {
        id: r.get(0)?,
        to: r.get(1)?,
        route: Route::parse(&route).ok_or_else(|| bad("route", &route))?,
        kind: Kind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        text: r.get(4)?,
        template_params: serde_json::from_str(&params).unwrap_or_default(),
        mentions: serde_json::from_str(&mentions).unwrap_or_default(),
        purpose: Purpose::parse(&purpose).ok_or_else(|| bad("purpose", &purpose))?,
        about: About {
            kind: AboutType::parse(&about_type).ok_or_else(|| bad("about_type", &about_type))?,
            id: r.get(9)?,
        },
        rung: r.get(10)?,
        urgent: r.get(11)?,
        site: r.get(12)?,
        state,
        attempts: r.get(14)?,
        error: r.get(15)?,
        wa_message_id: r.get(16)?,
        next_attempt_at: (state == SendState::Queued)
            .then(|| DateTime::from_timestamp_millis(next).map(fmt_time))
            .flatten(),
        created_at: r.get(18)?,
        updated_at: r.get(19)?,
        document: match (r.get(20)?, r.get(21)?, r.get(22)?) {
            (Some(path), Some(filename), Some(mime)) => Some(Document {
                path,
                filename,
                mime,
            }),
            _ => None,
        },
    })
}

/// Queues a send. Returns its id, or `None` when a send with the same (about, rung, recipient) already exists (in any
/// state): at most one send per occurrence / ticket / report, rung and recipient.
pub fn enqueue(
    tx: &Transaction<'_>,
    s: &NewSend,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    s.validate().map_err(StoreError::Invalid)?;
    let now_ms = now.timestamp_millis();
    let at = fmt_time(now);
    let next = s.not_before.map_or(now_ms, |t| t.timestamp_millis());
    let to = recipient_digits(&s.to).unwrap_or_else(|| s.to.trim().to_string());
    let n = tx
        .prepare_cached(
            "INSERT INTO outbox(recipient, route, kind, text, template_params, mentions, purpose, about_type, about_id, \
             rung, urgent, site_id, state, attempts, next_attempt_at_ms, created_ms, created_at, updated_at, \
             document_path, document_name, document_mime) \
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,'queued',0,?13,?14,?15,?15,?16,?17,?18) \
             ON CONFLICT(about_type, about_id, rung, recipient) DO NOTHING",
        )?
        .execute(params![
            to,
            s.route.as_str(),
            s.kind.as_str(),
            s.text,
            serde_json::to_string(&s.template_params)?,
            serde_json::to_string(&s.mentions)?,
            s.purpose.as_str(),
            s.about.kind.as_str(),
            s.about.id,
            s.rung,
            s.urgent,
            s.site_id,
            next,
            now_ms,
            at,
            s.document.as_ref().map(|d| d.path.as_str()),
            s.document.as_ref().map(|d| d.filename.trim()),
            s.document.as_ref().map(|d| d.mime.as_str()),
        ])?;
    if n == 0 {
        return Ok(None);
    }
    let id = tx.last_insert_rowid();
    let mut data = serde_json::json!({
        "to": to, "route": s.route, "purpose": s.purpose, "about": s.about, "rung": s.rung,
    });
    if let Some(d) = &s.document {
        data["document"] = serde_json::json!(d.filename.trim());
    }
    events::append(
        tx,
        "outbox",
        "send.queued",
        "send",
        Some(&id.to_string()),
        &data,
    )?;
    Ok(Some(id))
}

pub fn get(conn: &Connection, id: i64) -> Result<Send, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("send {id}")))
}

/// Filters of `GET /api/v1/outbox`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<SendState>,
    pub purpose: Option<Purpose>,
    pub about_type: Option<AboutType>,
    pub about_id: Option<i64>,
    /// Created at or after (unix ms).
    pub from_ms: Option<i64>,
    /// Created before (unix ms).
    pub to_ms: Option<i64>,
    /// Ids below this (the paging cursor).
    pub before_id: Option<i64>,
}

/// Sends matching `f`, newest first, at most `limit`.
pub fn list(conn: &Connection, f: &Filter, limit: usize) -> Result<Vec<Send>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM outbox WHERE 1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut add = |clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(s) = f.state {
        add("state =", s.as_str().to_string().into());
    }
    if let Some(p) = f.purpose {
        add("purpose =", p.as_str().to_string().into());
    }
    if let Some(t) = f.about_type {
        add("about_type =", t.as_str().to_string().into());
    }
    if let Some(id) = f.about_id {
        add("about_id =", id.into());
    }
    if let Some(ms) = f.from_ms {
        add("created_ms >=", ms.into());
    }
    if let Some(ms) = f.to_ms {
        add("created_ms <", ms.into());
    }
    if let Some(id) = f.before_id {
        add("id <", id.into());
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", limit.min(10_000)));
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(args), from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every send about one occurrence, ticket or report, oldest first (shown on the occurrence or ticket).
pub fn for_about(conn: &Connection, about: About) -> Result<Vec<Send>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE about_type = ?1 AND about_id = ?2 ORDER BY id"
    ))?;
    let rows = st.query_map(params![about.kind.as_str(), about.id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Queued sends whose time has come, earliest first.
pub fn due(conn: &Connection, now_ms: i64, limit: usize) -> Result<Vec<Send>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'queued' AND next_attempt_at_ms <= ?1 \
         ORDER BY next_attempt_at_ms, id LIMIT ?2"
    ))?;
    let rows = st.query_map(params![now_ms, limit as i64], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When the next queued send is due (unix ms), if any.
pub fn next_due_ms(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT min(next_attempt_at_ms) FROM outbox WHERE state = 'queued'")?
        .query_row([], |r| r.get(0))?)
}

/// Attempts started since `since_ms` (unix ms), to one recipient or to anyone: what the rate limits count.
pub fn attempts_since(
    conn: &Connection,
    since_ms: i64,
    recipient: Option<&str>,
) -> Result<i64, StoreError> {
    Ok(match recipient {
        Some(to) => conn
            .prepare_cached(
                "SELECT count(*) FROM outbox WHERE last_attempt_ms > ?1 AND recipient = ?2",
            )?
            .query_row(params![since_ms, to], |r| r.get(0))?,
        None => conn
            .prepare_cached("SELECT count(*) FROM outbox WHERE last_attempt_ms > ?1")?
            .query_row([since_ms], |r| r.get(0))?,
    })
}

/// When a phone last wrote to the business number through the Cloud API (unix ms): the start of its 24-hour
/// customer-service window.
pub fn last_inbound_ms(conn: &Connection, phone: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT max(m.sent_ms) FROM messages m JOIN people p ON p.id = m.sender_id \
             WHERE p.phone = ?1 AND m.source = 'cloud_api' AND m.from_me = 0",
        )?
        .query_row([phone], |r| r.get(0))?)
}

/// Starts an attempt: `queued` → `sending`, attempts + 1, in a write of its own that commits before the request goes
/// out. Returns the attempt number, or `None` when the send is no longer queued (someone else took it).
pub fn begin_attempt(
    tx: &Transaction<'_>,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    Ok(tx
        .prepare_cached(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, last_attempt_ms = ?2, updated_at = ?3 \
             WHERE id = ?1 AND state = 'queued' RETURNING attempts",
        )?
        .query_row(params![id, now.timestamp_millis(), fmt_time(now)], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Puts a queued send off until `next_ms` without an attempt (quiet hours, rate limits).
pub fn postpone(
    tx: &Transaction<'_>,
    id: i64,
    next_ms: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE outbox SET next_attempt_at_ms = ?2, updated_at = ?3 WHERE id = ?1 AND state = 'queued'",
    )?
    .execute(params![id, next_ms, fmt_time(now)])?;
    Ok(())
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted: sent as `kind`, WhatsApp's id for it (`None` when the gateway answered without one).
    Sent {
        kind: Kind,
        wa_message_id: Option<String>,
    },
    /// A retryable failure: queued again for `next_ms`.
    Retry { error: String, next_ms: i64 },
    /// A permanent failure (or out of attempts).
    Failed { error: String },
    /// The request went out and no answer came: never resent blindly.
    Unconfirmed { error: String },
    /// Not sent, and to be sent as another kind (a Cloud API text outside the 24-hour window, as the template).
    Requeue { kind: Kind, error: String },
}

/// Records how the attempt on a `sending` send ended. A send that is no longer `sending` (a status webhook settled it
/// meanwhile) keeps what it has.
pub fn finish_attempt(
    tx: &Transaction<'_>,
    id: i64,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = fmt_time(now);
    let now_ms = now.timestamp_millis();
    let (state, n) = match outcome {
        Outcome::Sent {
            kind,
            wa_message_id,
        } => (
            SendState::Sent,
            tx.prepare_cached(
                "UPDATE outbox SET state = 'sent', kind = ?2, wa_message_id = coalesce(?3, wa_message_id), \
                 error = NULL, updated_at = ?4 WHERE id = ?1 AND state = 'sending'",
            )?
            .execute(params![id, kind.as_str(), wa_message_id, at])?,
        ),
        Outcome::Retry { error, next_ms } => (
            SendState::Queued,
            tx.prepare_cached(
                "UPDATE outbox SET state = 'queued', error = ?2, next_attempt_at_ms = ?3, updated_at = ?4 \
                 WHERE id = ?1 AND state = 'sending'",
            )?
            .execute(params![id, error, next_ms, at])?,
        ),
        Outcome::Failed { error } => (
            SendState::Failed,
            tx.prepare_cached(
                "UPDATE outbox SET state = 'failed', error = ?2, updated_at = ?3 WHERE id = ?1 AND state = 'sending'",
            )?
            .execute(params![id, error, at])?,
        ),
        Outcome::Unconfirmed { error } => (
            SendState::Unconfirmed,
            tx.prepare_cached(
                "UPDATE outbox SET state = 'unconfirmed', error = ?2, updated_at = ?3 \
                 WHERE id = ?1 AND state = 'sending'",
            )?
            .execute(params![id, error, at])?,
        ),
        Outcome::Requeue { kind, error } => (
            SendState::Queued,
            tx.prepare_cached(
                "UPDATE outbox SET state = 'queued', kind = ?2, error = ?3, next_attempt_at_ms = ?4, updated_at = ?5 \
                 WHERE id = ?1 AND state = 'sending'",
            )?
            .execute(params![id, kind.as_str(), error, now_ms, at])?,
        ),
    };
    if n > 0 && state != SendState::Queued {
        events::append(
            tx,
            "outbox",
            &format!("send.{state}"),
            "send",
            Some(&id.to_string()),
            &serde_json::to_value(outcome_json(outcome))?,
        )?;
    }
    Ok(())
}

fn outcome_json(o: &Outcome) -> serde_json::Value {
    match o {
        Outcome::Sent {
            kind,
            wa_message_id,
        } => serde_json::json!({"kind": kind, "wa_message_id": wa_message_id}),
        Outcome::Failed { error } | Outcome::Unconfirmed { error } => {
            serde_json::json!({"error": error})
        }
        Outcome::Retry { error, .. } | Outcome::Requeue { error, .. } => {
            serde_json::json!({"error": error})
        }
    }
}

/// At start-up: every send still `sending` was interrupted after its request may have gone out; it becomes
/// `unconfirmed` (never resent blindly). Returns how many.
pub fn recover_interrupted(tx: &Transaction<'_>, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let ids: Vec<i64> = tx
        .prepare_cached(
            "UPDATE outbox SET state = 'unconfirmed', \
             error = 'interrupted while sending (tapak stopped); not resent: check the recipient', updated_at = ?1 \
             WHERE state = 'sending' RETURNING id",
        )?
        .query_map([fmt_time(now)], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        events::append(
            tx,
            "outbox",
            "send.unconfirmed",
            "send",
            Some(&id.to_string()),
            &serde_json::json!({"error": "interrupted while sending"}),
        )?;
    }
    Ok(ids.len())
}

/// A WhatsApp status receipt for a message tapak sent (Cloud API `statuses[]`, WAHA `message.ack`, Evolution
/// `messages.update`), applied to the send with that message id on that route. Receipts only move a send up
/// (sent < delivered < read) whatever order they arrive in; `failed` fails a send not yet delivered, with the error.
/// `callback` is the `biz_opaque_callback_data` the Cloud API echoes (`outbox:<id>`): it settles a send whose answer
/// was lost (`unconfirmed`) and gives it its message id. Returns the number of sends changed.
pub fn apply_status(
    tx: &Transaction<'_>,
    route: Route,
    wa_message_id: &str,
    status: &str,
    errors: &[String],
    callback: Option<&str>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let at = fmt_time(now);
    if let Some(id) = callback.and_then(|c| c.strip_prefix(CALLBACK_PREFIX)?.parse::<i64>().ok()) {
        tx.prepare_cached(
            "UPDATE outbox SET wa_message_id = ?3, state = CASE WHEN state IN ('unconfirmed','sending') \
             THEN 'sent' ELSE state END, updated_at = ?4 \
             WHERE id = ?1 AND route = ?2 AND wa_message_id IS NULL",
        )?
        .execute(params![id, route.as_str(), wa_message_id, at])?;
    }
    let new = match SendState::parse(status) {
        Some(s @ (SendState::Sent | SendState::Delivered | SendState::Read)) => s,
        Some(SendState::Failed) => {
            let error = if errors.is_empty() {
                "failed (status webhook)".to_string()
            } else {
                errors.join("; ")
            };
            return Ok(tx
                .prepare_cached(
                    "UPDATE outbox SET state = 'failed', error = ?3, updated_at = ?4 \
                     WHERE wa_message_id = ?1 AND route = ?2 AND state IN ('sending','sent','unconfirmed')",
                )?
                .execute(params![wa_message_id, route.as_str(), error, at])?);
        }
        _ => return Ok(0),
    };
    let rank = new.receipt_rank().unwrap_or(0);
    Ok(tx
        .prepare_cached(
            "UPDATE outbox SET state = ?3, updated_at = ?5 WHERE wa_message_id = ?1 AND route = ?2 AND \
             (state IN ('sending','unconfirmed') \
              OR (CASE state WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 0 END) < ?4)",
        )?
        .execute(params![wa_message_id, route.as_str(), new.as_str(), rank, at])?)
}

/// What the Cloud API echoes back in statuses for a send (`biz_opaque_callback_data`).
pub const CALLBACK_PREFIX: &str = "outbox:";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{About, NewSend, Purpose, Route};
    use crate::store::Db;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        (dir, db)
    }

    fn send() -> NewSend {
        NewSend::text(
            "+60 16-765 4302",
            Route::CloudApi,
            "Cleaning report for Block C still pending. Please update.",
            Purpose::Reminder,
            About::occurrence(7),
        )
    }

    #[test]
    fn enqueue_is_once_per_about_rung_and_recipient() {
        let (_d, db) = db();
        let first = db.write_blocking(|tx| enqueue(tx, &send(), t(0))).unwrap();
        assert!(first.is_some());
        assert_eq!(
            db.write_blocking(|tx| enqueue(tx, &send(), t(5))).unwrap(),
            None
        );
        let mut other_rung = send();
        other_rung.rung = "escalate".into();
        assert!(db
            .write_blocking(move |tx| enqueue(tx, &other_rung, t(5)))
            .unwrap()
            .is_some());
        let mut bad = send();
        bad.to = "someone".into();
        assert!(matches!(
            db.write_blocking(move |tx| enqueue(tx, &bad, t(5))),
            Err(StoreError::Invalid(_))
        ));
        let all = db
            .read_blocking(|c| list(c, &Filter::default(), 50))
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].state, SendState::Queued);
        assert_eq!(all[1].to, "60167654302");
    }

    #[test]
    fn attempts_and_receipts() {
        let (_d, db) = db();
        let id = db
            .write_blocking(|tx| enqueue(tx, &send(), t(0)))
            .unwrap()
            .unwrap();
        assert_eq!(
            db.read_blocking(move |c| due(c, t(0).timestamp_millis(), 10))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            db.write_blocking(move |tx| begin_attempt(tx, id, t(1)))
                .unwrap(),
            Some(1)
        );
        // Taken: a second worker cannot start it again.
        assert_eq!(
            db.write_blocking(move |tx| begin_attempt(tx, id, t(1)))
                .unwrap(),
            None
        );
        db.write_blocking(move |tx| {
            finish_attempt(
                tx,
                id,
                &Outcome::Sent {
                    kind: Kind::Text,
                    wa_message_id: Some("wamid.A".into()),
                },
                t(2),
            )
        })
        .unwrap();
        let status = |s: &'static str| {
            db.write_blocking(move |tx| {
                apply_status(tx, Route::CloudApi, "wamid.A", s, &[], None, t(3))
            })
            .unwrap()
        };
        assert_eq!(status("read"), 1);
        assert_eq!(
            status("delivered"),
            0,
            "a late 'delivered' does not undo 'read'"
        );
        assert_eq!(status("played"), 0);
        assert_eq!(
            db.read_blocking(move |c| get(c, id)).unwrap().state,
            SendState::Read
        );
    }

    #[test]
    fn interrupted_sends_become_unconfirmed_and_a_callback_settles_them() {
        let (_d, db) = db();
        let id = db
            .write_blocking(|tx| enqueue(tx, &send(), t(0)))
            .unwrap()
            .unwrap();
        db.write_blocking(move |tx| begin_attempt(tx, id, t(1)))
            .unwrap();
        assert_eq!(
            db.write_blocking(|tx| recover_interrupted(tx, t(9)))
                .unwrap(),
            1
        );
        let s = db.read_blocking(move |c| get(c, id)).unwrap();
        assert_eq!(s.state, SendState::Unconfirmed);
        assert!(db
            .read_blocking(move |c| due(c, t(99).timestamp_millis(), 10))
            .unwrap()
            .is_empty());
        let cb = format!("{CALLBACK_PREFIX}{id}");
        db.write_blocking(move |tx| {
            apply_status(
                tx,
                Route::CloudApi,
                "wamid.B",
                "delivered",
                &[],
                Some(&cb),
                t(10),
            )
        })
        .unwrap();
        let s = db.read_blocking(move |c| get(c, id)).unwrap();
        assert_eq!(s.state, SendState::Delivered);
        assert_eq!(s.wa_message_id.as_deref(), Some("wamid.B"));
    }
}
