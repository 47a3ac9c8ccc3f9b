//! Origins a site's widget was refused on: recorded when a browser on an origin the site does not
//! allow asks for a guest (or sends a beacon, opens a socket…), shown to the owner on the Embed page
//! and the console home, and allowed or dismissed there with one click.
//!
//! Recording is bounded, because anyone can send requests with any `Origin`: at most
//! [`KEPT_PER_SITE`] origins are kept per site (the most recently seen), each row is written at most
//! once per [`WRITE_EVERY`] (refusals in between are counted in memory and added on the next
//! write), and at most [`SITE_WRITES_PER_WINDOW`] rows of one site are written per window. Allowed
//! requests never come here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::Connection as _;

use crate::db::models::{RefusedOrigin, Site};
use crate::domain::{AllowedOrigins, InvalidInput};
use crate::state::AppState;

/// Refused origins kept per site: the most recently seen.
pub const KEPT_PER_SITE: i64 = 20;
/// How often one (site, origin) row is written at most.
pub const WRITE_EVERY: Duration = Duration::from_secs(60);
/// Rows of one site written per [`WRITE_EVERY`] at most (a spray of made-up origins).
pub const SITE_WRITES_PER_WINDOW: u32 = 30;
/// Longest example page kept (the Referer is cut to this many bytes, at a character boundary).
pub const EXAMPLE_PAGE_MAX: usize = 512;
/// Longest `Origin` recorded; longer values are no real browser's and are not recorded.
const ORIGIN_MAX: usize = 255;
/// (site, origin) pairs remembered by the throttle at most; beyond that new ones are not recorded
/// until the old ones age out, rather than forgetting the throttle (which would let a flood write).
const THROTTLE_ENTRIES_MAX: usize = 10_000;

/// The `Origin` value of an opaque origin (a sandboxed frame without `allow-same-origin`, a `file:`
/// page, a `data:` URL).
pub const OPAQUE_ORIGIN: &str = "null";

/// Refusals of one (site, origin) since its row was last written.
struct Pending {
    written_at: Instant,
    unwritten: i64,
}

/// Writes of one site in the current window.
struct SiteWindow {
    started: Instant,
    writes: u32,
}

#[derive(Default)]
struct Counts {
    pairs: HashMap<(String, String), Pending>,
    sites: HashMap<String, SiteWindow>,
}

/// In-memory throttle of refusal writes (one per node; each node writes its own counts).
#[derive(Default)]
pub struct RefusalThrottle {
    counts: Mutex<Counts>,
}

impl RefusalThrottle {
    /// Counts one refusal of `origin` on `site_id` at `now`; `Some(hits)` when the row is due to be
    /// written with `hits` refusals (this one and those counted since the last write).
    fn count(&self, site_id: &str, origin: &str, now: Instant) -> Option<i64> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let Counts { pairs, sites } = &mut *counts;
        let key = (site_id.to_owned(), origin.to_owned());
        if let Some(p) = pairs.get_mut(&key) {
            if now.duration_since(p.written_at) < WRITE_EVERY {
                p.unwritten += 1;
                return None;
            }
        } else if pairs.len() >= THROTTLE_ENTRIES_MAX {
            pairs.retain(|_, p| now.duration_since(p.written_at) < WRITE_EVERY);
            sites.retain(|_, w| now.duration_since(w.started) < WRITE_EVERY);
            if pairs.len() >= THROTTLE_ENTRIES_MAX {
                return None;
            }
        }
        let window = sites.entry(site_id.to_owned()).or_insert(SiteWindow {
            started: now,
            writes: 0,
        });
        if now.duration_since(window.started) >= WRITE_EVERY {
            *window = SiteWindow {
                started: now,
                writes: 0,
            };
        }
        if window.writes >= SITE_WRITES_PER_WINDOW {
            return None;
        }
        window.writes += 1;
        let pending = pairs.entry(key).or_insert(Pending {
            written_at: now,
            unwritten: 0,
        });
        let hits = pending.unwritten + 1;
        *pending = Pending {
            written_at: now,
            unwritten: 0,
        };
        Some(hits)
    }

    /// Forgets a (site, origin) pair, so its next refusal is recorded at once (after the owner
    /// allowed or dismissed it).
    fn forget(&self, site_id: &str, origin: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts
            .pairs
            .remove(&(site_id.to_owned(), origin.to_owned()));
    }
}

