//! A site's settings page: where the widget may run, its own chat domain, and how the chat looks.

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// The values of the settings form.
pub struct SiteSettingsView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token.
    pub csrf: &'a str,
    /// Operator's display name.
    pub operator_name: &'a str,
    /// Site id.
    pub site_id: &'a str,
    /// Site name.
    pub site_name: &'a str,
    /// Allowed origins, one per line.
    pub allowed_origins: &'a str,
    /// The site's own chat domain as typed (the pending one, else the proven one), or empty.
    pub custom_domain: &'a str,
    /// The proven domain, served by `Host`.
    pub verified_domain: Option<&'a str>,
    /// A domain waiting for its proof.
    pub domain_claim: Option<DomainClaimView<'a>>,
    /// Accent colour (`#rrggbb`; the form also takes `#rgb`).
    pub colour: &'a str,
    /// `right` or `left`.
    pub position: &'a str,
    /// Greeting template.
    pub greeting: &'a str,
    /// Offline text template.
    pub offline: &'a str,
    /// Auto-assign new chats.
    pub auto_assign: bool,
    /// Operators see what guests type before they send it.
    pub typing_preview: bool,
    /// Visitors may start voice and video calls.
    pub guest_calls: bool,
    /// The HMAC key for `Beckon.identify` (a secret: owners and admins only).
    pub identity_secret: &'a str,
    /// A problem with the last submission.
    pub error: Option<&'a str>,
    /// Whether the last submission was saved.
    pub saved: bool,
}

/// A custom domain waiting for its proof: the file it must serve, and how the last check went.
pub struct DomainClaimView<'a> {
    /// The domain asked for.
    pub domain: &'a str,
    /// The file's content.
    pub token: &'a str,
    /// The file's path on the domain (`/.well-known/beckon-verification.txt`).
    pub path: &'a str,
    /// When it was last checked, formatted.
    pub checked_at: Option<&'a str>,
    /// Why the last check failed.
    pub last_error: Option<&'a str>,
}

