//! The media fetcher: works the persistent `fetch_media` job queue, retries with backoff, survives restarts.
//!
//! The downloads themselves are the WhatsApp client's ([`crate::whatsapp::client`]): Cloud API media through the Graph
//! API, gateway media only from the configured gateway's own host, Evolution media without a URL asked of the
//! configured Evolution gateway. Inline media (Evolution base64) are re-read from the stored raw payload.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::ingest::model::MediaFetch;
use crate::store::{self, evidence::FetchTarget, ingest::FETCH_JOB, jobs};
pub use crate::whatsapp::client::{Download, FetchError};

/// Runs until `stop` is cancelled: a [`tick`] whenever a download is queued or due.
pub async fn run(svc: Arc<Core>, stop: CancellationToken) {
    let sem = Arc::new(tokio::sync::Semaphore::new(
        svc.cfg.evidence.concurrency.max(1),
    ));
    loop {
        let had_work = tokio::select! {
            _ = stop.cancelled() => return,
            n = tick_with(&svc, &sem, svc.clock.now()) => n > 0,
        };
        if had_work {
            continue;
        }
        let wait = jobs::wait_until_due(&svc.db, FETCH_JOB).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = svc.wake.fetch.notified() => {},
            _ = tokio::time::sleep(wait) => {},
        }
    }
}

/// One deterministic pass: works the downloads due at `now` (`evidence.concurrency` at a time; a failure is retried
/// after a backoff from `now`). Returns how many jobs it worked.
pub async fn tick(svc: &Arc<Core>, now: DateTime<Utc>) -> usize {
    let sem = Arc::new(tokio::sync::Semaphore::new(
        svc.cfg.evidence.concurrency.max(1),
    ));
    tick_with(svc, &sem, now).await
}

async fn tick_with(
    svc: &Arc<Core>,
    sem: &Arc<tokio::sync::Semaphore>,
    now: DateTime<Utc>,
) -> usize {
    let now_ms = now.timestamp_millis();
    let due = svc
        .db
        .read(move |c| jobs::due(c, FETCH_JOB, now_ms, 32))
        .await
        .unwrap_or_default();
    let mut set = tokio::task::JoinSet::new();
    for job in due {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let svc = svc.clone();
        set.spawn(async move {
            let _permit = permit;
            work_job(&svc, job, now).await;
        });
    }
    let n = set.len();
    while set.join_next().await.is_some() {}
    n
}

async fn work_job(svc: &Arc<Core>, job: jobs::Job, now: DateTime<Utc>) {
    let evidence_id = serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|v| v.get("evidence").and_then(|e| e.as_i64()));
    let Some(eid) = evidence_id else {
        let _ = svc.db.write(move |tx| jobs::complete(tx, job.id)).await;
        return;
    };
    let target = match svc
        .db
        .read(move |c| store::evidence::fetch_target(c, eid))
        .await
    {
        Ok(t) => t,
        Err(_) => {
            let _ = svc.db.write(move |tx| jobs::complete(tx, job.id)).await;
            return;
        }
    };
    let result = match fetch_bytes(svc, &target).await {
        Ok(fetched) => store_fetched(svc, &target, fetched).await,
        Err(e) => Err(e),
    };
    let max = svc.cfg.evidence.max_attempts as i64;
    match result {
        Ok(()) => {
            svc.metrics.media_fetched.fetch_add(1, Ordering::Relaxed);
            let _ = svc.db.write(move |tx| jobs::complete(tx, job.id)).await;
        }
        Err(e) => {
            svc.metrics.media_failed.fetch_add(1, Ordering::Relaxed);
            let msg = e.to_string();
            let permanent = matches!(e, FetchError::Permanent(_)) || job.attempts + 1 >= max;
            tracing::warn!(evidence = eid, attempt = job.attempts + 1, error = %msg, permanent, "media fetch failed");
            let _ = svc
                .db
                .write(move |tx| {
                    if permanent {
                        jobs::complete(tx, job.id)?;
                        store::evidence::mark_failed(tx, eid, "failed", &msg)?;
                        store::events::append(
                            tx,
                            "system:fetcher",
                            "evidence.failed",
                            "evidence",
                            Some(&eid.to_string()),
                            &serde_json::json!({"error": msg}),
                        )?;
                    } else {
                        let next = now
                            .timestamp_millis()
                            .saturating_add(jobs::backoff_ms(job.attempts));
                        jobs::retry_later(tx, job.id, &msg, next)?;
                    }
                    Ok(())
                })
                .await;
        }
    }
}

