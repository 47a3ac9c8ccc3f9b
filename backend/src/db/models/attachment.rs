use diesel::prelude::*;

use crate::db::schema::attachments;
use crate::db::DbConnection;
use crate::domain::{AttachmentId, ConversationId, MessageId};

/// A file sent in a conversation.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments)]
pub struct Attachment {
    /// Primary key (UUIDv7).
    pub id: AttachmentId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The message that carries it.
    pub message_id: Option<MessageId>,
    /// The name the sender gave.
    pub file_name: String,
    /// Accepted content type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Random file name in the data directory.
    pub storage_name: String,
    /// SHA-256 of the content.
    pub sha256: String,
    /// When (UTC).
    pub created_at: chrono::NaiveDateTime,
}

impl Attachment {
    /// Inserts this attachment.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(attachments::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }
}
