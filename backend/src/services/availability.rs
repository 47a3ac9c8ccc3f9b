//! Who can answer now. An operator is *available*, *away* or *offline*: offline without a console
//! socket; away when they chose so or did nothing in the console for `away_after`; available
//! otherwise. A site is online when one of its operators is available and, if the site set business
//! hours, the time in the site's zone is within them; an owner can force it either way.
//!
//! Open widgets, chat pages and consoles follow through `status:` topics on the hub: a watcher
//! recomputes the watched statuses twice a second and publishes only changes.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveTime, TimeZone, Timelike};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::db::models::Site;
use crate::realtime::cluster::{
    ClusterLink, NodeId, OperatorPresence, Relay, HEARTBEAT, NODE_LEASE,
};
use crate::realtime::{Bus, Hub, ServerEvent, StatusTopic};

pub use crate::realtime::protocol::{Chosen, Status};

/// Business hours of a site (`settings.business_hours`): an IANA zone and, per weekday, the open
/// intervals ("09:00-12:00,13:00-17:30"). A day that is missing or empty is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub tz: String,
    /// `mon` … `sun` to interval lists.
    pub days: HashMap<String, String>,
}

/// Weekday keys in order.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_intervals(spec: &str) -> Result<Vec<(NaiveTime, NaiveTime)>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (from, to) = part
            .split_once('-')
            .ok_or_else(|| format!("{part:?}: write intervals like 09:00-17:00"))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .or_else(|_| {
                    if t.trim() == "24:00" {
                        Ok(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default())
                    } else {
                        Err(())
                    }
                })
                .map_err(|_| format!("{t:?} is not a time like 09:30"))
        };
        let (from, to) = (time(from)?, time(to)?);
        if from >= to {
            return Err(format!("{part:?}: the end must be after the start"));
        }
        out.push((from, to));
    }
    Ok(out)
}

impl BusinessHours {
    /// Checks the zone and every interval.
    pub fn validate(&self) -> Result<(), String> {
        self.tz
            .parse::<chrono_tz::Tz>()
            .map_err(|_| format!("{:?} is not a time zone like Europe/Berlin", self.tz))?;
        for (day, spec) in &self.days {
            if !DAYS.contains(&day.as_str()) {
                return Err(format!("{day:?} is not a weekday"));
            }
            parse_intervals(spec)?;
        }
        Ok(())
    }

    /// Whether `now` falls within the hours (in the site's zone).
    pub fn open_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        let Ok(tz) = self.tz.parse::<chrono_tz::Tz>() else {
            return true;
        };
        let local = tz.from_utc_datetime(&now.naive_utc());
        let day = DAYS[local.weekday().num_days_from_monday() as usize];
        let Some(spec) = self.days.get(day) else {
            return false;
        };
        let t = NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second())
            .unwrap_or_default();
        parse_intervals(spec)
            .unwrap_or_default()
            .iter()
            .any(|(from, to)| *from <= t && t < *to)
    }
}

/// Whether the site's hours (if set) allow chat at `now`.
pub fn within_hours(site: &Site, now: chrono::DateTime<chrono::Utc>) -> bool {
    site.settings()
        .business_hours
        .is_none_or(|h| h.open_at(now))
}

struct Presence {
    chosen: Chosen,
    last_activity: Instant,
}

/// A site row and its member ids, with when they were read.
type CachedSite = (Instant, Site, Vec<String>);

/// What the other nodes of a cluster last said of their operators, and when.
type RemotePresence = HashMap<NodeId, (Instant, HashMap<String, Status>)>;

/// What this node last told the others, and when.
type SentPresence = (Instant, Vec<OperatorPresence>);

/// Operators' choices and activity on this node, plus the statuses last published.
pub struct Availability {
    away_after: Duration,
    presence: Mutex<HashMap<String, Presence>>,
    published: Mutex<HashMap<StatusTopic, Arc<str>>>,
    /// Sites (with their members) the watcher needs, refreshed every few seconds.
    sites: Mutex<HashMap<String, CachedSite>>,
    wake: tokio::sync::Notify,
    /// Cluster mode: the link the heartbeat goes out on.
    link: OnceLock<Arc<ClusterLink>>,
    remote: Mutex<RemotePresence>,
    sent: Mutex<Option<SentPresence>>,
}

