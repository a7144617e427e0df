//! The background processor: pending messages are read and classified outside the writer, linked in short write
//! jobs, indexed for search, and the chat states snapshotted; [`run`] loops over that until shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::link::{apply_all, link_in_tx};
use super::state::{acquire, checkpoint_in_tx, release};
use super::{classify_pending, inbox, reclassify_outdated, Classified, DrainStats, Pipeline};
use crate::records;
use crate::store::{self, StoreError};

/// Records-engine write jobs hold the writer; keep them short so webhooks are acknowledged quickly.
const LINK_BATCH: usize = 256;

/// Shortest pause between two search-index passes while messages arrive.
const INDEX_EVERY: Duration = Duration::from_millis(250);

/// Messages added to the search index per write job (one FTS5 flush each; a few ms of writer time).
const INDEX_BATCH: usize = 1024;

/// Brings the full-text index up to date (in batches, so webhooks keep being acknowledged in between); returns how
/// many messages it indexed.
pub async fn index_search(svc: &Pipeline) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = svc
            .db
            .write(|tx| store::messages::index_pending(tx, INDEX_BATCH))
            .await?;
        total += n;
        if n < INDEX_BATCH {
            return Ok(total);
        }
    }
}

/// Processes one batch of pending messages; returns how many were processed.
pub async fn process_batch(svc: &Pipeline, limit: usize) -> Result<usize, StoreError> {
    Ok(process_batch_stats(svc, limit).await?.processed)
}

