use diesel::prelude::*;

use crate::db::schema::setup_tokens;
use crate::db::DbConnection;

/// A one-time setup link's token (digest), valid until used or expired.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = setup_tokens)]
pub struct SetupToken {
    /// SHA-256 hex digest of the token in the link.
    pub token_hash: String,
    /// When the link was printed (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// When it stops working (UTC).
    pub expires_at: chrono::NaiveDateTime,
    /// When it was used, if it was.
    pub used_at: Option<chrono::NaiveDateTime>,
}

impl SetupToken {
    /// Replaces every unused token with this one, so only the newest printed link works.
    pub fn replace_unused(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::delete(setup_tokens::table.filter(setup_tokens::used_at.is_null()))
            .execute(conn)?;
        diesel::insert_into(setup_tokens::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// Whether a token with this digest is unused and unexpired at `now`.
    pub fn is_valid(
        conn: &mut DbConnection,
        token_hash: &str,
        now: chrono::NaiveDateTime,
    ) -> QueryResult<bool> {
        let n: i64 = setup_tokens::table
            .filter(setup_tokens::token_hash.eq(token_hash))
            .filter(setup_tokens::used_at.is_null())
            .filter(setup_tokens::expires_at.gt(now))
            .count()
            .get_result(conn)?;
        Ok(n == 1)
    }

    /// Marks the token used if it is still valid; true when this call used it. The single-row
    /// conditional update makes the link single-use even under concurrent submissions.
    pub fn consume(
        conn: &mut DbConnection,
        token_hash: &str,
        now: chrono::NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            setup_tokens::table
                .filter(setup_tokens::token_hash.eq(token_hash))
                .filter(setup_tokens::used_at.is_null())
                .filter(setup_tokens::expires_at.gt(now)),
        )
        .set(setup_tokens::used_at.eq(now))
        .execute(conn)?;
        Ok(n == 1)
    }
}
