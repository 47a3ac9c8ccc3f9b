//! Calls: the STUN and TURN servers browsers use to reach each other, the TURN shared secret
//! (coturn's `use-auth-secret`) credentials are minted with, and how long a call rings. Flags and
//! `BECKON_*` variables as everywhere; in `beckon.toml` they sit in a `[calls]` table.

use clap::Args;
use serde::Deserialize;

use super::{invalid, ConfigError};

/// Call flags and variables, all optional.
#[derive(Debug, Clone, Default, Args)]
pub struct CallArgs {
    /// STUN and TURN servers for calls, comma-separated URLs (`stun:stun.example.com:3478`,
    /// `turn:turn.example.com:3478?transport=udp`, `turns:turn.example.com:5349`). TURN servers
    /// need --turn-secret. Default: none (calls then connect only where the two browsers can
    /// reach each other directly, e.g. on one network).
    #[arg(
        long,
        env = "BECKON_ICE_SERVERS",
        global = true,
        value_delimiter = ',',
        value_name = "URLS"
    )]
    pub ice_servers: Option<Vec<String>>,
    /// The TURN server's shared secret (coturn: `use-auth-secret` with the same
    /// `static-auth-secret`), with which each call gets short-lived TURN credentials.
    #[arg(long, env = "BECKON_TURN_SECRET", global = true, value_name = "SECRET")]
    pub turn_secret: Option<String>,
    /// How long minted TURN credentials stay valid, in seconds (long enough for a call: TURN
    /// refreshes its allocation with them). Default: 3600.
    #[arg(long, env = "BECKON_TURN_TTL_SECS", global = true, value_name = "SECS")]
    pub turn_ttl_secs: Option<u64>,
    /// Seconds an unanswered call rings before it ends as missed. Default: 30.
    #[arg(
        long,
        env = "BECKON_CALL_RING_SECS",
        global = true,
        value_name = "SECS"
    )]
    pub call_ring_secs: Option<u64>,
}

/// The `[calls]` table of `beckon.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCalls {
    ice_servers: Option<Vec<String>>,
    turn_secret: Option<String>,
    turn_ttl_secs: Option<u64>,
    call_ring_secs: Option<u64>,
}

/// One STUN or TURN server, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    /// The URL as browsers take it.
    pub url: String,
    /// A TURN server (`turn:` or `turns:`), which needs credentials.
    pub turn: bool,
}

/// Resolved call settings.
#[derive(Clone)]
pub struct CallSettings {
    /// STUN and TURN servers, in the order given.
    pub ice_servers: Vec<IceServer>,
    /// The TURN shared secret (set whenever a TURN server is).
    pub turn_secret: Option<String>,
    /// Lifetime of minted TURN credentials.
    pub turn_ttl: std::time::Duration,
    /// How long a call rings.
    pub ring: std::time::Duration,
}

impl std::fmt::Debug for CallSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSettings")
            .field("ice_servers", &self.ice_servers)
            .field(
                "turn_secret",
                &self.turn_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("turn_ttl", &self.turn_ttl)
            .field("ring", &self.ring)
            .finish()
    }
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            ice_servers: Vec::new(),
            turn_secret: None,
            turn_ttl: std::time::Duration::from_secs(3600),
            ring: std::time::Duration::from_secs(30),
        }
    }
}

impl IceServer {
    /// Checks one URL: a `stun:`, `stuns:`, `turn:` or `turns:` URL with a host.
    fn parse(raw: &str) -> Result<IceServer, ConfigError> {
        let url = raw.trim();
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| invalid("ice-servers", format!("{url:?} has no scheme")))?;
        let turn = match scheme {
            "stun" | "stuns" => false,
            "turn" | "turns" => true,
            _ => {
                return Err(invalid(
                    "ice-servers",
                    format!("{url:?}: the scheme must be stun:, stuns:, turn: or turns:"),
                ))
            }
        };
        let host = rest.split(['?', ':']).next().unwrap_or("");
        if host.is_empty() || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("ice-servers", format!("{url:?} has no host")));
        }
        Ok(IceServer {
            url: url.to_owned(),
            turn,
        })
    }
}

impl CallSettings {
    /// Merges flags and the `[calls]` table with the defaults.
    pub fn resolve(args: &CallArgs, file: FileCalls) -> Result<CallSettings, ConfigError> {
        let ice_servers = args
            .ice_servers
            .clone()
            .or(file.ice_servers)
            .unwrap_or_default()
            .iter()
            .filter(|u| !u.trim().is_empty())
            .map(|u| IceServer::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        let turn_secret = args
            .turn_secret
            .clone()
            .or(file.turn_secret)
            .filter(|s| !s.is_empty());
        if turn_secret.is_none() && ice_servers.iter().any(|s| s.turn) {
            return Err(invalid(
                "turn-secret",
                "a TURN server is configured (--ice-servers) but no --turn-secret to mint its credentials",
            ));
        }
        let turn_ttl_secs = args.turn_ttl_secs.or(file.turn_ttl_secs).unwrap_or(3600);
        if !(60..=86_400).contains(&turn_ttl_secs) {
            return Err(invalid("turn-ttl-secs", "must be between 60 and 86400"));
        }
        let ring_secs = args.call_ring_secs.or(file.call_ring_secs).unwrap_or(30);
        if !(1..=600).contains(&ring_secs) {
            return Err(invalid("call-ring-secs", "must be between 1 and 600"));
        }
        Ok(CallSettings {
            ice_servers,
            turn_secret,
            turn_ttl: std::time::Duration::from_secs(turn_ttl_secs),
            ring: std::time::Duration::from_secs(ring_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(servers: &[&str], secret: Option<&str>) -> CallArgs {
        CallArgs {
            ice_servers: Some(servers.iter().map(|s| (*s).to_owned()).collect()),
            turn_secret: secret.map(str::to_owned),
            ..CallArgs::default()
        }
    }

    #[test]
    fn servers_are_checked_and_turn_needs_a_secret() {
        let s = CallSettings::resolve(
            &args(
                &[
                    "stun:stun.example.com:3478",
                    "turn:127.0.0.1:3478?transport=udp",
                ],
                Some("s3cret"),
            ),
            FileCalls::default(),
        )
        .expect("valid");
        assert_eq!(s.ice_servers.len(), 2);
        assert!(!s.ice_servers[0].turn && s.ice_servers[1].turn);
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "the secret is redacted"
        );

        let err = CallSettings::resolve(&args(&["turn:t.example.com"], None), FileCalls::default())
            .expect_err("refused");
        assert_eq!(err.setting, "turn-secret");
        for bad in ["http://x", "stun:", "turn:a b", "nothing"] {
            assert!(
                CallSettings::resolve(&args(&[bad], Some("s")), FileCalls::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn ring_and_ttl_have_bounds() {
        let mut a = CallArgs {
            call_ring_secs: Some(0),
            ..CallArgs::default()
        };
        assert!(CallSettings::resolve(&a, FileCalls::default()).is_err());
        a.call_ring_secs = Some(5);
        a.turn_ttl_secs = Some(10);
        assert!(CallSettings::resolve(&a, FileCalls::default()).is_err());
        a.turn_ttl_secs = None;
        let s = CallSettings::resolve(&a, FileCalls::default()).expect("valid");
        assert_eq!(s.ring.as_secs(), 5);
        assert_eq!(s.turn_ttl.as_secs(), 3600);
    }
}
