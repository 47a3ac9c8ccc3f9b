//! Looking sites up on the hot paths (widget, beacons, sockets) without a database read each time,
//! and whether a site or an operator is online.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::db::models::Site;
use crate::db::schema::{memberships, operators};
use crate::db::{Db, DbConnection, DbError};
use crate::realtime::Hub;

/// How long a cached site is trusted before it is read again (settings edits show up this fast).
const SITE_TTL: Duration = Duration::from_secs(10);

/// A cached lookup: when it was read, and the site (or that there is none).
type CachedSite = (Instant, Option<Arc<Site>>);

/// Sites by public key, cached briefly.
#[derive(Default)]
pub struct SiteCache {
    by_key: Mutex<HashMap<String, CachedSite>>,
}

impl SiteCache {
    /// The site with this public key (`None` if there is none).
    pub async fn by_key(&self, db: &Db, key: &str) -> Result<Option<Arc<Site>>, DbError> {
        if key.is_empty() || key.len() > 64 {
            return Ok(None);
        }
        if let Some((at, site)) = self.lock().get(key) {
            if at.elapsed() < SITE_TTL {
                return Ok(site.clone());
            }
        }
        let lookup = key.to_owned();
        let site = db
            .run(move |conn| Ok(Site::find_by_public_key(conn, &lookup)?))
            .await?
            .map(Arc::new);
        let mut cache = self.lock();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key.to_owned(), (Instant::now(), site.clone()));
        Ok(site)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedSite>> {
        self.by_key.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether an `Origin` header value may use a site's widget routes: exact match against the allowed
/// origins; an empty list allows any origin. A request without `Origin` (not a browser's
/// cross-origin request) is allowed.
pub fn origin_allowed(site: &Site, origin: Option<&str>) -> bool {
    let allowed = site.allowed_origins();
    match origin {
        None => true,
        Some(_) if allowed.is_empty() => true,
        Some(o) => allowed.iter().any(|a| a == o),
    }
}

/// Ids of the operators of a site.
pub fn member_ids(conn: &mut DbConnection, site_id: &str) -> QueryResult<Vec<String>> {
    memberships::table
        .inner_join(operators::table)
        .filter(memberships::site_id.eq(site_id))
        .filter(operators::disabled_at.is_null())
        .select(memberships::operator_id)
        .load(conn)
}

/// A site is online when forced so, or when one of its operators has the console open.
pub fn site_online(site: &Site, members: &[String], hub: &Hub) -> bool {
    match site.forced_status.as_deref() {
        Some("online") => true,
        Some("offline") => false,
        _ => members.iter().any(|id| hub.operator_online(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(origins: &str) -> Site {
        Site {
            id: "s".into(),
            public_key: "k".into(),
            slug: "s".into(),
            name: "S".into(),
            allowed_origins: origins.into(),
            custom_domain: None,
            identity_secret: "x".into(),
            settings: "{}".into(),
            forced_status: None,
            created_at: crate::domain::now(),
        }
    }

    #[test]
    fn origins_match_exactly() {
        let s = site(r#"["https://shop.example.com"]"#);
        assert!(origin_allowed(&s, Some("https://shop.example.com")));
        assert!(!origin_allowed(
            &s,
            Some("https://shop.example.com.evil.net")
        ));
        assert!(!origin_allowed(&s, Some("http://shop.example.com")));
        assert!(!origin_allowed(&s, Some("null")));
        assert!(origin_allowed(
            &site("[]"),
            Some("https://anything.example")
        ));
    }

    #[test]
    fn forced_status_wins() {
        let mut s = site("[]");
        let hub = Hub::default();
        assert!(!site_online(&s, &[], &hub));
        s.forced_status = Some("online".into());
        assert!(site_online(&s, &[], &hub));
    }
}
