-- WAHA hidden ids (`<digits>@lid`) and what the gateway's lids API said about them (`whatsapp.md` §2.5).
-- One row per lid ever looked up: the durable cache that keeps tapak from asking the gateway on every message.
CREATE TABLE lid_lookups (
    lid         TEXT PRIMARY KEY,          -- canonical `<digits>@lid`, device suffix stripped
    phone       TEXT,                      -- E.164 digits when the gateway knew the number
    state       TEXT NOT NULL,             -- pending | mapped | unknown (pn null / gateway unreachable after retries)
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    checked_at  TEXT,
    created_at  TEXT NOT NULL
);
