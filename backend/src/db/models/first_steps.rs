use diesel::prelude::*;

use crate::db::schema::{conversations, page_views, visitors};
use crate::db::DbConnection;

/// What a site has already seen, for the console home's first-steps checklist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirstSteps {
    /// A page view from the site was stored: the snippet is embedded and works.
    pub page_view_seen: bool,
    /// A visitor was recorded on the site.
    pub visitor_seen: bool,
    /// A conversation exists on the site.
    pub conversation_exists: bool,
}

impl FirstSteps {
    /// Reads the three facts for one site (each an indexed `LIMIT 1` probe, not a count).
    pub fn of_site(conn: &mut DbConnection, site_id: &str) -> QueryResult<FirstSteps> {
        let page_view_seen = page_views::table
            .filter(page_views::site_id.eq(site_id))
            .select(page_views::id)
            .first::<String>(conn)
            .optional()?
            .is_some();
        let visitor_seen = visitors::table
            .filter(visitors::site_id.eq(site_id))
            .select(visitors::id)
            .first::<String>(conn)
            .optional()?
            .is_some();
        let conversation_exists = conversations::table
            .filter(conversations::site_id.eq(site_id))
            .select(conversations::id)
            .first::<String>(conn)
            .optional()?
            .is_some();
        Ok(FirstSteps {
            page_view_seen,
            visitor_seen,
            conversation_exists,
        })
    }
}
