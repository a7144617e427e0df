//! Linking classified messages into records: each message goes through its chat's engine state and the effects are
//! written in the same transaction (the background batches, a webhook delivery's own write, and a chat's replay).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::state::{acquire, release, Cached, StateCache};
use super::{Classified, DrainStats, PreClass};
use crate::classify::types::{Classification, Kind};
use crate::records::{self, ChatState, MsgIn, MsgKeyedIds, Overrides};
use crate::store::{self, messages::Pending, StoreError, Transaction};

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

pub(super) fn apply_all(
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
pub(super) fn feed(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classifier;
    use crate::pipeline::classify_pending;
    use rusqlite::OptionalExtension;

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
