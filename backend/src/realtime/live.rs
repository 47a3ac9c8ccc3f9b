//! The live visitor list: who is on each site now, what they are reading, and which console tabs are
//! watching which slice of it. Changes are collected here and sent to consoles as coalesced diffs.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cluster::{ClusterLink, LiveMark, NodeId, Relay};
use super::hub::{Hub, Outgoing};
use super::protocol::ServerEvent;

/// A visitor whose last tab closed drops off the list after this long (so moving between pages,
/// which closes one socket and opens the next, does not flicker).
const SOCKET_GRACE: Duration = Duration::from_secs(3);
/// A visitor seen only through the monitor pixel stays listed this long after the last page view.
const PIXEL_GRACE: Duration = Duration::from_secs(300);
/// A loader that polled for invitations within this long can still receive one (it polls every 3 s,
/// every 15 s in a hidden tab); its visitor stays listed as long.
pub const POLL_WINDOW: Duration = Duration::from_secs(30);

/// How an invitation can reach a listed visitor now (docs/protocol.md, `Visitor.reachability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    /// A presence socket is open: the bubble shows at once.
    Socket,
    /// No socket, but the loader polled within [`POLL_WINDOW`] (a host CSP or a proxy blocks the
    /// socket): the bubble shows at its next poll.
    Polling,
    /// Neither (the monitor pixel, a page without JavaScript, a loader that cannot reach us): an
    /// invitation would never be seen.
    None,
}

/// Unix time in milliseconds.
pub fn unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Facts about a guest that the list shows, known when the guest is authenticated.
#[derive(Debug, Clone)]
pub struct GuestFacts {
    /// Visitor id (primary key).
    pub visitor_id: String,
    /// Site id.
    pub site_id: String,
    /// Temporary guest id.
    pub guest_id: String,
    /// Display name, if any.
    pub display_name: Option<String>,
    /// A returning browser.
    pub returning: bool,
    /// User agent.
    pub user_agent: String,
}

/// One row of the live visitor list, as sent to consoles (see docs/protocol.md, `Visitor`), and to
/// the other nodes of a cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveVisitor {
    /// Visitor id.
    pub id: String,
    /// Temporary guest id.
    pub guest_id: String,
    /// Display name, if known.
    pub display_name: Option<String>,
    /// URL of the page open now.
    pub current_url: String,
    /// Title of that page.
    pub current_title: String,
    /// Pages viewed in this visit.
    pub pages_viewed: u32,
    /// Where the visit came from.
    pub referrer: String,
    /// When the visit started (Unix ms).
    pub first_seen_ms: i64,
    /// When the current page was opened (Unix ms).
    pub page_since_ms: i64,
    /// Browser name.
    pub browser: Cow<'static, str>,
    /// Operating system name.
    pub os: Cow<'static, str>,
    /// Came back with an earlier guest token.
    pub returning: bool,
    /// In a chat now.
    pub chatting: bool,
    /// Status of the latest invitation, if any.
    pub invitation: Option<String>,
    /// How an invitation would reach the visitor now.
    pub reachability: Reachability,
    /// The chat the visitor is in now (the console links the row to it), if any.
    pub conversation_id: Option<String>,
    #[serde(skip)]
    version: u64,
    #[serde(skip)]
    connections: u32,
    #[serde(skip)]
    had_socket: bool,
    #[serde(skip, default = "Instant::now")]
    last_activity: Instant,
    #[serde(skip)]
    last_poll: Option<Instant>,
}

impl LiveVisitor {
    fn new(facts: &GuestFacts, now_ms: i64) -> LiveVisitor {
        let (browser, os) = super::user_agent::describe(&facts.user_agent);
        LiveVisitor {
            id: facts.visitor_id.clone(),
            guest_id: facts.guest_id.clone(),
            display_name: facts.display_name.clone(),
            current_url: String::new(),
            current_title: String::new(),
            pages_viewed: 0,
            referrer: String::new(),
            first_seen_ms: now_ms,
            page_since_ms: now_ms,
            browser: Cow::Borrowed(browser),
            os: Cow::Borrowed(os),
            returning: facts.returning,
            chatting: false,
            invitation: None,
            reachability: Reachability::None,
            conversation_id: None,
            version: 0,
            connections: 0,
            had_socket: false,
            last_activity: Instant::now(),
            last_poll: None,
        }
    }

    fn polled_recently(&self, now: Instant) -> bool {
        self.last_poll
            .is_some_and(|at| now.duration_since(at) < POLL_WINDOW)
    }

