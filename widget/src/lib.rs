//! Beckon's visitor-side JavaScript, minified at build time and served by the backend from memory.
//!
//! - The **loader** is what a site owner embeds with `<script async src="https://HOST/w/SITE_KEY.js">`: it
//!   obtains a guest, reports page views (single-page-app navigation too), keeps the presence socket open,
//!   shows the launcher button and operators' invitations, and opens the chat panel in an iframe.
//! - The **chat panel** ([`panel_page`]) is a complete HTML document on Beckon's origin: inside that iframe
//!   (`/chat/SITE_KEY?embed=1`), or full-page at `/s/SLUG` and `/u/HANDLE`.
//!
//! Sources live in `js/loader/` and `js/panel/`, one file per concern; `build.rs` joins and minifies them,
//! so building Beckon needs no Node.

mod panel;

pub use panel::{
    panel_min_css, panel_min_js, panel_page, PanelConfig, PanelMode, PanelTexts, PANEL_VERSION,
};

/// The minified loader: a function expression `(function(c){...})` that expects the site's config object.
const LOADER_MIN_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/loader.min.js"));

/// Short hash of the minified loader, for cache busting and `ETag`s; it changes whenever the script does.
pub const LOADER_VERSION: &str = env!("BECKON_LOADER_VERSION");

/// The script to serve at `GET /w/{site_key}.js`: the loader called with `{"k": site_key, "h": base_url}`.
///
/// `base_url` is Beckon's public base URL (e.g. `https://chat.example.com`); a trailing slash is dropped.
/// The config is JSON with `<`, U+2028 and U+2029 escaped, so no value can close a surrounding `<script>`
/// element or break the statement.
pub fn loader_script(site_key: &str, base_url: &str) -> String {
    let config = serde_json::json!({ "k": site_key, "h": base_url.trim_end_matches('/') });
    format!(
        "{LOADER_MIN_JS}({});\n",
        script_safe_json(&config.to_string())
    )
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
