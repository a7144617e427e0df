//! The records engine's per-chat states as this process knows them: kept in memory between batches, checked against
//! the database's `chat_seqs` (another processor or a rollback invalidates them), and snapshotted now and then.

use chrono_tz::Tz;

use super::link::feed;
use crate::records::{self, ChatState, Overrides};
use crate::store::{self, StoreError, Transaction};

/// A chat's engine state as this process knows it.
pub(super) struct Cached {
    pub(super) state: ChatState,
    /// The manager's corrections for the chat (they change only through a replay, which replaces this entry).
    pub(super) ov: Overrides,
    /// The chat's `seq` when this process last loaded or changed it; a different value in the database means another
    /// processor (or a replay) changed the chat, so the state is reloaded.
    pub(super) seq: i64,
    /// The process that set `seq` (this one once it has changed the chat: then nothing needs bumping).
    pub(super) owner: i64,
    /// [`store::db::rollbacks`] when the entry was stored: if writes were rolled back since, it is reloaded.
    pub(super) epoch: u64,
    /// The writer transaction in which `seq` was last checked against the database ([`store::db::tx_serial`]):
    /// within one transaction nobody else can write, so the check is not repeated for each message.
    pub(super) checked_tx: u64,
    /// Highest message id applied to `state`.
    pub(super) through: i64,
    /// Changed since the last snapshot.
    pub(super) dirty: bool,
}

/// Engine states by chat. Only touched from inside write transactions (the single writer thread), so the lock is
/// never contended; a failed transaction drops the entries it took, and they are reloaded next time.
pub struct StateCache {
    map: std::sync::Mutex<std::collections::HashMap<i64, Cached>>,
    /// The SLA policy as read in a writer transaction (settings change only in other transactions).
    sla: std::sync::Mutex<Option<(u64, records::SlaPolicy)>>,
    /// This process's id in `chat_seqs.owner`.
    pub(super) owner: i64,
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
    pub(super) fn sla_policy(
        &self,
        tx: &Transaction<'_>,
    ) -> Result<records::SlaPolicy, StoreError> {
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
    pub(super) fn take(&self, chat: i64) -> Option<Cached> {
        self.map.lock().ok().and_then(|mut m| m.remove(&chat))
    }
    pub(super) fn put(&self, chat: i64, c: Cached) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(chat, c);
        }
    }
    pub fn forget(&self, chat: i64) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&chat);
        }
    }
    pub(super) fn chats(&self) -> Vec<i64> {
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
    pub(super) fn shed(&self) -> usize {
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
    pub(super) fn chats_with_pending_media(&self) -> Vec<i64> {
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

/// This process's current state of a chat: from the cache when nobody else changed the chat (and no write was rolled
/// back since), else from the last snapshot caught up with the messages processed since.
pub(super) fn acquire(
    tx: &Transaction<'_>,
    cache: &StateCache,
    chat_id: i64,
    sla: &records::SlaPolicy,
    tz: Tz,
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
pub(super) fn release(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
