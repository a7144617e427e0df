//! Work that follows the 200: every stored message is classified, indexed for search and (with the records engine)
//! linked — from durable state (`messages.processed = 0`), so a crash or restart never loses it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::Services;
use crate::classify::Classifier;
use crate::store::{self, messages::Pending};

/// The shared classifier (replaced when corrections teach it something).
pub struct Pipeline {
    classifier: RwLock<Arc<Classifier>>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipeline {
    pub fn new() -> Pipeline {
        Pipeline {
            classifier: RwLock::new(Arc::new(Classifier::new())),
        }
    }
    pub fn classifier(&self) -> Arc<Classifier> {
        match self.classifier.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    pub fn replace_classifier(&self, c: Classifier) {
        match self.classifier.write() {
            Ok(mut g) => *g = Arc::new(c),
            Err(p) => *p.into_inner() = Arc::new(c),
        }
    }
}

/// Only text and captions are classified (rule L1): not system lines, deleted messages or bare media.
pub fn classifiable(p: &Pending) -> Option<&str> {
    if p.deleted || !matches!(p.msg_type.as_str(), "text" | "media") {
        return None;
    }
    p.text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// Processes one batch of pending messages; returns how many were processed.
pub async fn process_batch(svc: &Services, limit: usize) -> Result<usize, store::StoreError> {
    let pending = svc
        .db
        .read(move |c| store::messages::pending(c, limit))
        .await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let classifier = svc.pipeline.classifier();
    let version = crate::classify::VERSION;
    let n = pending.len();
    let results: Vec<(i64, Option<String>, Option<String>, Option<String>)> =
        tokio::task::spawn_blocking(move || {
            pending
                .iter()
                .map(|p| match classifiable(p) {
                    Some(text) => {
                        let c = classifier.classify(text);
                        let json = serde_json::to_string(&c).ok();
                        (
                            p.id,
                            p.text.clone(),
                            Some(c.kind.as_str().to_string()),
                            json,
                        )
                    }
                    None => (p.id, p.text.clone(), None, None),
                })
                .collect()
        })
        .await
        .map_err(|e| store::StoreError::Io(format!("classifier task failed: {e}")))?;
    svc.db
        .write(move |tx| {
            for (id, text, kind, class) in &results {
                store::messages::set_processed(
                    tx,
                    *id,
                    text.as_deref(),
                    kind.as_deref(),
                    class.as_deref(),
                    kind.as_ref().map(|_| version),
                )?;
            }
            Ok(())
        })
        .await?;
    svc.metrics
        .messages_processed
        .fetch_add(n as u64, Ordering::Relaxed);
    Ok(n)
}

/// Runs until `stop` is cancelled, waking on new messages and every few seconds.
pub async fn run(svc: Arc<Services>, stop: CancellationToken) {
    loop {
        match process_batch(&svc, 1000).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "processing failed; will retry"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = svc.wake.process.notified() => {},
            _ = tokio::time::sleep(Duration::from_secs(5)) => {},
        }
    }
}
