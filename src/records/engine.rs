//! The linking engine: one [`ChatState`] per chat, [`process`] per message, [`finish`] at the end.
//!
//! Rules (contract: L1–L5 of `shared/corpus/README.md`):
//! * L1 — only messages with a classification are records' text; `class: None` with media is bare evidence.
//! * L2 — `issue_report` opens a ticket; `task_report` opens a task entry, except that a `done` report completes
//!   the most recent `in_progress` entry of the same sender, same local day, same category (as an `Option`) and
//!   matching location (checked when the done report has a location).
//! * L3 — `issue_update` / `issue_resolved` attach to (a) the replied message's ticket, (b) when the message has
//!   a category or a location, the most recently opened open ticket with equal category (when it has one) and
//!   matching location (when it has one), (c) the open ticket the sender most recently opened or updated;
//!   else unlinked. Only tickets not `resolved`/`closed` (and not merged away) take links.
//! * L4 — a repeat `issue_report` gets `repeat_of` = most recent earlier ticket in the chat (any status except
//!   merged away) with equal category and matching location (location checked when the report has one).
//! * L5 — bare media join the nearest classified message of the same sender within ±10 minutes (tie → the
//!   earlier message); they join that message's record, as `resolution_proof` when it is an `issue_resolved`;
//!   nearest message without a record (chatter, check-in, instruction, unlinked update) → unlinked. A caption's
//!   media belong to the caption's record. Because media can precede its text, a media decision stays pending
//!   until no closer message can arrive: a tentative link is emitted at once when an earlier text has a record
//!   and moved (`UnlinkEvidence` + `LinkEvidence`) if a closer later text claims the media.
//! * Instructions naming people (`MsgIn::mentions`) set the owner of the ticket found by (a), (b), or — when the
//!   instruction has neither category nor location — the open ticket with the latest activity in the chat within
//!   [`OWNER_FALLBACK_SECS`]. The instruction joins no record.
//! * Status: report → `open`; first update → `in_progress` (from `open`/`acknowledged`); resolution → `resolved`.
//!   Only manager actions close, reopen or acknowledge.
//! * Manager corrections ([`Overrides`]) are consulted before any rule, so a replay reproduces them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::classify::types::{Category, Classification, Kind, Location, Priority, TaskStatus};

/// Media join a text of the same sender at most this far away (rule L5).
pub const MEDIA_WINDOW_SECS: i64 = 600;
/// An instruction with neither category nor location assigns the owner of the chat's most recently active
/// open ticket only if that activity is at most this old.
pub const OWNER_FALLBACK_SECS: i64 = 2 * 3600;
const MEDIA_WINDOW_MS: i64 = MEDIA_WINDOW_SECS * 1000;
const TITLE_MAX_CHARS: usize = 100;

/// One message as the engine sees it (built by the ingest pipeline / import).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MsgIn {
    /// Message row id.
    pub id: i64,
    pub chat_id: i64,
    /// Person id of the sender; `None` for system lines or unknown senders.
    pub sender_id: Option<i64>,
    pub sent_at: DateTime<Utc>,
    /// Day of `sent_at` in the configured timezone (for L2 "same day").
    pub local_date: NaiveDate,
    /// Order within the chat (ties within a timestamp).
    pub ordinal: u64,
    /// Text or caption, used for the ticket title. Empty for bare media.
    #[serde(default)]
    pub text: String,
    /// `None` = not classified (system line, deleted message, bare media).
    pub class: Option<Classification>,
    pub has_media: bool,
    /// Evidence ids carried by this message.
    #[serde(default)]
    pub media: Vec<i64>,
    /// Quoted message row id.
    #[serde(default)]
    pub reply_to: Option<i64>,
    /// Person ids an instruction names (resolved by the caller, see [`crate::records::mentioned_names`]).
    #[serde(default)]
    pub mentions: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum RecordRef {
    Issue(i64),
    Task(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueStatus {
    Open,
    Acknowledged,
    InProgress,
    Resolved,
    Closed,
}

impl IssueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Open => "open",
            IssueStatus::Acknowledged => "acknowledged",
            IssueStatus::InProgress => "in_progress",
            IssueStatus::Resolved => "resolved",
            IssueStatus::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<IssueStatus> {
        Some(match s {
            "open" => IssueStatus::Open,
            "acknowledged" => IssueStatus::Acknowledged,
            "in_progress" => IssueStatus::InProgress,
            "resolved" => IssueStatus::Resolved,
            "closed" => IssueStatus::Closed,
            _ => return None,
        })
    }
    /// Open for linking: not resolved or closed.
    pub fn is_open(self) -> bool {
        !matches!(self, IssueStatus::Resolved | IssueStatus::Closed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceRole {
    Evidence,
    ResolutionProof,
}

impl EvidenceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceRole::Evidence => "evidence",
            EvidenceRole::ResolutionProof => "resolution_proof",
        }
    }
}

/// Why a message or a piece of evidence is (or is not) linked to a record. Serialised as
/// `{"reason": "<as_str>", ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum LinkReason {
    /// The message opened the record.
    Opened,
    /// L3 (a): the message quotes / replies to a message of the ticket.
    Reply,
    /// L3 (b): most recently opened open ticket with the same category / matching location.
    SameCategoryLocation,
    /// L3 (c): the open ticket the same sender most recently opened or updated.
    SameSenderOpenTicket,
    /// Sent by the person the ticket is assigned to (its owner).
    TicketOwner,
    /// The open ticket the message fits best on the link cues (see the message's cues).
    InContext,
    /// L2: a `done` report completing the sender's same-day `in_progress` entry.
    CompletesInProgress,
    /// L5: media carried by a captioned message.
    Caption,
    /// L5: media joined the nearest classified text of the same sender within 10 minutes.
    NearestTextSameSender,
    /// A manager's correction decided this link.
    ManagerOverride,
    /// Unlinked update/resolution: no rule found an open ticket.
    NoMatchingTicket,
    /// Unlinked media: no classified text of the same sender within 10 minutes.
    NoTextWithinWindow,
    /// Unlinked media: the nearest text of the same sender has no record (chatter, check-in, …).
    NearestTextNoRecord { kind: Kind },
    /// Unlinked media: the caption's message creates no record.
    CaptionNoRecord { kind: Kind },
    /// Unlinked media: the sender is unknown.
    NoSender,
}

