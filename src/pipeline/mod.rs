//! Work that follows the 200: every stored message is classified, indexed for search and linked into records (task
//! entries, issue tickets, evidence) — from durable state (`messages.processed = 0`), so a crash or restart never loses
//! it. Each batch runs inside one write transaction, so concurrent processors (the server and a `tapak import`) never
//! process a message twice.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::store::Transaction;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::classify::types::{Classification, Kind};
use crate::classify::Classifier;
use crate::core::Core;
use crate::records::{self, ChatState, MsgIn, MsgKeyedIds, Overrides};
use crate::store::{self, messages::Pending, StoreError};

mod classifiers;
mod corrections;
pub mod inbox;

use classifiers::{ChatSite, Classifiers};
pub use corrections::{
    apply_correction, reclassify_outdated, side_effects, Corrected, CorrectionInput, LinkRef,
    SideEffect,
};

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

/// A chat's engine state as this process knows it.
struct Cached {
    state: ChatState,
    /// The manager's corrections for the chat (they change only through a replay, which replaces this entry).
    ov: Overrides,
    /// The chat's `seq` when this process last loaded or changed it; a different value in the database means another
    /// processor (or a replay) changed the chat, so the state is reloaded.
    seq: i64,
    /// The process that set `seq` (this one once it has changed the chat: then nothing needs bumping).
    owner: i64,
    /// [`store::db::rollbacks`] when the entry was stored: if writes were rolled back since, it is reloaded.
    epoch: u64,
    /// The writer transaction in which `seq` was last checked against the database ([`store::db::tx_serial`]):
    /// within one transaction nobody else can write, so the check is not repeated for each message.
    checked_tx: u64,
    /// Highest message id applied to `state`.
    through: i64,
    /// Changed since the last snapshot.
    dirty: bool,
}

/// Engine states by chat. Only touched from inside write transactions (the single writer thread), so the lock is
/// never contended; a failed transaction drops the entries it took, and they are reloaded next time.
pub struct StateCache {
    map: std::sync::Mutex<std::collections::HashMap<i64, Cached>>,
    /// The SLA policy as read in a writer transaction (settings change only in other transactions).
    sla: std::sync::Mutex<Option<(u64, records::SlaPolicy)>>,
    /// This process's id in `chat_seqs.owner`.
    owner: i64,
}

impl Default for StateCache {
    fn default() -> Self {
        // Random enough to tell this process from any other writer of the same database (never 0, the default).
        let owner = (ulid::Ulid::new().random() as i64 & i64::MAX).max(1);
        StateCache {
            map: Default::default(),
            sla: Default::default(),
            owner,
        }
    }
}

impl StateCache {
    /// The SLA policy, read once per writer transaction.
    fn sla_policy(&self, tx: &Transaction<'_>) -> Result<records::SlaPolicy, StoreError> {
        let serial = store::db::tx_serial();
        let Ok(mut memo) = self.sla.lock() else {
            return store::records::sla_policy(tx);
        };
        match memo.as_ref() {
            Some((at, p)) if serial != 0 && *at == serial => Ok(p.clone()),
            _ => {
                let p = store::records::sla_policy(tx)?;
                *memo = (serial != 0).then(|| (serial, p.clone()));
                Ok(p)
            }
        }
    }
    fn take(&self, chat: i64) -> Option<Cached> {
        self.map.lock().ok().and_then(|mut m| m.remove(&chat))
    }
    fn put(&self, chat: i64, c: Cached) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(chat, c);
        }
    }
    pub fn forget(&self, chat: i64) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&chat);
        }
    }
    fn chats(&self) -> Vec<i64> {
        self.map
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }
    /// How many chats' states are held in memory.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Drops the states that are saved (snapshotted) and wait for nothing (no media a later text could claim); they
    /// are reloaded from their snapshots when their chat next gets a message. Returns how many were dropped.
    fn shed(&self) -> usize {
        self.map
            .lock()
            .map(|mut m| {
                let before = m.len();
                m.retain(|_, c| c.dirty || !c.state.pending_media.is_empty());
                // The table itself sized for every busy chat (hundreds of KB) goes too.
                m.shrink_to_fit();
                before - m.len()
            })
            .unwrap_or(0)
    }
    /// Chats whose state holds media a later text could still claim.
    fn chats_with_pending_media(&self) -> Vec<i64> {
        self.map
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, c)| !c.state.pending_media.is_empty())
                    .map(|(k, _)| *k)
                    .collect()
            })
            .unwrap_or_default()
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
/// site, so it gets the shared classifier). Looked up at most every [`classifiers::CHAT_SITE_TTL`] per chat.
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

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DrainStats {
    pub processed: usize,
    pub records_created: usize,
    pub issues_opened: usize,
    pub tasks_opened: usize,
}

fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_else(store::now)
}

/// Builds the engine's view of a stored message.
fn msg_in(
    tx: &Transaction<'_>,
    p: &Pending,
    class: Option<Classification>,
    tz: chrono_tz::Tz,
) -> Result<MsgIn, StoreError> {
    let sent_at = ms_to_time(p.sent_ms);
    // Only media-bearing messages have evidence rows (plain texts, system lines and deletions never do).
    let media: Vec<i64> = if matches!(p.msg_type.as_str(), "text" | "system" | "deleted") {
        vec![]
    } else {
        store::evidence::ids_of_message(tx, p.id)?
    };
    let reply_to = match &p.reply_to {
        Some(src) => store::messages::find_by_source_id(tx, &p.source, src)?.map(|(id, _)| id),
        None => None,
    };
    let mut mentions = vec![];
    if let (Some(c), Some(text)) = (&class, &p.text) {
        if c.kind == Kind::Instruction {
            for name in records::mentioned_names(text) {
                if let Some(id) = store::people::find_by_name(tx, &name)? {
                    if !mentions.contains(&id) {
                        mentions.push(id);
                    }
                }
            }
        }
    }
    Ok(MsgIn {
        id: p.id,
        chat_id: p.chat_id,
        sender_id: p.sender_id,
        sent_at,
        local_date: sent_at.with_timezone(&tz).date_naive(),
        ordinal: p.id as u64,
        text: p.text.clone().unwrap_or_default(),
        has_media: !media.is_empty(),
        media,
        class,
        reply_to,
        mentions,
    })
}

fn apply_all(
    tx: &Transaction<'_>,
    effects: &[records::Effect],
    sla: &records::SlaPolicy,
    tz: chrono_tz::Tz,
    applied: &mut store::records::Applied,
) -> Result<(), StoreError> {
    for fx in effects {
        store::records::apply_effect(tx, fx, sla, tz, applied)?;
    }
    Ok(())
}

fn engine_err(e: records::RecordsError) -> StoreError {
    StoreError::Engine(e)
}

/// Feeds already-processed messages through the engine (replay, or catching a snapshot up); effects are idempotent.
#[allow(clippy::too_many_arguments)]
fn feed(
    tx: &Transaction<'_>,
    state: &mut ChatState,
    rows: Vec<(Pending, Option<String>)>,
    ov: &Overrides,
    sla: &records::SlaPolicy,
    tz: chrono_tz::Tz,
    applied: &mut store::records::Applied,
) -> Result<i64, StoreError> {
    let mut through = 0;
    for (p, class_json) in rows {
        let forced = ov.messages.get(&p.id).and_then(|m| m.class.clone());
        let class = match forced {
            Some(c) => Some(c),
            None => class_json.and_then(|j| serde_json::from_str::<Classification>(&j).ok()),
        };
        let m = msg_in(tx, &p, class, tz)?;
        let fx = records::process(state, &m, &mut MsgKeyedIds, ov).map_err(engine_err)?;
        apply_all(tx, &fx, sla, tz, applied)?;
        through = through.max(p.id);
    }
    Ok(through)
}

