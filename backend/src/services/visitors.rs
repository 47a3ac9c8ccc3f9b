//! Guests: issuing and resuming temporary guest ids, authenticating their tokens, and deactivating
//! idle ones.

use std::collections::HashMap;
use std::sync::Mutex;

use rand::Rng as _;

use super::ServiceError;
use crate::db::models::{Site, Visitor};
use crate::db::{Db, DbConnection, DbError};
use crate::domain;
use crate::realtime::live::GuestFacts;
use crate::secrets;

/// Where a guest request came from.
#[derive(Debug, Clone)]
pub struct GuestClient {
    /// Client IP (through trusted proxies only).
    pub ip: String,
    /// The IP's counting key (IPv4, or IPv6 /64).
    pub ip_key: String,
    /// User agent (truncated).
    pub user_agent: String,
}

/// A guest id handed to a browser.
#[derive(Debug, Clone)]
pub struct IssuedGuest {
    /// The stored visitor.
    pub visitor: Visitor,
    /// The secret token (only known to the browser and to this response).
    pub token: String,
    /// A new guest id (false: the presented token was still live).
    pub created: bool,
    /// The browser had been here before.
    pub returning: bool,
}

/// A new temporary guest id: `G-` and 8 characters that cannot be confused when read aloud.
fn new_guest_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("G-{tail}")
}