impl LinkReason {
    /// Stable snake_case identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkReason::Opened => "opened",
            LinkReason::Reply => "reply",
            LinkReason::SameCategoryLocation => "same_category_location",
            LinkReason::SameSenderOpenTicket => "same_sender_open_ticket",
            LinkReason::TicketOwner => "ticket_owner",
            LinkReason::InContext => "in_context",
            LinkReason::CompletesInProgress => "completes_in_progress",
            LinkReason::Caption => "caption",
            LinkReason::NearestTextSameSender => "nearest_text_same_sender",
            LinkReason::ManagerOverride => "manager_override",
            LinkReason::NoMatchingTicket => "no_matching_ticket",
            LinkReason::NoTextWithinWindow => "no_text_within_window",
            LinkReason::NearestTextNoRecord { .. } => "nearest_text_no_record",
            LinkReason::CaptionNoRecord { .. } => "caption_no_record",
            LinkReason::NoSender => "no_sender",
        }
    }
    /// Human explanation (the wording of the corpus' expected files where they have one).
    pub fn explain(self) -> String {
        match self {
            LinkReason::Opened => "opened the record".into(),
            LinkReason::Reply => "replies to a message of this ticket".into(),
            LinkReason::SameCategoryLocation => "matches category/location of the most recent open ticket".into(),
            LinkReason::SameSenderOpenTicket => "most recent open ticket the same sender touched".into(),
            LinkReason::TicketOwner => "sent by the person this ticket is assigned to".into(),
            LinkReason::InContext => "the open ticket this message fits best".into(),
            LinkReason::CompletesInProgress => {
                "completes the same sender's in-progress entry of the same day, category and location".into()
            }
            LinkReason::Caption => "caption of this photo belongs to the record".into(),
            LinkReason::NearestTextSameSender => "nearest text from the same sender within 10 min".into(),
            LinkReason::ManagerOverride => "set by a manager's correction".into(),
            LinkReason::NoMatchingTicket => {
                "no open ticket in this chat matches category/location and the sender touched none".into()
            }
            LinkReason::NoTextWithinWindow => "no text from the same sender within 10 min".into(),
            LinkReason::NearestTextNoRecord { kind } => format!(
                "nearest text from the same sender is {}, {}",
                kind.as_str(),
                no_record_because(kind)
            ),
            LinkReason::CaptionNoRecord { kind } => {
                format!("caption is {}, {}", kind.as_str(), no_record_because(kind))
            }
            LinkReason::NoSender => "sender unknown, media cannot be matched to a text".into(),
        }
    }
}

fn no_record_because(kind: Kind) -> &'static str {
    match kind {
        Kind::IssueUpdate | Kind::IssueResolved => "which no rule linked to a ticket",
        _ => "which creates no record",
    }
}

/// What the store must persist, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    OpenIssue {
        issue_id: i64,
        msg: i64,
        chat_id: i64,
        title: String,
        category: Option<Category>,
        location: Location,
        priority: Option<Priority>,
        repeat_of: Option<i64>,
        opened_at: DateTime<Utc>,
        reported_by: Option<i64>,
    },
    OpenTask {
        task_id: i64,
        msg: i64,
        chat_id: i64,
        status: TaskStatus,
        category: Option<Category>,
        location: Location,
        reported_at: DateTime<Utc>,
        reported_by: Option<i64>,
    },
    /// L2: the task entry becomes `done`.
    CompleteTask {
        task_id: i64,
        msg: i64,
        at: DateTime<Utc>,
    },
    /// The message belongs to the record (openers too, with reason `opened`).
    LinkMessage {
        msg: i64,
        record: RecordRef,
        reason: LinkReason,
    },
    /// An update/resolution no rule could attach (or a manager detached).
    MessageUnlinked { msg: i64, reason: LinkReason },
    /// How the message was read against the open tickets, when that is not simply the classifier's first guess
    /// linked by rule L3 (a)/(b)/(c): its kind now (`classified_as` was the classifier's) and the cues that decided.
    /// Follows the message's `LinkMessage`.
    ReadInContext {
        msg: i64,
        kind: Kind,
        classified_as: Kind,
        cues: Vec<String>,
    },
    SetIssueStatus {
        issue: i64,
        status: IssueStatus,
        at: DateTime<Utc>,
        by_msg: Option<i64>,
    },
    SetOwner {
        issue: i64,
        person: i64,
        by_msg: Option<i64>,
    },
    /// A manager assigned the ticket to a vendor (a contractor firm), or took it away (`None`).
    SetVendor { issue: i64, vendor: Option<i64> },
    /// Manager merge: `from` is closed and points to `into`.
    MergeIssues {
        from: i64,
        into: i64,
        at: DateTime<Utc>,
    },
    LinkEvidence {
        evidence: i64,
        record: RecordRef,
        role: EvidenceRole,
        reason: LinkReason,
        via_message: Option<i64>,
    },
    /// A tentative evidence link moves away from `record`.
    UnlinkEvidence { evidence: i64, record: RecordRef },
    /// Final: the evidence stays unlinked (with why).
    EvidenceUnlinked {
        evidence: i64,
        reason: LinkReason,
        via_message: Option<i64>,
    },
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum RecordsError {
    #[error("message {msg} belongs to chat {got} but this ChatState is for chat {expected}")]
    ChatMismatch { msg: i64, expected: i64, got: i64 },
}

/// Allocates record ids. For stable ids across re-processing, return the existing id for the opening message
/// (e.g. [`MsgKeyedIds`] or a store-backed allocator).
pub trait IdAlloc {
    fn issue_id(&mut self, opening_msg: i64) -> i64;
    fn task_id(&mut self, opening_msg: i64) -> i64;
}

/// Sequential ids starting at 1, separately for issues and tasks.
#[derive(Debug, Clone, Default)]
pub struct SeqIds {
    pub last_issue: i64,
    pub last_task: i64,
}

impl IdAlloc for SeqIds {
    fn issue_id(&mut self, _opening_msg: i64) -> i64 {
        self.last_issue += 1;
        self.last_issue
    }
    fn task_id(&mut self, _opening_msg: i64) -> i64 {
        self.last_task += 1;
        self.last_task
    }
}

/// Record id = opening message row id: identical on every replay of the same messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgKeyedIds;

impl IdAlloc for MsgKeyedIds {
    fn issue_id(&mut self, opening_msg: i64) -> i64 {
        opening_msg
    }
    fn task_id(&mut self, opening_msg: i64) -> i64 {
        opening_msg
    }
}

