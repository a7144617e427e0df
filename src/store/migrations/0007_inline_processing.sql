-- Webhook messages are classified and linked in the transaction that stores them, unless an earlier message of
-- the same chat is still waiting for the background processor (chat order must hold). This finds such a message with
-- one probe. Messages processed at once never enter this index (nor messages_pending).
CREATE INDEX messages_pending_chat ON messages(chat_id, id) WHERE processed = 0;