/// Resumes the guest behind `presented` if it is live on this site, else issues a new guest id,
/// unless the client's address already holds `max_per_ip` active ones.
pub fn issue_or_resume(
    conn: &mut DbConnection,
    site: &Site,
    presented: Option<&str>,
    client: &GuestClient,
    max_per_ip: u32,
) -> Result<IssuedGuest, ServiceError> {
    let now = domain::now();
    let earlier = match presented.filter(|t| !t.is_empty() && t.len() <= 128) {
        Some(token) => Visitor::find_by_token_hash(conn, &secrets::token_digest(token))?
            .filter(|v| v.site_id == site.id)
            .map(|v| (v, token.to_owned())),
        None => None,
    };
    if let Some((visitor, token)) = &earlier {
        if visitor.deactivated_at.is_none() {
            Visitor::touch_many(conn, &[visitor.id.to_string()], now, now)?;
            return Ok(IssuedGuest {
                visitor: visitor.clone(),
                token: token.clone(),
                created: false,
                returning: visitor.visit_count > 1,
            });
        }
    }
    let returning = earlier.is_some();
    let visit_count = earlier
        .as_ref()
        .map_or(1, |(v, _)| v.visit_count.saturating_add(1));
    let token = secrets::random_token();
    let mut attempts = 0;
    loop {
        let visitor = Visitor {
            id: domain::new_id().into(),
            site_id: site.id.clone(),
            guest_id: new_guest_id(),
            token_hash: secrets::token_digest(&token),
            ip: client.ip.clone(),
            ip_key: client.ip_key.clone(),
            user_agent: client.user_agent.clone(),
            display_name: None,
            email: None,
            verified_user_id: None,
            visit_count,
            created_at: now,
            last_seen_at: now,
            deactivated_at: None,
        };
        let inserted = crate::db::write_transaction(conn, |conn| {
            if Visitor::count_active_for_ip(conn, &client.ip_key)? >= i64::from(max_per_ip) {
                return Ok(false);
            }
            visitor.insert(conn)?;
            Ok::<_, diesel::result::Error>(true)
        });
        match inserted {
            Ok(true) => {
                return Ok(IssuedGuest {
                    visitor,
                    token,
                    created: true,
                    returning,
                })
            }
            Ok(false) => return Err(ServiceError::Limited { retry_after: 60 }),
            // A guest id collision with another active guest: draw again.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) if attempts < 3 => attempts += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Live guests by token digest, so beacons and sockets need no database read.
#[derive(Default)]
pub struct GuestDirectory {
    by_token: Mutex<HashMap<String, GuestFacts>>,
}

impl GuestDirectory {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, GuestFacts>> {
        self.by_token.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a guest just issued or resumed.
    pub fn remember(&self, token: &str, visitor: &Visitor, returning: bool) {
        self.lock()
            .insert(secrets::token_digest(token), facts_of(visitor, returning));
    }

    /// The live guest holding `token` on `site_id`, from memory or the database.
    pub async fn authenticate(
        &self,
        db: &Db,
        site_id: &str,
        token: &str,
    ) -> Result<Option<GuestFacts>, DbError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let digest = secrets::token_digest(token);
        if let Some(facts) = self.lock().get(&digest) {
            return Ok((facts.site_id == site_id).then(|| facts.clone()));
        }
        let lookup = digest.clone();
        let visitor = db
            .run(move |conn| Ok(Visitor::find_by_token_hash(conn, &lookup)?))
            .await?;
        let Some(visitor) = visitor.filter(|v| v.deactivated_at.is_none()) else {
            return Ok(None);
        };
        let facts = facts_of(&visitor, visitor.visit_count > 1);
        self.lock().insert(digest, facts.clone());
        Ok((facts.site_id == site_id).then_some(facts))
    }

    /// Forgets everything (after deactivations; live guests are looked up again on next use).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

fn facts_of(visitor: &Visitor, returning: bool) -> GuestFacts {
    GuestFacts {
        visitor_id: visitor.id.to_string(),
        site_id: visitor.site_id.to_string(),
        guest_id: visitor.guest_id.clone(),
        display_name: visitor.display_name.clone(),
        returning,
        user_agent: visitor.user_agent.clone(),
    }
}

/// Deactivates guests idle for longer than `idle`, keeping `connected` ones (an open presence socket
/// is activity) alive; returns how many were deactivated.
pub fn deactivate_idle_guests(
    conn: &mut DbConnection,
    idle: chrono::Duration,
    connected: &[String],
) -> Result<usize, ServiceError> {
    let now = domain::now();
    // A connected guest's row is rewritten once per half idle period, which keeps it well clear
    // of deactivation; a transaction per chunk, so tens of thousands of connected guests never
    // hold the writer lock for long at once.
    let stale_before = now - idle / 2;
    for chunk in connected.chunks(500) {
        crate::db::write_transaction(conn, |conn| {
            Visitor::touch_many(conn, chunk, now, stale_before)
        })?;
    }
    Ok(crate::db::write_transaction(conn, |conn| {
        Visitor::deactivate_idle(conn, now - idle, now)
    })?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn guest_ids_are_short_and_unambiguous() {
        let id = super::new_guest_id();
        assert_eq!(id.len(), 10);
        assert!(id.starts_with("G-"));
        assert!(!id[2..].contains(['0', 'O', '1', 'I', 'L']));
    }
}

/// Whether a request from `origin` may use the site's widget routes and socket: an allowed origin
/// of the site, Beckon's own (the chat panel and the chat pages run there), or the site's own chat
/// domain.
pub fn widget_origin_ok(
    state: &crate::state::AppState,
    site: &crate::db::models::Site,
    origin: Option<&str>,
) -> bool {
    let ours = state.settings.base_url.origin().ascii_serialization();
    // The site's own chat domain serves the full-page chat, which talks to these routes from there.
    let own_domain = site.custom_domain.as_deref().is_some_and(|domain| {
        origin.is_some_and(|o| o == format!("https://{domain}") || o == format!("http://{domain}"))
    });
    super::sites::origin_allowed(site, origin) || origin == Some(ours.as_str()) || own_domain
}

/// Which slice of a site's live visitors a console shows.
#[derive(Debug, Clone)]
pub struct Window {
    /// Which visitors.
    pub filter: crate::realtime::VisitorFilter,
    /// Offset of the window.
    pub offset: usize,
    /// Size of the window.
    pub limit: usize,
}

/// Console tab `conn_id` of operator `operator_id` (re)starts watching a site's live visitors;
/// the `snapshot` event to send it. `NotFound` unless the operator belongs to the site.
pub async fn watch_live(
    state: &crate::state::AppState,
    conn_id: u64,
    operator_id: &str,
    site_id: String,
    window: Window,
) -> Result<String, super::ServiceError> {
    let operator_id = operator_id.to_owned();
    let lookup = site_id.clone();
    let role = super::run(&state.db, move |conn| {
        Ok(crate::db::models::Membership::role_of(
            conn,
            &lookup,
            &operator_id,
        )?)
    })
    .await?;
    if role.is_none() {
        return Err(super::ServiceError::NotFound);
    }
    state.bus().follow_site_visitors(conn_id, &site_id);
    Ok(state.live.watch(
        conn_id,
        &site_id,
        window.filter,
        window.offset,
        window.limit,
    ))
}