// ---------------------------------------------------------------------------------------------------------
// Overrides (manager corrections)

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum RecordOverride {
    /// The message belongs to this record (timeline), whatever the rules say.
    Link { record: RecordRef },
    /// The message opens/joins no record.
    NoRecord,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageOverride {
    /// Replaces the classifier's verdict (reclassification; `issue_report` here splits a ticket).
    #[serde(default)]
    pub class: Option<Classification>,
    #[serde(default)]
    pub record: Option<RecordOverride>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum EvidenceOverride {
    Link {
        record: RecordRef,
        role: EvidenceRole,
    },
    Unlinked,
}

/// Manager actions on tickets, replayed when the message stream reaches `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagerAction {
    /// Unique id (e.g. the event-log id); an action is applied once per state.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// acknowledge, close, reopen (→ open) or any other status.
    SetStatus {
        issue: i64,
        status: IssueStatus,
    },
    SetOwner {
        issue: i64,
        person: i64,
    },
    /// Assign the ticket to a vendor, or (`None`) to no vendor.
    SetVendor {
        issue: i64,
        vendor: Option<i64>,
    },
    /// `from` is closed into `into`; replies to `from`'s messages then reach `into`.
    Merge {
        from: i64,
        into: i64,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    /// Per message row id.
    #[serde(default)]
    pub messages: BTreeMap<i64, MessageOverride>,
    /// Per evidence id.
    #[serde(default)]
    pub evidence: BTreeMap<i64, EvidenceOverride>,
    /// Ticket actions (any order; applied in `(at, id)` order).
    #[serde(default)]
    pub actions: Vec<ManagerAction>,
}

impl Overrides {
    pub fn none() -> &'static Overrides {
        static NONE: Overrides = Overrides {
            messages: BTreeMap::new(),
            evidence: BTreeMap::new(),
            actions: Vec::new(),
        };
        &NONE
    }
}

// ---------------------------------------------------------------------------------------------------------
// State

/// A ticket as the rules need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: i64,
    pub opening_msg: i64,
    pub category: Option<Category>,
    pub location: Location,
    pub priority: Option<Priority>,
    pub status: IssueStatus,
    pub opened_at: DateTime<Utc>,
    pub opened_ordinal: u64,
    pub opener: Option<i64>,
    pub last_updater: Option<i64>,
    pub last_activity: DateTime<Utc>,
    pub repeat_of: Option<i64>,
    pub owner: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub merged_into: Option<i64>,
    /// (person, ordinal of the last message by which the person opened or updated this ticket).
    pub touches: Vec<(i64, u64)>,
    /// Distinctive terms of the ticket's messages (newest last, at most [`super::context::TICKET_TERMS`]).
    #[serde(default)]
    pub terms: Vec<String>,
}

impl Ticket {
    pub fn is_open_for_linking(&self) -> bool {
        self.status.is_open() && self.merged_into.is_none()
    }
    fn touch(&mut self, person: Option<i64>, ordinal: u64, at: DateTime<Utc>) {
        if let Some(p) = person {
            match self.touches.iter_mut().find(|(q, _)| *q == p) {
                Some(t) => t.1 = t.1.max(ordinal),
                None => self.touches.push((p, ordinal)),
            }
            self.last_updater = Some(p);
        }
        if at > self.last_activity {
            self.last_activity = at;
        }
    }
    fn add_terms(&mut self, text: &str) {
        for w in super::context::terms(text) {
            if let Some(i) = self.terms.iter().position(|x| *x == w) {
                self.terms.remove(i);
            }
            self.terms.push(w);
        }
        let excess = self
            .terms
            .len()
            .saturating_sub(super::context::TICKET_TERMS);
        self.terms.drain(..excess);
    }
    pub(super) fn touched_by(&self, person: i64) -> Option<u64> {
        self.touches.iter().find(|(q, _)| *q == person).map(|t| t.1)
    }
}

/// An `in_progress` task entry that a later `done` report may complete (L2). Done/blocked entries are not kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEntry {
    pub id: i64,
    pub opening_msg: i64,
    pub sender: i64,
    pub local_date: NaiveDate,
    pub category: Option<Category>,
    pub location: Location,
    pub status: TaskStatus,
    pub opened_at: DateTime<Utc>,
    pub ordinal: u64,
}

/// A classified message kept for L5 (media within ±10 minutes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentText {
    pub msg: i64,
    pub sender: i64,
    pub sent_at: DateTime<Utc>,
    pub ordinal: u64,
    pub kind: Kind,
    pub record: Option<RecordRef>,
}

/// A bare-media message whose decision can still change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingMedia {
    pub msg: i64,
    pub evidence: Vec<i64>,
    pub sender: i64,
    pub sent_at: DateTime<Utc>,
    pub ordinal: u64,
    /// Best candidate so far (an earlier text); its record, if any, is already linked tentatively.
    pub best: Option<RecentText>,
}

/// Everything the rules need about one chat. Serialisable so it can be saved, or rebuilt by replay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatState {
    pub chat_id: Option<i64>,
    /// All tickets of the chat, in opening order.
    pub tickets: Vec<Ticket>,
    /// `in_progress` task entries of the last two local days.
    pub tasks: Vec<TaskEntry>,
    /// Classified messages of the last 10 minutes.
    pub recent: Vec<RecentText>,
    pub pending_media: Vec<PendingMedia>,
    /// Message → ticket (for replies, rule L3 a); task records are not kept.
    pub msg_records: BTreeMap<i64, RecordRef>,
    pub last_time: Option<DateTime<Utc>>,
    pub last_date: Option<NaiveDate>,
    pub applied_actions: BTreeSet<i64>,
    /// What managers' corrections taught the linker about this chat.
    #[serde(default)]
    pub taught: Taught,
}

/// Linker cues learned from managers moving messages to tickets: who works on which trade and at which place. Learned
/// when the corrected message's turn comes in the stream, so a replay of the messages with their corrections rebuilds
/// it exactly (records stay a pure function of both); saved with the chat's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Taught {
    /// (person, trade of a ticket a manager moved one of their messages to), newest last.
    #[serde(default)]
    pub trades: Vec<(i64, Category)>,
    /// (person, location key, value) likewise: the block or area of that ticket.
    #[serde(default)]
    pub places: Vec<(i64, String, String)>,
}

/// At most this many taught pairs of each kind are kept per chat (the newest).
pub const TAUGHT_MAX: usize = 200;

impl Taught {
    fn learn(&mut self, person: i64, t: &Ticket) {
        if let Some(c) = t.category {
            self.trades.retain(|x| *x != (person, c));
            self.trades.push((person, c));
        }
        for (k, v) in [("block", &t.location.block), ("area", &t.location.area)] {
            if let Some(v) = v {
                let e = (person, k.to_string(), v.to_lowercase());
                self.places.retain(|x| *x != e);
                self.places.push(e);
            }
        }
        let n = self.trades.len().saturating_sub(TAUGHT_MAX);
        self.trades.drain(..n);
        let n = self.places.len().saturating_sub(TAUGHT_MAX);
        self.places.drain(..n);
    }
}

impl ChatState {
    pub fn new(chat_id: i64) -> ChatState {
        ChatState {
            chat_id: Some(chat_id),
            ..ChatState::default()
        }
    }
    pub fn ticket(&self, id: i64) -> Option<&Ticket> {
        self.tickets.iter().find(|t| t.id == id)
    }
    fn ticket_idx(&self, id: i64) -> Option<usize> {
        self.tickets.iter().rposition(|t| t.id == id)
    }
    /// Follows merges to the surviving ticket.
    pub(super) fn resolve_merged(&self, mut id: i64) -> i64 {
        for _ in 0..64 {
            match self.ticket(id).and_then(|t| t.merged_into) {
                Some(next) => id = next,
                None => break,
            }
        }
        id
    }
}

