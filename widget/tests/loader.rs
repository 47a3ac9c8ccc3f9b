//! Checks on the built loader: size budget, safe config embedding, no markup sinks, and — when Node is
//! installed — that the minified script parses and behaves as docs/protocol.md says in a fake browser.

mod common;
use common::{assert_node_succeeded, node};

use beckon_widget::{
    loader_min_js, loader_script, loader_script_with, LoaderOptions, LOADER_VERSION,
};
use flate2::{write::GzEncoder, Compression};
use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// DESIGN.md "Widget": the loader may weigh at most 3 KB gzipped.
const GZIP_BUDGET_BYTES: usize = 3072;

const BASE_URL: &str = "http://127.0.0.1:8080";

fn gzipped_len(text: &str) -> usize {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(text.as_bytes()).expect("gzip");
    encoder.finish().expect("gzip").len()
}

fn loader_sources() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("js")
        .join("loader");
    let mut sources: Vec<_> = std::fs::read_dir(&dir)
        .expect("js/loader exists")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "js"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read source");
            (path, text)
        })
        .collect();
    sources.sort();
    sources
}

/// The config object that `loader_script` appended, parsed back.
fn embedded_config(script: &str) -> serde_json::Value {
    let call = script
        .strip_prefix(loader_min_js())
        .expect("script starts with the loader function");
    let json = call
        .trim_end()
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(");"))
        .expect("loader is called with one argument");
    serde_json::from_str(json).expect("config is JSON")
}

#[test]
fn gzipped_loader_fits_the_3_kb_budget() {
    let size = gzipped_len(loader_min_js());
    println!(
        "loader: {} bytes minified, {size} bytes gzipped (budget {GZIP_BUDGET_BYTES})",
        loader_min_js().len()
    );
    assert!(
        size <= GZIP_BUDGET_BYTES,
        "loader is {size} bytes gzipped, over {GZIP_BUDGET_BYTES}"
    );
}

#[test]
fn loader_is_one_function_expression_awaiting_its_config() {
    let loader = loader_min_js();
    assert!(
        loader.starts_with("(function(c){\"use strict\";"),
        "{}",
        &loader[..40]
    );
    assert!(loader.ends_with("})"));
    assert!(!loader.contains("\n//"), "comments are stripped");
}

#[test]
fn loader_script_embeds_site_key_and_base_url_without_trailing_slash() {
    let script = loader_script("site_abc", "https://chat.example.com/");
    assert_eq!(
        embedded_config(&script),
        serde_json::json!({ "k": "site_abc", "h": "https://chat.example.com" })
    );
}

#[test]
fn hostile_config_values_cannot_break_out_of_a_script_element() {
    let hostile = "</script><script>alert(1)</script><!--\u{2028}\u{2029}\"'\\";
    let script = loader_script(hostile, &format!("https://x.example/{hostile}"));
    let lower = script.to_lowercase();
    assert!(!lower.contains("</script"), "{script}");
    assert!(!lower.contains("<!--"));
    assert!(!script.contains('\u{2028}') && !script.contains('\u{2029}'));
    // The escaping loses nothing: the loader sees exactly the values given.
    assert_eq!(
        embedded_config(&script),
        serde_json::json!({ "k": hostile, "h": format!("https://x.example/{hostile}") })
    );
}

fn options<'a>(colour: Option<&'a str>, position: Option<&'a str>) -> LoaderOptions<'a> {
    LoaderOptions {
        site_key: "site_abc",
        base_url: "https://chat.example.com/",
        colour,
        position,
    }
}

#[test]
fn loader_script_with_passes_a_hex_colour_and_the_left_side() {
    for colour in ["#0a0", "#A1b2C3"] {
        assert_eq!(
            embedded_config(&loader_script_with(&options(Some(colour), Some("left")))),
            serde_json::json!({
                "k": "site_abc",
                "h": "https://chat.example.com",
                "c": colour,
                "p": "left",
            })
        );
    }
}

#[test]
fn loader_script_with_leaves_out_invalid_colours_and_other_sides() {
    let plain = serde_json::json!({ "k": "site_abc", "h": "https://chat.example.com" });
    for colour in [
        "",
        "#",
        "#ab",
        "#abcd",
        "#abcdefg",
        "red",
        "abc",
        "#12345g",
        "#fff;}*{display:none",
        "#fff</script>",
        "url(https://evil.example/x)",
        " #fff",
    ] {
        let script = loader_script_with(&options(Some(colour), None));
        assert_eq!(embedded_config(&script), plain, "colour {colour:?}");
    }
    for position in ["right", "Left", "left ", "top", "", "left;x"] {
        let script = loader_script_with(&options(None, Some(position)));
        assert_eq!(embedded_config(&script), plain, "position {position:?}");
    }
    // Without options: what `loader_script` serves.
    assert_eq!(
        loader_script_with(&options(None, None)),
        loader_script("site_abc", "https://chat.example.com/")
    );
}

