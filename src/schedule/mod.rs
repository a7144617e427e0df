//! Expected work: schedules, their occurrences and what is missing from them (issue 18). Pure domain code: no HTTP,
//! no SQL, no clock of its own (every function takes `now`).
//!
//! - [`recurrence`]: when work starts (RFC 5545 RRULE through the `rrule` crate);
//! - [`spec`]: a schedule's definition and its validation (errors name the field);
//! - [`status`]: an occurrence's status from the task reports and check-ins that concern it;
//! - [`ladder`]: which reminders and escalations are due for an occurrence;
//! - [`tags`]: checkpoint and QR-poster tags in message text.

pub mod ladder;
pub mod recurrence;
pub mod spec;
pub mod status;
pub mod tags;

pub use recurrence::Recurrence;
pub use spec::{Assignee, Checkpoint, Person, ScheduleSpec};
pub use status::{OccurrenceStatus, Report};

/// The longest report window or reminder delay accepted: 31 days.
pub const MAX_WINDOW_MINUTES: i64 = 31 * 24 * 60;

/// A value refused where it enters, with the field it came in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
