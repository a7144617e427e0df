//! Storage: SQLite through rusqlite. `db` opens, migrates and owns the writer; every aggregate's SQL lives in its own
//! file here and nowhere else.

pub mod audit;
pub mod chats;
pub mod db;
pub mod events;
pub mod evidence;
pub mod imports;
pub mod inbox;
pub mod ingest;
pub mod jobs;
pub mod lids;
pub mod messages;
pub mod occurrences;
pub mod outbox;
pub mod people;
pub mod record_links;
pub mod records;
pub mod reports;
pub mod schedules;
pub mod settings;
pub mod transcripts;
pub mod users;

pub use db::Db;
/// The database types other modules may name (in signatures of functions that run inside a store transaction); the
/// SQL itself stays in this module.
pub use rusqlite::{Connection, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database is newer than this tapak (schema {found}, this binary knows up to {supported}); upgrade tapak")]
    TooNew { found: i64, supported: i64 },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the database writer has stopped")]
    WriterGone,
    /// A write job panicked: its own work was rolled back and the writer went on. `job` is where it was asked for.
    #[error("write job from {job} panicked: {message}")]
    JobPanicked { job: String, message: String },
    #[error("{0}")]
    Io(String),
    /// The records engine refused a message it was given (a bug, not the caller's input).
    #[error("records engine failed")]
    Engine(#[source] crate::records::RecordsError),
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
}

/// A UNIQUE constraint failure becomes [`StoreError::Conflict`] naming `what` (a client's request, 409); any other
/// error stays a database error (500).
pub(crate) fn conflict_if_unique(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(what())
        }
        _ => StoreError::Sqlite(e),
    }
}

/// Now, from the clock of the database job this runs in (see [`crate::clock`]).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    crate::clock::now()
}

/// [`now`] as RFC 3339 UTC with milliseconds, the format of every `*_at` column.
pub fn now_str() -> String {
    fmt_time(now())
}

pub fn fmt_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The first millisecond (unix ms) of a local day in `tz`; `None` when midnight does not exist there.
pub fn day_start_ms(d: chrono::NaiveDate, tz: chrono_tz::Tz) -> Option<i64> {
    use chrono::TimeZone;
    d.and_hms_opt(0, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.timestamp_millis())
}

pub fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}
