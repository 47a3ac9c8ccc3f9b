//! The operator's chat workspace: the waiting queue, the open chats and one conversation.
//!
//! The page is a shell. `chat.js` ([`crate::CHAT_JS`]) holds the console socket, fills the lists
//! and the message log, and sends what the operator types. Everything the script needs from the
//! server (sites, the operator's name, canned responses) travels in `data-` attributes of the
//! `[data-chats]` section as JSON, so the page needs no inline script.
//!
//! Calls: the page loads the widget's call module (WebRTC, the same file the chat panel loads; its
//! path is [`ChatsView::call_js`]) before `chat.js`, which wires it to the socket. The conversation's
//! header carries the start buttons (`#beckon-call-voice`, `#beckon-call-video`, shown by the script
//! for an open conversation of this operator whose guest can take calls), and `#call-dock`, under that
//! header, holds the call area the module draws (`#beckon-call`, with the same ids as in the panel).

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// Everything the chat workspace page shows.
pub struct ChatsView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token (for the logout form, and `data-csrf` for attachment uploads).
    pub csrf: &'a str,
    /// Operator's display name; conversations whose `operator` equals it are "mine".
    pub operator_name: &'a str,
    /// Operator's handle.
    pub operator_handle: &'a str,
    /// Sites the operator answers chats for, as the JSON array `[{"id", "name"}, …]` the script
    /// reads (`id` is what `{"type": "conversations", "site_id"}` names).
    pub sites_json: &'a str,
    /// Whether there is any site (the page says so when there is none).
    pub has_sites: bool,
    /// Canned responses as the JSON array `[{"shortcut", "body"}, …]`: typing `/shortcut` then
    /// Tab inserts the body. A shortcut may be given with or without its leading `/`.
    pub canned_json: &'a str,
    /// Whether there is any canned response (the composer hints at them then).
    pub has_canned: bool,
    /// Where the call module is served (`beckon_widget::CALL_JS_PATH`), a path on this origin.
    pub call_js: &'a str,
}

