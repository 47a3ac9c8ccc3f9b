//! Partials about where the widget may run: the origins it was refused on (with "Allow this origin"),
//! the console home's notice of them, and the Content-Security-Policy a strict host page needs.

use maud::{html, Markup, PreEscaped};

/// The `Origin` of a page without one (a sandboxed frame without `allow-same-origin`, a file).
pub const OPAQUE_ORIGIN: &str = "null";

/// One origin the site's widget was refused on.
pub struct RefusedOriginRow<'a> {
    /// The origin as the browser sent it (`null` for an opaque one).
    pub origin: &'a str,
    /// Refusals counted.
    pub refusals: i64,
    /// When last refused, formatted.
    pub last_seen: String,
    /// A page it was on, or empty.
    pub example_page: &'a str,
    /// Whether one click can allow it (an http(s) origin).
    pub allowable: bool,
}

/// The refused origins of a site, each with "Allow this origin" (or, for what cannot be allowed, an
/// explanation and "Dismiss"); buttons only for operators who may change the site's settings.
pub fn refused_origins(
    site_id: &str,
    csrf: &str,
    rows: &[RefusedOriginRow<'_>],
    can_manage: bool,
) -> Markup {
    html! {
        @if !rows.is_empty() {
            section.card #refused-origins {
                h2 { "Refused pages" }
                @for r in rows {
                    div.refused-origin data-origin=(r.origin) {
                        @if r.origin == OPAQUE_ORIGIN {
                            p { strong { "A page without an origin tried to load the widget and was refused." } }
                            p.hint { "It was a sandboxed frame without " code { "allow-same-origin" }
                                " (or a page opened from a file), so the browser sent the origin "
                                code { "null" } ", which cannot be allowed. Give the frame "
                                code { "sandbox=\"allow-scripts allow-same-origin\"" }
                                ", or load the widget in the top page instead." }
                        } @else {
                            p { strong { "A page on " code.origin { (r.origin) } " tried to load the widget and was refused." } }
                            @if !r.allowable {
                                p.hint { "Only http and https pages can be allowed." }
                            }
                        }
                        p.meta {
                            (r.refusals) @if r.refusals == 1 { " time" } @else { " times" }
                            ", last " (r.last_seen)
                            @if !r.example_page.is_empty() {
                                ", for example on " code.example-page { (r.example_page) }
                            }
                        }
                        @if can_manage {
                            div.refused-actions {
                                @if r.allowable {
                                    form method="post" action={ "/console/sites/" (site_id) "/refused-origins/allow" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="origin" value=(r.origin);
                                        button.allow-origin type="submit" { "Allow this origin" }
                                    }
                                }
                                form method="post" action={ "/console/sites/" (site_id) "/refused-origins/dismiss" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="origin" value=(r.origin);
                                    button.dismiss-origin.secondary type="submit" { "Dismiss" }
                                }
                            }
                        } @else {
                            p.hint { "An owner or admin of the site can allow it." }
                        }
                    }
                }
            }
        }
    }
}

/// The console home's short notice in a site's entry: the latest refused origin and how many more.
pub fn refused_notice(site_id: &str, origins: &[String]) -> Markup {
    html! {
        @if let Some(first) = origins.first() {
            p.refused-notice {
                @if first == OPAQUE_ORIGIN { "A page without an origin" }
                @else { "A page on " code { (first) } }
                " tried to load the widget and was refused"
                @if origins.len() > 1 { " (and " (origins.len() - 1) " more)" }
                ". " a href={ "/console/sites/" (site_id) "/embed#refused-origins" } { "Review" }
            }
        }
    }
}

/// The origin part (`scheme://host[:port]`) of the base URL.
fn origin_of(base_url: &str) -> &str {
    let after_scheme = base_url.find("://").map_or(0, |i| i + 3);
    match base_url[after_scheme..].find('/') {
        Some(i) => &base_url[..after_scheme + i],
        None => base_url,
    }
}

