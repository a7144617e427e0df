//! The sender worker: takes due sends from the outbox and sends them, one at a time, with the guarantees of
//! [`crate::outbox`]: each attempt is marked `sending` in a committed write before its request goes out, so a crash
//! can never lead to a blind second send (a `sending` row found at start-up becomes `unconfirmed`); retryable
//! failures wait with exponential backoff; permanent ones fail with the error shown.
//!
//! [`Sender::tick`] is one deterministic pass at a given time (tests drive it with a fake clock); [`run`] calls it
//! every `[outbox] poll_seconds` and whenever a producer wakes it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::limits::{backoff, QuietHours};
use super::{recipient_digits, Kind, Purpose, Route, Send, SendState, SiteReminders};
use crate::config::{OutboxConfig, RemindersConfig};
use crate::store::outbox::{self as store, Outcome};
use crate::store::{Db, StoreError};
use crate::whatsapp::client::{Client, FileToSend, Outgoing, SendError, Template, OUTSIDE_WINDOW};

/// Free text is sent only this long after the recipient's last message (Meta's window is 24 h; the margin keeps a
/// send that takes a while inside it).
pub const WINDOW: Duration = Duration::minutes(23 * 60 + 30);

/// Most sends looked at in one pass.
const BATCH: usize = 100;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub unconfirmed: usize,
    /// Put off without an attempt (quiet hours, rate limits).
    pub held: usize,
}

pub struct Sender {
    db: Db,
    client: Client,
    reminders: RemindersConfig,
    limits: OutboxConfig,
    tz: chrono_tz::Tz,
}

impl Sender {
    pub fn new(
        db: Db,
        client: Client,
        reminders: RemindersConfig,
        limits: OutboxConfig,
        tz: chrono_tz::Tz,
    ) -> Sender {
        Sender {
            db,
            client,
            reminders,
            limits,
            tz,
        }
    }

    /// At start-up, before any send: sends left `sending` by a crash become `unconfirmed`.
    pub async fn recover(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.db
            .write(move |tx| store::recover_interrupted(tx, now))
            .await
    }

