//! Checks on the call module (`js/call/call.js`): it is a file of its own that neither the loader nor
//! the panel script carries, the panel with it still fits the panel's budget, it inserts no markup, and —
//! when Node is installed — it parses and follows docs/protocol.md ("Calls") with a fake WebRTC
//! (tests/js/call_scenarios.js).

mod common;
use common::{assert_node_succeeded, node};

use beckon_widget::{
    call_min_js, loader_min_js, panel_min_css, panel_min_js, CALL_JS_PATH, CALL_VERSION,
};
use flate2::{write::GzEncoder, Compression};
use std::{io::Write, path::Path};

/// DESIGN.md "Widget": the chat panel may weigh at most 25 KB gzipped, with its calls.
const PANEL_WITH_CALLS_BUDGET_BYTES: usize = 25 * 1024;

/// What only WebRTC code does (feature detection, `W.RTCPeerConnection &&`, may stay in the panel: it
/// decides whether the guest reports the `calls` capability before anything is loaded).
const WEBRTC_USE: [&str; 8] = [
    "new RTCPeerConnection",
    "getUserMedia(",
    "getDisplayMedia(",
    "setLocalDescription",
    "setRemoteDescription",
    "addIceCandidate",
    "addTrack",
    "replaceTrack",
];

fn gzipped_len(text: &str) -> usize {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(text.as_bytes()).expect("gzip");
    encoder.finish().expect("gzip").len()
}

#[test]
fn panel_and_call_module_together_fit_the_panel_budget() {
    let panel = gzipped_len(&format!("{}{}", panel_min_js(), panel_min_css()));
    let call = gzipped_len(call_min_js());
    println!(
        "call module: {} bytes minified, {call} bytes gzipped; panel {panel} + call {call} = {} bytes \
         gzipped (budget {PANEL_WITH_CALLS_BUDGET_BYTES})",
        call_min_js().len(),
        panel + call
    );
    assert!(
        panel + call <= PANEL_WITH_CALLS_BUDGET_BYTES,
        "panel and call module are {} bytes gzipped, over {PANEL_WITH_CALLS_BUDGET_BYTES}",
        panel + call
    );
}

#[test]
fn webrtc_code_is_only_in_the_call_module() {
    for needle in WEBRTC_USE {
        assert!(!loader_min_js().contains(needle), "the loader has {needle}");
        assert!(
            !panel_min_js().contains(needle),
            "the panel script has {needle}"
        );
        assert!(
            call_min_js().contains(needle),
            "the call module lacks {needle}"
        );
    }
    assert!(!loader_min_js().contains("RTCPeerConnection"));
}

#[test]
fn the_panel_loads_this_very_module_from_its_versioned_path() {
    assert_eq!(CALL_VERSION.len(), 12);
    assert!(CALL_VERSION.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(CALL_JS_PATH, format!("/w/call.{CALL_VERSION}.js"));
    assert_eq!(panel_min_js().matches(CALL_JS_PATH).count(), 1);
    assert!(!panel_min_js().contains("%CALL_VERSION%"));
}

#[test]
fn call_module_never_inserts_markup_or_evaluates_strings() {
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("js")
            .join("call")
            .join("call.js"),
    )
    .expect("read call.js");
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "import(",
    ] {
        assert!(!source.contains(sink), "call.js uses {sink}");
        assert!(!call_min_js().contains(sink), "call.min.js uses {sink}");
    }
    let lower = call_min_js().to_lowercase();
    assert!(!lower.contains("</script") && !lower.contains("<!--"));
}

fn scenario(name: &str) {
    if let Some(output) = node(&["call_scenarios.js", name], call_min_js()) {
        assert_node_succeeded(output);
    }
}

#[test]
fn call_module_parses_in_node() {
    if let Some(output) = node(&["--check", "-"], call_min_js()) {
        assert_node_succeeded(output);
    }
}

#[test]
fn guest_answers_negotiates_as_the_polite_peer_and_uses_every_control() {
    scenario("guestAnswers");
}

#[test]
fn operator_calls_offers_as_the_impolite_peer_and_a_failed_connection_ends_the_call() {
    scenario("operatorCalls");
}

#[test]
fn refusals_missing_devices_other_tabs_and_reloads_end_cleanly() {
    scenario("problems");
}
