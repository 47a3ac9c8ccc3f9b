//! The live visitor list page, a visitor's page trail, and the embed-code page of a site.

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// The live visitor list of one site. The table is filled and kept live by `console.js` over the
/// console socket; the page itself carries only the frame, the filters and the invite dialog.
pub struct LiveVisitorsView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token (for the logout form).
    pub csrf: &'a str,
    /// Operator's display name.
    pub operator_name: &'a str,
    /// Site id (the socket's watch target).
    pub site_id: &'a str,
    /// Site name.
    pub site_name: &'a str,
}

/// The live visitors page.
pub fn live_visitors(v: &LiveVisitorsView<'_>) -> Markup {
    let frame = Frame {
        title: "Live visitors",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    page(
        &frame,
        html! {
            section.card.wide data-live-visitors data-site-id=(v.site_id) {
                h1 { "Live visitors · " (v.site_name) }
                // One aligned row: each filter its label above its field, and a button that clears them.
                form.filters id="visitor-filters" role="search" aria-label="Filter visitors" {
                    div.filter {
                        label for="filter-page" { "Page" }
                        input type="search" id="filter-page" name="page" placeholder="URL or title contains…";
                    }
                    div.filter {
                        label for="filter-referrer" { "Referrer" }
                        input type="search" id="filter-referrer" name="referrer" placeholder="contains…";
                    }
                    div.filter {
                        label for="filter-kind" { "Visitors" }
                        select id="filter-kind" name="kind" {
                            option value="all" { "All" }
                            option value="new" { "New" }
                            option value="returning" { "Returning" }
                        }
                    }
                    div.filter.filter-actions {
                        button.clear type="reset" { "Clear filters" }
                    }
                }
                p.status id="live-status" role="status" { "Connecting…" }
                table.visitors {
                    thead { tr {
                        th { "Visitor" } th { "Current page" } th { "Pages" } th { "Referrer" }
                        th { "On site" } th { "On page" } th { "Browser / OS" } th { "Status" } th { }
                    } }
                    tbody id="visitor-rows" {}
                }
                nav.pager {
                    button type="button" id="page-prev" { "‹ Previous" }
                    span id="page-info" {}
                    button type="button" id="page-next" { "Next ›" }
                }
                dialog id="invite-dialog" {
                    form method="dialog" id="invite-form" {
                        h2 { "Invite " span id="invite-who" {} " to chat" }
                        label { "Message (optional)" input name="message" maxlength="500" placeholder="Hi! Can I help you with anything?"; }
                        menu {
                            button type="submit" value="send" id="invite-send" { "Send invitation" }
                            button type="submit" value="cancel" formnovalidate { "Cancel" }
                        }
                    }
                }
            }
            script type="module" nonce=(v.nonce) src=(crate::CONSOLE_JS_PATH) {}
        },
    )
}

/// One page of a visitor's trail.
pub struct TrailRow<'a> {
    /// When (UTC, formatted).
    pub at: String,
    /// Page title.
    pub title: &'a str,
    /// Page URL.
    pub url: &'a str,
    /// Referrer.
    pub referrer: &'a str,
}

/// A visitor's page trail.
pub struct TrailView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token.
    pub csrf: &'a str,
    /// Operator's display name.
    pub operator_name: &'a str,
    /// Site id, for the way back.
    pub site_id: &'a str,
    /// Guest id or name.
    pub visitor_label: &'a str,
    /// Pages, newest first.
    pub pages: Vec<TrailRow<'a>>,
}

