//! Looking sites up on the hot paths (widget, beacons, sockets) without a database read each time,
//! and whether a site or an operator is online.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::db::models::Site;
use crate::db::schema::{memberships, operators};
use crate::db::{Db, DbConnection, DbError};

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

impl SiteCache {
    /// Drops a cached site (after its settings changed here).
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Drops every cached site (after changes to sites not known by key).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// A site's settings as typed into the form.
#[derive(Debug, Clone, Copy)]
pub struct RawSiteSettings<'a> {
    /// Allowed origins, separated by commas, spaces or lines.
    pub origins: &'a str,
    /// The site's own chat domain, or empty.
    pub custom_domain: &'a str,
    /// Accent colour, `#rrggbb` or empty.
    pub colour: &'a str,
    /// `left` or anything else for right.
    pub position: &'a str,
    /// Greeting template.
    pub greeting: &'a str,
    /// Offline text template.
    pub offline: &'a str,
    /// Auto-assign new chats.
    pub auto_assign: bool,
    /// Live typing preview.
    pub typing_preview: bool,
    /// Visitors may start calls.
    pub guest_calls: bool,
}

/// The settings form, parsed: the site's columns it sets and its patch of the typed settings.
#[derive(Debug, Clone)]
pub struct SiteSettingsForm {
    origins: crate::domain::AllowedOrigins,
    custom_domain: Option<String>,
    patch: crate::domain::SiteSettingsPatch,
}

/// `#rgb` as the `#rrggbb` it stands for (what CSS reads it as); anything else unchanged, for the
/// patch's own check to accept or refuse.
fn expand_short_hex(colour: &str) -> String {
    match colour.as_bytes() {
        [b'#', r, g, b] if [r, g, b].iter().all(|c| c.is_ascii_hexdigit()) => {
            let (r, g, b) = (*r as char, *g as char, *b as char);
            format!("#{r}{r}{g}{g}{b}{b}")
        }
        _ => colour.to_owned(),
    }
}

