-- The records engine's change counter lives in its own small table: bumping it on every batch used to rewrite the
-- chat_states row, which carries the (large) state snapshot. `owner` is the process that changed the chat last: while
-- it stays the same process, its in-memory state is current and nothing needs bumping.
CREATE TABLE chat_seqs (
    chat_id INTEGER PRIMARY KEY REFERENCES chats(id),
    seq     INTEGER NOT NULL DEFAULT 0,
    owner   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO chat_seqs(chat_id, seq) SELECT chat_id, seq FROM chat_states;
ALTER TABLE chat_states DROP COLUMN seq;

-- Full-text indexing runs behind ingest in large batches (one FTS5 flush per batch instead of one per message):
-- every message with id <= through is in messages_fts.
CREATE TABLE index_state (
    name    TEXT PRIMARY KEY,
    through INTEGER NOT NULL
);
-- Until now only processed messages were indexed: index the unprocessed ones here, then everything is covered.
INSERT INTO messages_fts(rowid, text)
    SELECT id, text FROM messages WHERE processed = 0 AND text IS NOT NULL AND text <> '';
INSERT INTO index_state(name, through) VALUES ('fts', COALESCE((SELECT max(id) FROM messages), 0));