/// Fetched media: a download streamed to a temporary file, or bytes that were in memory already (inline base64, an
/// Evolution gateway's base64 answer).
pub enum Fetched {
    File(Download),
    Bytes(Vec<u8>),
}

async fn fetch_bytes(svc: &Core, t: &FetchTarget) -> Result<Fetched, FetchError> {
    let max = svc.cfg.evidence.max_media_bytes;
    let tmp = svc.evidence.tmp_dir();
    let bytes = match &t.fetch {
        MediaFetch::CloudMediaId { media_id } => {
            return svc
                .whatsapp
                .cloud_media(media_id, tmp, max)
                .await
                .map(Fetched::File);
        }
        MediaFetch::GatewayUrl { url } => {
            return svc
                .whatsapp
                .gateway_media(&t.source, url, tmp, max)
                .await
                .map(Fetched::File);
        }
        MediaFetch::EvolutionApi {
            message_id,
            instance,
        } => {
            svc.whatsapp
                .evolution_media(message_id, instance.as_deref(), max)
                .await
        }
        MediaFetch::Inline { .. } => {
            let Some(raw_id) = t.raw_payload_id else {
                return Err(FetchError::Permanent(
                    "inline media without a stored payload".into(),
                ));
            };
            let msg_id = t.message_id;
            let (body, source_id) = svc
                .db
                .read(move |c| {
                    let body = store::audit::raw_payload(c, raw_id)?.body;
                    Ok((body, store::messages::source_id(c, msg_id)?))
                })
                .await
                .map_err(|e| FetchError::Retry(e.to_string()))?;
            let n = crate::ingest::evolution::normalize(&body).map_err(|e| {
                FetchError::Permanent(format!("stored payload no longer parses: {e}"))
            })?;
            n.messages
                .into_iter()
                .find(|m| m.source_message_id == source_id)
                .and_then(|m| m.media.into_iter().nth(t.ordinal as usize))
                .and_then(|m| match m.fetch {
                    MediaFetch::Inline { bytes } if !bytes.is_empty() => Some(bytes),
                    _ => None,
                })
                .ok_or_else(|| {
                    FetchError::Permanent("inline media not found in the stored payload".into())
                })
        }
        MediaFetch::ExportFile { filename } => Err(FetchError::Permanent(format!(
            "{filename} comes only from its chat-export archive"
        ))),
        MediaFetch::Unavailable => Err(FetchError::Permanent(
            "the source did not provide the file".into(),
        )),
    }?;
    Ok(Fetched::Bytes(bytes))
}

/// Verifies, stores and analyses fetched media, then marks the evidence ready (and flags duplicate photos).
pub async fn store_fetched(svc: &Core, t: &FetchTarget, media: Fetched) -> Result<(), FetchError> {
    let actual = match &media {
        Fetched::File(d) => d.sha256.clone(),
        Fetched::Bytes(b) => {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(b))
        }
    };
    if let Some(exp) = &t.expected_sha256 {
        if !crate::evidence::sha256_matches(exp, &actual) {
            return Err(FetchError::Retry(format!(
                "downloaded bytes do not match the source's sha256 ({exp})"
            )));
        }
    }
    let file = match media {
        Fetched::File(d) => analyze_and_store_download(svc, d).await?,
        Fetched::Bytes(b) => analyze_and_store(svc, b, None).await?,
    };
    let eid = t.id;
    let dup_check = file.hash;
    svc.db
        .write(move |tx| {
            store::evidence::mark_ready(tx, eid, &file)?;
            if let Some(ph) = dup_check {
                if let Some(of) = store::evidence::find_duplicate(
                    tx,
                    eid,
                    &ph,
                    crate::evidence::photo_hash::find_duplicate,
                )? {
                    store::evidence::set_duplicate_of(tx, eid, of)?;
                }
            }
            store::events::append(
                tx,
                "system:fetcher",
                "evidence.stored",
                "evidence",
                Some(&eid.to_string()),
                &serde_json::json!({"sha256": file.sha256, "bytes": file.bytes}),
            )?;
            Ok(())
        })
        .await
        .map_err(|e| FetchError::Retry(e.to_string()))?;
    svc.wake.transcribe.notify_one();
    Ok(())
}

