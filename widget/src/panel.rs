//! The chat panel document: one self-contained HTML page (style, script and config inline, nothing
//! loaded from elsewhere) that the backend serves under a strict CSP with a per-response nonce:
//! `default-src 'none'; script-src 'nonce-N'; style-src 'nonce-N'; connect-src 'self'; img-src 'self' data:
//! blob:` (attachments are fetched on the panel's own origin and shown through `blob:` URLs).

use crate::script_safe_json;
use serde::Serialize;

/// The minified panel script (`js/panel/*.js`), an immediately run function.
const PANEL_MIN_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/panel.min.js"));

/// The minified panel style sheet (`js/panel/panel.css`).
const PANEL_MIN_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/panel.min.css"));

/// Short hash of the panel's script and style sheet; it changes whenever either does.
pub const PANEL_VERSION: &str = env!("BECKON_PANEL_VERSION");

/// The accent colour used when the configured one is not `#rgb` or `#rrggbb`.
const DEFAULT_COLOUR: &str = "#2456d6";

/// The favicon of chat pages opened as a page (`/s/SLUG`, `/u/HANDLE`): Beckon's icon, which the
/// backend serves for the console at this path (same workspace version, so the same path).
pub const PANEL_FAVICON_PATH: &str = concat!(
    "/console/assets/favicon-",
    env!("CARGO_PKG_VERSION"),
    ".svg"
);

/// What one chat panel shows and whom it talks to; serialised (as given, except for a normalised
/// `colour` and `position`) into the page for the panel script.
#[derive(Serialize, Clone, Debug)]
pub struct PanelConfig {
    /// The site's public key (`k` of the visitor socket, `site_key` of `POST /api/v1/visitors`).
    pub site_key: String,
    /// Beckon's public base URL, without a trailing slash.
    pub base_url: String,
    /// Inside the loader's iframe, or a full page of its own.
    pub mode: PanelMode,
    /// The operator's handle for `/u/HANDLE` chats, sent with `start_chat`.
    pub handle: Option<String>,
    /// The site's name: page title, header, and `{{site_name}}` in texts.
    pub site_name: String,
    /// The operator's name on `/u/HANDLE` pages: header and `{{operator_name}}` until one is assigned.
    pub operator_name: Option<String>,
    /// Accent colour: `#rgb` or `#rrggbb`, anything else falls back to Beckon's blue.
    pub colour: String,
    /// Side of the launcher and panel in embed mode: `"left"`, or else `"right"`.
    pub position: String,
    /// Live typing preview (off unless the site turned it on): the panel tells the guest that the team
    /// sees what they type, and its `typing` notices carry the first 200 characters typed so far. When
    /// false, nothing typed leaves the browser before it is sent.
    pub typing_preview: bool,
    /// Visitors may start voice and video calls (the site's choice); operators always may.
    pub guest_calls: bool,
    /// On a person's own chat page (`/u/HANDLE`), where that person signs in (a path on Beckon's
    /// origin); `None` elsewhere.
    pub sign_in_url: Option<String>,
    /// Whether someone can answer now (the site, or on `/u/HANDLE` and `/p/PHONE` that operator). When
    /// false the panel opens on leave-a-message; `site_status` events on the visitor socket update it.
    pub online: bool,
    /// Texts the site owner may change.
    pub texts: PanelTexts,
}

/// Where the panel runs.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PanelMode {
    /// In the iframe the loader creates on the host page (`/chat/SITE_KEY?embed=1`).
    Embed,
    /// A full page on Beckon's origin (`/s/SLUG`, `/u/HANDLE`).
    Page,
}

/// Owner-editable texts. Templates may contain `{{site_name}}` and `{{operator_name}}`, replaced as plain
/// text (never markup); `None` uses the built-in text in the visitor's language.
#[derive(Serialize, Clone, Debug, Default)]
pub struct PanelTexts {
    /// Shown at the top of the conversation.
    pub greeting: Option<String>,
    /// Shown instead of the greeting while the site is offline.
    pub offline: Option<String>,
}