/// This process's current state of a chat: from the cache when nobody else changed the chat (and no write was rolled
/// back since), else from the last snapshot caught up with the messages processed since.
fn acquire(
    tx: &Transaction<'_>,
    cache: &StateCache,
    chat_id: i64,
    sla: &records::SlaPolicy,
    tz: chrono_tz::Tz,
    applied: &mut store::records::Applied,
) -> Result<Cached, StoreError> {
    let serial = store::db::tx_serial();
    // An entry built before a rollback may reflect undone writes: never reused.
    let mut cached = cache
        .take(chat_id)
        .filter(|c| c.epoch == store::db::rollbacks());
    if serial != 0 && cached.as_ref().is_some_and(|c| c.checked_tx == serial) {
        if let Some(c) = cached.take() {
            return Ok(c);
        }
    }
    let (db_seq, db_owner) = store::records::seq_and_owner(tx, chat_id)?;
    if let Some(mut c) = cached.filter(|c| c.seq == db_seq) {
        c.checked_tx = serial;
        return Ok(c);
    }
    let ov = store::records::load_overrides(tx, chat_id)?;
    let (mut state, snap_through) = store::records::load_state(tx, chat_id)?;
    let rows = store::messages::processed_after(tx, chat_id, snap_through)?;
    let caught_up = !rows.is_empty();
    let through = feed(tx, &mut state, rows, &ov, sla, tz, applied)?.max(snap_through);
    Ok(Cached {
        state,
        ov,
        seq: db_seq,
        owner: db_owner,
        epoch: store::db::rollbacks(),
        checked_tx: serial,
        through,
        dirty: caught_up,
    })
}