/// Available beats away beats offline: an operator counts as what their best console makes them.
fn rank(status: Status) -> u8 {
    match status {
        Status::Available => 2,
        Status::Away => 1,
        Status::Offline => 0,
    }
}

/// How long the watcher trusts a site row and member list.
const SITE_REFRESH: Duration = Duration::from_secs(5);

impl Availability {
    /// Availability with this inactivity limit.
    pub fn new(away_after: Duration) -> Availability {
        Availability {
            away_after,
            presence: Mutex::default(),
            published: Mutex::default(),
            sites: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            link: OnceLock::new(),
            remote: Mutex::default(),
            sent: Mutex::default(),
        }
    }

    /// Cluster mode: this node's operators are announced to the others (a heartbeat that is their
    /// lease), and theirs count here.
    pub fn attach(&self, link: Arc<ClusterLink>) {
        let _ = self.link.set(link);
    }

    /// Another node's heartbeat: the statuses of the operators with consoles there.
    pub fn remote_presence(&self, node: &NodeId, operators: Vec<OperatorPresence>) {
        let statuses: HashMap<String, Status> =
            operators.into_iter().map(|p| (p.id, p.status)).collect();
        let mut remote = Self::lock(&self.remote);
        let changed = remote.get(node).is_none_or(|(_, old)| *old != statuses);
        remote.insert(node.clone(), (Instant::now(), statuses));
        drop(remote);
        if changed {
            self.wake.notify_one();
        }
    }

    /// Forgets a node's operators (the node is gone).
    pub fn drop_node(&self, node: &NodeId) {
        if Self::lock(&self.remote).remove(node).is_some() {
            self.wake.notify_one();
        }
    }

    /// The best status another node reports for the operator.
    fn remote_status(&self, operator_id: &str) -> Status {
        Self::lock(&self.remote)
            .values()
            .filter(|(at, _)| at.elapsed() <= NODE_LEASE)
            .filter_map(|(_, ops)| ops.get(operator_id).copied())
            .max_by_key(|s| rank(*s))
            .unwrap_or(Status::Offline)
    }

    /// This node's operators and their statuses here.
    fn local_presence(&self, hub: &Hub) -> Vec<OperatorPresence> {
        hub.online_operators()
            .into_iter()
            .map(|id| {
                let status = self.local_status(hub, &id);
                OperatorPresence { id, status }
            })
            .collect()
    }

    /// Sends the heartbeat when this node's operators changed, or when it is due.
    fn heartbeat(&self, hub: &Hub) {
        let Some(link) = self.link.get() else {
            return;
        };
        let operators = self.local_presence(hub);
        let mut sent = Self::lock(&self.sent);
        let due = sent
            .as_ref()
            .is_none_or(|(at, last)| *last != operators || at.elapsed() >= HEARTBEAT);
        if due {
            link.send(
                Relay::Heartbeat {
                    operators: operators.clone(),
                },
                "",
            );
            *sent = Some((Instant::now(), operators));
        }
    }

