//! Checks on the chat panel document: size budget, safe embedding of hostile config, no markup sinks or
//! external resources, and — when Node is installed — that the script parses and follows docs/protocol.md
//! in a fake browser (tests/js/panel_scenarios.js).

mod common;
use common::{assert_node_succeeded, node};

use beckon_widget::{
    panel_min_css, panel_min_js, panel_page, PanelConfig, PanelMode, PanelTexts, PANEL_VERSION,
};
use flate2::{write::GzEncoder, Compression};
use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// DESIGN.md "Widget": the chat panel may weigh at most 25 KB gzipped.
const GZIP_BUDGET_BYTES: usize = 25 * 1024;

const HOSTILE: &str = "</script><script>alert(1)</script><!--\u{2028}\u{2029}\"'&\\";

fn gzipped_len(text: &str) -> usize {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(text.as_bytes()).expect("gzip");
    encoder.finish().expect("gzip").len()
}

fn config(mode: PanelMode) -> PanelConfig {
    PanelConfig {
        site_key: "site_KEY".into(),
        base_url: "https://chat.example".into(),
        mode,
        handle: None,
        site_name: "Shop".into(),
        operator_name: None,
        colour: "#2456d6".into(),
        position: "right".into(),
        typing_preview: false,
        guest_calls: false,
        sign_in_url: None,
        online: true,
        texts: PanelTexts::default(),
    }
}

/// The text of the element that starts with `open` (up to the next `</script>`), as the browser sees it.
fn element_text<'a>(page: &'a str, open: &str) -> &'a str {
    let start = page.find(open).unwrap_or_else(|| panic!("{open} in page")) + open.len();
    let end = page[start..].find("</script>").expect("element closed") + start;
    &page[start..end]
}

/// The config as the panel script will parse it.
fn embedded_config(page: &str) -> serde_json::Value {
    let json = element_text(
        page,
        "<script type=\"application/json\" id=\"beckon-config\">",
    );
    serde_json::from_str(json).expect("config is JSON")
}

fn panel_sources() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("js")
        .join("panel");
    let mut sources: Vec<_> = std::fs::read_dir(&dir)
        .expect("js/panel exists")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "js" || ext == "css")
        })
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read source");
            (path, text)
        })
        .collect();
    sources.sort();
    sources
}

#[test]
fn gzipped_panel_fits_the_25_kb_budget() {
    let assets = format!("{}{}", panel_min_js(), panel_min_css());
    let size = gzipped_len(&assets);
    let page = panel_page(&config(PanelMode::Embed), "n0nce");
    println!(
        "panel: script {} bytes, style {} bytes minified; {size} bytes gzipped (budget {GZIP_BUDGET_BYTES}); \
         whole document {} bytes gzipped",
        panel_min_js().len(),
        panel_min_css().len(),
        gzipped_len(&page)
    );
    assert!(
        size <= GZIP_BUDGET_BYTES,
        "panel is {size} bytes gzipped, over {GZIP_BUDGET_BYTES}"
    );
    assert!(gzipped_len(&page) <= GZIP_BUDGET_BYTES + 1024);
}

#[test]
fn panel_page_is_a_complete_document_with_nonced_style_and_script() {
    let page = panel_page(&config(PanelMode::Page), "abc123");
    assert!(
        page.starts_with("<!doctype html>\n<html lang=\"en\" class=\"page\">"),
        "{}",
        &page[..80]
    );
    assert!(page.contains("<meta charset=\"utf-8\">"));
    assert!(page.contains("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1"));
    assert!(page.contains("<title>Shop</title>"));
    assert!(page.contains(&format!(
        "<style nonce=\"abc123\">:root{{--accent:#2456d6;--on-accent:#fff}}{}</style>",
        panel_min_css()
    )));
    assert!(page.contains(&format!(
        "<script nonce=\"abc123\">{}</script>",
        panel_min_js()
    )));
    assert!(page.trim_end().ends_with("</body></html>"));
    assert_eq!(
        embedded_config(&page),
        serde_json::json!({
            "site_key": "site_KEY", "base_url": "https://chat.example", "mode": "page", "handle": null,
            "site_name": "Shop", "operator_name": null, "colour": "#2456d6", "position": "right",
            "typing_preview": false, "guest_calls": false, "sign_in_url": null, "online": true,
            "texts": { "greeting": null, "offline": null }
        })
    );
    assert!(panel_page(&config(PanelMode::Embed), "n").contains("class=\"embed\""));
}

