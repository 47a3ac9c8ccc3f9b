//! Everything Beckon sends out (email, SMS, webhooks) goes through the durable outbox: a row is
//! written in the same transaction as the change that caused it, and [`worker`] delivers it with
//! retries and backoff, across restarts. See docs/outbound.md.

pub mod address;
pub mod events;
pub mod mail;
pub mod outbox;
pub mod sms;
pub mod templates;
pub mod webhook;
pub mod worker;

use serde::{Deserialize, Serialize};

pub use outbox::enqueue;

/// A notification to deliver, stored as the outbox row's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Job {
    /// An email.
    Email(mail::EmailJob),
    /// A text message.
    Sms(sms::SmsJob),
    /// A webhook call.
    Webhook(webhook::WebhookJob),
}

impl Job {
    /// The outbox `channel` column.
    pub fn channel(&self) -> &'static str {
        match self {
            Job::Email(_) => "email",
            Job::Sms(_) => "sms",
            Job::Webhook(_) => "webhook",
        }
    }
}

/// Why one delivery attempt did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth another try later (network, timeout, 5xx, 429).
    #[error("{0}")]
    Retry(String),
    /// Will never work (bad address, 4xx, refused destination): given up at once.
    #[error("{0}")]
    Permanent(String),
}

/// How an attempt ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Handed to the SMTP server, provider or webhook receiver.
    Sent,
    /// Written to the mail outbox directory (no SMTP configured).
    Spooled,
}

/// Maps an HTTP answer to an outcome: 2xx sent; 408, 429 and 5xx retried; other 4xx given up.
pub fn classify(who: &str, status: reqwest::StatusCode) -> Result<Delivered, DeliveryError> {
    if status.is_success() {
        Ok(Delivered::Sent)
    } else if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Err(DeliveryError::Retry(format!("{who} answered {status}")))
    } else {
        Err(DeliveryError::Permanent(format!("{who} answered {status}")))
    }
}

/// Makes a value safe for one mail header or SMS line: control characters (CR and LF above all)
/// become spaces, so no value can start a new header.
pub fn one_line(value: &str) -> String {
    let line: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_line_breaks() {
        assert_eq!(
            one_line("Hi\r\nBcc: victim@example.com"),
            "Hi Bcc: victim@example.com"
        );
        assert_eq!(one_line("  a \t b\u{0}c "), "a b c");
    }
}
