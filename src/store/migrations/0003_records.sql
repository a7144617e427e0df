-- Records built from messages: issue tickets, task-log entries, the engine's per-chat state, manager corrections.

CREATE TABLE issues (
    id                 INTEGER PRIMARY KEY,        -- the opening message's id (stable across re-processing)
    chat_id            INTEGER NOT NULL REFERENCES chats(id),
    title              TEXT NOT NULL,
    status             TEXT NOT NULL,
    category           TEXT,
    priority           TEXT,
    location           TEXT NOT NULL DEFAULT '{}',
    block              TEXT,
    level              TEXT,
    unit               TEXT,
    area               TEXT,
    opened_at          TEXT NOT NULL,
    opened_ms          INTEGER NOT NULL,
    reported_by        INTEGER REFERENCES people(id),
    owner_id           INTEGER REFERENCES people(id),
    repeat_of          INTEGER,
    responded_at       TEXT,
    resolved_at        TEXT,
    closed_at          TEXT,
    merged_into        INTEGER,
    respond_by         TEXT,
    resolve_by         TEXT,
    respond_by_ms      INTEGER,
    resolve_by_ms      INTEGER,
    updated_at         TEXT NOT NULL
);
CREATE INDEX issues_time ON issues(opened_ms DESC, id DESC);
CREATE INDEX issues_status_time ON issues(status, opened_ms DESC, id DESC);
CREATE INDEX issues_chat_time ON issues(chat_id, opened_ms DESC, id DESC);
CREATE INDEX issues_category_time ON issues(category, opened_ms DESC, id DESC);

CREATE TABLE tasks (
    id                 INTEGER PRIMARY KEY,        -- the opening message's id
    chat_id            INTEGER NOT NULL REFERENCES chats(id),
    status             TEXT NOT NULL,
    category           TEXT,
    location           TEXT NOT NULL DEFAULT '{}',
    block              TEXT,
    level              TEXT,
    unit               TEXT,
    area               TEXT,
    reported_at        TEXT NOT NULL,
    reported_ms        INTEGER NOT NULL,
    reported_by        INTEGER REFERENCES people(id),
    completed_at       TEXT,
    completed_by       INTEGER,
    schedule_occurrence INTEGER,
    updated_at         TEXT NOT NULL
);
CREATE INDEX tasks_time ON tasks(reported_ms DESC, id DESC);
CREATE INDEX tasks_chat_time ON tasks(chat_id, reported_ms DESC, id DESC);
CREATE INDEX tasks_status_time ON tasks(status, reported_ms DESC, id DESC);

CREATE INDEX messages_record ON messages(record_type, record_id) WHERE record_id IS NOT NULL;
CREATE INDEX evidence_record ON evidence(record_type, record_id) WHERE record_id IS NOT NULL;
CREATE INDEX evidence_message ON evidence(message_id);

-- The records engine's state per chat: a snapshot (`state`, covering processed messages up to `state_through`) saved
-- now and then, and `seq`, bumped by every batch that changes it (a processor holding an older seq reloads).
CREATE TABLE chat_states (
    chat_id       INTEGER PRIMARY KEY REFERENCES chats(id),
    state         TEXT,
    state_through INTEGER NOT NULL DEFAULT 0,
    seq           INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL
);

-- Manager corrections: they win over every rule and survive re-processing.
CREATE TABLE corrections (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL REFERENCES chats(id),
    target      TEXT NOT NULL,             -- message | evidence | action
    target_id   INTEGER,
    data        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX corrections_chat ON corrections(chat_id, id);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