/// Writes the bytes to the store and computes thumbnail, size, EXIF and perceptual hash (bounded by a semaphore).
pub async fn analyze_and_store(
    svc: &Core,
    bytes: Vec<u8>,
    filename: Option<String>,
) -> Result<store::evidence::StoredFile, FetchError> {
    in_image_slot(svc, move |ev, px| {
        analyze_and_store_blocking(ev, &bytes, filename, px)
    })
    .await
}

/// Moves a download into the store, then analyses it from disk (bounded by the same semaphore).
async fn analyze_and_store_download(
    svc: &Core,
    d: Download,
) -> Result<store::evidence::StoredFile, FetchError> {
    in_image_slot(svc, move |ev, px| {
        ev.put_file(d.path, &d.sha256)
            .map_err(|e| FetchError::Retry(e.to_string()))?;
        let a = crate::evidence::image_info::analyze_file(&ev.path_of(&d.sha256), px)
            .map_err(|e| FetchError::Retry(format!("cannot read the stored file: {e}")))?;
        describe(ev, d.sha256, d.bytes, a, None)
    })
    .await
}

/// Runs file and image work on the blocking pool, at most `image_slots` at a time.
async fn in_image_slot<T: Send + 'static>(
    svc: &Core,
    work: impl FnOnce(&crate::evidence::EvidenceStore, u32) -> Result<T, FetchError> + Send + 'static,
) -> Result<T, FetchError> {
    let _permit = svc
        .image_slots
        .acquire()
        .await
        .map_err(|_| FetchError::Retry("shutting down".into()))?;
    let ev = svc.evidence.clone();
    let px = svc.cfg.evidence.thumbnail_px;
    tokio::task::spawn_blocking(move || work(&ev, px))
        .await
        .map_err(|e| FetchError::Retry(format!("image task failed: {e}")))?
}

pub fn analyze_and_store_blocking(
    ev: &crate::evidence::EvidenceStore,
    bytes: &[u8],
    filename: Option<String>,
    px: u32,
) -> Result<store::evidence::StoredFile, FetchError> {
    let sha = ev
        .put(bytes)
        .map_err(|e| FetchError::Retry(e.to_string()))?;
    let a = crate::evidence::image_info::analyze(bytes, px);
    describe(ev, sha, bytes.len() as u64, a, filename)
}

/// Stores the thumbnail an analysis made and answers what the evidence row records of a stored file.
fn describe(
    ev: &crate::evidence::EvidenceStore,
    sha: String,
    bytes: u64,
    a: crate::evidence::image_info::Analysis,
    filename: Option<String>,
) -> Result<store::evidence::StoredFile, FetchError> {
    let mut thumbnail = false;
    if let Some(t) = &a.thumbnail_jpeg {
        ev.put_thumbnail(&sha, t)
            .map_err(|e| FetchError::Retry(e.to_string()))?;
        thumbnail = true;
    }
    Ok(store::evidence::StoredFile {
        sha256: sha,
        bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
        mime: a.mime,
        thumbnail,
        width: a.width.map(i64::from),
        height: a.height.map(i64::from),
        hash: a.hash,
        exif: a.exif.map(|e| e.to_string()),
        filename,
        warning: a.warning,
    })
}
