use diesel::prelude::*;

use crate::db::schema::invitations;
use crate::db::DbConnection;
use crate::domain::{ConversationId, InvitationId, OperatorId, SiteId, VisitorId};

/// An operator's invitation to a visitor to chat, and the visitor's answer.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    /// Primary key (UUIDv7).
    pub id: InvitationId,
    /// The site.
    pub site_id: SiteId,
    /// The invited visitor.
    pub visitor_id: VisitorId,
    /// Who invited.
    pub operator_id: Option<OperatorId>,
    /// The message shown in the bubble.
    pub message: String,
    /// `pending`, `accepted`, `declined` or `expired`.
    pub status: String,
    /// The conversation an accepted invitation opened.
    pub conversation_id: Option<ConversationId>,
    /// When it was sent (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// When it was answered or expired.
    pub responded_at: Option<chrono::NaiveDateTime>,
}

impl Invitation {
    /// Inserts this invitation.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(invitations::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The invitation with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Invitation>> {
        invitations::table
            .find(id)
            .select(Invitation::as_select())
            .first(conn)
            .optional()
    }

    /// The newest invitation of `visitor_id` still pending and sent after `since`, if any.
    pub fn latest_pending_for(
        conn: &mut DbConnection,
        visitor_id: &str,
        since: chrono::NaiveDateTime,
    ) -> QueryResult<Option<Invitation>> {
        invitations::table
            .filter(invitations::visitor_id.eq(visitor_id))
            .filter(invitations::status.eq("pending"))
            .filter(invitations::created_at.gt(since))
            .order(invitations::created_at.desc())
            .select(Invitation::as_select())
            .first(conn)
            .optional()
    }

    /// Answers a pending invitation of `visitor_id`; true when this call changed it.
    pub fn respond(
        conn: &mut DbConnection,
        id: &str,
        visitor_id: &str,
        status: &str,
        at: chrono::NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            invitations::table
                .filter(invitations::id.eq(id))
                .filter(invitations::visitor_id.eq(visitor_id))
                .filter(invitations::status.eq("pending")),
        )
        .set((
            invitations::status.eq(status),
            invitations::responded_at.eq(at),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Records the conversation an accepted invitation opened.
    pub fn set_conversation(
        conn: &mut DbConnection,
        id: &str,
        conversation_id: &str,
    ) -> QueryResult<usize> {
        diesel::update(invitations::table.find(id))
            .set(invitations::conversation_id.eq(conversation_id))
            .execute(conn)
    }

    /// Marks pending invitations sent before `before` as expired and returns them.
    pub fn expire_pending(
        conn: &mut DbConnection,
        before: chrono::NaiveDateTime,
        now: chrono::NaiveDateTime,
    ) -> QueryResult<Vec<Invitation>> {
        let stale: Vec<Invitation> = invitations::table
            .filter(invitations::status.eq("pending"))
            .filter(invitations::created_at.lt(before))
            .select(Invitation::as_select())
            .load(conn)?;
        // Each row is expired by the one update that still finds it pending: an answer that came
        // in meanwhile stands, and of several nodes sweeping at once only one announces it.
        let mut expired = Vec::with_capacity(stale.len());
        for invitation in stale {
            let n = diesel::update(
                invitations::table
                    .filter(invitations::id.eq(&invitation.id))
                    .filter(invitations::status.eq("pending")),
            )
            .set((
                invitations::status.eq("expired"),
                invitations::responded_at.eq(now),
            ))
            .execute(conn)?;
            if n == 1 {
                expired.push(invitation);
            }
        }
        Ok(expired)
    }
}
