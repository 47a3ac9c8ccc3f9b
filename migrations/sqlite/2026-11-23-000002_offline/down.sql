DROP INDEX conversations_guest_phone;
ALTER TABLE notification_outbox DROP COLUMN conversation_id;
ALTER TABLE notification_outbox DROP COLUMN summary;
ALTER TABLE conversations DROP COLUMN guest_capabilities;
