//! The page frame shared by every console page.

use maud::{html, Markup, DOCTYPE};

use crate::{CONSOLE_CSS_PATH, CONSOLE_JS_PATH, FAVICON_PATH};

/// Per-page data the frame needs.
pub struct Frame<'a> {
    /// The `<title>` (before " · Beckon").
    pub title: &'a str,
    /// The CSP nonce for this response, for any inline script the page adds.
    pub nonce: &'a str,
    /// The signed-in operator's name and the logout form's CSRF token, when signed in.
    pub signed_in: Option<SignedIn<'a>>,
}

/// The signed-in part of the header.
pub struct SignedIn<'a> {
    /// Display name of the operator.
    pub name: &'a str,
    /// CSRF token for the logout form.
    pub csrf: &'a str,
}

/// Wraps `body` in the console's HTML frame: head, header bar (navigation, the availability control and
/// logout when signed in), main.
pub fn page(frame: &Frame<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (frame.title) " · Beckon" }
                link rel="stylesheet" href=(CONSOLE_CSS_PATH);
                link rel="icon" type="image/svg+xml" href=(FAVICON_PATH);
                @if frame.signed_in.is_some() {
                    // Keeps the operator present while any console page is open and drives the
                    // availability control below (console.js; a module runs once per page even
                    // when a page loads it again).
                    script type="module" nonce=(frame.nonce) src=(CONSOLE_JS_PATH) {}
                }
            }
            body data-nonce=(frame.nonce) {
                header.topbar {
                    a.brand href="/console" { "Beckon" }
                    @if let Some(user) = &frame.signed_in {
                        nav.topnav aria-label="Console" {
                            a href="/console" { "Sites" }
                            a href="/console/chats" { "Chats" }
                            a href="/console/history" { "History" }
                            a href="/console/deliveries" { "Deliveries" }
                        }
                        // The operator's availability; hidden until the page's console socket (console.js,
                        // or chat.js on Chats) carries it, since only then can it work.
                        div.availability data-availability hidden {
                            label.visually-hidden for="beckon-availability" { "Your availability" }
                            select id="beckon-availability" name="status" {
                                option value="available" { "Available" }
                                option value="away" { "Away" }
                            }
                            span.availability-state id="availability-state" data-status="offline" role="status" {
                                span.dot aria-hidden="true" {}
                                span id="availability-text" { "Offline" }
                            }
                        }
                        span.who { "Signed in as " strong { (user.name) } }
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(user.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}
