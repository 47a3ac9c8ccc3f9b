use diesel::prelude::*;

use crate::db::schema::domain_claims;
use crate::db::DbConnection;
use crate::domain::SiteId;

/// A custom domain a site asked for and has not proven yet (at most one per site). Once the domain
/// serves `token` at the well-known path, the claim becomes the site's `custom_domain`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = domain_claims)]
pub struct DomainClaim {
    /// The claiming site.
    pub site_id: SiteId,
    /// The domain, lower case, without a trailing dot.
    pub domain: String,
    /// What the domain must serve.
    pub token: String,
    /// When the owner asked for it (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// The last check, if any (UTC).
    pub checked_at: Option<chrono::NaiveDateTime>,
    /// Why the last check failed, if it did.
    pub last_error: Option<String>,
}

impl DomainClaim {
    /// The site's pending claim.
    pub fn for_site(conn: &mut DbConnection, site_id: &str) -> QueryResult<Option<DomainClaim>> {
        domain_claims::table
            .find(site_id)
            .select(DomainClaim::as_select())
            .first(conn)
            .optional()
    }

    /// Replaces the site's claim with this one.
    pub fn replace(&self, conn: &mut DbConnection) -> QueryResult<()> {
        DomainClaim::delete_for_site(conn, &self.site_id)?;
        diesel::insert_into(domain_claims::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// Drops the site's claim, if any.
    pub fn delete_for_site(conn: &mut DbConnection, site_id: &str) -> QueryResult<()> {
        diesel::delete(domain_claims::table.find(site_id))
            .execute(conn)
            .map(|_| ())
    }

    /// Notes the outcome of a failed check.
    pub fn record_failure(
        conn: &mut DbConnection,
        site_id: &str,
        at: chrono::NaiveDateTime,
        error: &str,
    ) -> QueryResult<()> {
        diesel::update(domain_claims::table.find(site_id))
            .set((
                domain_claims::checked_at.eq(at),
                domain_claims::last_error.eq(error),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// Claims due for a periodic check: never checked, or checked before `before`, oldest first.
    pub fn due(
        conn: &mut DbConnection,
        before: chrono::NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<DomainClaim>> {
        domain_claims::table
            .filter(
                domain_claims::checked_at
                    .is_null()
                    .or(domain_claims::checked_at.lt(before)),
            )
            .order(domain_claims::created_at.asc())
            .limit(limit)
            .select(DomainClaim::as_select())
            .load(conn)
    }
}
