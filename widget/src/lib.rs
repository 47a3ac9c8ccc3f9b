//! Beckon's visitor-side JavaScript, minified at build time and served by the backend from memory.
//!
//! - The **loader** is what a site owner embeds with `<script async src="https://HOST/w/SITE_KEY.js">`: it
//!   obtains a guest, reports page views (single-page-app navigation too), keeps the presence socket open,
//!   passes on the host page's signed `Beckon.identify({id, name, email, ts, signature})` (`POST
//!   /api/v1/identify`, for every guest it holds), shows the launcher button (in the site's colour and
//!   corner) and operators' invitations, and opens the chat panel in an iframe.
//! - The **chat panel** ([`panel_page`]) is a complete HTML document on Beckon's origin: inside that iframe
//!   (`/chat/SITE_KEY?embed=1`), or full-page at `/s/SLUG` and `/u/HANDLE`.
//! - The **call module** ([`call_min_js`], served at [`CALL_JS_PATH`]): voice, video and screen calls
//!   over WebRTC, loaded by the panel only when a call starts or rings, and by the console's Chats page.
//!
//! Sources live in `js/loader/`, `js/panel/` and `js/call/`, one file per concern; `build.rs` joins and
//! minifies them, so building Beckon needs no Node.

mod call;
mod panel;

pub use call::{call_min_js, CALL_JS_PATH, CALL_VERSION};

pub use panel::PANEL_FAVICON_PATH;
pub use panel::{
    panel_min_css, panel_min_js, panel_page, PanelConfig, PanelMode, PanelTexts, PANEL_VERSION,
};

/// The minified loader: a function expression `(function(c){...})` that expects the site's config object.
const LOADER_MIN_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/loader.min.js"));

/// Short hash of the minified loader, for cache busting and `ETag`s; it changes whenever the script does.
pub const LOADER_VERSION: &str = env!("BECKON_LOADER_VERSION");

/// What the loader served for one site is told: see [`loader_script_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoaderOptions<'a> {
    /// The site's public key.
    pub site_key: &'a str,
    /// Beckon's public base URL (e.g. `https://chat.example.com`); a trailing slash is dropped.
    pub base_url: &'a str,
    /// Accent colour of the launcher and the invitation's accept button: `#rgb` or `#rrggbb`; anything
    /// else is left out (the loader's own blue).
    pub colour: Option<&'a str>,
    /// `"left"` puts the launcher, the invitation and the panel in the bottom-left corner; anything else
    /// is left out (bottom-right).
    pub position: Option<&'a str>,
}

/// The script to serve at `GET /w/{site_key}.js`: the loader called with its config object
/// `{"k": site_key, "h": base_url, "c": colour, "p": "left"}` (`c` and `p` only when given and valid).
///
/// The config is JSON with `<`, U+2028 and U+2029 escaped, so no value can close a surrounding `<script>`
/// element or break the statement; the colour goes into the launcher's style sheet, which is why only
/// hex colours pass.
pub fn loader_script_with(options: &LoaderOptions<'_>) -> String {
    let mut config = serde_json::Map::new();
    config.insert("k".into(), options.site_key.into());
    config.insert("h".into(), options.base_url.trim_end_matches('/').into());
    if let Some(colour) = options.colour.filter(|c| panel::is_hex_colour(c)) {
        config.insert("c".into(), colour.into());
    }
    if options.position == Some("left") {
        config.insert("p".into(), "left".into());
    }
    let config = serde_json::Value::Object(config);
    format!(
        "{LOADER_MIN_JS}({});\n",
        script_safe_json(&config.to_string())
    )
}

/// [`loader_script_with`] for a site without a colour or position of its own.
pub fn loader_script(site_key: &str, base_url: &str) -> String {
    loader_script_with(&LoaderOptions {
        site_key,
        base_url,
        ..LoaderOptions::default()
    })
}

/// The minified loader function alone, without the config call (see [`loader_script`]).
pub fn loader_min_js() -> &'static str {
    LOADER_MIN_JS
}

/// Escapes, inside JSON text, the characters that matter when the JSON sits in a script: `<` (so no
/// `</script>` or `<!--`), and U+2028/U+2029 (line terminators to older JavaScript engines).
fn script_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for ch in json.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(ch),
        }
    }
    out
}
