//! The deliveries page (`/console/deliveries`): recent email, SMS and webhook deliveries of the
//! operator's sites from the outbox, with their state; failed ones can be retried, and mail kept in
//! the mail outbox directory (no SMTP configured) can be read.

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// One outbox item.
pub struct DeliveryRow<'a> {
    /// Outbox id (also the webhook's `Beckon-Delivery`).
    pub id: &'a str,
    /// The site's name.
    pub site_name: &'a str,
    /// `email`, `sms` or `webhook`.
    pub channel: &'a str,
    /// `pending`, `sending`, `sent`, `spooled` or `failed`.
    pub status: &'a str,
    /// Attempts made.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<&'a str>,
    /// One line saying what it is.
    pub summary: &'a str,
    /// Queued, already formatted.
    pub created: String,
    /// Delivered, or (pending) next attempt, already formatted.
    pub when: String,
}

/// The deliveries page.
pub struct DeliveriesView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token.
    pub csrf: &'a str,
    /// Operator's display name.
    pub operator_name: &'a str,
    /// The status shown, if filtered.
    pub status_filter: Option<&'a str>,
    /// The items, newest first.
    pub rows: Vec<DeliveryRow<'a>>,
    /// Whether an item was just queued again.
    pub retried: bool,
}

/// The statuses the page can filter by.
pub const STATUSES: [&str; 5] = ["pending", "sending", "sent", "spooled", "failed"];

/// The deliveries page.
pub fn deliveries(v: &DeliveriesView<'_>) -> Markup {
    let frame = Frame {
        title: "Deliveries",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    page(
        &frame,
        html! {
            section.card.wide {
                h1 { "Deliveries" }
                p { "Every email, SMS and webhook goes through the outbox: it is retried with backoff and survives "
                    "restarts. Mail marked " em { "spooled" } " was written to the mail outbox directory because no "
                    "SMTP server is configured." }
                p.filters {
                    "Show: "
                    @if v.status_filter.is_none() { strong { "all" } } @else { a href="/console/deliveries" { "all" } }
                    @for s in STATUSES {
                        " · "
                        @if v.status_filter == Some(s) { strong { (s) } }
                        @else { a href={ "/console/deliveries?status=" (s) } { (s) } }
                    }
                }
                @if v.retried { p.saved role="status" { "Queued again." } }
                @if v.rows.is_empty() {
                    p.empty { "Nothing here yet." }
                } @else {
                    table.deliveries {
                        thead { tr { th { "Queued" } th { "Site" } th { "Channel" } th { "What" } th { "Status" } th { "Attempts" } th { "Last error" } th {} } }
                        tbody {
                            @for r in &v.rows {
                                tr id={ "delivery-" (r.id) } data-status=(r.status) {
                                    td { (r.created) }
                                    td { (r.site_name) }
                                    td { (r.channel) }
                                    td { (r.summary) br; small { "id " code { (r.id) } } }
                                    td { span.badge.status { (r.status) } @if !r.when.is_empty() { br; small { (r.when) } } }
                                    td { (r.attempts) }
                                    td { @if let Some(e) = r.last_error { span.problem { (e) } } }
                                    td {
                                        @if r.status == "failed" {
                                            form method="post" action={ "/console/deliveries/" (r.id) "/retry" } {
                                                input type="hidden" name="csrf" value=(v.csrf);
                                                button type="submit" { "Retry" }
                                            }
                                        }
                                        @if r.status == "spooled" && r.channel == "email" {
                                            a href={ "/console/deliveries/" (r.id) "/mail" } { "View mail" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(id: &'a str, status: &'a str, channel: &'a str) -> DeliveryRow<'a> {
        DeliveryRow {
            id,
            site_name: "Shop",
            channel,
            status,
            attempts: 2,
            last_error: Some("refused: <b>127.0.0.1</b>"),
            summary: "Webhook message.created to https://x.example/",
            created: "2026-01-01 10:00:00".into(),
            when: String::new(),
        }
    }

    #[test]
    fn failed_items_get_a_retry_form_and_spooled_mail_a_link() {
        let html = deliveries(&DeliveriesView {
            nonce: "n",
            csrf: "tok",
            operator_name: "Ann",
            status_filter: Some("failed"),
            rows: vec![
                row("a1", "failed", "webhook"),
                row("b2", "spooled", "email"),
                row("c3", "sent", "sms"),
            ],
            retried: false,
        })
        .into_string();
        assert!(html.contains(r#"action="/console/deliveries/a1/retry""#));
        assert!(!html.contains("/console/deliveries/b2/retry"));
        assert!(html.contains(r#"href="/console/deliveries/b2/mail""#));
        assert!(!html.contains("/console/deliveries/c3/"));
        assert!(html.contains("refused: &lt;b&gt;127.0.0.1&lt;/b&gt;"));
        assert!(html.contains("<strong>failed</strong>"));
    }
}
