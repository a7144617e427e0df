//! What a report is computed from (plain values the store loads) and what it contains (the JSON shape of
//! `GET /api/v1/reports/{period}`; docs/reports.md defines every number).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::period::Period;

/// A site, chat, schedule or vendor: id and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
pub struct Ref {
    pub id: i64,
    pub name: String,
}

/// A person as reports name them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
pub struct PersonRef {
    pub id: i64,
    pub name: Option<String>,
    pub phone: Option<String>,
}

impl PersonRef {
    /// The name, else the phone, else `#id`.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.phone.clone())
            .unwrap_or_else(|| format!("#{}", self.id))
    }
}

/// A ticket as reports see it. Merged duplicates are not loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: i64,
    pub title: String,
    pub site: Option<Ref>,
    pub category: Option<String>,
    /// "Block C / Level 2 / …", empty when the ticket has no location.
    pub location: String,
    pub opened: DateTime<Utc>,
    /// The first status change away from open.
    pub acknowledged: Option<DateTime<Utc>>,
    pub resolved: Option<DateTime<Utc>>,
    pub closed: Option<DateTime<Utc>>,
    pub respond_by: Option<DateTime<Utc>>,
    pub resolve_by: Option<DateTime<Utc>>,
    pub owner: Option<PersonRef>,
    /// The owner's vendor.
    pub vendor: Option<Ref>,
    pub repeat_of: Option<i64>,
}

impl Ticket {
    /// When the ticket was done with: resolved, else closed.
    pub fn done(&self) -> Option<DateTime<Utc>> {
        self.resolved.or(self.closed)
    }
    /// Done (resolved or closed) before `t`.
    pub fn done_before(&self, t: DateTime<Utc>) -> bool {
        self.done().is_some_and(|d| d < t)
    }
}

/// A task-log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEntry {
    pub id: i64,
    pub site: Option<Ref>,
    pub status: String,
    pub category: Option<String>,
    pub location: String,
    pub reported: DateTime<Utc>,
    pub reporter: Option<PersonRef>,
}

/// An occurrence of scheduled work.
#[derive(Debug, Clone, PartialEq)]
pub struct OccurrenceRow {
    pub id: i64,
    pub schedule: Ref,
    pub site: Option<Ref>,
    pub category: String,
    pub block: Option<String>,
    pub starts: DateTime<Utc>,
    pub status: String,
    /// The schedule's assignees, as labels (a person's name or phone, or a vendor's name).
    pub assignees: Vec<String>,
    /// Who sent the report that decided it.
    pub reporter: Option<PersonRef>,
}

/// A reminder, photo request or escalation sent (a ladder step), with what answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub purpose: String,
    pub about_type: String,
    pub about_id: i64,
    /// When the thing reminded about was answered: the occurrence's report, or the ticket's response (respond rungs)
    /// or resolution (resolve rungs).
    pub answered: Option<DateTime<Utc>>,
}

/// A photo a person sent.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoRow {
    pub sender: PersonRef,
    pub at: DateTime<Utc>,
}

/// Messages of one chat in the period and the previous one.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCount {
    pub chat: Ref,
    pub site: Option<Ref>,
    pub current: i64,
    pub previous: i64,
}

/// Everything a report is computed from, covering the period and the previous one.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Tickets opened before the period's end that were not done before the previous period's start, plus the
    /// ancestors of repeats (for their chains).
    pub tickets: Vec<Ticket>,
    pub tasks: Vec<TaskEntry>,
    pub occurrences: Vec<OccurrenceRow>,
    /// Schedules in scope (not deleted); 0 shows "no schedules".
    pub schedules: i64,
    pub reminders: Vec<ReminderRow>,
    pub photos: Vec<PhotoRow>,
    pub chats: Vec<ChatCount>,
    /// Each person who belongs to a vendor, with the vendor.
    pub person_vendors: Vec<(i64, Ref)>,
}