/// Returns a chat's state to the cache after a batch changed it. The chat's seq is bumped (in the same transaction)
/// only when another process changed it last; after that this process owns it and its cache stays current.
fn release(
    tx: &Transaction<'_>,
    cache: &StateCache,
    chat_id: i64,
    mut c: Cached,
) -> Result<(), StoreError> {
    if c.state.tickets.len() > records::STATE_MAX_TICKETS + records::STATE_TICKET_SLACK
        || c.state.msg_records.len() > 20_000
    {
        records::compact(&mut c.state);
    }
    if c.owner != cache.owner {
        c.seq = store::records::bump_seq(tx, chat_id, cache.owner)?;
        c.owner = cache.owner;
    }
    c.epoch = store::db::rollbacks();
    c.dirty = true;
    cache.put(chat_id, c);
    Ok(())
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

/// Indexes, stores the classification of, and links already-classified messages inside one transaction. Messages
/// another processor handled meanwhile are skipped.
pub fn link_in_tx(
    tx: &Transaction<'_>,
    cache: &StateCache,
    batch: &[Classified],
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<DrainStats, StoreError> {
    let sla = cache.sla_policy(tx)?;
    let mut by_chat: BTreeMap<i64, Vec<&Classified>> = BTreeMap::new();
    // Messages another processor handled meanwhile are skipped (one range query for the whole batch).
    let (lo, hi) = batch.iter().fold((i64::MAX, i64::MIN), |(lo, hi), c| {
        (lo.min(c.pending.id), hi.max(c.pending.id))
    });
    let still_pending: std::collections::HashSet<i64> = if batch.is_empty() {
        Default::default()
    } else {
        store::messages::pending_ids_between(tx, lo, hi)?
    };
    let mut processed = 0;
    for c in batch {
        if still_pending.contains(&c.pending.id) {
            by_chat.entry(c.pending.chat_id).or_default().push(c);
        }
    }
    let mut applied = store::records::Applied::default();
    for (chat_id, mut msgs) in by_chat {
        msgs.sort_by_key(|c| (c.pending.sent_ms, c.pending.id));
        let mut cached = acquire(tx, cache, chat_id, &sla, tz, &mut applied)?;
        for c in msgs {
            link_one(tx, &mut cached, c, &sla, tz, &mut applied)?.map_err(engine_err)?;
            processed += 1;
        }
        // Time moves on only once the chat has caught up: while later messages of it still wait (an import, a
        // backlog), `now` is past them and would settle a photo before the text that claims it is linked, so the
        // records would depend on where the batches were cut.
        if !store::messages::chat_has_pending(tx, chat_id)? {
            let fx = records::tick(&mut cached.state, now, &cached.ov);
            apply_all(tx, &fx, &sla, tz, &mut applied)?;
        }
        release(tx, cache, chat_id, cached)?;
    }
    Ok(DrainStats {
        processed,
        records_created: applied.issues_opened + applied.tasks_opened,
        issues_opened: applied.issues_opened,
        tasks_opened: applied.tasks_opened,
    })
}

/// Links one classified message into its chat's state and stores the outcome (records first, then the message row
/// with its classification and link). The inner error is the engine refusing the message: nothing of it was
/// written then, but the state may be half-changed and must be dropped.
fn link_one(
    tx: &Transaction<'_>,
    cached: &mut Cached,
    c: &Classified,
    sla: &records::SlaPolicy,
    tz: chrono_tz::Tz,
    applied: &mut store::records::Applied,
) -> Result<Result<(), records::RecordsError>, StoreError> {
    let forced = cached
        .ov
        .messages
        .get(&c.pending.id)
        .and_then(|m| m.class.clone());
    let class = match (&c.class, forced) {
        (Some(_), Some(f)) => Some(f),
        (class, _) => class.clone(),
    };
    let json = class.as_ref().and_then(|c| serde_json::to_string(c).ok());
    let kind = class.as_ref().map(|c| c.kind.as_str());
    let m = msg_in(tx, &c.pending, class.clone(), tz)?;
    let mut fx = match records::process(&mut cached.state, &m, &mut MsgKeyedIds, &cached.ov) {
        Ok(fx) => fx,
        Err(e) => return Ok(Err(e)),
    };
    // The message's own link is written together with its classification (one row update).
    let own_link = fx.iter().position(
        |e| matches!(e, records::Effect::LinkMessage { msg, .. } if *msg == c.pending.id),
    );
    let link = own_link.map(|i| fx.remove(i));
    // How the engine read the message against the open tickets: the kind stored, and the cues after the reason.
    let reading = fx.iter().position(
        |e| matches!(e, records::Effect::ReadInContext { msg, .. } if *msg == c.pending.id),
    );
    let (kind, note) = match reading.map(|i| fx.remove(i)) {
        Some(records::Effect::ReadInContext { kind, cues, .. }) => {
            (Some(kind.as_str()), records::context::cue_note(&cues))
        }
        _ => (kind, String::new()),
    };
    let record = match &link {
        Some(records::Effect::LinkMessage { record, reason, .. }) => {
            let (t, id) = match record {
                records::RecordRef::Issue(id) => ("issue", *id),
                records::RecordRef::Task(id) => ("task", *id),
            };
            Some((t, id, reason.explain() + &note))
        }
        _ => None,
    };
    // Records first (the message row points at them), then the message.
    apply_all(tx, &fx, sla, tz, applied)?;
    store::messages::set_processed_linked(
        tx,
        c.pending.id,
        kind,
        json.as_deref(),
        class.as_ref().map(|_| crate::classify::VERSION),
        record.as_ref().map(|(t, id, r)| (*t, *id, r.as_str())),
    )?;
    if link.is_some() {
        applied.links += 1;
    }
    cached.through = cached.through.max(c.pending.id);
    Ok(Ok(()))
}

/// A webhook message's classification, made before the write with the classifier of the chat's site as known then.
#[derive(Debug, Clone)]
pub struct PreClass {
    pub site: Option<i64>,
    /// `None` for a message with nothing to classify (a photo without caption, a sticker…): still linked.
    pub class: Option<Classification>,
}

/// What linking a delivery's new messages in their own transaction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InlineStats {
    pub processed: usize,
    /// Left to the background processor: not classified beforehand, classified for another site than the chat has
    /// now, behind an earlier message of the chat that still waits, or refused by the engine.
    pub deferred: usize,
}

/// Links the messages a delivery just stored, in the delivery's own transaction, so each row is written once and
/// nothing waits for a background pass. Chat order holds: a message whose chat has an earlier message still waiting
/// is left for the background processor, as is anything not classified beforehand for the chat's current site.
pub fn link_new_in_tx(
    tx: &Transaction<'_>,
    cache: &StateCache,
    stored: &[store::ingest::StoredNew],
    pre: &[Option<PreClass>],
    tz: chrono_tz::Tz,
) -> Result<InlineStats, StoreError> {
    let mut stats = InlineStats::default();
    let mut sla = None;
    let mut applied = store::records::Applied::default();
    for s in stored {
        let class = match pre.get(s.index).and_then(Option::as_ref) {
            Some(p) if p.site == s.site_id => p.class.clone(),
            _ => {
                stats.deferred += 1;
                continue;
            }
        };
        if store::messages::chat_has_pending_before(tx, s.pending.chat_id, s.pending.id)? {
            stats.deferred += 1;
            continue;
        }
        let sla = match &sla {
            Some(p) => p,
            None => sla.insert(cache.sla_policy(tx)?),
        };
        let chat_id = s.pending.chat_id;
        let mut cached = acquire(tx, cache, chat_id, sla, tz, &mut applied)?;
        let c = Classified {
            pending: s.pending.clone(),
            class,
        };
        match link_one(tx, &mut cached, &c, sla, tz, &mut applied)? {
            Ok(()) => {
                release(tx, cache, chat_id, cached)?;
                stats.processed += 1;
            }
            Err(e) => {
                // Left pending: the background processor tries again (and reports it) from a freshly loaded state.
                tracing::warn!(chat = chat_id, message = c.pending.id, error = %e, "linking deferred");
                stats.deferred += 1;
            }
        }
    }
    Ok(stats)
}

/// Rebuilds a chat's records from its messages, their stored classifications and the manager's corrections.
pub fn replay_chat_in_tx(
    tx: &Transaction<'_>,
    cache: &StateCache,
    chat_id: i64,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<store::records::Applied, StoreError> {
    cache.forget(chat_id);
    store::records::reset_chat(tx, chat_id)?;
    let ov = store::records::load_overrides(tx, chat_id)?;
    let sla = store::records::sla_policy(tx)?;
    let mut state = ChatState::new(chat_id);
    let mut applied = store::records::Applied::default();
    let rows = store::messages::processed_after(tx, chat_id, 0)?;
    let through = feed(tx, &mut state, rows, &ov, &sla, tz, &mut applied)?;
    let fx = records::tick(&mut state, now, &ov);
    apply_all(tx, &fx, &sla, tz, &mut applied)?;
    records::compact(&mut state);
    store::records::save_state(tx, chat_id, &state, through)?;
    let seq = store::records::bump_seq(tx, chat_id, cache.owner)?;
    cache.put(
        chat_id,
        Cached {
            state,
            ov,
            seq,
            owner: cache.owner,
            epoch: store::db::rollbacks(),
            checked_tx: store::db::tx_serial(),
            through,
            dirty: false,
        },
    );
    Ok(applied)
}

/// Snapshots the states this process changed (compacted), so a restart catches up from here.
pub fn checkpoint_in_tx(
    tx: &Transaction<'_>,
    cache: &StateCache,
    chats: &[i64],
) -> Result<usize, StoreError> {
    let mut n = 0;
    for &chat in chats {
        let Some(mut c) = cache.take(chat) else {
            continue;
        };
        if c.dirty && store::records::seq_and_owner(tx, chat)?.0 == c.seq {
            records::compact(&mut c.state);
            store::records::save_state(tx, chat, &c.state, c.through)?;
            c.dirty = false;
            n += 1;
        }
        cache.put(chat, c);
    }
    Ok(n)
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::OptionalExtension;

    #[test]
    fn a_cached_state_is_rebuilt_after_a_rollback_or_another_writer() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO chats(id, source, external_id, created_at) VALUES (1, 'import', 'c', 't')",
            [],
        )
        .unwrap();
        let (cache, tz) = (StateCache::default(), chrono_tz::UTC);
        let sla = store::records::sla_policy(&tx).unwrap();
        let mut applied = store::records::Applied::default();
        // `through` = 42 stands for progress only this process's memory holds.
        let mut c = acquire(&tx, &cache, 1, &sla, tz, &mut applied).unwrap();
        assert_eq!(c.through, 0);
        c.through = 42;
        release(&tx, &cache, 1, c).unwrap();
        let seq = store::records::seq_and_owner(&tx, 1).unwrap();
        assert_eq!(
            seq,
            (1, cache.owner),
            "the first change by this process bumps"
        );

        // Nothing happened meanwhile: the cached state is used and nothing is bumped.
        let before = store::db::rollbacks();
        let c = acquire(&tx, &cache, 1, &sla, tz, &mut applied).unwrap();
        if store::db::rollbacks() == before {
            assert_eq!(c.through, 42);
        }
        release(&tx, &cache, 1, c).unwrap();
        assert_eq!(store::records::seq_and_owner(&tx, 1).unwrap(), seq);

        // A rollback anywhere may have undone what the cache reflects: rebuilt from the database.
        store::db::note_rollback();
        let mut c = acquire(&tx, &cache, 1, &sla, tz, &mut applied).unwrap();
        assert_eq!(c.through, 0);
        c.through = 42;
        release(&tx, &cache, 1, c).unwrap();

        // Another process changed the chat: rebuilt, and this process's next change bumps again.
        store::records::bump_seq(&tx, 1, cache.owner ^ 1).unwrap();
        let c = acquire(&tx, &cache, 1, &sla, tz, &mut applied).unwrap();
        assert_eq!(c.through, 0);
        release(&tx, &cache, 1, c).unwrap();
        assert_eq!(
            store::records::seq_and_owner(&tx, 1).unwrap(),
            (3, cache.owner)
        );
    }

    fn inbound(
        id: &str,
        chat: &str,
        text: &str,
        minute: i64,
    ) -> crate::ingest::model::InboundMessage {
        use crate::ingest::test_support::{sender, t, text_message};
        let chat = crate::ingest::model::ChatRef {
            external_id: chat.into(),
            name: None,
            is_group: true,
        };
        let from = sender("60123", Some("60123"), Some("Siti"));
        let at = t(1_800_000_000 + minute * 60);
        text_message(
            crate::ingest::model::Source::CloudApi,
            id,
            chat,
            from,
            at,
            text,
        )
    }

    /// Stores one message as a webhook delivery would and links it in the same transaction; answers what linking
    /// did and the message's stored (processed, kind, record type).
    fn deliver(
        tx: &Transaction<'_>,
        cache: &StateCache,
        m: crate::ingest::model::InboundMessage,
        pre: Option<PreClass>,
    ) -> (InlineStats, (bool, Option<String>, Option<String>)) {
        let n = crate::ingest::model::Normalized {
            messages: vec![m],
            ..Default::default()
        };
        let out =
            store::ingest::store_delivery(tx, crate::ingest::model::Source::CloudApi, b"{}", &n)
                .unwrap();
        let stats = link_new_in_tx(tx, cache, &out.stored, &[pre], chrono_tz::UTC).unwrap();
        let row = tx
            .query_row(
                "SELECT processed, kind, record_type FROM messages WHERE id = ?1",
                [out.new_messages[0]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        (stats, row)
    }

    #[test]
    fn webhook_messages_are_linked_in_their_own_write_unless_their_chat_must_wait() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = conn.transaction().unwrap();
        let cache = StateCache::default();
        let classifier = Classifier::new();
        let pre = |text: &str, site: Option<i64>| {
            Some(PreClass {
                site,
                class: Some(classifier.classify(text)),
            })
        };
        let done = InlineStats {
            processed: 1,
            deferred: 0,
        };
        let waits = InlineStats {
            processed: 0,
            deferred: 1,
        };

        // Classified beforehand for the chat's site (none yet): classified, ticket opened, linked, all in this write.
        let text = "Lift Block C rosak, tersangkut tingkat 5";
        let (st, row) = deliver(&tx, &cache, inbound("w1", "A", text, 0), pre(text, None));
        assert_eq!(st, done);
        assert_eq!(
            row,
            (true, Some("issue_report".into()), Some("issue".into()))
        );

        // Not classified beforehand: left for the background processor.
        let text = "Paip bocor di tandas Block B level 2";
        let (st, row) = deliver(&tx, &cache, inbound("w2", "B", text, 1), None);
        assert_eq!((st, row.0), (waits, false));
        // A later message of that chat waits behind it (chat order), even though it was classified beforehand...
        let text = "Dah repair paip tandas Block B, siap";
        let (st, row) = deliver(&tx, &cache, inbound("w3", "B", text, 2), pre(text, None));
        assert_eq!((st, row.0), (waits, false));
        // ...while other chats go on.
        let text = "Lift Block C ok sekarang, dah jalan";
        let (st, row) = deliver(&tx, &cache, inbound("w4", "A", text, 3), pre(text, None));
        assert_eq!((st, row.0), (done, true));

        // Classified for a site the chat does not (or no longer) belong to: left for the background processor.
        let text = "Sampah tak kutip lagi Block D";
        let (st, row) = deliver(&tx, &cache, inbound("w5", "A", text, 4), pre(text, Some(7)));
        assert_eq!((st, row.0), (waits, false));

        // The background processor catches chat B up (and chat A's deferred message); then B links at once again.
        let pending = store::messages::pending(&tx, 100).unwrap();
        assert_eq!(pending.len(), 3);
        let batch = classify_pending(&classifier, &Default::default(), pending);
        let stats = link_in_tx(&tx, &cache, &batch, chrono_tz::UTC, store::now()).unwrap();
        assert_eq!(stats.processed, 3);
        let text = "Cleaning Block B level 2 done";
        let (st, row) = deliver(&tx, &cache, inbound("w6", "B", text, 5), pre(text, None));
        assert_eq!((st, row.0), (done, true));

        // The message that reported the fix is linked to the same ticket its chat opened.
        let ticket_of = |id: &str| -> Option<i64> {
            tx.query_row(
                "SELECT record_id FROM messages WHERE source_message_id = ?1 AND record_type = 'issue'",
                [id],
                |r| r.get(0),
            )
            .optional()
            .unwrap()
            .flatten()
        };
        assert!(ticket_of("w2").is_some());
        assert_eq!(ticket_of("w2"), ticket_of("w3"));
        assert_eq!(ticket_of("w1"), ticket_of("w4"));
        tx.commit().unwrap();
    }

    /// Stores a photo without caption, a fault report a minute later and a remark half an hour later (one chat),
    /// then links them in batches of `batch` messages with the clock far past them (an old export imported now);
    /// answers the chat's records.
    fn import_in_batches(batch: usize) -> store::record_links::ChatRecords {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let tx = conn.transaction().unwrap();
        let cache = StateCache::default();
        let classifier = Classifier::new();
        let mut photo = inbound("e1", "A", "", 0);
        photo.msg_type = crate::ingest::model::MessageType::Media;
        photo.source_type = "image".into();
        photo.text = None;
        photo.media = vec![crate::message::MediaRef {
            kind: crate::message::EvidenceKind::Photo,
            mime: Some("image/jpeg".into()),
            sha256: None,
            filename: Some("IMG-1.jpg".into()),
            fetch: crate::message::MediaFetch::CloudMediaId {
                media_id: "m1".into(),
            },
        }];
        let n = crate::ingest::model::Normalized {
            messages: vec![
                photo,
                inbound("e2", "A", "Paip bocor di tandas Block B level 2", 1),
                inbound("e3", "A", "ok noted, plumber coming", 30),
            ],
            ..Default::default()
        };
        store::ingest::store_delivery(&tx, crate::ingest::model::Source::CloudApi, b"{}", &n)
            .unwrap();
        let now = crate::ingest::test_support::t(1_800_000_000 + 400 * 86_400);
        loop {
            let pending = store::messages::pending(&tx, batch).unwrap();
            if pending.is_empty() {
                break;
            }
            let b = classify_pending(&classifier, &Default::default(), pending);
            link_in_tx(&tx, &cache, &b, chrono_tz::UTC, now).unwrap();
        }
        let chat: i64 = tx
            .query_row("SELECT id FROM chats", [], |r| r.get(0))
            .unwrap();
        let out = store::record_links::chat_records(&tx, chat).unwrap();
        tx.commit().unwrap();
        out
    }

    #[test]
    fn an_old_export_gives_the_same_records_whatever_the_batches() {
        let whole = import_in_batches(100);
        let one_by_one = import_in_batches(1);
        assert_eq!(whole.issues.len(), 1, "{whole:?}");
        let (&photo, (link, _)) = whole.evidence.iter().next().expect("the photo's evidence");
        assert!(
            link.as_ref().is_some_and(|(t, _)| t == "issue"),
            "the photo is evidence of the report that follows it: {photo} {link:?}"
        );
        assert_eq!(one_by_one, whole);
    }
}
