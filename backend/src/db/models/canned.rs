use diesel::prelude::*;

use crate::db::schema::canned_responses;
use crate::db::DbConnection;
use crate::domain::{OperatorId, SiteId};

/// A saved reply an operator inserts by typing `/shortcut` and Tab.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = canned_responses)]
pub struct CannedResponse {
    /// Primary key (UUIDv7).
    pub id: String,
    /// The site it belongs to.
    pub site_id: SiteId,
    /// The shortcut, without the slash.
    pub shortcut: String,
    /// The text inserted.
    pub body: String,
    /// Who saved it.
    pub created_by: Option<OperatorId>,
    /// When (UTC).
    pub created_at: chrono::NaiveDateTime,
}

impl CannedResponse {
    /// Inserts this response.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(canned_responses::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The responses of these sites, by shortcut.
    pub fn for_sites(
        conn: &mut DbConnection,
        site_ids: &[String],
    ) -> QueryResult<Vec<CannedResponse>> {
        canned_responses::table
            .filter(canned_responses::site_id.eq_any(site_ids))
            .order(canned_responses::shortcut.asc())
            .select(CannedResponse::as_select())
            .load(conn)
    }

    /// Deletes a response of a site; how many rows went.
    pub fn delete(conn: &mut DbConnection, site_id: &str, id: &str) -> QueryResult<usize> {
        diesel::delete(
            canned_responses::table
                .filter(canned_responses::site_id.eq(site_id))
                .filter(canned_responses::id.eq(id)),
        )
        .execute(conn)
    }

    /// One response of a site, if it exists.
    pub fn find(
        conn: &mut DbConnection,
        site_id: &str,
        id: &str,
    ) -> QueryResult<Option<CannedResponse>> {
        canned_responses::table
            .filter(canned_responses::site_id.eq(site_id))
            .filter(canned_responses::id.eq(id))
            .select(CannedResponse::as_select())
            .first(conn)
            .optional()
    }

    /// Changes the shortcut and body of a response of a site; how many rows changed.
    pub fn update(
        conn: &mut DbConnection,
        site_id: &str,
        id: &str,
        shortcut: &str,
        body: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            canned_responses::table
                .filter(canned_responses::site_id.eq(site_id))
                .filter(canned_responses::id.eq(id)),
        )
        .set((
            canned_responses::shortcut.eq(shortcut),
            canned_responses::body.eq(body),
        ))
        .execute(conn)
    }
}
