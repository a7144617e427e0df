-- Expected work (issue 18): schedules, their occurrences, and the scheduler's durable state. The scheduler keeps its
-- due work here: occurrences are materialised up to `schedules.materialized_ms` (inserted idempotently, UNIQUE
-- (schedule, starts_at_ms)), open ones are those with `settled = 0`, and every rung of the reminder ladder decided is
-- a row of `ladder_steps` (UNIQUE per subject, rung and recipient), written in the same transaction as the send it
-- queues, so a restart or a power cut loses nothing and repeats nothing.

CREATE TABLE schedules (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT NOT NULL,
    site_id                INTEGER REFERENCES sites(id),
    chat_id                INTEGER REFERENCES chats(id),
    category               TEXT NOT NULL,
    location               TEXT NOT NULL DEFAULT '{}',   -- Location as JSON
    assignees              TEXT NOT NULL DEFAULT '[]',   -- [{"name","phone"} | {"vendor"}]
    rrule                  TEXT NOT NULL,
    window_minutes         INTEGER NOT NULL,
    photo_required         INTEGER NOT NULL DEFAULT 0,
    remind_after_minutes   INTEGER,
    escalate_after_minutes INTEGER,
    escalate_to            TEXT NOT NULL DEFAULT '[]',   -- [{"name","phone"}]
    checkpoints            TEXT NOT NULL DEFAULT '[]',   -- patrols: [{"code","name"}]
    route                  TEXT,                         -- cloud_api | waha | evolution; NULL = the site's default
    audience               TEXT,                         -- group | person | both; NULL = the site's default
    materialized_ms        INTEGER NOT NULL,             -- occurrences starting before this exist
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    deleted                INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX schedules_site ON schedules(site_id) WHERE deleted = 0;

CREATE TABLE occurrences (
    id                  INTEGER PRIMARY KEY,
    schedule_id         INTEGER NOT NULL REFERENCES schedules(id),
    starts_at_ms        INTEGER NOT NULL,
    due_at_ms           INTEGER NOT NULL,
    round               INTEGER,                          -- patrols: the round's number within its day (1-based)
    status              TEXT NOT NULL DEFAULT 'pending',
    task_id             INTEGER,                          -- the task entry that decided it
    reported_ms         INTEGER,
    reason              TEXT,
    missing_checkpoints TEXT NOT NULL DEFAULT '[]',
    excused_reason      TEXT,
    excused_by          TEXT,
    settled             INTEGER NOT NULL DEFAULT 0,       -- 1 once nothing can change it and no rung is left
    evaluated_at        TEXT,
    UNIQUE (schedule_id, starts_at_ms)
);
CREATE INDEX occurrences_open ON occurrences(starts_at_ms) WHERE settled = 0;
CREATE INDEX occurrences_time ON occurrences(starts_at_ms DESC, id DESC);
CREATE INDEX occurrences_schedule_time ON occurrences(schedule_id, starts_at_ms DESC);

-- Every rung of a ladder the scheduler has acted on: occurrences (remind, photo_request, escalate), tickets
-- (respond_owner, ...) and the daily summary (about_type 'report', about_id the day as YYYYMMDD).
CREATE TABLE ladder_steps (
    id          INTEGER PRIMARY KEY,
    about_type  TEXT NOT NULL,
    about_id    INTEGER NOT NULL,
    rung        TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    text        TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    at          TEXT NOT NULL,
    UNIQUE (about_type, about_id, rung, recipient)
);

CREATE INDEX tasks_occurrence ON tasks(schedule_occurrence) WHERE schedule_occurrence IS NOT NULL;