/// The origin as it is recorded, or `None` for a value no browser sends (too long, control
/// characters, a path): `null`, or a `scheme://host[:port]` that parses as a URL.
fn recordable_origin(raw: &str) -> Option<&str> {
    if raw == OPAQUE_ORIGIN {
        return Some(raw);
    }
    if raw.is_empty()
        || raw.len() > ORIGIN_MAX
        || !raw.bytes().all(|b| b.is_ascii_graphic())
        || raw.ends_with('/')
    {
        return None;
    }
    let url = url::Url::parse(raw).ok()?;
    (url.path().is_empty() || url.path() == "/")
        .then_some(())
        .filter(|()| url.query().is_none() && url.fragment().is_none() && url.username().is_empty())
        .map(|()| raw)
}

/// The example page kept from a Referer: an http(s) URL cut to [`EXAMPLE_PAGE_MAX`] bytes, or empty.
pub fn example_page(referer: Option<&str>) -> String {
    let Some(raw) = referer.map(str::trim) else {
        return String::new();
    };
    let Ok(url) = url::Url::parse(raw) else {
        return String::new();
    };
    if !matches!(url.scheme(), "http" | "https") {
        return String::new();
    }
    let text = url.as_str();
    let mut end = text.len().min(EXAMPLE_PAGE_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Whether the owner can allow `origin` with one click: an http(s) origin (not an opaque one).
pub fn allowable(origin: &str) -> bool {
    origin != OPAQUE_ORIGIN && AllowedOrigins::parse(origin).is_ok_and(|o| o.as_slice() == [origin])
}

/// Notes that `site`'s widget was refused on `origin` (the request's `Origin`, `referer` its
/// Referer). Counted in memory; written when the throttle says so. A failure to write is logged and
/// otherwise ignored: the refusal is answered either way.
pub async fn note(state: &AppState, site: &Site, origin: Option<&str>, referer: Option<&str>) {
    let Some(origin) = origin.and_then(recordable_origin) else {
        return;
    };
    let Some(hits) = state
        .refused_origins
        .count(&site.id, origin, Instant::now())
    else {
        return;
    };
    let (site_id, origin_owned, page) = (
        site.id.to_string(),
        origin.to_owned(),
        example_page(referer),
    );
    let at = crate::domain::now();
    let written = super::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            RefusedOrigin::record(conn, &site_id, &origin_owned, &page, hits, at)?;
            RefusedOrigin::keep_latest(conn, &site_id, KEPT_PER_SITE)?;
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    })
    .await;
    if let Err(e) = written {
        tracing::warn!(site = %site.id, error = %e, "could not record a refused origin");
    }
}

/// The refused origins of these sites, most recently seen first.
pub fn for_sites(
    conn: &mut crate::db::DbConnection,
    site_ids: &[String],
) -> Result<Vec<RefusedOrigin>, super::ServiceError> {
    Ok(RefusedOrigin::for_sites(conn, site_ids)?)
}

