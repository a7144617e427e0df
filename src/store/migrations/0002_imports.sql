-- tapak schema v2: chat-export imports (one row per imported file; failed imports write nothing).

CREATE TABLE imports (
    id                  INTEGER PRIMARY KEY,
    created_at          TEXT NOT NULL,
    actor               TEXT NOT NULL,          -- cli | user:NAME | token:NAME
    path                TEXT NOT NULL,          -- file name as given (uploads: the uploaded file's name)
    sha256              TEXT NOT NULL,          -- of the imported file
    bytes               INTEGER NOT NULL,
    chat_id             INTEGER NOT NULL REFERENCES chats(id),
    site_id             INTEGER REFERENCES sites(id),
    messages            INTEGER NOT NULL,       -- records in the export
    new_messages        INTEGER NOT NULL,
    duplicates          INTEGER NOT NULL,       -- already stored (same export id) + matched live messages
    live_matches        INTEGER NOT NULL,       -- of which matched gateway / Cloud API messages
    media               INTEGER NOT NULL,       -- media markers in the export
    media_stored        INTEGER NOT NULL,       -- files stored as evidence from the archive
    media_missing       INTEGER NOT NULL,       -- markers whose file was not in the export
    records_created     INTEGER NOT NULL DEFAULT 0,
    date_order          TEXT,
    first_message_at    TEXT,
    last_message_at     TEXT,
    event_id            INTEGER
);
CREATE INDEX imports_sha ON imports(sha256);
