//! A private TURN server per test: Debian's `turnserver` (coturn) on a free UDP and TCP port of
//! 127.0.0.1, in a scratch directory of its own, checking credentials by the TURN REST API
//! shared-secret scheme Beckon mints them with (`use-auth-secret`, see [`TurnCredentials`]).
//!
//! Unlike a deployment (`deploy/coturn.conf`) it relays to loopback peers (`allow-loopback-peers`),
//! because the browsers of a call test and the peers of [`crate::turn_client`] all live on
//! 127.0.0.1. It takes no TLS, no DTLS and no CLI, and its relay ports are a 1000-port window
//! picked at random in 40000–59999, so tests running side by side seldom contend for them.
//! [`Coturn::start_with_config`] runs a deployment's settings instead, with only the addresses,
//! ports and files changed, to check what that configuration lets through.
//!
//! The configuration is a file in the scratch directory, passed with `-c`, so the machine's
//! /etc/turnserver.conf is never read; the log, pid file and (empty) SQLite user database are
//! written there too. The secret is given on the command line (`--static-auth-secret`), as
//! `deploy/compose.yaml` gives it. The binary is `BECKON_TURNSERVER`, else `turnserver` on `PATH` (Debian:
//! `apt-get install coturn`); without it the suite is skipped through [`crate::require::skip`]
//! (a failure under `BECKON_TEST_REQUIRE=coturn`).
//!
//! Starting and stopping block the calling thread briefly (until the server answers a STUN
//! BINDING over UDP and accepts TCP connections, at most [`READY_TIMEOUT`]).

use std::fmt::Write as _;
use std::hash::{BuildHasher as _, Hasher as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::Mac as _;

use crate::redis_server::{find_program, read_log};
use crate::require::{self, Service};
use crate::turn_client;

/// Longest wait for a started server to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The realm the server names in its challenges.
pub const REALM: &str = "beckon.test";

/// A `turnserver` process owned by one test; killed when dropped.
pub struct Coturn {
    port: u16,
    relay_ports: RangeInclusive<u16>,
    /// Empty when started without one.
    secret: String,
    /// What the server is told besides where to listen and write (see [`Coturn::config`]).
    settings: String,
    /// Configuration, log, pid file and user database; removed when dropped.
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Coturn {
    /// Starts a TURN server on a free port that accepts credentials minted with `secret`, and waits
    /// until it serves; `None` (after [`require::skip`]) when `turnserver` is not installed.
    /// Panics when it is installed but does not come up, with its log.
    pub fn start(suite: &str, secret: &str) -> Option<Coturn> {
        Coturn::start_with_settings(suite, &test_settings(), Some(secret))
    }

    /// Starts a TURN server with the settings of `config` (the text of a coturn configuration
    /// file, such as `deploy/coturn.conf`), changed only where a test must: listening on a free
    /// port of 127.0.0.1 (no TLS or DTLS), relaying from 127.0.0.1 on a window of its own, writing
    /// its files in the scratch directory. `secret`, when given, is passed as compose passes it
    /// (`--static-auth-secret`); coturn adds it to any secret `config` holds. As
    /// [`Coturn::start`] for a missing or broken `turnserver`.
    pub fn start_with_config(suite: &str, config: &str, secret: Option<&str>) -> Option<Coturn> {
        Coturn::start_with_settings(suite, config, secret)
    }

    fn start_with_settings(suite: &str, settings: &str, secret: Option<&str>) -> Option<Coturn> {
        let Some(binary) = find_program("BECKON_TURNSERVER", "turnserver") else {
            require::skip(
                Service::Coturn,
                suite,
                "no turnserver (apt-get install coturn, or set BECKON_TURNSERVER)",
            );
            return None;
        };
        // A port free a moment ago may be taken before the server binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let window_start = 40_000 + 1_000 * (random_u64() % 20) as u16;
            let mut server = Coturn {
                port: free_udp_and_tcp_port(),
                relay_ports: window_start..=window_start + 999,
                secret: secret.unwrap_or_default().to_owned(),
                settings: settings.to_owned(),
                dir: tempfile::tempdir().expect("temp dir for turnserver"),
                child: None,
            };
            match server.spawn_and_wait(&binary) {
                Ok(()) => return Some(server),
                Err(e) => last_error = e,
            }
        }
        panic!("{suite}: turnserver did not start: {last_error}");
    }

    /// Its port on 127.0.0.1 (UDP and TCP).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `turn:127.0.0.1:PORT?transport=udp`, for `--ice-servers` and `RTCConfiguration.iceServers`.
    pub fn url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// `turn:127.0.0.1:PORT?transport=tcp`: the same server over TCP.
    pub fn tcp_url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=tcp", self.port)
    }

    /// The shared secret (`--static-auth-secret`) it was started with; empty when none.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The ports its relays are allocated on (`min-port`..=`max-port`).
    pub fn relay_ports(&self) -> RangeInclusive<u16> {
        self.relay_ports.clone()
    }

    /// Credentials for `id` valid for `ttl` from now, minted with this server's secret.
    pub fn credentials(&self, id: &str, ttl: Duration) -> TurnCredentials {
        let expiry = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            + ttl;
        TurnCredentials::mint(&self.secret, expiry.as_secs(), id)
    }

    /// Whether it answers a STUN BINDING over UDP now (one attempt, a short timeout).
    pub fn answers_binding(&self) -> bool {
        turn_client::binding(self.address(), Duration::from_millis(300)).is_ok()
    }

    /// The last lines of its log (allocations, refused credentials with the reason, denied peers),
    /// for failure messages.
    pub fn log(&self) -> String {
        read_log(&self.log_path())
    }

    /// The lines of its whole log in which it reports a configuration it could not take (an
    /// unknown option, an address it cannot parse); its warnings are not among them.
    pub fn configuration_errors(&self) -> Vec<String> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("Bad configuration") || line.contains("ERROR"))
            .map(str::to_owned)
            .collect()
    }

    /// Kills the server and waits until it has exited, so its port no longer answers.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("turnserver.log")
    }

    /// Writes the configuration, runs `turnserver` on it and waits until it answers a BINDING over
    /// UDP and accepts a TCP connection; on failure the process is gone and the error carries its
    /// log and console output.
    fn spawn_and_wait(&mut self, binary: &Path) -> Result<(), String> {
        let conf = self.dir.path().join("turnserver.conf");
        std::fs::write(&conf, self.config())
            .map_err(|e| format!("write {}: {e}", conf.display()))?;
        // What it prints before its log is open (an option it does not know, a port it cannot
        // bind) goes here.
        let console_path = self.dir.path().join("console.log");
        let console = std::fs::File::create(&console_path)
            .map_err(|e| format!("create {}: {e}", console_path.display()))?;
        let console_err = console
            .try_clone()
            .map_err(|e| format!("clone {}: {e}", console_path.display()))?;
        let mut command = Command::new(binary);
        command.arg("-c").arg(&conf);
        if !self.secret.is_empty() {
            command.arg(format!("--static-auth-secret={}", self.secret));
        }
        let child = command
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console_err)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        self.child = Some(child);
        let logs = |server: &Coturn| {
            format!(
                "log: {}\nconsole: {}",
                server.log(),
                read_log(&console_path)
            )
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self.answers_binding()
                && TcpStream::connect_timeout(&self.address(), Duration::from_millis(300)).is_ok()
            {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(format!("exited ({status}); {}", logs(self)));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "not serving on {} within {READY_TIMEOUT:?}; {}",
                    self.address(),
                    logs(self)
                ));
            }
            std::thread::sleep(crate::poll::INTERVAL);
        }
    }

    /// The configuration file: the settings, then where to listen and write. For options that
    /// take one value the last line wins, so these lines override the settings' own.
    fn config(&self) -> String {
        let d = self.dir.path().display();
        let mut c = self.settings.clone();
        let _ = write!(
            c,
            "
# --- Added by the test harness: one port of 127.0.0.1, files in a scratch directory ---
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port={port}
min-port={min}
max-port={max}
no-tls
no-dtls
log-file={d}/turnserver.log
simple-log
no-stdout-log
pidfile={d}/turnserver.pid
# Else it opens /var/lib/turn/turndb; the REST API scheme needs no users in it.
userdb={d}/turndb.sqlite
",
            port = self.port,
            min = self.relay_ports.start(),
            max = self.relay_ports.end(),
        );
        c
    }
}

