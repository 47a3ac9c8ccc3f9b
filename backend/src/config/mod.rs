//! Settings: flags, then `BECKON_*` environment variables, then an optional `beckon.toml`, then
//! defaults; parsed once into [`Settings`] at start-up.

mod calls;
mod floods;
mod outbound;

pub use calls::{CallSettings, IceServer};
pub use floods::{FloodSettings, Pacing};
pub use outbound::{OutboundSettings, SmsSettings, SmtpSettings, SmtpTls};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

/// Every setting, as flags and environment variables. All optional here: [`Settings::resolve`]
/// merges them with the config file and the defaults.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// Config file (TOML) with any of the settings below, by their long names with `_` for `-`.
    /// Default: ./beckon.toml when it exists.
    #[arg(long, env = "BECKON_CONFIG", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Address and port to listen on. Default: 127.0.0.1:8080.
    #[arg(long, env = "BECKON_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Public base URL that browsers use to reach Beckon (used in links, embed codes and cookie
    /// security). Default: http:// plus the listen address.
    #[arg(long, env = "BECKON_BASE_URL", global = true, value_name = "URL")]
    pub base_url: Option<Url>,

    /// Data directory: the SQLite database, attachments and the mail outbox. Default: ./beckon-data.
    #[arg(long, env = "BECKON_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database URL: `postgres://user@host/db` for PostgreSQL, or a SQLite file path. Also read from
    /// DATABASE_URL. Default: SQLite at DATA_DIR/beckon.db.
    #[arg(long, env = "BECKON_DATABASE_URL", global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Redis URL (`redis://host:6379`): turns on cluster mode, where several nodes share one
    /// PostgreSQL database and Redis carries events between them. Default: one node, no Redis.
    #[arg(long, env = "BECKON_REDIS_URL", global = true, value_name = "URL")]
    pub redis_url: Option<Url>,

    /// Maximum pooled database connections. Default: 16.
    #[arg(long, env = "BECKON_DB_POOL_SIZE", global = true, value_name = "N")]
    pub db_pool_size: Option<u32>,

    /// How long a request waits for the database (a pooled connection, SQLite's write lock) before
    /// it is answered as retryable (HTTP 503 with Retry-After, socket error `unavailable`), in
    /// milliseconds. Default: 3000.
    #[arg(long, env = "BECKON_DB_TIMEOUT_MS", global = true, value_name = "MS")]
    pub db_timeout_ms: Option<u64>,

    /// Proxies (IP or CIDR, comma-separated) whose X-Forwarded-For header is trusted for the client
    /// address. Default: none, so the peer address is used.
    #[arg(
        long,
        env = "BECKON_TRUSTED_PROXIES",
        global = true,
        value_delimiter = ',',
        value_name = "CIDR",
        value_parser = parse_proxy
    )]
    pub trusted_proxies: Option<Vec<IpNet>>,

    /// Console sessions end after this many minutes without a request. Default: 480.
    #[arg(
        long,
        env = "BECKON_SESSION_IDLE_MINUTES",
        global = true,
        value_name = "MIN"
    )]
    pub session_idle_minutes: Option<i64>,

    /// Console sessions end this many hours after login, however active. Default: 168.
    #[arg(
        long,
        env = "BECKON_SESSION_MAX_HOURS",
        global = true,
        value_name = "H"
    )]
    pub session_max_hours: Option<i64>,

    /// How long the first-run setup link stays valid, in minutes. Default: 1440.
    #[arg(
        long,
        env = "BECKON_SETUP_LINK_MINUTES",
        global = true,
        value_name = "MIN"
    )]
    pub setup_link_minutes: Option<i64>,

    /// Login attempts allowed per client address per minute. Default: 10.
    #[arg(
        long,
        env = "BECKON_LOGIN_ATTEMPTS_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub login_attempts_per_minute: Option<u32>,

    /// Seconds to let open requests finish on SIGTERM before exiting. Default: 10.
    #[arg(
        long,
        env = "BECKON_SHUTDOWN_TIMEOUT_SECS",
        global = true,
        value_name = "S"
    )]
    pub shutdown_timeout_secs: Option<u64>,

    /// Active guest ids one client address (IPv4, or IPv6 /64) may hold at once. Default: 20.
    #[arg(
        long,
        env = "BECKON_MAX_GUESTS_PER_IP",
        global = true,
        value_name = "N"
    )]
    pub max_guests_per_ip: Option<u32>,

    /// Visitor sockets one guest may hold open at once (one per tab). Default: 16.
    #[arg(
        long,
        env = "BECKON_MAX_SOCKETS_PER_GUEST",
        global = true,
        value_name = "N"
    )]
    pub max_sockets_per_guest: Option<u32>,

    /// Visitor sockets one client address (IPv4, or IPv6 /64) may hold open at once. Default: 256.
    #[arg(
        long,
        env = "BECKON_MAX_SOCKETS_PER_IP",
        global = true,
        value_name = "N"
    )]
    pub max_sockets_per_ip: Option<u32>,

    /// New guest ids one client address may obtain per minute. Default: 30.
    #[arg(
        long,
        env = "BECKON_GUESTS_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub guests_per_minute: Option<u32>,

    /// A guest id with no activity for this many minutes is deactivated. Default: 30.
    #[arg(
        long,
        env = "BECKON_GUEST_IDLE_MINUTES",
        global = true,
        value_name = "MIN"
    )]
    pub guest_idle_minutes: Option<i64>,

    /// Page views held in memory waiting to be written; beyond it beacons get 503. Default: 20000.
    #[arg(long, env = "BECKON_PAGEVIEW_BUFFER", global = true, value_name = "N")]
    pub pageview_buffer: Option<usize>,

    /// Page views are written in one transaction per this many milliseconds. Default: 200.
    #[arg(
        long,
        env = "BECKON_PAGEVIEW_FLUSH_MS",
        global = true,
        value_name = "MS"
    )]
    pub pageview_flush_ms: Option<u64>,

    /// Largest attachment accepted, in bytes. Default: 10485760 (10 MiB).
    #[arg(
        long,
        env = "BECKON_ATTACHMENT_MAX_BYTES",
        global = true,
        value_name = "BYTES"
    )]
    pub attachment_max_bytes: Option<usize>,

    /// Log filter, in tracing's EnvFilter syntax. Default: info.
    #[arg(long, env = "BECKON_LOG", global = true, value_name = "FILTER")]
    pub log: Option<String>,

    /// Email, SMS, webhooks and availability.
    #[command(flatten)]
    pub outbound: outbound::OutboundArgs,

    /// Flood limits of the chat.
    #[command(flatten)]
    pub floods: floods::FloodArgs,

    /// Calls: ICE servers, TURN credentials, ringing.
    #[command(flatten)]
    pub calls: calls::CallArgs,
}

