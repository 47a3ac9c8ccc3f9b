//! A site's webhooks page (`/console/sites/{id}/webhooks`, owners and admins): the registered hooks
//! with their events and signing secrets, a form to add one, and a delete button per hook.

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// One registered hook.
pub struct WebhookRow<'a> {
    /// Hook id.
    pub id: &'a str,
    /// Where Beckon posts.
    pub url: &'a str,
    /// The events it receives.
    pub events: Vec<String>,
    /// Its signing secret.
    pub secret: &'a str,
    /// When it was registered, already formatted.
    pub created: String,
}

/// The webhooks page.
pub struct WebhooksView<'a> {
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
    /// The registered hooks, oldest first.
    pub hooks: Vec<WebhookRow<'a>>,
    /// Every event a hook may receive.
    pub all_events: &'a [&'a str],
    /// The add form's URL (kept after a rejected submission).
    pub form_url: &'a str,
    /// The add form's ticked events.
    pub form_events: Vec<String>,
    /// A problem with the last submission.
    pub error: Option<&'a str>,
    /// The hook just added (its secret is pointed out).
    pub added: Option<&'a str>,
    /// Whether a hook was just deleted.
    pub deleted: bool,
}

/// The webhooks page.
pub fn webhooks(v: &WebhooksView<'_>) -> Markup {
    let frame = Frame {
        title: "Webhooks",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    let base = format!("/console/sites/{}/webhooks", v.site_id);
    page(
        &frame,
        html! {
            section.card {
                h1 { "Webhooks · " (v.site_name) }
                p { "Beckon posts each event you pick as JSON to your URL, signed in the header "
                    code { "Beckon-Signature: t=UNIX_SECONDS,v1=HEX" } ", where HEX is the HMAC-SHA256 of "
                    code { "t + \".\" + body" } " with the hook's secret. Failed deliveries are retried with "
                    "backoff (see " a href="/console/deliveries" { "Deliveries" } "); "
                    code { "Beckon-Delivery" } " stays the same on every retry." }
                @if let Some(error) = v.error { p.error role="alert" { (error) } }
                @if v.deleted { p.saved role="status" { "Webhook deleted." } }
                @if v.hooks.is_empty() {
                    p.empty { "No webhooks yet." }
                } @else {
                    table.webhooks {
                        thead { tr { th { "URL" } th { "Events" } th { "Signing secret" } th { "Added" } th {} } }
                        tbody {
                            @for h in &v.hooks {
                                tr id={ "hook-" (h.id) } {
                                    td { code { (h.url) } }
                                    td { (h.events.join(", ")) }
                                    td {
                                        input.code readonly name="secret" value=(h.secret) aria-label="Signing secret";
                                        @if v.added == Some(h.id) {
                                            p.saved role="status" { "Added. Give this secret to the receiver to check signatures." }
                                        }
                                    }
                                    td { (h.created) }
                                    td {
                                        form method="post" action={ (base) "/" (h.id) "/delete" } {
                                            input type="hidden" name="csrf" value=(v.csrf);
                                            button type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "Add a webhook" }
                form.aligned method="post" action=(base) {
                    input type="hidden" name="csrf" value=(v.csrf);
                    label { span.lt { "URL" small { "http:// or https://; private and loopback addresses are refused unless the server allows them." } }
                        input name="url" type="url" required value=(v.form_url) placeholder="https://example.com/beckon-hook"; }
                    fieldset {
                        legend { "Events" }
                        @for e in v.all_events {
                            label.check { input type="checkbox" name="event" value=(e) checked[v.form_events.iter().any(|f| f == e)]; " " code { (e) } }
                        }
                    }
                    p { small { "A signing secret is generated for the hook and shown above." } }
                    div.form-actions { button type="submit" { "Add webhook" } }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_listed_escaped_with_delete_forms() {
        let html = webhooks(&WebhooksView {
            nonce: "n",
            csrf: "tok",
            operator_name: "Ann",
            site_id: "s1",
            site_name: "Shop",
            hooks: vec![WebhookRow {
                id: "h1",
                url: "https://example.com/\"><script>x</script>",
                events: vec!["message.created".into()],
                secret: "whsec_abc",
                created: "2026-01-01 10:00".into(),
            }],
            all_events: &["conversation.started", "message.created"],
            form_url: "",
            form_events: vec!["message.created".into()],
            error: None,
            added: Some("h1"),
            deleted: false,
        })
        .into_string();
        assert!(!html.contains("<script>x"));
        assert!(html.contains(r#"action="/console/sites/s1/webhooks/h1/delete""#));
        assert!(html.contains(r#"name="secret" value="whsec_abc""#));
        assert!(html.contains(r#"value="message.created" checked"#));
        assert!(!html.contains(r#"value="conversation.started" checked"#));
        assert_eq!(html.matches(r#"name="csrf" value="tok""#).count(), 3);
    }
}