/// The chat workspace page.
pub fn chats(v: &ChatsView<'_>) -> Markup {
    let frame = Frame {
        title: "Chats",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    page(
        &frame,
        html! {
            section.chats data-chats
                data-sites=(v.sites_json)
                data-canned=(v.canned_json)
                data-operator-name=(v.operator_name)
                data-operator-handle=(v.operator_handle)
                data-csrf=(v.csrf)
            {
                aside.chat-lists aria-label="Conversations" {
                    div.chat-tools {
                        button type="button" id="enable-sound" { "Enable sound & notifications" }
                        p.status id="chat-status" role="status" { "Connecting…" }
                    }
                    @if !v.has_sites {
                        p.empty { "You do not belong to any site yet, so no chats can reach you." }
                    }
                    h2 { "Waiting " span.count id="queue-count" {} }
                    ul.conv-list id="queue" {}
                    p.empty id="queue-empty" { "No one is waiting." }
                    h2 { "My chats / Open " span.count id="open-count" {} }
                    ul.conv-list id="open-chats" {}
                    p.empty id="open-empty" { "No open chats." }
                    // What came in while nobody was there (leave-a-message, email, SMS) is kept apart
                    // from the live chats: chat.js sorts those conversations here, newest first.
                    section.inbox aria-labelledby="inbox-title" {
                        h2 id="inbox-title" { (inbox_icon()) " Inbox " span.count id="inbox-count" {} }
                        p.inbox-hint { "Offline messages, email and SMS. Replies go by email or SMS." }
                        ul.conv-list id="inbox" {}
                        p.empty id="inbox-empty" { "No offline messages." }
                    }
                }
                div.conversation id="conversation" data-empty {
                    p.empty id="no-conversation" { "Select a conversation on the left." }
                    header.conv-head id="conv-head" hidden {
                        div.conv-who {
                            strong id="conv-guest" {}
                            " "
                            span.badge title="Not a registered user" { "guest" }
                            " "
                            small.conv-guest-id id="conv-guest-id" {}
                            " "
                            span.channel-mark id="conv-channel" hidden {}
                        }
                        span.conv-state id="conv-state" {}
                        div.conv-actions {
                            button.call-start type="button" id="beckon-call-voice" hidden
                                title="Start a voice call with this guest" { "Voice call" }
                            button.call-start type="button" id="beckon-call-video" hidden
                                title="Start a video call with this guest" { "Video call" }
                            button type="button" id="accept-chat" hidden { "Accept" }
                            button type="button" id="transfer-chat" { "Transfer" }
                            button type="button" id="close-chat" { "Close" }
                        }
                    }
                    // The call area (drawn by the call module). It belongs to no conversation: a
                    // call goes on while the operator reads or answers other chats.
                    div.call-dock id="call-dock" {}
                    ol.messages id="messages" aria-live="polite" {}
                    p.typing id="typing" aria-live="polite" {}
                    form.composer id="composer" hidden {
                        textarea name="body" rows="3" maxlength="4000" required
                            placeholder="Type a reply. Enter sends, Shift+Enter starts a new line." {}
                        div.composer-row {
                            // A styled label for the file input, which stays focusable (keyboard users
                            // tab to it and press Enter or Space) but is visually hidden.
                            input.visually-hidden type="file" id="attach-input" multiple
                                accept=(ATTACH_ACCEPT) aria-describedby="attach-chosen";
                            label.attach for="attach-input" id="attach-file"
                                title="Send a file (images, PDF, text, ZIP, Office documents; at most 10 MiB)" {
                                (paperclip_icon()) " Attach file"
                            }
                            span.attach-chosen id="attach-chosen" aria-live="polite" {}
                            label.note-toggle {
                                input type="checkbox" name="note";
                                " Internal note " small { "(never shown to the guest)" }
                            }
                            @if v.has_canned {
                                small.canned-hint { "Canned responses: type /shortcut and press Tab." }
                            }
                            button type="submit" { "Send" }
                        }
                    }
                }
                dialog id="transfer-dialog" {
                    form method="dialog" id="transfer-form" {
                        h2 { "Transfer this chat" }
                        label { "Operator handle"
                            input name="operator_handle" required pattern=(crate::HANDLE_PATTERN)
                                autocomplete="off" placeholder="e.g. ann"; }
                        menu {
                            button type="submit" value="transfer" { "Transfer" }
                            button type="submit" value="cancel" formnovalidate { "Cancel" }
                        }
                    }
                }
            }
            // A classic script, run before the module (both deferred, in document order).
            script defer nonce=(v.nonce) src=(v.call_js) {}
            script type="module" nonce=(v.nonce) src=(crate::CHAT_JS_PATH) {}
        },
    )
}

/// An outline paperclip, drawn inline so it shows without an emoji font (the same path as chat.js's).
pub fn paperclip_icon() -> Markup {
    svg_icon("M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5")
}

/// An outline inbox tray (the same path as chat.js's).
fn inbox_icon() -> Markup {
    svg_icon("M22 12h-6l-2 3h-4l-2-3H2M5.5 5.1L2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.5-6.9A2 2 0 0 0 16.8 4H7.2a2 2 0 0 0-1.7 1.1z")
}

/// A 16 px stroke icon in the text colour, hidden from assistive technology: the text next to it
/// is the label.
fn svg_icon(path: &str) -> Markup {
    html! {
        svg.icon xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16"
            aria-hidden="true" focusable="false" {
            path d=(path) fill="none" stroke="currentColor" stroke-width="2"
                stroke-linecap="round" stroke-linejoin="round" {}
        }
    }
}

/// The file picker's filter: the types the server accepts (docs/protocol.md, "Attachments"). Only a
/// hint for the picker; the server decides.
const ATTACH_ACCEPT: &str = "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,\
application/zip,.zip,.docx,.xlsx,.pptx";

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(sites_json: &'a str, canned_json: &'a str) -> ChatsView<'a> {
        ChatsView {
            nonce: "nonce-123",
            csrf: "csrf-tok",
            operator_name: "Ann",
            operator_handle: "ann",
            sites_json,
            has_sites: sites_json != "[]",
            canned_json,
            has_canned: canned_json != "[]",
            call_js: "/w/call.0123456789ab.js",
        }
    }

    /// The value of the first `name="…"` attribute in `html`, with maud's entity escapes undone.
    fn attribute(html: &str, name: &str) -> String {
        let start = html
            .find(&format!("{name}=\""))
            .unwrap_or_else(|| panic!("no {name} attribute"))
            + name.len()
            + 2;
        let len = html[start..].find('"').expect("closing quote");
        html[start..start + len]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    #[test]
    fn page_loads_the_chat_script_with_the_nonce_and_offers_logout() {
        let html = chats(&view(r#"[{"id":"s1","name":"Shop"}]"#, "[]")).into_string();
        assert!(html.contains(&format!(
            r#"<script type="module" nonce="nonce-123" src="{}"></script>"#,
            crate::CHAT_JS_PATH
        )));
        assert!(crate::CHAT_JS_PATH.starts_with("/console/assets/chat-"));
        // The call module first: chat.js finds `window.BeckonCall` when it runs.
        let call = html
            .find(r#"<script defer nonce="nonce-123" src="/w/call.0123456789ab.js"></script>"#)
            .expect("call module script");
        assert!(call < html.find(crate::CHAT_JS_PATH).expect("chat.js"));
        assert!(html.contains(r#"<form class="logout" method="post" action="/logout">"#));
        assert!(html.contains(r#"name="csrf" value="csrf-tok""#));
        assert!(
            html.contains(r#"href="/console/chats""#),
            "top bar links here"
        );
        for id in [
            "queue",
            "open-chats",
            "conversation",
            "messages",
            "typing",
            "composer",
            "close-chat",
            "transfer-chat",
            "transfer-dialog",
            "enable-sound",
            "beckon-call-voice",
            "beckon-call-video",
            "call-dock",
        ] {
            assert!(html.contains(&format!(r#"id="{id}""#)), "missing #{id}");
        }
        assert!(html.contains(r#"name="body""#));
        assert!(html.contains(r#"type="checkbox" name="note""#));
        assert!(html.contains(r#"data-csrf="csrf-tok""#));
        assert!(html.contains(r#"<label class="attach" for="attach-input" id="attach-file""#));
        assert!(html
            .contains(r#"<input class="visually-hidden" type="file" id="attach-input" multiple"#));
        assert!(html.contains(r#"id="inbox""#) && html.contains(r#"id="conv-channel""#));
        assert!(!html.contains('📎'), "icons are inline SVG, not emoji");
        assert!(html.contains(r#"data-operator-name="Ann""#));
        assert_eq!(
            attribute(&html, "data-sites"),
            r#"[{"id":"s1","name":"Shop"}]"#
        );
        assert_eq!(attribute(&html, "data-canned"), "[]");
    }

    #[test]
    fn hostile_names_and_json_are_escaped_and_the_attributes_decode_exactly() {
        let sites = r#"[{"id":"s\"1","name":"</section><script>alert(1)</script>"}]"#;
        let canned = r#"[{"shortcut":"bye","body":"'><script>alert(2)</script> & done"}]"#;
        let html = chats(&ChatsView {
            operator_name: "\"><img src=x onerror=alert(2)>",
            ..view(sites, canned)
        })
        .into_string();
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("'><script>"));
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("</section><script>"));
        // The attributes still decode to the exact JSON the script parses.
        assert_eq!(attribute(&html, "data-sites"), sites);
        assert_eq!(attribute(&html, "data-canned"), canned);
        assert!(html.contains("type /shortcut and press Tab"));
    }
}
