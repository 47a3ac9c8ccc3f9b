//! The site settings that shape the chat panel and the chat flow, read from `sites.settings`.
//! (Moved here from the chat pages so routes and sockets share it without importing a route
//! module; the typed `SiteSettings` on the `Site` model takes it over.)

use crate::db::models::Site;

/// Site settings that shape the panel (`sites.settings` JSON).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct WidgetSettings {
    /// Accent colour.
    pub colour: Option<String>,
    /// `left` or `right`.
    pub position: Option<String>,
    /// Greeting template.
    pub greeting: Option<String>,
    /// Offline text template.
    pub offline: Option<String>,
    /// Give new chats to the least busy available operator.
    pub auto_assign: bool,
    /// Operators see what the guest types before it is sent (the guest is told in the panel).
    pub typing_preview: bool,
}

impl WidgetSettings {
    /// The settings of a site (defaults when unreadable).
    pub fn of(site: &Site) -> WidgetSettings {
        serde_json::from_str(&site.settings).unwrap_or_default()
    }
}