/// The complete chat panel document for `cfg`, with `nonce` on its inline `<style>` and `<script>`.
///
/// The config sits in a `<script type="application/json" id="beckon-config">` data block with `<`,
/// U+2028 and U+2029 escaped, so no value can end the element; the title is HTML-escaped. The backend
/// serves it as `text/html` with the CSP in this module's documentation, and a fresh nonce each time.
pub fn panel_page(cfg: &PanelConfig, nonce: &str) -> String {
    let colour = accent_colour(&cfg.colour);
    let config = PanelConfig {
        colour: colour.to_owned(),
        position: if cfg.position == "left" {
            "left"
        } else {
            "right"
        }
        .to_owned(),
        ..cfg.clone()
    };
    let json = serde_json::to_string(&config).expect("a PanelConfig always serialises");
    let nonce = escape_html(nonce);
    let mode = match cfg.mode {
        PanelMode::Embed => "embed",
        PanelMode::Page => "page",
    };
    format!(
        "<!doctype html>\n<html lang=\"en\" class=\"{mode}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1,viewport-fit=cover\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><link rel=\"icon\" type=\"image/svg+xml\" href=\"{PANEL_FAVICON_PATH}\">\
         <style nonce=\"{nonce}\">:root{{--accent:{colour};--on-accent:{on_accent}}}{PANEL_MIN_CSS}</style>\
         </head><body>\
         <noscript>This chat needs JavaScript.</noscript>\
         <script type=\"application/json\" id=\"beckon-config\">{config}</script>\
         <script nonce=\"{nonce}\">{PANEL_MIN_JS}</script>\
         </body></html>\n",
        title = escape_html(&cfg.site_name),
        on_accent = text_colour_on(colour),
        config = script_safe_json(&json),
    )
}

/// The minified panel script, as embedded by [`panel_page`].
pub fn panel_min_js() -> &'static str {
    PANEL_MIN_JS
}

/// The minified panel style sheet, as embedded by [`panel_page`] (after the accent colour variables).
pub fn panel_min_css() -> &'static str {
    PANEL_MIN_CSS
}

/// `colour` when it is `#rgb` or `#rrggbb` (safe to put into CSS as it is), else [`DEFAULT_COLOUR`].
fn accent_colour(colour: &str) -> &str {
    if is_hex_colour(colour) {
        colour
    } else {
        DEFAULT_COLOUR
    }
}

/// Whether `colour` is `#rgb` or `#rrggbb`, the only colours that go into a style sheet as they are.
pub(crate) fn is_hex_colour(colour: &str) -> bool {
    colour
        .strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// White or near-black, whichever contrasts more with `colour` (a valid `#rgb`/`#rrggbb`), so an owner's
/// light accent still gets readable button text.
fn text_colour_on(colour: &str) -> &'static str {
    let hex = &colour[1..];
    let channel = |i: usize| -> f64 {
        let value = if hex.len() == 3 {
            u8::from_str_radix(&hex[i..=i], 16).map(|v| v * 17)
        } else {
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
        }
        .unwrap_or(0);
        let c = f64::from(value) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
    // WCAG contrast ratios against white (luminance 1) and #111827 (about 0.012).
    let with_white = 1.05 / (luminance + 0.05);
    let with_dark = (luminance + 0.05) / 0.062;
    if with_white >= with_dark {
        "#fff"
    } else {
        "#111827"
    }
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_colours_reach_the_style_sheet() {
        assert_eq!(accent_colour("#abc"), "#abc");
        assert_eq!(accent_colour("#A1b2C3"), "#A1b2C3");
        for bad in [
            "",
            "#",
            "#ab",
            "#abcd",
            "#abcdefg",
            "red",
            "#12345g",
            "#fff;}body{x:y",
            "abc",
        ] {
            assert_eq!(accent_colour(bad), DEFAULT_COLOUR, "{bad:?}");
        }
    }

    #[test]
    fn accent_text_contrasts_with_the_accent() {
        assert_eq!(text_colour_on("#2456d6"), "#fff");
        assert_eq!(text_colour_on("#000"), "#fff");
        assert_eq!(text_colour_on("#ffeb3b"), "#111827");
        assert_eq!(text_colour_on("#fff"), "#111827");
    }
}
