//! Who can answer now. An operator is *available*, *away* or *offline*: offline without a console
//! socket; away when they chose so or did nothing in the console for `away_after`; available
//! otherwise. A site is online when one of its operators is available and, if the site set business
//! hours, the time in the site's zone is within them; an owner can force it either way.
//!
//! Open widgets, chat pages and consoles follow through `status:` topics on the hub: a watcher
//! recomputes the watched statuses twice a second and publishes only changes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveTime, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

use crate::db::models::Site;
use crate::realtime::{EventBus as _, Hub};

/// What an operator chose in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chosen {
    /// Ready to chat.
    Available,
    /// Not taking chats.
    Away,
}

impl Chosen {
    /// The stored value (`operators.availability`); anything but `away` means available.
    pub fn parse(stored: &str) -> Chosen {
        if stored == "away" {
            Chosen::Away
        } else {
            Chosen::Available
        }
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Chosen::Available => "available",
            Chosen::Away => "away",
        }
    }
}

/// An operator's effective status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Will get chats.
    Available,
    /// Console open, not taking chats (chose so, or inactive).
    Away,
    /// No console open.
    Offline,
}

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

/// Operators' choices and activity on this node, plus the statuses last published.
pub struct Availability {
    away_after: Duration,
    presence: Mutex<HashMap<String, Presence>>,
    published: Mutex<HashMap<String, String>>,
    /// Sites (with their members) the watcher needs, refreshed every few seconds.
    sites: Mutex<HashMap<String, CachedSite>>,
    wake: tokio::sync::Notify,
}

/// Topic of a site's status (`site_status` events for widgets and chat pages).
pub fn site_topic(site_id: &str) -> String {
    format!("status:site:{site_id}")
}

/// Topic of one operator's own consoles (`availability` events).
pub fn console_topic(operator_id: &str) -> String {
    format!("status:me:{operator_id}")
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
        }
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

    /// The operator's effective status.
    pub fn status(&self, hub: &Hub, operator_id: &str) -> Status {
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
        hub.online_operators()
            .into_iter()
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
    pub fn status_event(online: bool) -> String {
        serde_json::json!({"type": "site_status", "online": online}).to_string()
    }

    /// The `availability` event for an operator's consoles.
    pub fn availability_event(&self, hub: &Hub, operator_id: &str) -> String {
        serde_json::json!({
            "type": "availability",
            "status": self.status(hub, operator_id),
            "chosen": self.chosen(operator_id),
        })
        .to_string()
    }

    /// Publishes `event` on `topic` if it differs from what was published there last; answers
    /// whether it did.
    fn publish_if_changed(&self, hub: &Hub, topic: String, event: String) -> bool {
        let mut published = Self::lock(&self.published);
        if published.get(&topic) == Some(&event) {
            return false;
        }
        hub.publish(&topic, event.clone().into());
        published.insert(topic, event);
        true
    }

    /// Notes `event` as published on a status topic that nothing was published on yet: its first
    /// subscriber was just told it, and the watcher's next round would otherwise say it again.
    /// (A topic with an earlier, different status keeps it, so the watcher still tells the
    /// others of the change.)
    pub fn told_first_subscriber(&self, topic: &str, event: &str) {
        Self::lock(&self.published)
            .entry(topic.to_owned())
            .or_insert_with(|| event.to_owned());
    }

    /// The operator's `availability` event for a console that just connected (sent to it alone),
    /// noted as published so the watcher does not repeat it.
    pub fn greeting(&self, hub: &Hub, operator_id: &str) -> String {
        let event = self.availability_event(hub, operator_id);
        Self::lock(&self.published).insert(console_topic(operator_id), event.clone());
        event
    }

    /// Tells all the operator's consoles their status if it changed; otherwise answers the event
    /// for the asking console alone.
    pub fn announce(&self, hub: &Hub, operator_id: &str) -> Option<String> {
        let event = self.availability_event(hub, operator_id);
        if self.publish_if_changed(hub, console_topic(operator_id), event.clone()) {
            None
        } else {
            Some(event)
        }
    }

    /// Recomputes every watched status and publishes changes.
    async fn round(&self, hub: &Hub, db: &crate::db::Db) {
        let watched = hub.topics_with_prefix("status:");
        let mut live: std::collections::HashSet<String> = std::collections::HashSet::new();
        for topic in watched {
            live.insert(topic.clone());
            if let Some(site_id) = topic.strip_prefix("status:site:") {
                let Some((site, members)) = self.site(db, site_id).await else {
                    continue;
                };
                let online = self.site_online(hub, &site, &members);
                let _ = self.publish_if_changed(hub, topic, Self::status_event(online));
            } else if let Some(op) = topic.strip_prefix("status:op:") {
                let (op, site_id) = op.split_once(':').unwrap_or((op, ""));
                let Some((site, _)) = self.site(db, site_id).await else {
                    continue;
                };
                let online = self.operator_online(hub, &site, op);
                let _ = self.publish_if_changed(hub, topic.clone(), Self::status_event(online));
            } else if let Some(op) = topic.strip_prefix("status:me:") {
                let event = self.availability_event(hub, op);
                let _ = self.publish_if_changed(hub, topic.clone(), event);
            }
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

/// Topic of one operator's status as guests of `site_id` see it (`/u/HANDLE`, `/p/PHONE`).
pub fn operator_site_topic(operator_id: &str, site_id: &str) -> String {
    format!("status:op:{operator_id}:{site_id}")
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
