-- Webhook deliveries acknowledged while the writer is busy wait here until they are filed (messages, evidence, records)
-- in large batches. The raw body is already in raw_payloads (outcome 'stored'); `normalized` is the parser's output at
-- receipt as JSON, so a delivery is durable the moment it is acknowledged and a crash loses nothing: whatever is here
-- is filed on the next start. Filing removes the row; the table is empty whenever the appliance keeps up.
CREATE TABLE inbox (
    id             INTEGER PRIMARY KEY,
    raw_payload_id INTEGER NOT NULL REFERENCES raw_payloads(id),
    source         TEXT NOT NULL,
    normalized     TEXT NOT NULL
);
