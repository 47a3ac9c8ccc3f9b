use diesel::prelude::*;

use crate::db::schema::conversations;
use crate::db::DbConnection;
use crate::domain::{Channel, ConversationId, ConversationStatus, OperatorId, SiteId, VisitorId};

/// A conversation between a guest and the operators of a site.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = conversations)]
pub struct Conversation {
    /// Primary key (UUIDv7).
    pub id: ConversationId,
    /// The site.
    pub site_id: SiteId,
    /// The guest, while known.
    pub visitor_id: Option<VisitorId>,
    /// The operator handling it.
    pub assigned_operator_id: Option<OperatorId>,
    /// The operator it was addressed to (`/u/HANDLE`), if any.
    pub target_operator_id: Option<OperatorId>,
    /// `waiting`, `open` or `closed`.
    pub status: ConversationStatus,
    /// `widget`, `page`, `offline`, `email` or `sms`.
    pub channel: Channel,
    /// Subject line (offline messages, email).
    pub subject: String,
    /// Name the guest gave.
    pub guest_name: Option<String>,
    /// Email the guest gave.
    pub guest_email: Option<String>,
    /// Phone of an SMS guest.
    pub guest_phone: Option<String>,
    /// Token of the per-conversation reply address.
    pub reply_token: Option<String>,
    /// Sequence number of the last message.
    pub last_seq: i64,
    /// Highest seq the guest has read.
    pub guest_read_seq: i64,
    /// Highest seq an operator has read.
    pub operator_read_seq: i64,
    /// Created (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Last change (UTC).
    pub updated_at: chrono::NaiveDateTime,
    /// Closed (UTC).
    pub closed_at: Option<chrono::NaiveDateTime>,
    /// What the guest's panel reported it can do (JSON array), `None` without a panel.
    pub guest_capabilities: Option<String>,
}

impl Conversation {
    /// Inserts this conversation.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(conversations::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The conversation with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Conversation>> {
        conversations::table
            .find(id)
            .select(Conversation::as_select())
            .first(conn)
            .optional()
    }

    /// The guest's conversation on a site that is not closed, newest first.
    pub fn open_for_visitor(
        conn: &mut DbConnection,
        visitor_id: &str,
    ) -> QueryResult<Option<Conversation>> {
        conversations::table
            .filter(conversations::visitor_id.eq(visitor_id))
            .filter(conversations::status.ne(ConversationStatus::Closed))
            .order(conversations::created_at.desc())
            .select(Conversation::as_select())
            .first(conn)
            .optional()
    }

    /// The site's waiting and open conversations, oldest first.
    pub fn active_for_site(
        conn: &mut DbConnection,
        site_id: &str,
    ) -> QueryResult<Vec<Conversation>> {
        conversations::table
            .filter(conversations::site_id.eq(site_id))
            .filter(conversations::status.ne(ConversationStatus::Closed))
            .order(conversations::created_at.asc())
            .limit(500)
            .select(Conversation::as_select())
            .load(conn)
    }

    /// Takes the next sequence number: the row update also serialises concurrent senders.
    pub fn next_seq(
        conn: &mut DbConnection,
        id: &str,
        at: chrono::NaiveDateTime,
    ) -> QueryResult<i64> {
        diesel::update(conversations::table.find(id))
            .set((
                conversations::last_seq.eq(conversations::last_seq + 1),
                conversations::updated_at.eq(at),
            ))
            .execute(conn)?;
        conversations::table
            .find(id)
            .select(conversations::last_seq)
            .first(conn)
    }

    /// Sets status and assignment.
    pub fn set_state(
        conn: &mut DbConnection,
        id: &str,
        status: ConversationStatus,
        assigned: Option<&str>,
        at: chrono::NaiveDateTime,
    ) -> QueryResult<usize> {
        let closed_at = (status == ConversationStatus::Closed).then_some(at);
        diesel::update(conversations::table.find(id))
            .set((
                conversations::status.eq(status),
                conversations::assigned_operator_id.eq(assigned),
                conversations::updated_at.eq(at),
                conversations::closed_at.eq(closed_at),
            ))
            .execute(conn)
    }

    /// Raises the guest's or the operators' read mark (never lowers it).
    pub fn mark_read(
        conn: &mut DbConnection,
        id: &str,
        by_guest: bool,
        seq: i64,
    ) -> QueryResult<usize> {
        let target = conversations::table.find(id);
        if by_guest {
            diesel::update(target.filter(conversations::guest_read_seq.lt(seq)))
                .set(conversations::guest_read_seq.eq(seq))
                .execute(conn)
        } else {
            diesel::update(target.filter(conversations::operator_read_seq.lt(seq)))
                .set(conversations::operator_read_seq.eq(seq))
                .execute(conn)
        }
    }
}
