//! The media fetcher: works the persistent `fetch_media` job queue, retries with backoff, survives restarts.
//!
//! Cloud API media go through the Graph API in two steps (`GET /{version}/{media-id}` → URL, then the URL, both with
//! the bearer token). Gateway media are fetched only from the configured gateway's own host. Inline media (Evolution
//! base64) are re-read from the stored raw payload. Evolution media with neither are asked of the configured
//! Evolution gateway (`getBase64FromMediaMessage`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::ingest::model::{MediaFetch, Source};
use crate::store::{self, evidence::FetchTarget, ingest::FETCH_JOB, jobs};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Worth retrying (network, 5xx, expired URL…).
    #[error("{0}")]
    Retry(String),
    /// Will never work (not configured, forbidden host, too large…).
    #[error("{0}")]
    Permanent(String),
}

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

/// Reads a response body up to `max` bytes (`what` names it in errors: "media", "WAHA lids answer"…).
pub(crate) async fn read_limited(
    mut resp: reqwest::Response,
    max: u64,
    what: &str,
) -> Result<Vec<u8>, FetchError> {
    if let Some(len) = resp.content_length() {
        if len > max {
            return Err(FetchError::Permanent(format!(
                "{what} is {len} bytes, above the {max}-byte limit"
            )));
        }
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| FetchError::Retry(format!("{what}: download interrupted: {e}")))?
    {
        if out.len() as u64 + chunk.len() as u64 > max {
            return Err(FetchError::Permanent(format!(
                "{what} is above the {max}-byte limit"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Fetched media: a download streamed to a temporary file, or bytes that were in memory already (inline base64, an
/// Evolution gateway's base64 answer).
pub enum Fetched {
    File(Download),
    Bytes(Vec<u8>),
}

/// A download in the data dir's `tmp/`, hashed while it streamed. The file is removed when this is dropped, unless
/// it was moved into the evidence store.
pub struct Download {
    pub path: tempfile::TempPath,
    pub sha256: String,
    pub bytes: u64,
}

/// Streams a response body to a new file in `tmp_dir`, hashing it on the way and stopping at `max` bytes, so a 100 MB
/// video never sits in memory. On any failure the partial file is removed.
pub(crate) async fn download_to_tmp(
    resp: reqwest::Response,
    tmp_dir: &std::path::Path,
    max: u64,
    what: &str,
) -> Result<Download, FetchError> {
    use futures_util::StreamExt;
    use sha2::Digest;
    use tokio::io::AsyncWriteExt;
    if let Some(len) = resp.content_length() {
        if len > max {
            return Err(FetchError::Permanent(format!(
                "{what} is {len} bytes, above the {max}-byte limit"
            )));
        }
    }
    let (file, path) = tempfile::Builder::new()
        .prefix("media-")
        .tempfile_in(tmp_dir)
        .map_err(|e| {
            FetchError::Retry(format!(
                "{what}: cannot create a file in {}: {e}",
                tmp_dir.display()
            ))
        })?
        .into_parts();
    let write_error = |e: std::io::Error| {
        FetchError::Retry(format!("{what}: cannot write {}: {e}", path.display()))
    };
    let mut file = tokio::fs::File::from_std(file);
    let mut sha = sha2::Sha256::new();
    let mut bytes = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| FetchError::Retry(format!("{what}: download interrupted: {e}")))?;
        bytes = bytes.saturating_add(chunk.len() as u64);
        if bytes > max {
            return Err(FetchError::Permanent(format!(
                "{what} is above the {max}-byte limit"
            )));
        }
        sha.update(&chunk);
        file.write_all(&chunk).await.map_err(write_error)?;
    }
    file.sync_all().await.map_err(write_error)?;
    drop(file);
    Ok(Download {
        path,
        sha256: hex::encode(sha.finalize()),
        bytes,
    })
}

/// A non-2xx answer: worth retrying for 5xx, 429, 401/403 (expired URL or token) and 404 (not there yet), else not.
pub(crate) fn status_error(what: &str, s: reqwest::StatusCode) -> FetchError {
    if s.is_server_error()
        || s == reqwest::StatusCode::TOO_MANY_REQUESTS
        || s == reqwest::StatusCode::UNAUTHORIZED
        || s == reqwest::StatusCode::FORBIDDEN
        || s == reqwest::StatusCode::NOT_FOUND
    {
        FetchError::Retry(format!("{what} answered {s}"))
    } else {
        FetchError::Permanent(format!("{what} answered {s}"))
    }
}

fn same_host(url: &str, base: &str) -> bool {
    match (url::Url::parse(url), url::Url::parse(base)) {
        (Ok(u), Ok(b)) => {
            u.scheme() == b.scheme()
                && u.host_str() == b.host_str()
                && u.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => "(no host)".to_string(),
        },
        Err(_) => "(unparsable URL)".to_string(),
    }
}

fn refuse_host(url: &str, base: &str) -> FetchError {
    FetchError::Permanent(format!(
        "refusing media URL {url}: host {} is not the configured gateway host {}",
        host_of(url),
        host_of(base)
    ))
}

/// WAHA advertises media under its own idea of its address (`WHATSAPP_API_HOSTNAME`, often `http://waha:3000` or
/// `localhost`), which may differ from the `base_url` tapak reaches it at. A media URL on the configured host is used
/// as is; one elsewhere whose path is under `/api/files/` is re-based onto `base_url` (path and query kept), so the
/// request still goes only to the configured gateway; anything else is refused.
pub fn waha_media_url(url: &str, base: &str) -> Result<String, FetchError> {
    if same_host(url, base) {
        return Ok(url.to_string());
    }
    let u = url::Url::parse(url)
        .map_err(|e| FetchError::Permanent(format!("invalid media URL {url:?}: {e}")))?;
    if !u.path().starts_with("/api/files/") {
        return Err(refuse_host(url, base));
    }
    let mut b = url::Url::parse(base).map_err(|e| {
        FetchError::Permanent(format!("whatsapp.waha.base_url {base:?} is not a URL: {e}"))
    })?;
    let path = format!("{}{}", b.path().trim_end_matches('/'), u.path());
    b.set_path(&path);
    b.set_query(u.query());
    b.set_fragment(None);
    Ok(b.to_string())
}

async fn fetch_bytes(svc: &Core, t: &FetchTarget) -> Result<Fetched, FetchError> {
    let max = svc.cfg.evidence.max_media_bytes;
    let tmp = svc.evidence.tmp_dir();
    let bytes = match &t.fetch {
        MediaFetch::CloudMediaId { media_id } => {
            let c = &svc.cfg.whatsapp.cloud;
            if !c.access_token.is_set() {
                return Err(FetchError::Retry(
                    "whatsapp.cloud.access_token is not configured".into(),
                ));
            }
            let base = c.graph_base_url.trim_end_matches('/');
            let meta_url = format!("{base}/{}/{}", c.graph_version, urlencode(media_id));
            let resp = svc
                .http
                .get(&meta_url)
                .bearer_auth(c.access_token.expose())
                .send()
                .await
                .map_err(|e| FetchError::Retry(format!("Graph API unreachable: {e}")))?;
            if !resp.status().is_success() {
                return Err(status_error("Graph API media lookup", resp.status()));
            }
            let meta: serde_json::Value = resp
                .json()
                .await
                .map_err(|e| FetchError::Retry(format!("Graph API media lookup: bad JSON: {e}")))?;
            let url = meta.get("url").and_then(|u| u.as_str()).ok_or_else(|| {
                FetchError::Retry("Graph API media lookup returned no url".into())
            })?;
            if !(url.starts_with("https://") || same_host(url, base)) {
                return Err(FetchError::Permanent(format!(
                    "refusing non-HTTPS media URL {url}"
                )));
            }
            let resp = svc
                .http
                .get(url)
                .bearer_auth(c.access_token.expose())
                .send()
                .await
                .map_err(|e| FetchError::Retry(format!("media download failed: {e}")))?;
            if !resp.status().is_success() {
                return Err(status_error("media download", resp.status()));
            }
            return download_to_tmp(resp, tmp, max, "media")
                .await
                .map(Fetched::File);
        }
        MediaFetch::GatewayUrl { url } => {
            let (base, key_header, key) = match Source::parse(&t.source) {
                Some(Source::Waha) => (
                    &svc.cfg.whatsapp.waha.base_url,
                    "X-Api-Key",
                    &svc.cfg.whatsapp.waha.api_key,
                ),
                Some(Source::Evolution) => (
                    &svc.cfg.whatsapp.evolution.base_url,
                    "apikey",
                    &svc.cfg.whatsapp.evolution.api_key,
                ),
                _ => {
                    return Err(FetchError::Permanent(
                        "gateway URL on a non-gateway message".into(),
                    ))
                }
            };
            if base.is_empty() {
                return Err(FetchError::Permanent(format!(
                    "{} base_url is not configured, so its media URLs cannot be trusted",
                    t.source
                )));
            }
            let url = match Source::parse(&t.source) {
                Some(Source::Waha) => waha_media_url(url, base)?,
                _ if same_host(url, base) => url.clone(),
                _ => return Err(refuse_host(url, base)),
            };
            let mut req = svc.http.get(&url);
            if key.is_set() {
                req = req.header(key_header, key.expose());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| FetchError::Retry(format!("gateway unreachable: {e}")))?;
            if !resp.status().is_success() {
                return Err(status_error("gateway media download", resp.status()));
            }
            return download_to_tmp(resp, tmp, max, "media")
                .await
                .map(Fetched::File);
        }
        MediaFetch::EvolutionApi {
            message_id,
            instance,
        } => fetch_evolution_media(svc, message_id, instance.as_deref()).await,
        MediaFetch::Inline { .. } => {
            let Some(raw_id) = t.raw_payload_id else {
                return Err(FetchError::Permanent(
                    "inline media without a stored payload".into(),
                ));
            };
            let body: Vec<u8> = svc
                .db
                .read(move |c| {
                    Ok(c.query_row(
                        "SELECT body FROM raw_payloads WHERE id = ?1",
                        [raw_id],
                        |r| r.get(0),
                    )?)
                })
                .await
                .map_err(|e| FetchError::Retry(e.to_string()))?;
            let msg_id = t.message_id;
            let source_id: String = svc
                .db
                .read(move |c| {
                    Ok(c.query_row(
                        "SELECT source_message_id FROM messages WHERE id = ?1",
                        [msg_id],
                        |r| r.get(0),
                    )?)
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

/// `segments` appended to a configured gateway's base URL (its own path kept), each percent-encoded as one path
/// segment, with no query or fragment: whatever a payload or a setting puts in a segment cannot leave that gateway.
/// `setting` names the base URL's configuration key in the error.
pub(crate) fn gateway_url(
    base: &str,
    setting: &str,
    segments: &[&str],
) -> Result<String, FetchError> {
    let mut u = url::Url::parse(base)
        .map_err(|e| FetchError::Permanent(format!("{setting} {base:?} is not a URL: {e}")))?;
    let mut path = u.path().trim_end_matches('/').to_string();
    for seg in segments {
        path.push('/');
        path.push_str(&urlencode(seg));
    }
    u.set_path(&path);
    u.set_query(None);
    u.set_fragment(None);
    Ok(u.to_string())
}

/// The `getBase64FromMediaMessage` URL on the configured Evolution gateway. The instance is the configured one, else
/// the one the webhook named; it is one path segment, percent-encoded.
pub fn evolution_media_url(base: &str, instance: &str) -> Result<String, FetchError> {
    if instance.trim_matches('.').is_empty() {
        return Err(FetchError::Permanent(format!(
            "invalid Evolution instance name {instance:?}"
        )));
    }
    gateway_url(
        base,
        "whatsapp.evolution.base_url",
        &["chat", "getBase64FromMediaMessage", instance],
    )
}

/// Evolution media with neither inline base64 nor a `mediaUrl`: asks the configured gateway to download and decrypt
/// it (`POST /chat/getBase64FromMediaMessage/{instance}` with the `apikey` header) and decodes the base64 answer.
async fn fetch_evolution_media(
    svc: &Core,
    message_id: &str,
    instance: Option<&str>,
) -> Result<Vec<u8>, FetchError> {
    let e = &svc.cfg.whatsapp.evolution;
    if e.base_url.is_empty() {
        return Err(FetchError::Permanent(
            "whatsapp.evolution.base_url is not configured, so media without base64 or mediaUrl cannot be fetched"
                .into(),
        ));
    }
    let instance = Some(e.instance.as_str())
        .filter(|i| !i.is_empty())
        .or(instance.filter(|i| !i.is_empty()))
        .ok_or_else(|| {
            FetchError::Permanent(
                "no Evolution instance: neither whatsapp.evolution.instance nor the webhook named one".into(),
            )
        })?;
    let url = evolution_media_url(&e.base_url, instance)?;
    let mut req = svc.http.post(&url).json(&serde_json::json!({
        "message": {"key": {"id": message_id}},
        "convertToMp4": false,
    }));
    if e.api_key.is_set() {
        req = req.header("apikey", e.api_key.expose());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| FetchError::Retry(format!("Evolution gateway unreachable: {e}")))?;
    if !resp.status().is_success() {
        return Err(status_error(
            "Evolution getBase64FromMediaMessage",
            resp.status(),
        ));
    }
    let max = svc.cfg.evidence.max_media_bytes;
    // Base64 is 4/3 of the bytes, plus the JSON around it.
    let body = read_limited(
        resp,
        max.saturating_mul(4) / 3 + 64 * 1024,
        "Evolution media answer",
    )
    .await?;
    let answer = crate::ingest::evolution::parse_media_answer(&body)
        .map_err(|e| FetchError::Retry(format!("Evolution getBase64FromMediaMessage: {e}")))?;
    if answer.bytes.len() as u64 > max {
        return Err(FetchError::Permanent(format!(
            "media is {} bytes, above the {max}-byte limit",
            answer.bytes.len()
        )));
    }
    Ok(answer.bytes)
}

pub(crate) fn urlencode(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                c.to_string()
            } else {
                let mut b = [0u8; 4];
                c.encode_utf8(&mut b)
                    .bytes()
                    .map(|x| format!("%{x:02X}"))
                    .collect()
            }
        })
        .collect()
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
                if let Some(of) = store::evidence::find_duplicate(tx, eid, &ph)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evolution_media_url_stays_on_the_configured_gateway() {
        assert_eq!(
            evolution_media_url("http://127.0.0.1:8080", "ops-menara-contoh").unwrap(),
            "http://127.0.0.1:8080/chat/getBase64FromMediaMessage/ops-menara-contoh"
        );
        assert_eq!(
            evolution_media_url("https://gw.example/evo/", "Ops Menara").unwrap(),
            "https://gw.example/evo/chat/getBase64FromMediaMessage/Ops%20Menara"
        );
        // A hostile instance name stays one path segment on the configured host.
        let u = evolution_media_url("http://127.0.0.1:8080", "../../x?y=1#z@evil:1").unwrap();
        assert!(
            u.starts_with("http://127.0.0.1:8080/chat/getBase64FromMediaMessage/")
                && !u.contains('?')
                && !u.contains('#')
                && !u.contains("/../"),
            "{u}"
        );
        assert!(matches!(
            evolution_media_url("http://127.0.0.1:8080", ".."),
            Err(FetchError::Permanent(_))
        ));
        assert!(matches!(
            evolution_media_url("not a url", "i"),
            Err(FetchError::Permanent(_))
        ));
    }

    #[test]
    fn waha_media_urls_are_rebased_onto_the_configured_gateway() {
        let base = "http://127.0.0.1:3555";
        assert_eq!(
            waha_media_url("http://waha:3000/api/files/false_1@g.us_3A.jpeg?x=1", base).unwrap(),
            "http://127.0.0.1:3555/api/files/false_1@g.us_3A.jpeg?x=1"
        );
        assert_eq!(
            waha_media_url("http://127.0.0.1:3555/api/files/a.oga", base).unwrap(),
            "http://127.0.0.1:3555/api/files/a.oga"
        );
        assert_eq!(
            waha_media_url(
                "http://localhost:3000/api/files/a.oga",
                "https://gw.example/waha/"
            )
            .unwrap(),
            "https://gw.example/waha/api/files/a.oga"
        );
        for bad in [
            "http://169.254.169.254/latest/meta-data/",
            "http://waha:3000/api/sessions",
            "http://waha:3000/api/files/../../api/sessions",
        ] {
            let e = waha_media_url(bad, base).unwrap_err().to_string();
            assert!(
                e.contains("is not the configured gateway host 127.0.0.1:3555"),
                "{bad}: {e}"
            );
        }
        assert!(waha_media_url("http://169.254.169.254/x", base)
            .unwrap_err()
            .to_string()
            .contains("host 169.254.169.254 "));
    }
}
