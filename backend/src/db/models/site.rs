use diesel::prelude::*;

use crate::db::schema::{memberships, sites};
use crate::db::DbConnection;

/// A website that embeds Beckon: its keys, slug and settings.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sites)]
pub struct Site {
    /// Primary key (UUIDv7).
    pub id: String,
    /// The public key in the widget URL `/w/KEY.js`.
    pub public_key: String,
    /// The slug of the help-desk URL `/s/SLUG`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// JSON array of exact origins the widget may run on (empty: any).
    pub allowed_origins: String,
    /// A proven domain of the site's own that serves its chat page (`Host:` routing); a domain
    /// not proven yet is a `DomainClaim`, not here.
    pub custom_domain: Option<String>,
    /// The HMAC key for `Beckon.identify`.
    pub identity_secret: String,
    /// JSON object of widget and behaviour settings.
    pub settings: String,
    /// `online` or `offline` when an owner forces the status, else none.
    pub forced_status: Option<String>,
    /// When the site was registered (UTC).
    pub created_at: chrono::NaiveDateTime,
}

impl Site {
    /// Inserts this site.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(sites::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The site with this slug.
    pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<Site>> {
        sites::table
            .filter(sites::slug.eq(slug))
            .select(Site::as_select())
            .first(conn)
            .optional()
    }

    /// The site served on this domain of its own.
    pub fn find_by_custom_domain(conn: &mut DbConnection, host: &str) -> QueryResult<Option<Site>> {
        sites::table
            .filter(sites::custom_domain.eq(host))
            .select(Site::as_select())
            .first(conn)
            .optional()
    }

    /// The site with this public key.
    pub fn find_by_public_key(conn: &mut DbConnection, key: &str) -> QueryResult<Option<Site>> {
        sites::table
            .filter(sites::public_key.eq(key))
            .select(Site::as_select())
            .first(conn)
            .optional()
    }

    /// The sites an operator belongs to, with the operator's role on each, by name.
    pub fn for_operator(
        conn: &mut DbConnection,
        operator_id: &str,
    ) -> QueryResult<Vec<(Site, String)>> {
        sites::table
            .inner_join(memberships::table)
            .filter(memberships::operator_id.eq(operator_id))
            .order(sites::name.asc())
            .select((Site::as_select(), memberships::role))
            .load(conn)
    }

    /// The allowed origins, parsed from their JSON text (an unreadable value allows none).
    pub fn allowed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }
}
