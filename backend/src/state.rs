//! The one application state handed to every handler.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::limits::{ChatLimits, RedisLimits, SharedLimit};
use crate::realtime::{Hub, LiveVisitors};
use crate::services::auth::SessionPolicy;
use crate::services::pageviews::PageViewQueue;
use crate::services::sites::SiteCache;
use crate::services::visitors::GuestDirectory;

/// Shared state: settings, storage, limits, and the realtime registries.
#[derive(Clone)]
pub struct AppState {
    /// Resolved settings.
    pub settings: Arc<Settings>,
    /// The database pool.
    pub db: Db,
    /// Login attempts per client address (across nodes in cluster mode).
    pub login_limit: Arc<SharedLimit>,
    /// New guest ids per client address (across nodes in cluster mode).
    pub guest_limit: Arc<SharedLimit>,
    /// Offline messages per client address (across nodes in cluster mode).
    pub offline_limit: Arc<SharedLimit>,
    /// Cluster mode: the Redis connection the shared limits count in (attached once Redis answers).
    pub shared_limits: Option<Arc<RedisLimits>>,
    /// Open visitor sockets per guest and per client address.
    pub socket_caps: Arc<crate::realtime::caps::SocketCaps>,
    /// The chat's flood limits (messages, uploads, typing, invitation answers).
    pub chat_limits: Arc<ChatLimits>,
    /// Socket registry.
    pub hub: Arc<Hub>,
    /// Live visitor lists and console watches.
    pub live: Arc<LiveVisitors>,
    /// Live guests by token.
    pub guests: Arc<GuestDirectory>,
    /// Sites by public key.
    pub sites: Arc<SiteCache>,
    /// Page-view write-behind buffer.
    pub pageviews: PageViewQueue,
    /// Operators' availability and the status watcher.
    pub availability: Arc<crate::services::availability::Availability>,
    /// Email, SMS and webhook delivery.
    pub outbound: Arc<crate::outbound::worker::Outbound>,
    /// Throttle of the writes recording refused widget origins.
    pub refused_origins: Arc<crate::services::refused_origins::RefusalThrottle>,
    /// Cluster mode: the link to the other nodes (`None` on a single node).
    pub cluster: Option<Arc<crate::realtime::cluster::ClusterLink>>,
}

impl AppState {
    /// The typed publishing interface over this node's hub and, in cluster mode, the others.
    pub fn bus(&self) -> crate::realtime::Bus<'_> {
        crate::realtime::Bus::clustered(&self.hub, self.cluster.as_deref())
    }

    /// Session lifetimes from the settings.
    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            idle: self.settings.session_idle,
            absolute: self.settings.session_max,
        }
    }
}