#[test]
fn hostile_config_values_stay_data() {
    let cfg = PanelConfig {
        site_key: HOSTILE.into(),
        base_url: format!("https://x.example/{HOSTILE}"),
        mode: PanelMode::Page,
        handle: Some(HOSTILE.into()),
        site_name: HOSTILE.into(),
        operator_name: Some(HOSTILE.into()),
        colour: "#fff;}</style><script>alert(1)</script>".into(),
        position: HOSTILE.into(),
        typing_preview: true,
        guest_calls: false,
        sign_in_url: Some("/login?next=/console/chats".into()),
        online: false,
        texts: PanelTexts {
            greeting: Some(format!("{HOSTILE} {{{{site_name}}}}")),
            offline: Some(HOSTILE.into()),
        },
    };
    let page = panel_page(&cfg, "n\"><script>alert(2)</script>");
    let lower = page.to_lowercase();
    // Exactly our three elements: the data block, the script, and nothing injected.
    assert_eq!(lower.matches("<script").count(), 2, "{page}");
    assert_eq!(lower.matches("</script").count(), 2, "{page}");
    assert_eq!(lower.matches("<style").count(), 1);
    assert_eq!(lower.matches("</style").count(), 1);
    assert!(!lower.contains("<!--"));
    let raw_config = element_text(
        &page,
        "<script type=\"application/json\" id=\"beckon-config\">",
    );
    assert!(!raw_config.contains('\u{2028}') && !raw_config.contains('\u{2029}'));
    assert!(page.contains("<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--"));
    assert!(page.contains("nonce=\"n&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;\""));
    // The bad colour never reaches the style sheet; the position is normalised.
    assert!(page.contains(":root{--accent:#2456d6;"));
    let config = embedded_config(&page);
    assert_eq!(config["colour"], "#2456d6");
    assert_eq!(config["position"], "right");
    // Everything else arrives exactly as given.
    assert_eq!(config["site_name"], HOSTILE);
    assert_eq!(config["site_key"], HOSTILE);
    assert_eq!(config["handle"], HOSTILE);
    assert_eq!(config["operator_name"], HOSTILE);
    assert_eq!(
        config["texts"]["greeting"],
        format!("{HOSTILE} {{{{site_name}}}}")
    );
    assert_eq!(config["texts"]["offline"], HOSTILE);
    assert_eq!(config["typing_preview"], true);
    assert_eq!(config["online"], false);
}

#[test]
fn valid_colours_and_left_position_are_kept() {
    let mut cfg = config(PanelMode::Embed);
    cfg.colour = "#fe0".into();
    cfg.position = "left".into();
    let page = panel_page(&cfg, "n");
    assert!(page.contains(":root{--accent:#fe0;--on-accent:#111827}"));
    assert_eq!(embedded_config(&page)["position"], "left");
}

