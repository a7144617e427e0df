//! Records engine: turns a stream of classified messages into task-log entries and issue tickets with
//! evidence links (rules L1–L7 of `shared/corpus/README.md`, "Records and linking" of
//! `shared/spec/classification.md`).
//!
//! Pure domain logic: no I/O, no SQL, no HTTP. The caller feeds each chat's messages in chat order
//! (non-decreasing `sent_at`, then `ordinal`) to [`process`] with that chat's [`ChatState`], persists the
//! returned [`Effect`]s in order, and calls [`finish`] at the end of an import (or [`tick`] from a timer
//! for live chats) so that pending media decisions are flushed.
//!
//! * [`engine`]: `MsgIn`, `ChatState`, `process`, `tick`, `finish`, `apply_action`, overrides, id allocation.
//! * [`projection`]: an in-memory application of effects (the reference for what the store must do).
//! * [`mentions`]: `mentioned_names` — "@Ali", "Ali pls check", "Mr Tan, tolong …" candidates.
//! * [`sla`]: SLA policies, deadlines with business hours, breach checks.
//! * [`repeats`]: repeated-problem groups for reports.

pub mod context;
pub mod engine;
pub mod export;
pub mod history;
pub mod mentions;
pub mod projection;
pub mod repeats;
pub mod sla;

pub use engine::{
    apply_action, compact, finish, process, tick, Action, ChatState, Effect, EvidenceOverride,
    EvidenceRole, IdAlloc, IssueStatus, LinkReason, ManagerAction, MessageOverride, MsgIn,
    MsgKeyedIds, Overrides, RecordOverride, RecordRef, RecordsError, SeqIds, TaskEntry, Ticket,
    MEDIA_WINDOW_SECS, OWNER_FALLBACK_SECS, STATE_MAX_TICKETS, STATE_TICKET_RETENTION_DAYS,
    STATE_TICKET_SLACK,
};
pub use mentions::mentioned_names;
pub use projection::{EvidenceView, IssueView, Projection, TaskView};
pub use repeats::{repeated_problems, RepeatGroup, TicketSummary};
pub use sla::{breached, sla_deadlines, BusinessHours, SlaPolicy, SlaRule, SlaTarget};

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod linker_tests;
