//! The console frame's header: the availability control every signed-in page carries.

use beckon_console::layout::{page, Frame, SignedIn};
use maud::html;

fn render(signed_in: bool) -> String {
    let frame = Frame {
        title: "T",
        nonce: "n",
        signed_in: signed_in.then_some(SignedIn {
            name: "Ann",
            csrf: "c",
        }),
    };
    page(&frame, html! { p { "body" } }).into_string()
}

#[test]
fn signed_in_header_has_the_availability_select_hidden_until_a_socket_script_shows_it() {
    let html = render(true);
    let header = &html[html.find("<header").expect("header")..html.find("</header>").expect("end")];
    assert!(
        header.contains(r#"<div class="availability" data-availability hidden>"#),
        "{header}"
    );
    assert!(header.contains(r#"<select id="beckon-availability" name="status">"#));
    assert!(header.contains(r#"<option value="available">Available</option>"#));
    assert!(header.contains(r#"<option value="away">Away</option>"#));
    assert!(header.contains(r#"<label class="visually-hidden" for="beckon-availability">"#));
    assert!(header.contains(r#"id="availability-state" data-status="offline" role="status""#));
    assert!(header.contains(r#"<span id="availability-text">Offline</span>"#));
    // No inline handlers or scripts: the CSP allows only nonce'd scripts.
    assert!(!header
        .split_whitespace()
        .any(|word| word.starts_with("on") && word.contains('=')));
    assert!(!header.contains("<script"));
}

#[test]
fn signed_out_pages_have_no_availability_control() {
    assert!(!render(false).contains("beckon-availability"));
}
