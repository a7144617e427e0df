-- Documents in the outbox (a weekly or monthly report's PDF sent as a WhatsApp document): the file to send, the name
-- the recipient sees and its MIME type. The caption is the send's `text`. NULL for every other kind of send. The file
-- is read when the send is attempted (the producer keeps it until then); a file gone by then fails the send.
ALTER TABLE outbox ADD COLUMN document_path TEXT;
ALTER TABLE outbox ADD COLUMN document_name TEXT;
ALTER TABLE outbox ADD COLUMN document_mime TEXT;
