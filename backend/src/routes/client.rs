//! Facts about the requesting client, resolved once per request.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::HttpRequest;

use crate::config::Settings;
use crate::limits;
use crate::services::auth::ClientInfo;

/// The client's IP, through trusted proxies only.
pub fn ip(req: &HttpRequest, settings: &Settings) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    limits::client_ip(peer, forwarded, &settings.trusted_proxies)
}

/// IP and user agent, as kept with a session.
pub fn info(req: &HttpRequest, settings: &Settings) -> ClientInfo {
    ClientInfo {
        ip: ip(req, settings).to_string(),
        user_agent: req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(400)
            .collect(),
    }
}
