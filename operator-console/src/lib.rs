//! Beckon's operator console views: pure functions from plain view models to `maud::Markup`.
//!
//! Nothing here touches the database or actix; the backend builds the view models, calls a page
//! function and sends the markup with its security headers. maud escapes every interpolated string,
//! so visitor- and operator-supplied text can never become markup.

pub mod canned;
pub mod chats;
pub mod deliveries;
pub mod history;
pub mod layout;
pub mod offline;
pub mod origins;
pub mod pages;
pub mod settings;
pub mod visitors;
pub mod webhooks;

/// The console's stylesheet, served by the backend at [`CONSOLE_CSS_PATH`].
pub const CONSOLE_CSS: &str = include_str!("../assets/console.css");

/// Where the backend serves [`CONSOLE_CSS`]. The version in the path busts caches on upgrade.
pub const CONSOLE_CSS_PATH: &str = concat!(
    "/console/assets/console-",
    env!("CARGO_PKG_VERSION"),
    ".css"
);

/// The console's script: the console socket and the live visitor list.
pub const CONSOLE_JS: &str = include_str!("../assets/console.js");

/// Where the backend serves [`CONSOLE_JS`].
pub const CONSOLE_JS_PATH: &str =
    concat!("/console/assets/console-", env!("CARGO_PKG_VERSION"), ".js");

/// The chat workspace's script: conversations, messages and the composer over the console socket.
pub const CHAT_JS: &str = include_str!("../assets/chat.js");

/// Where the backend serves [`CHAT_JS`] (same CSP as the other console pages).
pub const CHAT_JS_PATH: &str = concat!("/console/assets/chat-", env!("CARGO_PKG_VERSION"), ".js");

/// The HTML `pattern` of an operator handle (`domain::Handle`). Browsers compile `pattern` with the
/// regular expression `v` flag, where a bare `-` inside a class is a syntax error (the whole
/// attribute is then ignored and the console logs an error), so the dash is escaped.
pub const HANDLE_PATTERN: &str = r"[a-zA-Z0-9][a-zA-Z0-9_\-]{1,31}";

/// Beckon's icon (a speech bubble), linked from every console page as the favicon.
pub const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// Where the backend serves [`FAVICON_SVG`], cached for a year (the version in the path changes it).
pub const FAVICON_PATH: &str = concat!(
    "/console/assets/favicon-",
    env!("CARGO_PKG_VERSION"),
    ".svg"
);