/// Reads up to `limit` pending messages after id `after` and classifies them (outside the writer), each with its
/// site's classifier.
async fn fetch_classified(
    svc: &Pipeline,
    after: i64,
    limit: usize,
) -> Result<Vec<Classified>, StoreError> {
    let pending = svc
        .db
        .read(move |c| store::messages::pending_after(c, after, limit))
        .await?;
    if pending.is_empty() {
        return Ok(vec![]);
    }
    let classifier = svc.classifier();
    let chats: Vec<i64> = {
        let mut c: Vec<i64> = pending.iter().map(|p| p.chat_id).collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    let site_settings = svc
        .db
        .read(move |c| store::settings::sites_of_chats(c, &chats))
        .await?;
    let mut by_chat = std::collections::HashMap::new();
    for (chat, site, settings) in site_settings {
        by_chat.insert(chat, svc.classifiers.for_site(site, &settings));
    }
    tokio::task::spawn_blocking(move || classify_pending(&classifier, &by_chat, pending))
        .await
        .map_err(|e| StoreError::Io(format!("classifier task failed: {e}")))
}

/// Links a classified batch in one write transaction.
async fn link_batch(svc: &Pipeline, batch: Vec<Classified>) -> Result<DrainStats, StoreError> {
    if batch.is_empty() {
        return Ok(DrainStats::default());
    }
    let cache = svc.states();
    let tz = svc.tz;
    let now = svc.clock.now();
    let stats = svc
        .db
        // Linking only writes to the database and to state entries that are reloaded when the database disagrees
        // with them (the chat's seq), so it can run again if its group is retried.
        .write_retryable(move |tx| link_in_tx(tx, &cache, &batch, tz, now))
        .await?;
    svc.metrics
        .messages_processed
        .fetch_add(stats.processed as u64, Ordering::Relaxed);
    Ok(stats)
}

async fn process_batch_stats(svc: &Pipeline, limit: usize) -> Result<DrainStats, StoreError> {
    let batch = fetch_classified(svc, 0, limit.min(LINK_BATCH)).await?;
    link_batch(svc, batch).await
}

/// Snapshots changed chat states.
pub async fn checkpoint(svc: &Pipeline) -> Result<usize, StoreError> {
    let cache = svc.states();
    let chats = cache.chats();
    let mut n = 0;
    // A few chats per write job: serialising many states at once would hold webhooks up.
    for part in chats.chunks(CHECKPOINT_CHATS) {
        let (cache, part) = (cache.clone(), part.to_vec());
        n += svc
            .db
            .write(move |tx| checkpoint_in_tx(tx, &cache, &part))
            .await?;
    }
    Ok(n)
}

/// Chats snapshotted per write job.
const CHECKPOINT_CHATS: usize = 8;

/// Processes until nothing is pending (used after an import), then snapshots the states. Classifying the next batch
/// overlaps with linking the current one (the two cores both work).
pub async fn drain(svc: &Pipeline) -> Result<DrainStats, StoreError> {
    let mut total = DrainStats::default();
    inbox::file_waiting(svc).await?;
    let mut current = fetch_classified(svc, 0, LINK_BATCH).await?;
    loop {
        if current.is_empty() {
            let pending = svc.db.read(store::messages::count_pending).await?;
            if pending == 0 {
                index_search(svc).await?;
                checkpoint(svc).await?;
                return Ok(total);
            }
            // Messages below the cursor became pending again (an edit): start over from the oldest.
            current = fetch_classified(svc, 0, LINK_BATCH).await?;
            if current.is_empty() {
                continue;
            }
        }
        let after = current.iter().map(|c| c.pending.id).max().unwrap_or(0);
        let (next, stats) = tokio::join!(
            fetch_classified(svc, after, LINK_BATCH),
            link_batch(svc, current)
        );
        let s = stats?;
        total.processed += s.processed;
        total.records_created += s.records_created;
        total.issues_opened += s.issues_opened;
        total.tasks_opened += s.tasks_opened;
        current = next?;
    }
}

/// Settles media decisions in live chats whose 10-minute window has passed.
pub async fn tick_chats(svc: &Pipeline) -> Result<(), StoreError> {
    let tz = svc.tz;
    let now = svc.clock.now();
    let cache = svc.states();
    svc.db
        .write(move |tx| {
            let sla = store::records::sla_policy(tx)?;
            let mut applied = store::records::Applied::default();
            for chat in cache.chats_with_pending_media() {
                // A chat still catching up is ticked when its last waiting message is linked (see link_in_tx).
                if store::messages::chat_has_pending(tx, chat)? {
                    continue;
                }
                let mut c = acquire(tx, &cache, chat, &sla, tz, &mut applied)?;
                let fx = records::tick(&mut c.state, now, &c.ov);
                apply_all(tx, &fx, &sla, tz, &mut applied)?;
                release(tx, &cache, chat, c)?;
            }
            Ok(())
        })
        .await
}

/// Snapshots and drops the cached engine states that wait for nothing, and releases SQLite's and the allocator's
/// free memory. Returns how many states were dropped.
pub async fn slim(svc: &Pipeline) -> Result<usize, StoreError> {
    checkpoint(svc).await?;
    let n = svc.states().shed();
    svc.classifiers.release_site_classifiers();
    svc.db.release_memory().await?;
    Ok(n)
}

/// Runs until `stop` is cancelled, waking on new messages and every few seconds; snapshots states every few seconds
/// and at shutdown.
pub async fn run(svc: Arc<Pipeline>, stop: CancellationToken) {
    let bg = svc.clone();
    tokio::spawn(async move {
        match reclassify_outdated(&bg, 30).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                changed = n,
                "re-classified recent messages with the new classifier"
            ),
            Err(e) => tracing::warn!(error = %e, "re-classification after an upgrade failed"),
        }
    });
    let mut last_tick = std::time::Instant::now();
    let mut last_checkpoint = std::time::Instant::now();
    let mut last_index = std::time::Instant::now();
    let mut last_busy = std::time::Instant::now();
    let mut slimmed = false;
    loop {
        if last_checkpoint.elapsed() >= Duration::from_secs(10) {
            if let Err(e) = checkpoint(&svc).await {
                tracing::warn!(error = %e, "saving records state failed; will retry");
            }
            last_checkpoint = std::time::Instant::now();
        }
        let processed = match process_batch(&svc, LINK_BATCH).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "processing failed; will retry");
                0
            }
        };
        // Search indexing follows processing, in batches: at most every INDEX_EVERY while messages keep arriving
        // (webhook messages are mostly processed in their own write, so each wake-up would otherwise index a few),
        // and at least twice a second while a backlog is processed.
        if processed == 0 || last_index.elapsed() >= Duration::from_millis(500) {
            let since = last_index.elapsed();
            if processed == 0 && since < INDEX_EVERY {
                tokio::time::sleep(INDEX_EVERY - since).await;
            }
            match index_search(&svc).await {
                // Webhook messages are processed in their own write, so new messages show here (and in
                // `processed` only when they waited): either counts as activity for the idle release below.
                Ok(n) if n > 0 => {
                    last_busy = std::time::Instant::now();
                    slimmed = false;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "search indexing failed; will retry"),
            }
            last_index = std::time::Instant::now();
        }
        if processed > 0 {
            last_busy = std::time::Instant::now();
            slimmed = false;
            continue;
        }
        // After `server.idle_release_secs` without new messages the appliance gives its caches back (a box that idles
        // most of the day keeps a small footprint; the first message afterwards reloads what it needs).
        let idle_release = svc.cfg.server.idle_release_secs;
        if !slimmed && idle_release > 0 && last_busy.elapsed() >= Duration::from_secs(idle_release)
        {
            slimmed = true;
            match slim(&svc).await {
                Ok(n) => tracing::debug!(states = n, "idle: released cached memory"),
                Err(e) => tracing::warn!(error = %e, "releasing idle memory failed"),
            }
        }
        if last_tick.elapsed() >= Duration::from_secs(30) {
            if let Err(e) = tick_chats(&svc).await {
                tracing::warn!(error = %e, "media settling failed; will retry");
            }
            last_tick = std::time::Instant::now();
        }
        tokio::select! {
            _ = stop.cancelled() => {
                if let Err(e) = checkpoint(&svc).await {
                    tracing::warn!(error = %e, "saving records state at shutdown failed");
                }
                return;
            }
            _ = svc.wake.process.notified() => {},
            _ = tokio::time::sleep(Duration::from_secs(if idle_release == 0 { 5 } else { idle_release.clamp(1, 5) })) => {},
        }
    }
}