/// The settings of [`Coturn::start`]: REST API credentials in realm [`REALM`], loopback peers
/// allowed, a verbose log.
fn test_settings() -> String {
    format!(
        "use-auth-secret
realm={REALM}
fingerprint
# Both ends of a test's call are on 127.0.0.1, which coturn refuses to relay to by default.
allow-loopback-peers
no-multicast-peers
no-cli
# NAT behaviour discovery would want a second address (and answers with more than it is asked).
no-rfc5780
# Sessions, refused credentials (with the reason) and denied peers, for failure messages.
verbose
"
    )
}

impl Drop for Coturn {
    fn drop(&mut self) {
        self.stop();
    }
}

/// TURN credentials by the TURN REST API scheme coturn implements (`use-auth-secret`): username
/// `EXPIRY:ID` (EXPIRY in Unix seconds), credential `base64(HMAC-SHA1(secret, username))`.
///
/// The harness's own rendering of the scheme, independent of Beckon's, so a test can mint what a
/// correct server would and compare, or hand coturn credentials Beckon never saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnCredentials {
    /// `EXPIRY:ID`.
    pub username: String,
    /// The TURN password: base64 (standard, padded) of the HMAC-SHA1 of the username.
    pub credential: String,
}

impl TurnCredentials {
    /// Credentials for `id` that expire at `expiry_unix_secs`, signed with `secret`.
    pub fn mint(secret: &str, expiry_unix_secs: u64, id: &str) -> TurnCredentials {
        let username = format!("{expiry_unix_secs}:{id}");
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(username.as_bytes());
        let credential =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        TurnCredentials {
            username,
            credential,
        }
    }
}

/// A port on 127.0.0.1 free for both TCP and UDP a moment ago (TURN listens on both).
fn free_udp_and_tcp_port() -> u16 {
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP on 127.0.0.1");
}

/// A random number from the standard library's per-process hash keys (enough to spread relay
/// windows; nothing depends on it being unpredictable).
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}
