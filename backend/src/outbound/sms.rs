//! SMS through a provider's HTTP API, in the shape of Twilio's Messages resource:
//! `POST {base}/2010-04-01/Accounts/{account}/Messages.json` with HTTP Basic auth (account, token)
//! and the form fields `To`, `From`, `Body`. Other providers with this shape work by changing the base.

use serde::{Deserialize, Serialize};

use super::{one_line, Delivered, DeliveryError};
use crate::config::SmsSettings;

/// One text message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsJob {
    /// Recipient, E.164.
    pub to: String,
    /// Text (cut to 1 600 characters, the provider's limit).
    pub body: String,
}

/// Longest SMS body sent.
pub const MAX_SMS_CHARS: usize = 1600;

/// Sends one message.
pub async fn deliver(
    http: &reqwest::Client,
    settings: Option<&SmsSettings>,
    job: &SmsJob,
) -> Result<Delivered, DeliveryError> {
    let Some(sms) = settings else {
        return Err(DeliveryError::Permanent("SMS is not configured".into()));
    };
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        sms.api_base,
        urlencode_segment(&sms.account)
    );
    let body: String = job.body.chars().take(MAX_SMS_CHARS).collect();
    let response = http
        .post(&url)
        .basic_auth(&sms.account, Some(&sms.token))
        .form(&[
            ("To", one_line(&job.to)),
            ("From", sms.from.clone()),
            ("Body", body),
        ])
        .send()
        .await
        .map_err(|e| DeliveryError::Retry(format!("SMS provider: {e}")))?;
    super::classify("SMS provider", response.status())
}

fn urlencode_segment(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
