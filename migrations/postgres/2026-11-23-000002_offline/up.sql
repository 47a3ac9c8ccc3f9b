-- What the guest's panel can do (JSON array of strings); NULL for channels without a panel.
ALTER TABLE conversations ADD COLUMN guest_capabilities TEXT;
-- One line for the console's delivery list ("Email to a@b.c: New message").
ALTER TABLE notification_outbox ADD COLUMN summary TEXT NOT NULL DEFAULT '';
ALTER TABLE notification_outbox ADD COLUMN conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL;
CREATE INDEX conversations_guest_phone ON conversations (guest_phone);
