//! Corrections: a manager's correction stored and replayed, the classifier taught by reclassifications, and the
//! re-classification of recent messages after an upgrade of the classifier.

use serde::Serialize;

use super::{replay_chat_in_tx, Classifiers, Pipeline};
use crate::classify::types::Classification;
use crate::store::{self, record_links::ChatRecords, StoreError, Transaction};

/// A manager's correction: stored (hash-chained event too), then the chat is replayed so the correction wins over
/// every rule, now and on any later re-processing. Only what the correction names is changed on purpose; everything
/// else the replay changed is listed as a [`SideEffect`].
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
    /// A reclassification: the message's text and its new classification, stored on the message row and taught to
    /// the classifier once the correction is committed (other messages are not re-classified).
    pub reclassify: Option<(String, Classification)>,
}

/// A record a side effect names: `{"type": "issue"|"task", "id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LinkRef {
    #[serde(rename = "type")]
    pub record_type: String,
    pub id: i64,
}

/// Something a correction changed beyond what it names, found by comparing the chat's records before and after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SideEffect {
    TicketOpened {
        ticket: i64,
    },
    TicketRemoved {
        ticket: i64,
    },
    TicketClosed {
        ticket: i64,
        from: String,
        to: String,
    },
    TicketReopened {
        ticket: i64,
        from: String,
        to: String,
    },
    TicketStatusChanged {
        ticket: i64,
        from: String,
        to: String,
    },
    TaskCreated {
        task: i64,
    },
    TaskRemoved {
        task: i64,
    },
    MessageMoved {
        message: i64,
        from: Option<LinkRef>,
        to: Option<LinkRef>,
    },
    EvidenceMoved {
        evidence: i64,
        from: Option<LinkRef>,
        to: Option<LinkRef>,
        role: Option<String>,
    },
}

fn link_ref(l: &store::record_links::Link) -> Option<LinkRef> {
    l.as_ref().map(|(t, id)| LinkRef {
        record_type: t.clone(),
        id: *id,
    })
}

fn is_finished(status: &str) -> bool {
    matches!(status, "resolved" | "closed")
}

/// What changed between two views of a chat's records, leaving out the change the correction names: the named
/// message's or evidence file's own link, or the named ticket's own status.
pub fn side_effects(
    before: &ChatRecords,
    after: &ChatRecords,
    target: &str,
    target_id: Option<i64>,
) -> Vec<SideEffect> {
    let named = |what: &str, id: i64| target == what && target_id == Some(id);
    let mut out = vec![];
    for (&id, status) in &after.issues {
        match before.issues.get(&id) {
            None => out.push(SideEffect::TicketOpened { ticket: id }),
            Some(old) if old != status && !named("action", id) => {
                let (from, to) = (old.clone(), status.clone());
                out.push(match (is_finished(old), is_finished(status)) {
                    (false, true) => SideEffect::TicketClosed {
                        ticket: id,
                        from,
                        to,
                    },
                    (true, false) => SideEffect::TicketReopened {
                        ticket: id,
                        from,
                        to,
                    },
                    _ => SideEffect::TicketStatusChanged {
                        ticket: id,
                        from,
                        to,
                    },
                });
            }
            Some(_) => {}
        }
    }
    for &id in before.issues.keys() {
        if !after.issues.contains_key(&id) {
            out.push(SideEffect::TicketRemoved { ticket: id });
        }
    }
    for id in after.tasks.difference(&before.tasks) {
        out.push(SideEffect::TaskCreated { task: *id });
    }
    for id in before.tasks.difference(&after.tasks) {
        out.push(SideEffect::TaskRemoved { task: *id });
    }
    for (&id, to) in &after.messages {
        let from = before.messages.get(&id).cloned().flatten();
        if &from != to && !named("message", id) {
            out.push(SideEffect::MessageMoved {
                message: id,
                from: link_ref(&from),
                to: link_ref(to),
            });
        }
    }
    for (&id, (to, role)) in &after.evidence {
        let (from, old_role) = before.evidence.get(&id).cloned().unwrap_or_default();
        if (&from != to || &old_role != role) && !named("evidence", id) {
            out.push(SideEffect::EvidenceMoved {
                evidence: id,
                from: link_ref(&from),
                to: link_ref(to),
                role: role.clone(),
            });
        }
    }
    out
}

/// A correction's outcome: what `read_back` read after it (inside its transaction), what else it changed, and
/// whether it was only a dry run (nothing kept). In JSON the value's fields come first, then `side_effects` and
/// `dry_run`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Corrected<T> {
    #[serde(flatten)]
    pub value: T,
    pub side_effects: Vec<SideEffect>,
    pub dry_run: bool,
}

/// Applies a correction in one write transaction: the correction row, the message's classification (for a
/// reclassification), the chat's replay and the event naming its side effects. With `dry_run` the same work runs
/// inside a savepoint that is rolled back, so the side effects returned are the ones applying it would have.
pub async fn apply_correction<T, F>(
    svc: &Pipeline,
    c: CorrectionInput,
    dry_run: bool,
    read_back: F,
) -> Result<Corrected<T>, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
{
    let cache = svc.states();
    let tz = svc.tz;
    let now = svc.clock.now();
    let lesson = c.reclassify.clone();
    let chat_id = c.chat_id;
    let job = move |tx: &Transaction<'_>| -> Result<(T, Vec<SideEffect>), StoreError> {
        let before = store::record_links::chat_records(tx, c.chat_id)?;
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
        if let (Some(msg), Some((_, class))) = (c.target_id, &c.reclassify) {
            let json = serde_json::to_string(class)?;
            store::messages::set_corrected_classification(tx, msg, class.kind.as_str(), &json)?;
        }
        replay_chat_in_tx(tx, &cache, c.chat_id, tz, now)?;
        let after = store::record_links::chat_records(tx, c.chat_id)?;
        let effects = side_effects(&before, &after, c.target, c.target_id);
        store::events::append(
            tx,
            &c.actor,
            &c.action,
            c.target,
            c.target_id.map(|t| t.to_string()).as_deref(),
            &serde_json::json!({"data": c.data, "reason": c.reason, "correction": id,
                "side_effects": effects}),
        )?;
        Ok((read_back(tx)?, effects))
    };
    let (value, side_effects) = if dry_run {
        let cache = svc.states();
        let out = svc
            .db
            .write(move |tx| store::db::rolled_back(tx, job))
            .await;
        // The replay cached the chat's state as it would have been: drop it.
        cache.forget(chat_id);
        out?
    } else {
        svc.db.write(job).await?
    };
    if !dry_run {
        if let Some((text, class)) = lesson {
            learn(svc, &text, &class);
        }
    }
    Ok(Corrected {
        value,
        side_effects,
        dry_run,
    })
}

/// Teaches the shared classifier a manager's reclassification, for the messages that arrive from now on. Messages
/// already classified are not re-classified: a correction changes only the message it names.
fn learn(svc: &Pipeline, text: &str, class: &Classification) {
    let mut c = (*svc.classifier()).clone();
    c.learn(text, class);
    svc.classifiers.replace_shared(c);
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