// ---- the report ----

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Report {
    pub period: Period,
    pub previous_period: Period,
    /// The site reported on; null for the whole firm.
    pub site: Option<Ref>,
    pub generated_at: DateTime<Utc>,
    /// The headline numbers for this period and the previous one.
    pub summary: Summary,
    pub previous: Summary,
    pub tickets: Tickets,
    pub scheduled: Scheduled,
    pub tasks: Tasks,
    pub repeats: Repeats,
    pub scorecards: Scorecards,
    pub reminders: Reminders,
    pub chats: Vec<ChatLine>,
    /// Per site (the firm-wide report only; empty for a site's report).
    pub sites: Vec<SiteLine>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Summary {
    pub tickets_opened: i64,
    pub tickets_resolved: i64,
    pub tickets_closed: i64,
    pub tickets_open_at_end: i64,
    pub late_to_respond: i64,
    pub late_to_resolve: i64,
    pub mean_acknowledge_seconds: Option<i64>,
    pub mean_resolve_seconds: Option<i64>,
    pub tasks: i64,
    pub scheduled_expected: i64,
    pub scheduled_done: i64,
    /// done / (expected − excused), 0..1; null with nothing expected.
    pub completion_rate: Option<f64>,
    pub repeats: i64,
    pub messages: i64,
}

/// Mean and 90th percentile of a set of durations, in seconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Durations {
    pub count: i64,
    pub mean_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Tickets {
    pub opened: i64,
    pub resolved: i64,
    pub closed: i64,
    pub open_at_end: i64,
    pub time_to_acknowledge: Durations,
    pub time_to_resolve: Durations,
    pub late_to_respond: i64,
    pub late_to_resolve: i64,
    pub overdue_now: i64,
    /// The ticket ids each number counts (for links to the filtered list).
    pub ids: TicketIds,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TicketIds {
    pub opened: Vec<i64>,
    pub resolved: Vec<i64>,
    pub closed: Vec<i64>,
    pub open_at_end: Vec<i64>,
    pub late_to_respond: Vec<i64>,
    pub late_to_resolve: Vec<i64>,
    pub overdue_now: Vec<i64>,
}

/// Occurrence counts by status.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct WorkCounts {
    pub expected: i64,
    pub done_on_time: i64,
    pub late: i64,
    pub missed: i64,
    pub missing_photo: i64,
    pub blocked: i64,
    pub excused: i64,
    pub pending: i64,
    pub completion_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct WorkLine {
    pub key: String,
    #[serde(flatten)]
    pub counts: WorkCounts,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Scheduled {
    /// Schedules in scope; 0 means "no schedules" (the section shows that text).
    pub schedules: i64,
    pub totals: WorkCounts,
    pub by_site: Vec<WorkLine>,
    pub by_block: Vec<WorkLine>,
    pub by_category: Vec<WorkLine>,
    pub by_schedule: Vec<WorkLine>,
    pub by_person: Vec<WorkLine>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Count {
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Tasks {
    pub total: i64,
    pub by_status: Vec<Count>,
    pub by_category: Vec<Count>,
    pub by_location: Vec<Count>,
}

/// A recurring site, location or category: how many repeats the period had there, and their chains (each chain the
/// ticket ids from the first report to the latest repeat, oldest first).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Recurring {
    pub key: String,
    pub repeats: i64,
    pub chains: Vec<Vec<i64>>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Repeats {
    /// Tickets opened in the period that repeat an earlier one.
    pub total: i64,
    pub top_sites: Vec<Recurring>,
    pub top_locations: Vec<Recurring>,
    pub top_categories: Vec<Recurring>,
}

/// One period's numbers of a scorecard.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Score {
    pub tickets_owned: i64,
    pub tickets_resolved: i64,
    pub resolved_within_sla: i64,
    /// resolved_within_sla / tickets_resolved.
    pub within_sla_rate: Option<f64>,
    pub mean_resolve_seconds: Option<i64>,
    pub reports_sent: i64,
    pub reports_on_time: i64,
    pub photos_sent: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Scorecard {
    /// A person's label (name, else phone) or a vendor's name.
    pub name: String,
    pub person: Option<PersonRef>,
    pub vendor: Option<Ref>,
    pub current: Score,
    pub previous: Score,
    /// `better`, `worse` or `same` on the within-SLA rate (then the mean resolution time); null when either period
    /// resolved nothing.
    pub trend: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Scorecards {
    pub people: Vec<Scorecard>,
    pub vendors: Vec<Scorecard>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Reminders {
    pub sent: i64,
    pub answered_within_window: i64,
    /// The window, in minutes.
    pub window_minutes: i64,
    pub by_purpose: Vec<Count>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ChatLine {
    pub chat: Ref,
    pub site: Option<Ref>,
    pub messages: i64,
    pub previous: i64,
    /// No message this period after some in the previous one.
    pub silent: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SiteLine {
    /// Null for records of chats without a site.
    pub site: Option<Ref>,
    pub tickets_opened: i64,
    pub tickets_resolved: i64,
    pub tickets_open_at_end: i64,
    pub late_to_respond: i64,
    pub late_to_resolve: i64,
    pub overdue_now: i64,
    pub tasks: i64,
    pub scheduled_expected: i64,
    pub scheduled_done: i64,
    pub completion_rate: Option<f64>,
    pub messages: i64,
}