#[test]
fn panel_never_inserts_markup_evaluates_strings_or_loads_resources() {
    const SINKS: [&str; 9] = [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "D.write",
        "eval",
        "new Function",
        "import(",
        "@import",
    ];
    let sources = panel_sources();
    assert!(sources.len() >= 9, "panel sources found: {}", sources.len());
    for (path, text) in &sources {
        for sink in SINKS {
            assert!(!text.contains(sink), "{} uses {sink}", path.display());
        }
    }
    let js = panel_min_js();
    let css = panel_min_css();
    for sink in SINKS {
        assert!(!js.contains(sink), "minified panel uses {sink}");
    }
    // No timers from strings, no inline handlers, nothing from another host.
    assert!(!js.contains("setTimeout(\""));
    assert!(!js.contains("setAttribute(\"on"));
    // The SVG namespace of the inline icons is a name, not a resource: the only URL allowed.
    let js = js.replace("\"http://www.w3.org/2000/svg\"", "");
    assert!(!js.contains("http:") && !js.contains("https:\"+") && !js.contains("//cdn"));
    assert!(!css.contains("url(") && !css.contains("@font-face"));
    let lower = format!("{js}{css}").to_lowercase();
    assert!(!lower.contains("</script") && !lower.contains("</style") && !lower.contains("<!--"));
}

#[test]
fn panel_version_is_a_short_hash() {
    assert_eq!(PANEL_VERSION.len(), 12);
    assert!(PANEL_VERSION.bytes().all(|b| b.is_ascii_hexdigit()));
}

fn scenario(name: &str, cfg: &PanelConfig) {
    if let Some(output) = node(&["panel_scenarios.js", name], &panel_page(cfg, "n0nce")) {
        assert_node_succeeded(output);
    }
}

#[test]
fn panel_script_parses_in_node() {
    if let Some(output) = node(&["--check", "-"], panel_min_js()) {
        assert_node_succeeded(output);
    }
}

#[test]
fn page_chat_starts_a_conversation_sends_acks_receipts_typing_and_ends() {
    let mut cfg = config(PanelMode::Page);
    cfg.handle = Some("ann".into());
    cfg.operator_name = Some("Ann Example".into());
    scenario("page", &cfg);
}

#[test]
fn reload_resumes_after_the_stored_seq_and_resends_unacked_messages_with_their_ids() {
    scenario("resume", &config(PanelMode::Page));
}

#[test]
fn embedded_panel_takes_the_loaders_guest_and_reports_unread_close_and_expiry() {
    scenario("embed", &config(PanelMode::Embed));
}

#[test]
fn embedded_panel_without_a_loader_gets_its_own_guest_after_3_s() {
    scenario("alone", &config(PanelMode::Embed));
}

#[test]
fn german_visitors_get_german_texts_and_owner_templates_as_plain_text() {
    let mut cfg = config(PanelMode::Page);
    cfg.site_name = HOSTILE.into();
    cfg.texts.greeting = Some("Willkommen bei {{site_name}}, {{operator_name}}!".into());
    scenario("german", &cfg);
}

#[test]
fn server_errors_fail_retry_or_end_messages() {
    scenario("failures", &config(PanelMode::Page));
}

#[test]
fn attachments_upload_with_the_guest_headers_dedupe_fail_and_download_as_text_safe_controls() {
    scenario("attachments", &config(PanelMode::Page));
}

#[test]
fn offline_panel_leaves_a_message_as_multipart_and_takes_up_the_new_conversation() {
    let mut cfg = config(PanelMode::Page);
    cfg.handle = Some("ann".into());
    cfg.online = false;
    scenario("offline", &cfg);
}

#[test]
fn switching_offline_and_back_carries_typed_and_unsent_text_between_composer_and_form() {
    scenario("carryover", &config(PanelMode::Page));
}

#[test]
fn a_later_visit_resumes_the_left_message_and_shows_the_reply() {
    let mut cfg = config(PanelMode::Page);
    cfg.online = false;
    scenario("offlineResume", &cfg);
}

#[test]
fn typing_preview_is_sent_only_when_the_site_enabled_it_and_the_guest_is_told() {
    let mut cfg = config(PanelMode::Page);
    cfg.typing_preview = true;
    scenario("preview", &cfg);
}

#[test]
fn a_ringing_call_loads_the_call_module_with_the_nonce_and_call_errors_leave_the_chat_alone() {
    scenario("calls", &config(PanelMode::Embed));
}

#[test]
fn guests_get_no_call_buttons_unless_the_site_lets_them_call() {
    scenario("noGuestCalls", &config(PanelMode::Page));
}