    fn gone(&self, now: Instant) -> bool {
        let grace = if self.had_socket {
            SOCKET_GRACE
        } else {
            PIXEL_GRACE
        };
        self.connections == 0
            && !self.polled_recently(now)
            && now.duration_since(self.last_activity) >= grace
    }

    /// The reachability now. A socket that just closed (a page being left for the next one, which
    /// opens its own) keeps `socket` for the grace period rather than flicker.
    fn reachability_at(&self, now: Instant) -> Reachability {
        if self.connections > 0 {
            Reachability::Socket
        } else if self.polled_recently(now) {
            Reachability::Polling
        } else if self.had_socket
            && self.reachability == Reachability::Socket
            && now.duration_since(self.last_activity) < SOCKET_GRACE
        {
            Reachability::Socket
        } else {
            Reachability::None
        }
    }
}

/// Which visitors a console shows: substring filters and new/returning.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct VisitorFilter {
    /// Case-insensitive substring of the current URL or title.
    pub page: String,
    /// Case-insensitive substring of the referrer.
    pub referrer: String,
    /// `all`, `new` or `returning`.
    pub kind: String,
}

impl VisitorFilter {
    fn matches(&self, v: &LiveVisitor) -> bool {
        let contains = |hay: &str, needle: &str| {
            needle.is_empty() || hay.to_lowercase().contains(&needle.to_lowercase())
        };
        (contains(&v.current_url, &self.page) || contains(&v.current_title, &self.page))
            && contains(&v.referrer, &self.referrer)
            && match self.kind.as_str() {
                "new" => !v.returning,
                "returning" => v.returning,
                _ => true,
            }
    }
}

/// What one console tab is watching, and what it has been sent.
struct Watch {
    site_id: String,
    filter: VisitorFilter,
    offset: usize,
    limit: usize,
    sent: HashMap<String, u64>,
    sent_total: usize,
}

#[derive(Default)]
struct SiteLive {
    /// The visitors with sockets (or polls, or pixel views) on this node.
    visitors: HashMap<String, LiveVisitor>,
    /// In cluster mode, the other nodes' visitors of the site, by visitor and node (a visitor with
    /// tabs on two nodes has a row on each).
    remote: HashMap<String, HashMap<NodeId, LiveVisitor>>,
    /// Local visitors who left since the last cluster publish.
    left: Vec<String>,
    changed: bool,
}

impl SiteLive {
    fn is_empty(&self) -> bool {
        self.visitors.is_empty() && self.remote.is_empty() && self.left.is_empty()
    }

    /// One row per visitor: the local one, else the freshest copy another node holds.
    fn rows(&self) -> impl Iterator<Item = &LiveVisitor> {
        self.visitors.values().chain(
            self.remote
                .iter()
                .filter(|(id, _)| !self.visitors.contains_key(*id))
                .filter_map(|(_, copies)| copies.values().max_by_key(|v| v.page_since_ms)),
        )
    }

    fn row_count(&self) -> usize {
        self.visitors.len()
            + self
                .remote
                .keys()
                .filter(|id| !self.visitors.contains_key(*id))
                .count()
    }
}

#[derive(Default)]
struct State {
    sites: HashMap<String, SiteLive>,
    watches: HashMap<u64, Watch>,
    next_version: u64,
    /// Local rows with a version above this were changed since the last cluster publish.
    published_version: u64,
}

impl State {
    fn bump(&mut self) -> u64 {
        self.next_version += 1;
        self.next_version
    }
}

/// The live visitor list of every site, and the console watches over it.
#[derive(Default)]
pub struct LiveVisitors {
    state: Mutex<State>,
    link: OnceLock<Arc<ClusterLink>>,
}

impl LiveVisitors {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cluster mode: this node's rows go to the other nodes, and marks made here reach the rows
    /// they hold.
    pub fn attach(&self, link: Arc<ClusterLink>) {
        let _ = self.link.set(link);
    }

    fn with_visitor(&self, facts: &GuestFacts, change: impl FnOnce(&mut LiveVisitor)) {
        let now_ms = unix_ms();
        let mut state = self.lock();
        state.next_version += 1;
        let version = state.next_version;
        let site = state.sites.entry(facts.site_id.clone()).or_default();
        let v = site
            .visitors
            .entry(facts.visitor_id.clone())
            .or_insert_with(|| LiveVisitor::new(facts, now_ms));
        change(v);
        v.version = version;
        v.last_activity = Instant::now();
        site.changed = true;
    }

