//! Work that follows the 200: every stored message is classified, indexed for search and linked into records (task
//! entries, issue tickets, evidence) — from durable state (`messages.processed = 0`), so a crash or restart never loses
//! it. Each batch runs inside one write transaction, so concurrent processors (the server and a `tapak import`) never
//! process a message twice.
//!
//! The parts: [`classifiers`] (the shared and per-site classifiers, and classifying with them), [`state`] (the
//! per-chat engine states cached between batches), [`link`] (linking messages into records inside a write),
//! [`worker`] (the background loop), [`inbox`] (filing webhook deliveries) and [`corrections`].

use std::sync::Arc;

use serde::Serialize;

use crate::classify::Classifier;
use crate::core::Core;

mod classifiers;
mod corrections;
pub mod inbox;
mod link;
mod state;
mod worker;

use classifiers::Classifiers;
pub use classifiers::{classifiable, classify_pending, preclassify, Classified, PreClass};
pub use corrections::{
    apply_correction, reclassify_outdated, side_effects, Corrected, CorrectionInput, LinkRef,
    SideEffect,
};
pub use link::{link_in_tx, link_new_in_tx, replay_chat_in_tx, InlineStats};
pub use state::{checkpoint_in_tx, StateCache};
pub use worker::{checkpoint, drain, index_search, process_batch, run, slim, tick_chats};

/// The records pipeline: the core it works on, its classifiers, and the records engine's per-chat states (kept in
/// memory between batches and snapshotted to the database now and then). Derefs to the [`Core`].
pub struct Pipeline {
    core: Arc<Core>,
    classifiers: Classifiers,
    states: Arc<StateCache>,
    /// Webhook deliveries accepted and not yet answered (see [`inbox::accept`]).
    webhooks_in_flight: Arc<std::sync::atomic::AtomicUsize>,
    /// How fast the inbox is being filed (for the dashboard's backlog).
    filing: inbox::FilingRate,
}

impl std::ops::Deref for Pipeline {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Pipeline {
    /// The pipeline over `core`, its shared classifier taught every reclassification managers have made.
    pub fn new(core: Arc<Core>) -> Pipeline {
        let p = Pipeline {
            core,
            classifiers: Classifiers::default(),
            states: Arc::new(StateCache::default()),
            webhooks_in_flight: Arc::default(),
            filing: inbox::FilingRate::default(),
        };
        match corrections::learn_from_corrections(&p.db, &p.classifiers) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                corrections = n,
                "classifier adapted to managers' corrections"
            ),
            Err(e) => tracing::warn!(error = %e, "could not load classification corrections"),
        }
        p
    }
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }
    pub fn classifier(&self) -> Arc<Classifier> {
        self.classifiers.shared()
    }
    /// Drops what is remembered of chats' sites (after a chat moves to another site or a site's settings change), so
    /// the next webhook message of each chat is classified with what the database says now.
    pub fn forget_chat_sites(&self) {
        self.classifiers.forget_chat_sites()
    }
    /// How many per-site classifiers are held in memory.
    pub fn site_classifiers(&self) -> usize {
        self.classifiers.site_classifiers()
    }
    pub fn states(&self) -> Arc<StateCache> {
        self.states.clone()
    }
    /// Deliveries filed from the inbox per second lately (see [`inbox::FilingRate`]).
    pub fn filing_rate(&self) -> Option<f64> {
        self.filing.per_second()
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DrainStats {
    pub processed: usize,
    pub records_created: usize,
    pub issues_opened: usize,
    pub tasks_opened: usize,
}
