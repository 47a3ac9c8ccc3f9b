//! Who the client is (through trusted proxies only) and how often they may do things (per node, and
//! for the limits that protect the system, across the cluster: `shared`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

mod shared;

pub use shared::{RedisLimits, SharedLimit};

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the right-most
/// `X-Forwarded-For` hop that is not itself a trusted proxy.
///
/// `forwarded_for` is every `X-Forwarded-For` header line of the request, in the order received:
/// HTTP makes several lines of one header equal to one line of their values joined by commas, and
/// a proxy that adds its own line (rather than appending to the client's) puts it last. Reading
/// only the first line would believe whatever the client wrote. The hops are read from the right:
/// each trusted hop is skipped, the first untrusted one is the client. A hop that does not parse
/// stops the walk at the last trusted hop, since nothing left of it can be believed. `Forwarded`
/// (RFC 7239) is not read at all (see README, Security).
pub fn client_ip<'a, I>(peer: IpAddr, forwarded_for: I, trusted: &[IpNet]) -> IpAddr
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: DoubleEndedIterator,
{
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for
        .into_iter()
        .rev()
        .flat_map(|line| line.rsplit(','))
    {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A garbled hop means nothing further left can be trusted either.
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` hop: an address, optionally with a port (`192.0.2.1:443`,
/// `[2001:db8::1]:443`), as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| match ip {
            // An IPv4 client seen through a dual-stack proxy is the same client as over IPv4.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        })
}

/// The key a client is counted under: the IPv4 address, or the /64 prefix of an IPv6 address (one
/// household or host usually holds a whole /64). IPv4-mapped IPv6 counts as IPv4.
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// A rate limit per client key (governor's GCRA, in memory).
pub struct KeyedLimit {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl KeyedLimit {
    /// Allows `per_minute` events per key per minute, all of them in a burst.
    pub fn per_minute(per_minute: u32) -> KeyedLimit {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        KeyedLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
        }
    }

    /// Allows `per_hour` events per key per hour, all of them in a burst.
    pub fn per_hour(per_hour: u32) -> KeyedLimit {
        let n = NonZeroU32::new(per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
        KeyedLimit {
            limiter: RateLimiter::keyed(Quota::per_hour(n)),
        }
    }

    /// Allows `burst` events per key at once, then `per_minute` a minute (one every `60 s /
    /// per_minute`): governor's GCRA, so a key that was quiet has its burst back.
    pub fn burst_then_per_minute(burst: u32, per_minute: u32) -> KeyedLimit {
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        KeyedLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        }
    }

    /// Counts one event for `key`; `Err(wait)` when over the limit.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets keys whose limit has fully recovered, so memory follows active clients only.
    pub fn forget_idle_keys(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// How many keys are held (for tests and diagnostics).
    pub fn keys(&self) -> usize {
        self.limiter.len()
    }
}

/// Seconds to tell a client to wait (`Retry-After`): the wait rounded up, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The chat's flood limits, one keyed limiter each (see `config::FloodSettings`). Keys are guest
/// (visitor) ids, operator ids and conversation ids, all of them checked or bounded before they
/// become keys; the maintenance task forgets idle keys every few seconds, so memory follows the
/// clients that are active now.
pub struct ChatLimits {
    /// Guest messages per (guest, conversation).
    pub guest_messages: KeyedLimit,
    /// Operator messages per (operator, conversation).
    pub operator_messages: KeyedLimit,
    /// Uploads per guest.
    pub guest_uploads: KeyedLimit,
    /// Guest uploads per conversation.
    pub conversation_uploads: KeyedLimit,
    /// Uploads per operator.
    pub operator_uploads: KeyedLimit,
    /// Typing events per guest.
    pub guest_typing: KeyedLimit,
    /// Typing events per operator.
    pub operator_typing: KeyedLimit,
    /// start_chat, resume and read per guest.
    pub guest_events: KeyedLimit,
    /// Invitation answers per guest.
    pub invite_answers: KeyedLimit,
    /// Call requests and signalling per guest.
    pub guest_call_signals: KeyedLimit,
    /// Offline messages per guest (the per-address limit is `AppState::offline_limit`); like that
    /// one it holds across nodes in cluster mode, since a guest's token works on every node.
    pub guest_offline: SharedLimit,
}

impl ChatLimits {
    /// The limiters for these settings; `offline_per_hour` is the leave-a-message limit; `redis`
    /// (cluster mode) is where the per-guest offline limit is shared.
    pub fn new(
        s: &crate::config::FloodSettings,
        offline_per_hour: u32,
        redis: Option<std::sync::Arc<RedisLimits>>,
    ) -> ChatLimits {
        ChatLimits {
            guest_messages: KeyedLimit::burst_then_per_minute(
                s.guest_message_burst,
                s.guest_messages_per_minute,
            ),
            operator_messages: KeyedLimit::burst_then_per_minute(
                s.operator_message_burst,
                s.operator_messages_per_minute,
            ),
            guest_uploads: KeyedLimit::per_minute(s.guest_uploads_per_minute),
            conversation_uploads: KeyedLimit::per_hour(s.conversation_uploads_per_hour),
            operator_uploads: KeyedLimit::per_minute(s.operator_uploads_per_minute),
            guest_typing: KeyedLimit::per_minute(s.guest_typing_per_minute),
            operator_typing: KeyedLimit::per_minute(s.operator_typing_per_minute),
            guest_events: KeyedLimit::per_minute(s.guest_events_per_minute),
            invite_answers: KeyedLimit::per_minute(s.invite_answers_per_minute),
            // Setting up a call trickles a few dozen candidates at once, and renegotiation (a
            // screen share) as many again: far above typing, still bounded.
            guest_call_signals: KeyedLimit::per_minute(GUEST_CALL_SIGNALS_PER_MINUTE),
            guest_offline: SharedLimit::per_hour("guest_offline", offline_per_hour, redis),
        }
    }

    /// Forgets recovered keys of every limiter.
    pub fn forget_idle_keys(&self) {
        for limit in [
            &self.guest_messages,
            &self.operator_messages,
            &self.guest_uploads,
            &self.conversation_uploads,
            &self.operator_uploads,
            &self.guest_typing,
            &self.operator_typing,
            &self.guest_events,
            &self.invite_answers,
            &self.guest_call_signals,
        ] {
            limit.forget_idle_keys();
        }
        self.guest_offline.forget_idle_keys();
    }
}

/// Call requests and signalling messages a guest may send per minute (all of them at once).
pub const GUEST_CALL_SIGNALS_PER_MINUTE: u32 = 600;

/// The key of something per `owner` in a conversation. The conversation id comes from the client
/// and is not yet checked, so at most 64 of its characters are used: a made-up id costs a key no
/// larger than a real one.
pub fn conversation_key(owner: &str, conversation_id: &str) -> String {
    let short: String = conversation_id.chars().take(64).collect();
    format!("{owner} {short}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, Some("1.2.3.4"), &[]), peer);
    }

    #[test]
    fn forwarded_for_is_used_from_trusted_proxies() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        // A client-supplied spoofed left-most entry is skipped: the right-most untrusted hop wins.
        let got = client_ip(peer, Some("6.6.6.6, 198.51.100.7, 10.0.0.2"), &trusted);
        assert_eq!(got, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn all_forwarded_for_lines_are_read_from_the_right() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        // The client wrote the first line; the proxy added the second. Only the first line used to
        // be read, so the client chose its own address.
        let got = client_ip(peer, ["6.6.6.6", "198.51.100.7"], &trusted);
        assert_eq!(got, "198.51.100.7".parse::<IpAddr>().unwrap());
        // Lines and commas combine: the right-most untrusted hop across both lines wins.
        let got = client_ip(
            peer,
            ["6.6.6.6, 198.51.100.8", "10.0.0.3, 10.0.0.2"],
            &trusted,
        );
        assert_eq!(got, "198.51.100.8".parse::<IpAddr>().unwrap());
        // A garbled hop stops the walk at the last trusted hop, never at a value left of it.
        let got = client_ip(peer, ["6.6.6.6", "garbage, 10.0.0.2"], &trusted);
        assert_eq!(got, "10.0.0.2".parse::<IpAddr>().unwrap());
        // No header at all: the proxy itself.
        let got = client_ip(peer, std::iter::empty::<&str>(), &trusted);
        assert_eq!(got, peer);
        // Every hop trusted: the left-most (the nearest thing to a client there is).
        let got = client_ip(peer, ["10.0.0.9", "10.0.0.2"], &trusted);
        assert_eq!(got, "10.0.0.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn forwarded_for_hops_may_carry_ports() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        let got = client_ip(peer, Some("6.6.6.6, 198.51.100.7:4431"), &trusted);
        assert_eq!(got, "198.51.100.7".parse::<IpAddr>().unwrap());
        let got = client_ip(peer, Some("[2001:db8::7]:443"), &trusted);
        assert_eq!(got, "2001:db8::7".parse::<IpAddr>().unwrap());
        let got = client_ip(peer, Some("::ffff:198.51.100.9"), &trusted);
        assert_eq!(got, "198.51.100.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv6_is_keyed_by_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        assert_eq!(ip_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
    }

    #[test]
    fn burst_then_sustained_rate() {
        let limit = KeyedLimit::burst_then_per_minute(3, 60);
        for _ in 0..3 {
            assert!(limit.check("a").is_ok());
        }
        let wait = limit.check("a").unwrap_err();
        // The next cell comes one second (60 s / 60) after the burst.
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(retry_after_secs(wait), 1);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn recovered_keys_are_forgotten() {
        let limit = KeyedLimit::per_minute(1_000_000);
        limit.check("a").unwrap();
        assert_eq!(limit.keys(), 1);
        std::thread::sleep(Duration::from_millis(5));
        limit.forget_idle_keys();
        assert_eq!(limit.keys(), 0);
    }

    #[test]
    fn conversation_keys_are_bounded() {
        let long = "é".repeat(10_000);
        let key = conversation_key("v1", &long);
        assert_eq!(key.chars().count(), 3 + 64);
    }

    #[test]
    fn keyed_limit_refuses_after_quota() {
        let limit = KeyedLimit::per_minute(2);
        assert!(limit.check("a").is_ok());
        assert!(limit.check("a").is_ok());
        assert!(limit.check("a").is_err());
        assert!(limit.check("b").is_ok());
    }
}
