//! Corrections: a manager's correction stored and replayed, the classifier taught by reclassifications, and the
//! re-classification of recent messages after an upgrade of the classifier.

use super::{replay_chat_in_tx, Classifiers, Pipeline};
use crate::classify::types::Classification;
use crate::store::{self, StoreError};

/// A manager's correction: stored (hash-chained event too), then the chat is replayed so the correction wins over
/// every rule, now and on any later re-processing.
pub struct CorrectionInput {
    pub chat_id: i64,
    /// `message`, `evidence` or `action`.
    pub target: &'static str,
    pub target_id: Option<i64>,
    pub data: serde_json::Value,
    pub actor: String,
    pub reason: Option<String>,
    /// Event-log action name, e.g. `issue.status_changed`.
    pub action: String,
}

pub async fn apply_correction(svc: &Pipeline, c: CorrectionInput) -> Result<i64, StoreError> {
    let cache = svc.states();
    let tz = svc.tz;
    let now = svc.clock.now();
    svc.db
        .write(move |tx| {
            let id = store::records::add_correction(
                tx,
                c.chat_id,
                c.target,
                c.target_id,
                &c.data,
                &c.actor,
                c.reason.as_deref(),
            )?;
            // Ticket actions carry the correction id so the engine applies each once, at the time it was made.
            if c.target == "action" {
                let mut data = c.data.clone();
                if let Some(o) = data.as_object_mut() {
                    o.insert("id".into(), serde_json::json!(id));
                    o.insert("at".into(), serde_json::json!(store::fmt_time(now)));
                }
                store::records::set_correction_data(tx, id, &data)?;
            }
            store::events::append(
                tx,
                &c.actor,
                &c.action,
                c.target,
                c.target_id.map(|t| t.to_string()).as_deref(),
                &serde_json::json!({"data": c.data, "reason": c.reason, "correction": id}),
            )?;
            replay_chat_in_tx(tx, &cache, c.chat_id, tz, now)?;
            Ok(id)
        })
        .await
}

/// Teaches the shared classifier a manager's reclassification, then re-classifies the chat's messages it may change
/// (never those a manager corrected) and replays the chat.
pub async fn learn_and_reclassify(
    svc: &Pipeline,
    chat_id: i64,
    text: String,
    class: Classification,
) -> Result<usize, StoreError> {
    let mut c = (*svc.classifier()).clone();
    c.learn(&text, &class);
    svc.classifiers.replace_shared(c);
    let classifier = svc.classifier();
    let cache = svc.states();
    let tz = svc.tz;
    let now = svc.clock.now();
    svc.db
        .write(move |tx| {
            let ov = store::records::load_overrides(tx, chat_id)?;
            let rows = store::messages::classified_texts(tx, chat_id)?;
            let mut changed = 0;
            for (id, text) in rows {
                if ov
                    .messages
                    .get(&id)
                    .and_then(|m| m.class.as_ref())
                    .is_some()
                {
                    continue;
                }
                let new = classifier.classify(&text);
                let json = serde_json::to_string(&new)?;
                let written = store::messages::set_classification(
                    tx,
                    id,
                    new.kind.as_str(),
                    &json,
                    crate::classify::VERSION,
                    true,
                )?;
                changed += usize::from(written);
            }
            // The correction itself was already replayed when it was stored; replay again only if the lesson changed
            // other verdicts in the chat.
            if changed > 0 {
                replay_chat_in_tx(tx, &cache, chat_id, tz, now)?;
            }
            Ok(changed)
        })
        .await
}

/// Teaches a fresh classifier every reclassification managers have made (at start-up).
pub(super) fn learn_from_corrections(
    db: &store::Db,
    classifiers: &Classifiers,
) -> Result<usize, StoreError> {
    let pairs = db.read_blocking(store::records::reclassification_lessons)?;
    if pairs.is_empty() {
        return Ok(0);
    }
    let mut c = (*classifiers.shared()).clone();
    let mut n = 0;
    for (text, class) in pairs {
        if let Ok(class) = serde_json::from_str::<Classification>(&class) {
            c.learn(&text, &class);
            n += 1;
        }
    }
    classifiers.replace_shared(c);
    Ok(n)
}

/// After an upgrade that changed the classifier ([`crate::classify::VERSION`]), re-classifies the recent messages
/// classified by an older version (never those a manager corrected) and rebuilds the records of the chats where a
/// verdict changed. Runs in the background; returns how many messages changed.
pub async fn reclassify_outdated(svc: &Pipeline, days: i64) -> Result<usize, StoreError> {
    let since = svc
        .clock
        .now()
        .timestamp_millis()
        .saturating_sub(days.saturating_mul(86_400_000));
    let version = crate::classify::VERSION;
    let chats: Vec<i64> = svc
        .db
        .read(move |c| store::messages::chats_with_outdated(c, version, since))
        .await?;
    let mut changed_total = 0;
    for chat in chats {
        let rows: Vec<(i64, String, Option<String>)> = svc
            .db
            .read(move |c| store::messages::outdated_in_chat(c, chat, version, since))
            .await?;
        let classifier = svc.classifier();
        let updates: Vec<(i64, String, String, bool)> = tokio::task::spawn_blocking(move || {
            rows.into_iter()
                .map(|(id, text, old)| {
                    let new = classifier.classify(&text);
                    let json = serde_json::to_string(&new).unwrap_or_default();
                    let old_kind = old
                        .as_deref()
                        .and_then(|o| serde_json::from_str::<Classification>(o).ok())
                        .map(|c| {
                            (
                                c.kind, c.category, c.location, c.priority, c.status, c.repeat,
                            )
                        });
                    let changed = old_kind
                        != Some((
                            new.kind,
                            new.category,
                            new.location.clone(),
                            new.priority,
                            new.status,
                            new.repeat,
                        ));
                    (id, new.kind.as_str().to_string(), json, changed)
                })
                .collect()
        })
        .await
        .map_err(|e| StoreError::Io(format!("classifier task failed: {e}")))?;
        let cache = svc.states();
        let (tz, now) = (svc.tz, svc.clock.now());
        changed_total += svc
            .db
            .write(move |tx| {
                let ov = store::records::load_overrides(tx, chat)?;
                let mut changed = 0;
                for (id, kind, json, did_change) in &updates {
                    if ov.messages.get(id).and_then(|m| m.class.as_ref()).is_some() {
                        continue;
                    }
                    store::messages::set_classification(tx, *id, kind, json, version, false)?;
                    if *did_change {
                        changed += 1;
                    }
                }
                if changed > 0 {
                    replay_chat_in_tx(tx, &cache, chat, tz, now)?;
                    store::events::append(
                        tx,
                        "system:classifier",
                        "chat.reclassified",
                        "chat",
                        Some(&chat.to_string()),
                        &serde_json::json!({"version": version, "changed": changed}),
                    )?;
                }
                Ok(changed)
            })
            .await?;
    }
    Ok(changed_total)
}
