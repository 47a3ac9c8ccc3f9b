use diesel::prelude::*;

use crate::db::schema::console_sessions;
use crate::db::DbConnection;
use crate::domain::OperatorId;

/// A logged-in console session. The cookie holds a random token; `id` is its SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_sessions)]
pub struct ConsoleSession {
    /// SHA-256 hex digest of the cookie token.
    pub id: String,
    /// Who is logged in.
    pub operator_id: OperatorId,
    /// The synchronizer token every state-changing console form must carry.
    pub csrf_token: String,
    /// Client IP at login.
    pub ip: String,
    /// User agent at login.
    pub user_agent: String,
    /// Login time (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Last request seen (UTC); the idle expiry counts from here.
    pub last_seen_at: chrono::NaiveDateTime,
    /// Absolute expiry (UTC), however active the session is.
    pub expires_at: chrono::NaiveDateTime,
}

impl ConsoleSession {
    /// Inserts this session.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(console_sessions::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The session with this id (digest), live or not.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ConsoleSession>> {
        console_sessions::table
            .find(id)
            .select(ConsoleSession::as_select())
            .first(conn)
            .optional()
    }

    /// Records activity on the session.
    pub fn touch(conn: &mut DbConnection, id: &str, at: chrono::NaiveDateTime) -> QueryResult<()> {
        diesel::update(console_sessions::table.find(id))
            .set(console_sessions::last_seen_at.eq(at))
            .execute(conn)
            .map(|_| ())
    }

    /// Ends the session.
    pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
        diesel::delete(console_sessions::table.find(id)).execute(conn)
    }

    /// Removes sessions past their absolute expiry or idle longer than `idle_before`.
    pub fn delete_expired(
        conn: &mut DbConnection,
        now: chrono::NaiveDateTime,
        idle_before: chrono::NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::delete(
            console_sessions::table.filter(
                console_sessions::expires_at
                    .le(now)
                    .or(console_sessions::last_seen_at.le(idle_before)),
            ),
        )
        .execute(conn)
    }
}
