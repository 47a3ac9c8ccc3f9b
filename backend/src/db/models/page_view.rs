use diesel::prelude::*;

use crate::db::schema::page_views;
use crate::db::DbConnection;
use crate::domain::{SiteId, VisitorId};

/// One page a visitor viewed.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = page_views)]
pub struct PageView {
    /// Primary key (UUIDv7).
    pub id: String,
    /// The site.
    pub site_id: SiteId,
    /// The visitor.
    pub visitor_id: VisitorId,
    /// Page URL.
    pub url: String,
    /// Page title.
    pub title: String,
    /// Referrer.
    pub referrer: String,
    /// Time spent on the page, when known.
    pub duration_ms: Option<i64>,
    /// When the page was opened (UTC).
    pub created_at: chrono::NaiveDateTime,
}

impl PageView {
    /// Inserts many page views; the caller holds the transaction.
    ///
    /// On SQLite one row per statement: a single-row insert is prepared once and reused from
    /// diesel's statement cache, where a multi-row `VALUES` list has to be parsed and compiled
    /// anew for every batch (8 000 parameters for 1 000 rows), which cost the single writer more
    /// than the inserts themselves. PostgreSQL takes multi-row statements (a round trip each).
    pub fn insert_many(conn: &mut DbConnection, rows: &[PageView]) -> QueryResult<usize> {
        let mut n = 0;
        match conn {
            DbConnection::Sqlite(c) => {
                for row in rows {
                    n += diesel::insert_into(page_views::table)
                        .values(row)
                        .execute(c)?;
                }
            }
            DbConnection::Postgres(c) => {
                // At most 65 535 bound parameters per statement; 8 columns each.
                for chunk in rows.chunks(1000) {
                    n += diesel::insert_into(page_views::table)
                        .values(chunk)
                        .execute(c)?;
                }
            }
        }
        Ok(n)
    }

    /// A visitor's most recent page views, newest first.
    pub fn trail(
        conn: &mut DbConnection,
        visitor_id: &str,
        limit: i64,
    ) -> QueryResult<Vec<PageView>> {
        page_views::table
            .filter(page_views::visitor_id.eq(visitor_id))
            .order((page_views::created_at.desc(), page_views::id.desc()))
            .limit(limit)
            .select(PageView::as_select())
            .load(conn)
    }
}
