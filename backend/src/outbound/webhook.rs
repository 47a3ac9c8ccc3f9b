//! Webhook delivery: a JSON POST signed with the hook's secret, only to public addresses unless
//! `--webhook-allow-private`.
//!
//! Headers: `Beckon-Event`, `Beckon-Delivery` (the outbox id: the same on every retry, for
//! deduplication) and `Beckon-Signature: t=UNIX_SECONDS,v1=HEX` where HEX is
//! HMAC-SHA256(secret, "{t}.{body}").

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Delivered, DeliveryError};

/// One webhook call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookJob {
    /// The registered hook (its URL and secret are read at delivery, so a deleted hook stops).
    pub webhook_id: String,
    /// `conversation.started`, `message.created`, `offline_message.created`, `conversation.closed`.
    pub event: String,
    /// The event's data.
    pub data: serde_json::Value,
}

/// The signature header value for `body` at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Whether an address is somewhere webhooks must not go by default: see
/// [`super::address::refusal`] for the ranges (the host's own addresses are checked on resolving).
pub fn is_internal(ip: std::net::IpAddr) -> bool {
    super::address::is_internal(ip)
}

/// Checks a webhook URL's form: http(s), a host, no credentials.
pub fn check_url(raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "not a URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    Ok(url)
}

/// Resolves the URL's host and refuses internal addresses unless allowed; answers the address to
/// connect to, so the check and the connection use the same address (no DNS rebinding).
pub async fn resolve(
    url: &url::Url,
    allow_private: bool,
) -> Result<std::net::SocketAddr, DeliveryError> {
    let host = url
        .host_str()
        .ok_or_else(|| DeliveryError::Permanent("URL has no host".into()))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| DeliveryError::Retry(format!("cannot resolve {host}: {e}")))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| DeliveryError::Retry(format!("{host} has no address")))?;
    if !allow_private {
        if let Some((ip, why)) = super::address::first_refused(&addrs) {
            return Err(DeliveryError::Permanent(format!(
                "refused: {host} resolves to the internal address {ip} ({why})"
            )));
        }
    }
    Ok(first)
}

/// Posts one event to `url`, signed with `secret`.
pub async fn deliver(
    url: &str,
    secret: &str,
    delivery_id: &str,
    job: &WebhookJob,
    allow_private: bool,
    timeout: std::time::Duration,
) -> Result<Delivered, DeliveryError> {
    let url = check_url(url).map_err(DeliveryError::Permanent)?;
    let addr = resolve(&url, allow_private).await?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .resolve(&host, addr)
        .user_agent(concat!("Beckon-Webhook/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DeliveryError::Retry(format!("HTTP client: {e}")))?;
    let body = serde_json::json!({
        "id": delivery_id,
        "event": job.event,
        "data": job.data,
    })
    .to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("Beckon-Event", &job.event)
        .header("Beckon-Delivery", delivery_id)
        .header("Beckon-Signature", signature(secret, timestamp, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| DeliveryError::Retry(format!("webhook: {e}")))?;
    super::classify("webhook receiver", response.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn signatures_follow_the_documented_scheme() {
        // HMAC-SHA256("secret", "1700000000.{}")
        let sig = signature("secret", 1_700_000_000, "{}");
        assert!(sig.starts_with("t=1700000000,v1="));
        assert_eq!(sig.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(sig, signature("other", 1_700_000_000, "{}"));
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let url = check_url("http://127.0.0.1:9/hook").unwrap();
        assert!(matches!(
            resolve(&url, false).await,
            Err(DeliveryError::Permanent(_))
        ));
        assert!(resolve(&url, true).await.is_ok());
        // The embedded-IPv4 forms of loopback, written as literals.
        for literal in [
            "http://[::127.0.0.1]/",
            "http://[2002:7f00:1::1]/",
            "http://[64:ff9b::7f00:1]/",
        ] {
            let url = check_url(literal).unwrap();
            assert!(
                matches!(resolve(&url, false).await, Err(DeliveryError::Permanent(_))),
                "{literal}"
            );
        }
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("http://user:pw@example.com").is_err());
    }
}
