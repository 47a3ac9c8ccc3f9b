use diesel::prelude::*;

use crate::db::schema::visitors;
use crate::db::DbConnection;
use crate::domain::{SiteId, VisitorId};

/// A guest: an anonymous visitor of one site with a temporary id and a secret token (stored hashed).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = visitors)]
pub struct Visitor {
    /// Primary key (UUIDv7).
    pub id: VisitorId,
    /// The site the guest belongs to.
    pub site_id: SiteId,
    /// The temporary guest id shown to operators; unique while active.
    pub guest_id: String,
    /// SHA-256 hex digest of the guest's token.
    pub token_hash: String,
    /// Client address at creation.
    pub ip: String,
    /// The address's counting key (IPv4, or IPv6 /64).
    pub ip_key: String,
    /// User agent at creation.
    pub user_agent: String,
    /// Name the guest gave, or the site vouched for.
    pub display_name: Option<String>,
    /// Email the guest gave.
    pub email: Option<String>,
    /// The site's own user id, when vouched for by a signed `identify`.
    pub verified_user_id: Option<String>,
    /// 1 for a first visit; more when the browser came back with an earlier token.
    pub visit_count: i32,
    /// When the guest id was issued (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Last activity (UTC).
    pub last_seen_at: chrono::NaiveDateTime,
    /// When the guest id was deactivated, if it was.
    pub deactivated_at: Option<chrono::NaiveDateTime>,
}

impl Visitor {
    /// Inserts this visitor.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(visitors::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The visitor (active or not) holding the token with this digest.
    pub fn find_by_token_hash(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<Visitor>> {
        visitors::table
            .filter(visitors::token_hash.eq(hash))
            .select(Visitor::as_select())
            .first(conn)
            .optional()
    }

    /// The visitor with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Visitor>> {
        visitors::table
            .find(id)
            .select(Visitor::as_select())
            .first(conn)
            .optional()
    }

    /// How many active guest ids this address key holds.
    pub fn count_active_for_ip(conn: &mut DbConnection, ip_key: &str) -> QueryResult<i64> {
        visitors::table
            .filter(visitors::ip_key.eq(ip_key))
            .filter(visitors::deactivated_at.is_null())
            .count()
            .get_result(conn)
    }

    /// Records activity at `at` for those of these visitors last seen before `stale_before`. The
    /// time only decides when an idle guest is deactivated, so callers skip rows touched recently:
    /// rewriting every active guest's row on every page view or every sweep would turn page views
    /// into megabytes of WAL.
    pub fn touch_many(
        conn: &mut DbConnection,
        ids: &[String],
        at: chrono::NaiveDateTime,
        stale_before: chrono::NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            visitors::table
                .filter(visitors::id.eq_any(ids))
                .filter(visitors::last_seen_at.lt(stale_before)),
        )
        .set(visitors::last_seen_at.eq(at))
        .execute(conn)
    }

    /// Deactivates active guests idle since before `idle_before`, except `keep` (those connected
    /// right now); returns how many.
    pub fn deactivate_idle(
        conn: &mut DbConnection,
        idle_before: chrono::NaiveDateTime,
        now: chrono::NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            visitors::table
                .filter(visitors::deactivated_at.is_null())
                .filter(visitors::last_seen_at.lt(idle_before)),
        )
        .set(visitors::deactivated_at.eq(now))
        .execute(conn)
    }
}