/// The same settings as read from `beckon.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    base_url: Option<Url>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    redis_url: Option<Url>,
    db_pool_size: Option<u32>,
    db_timeout_ms: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    session_idle_minutes: Option<i64>,
    session_max_hours: Option<i64>,
    setup_link_minutes: Option<i64>,
    login_attempts_per_minute: Option<u32>,
    shutdown_timeout_secs: Option<u64>,
    max_guests_per_ip: Option<u32>,
    max_sockets_per_guest: Option<u32>,
    max_sockets_per_ip: Option<u32>,
    guests_per_minute: Option<u32>,
    guest_idle_minutes: Option<i64>,
    pageview_buffer: Option<usize>,
    pageview_flush_ms: Option<u64>,
    attachment_max_bytes: Option<usize>,
    log: Option<String>,
    #[serde(default)]
    outbound: outbound::FileOutbound,
    #[serde(default)]
    floods: floods::FileFloods,
    #[serde(default)]
    calls: calls::FileCalls,
}

/// A setting that cannot be used, with the reason. Printed as one line at start-up.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{setting}`: {reason}")]
pub struct ConfigError {
    /// The setting's long name.
    pub setting: &'static str,
    /// Why it is refused.
    pub reason: String,
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        reason: reason.into(),
    }
}

/// The resolved, checked settings Beckon runs with.
#[derive(Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Public base URL, without a trailing slash in links.
    pub base_url: Url,
    /// Whether the base URL was given (if not, it follows the actually bound port).
    pub base_url_explicit: bool,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The database URL (a secret: may hold a password).
    pub database_url: String,
    /// Redis URL (a secret: may hold a password); `Some` is cluster mode.
    pub redis_url: Option<Url>,
    /// Pool size.
    pub db_pool_size: u32,
    /// How long a request waits for the database before it is answered as retryable.
    pub db_timeout: std::time::Duration,
    /// Trusted reverse proxies.
    pub trusted_proxies: Vec<IpNet>,
    /// Console session idle timeout.
    pub session_idle: chrono::Duration,
    /// Console session absolute lifetime.
    pub session_max: chrono::Duration,
    /// Setup link lifetime.
    pub setup_link_ttl: chrono::Duration,
    /// Login attempts per client address per minute.
    pub login_attempts_per_minute: u32,
    /// Graceful shutdown timeout in seconds.
    pub shutdown_timeout_secs: u64,
    /// Active guest ids per client address.
    pub max_guests_per_ip: u32,
    /// Open visitor sockets per guest.
    pub max_sockets_per_guest: u32,
    /// Open visitor sockets per client address (IPv6 /64).
    pub max_sockets_per_ip: u32,
    /// New guest ids per client address per minute.
    pub guests_per_minute: u32,
    /// Guest inactivity before deactivation.
    pub guest_idle: chrono::Duration,
    /// Capacity of the page-view write-behind buffer.
    pub pageview_buffer: usize,
    /// Page-view flush interval.
    pub pageview_flush: std::time::Duration,
    /// Largest attachment in bytes.
    pub attachment_max_bytes: usize,
    /// Log filter.
    pub log: String,
    /// Email, SMS, webhooks and availability.
    pub outbound: OutboundSettings,
    /// Flood limits of the chat.
    pub floods: FloodSettings,
    /// Calls.
    pub calls: CallSettings,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("base_url", &self.base_url.as_str())
            .field("data_dir", &self.data_dir)
            .field("database", &redact_url(&self.database_url))
            .field(
                "redis",
                &self.redis_url.as_ref().map(|u| redact_url(u.as_str())),
            )
            .field("db_pool_size", &self.db_pool_size)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

