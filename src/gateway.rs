//! Requests tapak makes to a WhatsApp gateway on its own, besides media downloads: the WAHA `@lid` → phone lookups.
//!
//! A WAHA group message from a hidden id (`<digits>@lid`) whose payload gives no phone queues a `waha_lid` job when it
//! is stored (`store::lids::request`); the webhook answers at once. This worker works the queue: it asks the
//! configured WAHA (`GET {base_url}/api/{session}/lids/{lid}` with `X-Api-Key`, `whatsapp.md` §2.5) and, when the
//! gateway knows the number, gives it to the person (merging them into whoever already has that phone). `pn: null`
//! and failures are retried with backoff and given up after [`MAX_LID_ATTEMPTS`]; requests go only to the configured
//! `whatsapp.waha.base_url`.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::Services;
use crate::evidence::fetch::{gateway_url, read_limited, status_error, FetchError};
use crate::store::{jobs, lids};

/// Lookups per lid before it is given up as unknown (asked again only after `lids::RECHECK_AFTER_HOURS`).
pub const MAX_LID_ATTEMPTS: i64 = 4;

/// Largest lids answer read (it is a two-field JSON object).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// Runs until `stop` is cancelled.
pub async fn run(svc: Arc<Services>, stop: CancellationToken) {
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let due = svc
            .db
            .read(move |c| jobs::due(c, lids::LID_JOB, now, 16))
            .await
            .unwrap_or_default();
        let mut progressed = false;
        for job in due {
            if stop.is_cancelled() {
                return;
            }
            progressed |= work_job(&svc, job).await;
        }
        if progressed {
            continue;
        }
        let wait = jobs::wait_until_due(&svc.db, lids::LID_JOB).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = svc.wake.lookup.notified() => {},
            _ = tokio::time::sleep(wait) => {},
        }
    }
}

/// One lookup; returns whether the job's outcome was recorded (so the loop does not spin on a database error).
async fn work_job(svc: &Arc<Services>, job: jobs::Job) -> bool {
    let lid = serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|v| v.get("lid").and_then(|l| l.as_str()).and_then(lids::lid_of));
    let Some(lid) = lid else {
        return svc
            .db
            .write(move |tx| jobs::complete(tx, job.id))
            .await
            .is_ok();
    };
    let attempt = job.attempts + 1;
    match lookup(svc, &lid).await {
        Ok(Some(phone)) => {
            let (l, p) = (lid.clone(), phone.clone());
            let res = svc
                .db
                .write(move |tx| {
                    jobs::complete(tx, job.id)?;
                    lids::record_mapped(tx, &l, &p)
                })
                .await;
            match res {
                Ok(m) => {
                    tracing::info!(lid = %lid, phone = %phone, person = ?m.person, merged_from = ?m.merged_from,
                        "WAHA lid mapped to a phone");
                    true
                }
                Err(e) => {
                    tracing::warn!(lid = %lid, error = %e, "could not record the lid mapping");
                    false
                }
            }
        }
        outcome => {
            let (msg, permanent) = match outcome {
                Ok(_) => (
                    "the gateway does not know the phone (pn: null)".to_string(),
                    false,
                ),
                Err(FetchError::Retry(m)) => (m, false),
                Err(FetchError::Permanent(m)) => (m, true),
            };
            let gave_up = permanent || attempt >= MAX_LID_ATTEMPTS;
            tracing::debug!(lid = %lid, attempt, error = %msg, gave_up, "WAHA lid lookup without a phone");
            let l = lid.clone();
            svc.db
                .write(move |tx| {
                    lids::record_miss(tx, &l, &msg, gave_up)?;
                    if gave_up {
                        jobs::complete(tx, job.id)
                    } else {
                        let next =
                            chrono::Utc::now().timestamp_millis() + jobs::backoff_ms(job.attempts);
                        jobs::retry_later(tx, job.id, &msg, next)
                    }
                })
                .await
                .is_ok()
        }
    }
}

/// The lids API URL on the configured gateway (base path kept; session and lid percent-encoded path segments).
fn lid_url(base: &str, session: &str, lid: &str) -> Result<String, FetchError> {
    let session = if session.trim_matches('.').is_empty() {
        "default"
    } else {
        session
    };
    gateway_url(
        base,
        "whatsapp.waha.base_url",
        &["api", session, "lids", lid],
    )
}

/// Asks the configured WAHA for the phone behind `lid`: `Ok(None)` = the gateway does not know it (`pn: null`).
async fn lookup(svc: &Services, lid: &str) -> Result<Option<String>, FetchError> {
    let w = &svc.cfg.whatsapp.waha;
    if w.base_url.is_empty() {
        return Err(FetchError::Permanent(
            "whatsapp.waha.base_url is not configured, so @lid senders cannot be looked up".into(),
        ));
    }
    let url = lid_url(&w.base_url, &w.session, lid)?;
    let mut req = svc
        .http
        .get(&url)
        .timeout(Duration::from_secs(20))
        .header("accept", "application/json");
    if w.api_key.is_set() {
        req = req.header("X-Api-Key", w.api_key.expose());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| FetchError::Retry(format!("WAHA unreachable: {e}")))?;
    if !resp.status().is_success() {
        return Err(status_error("WAHA lids lookup", resp.status()));
    }
    let body = read_limited(resp, MAX_ANSWER_BYTES, "WAHA lids answer").await?;
    let answer = crate::ingest::waha::parse_lid_answer(&body)
        .map_err(|e| FetchError::Retry(format!("WAHA lids answer: {e}")))?;
    if let Some(other) = answer.lid.as_deref().filter(|l| *l != lid) {
        return Err(FetchError::Permanent(format!(
            "WAHA answered about {other} when asked about {lid}"
        )));
    }
    Ok(answer.phone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lid_urls_stay_on_the_configured_gateway() {
        assert_eq!(
            lid_url("http://127.0.0.1:3000", "default", "215555123456789@lid").unwrap(),
            "http://127.0.0.1:3000/api/default/lids/215555123456789%40lid"
        );
        assert_eq!(
            lid_url("https://gw.example/waha/", "ops site", "1@lid").unwrap(),
            "https://gw.example/waha/api/ops%20site/lids/1%40lid"
        );
        assert_eq!(
            lid_url("http://127.0.0.1:3000", "..", "1@lid").unwrap(),
            "http://127.0.0.1:3000/api/default/lids/1%40lid"
        );
        assert!(matches!(
            lid_url("not a url", "default", "1@lid"),
            Err(FetchError::Permanent(_))
        ));
    }
}
