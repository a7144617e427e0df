-- The outbox: every WhatsApp message tapak sends (reminders, escalations, photo requests, the daily summary) is a row
-- here before it is sent, so a restart neither loses nor repeats one. The sender worker picks rows in state 'queued'
-- whose next_attempt_at_ms has come, marks them 'sending' (attempts + 1) in a committed write of its own, then sends;
-- the answer moves the row to 'sent' (with the WhatsApp message id), back to 'queued' with a later next_attempt_at_ms
-- (retryable errors), 'failed' (permanent errors, or out of attempts) or 'unconfirmed' (the request went out and no
-- answer came; also every row found 'sending' at start-up). Status webhooks move 'sent' on to 'delivered' and 'read'.
--
-- (about_type, about_id, rung, recipient) is unique: at most one send per occurrence / ticket / report, rung of the
-- ladder and recipient, however often a producer asks.
CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY,
    recipient          TEXT NOT NULL,            -- phone digits, or a chat id (…@g.us, …@c.us, …@lid)
    route              TEXT NOT NULL,            -- cloud_api | waha | evolution
    kind               TEXT NOT NULL,            -- text | template | document (what was, or will be, sent)
    text               TEXT NOT NULL,
    template_params    TEXT NOT NULL DEFAULT '[]', -- JSON array of strings: the Cloud API template's body parameters
    mentions           TEXT NOT NULL DEFAULT '[]', -- JSON array of phones mentioned in a group send
    purpose            TEXT NOT NULL,            -- reminder | escalation | photo_request | summary | anchor
    about_type         TEXT NOT NULL,            -- occurrence | issue | report
    about_id           INTEGER NOT NULL,
    rung               TEXT NOT NULL DEFAULT '', -- the ladder's rung (schedule::ladder::Rung::as_str), '' when none
    urgent             INTEGER NOT NULL DEFAULT 0, -- may pass quiet hours when [outbox] urgent_passes_quiet_hours
    site_id            INTEGER REFERENCES sites(id), -- whose quiet hours apply
    state              TEXT NOT NULL DEFAULT 'queued', -- queued | sending | sent | delivered | read | failed | unconfirmed
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    last_attempt_ms    INTEGER,                  -- for the rate limits
    error              TEXT,
    wa_message_id      TEXT,
    created_ms         INTEGER NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (about_type, about_id, rung, recipient)
);
CREATE INDEX outbox_due ON outbox(next_attempt_at_ms, id) WHERE state = 'queued';
CREATE INDEX outbox_wa_message ON outbox(wa_message_id) WHERE wa_message_id IS NOT NULL;
CREATE INDEX outbox_time ON outbox(created_ms DESC, id DESC);
CREATE INDEX outbox_recent ON outbox(last_attempt_ms) WHERE last_attempt_ms IS NOT NULL;