/// The settings page.
pub fn site_settings(v: &SiteSettingsView<'_>) -> Markup {
    let frame = Frame {
        title: "Site settings",
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
                h1 { "Settings · " (v.site_name) }
                @if let Some(error) = v.error { p.error role="alert" { (error) } }
                @if v.saved { p.saved role="status" { "Saved." } }
                p.site-links { "Also for this site: "
                    a href={ "/console/sites/" (v.site_id) "/canned" } { "Canned responses" } " · "
                    a href={ "/console/sites/" (v.site_id) "/offline" } { "Offline & email" } " · "
                    a href={ "/console/sites/" (v.site_id) "/webhooks" } { "Webhooks" } }
                // Labels in one column, fields in the other (`.aligned`, one column on narrow screens).
                form.aligned method="post" action={ "/console/sites/" (v.site_id) "/settings" } {
                    input type="hidden" name="csrf" value=(v.csrf);
                    label { span.lt { "Allowed origins" small { "One per line, e.g. https://shop.example.com; empty allows any." } }
                        textarea name="allowed_origins" rows="3" { (v.allowed_origins) } }
                    label { span.lt { "Own chat domain" small { "E.g. help.example.com, pointed at this server; empty for none." } }
                        input name="custom_domain" value=(v.custom_domain); }
                    // The picker and the hex field edit one value (console.js keeps them in sync); the
                    // hex field is what is sent, and the server checks it is #rgb or #rrggbb.
                    div.row {
                        label for="colour-hex" { span.lt { "Accent colour" small { "Pick one, or type #rgb or #rrggbb." } } }
                        div.colour-field data-colour-sync {
                            input type="color" id="colour-picker" value=(v.colour) aria-label="Accent colour picker";
                            input.hex id="colour-hex" name="colour" value=(v.colour) maxlength="7" size="8"
                                pattern="#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})" spellcheck="false" autocomplete="off";
                        }
                    }
                    label { span.lt { "Launcher position" }
                        select name="position" {
                            option value="right" selected[v.position != "left"] { "Bottom right" }
                            option value="left" selected[v.position == "left"] { "Bottom left" }
                        }
                    }
                    label { span.lt { "Greeting" small { "May use {{site_name}} and {{operator_name}}; empty for the default in the visitor's language." } }
                        input name="greeting" value=(v.greeting) maxlength="300"; }
                    label { span.lt { "Offline text" small { "Shown when nobody is available." } }
                        input name="offline" value=(v.offline) maxlength="300"; }
                    label.check { input type="checkbox" name="auto_assign" value="1" checked[v.auto_assign];
                        " Give new chats to the least busy available operator (otherwise they wait in the queue)" }
                    label.check { input type="checkbox" name="typing_preview" value="1" checked[v.typing_preview];
                    " Live typing preview: operators see what the guest types before sending (the guest is told in the chat)" }
                    label.check { input type="checkbox" name="guest_calls" value="1" checked[v.guest_calls];
                    " Visitors may start voice and video calls (operators can always call a visitor in an open chat)" }
                    div.form-actions { button type="submit" { "Save settings" } }
                }
            }
            section.card #own-domain {
                h2 { "Own chat domain" }
                @if let Some(domain) = v.verified_domain {
                    p.saved role="status" { "Verified: " code { (domain) } " serves this site's chat." }
                }
                @if let Some(claim) = &v.domain_claim {
                    p { "Pending: " code { (claim.domain) } " is not served until it proves it is yours. "
                        "Serve a file at " code { "http://" (claim.domain) (claim.path) }
                        " (a redirect to the same file over https is followed) containing this line:" }
                    input.code readonly name="domain_token" value=(claim.token) id="domain-token";
                    @if let Some(at) = claim.checked_at {
                        p.error role="alert" { "Last checked " (at) ": " (claim.last_error.unwrap_or("not verified")) }
                    }
                    p { "Beckon checks pending domains every few minutes by itself." }
                    form method="post" action={ "/console/sites/" (v.site_id) "/settings/domain/verify" } {
                        input type="hidden" name="csrf" value=(v.csrf);
                        button type="submit" { "Verify now" }
                    }
                }
                @if v.verified_domain.is_none() && v.domain_claim.is_none() {
                    p { "None. Enter one above; it is served once a file on it shows a token from here." }
                }
            }
            section.card {
                h2 { "Identity secret" }
                p { "Your server signs " code { "Beckon.identify" } " calls with this key (HMAC-SHA256 over id, name, email and "
                    "timestamp, joined by new lines). Keep it on your server; never put it in a page." }
                input.code readonly value=(v.identity_secret) id="identity-secret";
            }
            // For the colour picker's sync (and the header's availability, where console.js offers it).
            script type="module" nonce=(v.nonce) src=(crate::CONSOLE_JS_PATH) {}
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_choices_kept() {
        let html = site_settings(&SiteSettingsView {
            nonce: "n",
            csrf: "c",
            operator_name: "Ann",
            site_id: "s1",
            site_name: "Shop",
            allowed_origins: "https://a.example",
            custom_domain: "help.example.com",
            verified_domain: None,
            domain_claim: Some(DomainClaimView {
                domain: "help.example.com",
                token: "beckon-verification=<b>",
                path: "/.well-known/beckon-verification.txt",
                checked_at: Some("2026-12-04 15:00 UTC"),
                last_error: Some("<i>refused</i>"),
            }),
            colour: "#112233",
            position: "left",
            greeting: "\"><script>alert(1)</script>",
            offline: "",
            auto_assign: true,
            typing_preview: false,
            guest_calls: true,
            identity_secret: "k",
            error: None,
            saved: true,
        })
        .into_string();
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains(r#"<option value="left" selected>"#));
        assert!(html.contains("checked"));
        assert!(html.contains("Saved."));
        assert!(html.contains("http://help.example.com/.well-known/beckon-verification.txt"));
        assert!(html.contains("Verify now") && html.contains("/settings/domain/verify"));
        assert!(!html.contains("<b>") && !html.contains("<i>refused"));
        // A real colour picker next to the hex field that is sent, both with the saved colour.
        assert!(html.contains(r##"<input type="color" id="colour-picker" value="#112233""##));
        assert!(html.contains(r##"id="colour-hex" name="colour" value="#112233""##));
        assert!(html.contains(r#"<form class="aligned""#));
        assert!(html.contains("/console/sites/s1/canned"));
    }
}
