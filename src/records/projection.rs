//! In-memory application of [`Effect`]s: the reference for what the store persists (and what the tests read).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::classify::types::{Category, Kind, Location, Priority, TaskStatus};

use super::engine::{Effect, EvidenceRole, IssueStatus, LinkReason, RecordRef};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueView {
    pub id: i64,
    pub chat_id: i64,
    pub opening_msg: i64,
    pub title: String,
    pub category: Option<Category>,
    pub location: Location,
    pub priority: Option<Priority>,
    pub status: IssueStatus,
    pub repeat_of: Option<i64>,
    pub owner: Option<i64>,
    /// The vendor the ticket is assigned to.
    #[serde(default)]
    pub vendor: Option<i64>,
    pub opened_at: DateTime<Utc>,
    pub reported_by: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The message whose `issue_resolved` set the status (None when a manager did).
    pub resolved_by_msg: Option<i64>,
    pub merged_into: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub id: i64,
    pub chat_id: i64,
    pub opening_msg: i64,
    pub status: TaskStatus,
    pub category: Option<Category>,
    pub location: Location,
    pub reported_at: DateTime<Utc>,
    pub reported_by: Option<i64>,
    pub completed_by_msg: Option<i64>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceView {
    /// `None` = unlinked.
    pub record: Option<RecordRef>,
    pub role: Option<EvidenceRole>,
    pub reason: LinkReason,
    pub via_message: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    pub issues: BTreeMap<i64, IssueView>,
    pub tasks: BTreeMap<i64, TaskView>,
    /// Message → (record, reason).
    pub message_links: BTreeMap<i64, (RecordRef, LinkReason)>,
    /// Updates/resolutions no rule attached.
    pub unlinked_messages: BTreeMap<i64, LinkReason>,
    pub evidence: BTreeMap<i64, EvidenceView>,
    /// Messages read against the open tickets: (kind read, classifier's kind, cues).
    #[serde(default)]
    pub readings: BTreeMap<i64, (Kind, Kind, Vec<String>)>,
}

impl Projection {
    pub fn apply_all<'a>(&mut self, effects: impl IntoIterator<Item = &'a Effect>) {
        for e in effects {
            self.apply(e);
        }
    }

    pub fn apply(&mut self, e: &Effect) {
        match e {
            Effect::OpenIssue {
                issue_id,
                msg,
                chat_id,
                title,
                category,
                location,
                priority,
                repeat_of,
                opened_at,
                reported_by,
            } => {
                self.issues.insert(
                    *issue_id,
                    IssueView {
                        id: *issue_id,
                        chat_id: *chat_id,
                        opening_msg: *msg,
                        title: title.clone(),
                        category: *category,
                        location: location.clone(),
                        priority: *priority,
                        status: IssueStatus::Open,
                        repeat_of: *repeat_of,
                        owner: None,
                        vendor: None,
                        opened_at: *opened_at,
                        reported_by: *reported_by,
                        resolved_at: None,
                        resolved_by_msg: None,
                        merged_into: None,
                    },
                );
            }
            Effect::OpenTask {
                task_id,
                msg,
                chat_id,
                status,
                category,
                location,
                reported_at,
                reported_by,
            } => {
                self.tasks.insert(
                    *task_id,
                    TaskView {
                        id: *task_id,
                        chat_id: *chat_id,
                        opening_msg: *msg,
                        status: *status,
                        category: *category,
                        location: location.clone(),
                        reported_at: *reported_at,
                        reported_by: *reported_by,
                        completed_by_msg: None,
                        completed_at: None,
                    },
                );
            }
            Effect::CompleteTask { task_id, msg, at } => {
                if let Some(t) = self.tasks.get_mut(task_id) {
                    t.status = TaskStatus::Done;
                    t.completed_by_msg = Some(*msg);
                    t.completed_at = Some(*at);
                }
            }
            Effect::LinkMessage {
                msg,
                record,
                reason,
            } => {
                self.unlinked_messages.remove(msg);
                self.message_links.insert(*msg, (*record, *reason));
            }
            Effect::ReadInContext {
                msg,
                kind,
                classified_as,
                cues,
            } => {
                self.readings
                    .insert(*msg, (*kind, *classified_as, cues.clone()));
            }
            Effect::MessageUnlinked { msg, reason } => {
                self.message_links.remove(msg);
                self.unlinked_messages.insert(*msg, *reason);
            }
            Effect::SetIssueStatus {
                issue,
                status,
                at,
                by_msg,
            } => {
                if let Some(t) = self.issues.get_mut(issue) {
                    t.status = *status;
                    match status {
                        IssueStatus::Resolved | IssueStatus::Closed => {
                            if t.resolved_at.is_none() || *status == IssueStatus::Resolved {
                                t.resolved_at = Some(*at);
                                t.resolved_by_msg = *by_msg;
                            }
                        }
                        _ => {
                            t.resolved_at = None;
                            t.resolved_by_msg = None;
                        }
                    }
                }
            }
            Effect::SetOwner { issue, person, .. } => {
                if let Some(t) = self.issues.get_mut(issue) {
                    t.owner = Some(*person);
                }
            }
            Effect::SetVendor { issue, vendor } => {
                if let Some(t) = self.issues.get_mut(issue) {
                    t.vendor = *vendor;
                }
            }
            Effect::MergeIssues { from, into, .. } => {
                if let Some(t) = self.issues.get_mut(from) {
                    t.merged_into = Some(*into);
                }
            }
            Effect::LinkEvidence {
                evidence,
                record,
                role,
                reason,
                via_message,
            } => {
                self.evidence.insert(
                    *evidence,
                    EvidenceView {
                        record: Some(*record),
                        role: Some(*role),
                        reason: *reason,
                        via_message: *via_message,
                    },
                );
            }
            Effect::UnlinkEvidence { evidence, record } => {
                if self
                    .evidence
                    .get(evidence)
                    .is_some_and(|v| v.record == Some(*record))
                {
                    self.evidence.remove(evidence);
                }
            }
            Effect::EvidenceUnlinked {
                evidence,
                reason,
                via_message,
            } => {
                self.evidence.insert(
                    *evidence,
                    EvidenceView {
                        record: None,
                        role: None,
                        reason: *reason,
                        via_message: *via_message,
                    },
                );
            }
        }
    }

    /// Messages linked to `record` (openers included), in message-id order.
    pub fn messages_of(&self, record: RecordRef) -> Vec<(i64, LinkReason)> {
        self.message_links
            .iter()
            .filter(|(_, (r, _))| *r == record)
            .map(|(m, (_, why))| (*m, *why))
            .collect()
    }

    /// Evidence linked to `record` with its role, in evidence-id order.
    pub fn evidence_of(&self, record: RecordRef) -> Vec<(i64, EvidenceRole)> {
        self.evidence
            .iter()
            .filter(|(_, v)| v.record == Some(record))
            .filter_map(|(e, v)| v.role.map(|r| (*e, r)))
            .collect()
    }
}
