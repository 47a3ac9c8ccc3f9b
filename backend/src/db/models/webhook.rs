use diesel::prelude::*;

use crate::db::schema::webhooks as w;
use crate::db::DbConnection;
use crate::domain::SiteId;

/// A URL a site owner registered for events.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = w)]
pub struct Webhook {
    /// Primary key (UUIDv7).
    pub id: String,
    /// The site.
    pub site_id: SiteId,
    /// Where to POST.
    pub url: String,
    /// Event names, as a JSON array.
    pub events: String,
    /// Signing secret.
    pub secret: String,
    /// Registered (UTC).
    pub created_at: chrono::NaiveDateTime,
}

impl Webhook {
    /// Inserts this hook.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(w::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The hook with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Webhook>> {
        w::table
            .find(id)
            .select(Webhook::as_select())
            .first(conn)
            .optional()
    }

    /// The site's hooks, oldest first.
    pub fn of_site(conn: &mut DbConnection, site_id: &str) -> QueryResult<Vec<Webhook>> {
        w::table
            .filter(w::site_id.eq(site_id))
            .order(w::created_at.asc())
            .select(Webhook::as_select())
            .load(conn)
    }

    /// Deletes the site's hook `id`; answers whether there was one.
    pub fn delete(conn: &mut DbConnection, site_id: &str, id: &str) -> QueryResult<bool> {
        let n = diesel::delete(w::table.filter(w::site_id.eq(site_id)).filter(w::id.eq(id)))
            .execute(conn)?;
        Ok(n == 1)
    }

    /// The event names this hook wants.
    pub fn event_names(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }
}