/// One trusted proxy: a network in CIDR notation, or a single address (a /32 or /128).
fn parse_proxy(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{raw:?} is neither an IP address nor a CIDR network"))
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Settings {
    /// Merges flags/environment (`args`), the config file and the defaults, and checks the result.
    /// `database_url_env` is the plain `DATABASE_URL` variable, used after `BECKON_DATABASE_URL`.
    pub fn resolve(
        args: &SettingsArgs,
        database_url_env: Option<String>,
    ) -> Result<Settings, ConfigError> {
        let file = load_file(args.config.as_deref())?;
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let explicit_base = args.base_url.clone().or(file.base_url);
        let base_url_explicit = explicit_base.is_some();
        let base_url = match explicit_base {
            Some(url) => url,
            None => base_url_for(listen),
        };
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(invalid("base-url", "must be an http:// or https:// URL"));
        }
        if base_url.path() != "/" || base_url.query().is_some() {
            return Err(invalid(
                "base-url",
                "must not have a path or query (Beckon serves from the root of its host)",
            ));
        }
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("beckon-data"));
        let database_url = args
            .database_url
            .clone()
            .or(database_url_env.filter(|s| !s.is_empty()))
            .or(file.database_url)
            .unwrap_or_else(|| data_dir.join("beckon.db").to_string_lossy().into_owned());
        if database_url.trim().is_empty() {
            return Err(invalid("database-url", "must not be empty"));
        }
        if database_url.contains("://")
            && !["postgres://", "postgresql://", "sqlite://"]
                .iter()
                .any(|p| database_url.starts_with(p))
        {
            return Err(invalid(
                "database-url",
                "must start with postgres://, postgresql:// or sqlite://, or be a file path",
            ));
        }
        let redis_url = args.redis_url.clone().or(file.redis_url);
        if let Some(url) = &redis_url {
            if !matches!(url.scheme(), "redis" | "rediss") || url.host().is_none() {
                return Err(invalid(
                    "redis-url",
                    "must be a redis:// or rediss:// URL with a host",
                ));
            }
            if !database_url.starts_with("postgres://")
                && !database_url.starts_with("postgresql://")
            {
                return Err(invalid(
                    "redis-url",
                    "cluster mode needs PostgreSQL (--database-url postgres://...): a SQLite file belongs to one process",
                ));
            }
        }
        let db_pool_size = args.db_pool_size.or(file.db_pool_size).unwrap_or(16);
        if !(1..=1000).contains(&db_pool_size) {
            return Err(invalid("db-pool-size", "must be between 1 and 1000"));
        }
        let db_timeout_ms = args.db_timeout_ms.or(file.db_timeout_ms).unwrap_or(3000);
        if !(100..=60_000).contains(&db_timeout_ms) {
            return Err(invalid("db-timeout-ms", "must be between 100 and 60000"));
        }
        let minutes = |setting, v: i64, max: i64| {
            if (1..=max).contains(&v) {
                Ok(v)
            } else {
                Err(invalid(setting, format!("must be between 1 and {max}")))
            }
        };
        let session_idle = minutes(
            "session-idle-minutes",
            args.session_idle_minutes
                .or(file.session_idle_minutes)
                .unwrap_or(480),
            60 * 24 * 365,
        )?;
        let session_max = minutes(
            "session-max-hours",
            args.session_max_hours
                .or(file.session_max_hours)
                .unwrap_or(168),
            24 * 365,
        )?;
        let setup_link = minutes(
            "setup-link-minutes",
            args.setup_link_minutes
                .or(file.setup_link_minutes)
                .unwrap_or(1440),
            60 * 24 * 30,
        )?;
        let login_attempts_per_minute = args
            .login_attempts_per_minute
            .or(file.login_attempts_per_minute)
            .unwrap_or(10);
        if login_attempts_per_minute == 0 {
            return Err(invalid("login-attempts-per-minute", "must be at least 1"));
        }
        let max_guests_per_ip = args
            .max_guests_per_ip
            .or(file.max_guests_per_ip)
            .unwrap_or(20);
        if max_guests_per_ip == 0 {
            return Err(invalid("max-guests-per-ip", "must be at least 1"));
        }
        let max_sockets_per_guest = args
            .max_sockets_per_guest
            .or(file.max_sockets_per_guest)
            .unwrap_or(16);
        if max_sockets_per_guest == 0 {
            return Err(invalid("max-sockets-per-guest", "must be at least 1"));
        }
        let max_sockets_per_ip = args
            .max_sockets_per_ip
            .or(file.max_sockets_per_ip)
            .unwrap_or(256);
        if max_sockets_per_ip == 0 {
            return Err(invalid("max-sockets-per-ip", "must be at least 1"));
        }
        let guests_per_minute = args
            .guests_per_minute
            .or(file.guests_per_minute)
            .unwrap_or(30);
        if guests_per_minute == 0 {
            return Err(invalid("guests-per-minute", "must be at least 1"));
        }
        let guest_idle = minutes(
            "guest-idle-minutes",
            args.guest_idle_minutes
                .or(file.guest_idle_minutes)
                .unwrap_or(30),
            60 * 24 * 30,
        )?;
        let pageview_buffer = args
            .pageview_buffer
            .or(file.pageview_buffer)
            .unwrap_or(20_000);
        if !(1..=10_000_000).contains(&pageview_buffer) {
            return Err(invalid("pageview-buffer", "must be between 1 and 10000000"));
        }
        let pageview_flush_ms = args
            .pageview_flush_ms
            .or(file.pageview_flush_ms)
            .unwrap_or(200);
        if !(1..=60_000).contains(&pageview_flush_ms) {
            return Err(invalid("pageview-flush-ms", "must be between 1 and 60000"));
        }
        let attachment_max_bytes = args
            .attachment_max_bytes
            .or(file.attachment_max_bytes)
            .unwrap_or(10 * 1024 * 1024);
        if !(1..=1024 * 1024 * 1024).contains(&attachment_max_bytes) {
            return Err(invalid(
                "attachment-max-bytes",
                "must be between 1 and 1073741824",
            ));
        }
        let log = args
            .log
            .clone()
            .or(file.log)
            .unwrap_or_else(|| "info".to_owned());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log) {
            return Err(invalid("log", e.to_string()));
        }
        // An address literal makes a poor mail domain: default senders then use `localhost`.
        let base_host = match base_url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            _ => "localhost".to_owned(),
        };
        let outbound = OutboundSettings::resolve(&args.outbound, file.outbound, &base_host)?;
        let floods = FloodSettings::resolve(&args.floods, file.floods)?;
        let calls = CallSettings::resolve(&args.calls, file.calls)?;
        let trusted_proxies = match (&args.trusted_proxies, file.trusted_proxies) {
            (Some(nets), _) => nets.clone(),
            (None, Some(raw)) => raw
                .iter()
                .map(|p| parse_proxy(p).map_err(|e| invalid("trusted_proxies", e)))
                .collect::<Result<_, _>>()?,
            (None, None) => Vec::new(),
        };
        Ok(Settings {
            listen,
            base_url,
            base_url_explicit,
            data_dir,
            database_url,
            redis_url,
            db_pool_size,
            db_timeout: std::time::Duration::from_millis(db_timeout_ms),
            trusted_proxies,
            session_idle: chrono::Duration::minutes(session_idle),
            session_max: chrono::Duration::hours(session_max),
            setup_link_ttl: chrono::Duration::minutes(setup_link),
            login_attempts_per_minute,
            shutdown_timeout_secs: args
                .shutdown_timeout_secs
                .or(file.shutdown_timeout_secs)
                .unwrap_or(10),
            max_guests_per_ip,
            max_sockets_per_guest,
            max_sockets_per_ip,
            guests_per_minute,
            guest_idle: chrono::Duration::minutes(guest_idle),
            pageview_buffer,
            pageview_flush: std::time::Duration::from_millis(pageview_flush_ms),
            attachment_max_bytes,
            log,
            outbound,
            floods,
            calls,
        })
    }

    /// The base URL as a string without the trailing slash, for building links.
    pub fn base(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// Whether cookies must be `Secure` (the public URL is https).
    pub fn cookies_secure(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// After binding to port 0, makes the default base URL follow the real port.
    pub fn adopt_bound_address(&mut self, bound: SocketAddr) {
        self.listen = bound;
        if !self.base_url_explicit {
            self.base_url = base_url_for(bound);
        }
    }
}

fn base_url_for(addr: SocketAddr) -> Url {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        }
    };
    // Built from a socket address, so it always parses; the fallback only keeps this total.
    Url::parse(&format!("http://{host}:{}/", addr.port()))
        .unwrap_or_else(|_| Url::parse("http://127.0.0.1:8080/").expect("constant URL parses"))
}