// ---------------------------------------------------------------------------------------------------------
// Entry points

/// Processes one message of the chat and returns what to persist.
pub fn process(
    state: &mut ChatState,
    msg: &MsgIn,
    ids: &mut dyn IdAlloc,
    ov: &Overrides,
) -> Result<Vec<Effect>, RecordsError> {
    match state.chat_id {
        Some(c) if c != msg.chat_id => {
            return Err(RecordsError::ChatMismatch {
                msg: msg.id,
                expected: c,
                got: msg.chat_id,
            })
        }
        Some(_) => {}
        None => state.chat_id = Some(msg.chat_id),
    }
    let mut fx = Vec::new();
    // Manager actions from before the message come first; those at its very instant come after it: a manager acts
    // on what they have seen, so an assignment made the instant a ticket opened is about that ticket.
    apply_due_actions(state, ov, Due::Before(msg.sent_at), &mut fx);
    advance_time(state, msg.sent_at, &mut fx);

    let mov = ov.messages.get(&msg.id);
    let class = mov.and_then(|o| o.class.as_ref()).or(msg.class.as_ref());
    match class {
        None => {
            if !msg.media.is_empty() {
                bare_media(state, msg, ov, &mut fx);
            }
        }
        Some(class) => {
            let record = classified(state, msg, class, mov.and_then(|o| o.record), ids, &mut fx);
            caption_media(msg, class.kind, record, ov, &mut fx);
            if let Some(sender) = msg.sender_id {
                claim_pending(state, msg, sender, class.kind, record, &mut fx);
                state.recent.push(RecentText {
                    msg: msg.id,
                    sender,
                    sent_at: msg.sent_at,
                    ordinal: msg.ordinal,
                    kind: class.kind,
                    record,
                });
            }
        }
    }
    apply_due_actions(state, ov, Due::Until(msg.sent_at), &mut fx);
    prune(state, msg);
    Ok(fx)
}

/// Applies due manager actions and finalises media decisions that can no longer change at `now`
/// (call from a timer for live chats).
///
/// `now` is wall-clock time: it settles media whose window has passed but does not move the chat's message clock
/// (messages delivered late, e.g. by a webhook retry, still see the texts around them).
pub fn tick(state: &mut ChatState, now: DateTime<Utc>, ov: &Overrides) -> Vec<Effect> {
    let mut fx = Vec::new();
    apply_due_actions(state, ov, Due::Until(now), &mut fx);
    let clock = state.last_time;
    advance_time(state, now, &mut fx);
    state.last_time = clock;
    fx
}

/// End of an import: applies the remaining manager actions and flushes every pending media decision.
pub fn finish(state: &mut ChatState, ov: &Overrides) -> Vec<Effect> {
    let mut fx = Vec::new();
    apply_due_actions(state, ov, Due::All, &mut fx);
    let pending = std::mem::take(&mut state.pending_media);
    for p in pending {
        finalize_unclaimed(&p, &mut fx);
    }
    fx
}

/// Applies one manager action now (live correction). Record it in [`Overrides::actions`] too, so replays
/// reproduce it; an action id is applied at most once per state.
pub fn apply_action(state: &mut ChatState, action: &ManagerAction) -> Vec<Effect> {
    let mut fx = Vec::new();
    apply_one_action(state, action, &mut fx);
    fx
}

// ---------------------------------------------------------------------------------------------------------
// Internals

fn ms_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_milliseconds().abs()
}

/// Which manager actions are due.
#[derive(Clone, Copy)]
enum Due {
    /// Those from before this instant.
    Before(DateTime<Utc>),
    /// Those up to and including this instant.
    Until(DateTime<Utc>),
    /// All of them (the end of an import).
    All,
}

impl Due {
    fn includes(self, at: DateTime<Utc>) -> bool {
        match self {
            Due::Before(t) => at < t,
            Due::Until(t) => at <= t,
            Due::All => true,
        }
    }
}

fn apply_due_actions(state: &mut ChatState, ov: &Overrides, due: Due, fx: &mut Vec<Effect>) {
    if ov.actions.is_empty() {
        return;
    }
    let mut due: Vec<&ManagerAction> = ov
        .actions
        .iter()
        .filter(|a| !state.applied_actions.contains(&a.id) && due.includes(a.at))
        .collect();
    due.sort_by_key(|a| (a.at, a.id));
    for a in due {
        apply_one_action(state, a, fx);
    }
}

fn apply_one_action(state: &mut ChatState, a: &ManagerAction, fx: &mut Vec<Effect>) {
    if !state.applied_actions.insert(a.id) {
        return;
    }
    match a.action {
        Action::SetStatus { issue, status } => {
            if let Some(i) = state.ticket_idx(issue) {
                let t = &mut state.tickets[i];
                t.status = status;
                t.resolved_at = match status {
                    IssueStatus::Resolved | IssueStatus::Closed => t.resolved_at.or(Some(a.at)),
                    _ => None,
                };
                fx.push(Effect::SetIssueStatus {
                    issue,
                    status,
                    at: a.at,
                    by_msg: None,
                });
            }
        }
        Action::SetOwner { issue, person } => {
            if let Some(i) = state.ticket_idx(issue) {
                state.tickets[i].owner = Some(person);
                fx.push(Effect::SetOwner {
                    issue,
                    person,
                    by_msg: None,
                });
            }
        }
        Action::SetVendor { issue, vendor } => {
            if state.ticket_idx(issue).is_some() {
                fx.push(Effect::SetVendor { issue, vendor });
            }
        }
        Action::Merge { from, into } => {
            let into = state.resolve_merged(into);
            if from == into || state.ticket_idx(into).is_none() {
                return;
            }
            if let Some(i) = state.ticket_idx(from) {
                let t = &mut state.tickets[i];
                t.merged_into = Some(into);
                t.status = IssueStatus::Closed;
                t.resolved_at = t.resolved_at.or(Some(a.at));
                let touches = t.touches.clone();
                fx.push(Effect::MergeIssues {
                    from,
                    into,
                    at: a.at,
                });
                fx.push(Effect::SetIssueStatus {
                    issue: from,
                    status: IssueStatus::Closed,
                    at: a.at,
                    by_msg: None,
                });
                if let Some(j) = state.ticket_idx(into) {
                    for (p, o) in touches {
                        let tj = &mut state.tickets[j];
                        match tj.touches.iter_mut().find(|(q, _)| *q == p) {
                            Some(x) => x.1 = x.1.max(o),
                            None => tj.touches.push((p, o)),
                        }
                    }
                }
            }
        }
    }
}

