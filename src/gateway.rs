//! Requests tapak makes to a WhatsApp gateway on its own, besides media downloads: the WAHA `@lid` → phone lookups.
//!
//! A WAHA group message from a hidden id (`<digits>@lid`) whose payload gives no phone queues a `waha_lid` job when it
//! is stored (`store::lids::request`); the webhook answers at once. This worker works the queue: it asks the
//! configured WAHA (`GET {base_url}/api/{session}/lids/{lid}` with `X-Api-Key`, `whatsapp.md` §2.5) and, when the
//! gateway knows the number, gives it to the person (merging them into whoever already has that phone). `pn: null`
//! and failures are retried with backoff and given up after [`MAX_LID_ATTEMPTS`]; requests go only to the configured
//! `whatsapp.waha.base_url`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::store::{jobs, lids};
use crate::whatsapp::client::FetchError;

/// Lookups per lid before it is given up as unknown (asked again only after `lids::RECHECK_AFTER_HOURS`).
pub const MAX_LID_ATTEMPTS: i64 = 4;

/// Runs until `stop` is cancelled: a [`tick`] whenever a lookup is queued or due.
pub async fn run(core: Arc<Core>, stop: CancellationToken) {
    loop {
        let progressed = tokio::select! {
            _ = stop.cancelled() => return,
            n = tick(&core, core.clock.now()) => n > 0,
        };
        if progressed {
            continue;
        }
        let wait = jobs::wait_until_due(&core.db, lids::LID_JOB).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = core.wake.lookup.notified() => {},
            _ = tokio::time::sleep(wait) => {},
        }
    }
}

/// One deterministic pass: works the lookups due at `now` (a failure is retried after a backoff from `now`). Returns
/// how many had their outcome recorded.
pub async fn tick(core: &Core, now: DateTime<Utc>) -> usize {
    let now_ms = now.timestamp_millis();
    let due = core
        .db
        .read(move |c| jobs::due(c, lids::LID_JOB, now_ms, 16))
        .await
        .unwrap_or_default();
    let mut recorded = 0;
    for job in due {
        if work_job(core, job, now).await {
            recorded += 1;
        }
    }
    recorded
}

/// One lookup; returns whether the job's outcome was recorded (so the loop does not spin on a database error).
async fn work_job(svc: &Core, job: jobs::Job, now: DateTime<Utc>) -> bool {
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
    match svc.whatsapp.waha_lid(&lid).await {
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
                        let next = now
                            .timestamp_millis()
                            .saturating_add(jobs::backoff_ms(job.attempts));
                        jobs::retry_later(tx, job.id, &msg, next)
                    }
                })
                .await
                .is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Clock, FakeClock};
    use crate::ingest::model::SenderRef;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A WAHA on loopback whose lids endpoint fails once, then knows the phone; answers its URL and the call count.
    async fn fake_waha() -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let app = axum::Router::new().route(
            "/api/default/lids/{lid}",
            axum::routing::get(
                move |axum::extract::Path(lid): axum::extract::Path<String>| {
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n == 0 {
                            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new());
                        }
                        let body = serde_json::json!({"lid": lid, "pn": "60167654302@c.us"});
                        (axum::http::StatusCode::OK, body.to_string())
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, calls)
    }

    async fn lookup_row(core: &Core, lid: &'static str) -> lids::LidLookup {
        let row = core.db.read(move |c| lids::get(c, lid)).await;
        row.unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_failed_lookup_is_retried_when_the_clock_passes_its_backoff() {
        let (waha, calls) = fake_waha().await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            ..crate::config::Config::default()
        };
        cfg.whatsapp.waha.base_url = waha;
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = FakeClock::new(t0);
        let core = Core::open(cfg, clock.clone()).unwrap();
        let lid = "215555123456789@lid";
        let sender = SenderRef {
            external_id: lid.into(),
            phone: None,
            display_name: Some("Siti".into()),
        };
        let queued = core
            .db
            .write(move |tx| {
                crate::store::people::resolve(tx, &sender)?;
                lids::request(tx, &sender, crate::store::now().timestamp_millis())
            })
            .await
            .unwrap();
        assert!(queued);

        assert_eq!(
            tick(&core, clock.now()).await,
            1,
            "asked, and the 503 recorded"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let row = lookup_row(&core, lid).await;
        assert_eq!((row.state.as_str(), row.phone), ("pending", None));
        assert_eq!(
            row.checked_at.as_deref(),
            Some("2027-01-15T08:00:00.000Z"),
            "stamped by the fake clock"
        );

        // The clock has not moved: the retry is not due, however often the worker ticks.
        assert_eq!(tick(&core, clock.now()).await, 0);
        clock.advance(chrono::Duration::milliseconds(jobs::backoff_ms(0) - 1));
        assert_eq!(tick(&core, clock.now()).await, 0);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        clock.advance(chrono::Duration::milliseconds(1));
        assert_eq!(tick(&core, clock.now()).await, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let row = lookup_row(&core, lid).await;
        assert_eq!(
            (row.state.as_str(), row.phone.as_deref()),
            ("mapped", Some("60167654302"))
        );
        assert_eq!(tick(&core, clock.now()).await, 0, "nothing left to do");
        core.db.close();
    }
}