/// "Allow this origin": adds exactly `origin` to the site's allowed origins and forgets its
/// refusals. An opaque origin (or anything but an http(s) origin) cannot be allowed.
pub async fn allow(state: &AppState, site: &Site, origin: &str) -> Result<(), super::ServiceError> {
    if !allowable(origin) {
        return Err(InvalidInput::new(
            "origin",
            "only an http or https origin can be allowed; a page without an origin (a sandboxed \
             frame without allow-same-origin, or a file) never can",
        )
        .into());
    }
    let (site_id, origin_owned) = (site.id.to_string(), origin.to_owned());
    super::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            // Read afresh: the caller's copy of the site may predate another change of the list.
            let current = Site::get(conn, &site_id)?;
            let mut origins = current.allowed_origins();
            if !origins.contains(&origin_owned) {
                origins.push(origin_owned.clone());
            }
            let parsed = AllowedOrigins::parse(&origins.join(" "))?;
            Site::set_allowed_origins(conn, &site_id, &parsed)?;
            RefusedOrigin::remove(conn, &site_id, &origin_owned)?;
            Ok::<_, super::ServiceError>(())
        })
    })
    .await?;
    super::sites::settings_changed(state, site);
    state.refused_origins.forget(&site.id, origin);
    Ok(())
}

/// "Dismiss": forgets a refused origin without allowing it (the one answer for an opaque origin).
pub async fn dismiss(
    state: &AppState,
    site: &Site,
    origin: &str,
) -> Result<(), super::ServiceError> {
    let (site_id, origin_owned) = (site.id.to_string(), origin.to_owned());
    super::run(&state.db, move |conn| {
        Ok(RefusedOrigin::remove(conn, &site_id, &origin_owned)?)
    })
    .await?;
    state.refused_origins.forget(&site.id, origin);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_written_once_a_minute_with_the_count_in_between() {
        let t = RefusalThrottle::default();
        let start = Instant::now();
        assert_eq!(t.count("s", "https://a.example", start), Some(1));
        for _ in 0..4 {
            assert_eq!(t.count("s", "https://a.example", start), None);
        }
        assert_eq!(
            t.count("s", "https://a.example", start + WRITE_EVERY),
            Some(5),
            "the four unwritten refusals come with the next write"
        );
        t.forget("s", "https://a.example");
        assert_eq!(
            t.count("s", "https://a.example", start + WRITE_EVERY),
            Some(1)
        );
    }

    #[test]
    fn a_spray_of_origins_writes_at_most_the_site_window() {
        let t = RefusalThrottle::default();
        let now = Instant::now();
        let written = (0..1000)
            .filter(|i| {
                t.count("s", &format!("https://x{i}.example"), now)
                    .is_some()
            })
            .count();
        assert_eq!(written, SITE_WRITES_PER_WINDOW as usize);
        assert_eq!(
            t.count("other", "https://x1.example", now),
            Some(1),
            "per site"
        );
    }

    #[test]
    fn only_origin_shaped_values_are_recorded() {
        assert_eq!(recordable_origin("null"), Some("null"));
        assert_eq!(
            recordable_origin("https://shop.example:8443"),
            Some("https://shop.example:8443")
        );
        for bad in [
            "",
            "https://shop.example/",
            "https://shop.example/x",
            "https://a b",
            "not an origin",
            "https://shop.example?q",
        ] {
            assert_eq!(recordable_origin(bad), None, "{bad}");
        }
        assert_eq!(
            recordable_origin(&format!("https://{}.example", "a".repeat(300))),
            None
        );
    }

    #[test]
    fn example_pages_are_http_and_cut() {
        assert_eq!(
            example_page(Some("https://shop.example/cart?x=1")),
            "https://shop.example/cart?x=1"
        );
        assert_eq!(example_page(Some("javascript:alert(1)")), "");
        assert_eq!(example_page(None), "");
        let long = format!("https://shop.example/{}", "é".repeat(600));
        let cut = example_page(Some(&long));
        assert!(cut.len() <= EXAMPLE_PAGE_MAX && cut.starts_with("https://shop.example/"));
    }

    #[test]
    fn only_http_origins_can_be_allowed() {
        assert!(allowable("https://shop.example"));
        assert!(allowable("http://127.0.0.1:8080"));
        assert!(!allowable("null"));
        assert!(!allowable("chrome-extension://abc"));
        assert!(
            !allowable("https://Shop.example"),
            "not as a browser sends it"
        );
    }
}
