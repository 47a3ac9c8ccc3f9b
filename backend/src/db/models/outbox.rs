use diesel::prelude::*;

use crate::db::schema::notification_outbox as o;
use crate::db::DbConnection;

/// One notification waiting for delivery, delivered, or given up on.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = o)]
pub struct OutboxItem {
    /// Primary key (UUIDv7).
    pub id: String,
    /// The site it belongs to.
    pub site_id: Option<String>,
    /// `email`, `sms` or `webhook`.
    pub channel: String,
    /// The job, as JSON (`outbound::Job`).
    pub payload: String,
    /// `pending`, `sending` (claimed until `next_attempt_at`), `sent`, `spooled` (in the mail outbox
    /// directory) or `failed` (given up).
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// When it is due (or, while `sending`, when the claim lapses).
    pub next_attempt_at: chrono::NaiveDateTime,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Queued (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Delivered (UTC).
    pub sent_at: Option<chrono::NaiveDateTime>,
    /// One line for people: "Email to a@b.c: New message from Ann".
    pub summary: String,
    /// The conversation it is about, if any.
    pub conversation_id: Option<String>,
}

impl OutboxItem {
    /// Inserts this item.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(o::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// Items due at `now`: pending ones and claims that lapsed (a node died while sending).
    pub fn due(
        conn: &mut DbConnection,
        now: chrono::NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<OutboxItem>> {
        o::table
            .filter(o::status.eq_any(["pending", "sending"]))
            .filter(o::next_attempt_at.le(now))
            .order(o::next_attempt_at.asc())
            .limit(limit)
            .select(OutboxItem::as_select())
            .load(conn)
    }

    /// Claims this item until `until`, if no one else changed it since it was read. Answers whether
    /// the claim is ours.
    pub fn claim(
        &self,
        conn: &mut DbConnection,
        until: chrono::NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            o::table
                .filter(o::id.eq(&self.id))
                .filter(o::status.eq(&self.status))
                .filter(o::next_attempt_at.eq(self.next_attempt_at)),
        )
        .set((o::status.eq("sending"), o::next_attempt_at.eq(until)))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// The newest `limit` items about a conversation on a channel with this summary.
    pub fn newest_of_conversation(
        conn: &mut DbConnection,
        conversation_id: &str,
        channel: &str,
        summary: &str,
        limit: i64,
    ) -> QueryResult<Vec<OutboxItem>> {
        o::table
            .filter(o::conversation_id.eq(conversation_id))
            .filter(o::channel.eq(channel))
            .filter(o::summary.eq(summary))
            .order((o::created_at.desc(), o::id.desc()))
            .limit(limit)
            .select(OutboxItem::as_select())
            .load(conn)
    }

    /// How many items about a conversation on these channels were queued since `since`.
    pub fn count_of_conversation_since(
        conn: &mut DbConnection,
        conversation_id: &str,
        channels: &[&str],
        since: chrono::NaiveDateTime,
    ) -> QueryResult<i64> {
        o::table
            .filter(o::conversation_id.eq(conversation_id))
            .filter(o::channel.eq_any(channels))
            .filter(o::created_at.gt(since))
            .count()
            .get_result(conn)
    }

    /// Replaces the payload of this item and moves its due time, if it is still waiting for its
    /// first attempt exactly as read (not claimed since); answers whether it was.
    pub fn replace_waiting_payload(
        &self,
        conn: &mut DbConnection,
        payload: &str,
        next_attempt_at: chrono::NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            o::table
                .filter(o::id.eq(&self.id))
                .filter(o::status.eq("pending"))
                .filter(o::attempts.eq(0))
                .filter(o::next_attempt_at.eq(self.next_attempt_at)),
        )
        .set((
            o::payload.eq(payload),
            o::next_attempt_at.eq(next_attempt_at),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Records the outcome of an attempt.
    pub fn record(
        conn: &mut DbConnection,
        id: &str,
        status: &str,
        attempts: i32,
        next_attempt_at: chrono::NaiveDateTime,
        last_error: Option<&str>,
        sent_at: Option<chrono::NaiveDateTime>,
    ) -> QueryResult<()> {
        diesel::update(o::table.find(id))
            .set((
                o::status.eq(status),
                o::attempts.eq(attempts),
                o::next_attempt_at.eq(next_attempt_at),
                o::last_error.eq(last_error),
                o::sent_at.eq(sent_at),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// The newest items of these sites (and site-less ones), optionally only with these statuses.
    pub fn recent(
        conn: &mut DbConnection,
        site_ids: &[String],
        statuses: Option<&[&str]>,
        limit: i64,
    ) -> QueryResult<Vec<OutboxItem>> {
        let mut q = o::table
            .filter(o::site_id.eq_any(site_ids))
            .order(o::created_at.desc())
            .limit(limit)
            .select(OutboxItem::as_select())
            .into_boxed();
        if let Some(statuses) = statuses {
            q = q.filter(o::status.eq_any(statuses.to_vec()));
        }
        q.load(conn)
    }

    /// The item with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OutboxItem>> {
        o::table
            .find(id)
            .select(OutboxItem::as_select())
            .first(conn)
            .optional()
    }

    /// Makes a failed item due again now.
    pub fn retry_now(
        conn: &mut DbConnection,
        id: &str,
        now: chrono::NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = diesel::update(o::table.find(id).filter(o::status.eq("failed")))
            .set((
                o::status.eq("pending"),
                o::next_attempt_at.eq(now),
                o::attempts.eq(0),
            ))
            .execute(conn)?;
        Ok(n == 1)
    }
}
