-- An append may carry an idempotency key: a retried request finds the row it
-- stored the first time instead of storing the message again. A key lives
-- as long as its message does, and is unique within its process.
ALTER TABLE agent_messages
  ADD COLUMN idempotency_key text NULL,
  ADD COLUMN idempotency_fingerprint text NULL;

CREATE UNIQUE INDEX agent_messages_idempotency_key
  ON agent_messages (process_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
