//! The classifiers the pipeline uses: the shared one (replaced when corrections teach it something), one per site
//! (the shared one plus the site's vocabulary, bounded and least-recently-used), which of them a chat gets, and
//! classifying with them outside the writer (a webhook delivery before its write, a background batch before linking).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::Pipeline;
use crate::classify::types::Classification;
use crate::classify::Classifier;
use crate::store::{self, messages::Pending, settings::SiteSettings, StoreError};

/// Site classifiers kept at most (each holds its own lexicon, about 2 MB); the least recently used one is dropped
/// beyond that and rebuilt when needed (about 4 ms).
pub(super) const MAX_SITE_CLASSIFIERS: usize = 16;

/// How long a chat's site (and its settings) are trusted when classifying before the write. Changes made through the
/// API clear the cache at once ([`Classifiers::forget_chat_sites`]); one made by another process (`tapak import
/// --site`) is still safe: the writer compares sites and leaves a mismatch to the background processor.
pub(super) const CHAT_SITE_TTL: Duration = Duration::from_secs(5);

/// A site's classifier, the settings it was built from, and when it was last used.
struct SiteClassifier {
    settings: SiteSettings,
    classifier: Arc<Classifier>,
    used: u64,
}

#[derive(Clone)]
pub(super) struct ChatSite {
    pub site: Option<i64>,
    pub classifier: Arc<Classifier>,
    pub at: Instant,
}

pub struct Classifiers {
    shared: RwLock<Arc<Classifier>>,
    /// Per-site classifiers, keyed by site id with the settings they were built from.
    sites: Mutex<HashMap<i64, SiteClassifier>>,
    /// Counts uses of site classifiers, to tell the least recently used one.
    site_uses: AtomicU64,
    /// Which classifier a chat (by external id) gets, for classifying webhook messages before they are written:
    /// its site and that site's classifier, remembered for [`CHAT_SITE_TTL`].
    chat_sites: Mutex<HashMap<String, ChatSite>>,
}

impl Default for Classifiers {
    fn default() -> Self {
        Classifiers {
            shared: RwLock::new(Arc::new(Classifier::new())),
            sites: Mutex::new(HashMap::new()),
            site_uses: AtomicU64::new(0),
            chat_sites: Mutex::new(HashMap::new()),
        }
    }
}

impl Classifiers {
    pub fn shared(&self) -> Arc<Classifier> {
        match self.shared.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    pub fn replace_shared(&self, c: Classifier) {
        match self.shared.write() {
            Ok(mut g) => *g = Arc::new(c),
            Err(p) => *p.into_inner() = Arc::new(c),
        }
        // Site classifiers are clones of the shared one: rebuilt from the new one when next needed.
        self.release_site_classifiers();
    }
    /// The classifier for a site: the shared one with the site's vocabulary (block names, area aliases, site names
    /// from the site's settings) feeding the extractors.
    pub fn for_site(&self, site_id: i64, settings: &SiteSettings) -> Arc<Classifier> {
        let used = self.site_uses.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.sites.lock() {
            if let Some(e) = m.get_mut(&site_id).filter(|e| e.settings == *settings) {
                e.used = used;
                return e.classifier.clone();
            }
        }
        let vocab = settings.vocabulary();
        let base = self.shared();
        let c = if vocab == crate::classify::SiteVocabulary::default() {
            base
        } else {
            let mut c = (*base).clone();
            c.set_site_vocabulary(vocab);
            Arc::new(c)
        };
        if let Ok(mut m) = self.sites.lock() {
            if m.len() >= MAX_SITE_CLASSIFIERS && !m.contains_key(&site_id) {
                if let Some(oldest) = m.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| *k) {
                    m.remove(&oldest);
                }
            }
            m.insert(
                site_id,
                SiteClassifier {
                    settings: settings.clone(),
                    classifier: c.clone(),
                    used,
                },
            );
        }
        c
    }
    /// What is remembered of a chat's site, if still fresh.
    pub(super) fn chat_site(&self, external_id: &str) -> Option<ChatSite> {
        let m = self.chat_sites.lock().ok()?;
        m.get(external_id)
            .filter(|c| c.at.elapsed() < CHAT_SITE_TTL)
            .cloned()
    }
    pub(super) fn remember_chat_site(&self, external_id: &str, c: ChatSite) {
        if let Ok(mut m) = self.chat_sites.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(external_id.to_string(), c);
        }
    }
    /// Drops what is remembered of chats' sites (after a chat moves to another site or a site's settings change), so
    /// the next webhook message of each chat is classified with what the database says now.
    pub fn forget_chat_sites(&self) {
        if let Ok(mut m) = self.chat_sites.lock() {
            *m = Default::default();
        }
    }
    /// Drops the per-site classifiers (each holds its own lexicon, about 2 MB; the model weights are shared) and the
    /// chat → site memory; they are rebuilt on demand (a site's classifier in about 4 ms). Returns how many site
    /// classifiers were dropped.
    pub fn release_site_classifiers(&self) -> usize {
        self.forget_chat_sites();
        self.sites
            .lock()
            .map(|mut m| {
                let n = m.len();
                *m = Default::default();
                n
            })
            .unwrap_or(0)
    }
    /// How many per-site classifiers are held in memory.
    pub fn site_classifiers(&self) -> usize {
        self.sites.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// Only text and captions are classified (rule L1): not system lines, deleted messages or bare media.
pub fn classifiable(p: &Pending) -> Option<&str> {
    classifiable_text(&p.msg_type, p.deleted, p.text.as_deref())
}

fn classifiable_text<'a>(msg_type: &str, deleted: bool, text: Option<&'a str>) -> Option<&'a str> {
    if deleted || !matches!(msg_type, "text" | "media") {
        return None;
    }
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// The classifier for a chat known by its external id, with the site it was built for (a chat not seen yet has no
/// site, so it gets the shared classifier). Looked up at most every [`CHAT_SITE_TTL`] per chat.
async fn chat_classifier(
    svc: &Pipeline,
    external_id: &str,
) -> Result<(Option<i64>, Arc<Classifier>), StoreError> {
    if let Some(c) = svc.classifiers.chat_site(external_id) {
        return Ok((c.site, c.classifier));
    }
    let ext = external_id.to_string();
    let found = svc
        .db
        .read(move |c| store::chats::site_of_external(c, &ext))
        .await?;
    let (site, classifier) = match found {
        Some((Some(site), settings)) => (Some(site), svc.classifiers.for_site(site, &settings)),
        _ => (None, svc.classifier()),
    };
    svc.classifiers.remember_chat_site(
        external_id,
        ChatSite {
            site,
            classifier: classifier.clone(),
            at: std::time::Instant::now(),
        },
    );
    Ok((site, classifier))
}