/// Keeps message → ticket for replies (rule L3 a). Task records are not kept: replies only ever reach tickets.
fn remember(state: &mut ChatState, msg: i64, record: RecordRef) {
    if let RecordRef::Issue(_) = record {
        state.msg_records.insert(msg, record);
    }
}

/// Finalises pending media that no later message can still claim.
fn advance_time(state: &mut ChatState, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
    if state.last_time.is_none_or(|t| now > t) {
        state.last_time = Some(now);
    }
    let mut keep = Vec::with_capacity(state.pending_media.len());
    for p in std::mem::take(&mut state.pending_media) {
        let waited = (now - p.sent_at).num_milliseconds();
        let done = match &p.best {
            Some(b) => waited >= ms_between(b.sent_at, p.sent_at),
            None => waited > MEDIA_WINDOW_MS,
        };
        if done {
            finalize_unclaimed(&p, fx);
        } else {
            keep.push(p);
        }
    }
    state.pending_media = keep;
}

/// The pending media keeps its best earlier candidate: a record was already linked tentatively; otherwise
/// report it as unlinked.
fn finalize_unclaimed(p: &PendingMedia, fx: &mut Vec<Effect>) {
    let reason = match &p.best {
        Some(b) if b.record.is_some() => return,
        Some(b) => LinkReason::NearestTextNoRecord { kind: b.kind },
        None => LinkReason::NoTextWithinWindow,
    };
    let via = p.best.as_ref().map(|b| b.msg);
    for &e in &p.evidence {
        fx.push(Effect::EvidenceUnlinked {
            evidence: e,
            reason,
            via_message: via,
        });
    }
}

fn role_for(kind: Kind, record: RecordRef) -> EvidenceRole {
    match (kind, record) {
        (Kind::IssueResolved, RecordRef::Issue(_)) => EvidenceRole::ResolutionProof,
        _ => EvidenceRole::Evidence,
    }
}

/// Splits off evidence that a manager placed; returns the rest.
fn overridden_evidence(msg: &MsgIn, ov: &Overrides, fx: &mut Vec<Effect>) -> Vec<i64> {
    let mut rest = Vec::with_capacity(msg.media.len());
    for &e in &msg.media {
        match ov.evidence.get(&e) {
            Some(EvidenceOverride::Link { record, role }) => fx.push(Effect::LinkEvidence {
                evidence: e,
                record: *record,
                role: *role,
                reason: LinkReason::ManagerOverride,
                via_message: None,
            }),
            Some(EvidenceOverride::Unlinked) => fx.push(Effect::EvidenceUnlinked {
                evidence: e,
                reason: LinkReason::ManagerOverride,
                via_message: None,
            }),
            None => rest.push(e),
        }
    }
    rest
}

fn bare_media(state: &mut ChatState, msg: &MsgIn, ov: &Overrides, fx: &mut Vec<Effect>) {
    let evidence = overridden_evidence(msg, ov, fx);
    if evidence.is_empty() {
        return;
    }
    let Some(sender) = msg.sender_id else {
        for e in evidence {
            fx.push(Effect::EvidenceUnlinked {
                evidence: e,
                reason: LinkReason::NoSender,
                via_message: None,
            });
        }
        return;
    };
    // Nearest earlier classified text of the same sender within the window.
    let best = state
        .recent
        .iter()
        .filter(|r| {
            r.sender == sender
                && (r.sent_at, r.ordinal) < (msg.sent_at, msg.ordinal)
                && ms_between(r.sent_at, msg.sent_at) <= MEDIA_WINDOW_MS
        })
        .max_by_key(|r| (r.sent_at, r.ordinal))
        .cloned();
    if let Some(b) = &best {
        if let Some(record) = b.record {
            for &e in &evidence {
                fx.push(Effect::LinkEvidence {
                    evidence: e,
                    record,
                    role: role_for(b.kind, record),
                    reason: LinkReason::NearestTextSameSender,
                    via_message: Some(b.msg),
                });
            }
            remember(state, msg.id, record);
        }
    }
    let p = PendingMedia {
        msg: msg.id,
        evidence,
        sender,
        sent_at: msg.sent_at,
        ordinal: msg.ordinal,
        best,
    };
    // Same instant as its text: nothing can be closer.
    if p.best.as_ref().is_some_and(|b| b.sent_at == msg.sent_at) {
        finalize_unclaimed(&p, fx);
    } else {
        state.pending_media.push(p);
    }
}

/// A classified text of `sender` arrived: it decides that sender's pending media.
fn claim_pending(
    state: &mut ChatState,
    msg: &MsgIn,
    sender: i64,
    kind: Kind,
    record: Option<RecordRef>,
    fx: &mut Vec<Effect>,
) {
    let mut keep = Vec::with_capacity(state.pending_media.len());
    for p in std::mem::take(&mut state.pending_media) {
        if p.sender != sender || (p.sent_at, p.ordinal) > (msg.sent_at, msg.ordinal) {
            keep.push(p);
            continue;
        }
        let d_new = ms_between(p.sent_at, msg.sent_at);
        let closer = d_new <= MEDIA_WINDOW_MS
            && p.best
                .as_ref()
                .is_none_or(|b| d_new < ms_between(b.sent_at, p.sent_at));
        if !closer {
            finalize_unclaimed(&p, fx);
            continue;
        }
        if let Some(old) = p.best.as_ref().and_then(|b| b.record) {
            for &e in &p.evidence {
                fx.push(Effect::UnlinkEvidence {
                    evidence: e,
                    record: old,
                });
            }
            state.msg_records.remove(&p.msg);
        }
        match record {
            Some(r) => {
                for &e in &p.evidence {
                    fx.push(Effect::LinkEvidence {
                        evidence: e,
                        record: r,
                        role: role_for(kind, r),
                        reason: LinkReason::NearestTextSameSender,
                        via_message: Some(msg.id),
                    });
                }
                remember(state, p.msg, r);
            }
            None => {
                for &e in &p.evidence {
                    fx.push(Effect::EvidenceUnlinked {
                        evidence: e,
                        reason: LinkReason::NearestTextNoRecord { kind },
                        via_message: Some(msg.id),
                    });
                }
            }
        }
    }
    state.pending_media = keep;
}

fn caption_media(
    msg: &MsgIn,
    kind: Kind,
    record: Option<RecordRef>,
    ov: &Overrides,
    fx: &mut Vec<Effect>,
) {
    if msg.media.is_empty() {
        return;
    }
    let evidence = overridden_evidence(msg, ov, fx);
    for e in evidence {
        match record {
            Some(r) => fx.push(Effect::LinkEvidence {
                evidence: e,
                record: r,
                role: role_for(kind, r),
                reason: LinkReason::Caption,
                via_message: Some(msg.id),
            }),
            None => fx.push(Effect::EvidenceUnlinked {
                evidence: e,
                reason: LinkReason::CaptionNoRecord { kind },
                via_message: Some(msg.id),
            }),
        }
    }
}