impl SiteSettingsForm {
    /// Parses the settings form's values.
    pub fn parse(
        raw: &RawSiteSettings<'_>,
    ) -> Result<SiteSettingsForm, crate::domain::InvalidInput> {
        let RawSiteSettings {
            origins,
            custom_domain,
            colour,
            position,
            greeting,
            offline,
            auto_assign,
            typing_preview,
            guest_calls,
        } = *raw;
        use crate::domain::InvalidInput;
        let origins = crate::domain::AllowedOrigins::parse(origins)?;
        let domain = custom_domain.trim().trim_end_matches('.').to_lowercase();
        let custom_domain = if domain.is_empty() {
            None
        } else if domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        {
            Some(domain)
        } else {
            return Err(InvalidInput::new(
                "custom_domain",
                "must be a domain name like help.example.com",
            ));
        };
        // Blank fields clear a setting; what is set is checked by the patch's own rules.
        let given = |raw: &str| {
            let t = raw.trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        let patch = crate::domain::SiteSettingsPatch {
            colour: Some(given(colour).map(|c| expand_short_hex(&c))),
            position: Some(Some(
                if position == "left" { "left" } else { "right" }.to_owned(),
            )),
            greeting: Some(given(greeting)),
            offline: Some(given(offline)),
            auto_assign: Some(auto_assign),
            typing_preview: Some(typing_preview),
            guest_calls: Some(guest_calls),
            ..Default::default()
        };
        patch.validate()?;
        Ok(SiteSettingsForm {
            origins,
            custom_domain,
            patch,
        })
    }
}

/// Saves a site's settings; a domain another site uses is a conflict. A new domain is not served
/// until proven: it becomes a pending claim ([`super::domains::request`]).
pub fn save_settings(
    conn: &mut DbConnection,
    site_id: &str,
    s: &SiteSettingsForm,
) -> Result<(), super::ServiceError> {
    conn.transaction(|conn| {
        // The patch holds only this form's keys: other pages' keys (hours, templates) stay.
        Site::update_settings(conn, site_id, &s.patch)?;
        Site::set_allowed_origins(conn, site_id, &s.origins)?;
        super::domains::request(conn, site_id, s.custom_domain.as_deref())
    })
}

/// "Change settings": validates nothing more (the form parsed into [`SiteSettingsForm`]), commits the
/// site's settings, and then invalidates what reads them: the site cache, and the availability
/// watcher's view of the site (a changed site is read afresh on every node's next look).
pub async fn change_settings(
    state: &crate::state::AppState,
    site: &Site,
    settings: SiteSettingsForm,
) -> Result<(), super::ServiceError> {
    let id = site.id.clone();
    super::run(&state.db, move |conn| save_settings(conn, &id, &settings)).await?;
    settings_changed(state, site);
    Ok(())
}

/// Forgets every cached copy of `site` after its settings (or domain) changed.
pub fn settings_changed(state: &crate::state::AppState, site: &Site) {
    state.sites.forget(&site.public_key);
    state.availability.changed(Some(&site.id));
    if let Some(link) = &state.cluster {
        link.send(
            crate::realtime::cluster::Relay::SiteChanged {
                site_id: site.id.to_string(),
                public_key: site.public_key.clone(),
            },
            "",
        );
    }
}

/// The site `site_id` and the operator's role on it, when they are a member (`None` otherwise,
/// whether or not the site exists).
pub fn membership(
    conn: &mut DbConnection,
    site_id: &str,
    operator_id: &str,
) -> Result<Option<(Site, crate::db::models::Role)>, super::ServiceError> {
    let Some(role) = crate::db::models::Membership::role_of(conn, site_id, operator_id)? else {
        return Ok(None);
    };
    let site = crate::db::schema::sites::table
        .find(site_id)
        .select(Site::as_select())
        .first(conn)
        .optional()?;
    Ok(site.map(|s| (s, role)))
}

/// The sites an operator belongs to, with their role on each, by name.
pub fn for_operator(
    conn: &mut DbConnection,
    operator_id: &str,
) -> Result<Vec<(Site, String)>, super::ServiceError> {
    Ok(Site::for_operator(conn, operator_id)?)
}

/// The site served on its own (proven) domain `host`.
pub fn by_custom_domain(
    conn: &mut DbConnection,
    host: &str,
) -> Result<Option<Site>, super::ServiceError> {
    Ok(Site::find_by_custom_domain(conn, host)?)
}

/// The site with this help-desk slug.
pub fn by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<Site>, super::ServiceError> {
    Ok(Site::find_by_slug(conn, slug)?)
}

/// The site with this slug and the ids of its operators (for its status badge).
pub fn with_members(
    conn: &mut DbConnection,
    slug: &str,
) -> Result<Option<(Site, Vec<String>)>, super::ServiceError> {
    let Some(site) = Site::find_by_slug(conn, slug)? else {
        return Ok(None);
    };
    let members = member_ids(conn, &site.id)?;
    Ok(Some((site, members)))
}

/// The enabled operator with this handle and the first site they joined: whose chat `/u/HANDLE`
/// opens.
pub fn desk_of_handle(
    conn: &mut DbConnection,
    handle: &str,
) -> Result<Option<(crate::db::models::Operator, Site)>, super::ServiceError> {
    let operator = crate::db::models::Operator::find_by_handle(conn, handle)?;
    desk_of(conn, operator)
}

/// The enabled operator with this phone number and the first site they joined: whose chat
/// `/p/PHONE` opens.
pub fn desk_of_phone(
    conn: &mut DbConnection,
    phone: &str,
) -> Result<Option<(crate::db::models::Operator, Site)>, super::ServiceError> {
    let operator = crate::db::models::Operator::find_by_phone(conn, phone)?;
    desk_of(conn, operator)
}

fn desk_of(
    conn: &mut DbConnection,
    operator: Option<crate::db::models::Operator>,
) -> Result<Option<(crate::db::models::Operator, Site)>, super::ServiceError> {
    let Some(operator) = operator.filter(|o| o.disabled_at.is_none()) else {
        return Ok(None);
    };
    let site: Option<Site> = crate::db::schema::sites::table
        .inner_join(memberships::table)
        .filter(memberships::operator_id.eq(&operator.id))
        .order(memberships::created_at.asc())
        .select(Site::as_select())
        .first(conn)
        .optional()?;
    Ok(site.map(|s| (operator, s)))
}

/// The enabled operator with this handle (for their status badge).
pub fn enabled_operator_by_handle(
    conn: &mut DbConnection,
    handle: &str,
) -> Result<Option<crate::db::models::Operator>, super::ServiceError> {
    Ok(crate::db::models::Operator::find_by_handle(conn, handle)?
        .filter(|o| o.disabled_at.is_none()))
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
}