/// Classifies a delivery's messages before they are written (CPU work outside the writer), each with its chat's site
/// classifier, so the write can link them at once. A message whose chat cannot be looked up is left unclassified
/// (`None`): it is then processed in the background like any other.
pub async fn preclassify(
    svc: &Pipeline,
    messages: &[crate::ingest::model::InboundMessage],
) -> Vec<Option<PreClass>> {
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let pre = match chat_classifier(svc, &m.chat.external_id).await {
            Ok((site, classifier)) => Some(PreClass {
                site,
                class: classifiable_text(m.msg_type.as_str(), m.deleted, m.text.as_deref())
                    .map(|t| classifier.classify(t)),
            }),
            Err(e) => {
                tracing::debug!(error = %e, "chat lookup before the write failed");
                None
            }
        };
        out.push(pre);
    }
    out
}

/// Classification of one pending message, computed outside the writer.
pub struct Classified {
    pub pending: Pending,
    pub class: Option<Classification>,
}

/// Classifies pending messages (CPU work, no database), with the chat's site classifier where there is one.
pub fn classify_pending(
    classifier: &Classifier,
    by_chat: &std::collections::HashMap<i64, Arc<Classifier>>,
    pending: Vec<Pending>,
) -> Vec<Classified> {
    pending
        .into_iter()
        .map(|p| {
            let c = by_chat
                .get(&p.chat_id)
                .map(|c| c.as_ref())
                .unwrap_or(classifier);
            let class = classifiable(&p).map(|t| c.classify(t));
            Classified { pending: p, class }
        })
        .collect()
}

/// A webhook message's classification, made before the write with the classifier of the chat's site as known then.
#[derive(Debug, Clone)]
pub struct PreClass {
    pub site: Option<i64>,
    /// `None` for a message with nothing to classify (a photo without caption, a sticker…): still linked.
    pub class: Option<Classification>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_classifiers_are_bounded_and_the_least_recently_used_goes_first() {
        let p = Classifiers::default();
        let settings = |i: i64| SiteSettings {
            blocks: vec![format!("Blok{i}")],
            ..Default::default()
        };
        for i in 0..MAX_SITE_CLASSIFIERS as i64 {
            p.for_site(i, &settings(i));
        }
        assert_eq!(p.site_classifiers(), MAX_SITE_CLASSIFIERS);
        // Site 0 is used again, so site 1 is now the least recently used.
        let kept = p.for_site(0, &settings(0));
        let extra = MAX_SITE_CLASSIFIERS as i64;
        p.for_site(extra, &settings(extra));
        assert_eq!(p.site_classifiers(), MAX_SITE_CLASSIFIERS);
        assert!(Arc::ptr_eq(&kept, &p.for_site(0, &settings(0))));
        let c = p.for_site(1, &settings(1));
        assert_eq!(
            c.classify("Lampu Blok1 rosak").location.block.as_deref(),
            Some("Blok1"),
            "rebuilt when needed again"
        );
        // New settings for a site replace its classifier (no second entry).
        p.for_site(
            1,
            &SiteSettings {
                blocks: vec!["Kenanga".into()],
                ..Default::default()
            },
        );
        assert_eq!(p.site_classifiers(), MAX_SITE_CLASSIFIERS);
    }
}