/// First line of the text, at most [`TITLE_MAX_CHARS`] characters.
pub fn title_of(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= TITLE_MAX_CHARS {
        return line.to_string();
    }
    let mut t: String = line.chars().take(TITLE_MAX_CHARS - 1).collect();
    t.push('…');
    t
}

/// Category equal (as an option); location matching when `loc` has one.
fn same_problem(
    cat: Option<Category>,
    loc: &Location,
    t_cat: Option<Category>,
    t_loc: &Location,
) -> bool {
    cat == t_cat && (loc.is_empty() || loc.matches(t_loc))
}

/// Returns the record the message belongs to (for its media).
fn classified(
    state: &mut ChatState,
    msg: &MsgIn,
    class: &Classification,
    rov: Option<RecordOverride>,
    ids: &mut dyn IdAlloc,
    fx: &mut Vec<Effect>,
) -> Option<RecordRef> {
    match rov {
        Some(RecordOverride::NoRecord) => {
            if matches!(class.kind, Kind::IssueUpdate | Kind::IssueResolved) {
                fx.push(Effect::MessageUnlinked {
                    msg: msg.id,
                    reason: LinkReason::ManagerOverride,
                });
            }
            None
        }
        Some(RecordOverride::Link { record }) => {
            let record = match record {
                RecordRef::Issue(i) => RecordRef::Issue(state.resolve_merged(i)),
                r => r,
            };
            fx.push(Effect::LinkMessage {
                msg: msg.id,
                record,
                reason: LinkReason::ManagerOverride,
            });
            remember(state, msg.id, record);
            match record {
                RecordRef::Issue(id) => {
                    if matches!(
                        class.kind,
                        Kind::IssueReport | Kind::IssueUpdate | Kind::IssueResolved
                    ) {
                        issue_progress(state, msg, class.kind, id, fx);
                    }
                    // A manager put this message in that ticket: its sender works on that trade and place, and its
                    // words name the ticket.
                    if let Some(i) = state.ticket_idx(id) {
                        state.tickets[i].add_terms(&msg.text);
                        if let Some(person) = msg.sender_id {
                            let t = state.tickets[i].clone();
                            state.taught.learn(person, &t);
                        }
                    }
                }
                RecordRef::Task(id) => {
                    if class.kind == Kind::TaskReport && class.status == Some(TaskStatus::Done) {
                        if let Some(pos) = state.tasks.iter().position(|t| t.id == id) {
                            state.tasks.remove(pos);
                            fx.push(Effect::CompleteTask {
                                task_id: id,
                                msg: msg.id,
                                at: msg.sent_at,
                            });
                        }
                    }
                }
            }
            Some(record)
        }
        None => match class.kind {
            _ if class.kind_scores.is_some() && !is_follow_up(class.kind) => {
                match super::context::reread(state, msg, class) {
                    Some(r) => Some(link_reread(state, msg, class, r, fx)),
                    None => by_first_guess(state, msg, class, ids, fx),
                }
            }
            _ => by_first_guess(state, msg, class, ids, fx),
        },
    }
}

fn is_follow_up(kind: Kind) -> bool {
    matches!(kind, Kind::IssueUpdate | Kind::IssueResolved)
}

/// A message the classifier read as another kind is a follow-up of an open ticket (see [`super::context`]).
fn link_reread(
    state: &mut ChatState,
    msg: &MsgIn,
    class: &Classification,
    r: super::context::Reading,
    fx: &mut Vec<Effect>,
) -> RecordRef {
    let id = state.tickets[r.fit.idx].id;
    let record = RecordRef::Issue(id);
    fx.push(Effect::LinkMessage {
        msg: msg.id,
        record,
        reason: r.fit.reason,
    });
    fx.push(Effect::ReadInContext {
        msg: msg.id,
        kind: r.kind,
        classified_as: class.kind,
        cues: r.cues,
    });
    remember(state, msg.id, record);
    issue_progress(state, msg, r.kind, id, fx);
    record
}

/// The classifier's first guess, linked by the rules.
fn by_first_guess(
    state: &mut ChatState,
    msg: &MsgIn,
    class: &Classification,
    ids: &mut dyn IdAlloc,
    fx: &mut Vec<Effect>,
) -> Option<RecordRef> {
    {
        match class.kind {
            Kind::IssueReport => Some(open_issue(state, msg, class, ids, fx)),
            Kind::IssueUpdate | Kind::IssueResolved => link_update(state, msg, class, fx),
            Kind::TaskReport => Some(task_report(state, msg, class, ids, fx)),
            Kind::Instruction => {
                assign_owner(state, msg, class, fx);
                None
            }
            Kind::CheckIn | Kind::Chatter => None,
        }
    }
}

fn open_issue(
    state: &mut ChatState,
    msg: &MsgIn,
    class: &Classification,
    ids: &mut dyn IdAlloc,
    fx: &mut Vec<Effect>,
) -> RecordRef {
    let id = ids.issue_id(msg.id);
    let repeat_of = if class.repeat {
        state
            .tickets
            .iter()
            .rev()
            .filter(|t| {
                t.merged_into.is_none()
                    && (t.opened_at, t.opened_ordinal) < (msg.sent_at, msg.ordinal)
            })
            .find(|t| same_problem(class.category, &class.location, t.category, &t.location))
            .map(|t| t.id)
    } else {
        None
    };
    let mut t = Ticket {
        id,
        opening_msg: msg.id,
        category: class.category,
        location: class.location.clone(),
        priority: class.priority,
        status: IssueStatus::Open,
        opened_at: msg.sent_at,
        opened_ordinal: msg.ordinal,
        opener: msg.sender_id,
        last_updater: None,
        last_activity: msg.sent_at,
        repeat_of,
        owner: None,
        resolved_at: None,
        merged_into: None,
        touches: Vec::new(),
        terms: Vec::new(),
    };
    t.add_terms(&msg.text);
    t.touch(msg.sender_id, msg.ordinal, msg.sent_at);
    t.last_updater = None;
    // Grown by doubling, but never past what compaction keeps plus its slack: a busy chat's vector would otherwise sit
    // at twice the tickets it holds (most of the records states' memory).
    let n = state.tickets.len();
    if n == state.tickets.capacity() {
        let want = (n * 2).clamp(4, STATE_MAX_TICKETS + STATE_TICKET_SLACK + 1);
        state.tickets.reserve_exact(want.max(n + 1) - n);
    }
    state.tickets.push(t);
    let record = RecordRef::Issue(id);
    fx.push(Effect::OpenIssue {
        issue_id: id,
        msg: msg.id,
        chat_id: msg.chat_id,
        title: title_of(&msg.text),
        category: class.category,
        location: class.location.clone(),
        priority: class.priority,
        repeat_of,
        opened_at: msg.sent_at,
        reported_by: msg.sender_id,
    });
    fx.push(Effect::LinkMessage {
        msg: msg.id,
        record,
        reason: LinkReason::Opened,
    });
    remember(state, msg.id, record);
    record
}

