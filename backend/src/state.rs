//! The one application state handed to every handler.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::limits::KeyedLimit;
use crate::services::auth::SessionPolicy;

/// Shared state: settings, storage, limits.
#[derive(Clone)]
pub struct AppState {
    /// Resolved settings.
    pub settings: Arc<Settings>,
    /// The database pool.
    pub db: Db,
    /// Login attempts per client address.
    pub login_limit: Arc<KeyedLimit>,
}

impl AppState {
    /// Session lifetimes from the settings.
    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            idle: self.settings.session_idle,
            absolute: self.settings.session_max,
        }
    }
}