    /// One pass at `now`: every due send that quiet hours and the rate limits allow is attempted once.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, StoreError> {
        let now_ms = now.timestamp_millis();
        let due = self.db.read(move |c| store::due(c, now_ms, BATCH)).await?;
        let mut report = TickReport::default();
        for send in due {
            if let Some(until) = self.hold_until(&send, now).await? {
                let (id, ms) = (send.id, until.timestamp_millis());
                self.db
                    .write(move |tx| store::postpone(tx, id, ms, now))
                    .await?;
                report.held += 1;
                continue;
            }
            match self.attempt(&send, now).await? {
                Some(SendState::Sent) => report.sent += 1,
                Some(SendState::Queued) => report.retried += 1,
                Some(SendState::Failed) => report.failed += 1,
                Some(SendState::Unconfirmed) => report.unconfirmed += 1,
                _ => {}
            }
        }
        Ok(report)
    }

    /// When a send must wait without an attempt: the end of quiet hours, or when a rate limit frees up.
    async fn hold_until(
        &self,
        send: &Send,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let site_id = send.site;
        let site = match site_id {
            Some(id) => self
                .db
                .read(move |c| crate::store::chats::find_site(c, &id.to_string()))
                .await?
                .map(|s| SiteReminders::from_settings(&s.settings)),
            None => None,
        };
        let quiet_text = site
            .as_ref()
            .and_then(|s| s.quiet_hours.clone())
            .unwrap_or_else(|| self.reminders.quiet_hours.clone());
        // A site's malformed override falls back to the appliance's (validated) setting.
        let quiet = QuietHours::parse(&quiet_text)
            .or_else(|_| QuietHours::parse(&self.reminders.quiet_hours))
            .unwrap_or(None);
        if let Some(end) = quiet.and_then(|q| q.end_if_quiet(now, &self.tz)) {
            // An administrator's test message is wanted now: quiet hours are for the people reminded.
            if !(send.urgent && self.limits.urgent_passes_quiet_hours)
                && send.purpose != Purpose::Test
            {
                return Ok(Some(end));
            }
        }
        let minute_ago = now
            .checked_sub_signed(Duration::minutes(1))
            .unwrap_or(now)
            .timestamp_millis();
        let to = send.to.clone();
        let (mine, all) = self
            .db
            .read(move |c| {
                Ok((
                    store::attempts_since(c, minute_ago, Some(&to))?,
                    store::attempts_since(c, minute_ago, None)?,
                ))
            })
            .await?;
        let spacing = |per_minute: u32| {
            Duration::try_milliseconds(60_000 / i64::from(per_minute.max(1)))
                .unwrap_or(Duration::seconds(60))
        };
        if mine >= i64::from(self.limits.per_recipient_per_minute) {
            return Ok(now.checked_add_signed(spacing(self.limits.per_recipient_per_minute)));
        }
        if all >= i64::from(self.limits.global_per_minute) {
            return Ok(now.checked_add_signed(spacing(self.limits.global_per_minute)));
        }
        Ok(None)
    }

    /// Whether a Cloud API send to `to` must be the template: no message from that phone in the last [`WINDOW`].
    async fn outside_window(&self, to: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(phone) = recipient_digits(to) else {
            // A group (Groups API): the window does not apply the same way; send text.
            return Ok(false);
        };
        let last = self
            .db
            .read(move |c| store::last_inbound_ms(c, &phone))
            .await?;
        let cutoff = now
            .checked_sub_signed(WINDOW)
            .unwrap_or(now)
            .timestamp_millis();
        Ok(last.is_none_or(|ms| ms < cutoff))
    }

    /// One attempt on one send; answers the state it ended in (`None` when someone else had taken it).
    async fn attempt(
        &self,
        send: &Send,
        now: DateTime<Utc>,
    ) -> Result<Option<SendState>, StoreError> {
        let mut kind = send.kind;
        if send.route == Route::CloudApi
            && kind == Kind::Text
            && self.outside_window(&send.to, now).await?
        {
            kind = Kind::Template;
        }
        let id = send.id;
        // The attempt is durable before the request goes out.
        let Some(attempts) = self
            .db
            .write(move |tx| store::begin_attempt(tx, id, now))
            .await?
        else {
            return Ok(None);
        };
        let callback = format!("{}{id}", store::CALLBACK_PREFIX);
        let out = Outgoing {
            to: &send.to,
            text: &send.text,
            mentions: &send.mentions,
            callback: Some(&callback),
        };
        let mut result = if kind == Kind::Document && send.route == Route::CloudApi {
            let outside = self.outside_window(&send.to, now).await?;
            let (r, k) = self.cloud_document(&out, send, outside).await;
            kind = k;
            r
        } else {
            self.deliver(send.route, kind, &out, send).await
        };
        if kind == Kind::Text
            && send.route == Route::CloudApi
            && matches!(
                result,
                Err(SendError::Permanent {
                    code: Some(OUTSIDE_WINDOW),
                    ..
                })
            )
        {
            // Refused as free text (nothing was sent): the template says the same.
            kind = Kind::Template;
            result = self.deliver(send.route, kind, &out, send).await;
        }
        let outcome = match result {
            Ok(a) => Outcome::Sent {
                kind,
                wa_message_id: a.wa_message_id,
            },
            Err(SendError::Retryable(e)) if attempts < i64::from(self.limits.max_attempts) => {
                let wait = backoff(
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    self.limits.backoff_seconds,
                    self.limits.max_backoff_seconds,
                );
                Outcome::Retry {
                    error: e,
                    next_ms: now
                        .checked_add_signed(wait)
                        .unwrap_or(now)
                        .timestamp_millis(),
                }
            }
            Err(SendError::Retryable(e)) => Outcome::Failed {
                error: format!("{e} (gave up after {attempts} attempts)"),
            },
            Err(SendError::Permanent { message, .. }) => Outcome::Failed { error: message },
            Err(SendError::NotConfigured(e)) => Outcome::Failed { error: e },
            Err(SendError::Unknown(e)) => Outcome::Unconfirmed { error: e },
        };
        let state = match &outcome {
            Outcome::Sent { .. } => SendState::Sent,
            Outcome::Retry { .. } | Outcome::Requeue { .. } => SendState::Queued,
            Outcome::Failed { .. } => SendState::Failed,
            Outcome::Unconfirmed { .. } => SendState::Unconfirmed,
        };
        if let Outcome::Failed { error } | Outcome::Unconfirmed { error } = &outcome {
            tracing::warn!(send = id, to = %send.to, %error, "outbox: {state}");
        }
        self.db
            .write(move |tx| store::finish_attempt(tx, id, &outcome, now))
            .await?;
        Ok(Some(state))
    }

    async fn deliver(
        &self,
        route: Route,
        kind: Kind,
        out: &Outgoing<'_>,
        send: &Send,
    ) -> Result<crate::whatsapp::client::Accepted, SendError> {
        match (route, kind) {
            (Route::CloudApi, Kind::Text) => self.client.cloud_text(out).await,
            (Route::CloudApi, Kind::Template) => {
                self.client
                    .cloud_template(
                        out,
                        &Template {
                            name: &self.reminders.template_name,
                            language: &self.reminders.template_language,
                            params: &send.template_params,
                            document: None,
                        },
                    )
                    .await
            }
            (Route::Waha, Kind::Text | Kind::Template) => self.client.waha_text(out).await,
            (Route::Evolution, Kind::Text | Kind::Template) => {
                self.client.evolution_text(out).await
            }
            (_, Kind::Document) => self.deliver_document(route, out, send).await,
        }
    }

    /// A document send's file (checked again: the producer may have removed it since) and its bytes.
    async fn read_document(send: &Send) -> Result<(&super::Document, Vec<u8>), SendError> {
        let permanent = |message: String| SendError::Permanent {
            code: None,
            message,
        };
        let Some(doc) = &send.document else {
            return Err(permanent("a document send without its file".into()));
        };
        let path = std::path::PathBuf::from(&doc.path);
        super::documents::check_file(&path).map_err(permanent)?;
        let bytes = tokio::fs::read(&path).await.map_err(|e| {
            permanent(format!(
                "document.path: cannot read {}: {e}",
                path.display()
            ))
        })?;
        Ok((doc, bytes))
    }

    /// A document: on a gateway the file inline; on the Cloud API as a document ([`Sender::attempt`] calls
    /// [`Sender::cloud_document`] itself, to fall back to the template outside the 24-hour window).
    async fn deliver_document(
        &self,
        route: Route,
        out: &Outgoing<'_>,
        send: &Send,
    ) -> Result<crate::whatsapp::client::Accepted, SendError> {
        let (doc, bytes) = Self::read_document(send).await?;
        let file = FileToSend {
            filename: &doc.filename,
            mime: &doc.mime,
            bytes: &bytes,
        };
        match route {
            Route::CloudApi => self.cloud_document(out, send, false).await.0,
            Route::Waha => self.client.waha_document(out, &file).await,
            Route::Evolution => self.client.evolution_document(out, &file).await,
        }
    }

    /// A document on the Cloud API: the file is uploaded once, then sent as a document inside the recipient's 24-hour
    /// window, or as the document template (`[reminders] document_template_name`, the file in its DOCUMENT header and
    /// the caption, else the file name, as its one body parameter) outside it or when Meta refuses the document with
    /// 131047. Answers the result and the kind that went out.
    async fn cloud_document(
        &self,
        out: &Outgoing<'_>,
        send: &Send,
        outside_window: bool,
    ) -> (Result<crate::whatsapp::client::Accepted, SendError>, Kind) {
        if outside_window && self.reminders.document_template_name.is_empty() {
            // Nothing to send it with: fail before uploading anything.
            return (
                Err(SendError::NotConfigured(
                    "outside the 24-hour window and no template configured ([reminders] document_template_name)"
                        .into(),
                )),
                Kind::Document,
            );
        }
        let (doc, bytes) = match Self::read_document(send).await {
            Ok(d) => d,
            Err(e) => return (Err(e), Kind::Document),
        };
        let file = FileToSend {
            filename: &doc.filename,
            mime: &doc.mime,
            bytes: &bytes,
        };
        let media_id = match self.client.cloud_upload(&file).await {
            Ok(id) => id,
            Err(e) => return (Err(e), Kind::Document),
        };
        if !outside_window {
            let r = self
                .client
                .cloud_document(out, &media_id, &doc.filename)
                .await;
            let refused_outside = matches!(
                r,
                Err(SendError::Permanent {
                    code: Some(OUTSIDE_WINDOW),
                    ..
                })
            );
            if !refused_outside {
                return (r, Kind::Document);
            }
        }
        let caption = if out.text.trim().is_empty() {
            doc.filename.clone()
        } else {
            out.text.to_string()
        };
        let params = [caption];
        let template = Template {
            name: &self.reminders.document_template_name,
            language: &self.reminders.template_language,
            params: &params,
            document: Some((&media_id, &doc.filename)),
        };
        (
            self.client.cloud_template(out, &template).await,
            Kind::Template,
        )
    }
}

/// The worker: recovers interrupted sends, then ticks every `poll` and whenever `wake` is notified, until `stop`.
pub async fn run(
    sender: Sender,
    clock: Arc<dyn crate::core::Clock>,
    wake: Arc<Notify>,
    poll: std::time::Duration,
    stop: CancellationToken,
) {
    match sender.recover(clock.now()).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            sends = n,
            "outbox: sends interrupted by the last stop are unconfirmed (not resent)"
        ),
        Err(e) => {
            tracing::error!(error = %e, "outbox: cannot recover interrupted sends; sender not started");
            return;
        }
    }
    loop {
        if stop.is_cancelled() {
            break;
        }
        if let Err(e) = sender.tick(clock.now()).await {
            tracing::warn!(error = %e, "outbox: tick failed");
        }
        let wait = match sender.db.read(store::next_due_ms).await {
            Ok(Some(ms)) => {
                let now = clock.now().timestamp_millis();
                std::time::Duration::from_millis(u64::try_from(ms.saturating_sub(now)).unwrap_or(0))
                    .min(poll)
            }
            _ => poll,
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = wake.notified() => {},
            _ = tokio::time::sleep(wait.max(std::time::Duration::from_millis(50))) => {},
        }
    }
}