/// L3 (a) reply: the quoted message's ticket if it is open for linking.
fn reply_target(state: &ChatState, msg: &MsgIn) -> Option<usize> {
    let quoted = msg.reply_to?;
    let RecordRef::Issue(id) = *state.msg_records.get(&quoted)? else {
        return None;
    };
    let i = state.ticket_idx(state.resolve_merged(id))?;
    state.tickets[i].is_open_for_linking().then_some(i)
}

/// L3 (b): most recently opened open ticket with the same category / matching location.
fn category_location_target(state: &ChatState, class: &Classification) -> Option<usize> {
    if class.category.is_none() && class.location.is_empty() {
        return None;
    }
    state
        .tickets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_open_for_linking())
        .filter(|(_, t)| class.category.is_none_or(|c| t.category == Some(c)))
        .filter(|(_, t)| class.location.is_empty() || class.location.matches(&t.location))
        .max_by_key(|(_, t)| (t.opened_at, t.opened_ordinal))
        .map(|(i, _)| i)
}

/// L3 (c): the open ticket the sender most recently opened or updated.
fn same_sender_target(state: &ChatState, sender: Option<i64>) -> Option<usize> {
    let s = sender?;
    state
        .tickets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_open_for_linking())
        .filter_map(|(i, t)| t.touched_by(s).map(|o| (o, i)))
        .max()
        .map(|(_, i)| i)
}

fn link_update(
    state: &mut ChatState,
    msg: &MsgIn,
    class: &Classification,
    fx: &mut Vec<Effect>,
) -> Option<RecordRef> {
    let mut context = None;
    let found = reply_target(state, msg)
        .map(|i| (i, LinkReason::Reply))
        .or_else(|| {
            category_location_target(state, class).map(|i| (i, LinkReason::SameCategoryLocation))
        })
        .or_else(|| {
            if super::context::legacy() {
                return None;
            }
            let best = super::context::best_fit(state, msg, class)?;
            if best.score < super::context::MIN_FIT_TO_LINK {
                return None;
            }
            // The sender's own ticket keeps rule L3 (c)'s reason.
            let reason = if same_sender_target(state, msg.sender_id) == Some(best.idx) {
                LinkReason::SameSenderOpenTicket
            } else {
                best.reason
            };
            let found = (best.idx, reason);
            context = Some(best.cues);
            Some(found)
        })
        .or_else(|| {
            same_sender_target(state, msg.sender_id).map(|i| (i, LinkReason::SameSenderOpenTicket))
        });
    let Some((i, reason)) = found else {
        fx.push(Effect::MessageUnlinked {
            msg: msg.id,
            reason: LinkReason::NoMatchingTicket,
        });
        return None;
    };
    let id = state.tickets[i].id;
    let record = RecordRef::Issue(id);
    fx.push(Effect::LinkMessage {
        msg: msg.id,
        record,
        reason,
    });
    if let Some(cues) = context {
        fx.push(Effect::ReadInContext {
            msg: msg.id,
            kind: class.kind,
            classified_as: class.kind,
            cues,
        });
    }
    remember(state, msg.id, record);
    issue_progress(state, msg, class.kind, id, fx);
    Some(record)
}

/// Status transitions and touches after a message joined ticket `id`.
fn issue_progress(state: &mut ChatState, msg: &MsgIn, kind: Kind, id: i64, fx: &mut Vec<Effect>) {
    let Some(i) = state.ticket_idx(id) else {
        return;
    };
    let t = &mut state.tickets[i];
    t.touch(msg.sender_id, msg.ordinal, msg.sent_at);
    if kind != Kind::IssueReport {
        t.add_terms(&msg.text);
    }
    let new_status = match (kind, t.status) {
        (Kind::IssueUpdate, IssueStatus::Open | IssueStatus::Acknowledged) => {
            Some(IssueStatus::InProgress)
        }
        (Kind::IssueResolved, s) if s.is_open() => Some(IssueStatus::Resolved),
        _ => None,
    };
    if let Some(status) = new_status {
        t.status = status;
        if status == IssueStatus::Resolved {
            t.resolved_at = Some(msg.sent_at);
        }
        fx.push(Effect::SetIssueStatus {
            issue: id,
            status,
            at: msg.sent_at,
            by_msg: Some(msg.id),
        });
    }
}

fn task_report(
    state: &mut ChatState,
    msg: &MsgIn,
    class: &Classification,
    ids: &mut dyn IdAlloc,
    fx: &mut Vec<Effect>,
) -> RecordRef {
    let status = class.status.unwrap_or(TaskStatus::Done);
    if status == TaskStatus::Done {
        if let Some(sender) = msg.sender_id {
            let found = state
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    t.sender == sender
                        && t.status == TaskStatus::InProgress
                        && t.local_date == msg.local_date
                        && (t.opened_at, t.ordinal) < (msg.sent_at, msg.ordinal)
                        && same_problem(class.category, &class.location, t.category, &t.location)
                })
                .max_by_key(|(_, t)| (t.opened_at, t.ordinal))
                .map(|(i, _)| i);
            if let Some(i) = found {
                let t = state.tasks.remove(i);
                let record = RecordRef::Task(t.id);
                fx.push(Effect::LinkMessage {
                    msg: msg.id,
                    record,
                    reason: LinkReason::CompletesInProgress,
                });
                fx.push(Effect::CompleteTask {
                    task_id: t.id,
                    msg: msg.id,
                    at: msg.sent_at,
                });
                remember(state, msg.id, record);
                return record;
            }
        }
    }
    let id = ids.task_id(msg.id);
    let record = RecordRef::Task(id);
    fx.push(Effect::OpenTask {
        task_id: id,
        msg: msg.id,
        chat_id: msg.chat_id,
        status,
        category: class.category,
        location: class.location.clone(),
        reported_at: msg.sent_at,
        reported_by: msg.sender_id,
    });
    fx.push(Effect::LinkMessage {
        msg: msg.id,
        record,
        reason: LinkReason::Opened,
    });
    remember(state, msg.id, record);
    if let (TaskStatus::InProgress, Some(sender)) = (status, msg.sender_id) {
        state.tasks.push(TaskEntry {
            id,
            opening_msg: msg.id,
            sender,
            local_date: msg.local_date,
            category: class.category,
            location: class.location.clone(),
            status,
            opened_at: msg.sent_at,
            ordinal: msg.ordinal,
        });
    }
    record
}