#[test]
fn loader_script_with_escapes_hostile_values() {
    let hostile = "</script><script>alert(1)</script><!--\u{2028}\u{2029}\"'\\";
    let base_url = format!("https://x.example/{hostile}");
    let script = loader_script_with(&LoaderOptions {
        site_key: hostile,
        base_url: &base_url,
        colour: Some("#abc"),
        position: Some("left"),
    });
    let lower = script.to_lowercase();
    assert!(!lower.contains("</script"), "{script}");
    assert!(!lower.contains("<!--"));
    assert!(!script.contains('\u{2028}') && !script.contains('\u{2029}'));
    assert_eq!(
        embedded_config(&script),
        serde_json::json!({ "k": hostile, "h": base_url, "c": "#abc", "p": "left" })
    );
}

#[test]
fn loader_never_inserts_markup() {
    const SINKS: [&str; 5] = [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "D.write",
    ];
    let sources = loader_sources();
    assert!(
        sources.len() >= 6,
        "loader sources found: {}",
        sources.len()
    );
    for (path, text) in &sources {
        for sink in SINKS {
            assert!(!text.contains(sink), "{} uses {sink}", path.display());
        }
    }
    for sink in SINKS {
        assert!(
            !loader_min_js().contains(sink),
            "minified loader uses {sink}"
        );
    }
}

#[test]
fn loader_version_is_a_short_hash_of_the_script() {
    assert_eq!(LOADER_VERSION.len(), 12);
    assert!(LOADER_VERSION.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn served_script_parses_in_node() {
    if let Some(output) = node(&["--check", "-"], &loader_script("KEY", BASE_URL)) {
        assert_node_succeeded(output);
    }
}

#[test]
fn loader_follows_the_protocol_in_a_fake_browser() {
    if let Some(output) = node(
        &["loader_scenarios.js", "visit"],
        &loader_script("KEY", BASE_URL),
    ) {
        assert_node_succeeded(output);
    }
}

#[test]
fn loader_survives_blocked_storage_failing_network_and_a_late_body() {
    if let Some(output) = node(
        &["loader_scenarios.js", "hostile"],
        &loader_script("KEY", BASE_URL),
    ) {
        assert_node_succeeded(output);
    }
}

#[test]
fn loader_opens_the_chat_panel_and_talks_only_to_its_frame() {
    if let Some(output) = node(
        &["loader_scenarios.js", "panel"],
        &loader_script("KEY", BASE_URL),
    ) {
        assert_node_succeeded(output);
    }
}

#[test]
fn a_running_conversation_brings_the_panel_back_hidden_on_the_next_page() {
    if let Some(output) = node(
        &["loader_scenarios.js", "continued"],
        &loader_script("KEY", BASE_URL),
    ) {
        assert_node_succeeded(output);
    }
}

#[test]
fn a_panel_left_open_is_open_again_on_the_next_page() {
    if let Some(output) = node(
        &["loader_scenarios.js", "reopened"],
        &loader_script("KEY", BASE_URL),
    ) {
        assert_node_succeeded(output);
    }
}

#[test]
fn loader_identifies_the_visitor_once_it_has_a_guest() {
    if let Some(output) = node(
        &["loader_scenarios.js", "identify"],
        &loader_script("KEY", BASE_URL),
    ) {
        assert_node_succeeded(output);
    }
}

#[test]
fn loader_takes_the_sites_colour_and_side() {
    let script = loader_script_with(&LoaderOptions {
        site_key: "KEY",
        base_url: BASE_URL,
        colour: Some("#0a0"),
        position: Some("left"),
    });
    if let Some(output) = node(&["loader_scenarios.js", "look"], &script) {
        assert_node_succeeded(output);
    }
}

#[test]
fn a_refused_origin_never_mounts_and_a_failing_guest_request_mounts_nothing_yet() {
    if let Some(output) = node(
        &["loader_scenarios.js", "refused"],
        &loader_script("KEY", BASE_URL),
    ) {
        assert_node_succeeded(output);
    }
}

#[test]
fn a_blocked_presence_socket_falls_back_to_polling_for_invitations() {
    if let Some(output) = node(
        &["loader_scenarios.js", "polling"],
        &loader_script("KEY", BASE_URL),
    ) {
        assert_node_succeeded(output);
    }
}

#[test]
fn escape_closes_the_bubble_and_the_panel_and_the_focus_returns_to_the_launcher() {
    if let Some(output) = node(
        &["loader_scenarios.js", "keyboard"],
        &loader_script("KEY", BASE_URL),
    ) {
        assert_node_succeeded(output);
    }
}