/// The Content-Security-Policy directives a host page needs for the widget, as one line: the
/// loader script, its requests and the visitor socket (`ws:`/`wss:`), the chat panel's frame (and
/// the site's own chat domain), and the status badge and monitor pixel.
pub fn csp_directives(base_url: &str, custom_domain: Option<&str>) -> String {
    let origin = origin_of(base_url);
    let socket = match origin.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some((_, rest)) => format!("ws://{rest}"),
        None => format!("wss://{origin}"),
    };
    let frames = match custom_domain {
        Some(domain) => format!("{origin} https://{domain}"),
        None => origin.to_owned(),
    };
    format!(
        "script-src {origin}; connect-src {origin} {socket}; frame-src {frames}; img-src {origin}"
    )
}

/// Copies the directives (the clipboard API where the page is a secure context, else a selection).
const COPY_SCRIPT: &str = r#"(function(){var b=document.getElementById("copy-csp"),p=document.getElementById("csp-directives");if(!b||!p)return;function done(){b.textContent="Copied"}function bySelection(){var r=document.createRange();r.selectNodeContents(p);var s=window.getSelection();s.removeAllRanges();s.addRange(r);try{if(document.execCommand("copy"))done()}catch(e){}}b.addEventListener("click",function(){if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(p.textContent).then(done,bySelection)}else{bySelection()}})})();"#;

/// The Embed page's section for hosts with a strict Content-Security-Policy.
pub fn csp_section(nonce: &str, directives: &str) -> Markup {
    html! {
        section.card #csp {
            h2 { "Strict Content-Security-Policy" }
            p { "If your site sends a Content-Security-Policy, allow Beckon in it: add these sources to the same directives of your own policy (merge them into one policy: a second policy can only forbid more)." }
            pre #csp-directives { (directives) }
            button #copy-csp type="button" { "Copy" }
            script nonce=(nonce) { (PreEscaped(COPY_SCRIPT)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_cover_script_socket_frame_and_images() {
        assert_eq!(
            csp_directives("https://chat.example.com", None),
            "script-src https://chat.example.com; connect-src https://chat.example.com wss://chat.example.com; \
             frame-src https://chat.example.com; img-src https://chat.example.com"
        );
        let local = csp_directives("http://127.0.0.1:8080/beckon", Some("help.shop.example"));
        assert!(
            local.contains("connect-src http://127.0.0.1:8080 ws://127.0.0.1:8080;"),
            "{local}"
        );
        assert!(
            local.contains("frame-src http://127.0.0.1:8080 https://help.shop.example;"),
            "{local}"
        );
    }

    #[test]
    fn hostile_origins_and_pages_are_text() {
        let hostile = "https://x\"><script>alert(1)</script>";
        let html = refused_origins(
            "s1",
            "tok",
            &[RefusedOriginRow {
                origin: hostile,
                refusals: 3,
                last_seen: "now".into(),
                example_page: "https://x/<img src=x onerror=alert(1)>",
                allowable: false,
            }],
            true,
        )
        .into_string();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("Allow this origin"), "not allowable");
        let notice = refused_notice("s1", &[hostile.to_owned()]).into_string();
        assert!(!notice.contains("<script>alert"));
    }

    #[test]
    fn an_opaque_origin_is_explained_and_only_dismissed() {
        let html = refused_origins(
            "s1",
            "tok",
            &[RefusedOriginRow {
                origin: "null",
                refusals: 1,
                last_seen: "now".into(),
                example_page: "",
                allowable: false,
            }],
            true,
        )
        .into_string();
        assert!(html.contains("allow-same-origin"));
        assert!(html.contains("Dismiss"));
        assert!(!html.contains("Allow this origin"));
        let agent = refused_origins(
            "s1",
            "tok",
            &[RefusedOriginRow {
                origin: "https://shop.example",
                refusals: 1,
                last_seen: "now".into(),
                example_page: "",
                allowable: true,
            }],
            false,
        )
        .into_string();
        assert!(!agent.contains("<form"), "no buttons for an agent");
    }
}
