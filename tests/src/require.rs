//! Required versus optional external services for a test run.

use std::io::Write as _;

/// A service some suites need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// PostgreSQL (`BECKON_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
    Postgres,
    /// Redis: Debian's `redis-server`, which [`crate::redis_server::RedisServer`] starts per test
    /// on a free port.
    Redis,
    /// Headless Chromium and chromedriver.
    Browser,
    /// nginx, which [`crate::nginx::Nginx`] starts per test in front of several nodes.
    Nginx,
    /// coturn's `turnserver`, which [`crate::coturn::Coturn`] starts per test as the TURN server
    /// of calls.
    Coturn,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Postgres => "pg",
            Service::Redis => "redis",
            Service::Browser => "browser",
            Service::Nginx => "nginx",
            Service::Coturn => "coturn",
        }
    }
}

/// Whether `BECKON_TEST_REQUIRE` (comma-separated: `pg`, `redis`, `browser`, `nginx`, `coturn`, or
/// `all`) lists it.
pub fn is_required(service: Service) -> bool {
    std::env::var("BECKON_TEST_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .any(|s| {
            s == service.name() || s == "all" || (s == "postgres" && service == Service::Postgres)
        })
}

/// Reports that `suite` cannot run because `service` is unavailable. Panics (failing the test) when
/// the service is required; otherwise prints a SKIPPED line straight to stderr, past the test
/// harness's output capture, so a plain `cargo test` shows what it did not check.
pub fn skip(service: Service, suite: &str, reason: &str) {
    if is_required(service) {
        panic!(
            "{suite}: {} is required by BECKON_TEST_REQUIRE but unavailable: {reason}",
            service.name()
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {suite}: {} unavailable ({reason}); set BECKON_TEST_REQUIRE={} to make this a failure",
        service.name(),
        service.name()
    );
}
