//! Facts about the requesting client, resolved once per request.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::http::header::HeaderMap;
use actix_web::HttpRequest;

use crate::config::Settings;
use crate::limits;
use crate::services::auth::ClientInfo;

/// The client's IP, through trusted proxies only (every `X-Forwarded-For` line; `Forwarded` is
/// ignored).
pub fn ip(req: &HttpRequest, settings: &Settings) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    ip_behind_proxies(peer, req.headers(), settings)
}

/// The client's IP from the TCP peer and the request's headers: the one rule for plain requests
/// and for the visitor sockets Beckon upgrades itself.
pub fn ip_behind_proxies(peer: IpAddr, headers: &HeaderMap, settings: &Settings) -> IpAddr {
    // Every line, in order: a proxy that adds a line of its own puts the client's address there,
    // after any line the client sent itself. A line that is not text is kept as a garbled hop
    // (which stops the walk) rather than dropped, so it cannot hide the lines left of it.
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .map(|v| v.to_str().unwrap_or("?"))
        .collect();
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
