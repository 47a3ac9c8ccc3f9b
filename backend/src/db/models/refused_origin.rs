use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::db::schema::refused_origins;
use crate::db::DbConnection;
use crate::domain::SiteId;

/// An origin a site's widget was refused on: where, since when, how often, and one page it was on.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = refused_origins)]
pub struct RefusedOrigin {
    /// The site whose widget was refused.
    pub site_id: SiteId,
    /// The `Origin` header as the browser sent it (`null` for an opaque origin).
    pub origin: String,
    /// The first refusal recorded (UTC).
    pub first_seen: chrono::NaiveDateTime,
    /// The latest refusal recorded (UTC).
    pub last_seen: chrono::NaiveDateTime,
    /// Refusals counted so far.
    pub refusals: i64,
    /// A page the widget was on (from the Referer), or empty when the browser sent none.
    pub example_page: String,
}

impl RefusedOrigin {
    /// Adds `hits` refusals of `origin` for the site at `at`, creating the row on the first. The
    /// example page becomes `page` (the latest seen). The caller holds the transaction.
    pub fn record(
        conn: &mut DbConnection,
        site_id: &str,
        origin: &str,
        page: &str,
        hits: i64,
        at: chrono::NaiveDateTime,
    ) -> QueryResult<()> {
        use refused_origins::dsl as r;
        // One statement on both backends (`ON CONFLICT … DO UPDATE`); the multi-backend connection
        // has no upsert of its own, so each arm runs the same statement on its backend.
        let upsert = || {
            diesel::insert_into(r::refused_origins)
                .values((
                    r::site_id.eq(site_id),
                    r::origin.eq(origin),
                    r::first_seen.eq(at),
                    r::last_seen.eq(at),
                    r::refusals.eq(hits),
                    r::example_page.eq(page),
                ))
                .on_conflict((r::site_id, r::origin))
                .do_update()
                .set((
                    r::last_seen.eq(excluded(r::last_seen)),
                    r::refusals.eq(r::refusals + excluded(r::refusals)),
                    r::example_page.eq(excluded(r::example_page)),
                ))
        };
        match conn {
            DbConnection::Sqlite(c) => upsert().execute(c),
            DbConnection::Postgres(c) => upsert().execute(c),
        }
        .map(|_| ())
    }

    /// Deletes all but the site's `keep` most recently seen rows, so a flood of made-up origins
    /// cannot grow the table.
    pub fn keep_latest(conn: &mut DbConnection, site_id: &str, keep: i64) -> QueryResult<usize> {
        use refused_origins::dsl as r;
        let stale: Vec<String> = r::refused_origins
            .filter(r::site_id.eq(site_id))
            .order((r::last_seen.desc(), r::origin.asc()))
            .limit(1000)
            .offset(keep)
            .select(r::origin)
            .load(conn)?;
        if stale.is_empty() {
            return Ok(0);
        }
        diesel::delete(
            r::refused_origins
                .filter(r::site_id.eq(site_id))
                .filter(r::origin.eq_any(&stale)),
        )
        .execute(conn)
    }

    /// The refused origins of these sites, most recently seen first.
    pub fn for_sites(
        conn: &mut DbConnection,
        site_ids: &[String],
    ) -> QueryResult<Vec<RefusedOrigin>> {
        use refused_origins::dsl as r;
        r::refused_origins
            .filter(r::site_id.eq_any(site_ids))
            .order((r::last_seen.desc(), r::origin.asc()))
            .select(RefusedOrigin::as_select())
            .load(conn)
    }

    /// Forgets a refused origin of a site (allowed or dismissed); whether there was one.
    pub fn remove(conn: &mut DbConnection, site_id: &str, origin: &str) -> QueryResult<bool> {
        use refused_origins::dsl as r;
        diesel::delete(
            r::refused_origins
                .filter(r::site_id.eq(site_id))
                .filter(r::origin.eq(origin)),
        )
        .execute(conn)
        .map(|n| n > 0)
    }
}