    /// Sends the heartbeat now (a node asked for everyone's state).
    pub fn heartbeat_now(&self, hub: &Hub) {
        *Self::lock(&self.sent) = None;
        self.heartbeat(hub);
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A console socket of the operator opened, with their stored choice.
    pub fn connected(&self, operator_id: &str, chosen: Chosen) {
        Self::lock(&self.presence).insert(
            operator_id.to_owned(),
            Presence {
                chosen,
                last_activity: Instant::now(),
            },
        );
        self.wake.notify_one();
    }

    /// The operator did something in the console.
    pub fn touch(&self, operator_id: &str) {
        if let Some(p) = Self::lock(&self.presence).get_mut(operator_id) {
            p.last_activity = Instant::now();
        }
        self.wake.notify_one();
    }

    /// The operator chose a status.
    pub fn choose(&self, operator_id: &str, chosen: Chosen) {
        let mut presence = Self::lock(&self.presence);
        let p = presence
            .entry(operator_id.to_owned())
            .or_insert_with(|| Presence {
                chosen,
                last_activity: Instant::now(),
            });
        p.chosen = chosen;
        p.last_activity = Instant::now();
        drop(presence);
        self.wake.notify_one();
    }

    /// Something changed that the watcher should look at now (a socket closed, a site's forced
    /// status or hours changed).
    pub fn changed(&self, site_id: Option<&str>) {
        if let Some(site_id) = site_id {
            Self::lock(&self.sites).remove(site_id);
        }
        self.wake.notify_one();
    }

    /// The operator's chosen status (available when unknown).
    pub fn chosen(&self, operator_id: &str) -> Chosen {
        Self::lock(&self.presence)
            .get(operator_id)
            .map_or(Chosen::Available, |p| p.chosen)
    }

    /// The operator's effective status, over every node's consoles.
    pub fn status(&self, hub: &Hub, operator_id: &str) -> Status {
        let here = self.local_status(hub, operator_id);
        if here == Status::Available || self.link.get().is_none() {
            return here;
        }
        let there = self.remote_status(operator_id);
        if rank(there) > rank(here) {
            there
        } else {
            here
        }
    }

    /// The operator's status from this node's consoles alone.
    fn local_status(&self, hub: &Hub, operator_id: &str) -> Status {
        if !hub.operator_online(operator_id) {
            return Status::Offline;
        }
        match Self::lock(&self.presence).get(operator_id) {
            Some(p) if p.chosen == Chosen::Away => Status::Away,
            Some(p) if p.last_activity.elapsed() > self.away_after => Status::Away,
            _ => Status::Available,
        }
    }

    /// The operators who are available now (for assignment).
    pub fn available_operators(&self, hub: &Hub) -> Vec<String> {
        let mut ids = hub.online_operators();
        if self.link.get().is_some() {
            ids.extend(
                Self::lock(&self.remote)
                    .values()
                    .filter(|(at, _)| at.elapsed() <= NODE_LEASE)
                    .flat_map(|(_, ops)| ops.keys().cloned()),
            );
            ids.sort();
            ids.dedup();
        }
        ids.into_iter()
            .filter(|id| self.status(hub, id) == Status::Available)
            .collect()
    }

    /// Whether someone can answer on the site now.
    pub fn site_online(&self, hub: &Hub, site: &Site, members: &[String]) -> bool {
        match site.forced_status.as_deref() {
            Some("online") => true,
            Some("offline") => false,
            _ => {
                within_hours(site, chrono::Utc::now())
                    && members
                        .iter()
                        .any(|id| self.status(hub, id) == Status::Available)
            }
        }
    }

    /// Whether one operator can answer now (on their own chat page): available, and their site
    /// not forced offline.
    pub fn operator_online(&self, hub: &Hub, site: &Site, operator_id: &str) -> bool {
        site.forced_status.as_deref() != Some("offline")
            && self.status(hub, operator_id) == Status::Available
    }

    /// The `site_status` event.
    pub fn status_event(online: bool) -> Arc<str> {
        ServerEvent::SiteStatus { online }.to_json().into()
    }

    /// The `availability` event for an operator's consoles.
    pub fn availability_event(&self, hub: &Hub, operator_id: &str) -> Arc<str> {
        ServerEvent::Availability {
            status: self.status(hub, operator_id),
            chosen: self.chosen(operator_id),
        }
        .to_json()
        .into()
    }

    /// Publishes `event` on `topic` if it differs from what was published there last; answers
    /// whether it did.
    fn publish_if_changed(&self, hub: &Hub, topic: StatusTopic, event: Arc<str>) -> bool {
        let mut published = Self::lock(&self.published);
        if published.get(&topic) == Some(&event) {
            return false;
        }
        Bus::new(hub).to_status_followers(&topic, event.clone());
        published.insert(topic, event);
        true
    }

    /// Notes `event` as published on a status topic that nothing was published on yet: its first
    /// subscriber was just told it, and the watcher's next round would otherwise say it again.
    /// (A topic with an earlier, different status keeps it, so the watcher still tells the
    /// others of the change.)
    pub fn told_first_subscriber(&self, topic: &StatusTopic, event: &Arc<str>) {
        Self::lock(&self.published)
            .entry(topic.clone())
            .or_insert_with(|| event.clone());
    }

    /// The operator's `availability` event for a console that just connected (sent to it alone),
    /// noted as published so the watcher does not repeat it.
    pub fn greeting(&self, hub: &Hub, operator_id: &str) -> Arc<str> {
        let event = self.availability_event(hub, operator_id);
        Self::lock(&self.published).insert(
            StatusTopic::OwnConsoles(operator_id.to_owned()),
            event.clone(),
        );
        event
    }

    /// Tells all the operator's consoles their status if it changed; otherwise answers the event
    /// for the asking console alone.
    pub fn announce(&self, hub: &Hub, operator_id: &str) -> Option<Arc<str>> {
        let event = self.availability_event(hub, operator_id);
        let topic = StatusTopic::OwnConsoles(operator_id.to_owned());
        if self.publish_if_changed(hub, topic, event.clone()) {
            None
        } else {
            Some(event)
        }
    }

    /// Recomputes every watched status and publishes changes.
    async fn round(&self, hub: &Hub, db: &crate::db::Db) {
        self.heartbeat(hub);
        let watched = Bus::new(hub).followed_statuses();
        let mut live: std::collections::HashSet<StatusTopic> = std::collections::HashSet::new();
        for topic in watched {
            live.insert(topic.clone());
            let event = match &topic {
                StatusTopic::Site(site_id) => {
                    let Some((site, members)) = self.site(db, site_id).await else {
                        continue;
                    };
                    Self::status_event(self.site_online(hub, &site, &members))
                }
                StatusTopic::Operator {
                    operator_id,
                    site_id,
                } => {
                    let Some((site, _)) = self.site(db, site_id).await else {
                        continue;
                    };
                    Self::status_event(self.operator_online(hub, &site, operator_id))
                }
                StatusTopic::OwnConsoles(operator_id) => self.availability_event(hub, operator_id),
            };
            let _ = self.publish_if_changed(hub, topic, event);
        }
        Self::lock(&self.published).retain(|t, _| live.contains(t));
    }

    /// The site's member ids, from the watcher's short-lived cache (read on a miss).
    pub async fn members(&self, db: &crate::db::Db, site_id: &str) -> Vec<String> {
        self.site(db, site_id)
            .await
            .map(|(_, members)| members)
            .unwrap_or_default()
    }

    async fn site(&self, db: &crate::db::Db, site_id: &str) -> Option<(Site, Vec<String>)> {
        if let Some((at, site, members)) = Self::lock(&self.sites).get(site_id) {
            if at.elapsed() < SITE_REFRESH {
                return Some((site.clone(), members.clone()));
            }
        }
        let id = site_id.to_owned();
        let found = db
            .run(move |conn| {
                let site = Site::find(conn, &id)?;
                let members = match &site {
                    Some(s) => super::sites::member_ids(conn, &s.id)?,
                    None => Vec::new(),
                };
                Ok(site.map(|s| (s, members)))
            })
            .await
            .ok()
            .flatten()?;
        Self::lock(&self.sites).insert(
            site_id.to_owned(),
            (Instant::now(), found.0.clone(), found.1.clone()),
        );
        Some(found)
    }

    /// Runs the watcher until the task is dropped.
    pub async fn watch(self: std::sync::Arc<Self>, hub: std::sync::Arc<Hub>, db: crate::db::Db) {
        loop {
            self.round(&hub, &db).await;
            tokio::select! {
                _ = self.wake.notified() => {
                    // Let a burst of changes settle into one round.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// Whether someone can answer a panel now: the operator of a `/u/` or `/p/` page, or the site.
pub async fn online_now(
    state: &crate::state::AppState,
    site: &Site,
    operator: Option<&crate::db::models::Operator>,
) -> bool {
    if let Some(op) = operator {
        return state.availability.operator_online(&state.hub, site, &op.id);
    }
    // Every visitor socket asks on connect: the members come from the status watcher's cache.
    let members = state.availability.members(&state.db, &site.id).await;
    state.availability.site_online(&state.hub, site, &members)
}

/// Makes a visitor tab (`conn_id`) follow the status it shows (the site's, or that of the operator
/// with `handle`; an unknown handle falls back to the site's) and answers the current
/// `site_status` event to greet it with.
pub async fn follow_status(
    state: &crate::state::AppState,
    conn_id: u64,
    site: &Site,
    handle: Option<&str>,
) -> Arc<str> {
    let operator = match handle {
        Some(h) => {
            let h = h.to_lowercase();
            super::run(&state.db, move |conn| {
                Ok(crate::db::models::Operator::find_by_handle(conn, &h)?)
            })
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    let online = online_now(state, site, operator.as_ref()).await;
    let topic = match &operator {
        Some(op) => StatusTopic::Operator {
            operator_id: op.id.to_string(),
            site_id: site.id.to_string(),
        },
        None => StatusTopic::Site(site.id.to_string()),
    };
    state.bus().follow_status(conn_id, &topic);
    let event = Availability::status_event(online);
    state.availability.told_first_subscriber(&topic, &event);
    event
}

/// Stores the operator's chosen status and tells all their consoles; the event for the asking
/// console alone when nothing changed for the others.
pub async fn choose(
    state: &crate::state::AppState,
    operator_id: &str,
    chosen: Chosen,
) -> Result<Option<Arc<str>>, super::ServiceError> {
    let id = operator_id.to_owned();
    super::run(&state.db, move |conn| {
        use crate::db::schema::operators;
        use diesel::prelude::*;
        diesel::update(operators::table.find(&id))
            .set(operators::availability.eq(chosen.as_str()))
            .execute(conn)?;
        Ok(())
    })
    .await?;
    state.availability.choose(operator_id, chosen);
    if let Some(link) = &state.cluster {
        link.send(
            Relay::Chose {
                operator_id: operator_id.to_owned(),
                chosen,
            },
            "",
        );
    }
    Ok(state.availability.announce(&state.hub, operator_id))
}

/// A console tab of the operator opened: notes them present with their stored choice, makes the
/// tab follow their own status, and queues the `availability` greeting to it.
pub fn console_opened(
    state: &crate::state::AppState,
    conn_id: u64,
    operator_id: &str,
    stored_choice: &str,
) {
    state
        .availability
        .connected(operator_id, Chosen::parse(stored_choice));
    let bus = state.bus();
    bus.follow_status(conn_id, &StatusTopic::OwnConsoles(operator_id.to_owned()));
    let greeting = state.availability.greeting(&state.hub, operator_id);
    state
        .hub
        .send_to_console(conn_id, crate::realtime::Outgoing::Text(greeting));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(tz: &str, days: &[(&str, &str)]) -> BusinessHours {
        BusinessHours {
            tz: tz.into(),
            days: days
                .iter()
                .map(|(d, s)| ((*d).to_owned(), (*s).to_owned()))
                .collect(),
        }
    }

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn business_hours_follow_the_site_zone() {
        // 2026-11-23 is a Monday. 08:30 UTC is 09:30 in Berlin (CET), 03:30 in New York.
        let berlin = hours("Europe/Berlin", &[("mon", "09:00-12:00, 13:00-17:00")]);
        assert!(berlin.open_at(at("2026-11-23T08:30:00Z")));
        assert!(!berlin.open_at(at("2026-11-23T11:30:00Z")), "lunch");
        assert!(
            !berlin.open_at(at("2026-11-24T08:30:00Z")),
            "Tuesday closed"
        );
        let ny = hours("America/New_York", &[("mon", "09:00-17:00")]);
        assert!(!ny.open_at(at("2026-11-23T08:30:00Z")));
        assert!(ny.open_at(at("2026-11-23T14:30:00Z")));
    }

    #[test]
    fn bad_hours_are_refused() {
        assert!(hours("Mars/Olympus", &[]).validate().is_err());
        assert!(hours("UTC", &[("mon", "17:00-09:00")]).validate().is_err());
        assert!(hours("UTC", &[("someday", "09:00-10:00")])
            .validate()
            .is_err());
        assert!(hours("UTC", &[("mon", "9-5")]).validate().is_err());
        assert!(hours("UTC", &[("sun", "00:00-24:00")]).validate().is_ok());
    }

    #[test]
    fn operators_without_a_console_are_offline_and_inactive_ones_away() {
        let hub = Hub::default();
        let a = Availability::new(Duration::from_millis(50));
        assert_eq!(a.status(&hub, "op"), Status::Offline);
        let (_conn, _inbox) = hub.join_console("op", "s");
        a.connected("op", Chosen::Available);
        assert_eq!(a.status(&hub, "op"), Status::Available);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(a.status(&hub, "op"), Status::Away);
        a.touch("op");
        assert_eq!(a.status(&hub, "op"), Status::Available);
        a.choose("op", Chosen::Away);
        assert_eq!(a.status(&hub, "op"), Status::Away);
        assert!(a.available_operators(&hub).is_empty());
    }
}
