-- Voice notes as text (issue 17): one row per voice note the `[transcribe] command` was (or is to be) run on. The
-- transcript stands beside the evidence and never replaces the message's own text (null for a voice note); the
-- message is classified and linked with it, and it is searchable under the message's id in messages_fts.
CREATE TABLE transcripts (
    evidence_id INTEGER PRIMARY KEY REFERENCES evidence(id),
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    text        TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX transcripts_message ON transcripts(message_id);
-- The voice notes ready to be transcribed, found without reading every photo's row.
CREATE INDEX evidence_voice_ready ON evidence(id) WHERE kind = 'voice' AND status = 'ready';