fn assign_owner(state: &mut ChatState, msg: &MsgIn, class: &Classification, fx: &mut Vec<Effect>) {
    let Some(&person) = msg.mentions.first() else {
        return;
    };
    let target = reply_target(state, msg).or_else(|| {
        if class.category.is_some() || !class.location.is_empty() {
            category_location_target(state, class)
        } else {
            state
                .tickets
                .iter()
                .enumerate()
                .filter(|(_, t)| t.is_open_for_linking())
                .filter(|(_, t)| {
                    (msg.sent_at - t.last_activity).num_seconds() <= OWNER_FALLBACK_SECS
                })
                .max_by_key(|(_, t)| (t.last_activity, t.opened_ordinal))
                .map(|(i, _)| i)
        }
    });
    if let Some(i) = target {
        let t = &mut state.tickets[i];
        if t.owner != Some(person) {
            t.owner = Some(person);
            fx.push(Effect::SetOwner {
                issue: t.id,
                person,
                by_msg: Some(msg.id),
            });
        }
    }
}

fn prune(state: &mut ChatState, msg: &MsgIn) {
    if state.last_date.is_none_or(|d| msg.local_date > d) {
        state.last_date = Some(msg.local_date);
    }
    if let Some(now) = state.last_time {
        state
            .recent
            .retain(|r| (now - r.sent_at).num_milliseconds() <= MEDIA_WINDOW_MS);
    }
    if let Some(today) = state.last_date {
        state
            .tasks
            .retain(|t| (today - t.local_date).num_days() <= 1);
    }
}

/// Resolved or closed tickets older than this (by last activity) leave the engine's state: they can no longer be
/// linked to, and `repeat_of` reaches back this far.
pub const STATE_TICKET_RETENTION_DAYS: i64 = 90;
/// At most this many tickets are kept in a chat's state (open ones first, then the most recent). Every cached chat
/// holds up to this many in memory (about 400 bytes each): 300 keeps a firm's 150 busy groups near 20 MB while a
/// group with 5 new issues a day still reaches back two months for repeats.
pub const STATE_MAX_TICKETS: usize = 300;
/// A chat's state is compacted once it holds this many tickets more than [`STATE_MAX_TICKETS`].
pub const STATE_TICKET_SLACK: usize = 50;

/// Keeps a chat's state small: drops old resolved/closed tickets and their reply entries. Records in the store are
/// untouched; a full replay rebuilds everything.
pub fn compact(state: &mut ChatState) {
    let Some(now) = state.last_time else { return };
    let horizon = now
        .checked_sub_signed(chrono::Duration::days(STATE_TICKET_RETENTION_DAYS))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    state
        .tickets
        .retain(|t| t.is_open_for_linking() || t.last_activity >= horizon);
    if state.tickets.len() > STATE_MAX_TICKETS {
        let excess = state.tickets.len() - STATE_MAX_TICKETS;
        // Drop the oldest closed ones first, then the oldest open ones (tickets are in opening order).
        let mut to_drop: Vec<i64> = state
            .tickets
            .iter()
            .filter(|t| !t.is_open_for_linking())
            .take(excess)
            .map(|t| t.id)
            .collect();
        if to_drop.len() < excess {
            let more = excess - to_drop.len();
            to_drop.extend(
                state
                    .tickets
                    .iter()
                    .filter(|t| t.is_open_for_linking())
                    .take(more)
                    .map(|t| t.id),
            );
        }
        let drop: BTreeSet<i64> = to_drop.into_iter().collect();
        state.tickets.retain(|t| !drop.contains(&t.id));
    }
    let live: BTreeSet<i64> = state.tickets.iter().map(|t| t.id).collect();
    state.msg_records.retain(|_, r| match r {
        RecordRef::Issue(id) => live.contains(id),
        RecordRef::Task(_) => false,
    });
    // Tickets left behind free their slots (the vector's spare capacity is most of a busy chat's state).
    state.tickets.shrink_to_fit();
}

#[cfg(test)]
mod compact_tests {
    use super::*;

    fn ticket(
        id: i64,
        status: IssueStatus,
        opened_at: DateTime<Utc>,
        last_activity: DateTime<Utc>,
    ) -> Ticket {
        Ticket {
            id,
            opening_msg: id,
            category: None,
            location: Location::default(),
            priority: None,
            status,
            opened_at,
            opened_ordinal: id as u64,
            opener: None,
            last_updater: None,
            last_activity,
            repeat_of: None,
            owner: None,
            resolved_at: None,
            merged_into: None,
            touches: vec![],
            terms: vec![],
        }
    }

    #[test]
    fn compact_keeps_open_and_recent_tickets() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut st = ChatState::new(1);
        for i in 0..5 {
            let status = if i % 2 == 0 {
                IssueStatus::Resolved
            } else {
                IssueStatus::Open
            };
            let last_activity = if i == 0 {
                t0 - chrono::Duration::days(200)
            } else {
                t0
            };
            st.tickets.push(ticket(i, status, t0, last_activity));
            st.msg_records.insert(100 + i, RecordRef::Issue(i));
        }
        st.last_time = Some(t0);
        compact(&mut st);
        let ids: Vec<i64> = st.tickets.iter().map(|t| t.id).collect();
        assert_eq!(
            ids,
            vec![1, 2, 3, 4],
            "the old resolved ticket left the state"
        );
        assert!(!st.msg_records.contains_key(&100));
        assert_eq!(st.msg_records.len(), 4);
    }

    #[test]
    fn compact_caps_a_busy_chat_keeping_open_tickets_and_freeing_the_rest() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut st = ChatState::new(1);
        let n = STATE_MAX_TICKETS as i64 + 120;
        for i in 0..n {
            // The 100 oldest are resolved, the rest open.
            let status = if i < 100 {
                IssueStatus::Resolved
            } else {
                IssueStatus::Open
            };
            st.tickets.push(ticket(i, status, t0, t0));
            st.msg_records.insert(1_000 + i, RecordRef::Issue(i));
        }
        st.last_time = Some(t0);
        compact(&mut st);
        assert_eq!(st.tickets.len(), STATE_MAX_TICKETS);
        assert!(
            st.tickets.iter().all(|t| t.id >= 100),
            "the resolved ones go first"
        );
        assert_eq!(
            st.tickets.first().map(|t| t.id),
            Some(120),
            "then the oldest open"
        );
        assert!(st.tickets.capacity() < STATE_MAX_TICKETS + 120);
        assert_eq!(st.msg_records.len(), STATE_MAX_TICKETS);
        assert!(!st.msg_records.contains_key(&1_119));
        assert!(st.msg_records.contains_key(&1_120));
    }
}