    /// Records a page view: the visitor's current page becomes `url`.
    pub fn page_view(&self, facts: &GuestFacts, url: &str, title: &str, referrer: &str) {
        let now_ms = unix_ms();
        self.with_visitor(facts, |v| {
            if v.pages_viewed == 0 {
                v.referrer = referrer.to_owned();
            }
            v.pages_viewed += 1;
            v.current_url = url.to_owned();
            v.current_title = title.to_owned();
            v.page_since_ms = now_ms;
        });
    }

    /// A presence socket of the visitor opened.
    pub fn connect(&self, facts: &GuestFacts) {
        self.with_visitor(facts, |v| {
            v.connections += 1;
            v.had_socket = true;
            v.reachability = Reachability::Socket;
        });
    }

    /// The visitor's loader polled for invitations (its presence socket cannot open). Consoles hear
    /// of it only when the reachability changes, not at every poll.
    pub fn polled(&self, facts: &GuestFacts) {
        let now_ms = unix_ms();
        let now = Instant::now();
        let mut state = self.lock();
        state.next_version += 1;
        let version = state.next_version;
        let site = state.sites.entry(facts.site_id.clone()).or_default();
        let v = site
            .visitors
            .entry(facts.visitor_id.clone())
            .or_insert_with(|| LiveVisitor::new(facts, now_ms));
        v.last_poll = Some(now);
        v.last_activity = now;
        let reachability = v.reachability_at(now);
        if v.version == 0 || v.reachability != reachability {
            v.reachability = reachability;
            v.version = version;
            site.changed = true;
        }
    }

