use diesel::prelude::*;

use crate::db::schema::messages;
use crate::db::DbConnection;
use crate::domain::{ConversationId, MessageId, SenderKind};

/// One message of a conversation, numbered by `seq`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = messages)]
pub struct Message {
    /// Primary key (UUIDv7).
    pub id: MessageId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Position in the conversation (1, 2, 3, …).
    pub seq: i64,
    /// `guest`, `operator` or `system`.
    pub sender_kind: SenderKind,
    /// The operator's or visitor's id.
    pub sender_id: Option<String>,
    /// The sender's idempotency key.
    pub client_msg_id: String,
    /// `text`, `note` (internal) or `system`.
    pub kind: String,
    /// The text.
    pub body: String,
    /// Committed (UTC).
    pub created_at: chrono::NaiveDateTime,
}

impl Message {
    /// Inserts this message.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(messages::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The message a sender already stored under this idempotency key.
    pub fn by_client_id(
        conn: &mut DbConnection,
        conversation_id: &str,
        client_msg_id: &str,
    ) -> QueryResult<Option<Message>> {
        messages::table
            .filter(messages::conversation_id.eq(conversation_id))
            .filter(messages::client_msg_id.eq(client_msg_id))
            .select(Message::as_select())
            .first(conn)
            .optional()
    }

    /// Messages after `after_seq`, in order, at most `limit`.
    pub fn after(
        conn: &mut DbConnection,
        conversation_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> QueryResult<Vec<Message>> {
        messages::table
            .filter(messages::conversation_id.eq(conversation_id))
            .filter(messages::seq.gt(after_seq))
            .order(messages::seq.asc())
            .limit(limit)
            .select(Message::as_select())
            .load(conn)
    }
}