fn load_file(path: Option<&Path>) -> Result<FileSettings, ConfigError> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("beckon.toml"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(FileSettings::default())
        }
        Err(e) => {
            return Err(invalid(
                "config",
                format!("cannot read {}: {e}", path.display()),
            ))
        }
    };
    toml::from_str(&text).map_err(|e| {
        invalid(
            "config",
            format!("{}: {}", path.display(), e.message().replace('\n', " ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_serve_sqlite_on_localhost() {
        let s = Settings::resolve(&SettingsArgs::default(), None).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.base(), "http://127.0.0.1:8080");
        assert_eq!(
            s.database_url,
            PathBuf::from("beckon-data")
                .join("beckon.db")
                .to_string_lossy()
        );
        assert!(!s.cookies_secure());
    }

    #[test]
    fn trusted_proxies_take_addresses_and_networks() {
        assert_eq!(
            parse_proxy("127.0.0.1"),
            Ok("127.0.0.1/32".parse::<IpNet>().unwrap())
        );
        assert_eq!(parse_proxy("::1"), Ok("::1/128".parse::<IpNet>().unwrap()));
        assert_eq!(
            parse_proxy("10.0.0.0/8"),
            Ok("10.0.0.0/8".parse::<IpNet>().unwrap())
        );
        assert!(parse_proxy("proxy.local").is_err());
    }

    #[test]
    fn cluster_mode_needs_postgres() {
        let redis = Some(Url::parse("redis://127.0.0.1:6379").unwrap());
        let sqlite = SettingsArgs {
            redis_url: redis.clone(),
            ..Default::default()
        };
        let e = Settings::resolve(&sqlite, None).unwrap_err();
        assert_eq!(e.setting, "redis-url");
        assert!(e.reason.contains("PostgreSQL"), "{e}");
        let pg = SettingsArgs {
            redis_url: redis,
            database_url: Some("postgres://u:pw@db/beckon".into()),
            ..Default::default()
        };
        let s = Settings::resolve(&pg, None).unwrap();
        assert!(s.redis_url.is_some());
        let not_redis = SettingsArgs {
            redis_url: Some(Url::parse("http://x/").unwrap()),
            database_url: Some("postgres://db/beckon".into()),
            ..Default::default()
        };
        assert_eq!(
            Settings::resolve(&not_redis, None).unwrap_err().setting,
            "redis-url"
        );
    }

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\ndb_pool_size = 3\n").unwrap();
        let args = SettingsArgs {
            config: Some(path),
            db_pool_size: Some(5),
            ..Default::default()
        };
        let s = Settings::resolve(&args, None).unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.db_pool_size, 5);
    }

    #[test]
    fn invalid_settings_name_the_setting() {
        let args = SettingsArgs {
            session_idle_minutes: Some(0),
            ..Default::default()
        };
        let err = Settings::resolve(&args, None).unwrap_err();
        assert_eq!(err.setting, "session-idle-minutes");

        let args = SettingsArgs {
            database_url: Some("mysql://x".into()),
            ..Default::default()
        };
        assert_eq!(
            Settings::resolve(&args, None).unwrap_err().setting,
            "database-url"
        );
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let args = SettingsArgs {
            config: Some(path),
            ..Default::default()
        };
        let err = Settings::resolve(&args, None).unwrap_err();
        assert_eq!(err.setting, "config");
        assert!(err.reason.contains("lisen"), "{}", err.reason);
    }

    #[test]
    fn database_password_is_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