    /// How an invitation would reach a listed visitor now; `None` when the visitor is not listed
    /// here (the database, not this list, says whether they exist).
    pub fn reachability(&self, visitor_id: &str) -> Option<Reachability> {
        let now = Instant::now();
        let state = self.lock();
        let local = state
            .sites
            .values()
            .find_map(|s| s.visitors.get(visitor_id))
            .map(|v| v.reachability_at(now));
        let remote = state
            .sites
            .values()
            .filter_map(|s| s.remote.get(visitor_id))
            .flat_map(|copies| copies.values().map(|v| v.reachability))
            .min();
        // The best way any node can reach them (the order is socket, polling, none).
        match (local, remote) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A presence socket of the visitor closed.
    pub fn disconnect(&self, facts: &GuestFacts) {
        // Nothing a console shows changes yet; the row goes when the grace period ends.
        let mut state = self.lock();
        let row = state
            .sites
            .get_mut(&facts.site_id)
            .and_then(|s| s.visitors.get_mut(&facts.visitor_id));
        if let Some(v) = row {
            v.connections = v.connections.saturating_sub(1);
            v.last_activity = Instant::now();
        }
    }

    /// Sets the latest invitation status shown for a visitor (if listed, on any node).
    pub fn set_invitation(&self, site_id: &str, visitor_id: &str, status: &str) {
        self.mark(
            site_id,
            visitor_id,
            LiveMark::Invitation {
                status: status.to_owned(),
            },
        );
    }

    /// Marks whether a listed visitor is in a chat now.
    pub fn set_chatting(&self, site_id: &str, visitor_id: &str, chatting: bool) {
        self.mark(site_id, visitor_id, LiveMark::Chatting { chatting });
    }

    /// Records which chat a listed visitor is in now (`None`: none), for the console's link.
    pub fn set_conversation(&self, site_id: &str, visitor_id: &str, conversation_id: Option<&str>) {
        self.mark(
            site_id,
            visitor_id,
            LiveMark::Conversation {
                conversation_id: conversation_id.map(str::to_owned),
            },
        );
    }

    fn mark(&self, site_id: &str, visitor_id: &str, mark: LiveMark) {
        self.apply_mark(site_id, visitor_id, &mark);
        if let Some(link) = self.link.get() {
            link.send(
                Relay::Mark {
                    site_id: site_id.to_owned(),
                    visitor_id: visitor_id.to_owned(),
                    mark,
                },
                "",
            );
        }
    }

    /// Applies a mark to this node's row and copies of the visitor (made here, or by another node).
    pub fn apply_mark(&self, site_id: &str, visitor_id: &str, mark: &LiveMark) {
        let mut state = self.lock();
        let version = state.bump();
        let Some(site) = state.sites.get_mut(site_id) else {
            return;
        };
        let copies = site.remote.get_mut(visitor_id);
        let rows = site
            .visitors
            .get_mut(visitor_id)
            .into_iter()
            .chain(copies.into_iter().flat_map(|c| c.values_mut()));
        let mut changed = false;
        for v in rows {
            let differs = match mark {
                LiveMark::Invitation { status } => {
                    let differs = v.invitation.as_deref() != Some(status.as_str());
                    v.invitation = Some(status.clone());
                    differs
                }
                LiveMark::Chatting { chatting } => {
                    let differs = v.chatting != *chatting;
                    v.chatting = *chatting;
                    differs
                }
                LiveMark::Conversation { conversation_id } => {
                    let differs = v.conversation_id != *conversation_id;
                    v.conversation_id = conversation_id.clone();
                    differs
                }
            };
            if differs {
                v.version = version;
                changed = true;
            }
        }
        site.changed |= changed;
    }

    /// Takes in another node's rows of a site.
    pub fn apply_remote(
        &self,
        node: &NodeId,
        site_id: &str,
        upserts: Vec<LiveVisitor>,
        removed: &[String],
        full: bool,
    ) {
        let mut state = self.lock();
        let version = state.bump();
        let site = state.sites.entry(site_id.to_owned()).or_default();
        if full {
            for copies in site.remote.values_mut() {
                copies.remove(node);
            }
        }
        for id in removed {
            if let Some(copies) = site.remote.get_mut(id) {
                copies.remove(node);
            }
        }
        for mut v in upserts {
            v.version = version;
            site.remote
                .entry(v.id.clone())
                .or_default()
                .insert(node.clone(), v);
        }
        site.remote.retain(|_, copies| !copies.is_empty());
        site.changed = true;
    }

    /// Drops every row another node held (it is gone).
    pub fn drop_node(&self, node: &NodeId) {
        let mut state = self.lock();
        for site in state.sites.values_mut() {
            let before = site.remote.len();
            for copies in site.remote.values_mut() {
                if copies.remove(node).is_some() {
                    site.changed = true;
                }
            }
            site.remote.retain(|_, copies| !copies.is_empty());
            site.changed |= site.remote.len() != before;
        }
    }

    /// Forgets every other node's rows (this node lost the bus and asks everyone for their full
    /// lists again).
    pub fn drop_remote(&self) {
        let mut state = self.lock();
        for site in state.sites.values_mut() {
            if !site.remote.is_empty() {
                site.remote.clear();
                site.changed = true;
            }
        }
    }

    /// This node's full rows of every site, for a node that asked (`Hello`).
    pub fn full_lists(&self) -> Vec<Relay> {
        self.lock()
            .sites
            .iter()
            .filter(|(_, s)| !s.visitors.is_empty())
            .map(|(site_id, s)| Relay::Live {
                site_id: site_id.clone(),
                upserts: s.visitors.values().cloned().collect(),
                removed: Vec::new(),
                full: true,
            })
            .collect()
    }

    /// Ids of every visitor with an open presence socket or a loader polling for invitations (their
    /// guest ids stay active).
    pub fn connected_visitor_ids(&self) -> Vec<String> {
        let now = Instant::now();
        let state = self.lock();
        state
            .sites
            .values()
            .flat_map(|s| s.visitors.values())
            .filter(|v| v.connections > 0 || v.polled_recently(now))
            .map(|v| v.id.clone())
            .collect()
    }

    /// How many visitors are listed for a site.
    pub fn count(&self, site_id: &str) -> usize {
        self.lock()
            .sites
            .get(site_id)
            .map_or(0, SiteLive::row_count)
    }

    /// Starts or changes a console tab's watch, and returns the snapshot message to send it.
    pub fn watch(
        &self,
        conn_id: u64,
        site_id: &str,
        filter: VisitorFilter,
        offset: usize,
        limit: usize,
    ) -> String {
        let limit = limit.clamp(1, 500);
        let mut state = self.lock();
        let (total, window) = window_of(state.sites.get(site_id), &filter, offset, limit);
        let sent = window.iter().map(|v| (v.id.clone(), v.version)).collect();
        let message = ServerEvent::Snapshot {
            site_id,
            total,
            offset,
            visitors: window,
        }
        .to_json();
        state.watches.insert(
            conn_id,
            Watch {
                site_id: site_id.to_owned(),
                filter,
                offset,
                limit,
                sent,
                sent_total: total,
            },
        );
        message
    }

    /// A console tab closed.
    pub fn unwatch(&self, conn_id: u64) {
        self.lock().watches.remove(&conn_id);
    }

    /// Tells the other nodes which of this node's rows changed or left since the last time.
    fn publish_changes(state: &mut State, link: &ClusterLink) {
        let since = state.published_version;
        for (site_id, site) in &mut state.sites {
            let upserts: Vec<LiveVisitor> = site
                .visitors
                .values()
                .filter(|v| v.version > since)
                .cloned()
                .collect();
            let removed = std::mem::take(&mut site.left);
            if upserts.is_empty() && removed.is_empty() {
                continue;
            }
            link.send(
                Relay::Live {
                    site_id: site_id.clone(),
                    upserts,
                    removed,
                    full: false,
                },
                "",
            );
        }
        state.published_version = state.next_version;
    }

    /// Removes visitors who left, then sends every console whose window changed one coalesced diff.
    /// Called about once a second.
    pub fn flush(&self, hub: &Hub) {
        let now = Instant::now();
        let mut state = self.lock();
        let State {
            sites,
            next_version,
            ..
        } = &mut *state;
        let clustered = self.link.get().is_some();
        for site in sites.values_mut() {
            let before = site.visitors.len();
            let left = &mut site.left;
            site.visitors.retain(|id, v| {
                let gone = v.gone(now);
                if gone && clustered {
                    left.push(id.clone());
                }
                !gone
            });
            if site.visitors.len() != before {
                site.changed = true;
            }
            // Reachability also changes with time alone (a loader stopped polling, a socket's grace
            // ended).
            for v in site.visitors.values_mut() {
                let reachability = v.reachability_at(now);
                if reachability != v.reachability {
                    *next_version += 1;
                    v.reachability = reachability;
                    v.version = *next_version;
                    site.changed = true;
                }
            }
        }
        let changed: HashSet<String> = state
            .sites
            .iter_mut()
            .filter_map(|(id, s)| std::mem::take(&mut s.changed).then(|| id.clone()))
            .collect();
        if let Some(link) = self.link.get() {
            Self::publish_changes(&mut state, link);
        }
        state.sites.retain(|_, s| !s.is_empty());
        if changed.is_empty() {
            return;
        }
        let State { sites, watches, .. } = &mut *state;
        for (conn_id, watch) in watches.iter_mut() {
            if !changed.contains(&watch.site_id) {
                continue;
            }
            let (total, window) = window_of(
                sites.get(&watch.site_id),
                &watch.filter,
                watch.offset,
                watch.limit,
            );
            let in_window: HashSet<&str> = window.iter().map(|v| v.id.as_str()).collect();
            let upserts: Vec<&LiveVisitor> = window
                .iter()
                .copied()
                .filter(|v| watch.sent.get(&v.id) != Some(&v.version))
                .collect();
            let removed: Vec<String> = watch
                .sent
                .keys()
                .filter(|id| !in_window.contains(id.as_str()))
                .cloned()
                .collect();
            if upserts.is_empty() && removed.is_empty() && total == watch.sent_total {
                continue;
            }
            let message = ServerEvent::Visitors {
                total,
                upserts: upserts.clone(),
                removed: &removed,
            }
            .to_json();
            for id in &removed {
                watch.sent.remove(id);
            }
            for v in upserts {
                watch.sent.insert(v.id.clone(), v.version);
            }
            watch.sent_total = total;
            hub.send_to_console(*conn_id, Outgoing::text(message));
        }
    }
}

/// The filtered, ordered (newest visit first) window of a site's visitors, and the filtered total.
fn window_of<'a>(
    site: Option<&'a SiteLive>,
    filter: &VisitorFilter,
    offset: usize,
    limit: usize,
) -> (usize, Vec<&'a LiveVisitor>) {
    let Some(site) = site else {
        return (0, Vec::new());
    };
    let mut matching: Vec<&LiveVisitor> = site.rows().filter(|v| filter.matches(v)).collect();
    let total = matching.len();
    matching.sort_unstable_by(|a, b| {
        b.first_seen_ms
            .cmp(&a.first_seen_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    (
        total,
        matching.into_iter().skip(offset).take(limit).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(id: &str, returning: bool) -> GuestFacts {
        GuestFacts {
            visitor_id: id.into(),
            site_id: "s".into(),
            guest_id: format!("g-{id}"),
            display_name: None,
            returning,
            user_agent: "Firefox/1 (Windows)".into(),
        }
    }

    #[test]
    fn page_views_update_the_row_and_count_pages() {
        let live = LiveVisitors::default();
        live.page_view(&facts("a", false), "https://x/1", "One", "https://search");
        live.page_view(&facts("a", false), "https://x/2", "Two", "https://x/1");
        let state = live.lock();
        let v = &state.sites["s"].visitors["a"];
        assert_eq!(
            (
                v.current_url.as_str(),
                v.current_title.as_str(),
                v.pages_viewed
            ),
            ("https://x/2", "Two", 2)
        );
        assert_eq!(
            v.referrer, "https://search",
            "the visit's referrer is the first page's"
        );
        assert_eq!((v.browser.as_ref(), v.os.as_ref()), ("Firefox", "Windows"));
    }

    #[test]
    fn filters_match_page_referrer_and_kind() {
        let live = LiveVisitors::default();
        live.page_view(
            &facts("a", false),
            "https://x/tent",
            "Tent",
            "https://search.example",
        );
        live.page_view(&facts("b", true), "https://x/stove", "Stove", "");
        let state = live.lock();
        let site = state.sites.get("s");
        let f = |page: &str, referrer: &str, kind: &str| VisitorFilter {
            page: page.into(),
            referrer: referrer.into(),
            kind: kind.into(),
        };
        assert_eq!(window_of(site, &f("TENT", "", "all"), 0, 10).0, 1);
        assert_eq!(window_of(site, &f("", "search", "all"), 0, 10).0, 1);
        assert_eq!(window_of(site, &f("", "", "returning"), 0, 10).1[0].id, "b");
        assert_eq!(window_of(site, &f("", "", "new"), 0, 10).1[0].id, "a");
        assert_eq!(
            window_of(site, &f("", "", ""), 1, 10).1.len(),
            1,
            "offset pages the list"
        );
    }

    #[test]
    fn visitors_with_open_sockets_stay_and_leave_after_the_grace() {
        let live = LiveVisitors::default();
        let a = facts("a", false);
        live.connect(&a);
        live.page_view(&a, "https://x/", "Home", "");
        assert_eq!(live.connected_visitor_ids(), vec!["a".to_owned()]);
        live.disconnect(&a);
        {
            let mut state = live.lock();
            let v = state
                .sites
                .get_mut("s")
                .unwrap()
                .visitors
                .get_mut("a")
                .unwrap();
            v.last_activity -= SOCKET_GRACE;
        }
        live.flush(&Hub::default());
        assert_eq!(live.count("s"), 0);
    }

    #[test]
    fn reachability_follows_sockets_and_polls_and_ends_when_both_stop() {
        let live = LiveVisitors::default();
        let a = facts("a", false);
        live.page_view(&a, "https://x/", "Home", "");
        assert_eq!(
            live.reachability("a"),
            Some(Reachability::None),
            "a beacon alone"
        );
        assert_eq!(live.reachability("nobody"), None);
        live.polled(&a);
        assert_eq!(live.reachability("a"), Some(Reachability::Polling));
        assert_eq!(
            live.connected_visitor_ids(),
            vec!["a".to_owned()],
            "kept active"
        );
        live.connect(&a);
        assert_eq!(live.reachability("a"), Some(Reachability::Socket));
        live.disconnect(&a);
        let age = |live: &LiveVisitors, by: Duration| {
            let mut state = live.lock();
            let v = state
                .sites
                .get_mut("s")
                .and_then(|s| s.visitors.get_mut("a"))
                .expect("listed");
            v.last_activity -= by;
            v.last_poll = v.last_poll.map(|at| at - by);
        };
        age(&live, POLL_WINDOW);
        live.flush(&Hub::default());
        assert_eq!(live.count("s"), 0, "neither socket nor polls: gone");

        // Polling alone keeps the row, and stopping turns it to `none` only after the window.
        let b = facts("b", false);
        live.page_view(&b, "https://x/", "Home", "");
        live.polled(&b);
        let row = |live: &LiveVisitors| {
            let state = live.lock();
            let v = &state.sites["s"].visitors["b"];
            (v.reachability, v.version)
        };
        let (reach, version) = row(&live);
        assert_eq!(reach, Reachability::Polling);
        live.polled(&b);
        assert_eq!(
            row(&live).1,
            version,
            "another poll changes nothing a console shows"
        );
        {
            let mut state = live.lock();
            let v = state
                .sites
                .get_mut("s")
                .unwrap()
                .visitors
                .get_mut("b")
                .unwrap();
            v.last_poll = v.last_poll.map(|at| at - POLL_WINDOW);
        }
        live.flush(&Hub::default());
        let (reach, later) = row(&live);
        assert_eq!(reach, Reachability::None);
        assert!(later > version, "the change is sent to consoles");
    }
}