/// The trail page.
pub fn trail(v: &TrailView<'_>) -> Markup {
    let frame = Frame {
        title: "Page trail",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    page(
        &frame,
        html! {
            section.card {
                p { a href={ "/console/sites/" (v.site_id) "/visitors" } { "‹ Live visitors" } }
                h1 { "Pages viewed by " (v.visitor_label) " " span.badge { "guest" } }
                @if v.pages.is_empty() { p.empty { "No page views recorded yet." } }
                @else {
                    table.trail {
                        thead { tr { th { "When (UTC)" } th { "Page" } th { "Came from" } } }
                        tbody {
                            @for p in &v.pages {
                                tr {
                                    td { (p.at) }
                                    td { strong { (p.title) } br; small.url { (p.url) } }
                                    td { small.url { (p.referrer) } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Every entry point of a site, ready to copy.
pub struct EmbedView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token.
    pub csrf: &'a str,
    /// Operator's display name.
    pub operator_name: &'a str,
    /// Operator's handle.
    pub handle: &'a str,
    /// Site name.
    pub site_name: &'a str,
    /// Site slug.
    pub slug: &'a str,
    /// Site public key.
    pub public_key: &'a str,
    /// Base URL without trailing slash.
    pub base_url: &'a str,
    /// Site id (for the canned-response forms).
    pub site_id: &'a str,
    /// Canned responses of the site: (id, shortcut, body).
    pub canned: Vec<(&'a str, &'a str, &'a str)>,
    /// The site's own (proven) chat domain, if any, for the CSP directives.
    pub custom_domain: Option<&'a str>,
    /// Origins the widget was refused on, most recent first.
    pub refused: Vec<crate::origins::RefusedOriginRow<'a>>,
    /// Whether this operator may allow origins (owner or admin).
    pub can_manage: bool,
}

/// The snippets of the embed page, in order: (title, explanation, code).
pub fn embed_snippets(v: &EmbedView<'_>) -> Vec<(&'static str, &'static str, String)> {
    let (b, s, k, h) = (v.base_url, v.slug, v.public_key, v.handle);
    vec![
        ("Widget script", "Paste before </body> on every page: live visitor list, launcher button, invitations.",
            format!(r#"<script async src="{b}/w/{k}.js"></script>"#)),
        ("Help-desk chat link", "Opens a full-page chat with your team in any browser: for emails, documents, QR codes.",
            format!("{b}/s/{s}")),
        ("Your personal chat link", "Opens a chat with you.", format!("{b}/u/{h}")),
        ("Status badge for an email signature", "Shows online/offline and opens the chat when clicked.",
            format!(r#"<a href="{b}/s/{s}"><img src="{b}/s/{s}/status.svg" alt="Live help" width="132" height="24"></a>"#)),
        ("Status badge in Markdown", "For README files and wikis.", format!("[![Live help]({b}/s/{s}/status.svg)]({b}/s/{s})")),
        ("Monitor pixel", "Page monitoring where scripts cannot run (the page is taken from the Referer, or add ?u=URL).",
            format!(r#"<img src="{b}/m/{k}.gif" alt="" width="1" height="1">"#)),
    ]
}

/// The embed page.
pub fn embed(v: &EmbedView<'_>) -> Markup {
    let frame = Frame {
        title: "Embed",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    page(
        &frame,
        html! {
            // Refusals first: a widget that does not show up is the owner's first question.
            (crate::origins::refused_origins(v.site_id, v.csrf, &v.refused, v.can_manage))
            section.card {
                h1 { "Put " (v.site_name) " live help anywhere" }
                @for (i, (title, why, code)) in embed_snippets(v).into_iter().enumerate() {
                    div.snippet {
                        h2 { (title) }
                        p { (why) }
                        textarea.code readonly rows="2" id={ "snippet-" (i) } { (code) }
                    }
                }
            }
            (crate::origins::csp_section(v.nonce, &crate::origins::csp_directives(v.base_url, v.custom_domain)))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_page_offers_every_entry_point() {
        let v = EmbedView {
            nonce: "n",
            csrf: "c",
            operator_name: "Ann",
            handle: "ann",
            site_name: "Shop",
            slug: "shop",
            public_key: "KEY",
            base_url: "https://chat.example",
            site_id: "s1",
            canned: vec![("c1", "hours", "<b>9-5</b>")],
            custom_domain: None,
            refused: vec![],
            can_manage: true,
        };
        let html = embed(&v).into_string();
        for needle in [
            "https://chat.example/w/KEY.js",
            "https://chat.example/s/shop",
            "https://chat.example/u/ann",
            "https://chat.example/s/shop/status.svg",
            "https://chat.example/m/KEY.gif",
        ] {
            assert!(html.contains(needle), "missing {needle}");
        }
        assert!(
            html.contains("&lt;script async"),
            "snippets are escaped text, not live markup"
        );
    }

    #[test]
    fn trail_escapes_hostile_titles() {
        let html = trail(&TrailView {
            nonce: "n",
            csrf: "c",
            operator_name: "Ann",
            site_id: "s",
            visitor_label: "G-1",
            pages: vec![TrailRow {
                at: "now".into(),
                title: "<img src=x onerror=alert(1)>",
                url: "https://x/",
                referrer: "",
            }],
        })
        .into_string();
        assert!(!html.contains("<img src=x"));
    }
}
