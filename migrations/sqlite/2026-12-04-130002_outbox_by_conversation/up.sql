-- Coalescing a conversation's message.created webhooks and capping its emails look up its newest
-- outbox rows per message.
CREATE INDEX notification_outbox_conversation ON notification_outbox (conversation_id, channel, created_at);
