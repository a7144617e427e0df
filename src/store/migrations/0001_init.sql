-- tapak schema v1: sources, people, chats, raw payloads, messages, evidence, jobs, accounts, event log.

CREATE TABLE sites (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);

CREATE TABLE vendors (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    trade       TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    name        TEXT,
    phone       TEXT UNIQUE,
    vendor_id   INTEGER REFERENCES vendors(id),
    merged_into INTEGER REFERENCES people(id),
    created_at  TEXT NOT NULL
);

-- Every id a person appears under in a source (phone digits, @lid, BSUID, export author string).
CREATE TABLE person_ids (
    external_id TEXT PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id)
);

-- Names a person appears under (push names, export contact names).
CREATE TABLE person_aliases (
    person_id   INTEGER NOT NULL REFERENCES people(id),
    alias       TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (person_id, alias)
);
CREATE INDEX person_aliases_alias ON person_aliases(alias);

CREATE TABLE chats (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    external_id     TEXT NOT NULL UNIQUE,
    name            TEXT,
    is_group        INTEGER NOT NULL DEFAULT 0,
    site_id         INTEGER REFERENCES sites(id),
    created_at      TEXT NOT NULL,
    last_message_at TEXT,
    message_count   INTEGER NOT NULL DEFAULT 0
);

-- Every inbound webhook body, verbatim, before any parsing decision.
CREATE TABLE raw_payloads (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    body        BLOB NOT NULL,
    outcome     TEXT NOT NULL,          -- stored | duplicate | malformed | ignored
    error       TEXT
);

CREATE TABLE messages (
    id                INTEGER PRIMARY KEY,
    source            TEXT NOT NULL,
    source_message_id TEXT NOT NULL,
    chat_id           INTEGER NOT NULL REFERENCES chats(id),
    sender_id         INTEGER REFERENCES people(id),
    from_me           INTEGER NOT NULL DEFAULT 0,
    sent_at           TEXT NOT NULL,          -- RFC 3339 UTC
    sent_ms           INTEGER NOT NULL,       -- unix milliseconds, for ordering and ranges
    received_at       TEXT NOT NULL,
    type              TEXT NOT NULL,
    source_type       TEXT NOT NULL,
    text              TEXT,
    reply_to          TEXT,
    forwarded         INTEGER NOT NULL DEFAULT 0,
    edited            INTEGER NOT NULL DEFAULT 0,
    deleted           INTEGER NOT NULL DEFAULT 0,
    raw_payload_id    INTEGER REFERENCES raw_payloads(id),
    normalized        TEXT NOT NULL,          -- the InboundMessage as JSON when there is no raw payload (exports); else empty
    kind              TEXT,
    classification    TEXT,
    classifier_version TEXT,
    processed         INTEGER NOT NULL DEFAULT 0,
    record_type       TEXT,                   -- task | issue (set by the records engine or a manager)
    record_id         INTEGER,
    link_reason       TEXT,
    UNIQUE (source, source_message_id)
);
CREATE INDEX messages_time ON messages(sent_ms DESC, id DESC);
CREATE INDEX messages_chat_time ON messages(chat_id, sent_ms DESC, id DESC);
CREATE INDEX messages_sender_time ON messages(sender_id, sent_ms DESC, id DESC);
CREATE INDEX messages_pending ON messages(id) WHERE processed = 0;

CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);

-- Every text a message has had (edits keep all versions).
CREATE TABLE message_versions (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    text        TEXT,
    changed_at  TEXT NOT NULL,
    change      TEXT NOT NULL,             -- edit | revoke
    raw_payload_id INTEGER REFERENCES raw_payloads(id)
);

-- Receipts for messages tapak sent; one row per (message, status).
CREATE TABLE message_statuses (
    source      TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    at          TEXT NOT NULL,
    recipient   TEXT,
    errors      TEXT,
    PRIMARY KEY (source, message_id, status)
);

CREATE TABLE source_errors (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    at          TEXT NOT NULL,
    detail      TEXT NOT NULL,
    raw_payload_id INTEGER REFERENCES raw_payloads(id)
);

CREATE TABLE evidence (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES messages(id),
    ordinal         INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    mime            TEXT,
    expected_sha256 TEXT,
    sha256          TEXT,
    bytes           INTEGER,
    status          TEXT NOT NULL,          -- pending | ready | failed | missing_from_export
    filename        TEXT,
    received_at     TEXT NOT NULL,
    fetch           TEXT NOT NULL,          -- MediaFetch as JSON
    error           TEXT,
    thumbnail       INTEGER NOT NULL DEFAULT 0,
    width           INTEGER,
    height          INTEGER,
    phash           INTEGER,                -- perceptual hashes of photos (duplicate checks)
    dhash           INTEGER,
    duplicate_of    INTEGER REFERENCES evidence(id),
    exif            TEXT,
    record_type     TEXT,
    record_id       INTEGER,
    role            TEXT,                   -- evidence | resolution_proof
    link_reason     TEXT,
    UNIQUE (message_id, ordinal)
);
CREATE INDEX evidence_sha ON evidence(sha256);

-- Persistent background work (media downloads, …). The database is the queue.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_after   INTEGER NOT NULL,          -- unix ms
    last_error  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs(run_after);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_ms  INTEGER NOT NULL
);

-- Append-only, hash-chained log of every change to stored data.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT,
    data        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
