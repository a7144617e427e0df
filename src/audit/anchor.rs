//! Anchoring (optional, `[audit] anchor_chat`): each night, once `[audit] anchor_time` has passed, the head of the
//! event chain as the day before ended is posted to a WhatsApp chat through the outbox, so a copy of it lives outside
//! the appliance. `tapak verify ZIP --anchors CHAT.txt` reads the posted lines back (from the chat's export, or any
//! text holding them) and says which days' heads the ZIP's chain matches: a matching head proves nothing up to that
//! event was rewritten after it was posted.
//!
//! [`tick`] is one deterministic step at a given `now` (tests move a fake clock); [`run`] calls it every minute.
//! The send's key (report `YYYYMMDD`, rung `anchor`, the chat) makes a day's post happen once however often it runs.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::outbox::{About, NewSend, Purpose, Route};
use crate::store::{Db, StoreError, Transaction};

/// What anchoring needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The chat (a group id `…@g.us` or a phone) the heads go to; `None` = off.
    pub chat: Option<String>,
    pub route: Route,
    /// Local time after which the day before is anchored.
    pub time: NaiveTime,
    pub tz: chrono_tz::Tz,
}

impl Settings {
    pub fn from_config(cfg: &crate::config::Config, tz: chrono_tz::Tz) -> Settings {
        let a = &cfg.audit;
        Settings {
            chat: Some(a.anchor_chat.trim().to_string()).filter(|c| !c.is_empty()),
            route: Route::parse(a.anchor_route.trim()).unwrap_or(Route::CloudApi),
            time: NaiveTime::parse_from_str(a.anchor_time.trim(), "%H:%M")
                .unwrap_or(NaiveTime::MIN),
            tz,
        }
    }
}

/// One posted head: the day, the last event of the chain when the day ended, and that event's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub day: NaiveDate,
    pub event: i64,
    pub head: String,
}

impl Anchor {
    /// The line posted to the chat (and read back by [`parse`]).
    pub fn text(&self) -> String {
        format!(
            "tapak anchor {} event {} head {}",
            self.day, self.event, self.head
        )
    }
}

/// Every anchor line in `text` (a chat export, a copy of the messages): `tapak anchor YYYY-MM-DD event N head HEX64`
/// anywhere in a line. Lines that only look alike are skipped.
pub fn parse(text: &str) -> Vec<Anchor> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"tapak anchor (\d{4}-\d{2}-\d{2}) event (\d{1,18}) head ([0-9a-fA-F]{64})",
        )
        .expect("a valid pattern")
    });
    re.captures_iter(text)
        .filter_map(|c| {
            Some(Anchor {
                day: NaiveDate::parse_from_str(&c[1], "%Y-%m-%d").ok()?,
                event: c[2].parse().ok()?,
                head: c[3].to_ascii_lowercase(),
            })
        })
        .collect()
}

/// The anchor for the day before `now` once the anchor time has passed, queued as a send to the chat; answers
/// whether a new send was queued (false: off, too early, nothing in the chain yet, or already posted).
pub fn tick_tx(tx: &Transaction<'_>, s: &Settings, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let Some(chat) = &s.chat else {
        return Ok(false);
    };
    let local = now.with_timezone(&s.tz);
    if local.time() < s.time {
        return Ok(false);
    }
    let today = local.date_naive();
    let (Some(day), Some(end_ms)) = (today.pred_opt(), crate::store::day_start_ms(today, s.tz))
    else {
        return Ok(false);
    };
    let Some(end) = DateTime::from_timestamp_millis(end_ms - 1) else {
        return Ok(false);
    };
    let Some((event, head)) = crate::store::audit::head_at(tx, &crate::store::fmt_time(end))?
    else {
        return Ok(false);
    };
    let anchor = Anchor { day, event, head };
    let day_id: i64 = day.format("%Y%m%d").to_string().parse().unwrap_or(0);
    let mut send = NewSend::text(
        chat.clone(),
        s.route,
        anchor.text(),
        Purpose::Anchor,
        About::report(day_id),
    );
    send.rung = "anchor".into();
    Ok(crate::store::outbox::enqueue(tx, &send, now)?.is_some())
}

/// One tick in its own write transaction.
pub async fn tick(db: &Db, s: &Settings, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let s = s.clone();
    db.write(move |tx| tick_tx(tx, &s, now)).await
}

/// Ticks every minute until `stop` (nothing to do when anchoring is off).
pub async fn run(db: Db, s: Settings, clock: Arc<dyn crate::core::Clock>, stop: CancellationToken) {
    if s.chat.is_none() {
        return;
    }
    loop {
        match tick(&db, &s, clock.now()).await {
            Ok(true) => {
                tracing::info!("audit: the day's event-chain head is queued for the anchor chat")
            }
            Ok(false) => {}
            Err(StoreError::WriterGone) => return,
            Err(e) => tracing::warn!(error = %e, "audit: anchoring failed; retrying next minute"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
        }
    }
}

/// How one posted anchor compares with a ZIP's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The ZIP's event has the posted hash: the chain up to it is the one that was posted.
    Matches,
    /// The ZIP's event has another hash: the chain was rewritten after the post (or the post is forged).
    Differs { zip_hash: String },
    /// The event is not in the ZIP's stretch of the chain.
    Outside,
}
