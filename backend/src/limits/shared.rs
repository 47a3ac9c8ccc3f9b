//! Limits that hold across the nodes of a cluster: the node's own limiter decides first, then Redis
//! counts the event for every node at once, with the same GCRA and the same numbers. Redis only
//! tightens: while it is away or slow each node falls back to its own limit (N nodes then allow N
//! times as much, as before cluster mode), and no request ever fails because of Redis.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::KeyedLimit;

/// How long a request waits for Redis's verdict before the node decides alone.
const REDIS_TIMEOUT: Duration = Duration::from_millis(200);
/// After Redis failed to answer, the node decides alone this long without asking again, so an
/// outage (or a Redis that hangs) costs the requests meanwhile nothing.
const DECIDE_ALONE_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// The fallback warning is logged at most this often (with how many checks fell back meanwhile).
const WARN_EVERY: Duration = Duration::from_secs(60);

/// GCRA as governor runs it in memory (`gcra.rs`), on the Redis server's clock so the nodes' clocks
/// need not agree. KEYS[1] holds the theoretical arrival time in microseconds and expires when it
/// has passed (a key back at rest is the same as no key), so Redis holds only active clients.
/// ARGV[1] is the emission interval, ARGV[2] the tolerance (interval × (burst − 1)), both in
/// microseconds. Returns 0 when the event is allowed, else the microseconds to wait.
///
/// Sent with `EVAL` rather than `redis::Script` (which needs the crate's `script` feature and a SHA-1
/// dependency): these limits guard rare requests, and Redis caches the compiled script anyway.
const GCRA_SCRIPT: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if now < tat - tolerance then
  return tat - tolerance - now
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return 0
";

/// A rate with a burst, in the units the GCRA script takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// One event per this many microseconds, sustained.
    interval_us: u64,
    /// Events allowed at once by a client that was quiet.
    burst: u32,
}

impl Rate {
    /// `n` a minute, all of them at once (governor's `Quota::per_minute`).
    pub fn per_minute(n: u32) -> Rate {
        Rate::per_period(60_000_000, n)
    }

    /// `n` an hour, all of them at once (governor's `Quota::per_hour`).
    pub fn per_hour(n: u32) -> Rate {
        Rate::per_period(3_600_000_000, n)
    }

    fn per_period(period_us: u64, n: u32) -> Rate {
        let n = n.max(1);
        Rate {
            // At least 1 µs: a zero interval would make the script's expiry zero, which Redis refuses.
            interval_us: (period_us / u64::from(n)).max(1),
            burst: n,
        }
    }

    /// How far ahead of now the theoretical arrival time may run: the burst beyond the first event.
    fn tolerance_us(&self) -> u64 {
        self.interval_us * u64::from(self.burst - 1)
    }
}

/// One GCRA step, exactly what [`GCRA_SCRIPT`] does: its model, so the arithmetic is tested without
/// Redis. Given the stored theoretical arrival time (`None`: no key) and now, `Ok(next)` to store,
/// or `Err(wait)`, all in microseconds.
#[cfg(test)]
fn gcra_step(tat: Option<u64>, now: u64, rate: Rate) -> Result<u64, u64> {
    let tat = tat.unwrap_or(now).max(now);
    let earliest = tat.saturating_sub(rate.tolerance_us());
    if now < earliest {
        return Err(earliest - now);
    }
    Ok(tat + rate.interval_us)
}

/// The Redis key of one limit's client key.
fn redis_key(limit: &str, key: &str) -> String {
    format!("beckon:limit:{limit}:{key}")
}

/// The Redis side of the shared limits: one reconnecting connection for all of them (attached once
/// it exists, so start-up never waits for Redis) and the node's view of whether Redis answers.
pub struct RedisLimits {
    conn: OnceLock<redis::aio::ConnectionManager>,
    health: Mutex<Health>,
}

impl Default for RedisLimits {
    fn default() -> Self {
        RedisLimits::new()
    }
}

impl RedisLimits {
    /// Not connected yet: every check falls back to the node's own limit until [`Self::attach`].
    pub fn new() -> RedisLimits {
        RedisLimits {
            conn: OnceLock::new(),
            health: Mutex::new(Health::default()),
        }
    }

    /// Hands over the connection (the first one stays; it reconnects by itself).
    pub fn attach(&self, conn: redis::aio::ConnectionManager) {
        if self.conn.set(conn).is_ok() {
            tracing::info!("shared limits: counting in Redis for every node");
        }
    }

    /// Whether a connection was attached.
    pub fn connected(&self) -> bool {
        self.conn.get().is_some()
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one event in Redis; `Err(wait)` when the cluster is over the limit. Any trouble with
    /// Redis allows the event (the node's own limit already did).
    async fn check(&self, limit: &str, key: &str, rate: Rate) -> Result<(), Duration> {
        let Some(conn) = self.conn.get() else {
            self.health()
                .fell_back(Instant::now(), "not connected to Redis yet", false);
            return Ok(());
        };
        if !self.health().may_ask(Instant::now()) {
            return Ok(());
        }
        let mut conn = conn.clone();
        let mut eval = redis::cmd("EVAL");
        eval.arg(GCRA_SCRIPT)
            .arg(1)
            .arg(redis_key(limit, key))
            .arg(rate.interval_us)
            .arg(rate.tolerance_us());
        let verdict = tokio::time::timeout(REDIS_TIMEOUT, eval.query_async::<i64>(&mut conn)).await;
        match verdict {
            Ok(Ok(wait_us)) => {
                self.health().answered();
                match u64::try_from(wait_us) {
                    Ok(wait_us) if wait_us > 0 => Err(Duration::from_micros(wait_us)),
                    _ => Ok(()),
                }
            }
            Ok(Err(e)) => {
                self.health()
                    .fell_back(Instant::now(), &e.to_string(), true);
                Ok(())
            }
            Err(_) => {
                let reason = format!("no answer within {} ms", REDIS_TIMEOUT.as_millis());
                self.health().fell_back(Instant::now(), &reason, true);
                Ok(())
            }
        }
    }
}

/// Whether Redis answered lately, and the throttle of the warnings when it did not.
#[derive(Debug, Default)]
struct Health {
    /// Until then, decide alone without asking.
    alone_until: Option<Instant>,
    /// Checks that fell back since the last warning.
    fallbacks: u64,
    last_warning: Option<Instant>,
    /// A fallback happened since Redis last answered (so its return is worth a line).
    failing: bool,
}

impl Health {
    /// Whether to ask Redis now; a check not asked counts as a fallback.
    fn may_ask(&mut self, now: Instant) -> bool {
        match self.alone_until {
            Some(until) if now < until => {
                self.fallbacks += 1;
                false
            }
            _ => true,
        }
    }

    /// A check fell back to the node's own limit because of `reason`; `pause`: Redis failed, so
    /// leave it alone for a moment. Returns whether a warning was logged.
    fn fell_back(&mut self, now: Instant, reason: &str, pause: bool) -> bool {
        self.fallbacks += 1;
        self.failing = true;
        if pause {
            self.alone_until = Some(now + DECIDE_ALONE_AFTER_FAILURE);
        }
        let due = self
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= WARN_EVERY);
        if due {
            tracing::warn!(
                reason,
                fallbacks = self.fallbacks,
                "shared limits: Redis unavailable; each node applies its own limits meanwhile"
            );
            self.last_warning = Some(now);
            self.fallbacks = 0;
        }
        due
    }

    /// Redis answered.
    fn answered(&mut self) {
        self.alone_until = None;
        if self.failing {
            self.failing = false;
            tracing::info!("shared limits: Redis answers again; limits hold across nodes");
        }
    }
}

/// A limit per client key that holds across the cluster when Redis is there, and per node
/// otherwise: the node's own [`KeyedLimit`] first (a refused request never costs a round trip), then
/// the same rate counted in Redis.
pub struct SharedLimit {
    name: &'static str,
    local: KeyedLimit,
    rate: Rate,
    redis: Option<Arc<RedisLimits>>,
}

impl SharedLimit {
    /// `per_minute` events per key per minute, all of them in a burst; `name` is its part of the
    /// Redis key; `redis` is `None` on a single node.
    pub fn per_minute(
        name: &'static str,
        per_minute: u32,
        redis: Option<Arc<RedisLimits>>,
    ) -> SharedLimit {
        SharedLimit {
            name,
            local: KeyedLimit::per_minute(per_minute),
            rate: Rate::per_minute(per_minute),
            redis,
        }
    }

    /// `per_hour` events per key per hour, all of them in a burst.
    pub fn per_hour(
        name: &'static str,
        per_hour: u32,
        redis: Option<Arc<RedisLimits>>,
    ) -> SharedLimit {
        SharedLimit {
            name,
            local: KeyedLimit::per_hour(per_hour),
            rate: Rate::per_hour(per_hour),
            redis,
        }
    }

    /// Counts one event for `key`; `Err(wait)` when over the limit, on this node or in the cluster.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        self.local.check(key)?;
        match &self.redis {
            Some(redis) => redis.check(self.name, key, self.rate).await,
            None => Ok(()),
        }
    }

    /// Forgets the node's recovered keys (Redis expires its own).
    pub fn forget_idle_keys(&self) {
        self.local.forget_idle_keys();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `events` (microsecond times) through [`gcra_step`]; which were allowed.
    fn run(rate: Rate, events: &[u64]) -> Vec<bool> {
        let mut tat = None;
        events
            .iter()
            .map(|&now| match gcra_step(tat, now, rate) {
                Ok(next) => {
                    tat = Some(next);
                    true
                }
                Err(_) => false,
            })
            .collect()
    }

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        let rate = Rate::per_minute(3);
        let t0 = 1_700_000_000_000_000;
        // Three at once, the fourth refused; 20 s later (60 s / 3) one more, not two.
        let events = [t0, t0, t0, t0, t0 + 20_000_000, t0 + 20_000_000];
        assert_eq!(run(rate, &events), [true, true, true, false, true, false]);
    }

    #[test]
    fn the_wait_is_until_the_next_cell() {
        let rate = Rate::per_minute(2);
        let t0 = 5_000_000;
        let tat = gcra_step(None, t0, rate).unwrap();
        let tat = gcra_step(Some(tat), t0, rate).unwrap();
        assert_eq!(gcra_step(Some(tat), t0, rate), Err(30_000_000));
        assert_eq!(gcra_step(Some(tat), t0 + 10_000_000, rate), Err(20_000_000));
        assert!(gcra_step(Some(tat), t0 + 30_000_000, rate).is_ok());
    }

    #[test]
    fn a_stale_arrival_time_is_no_debt() {
        // A key whose time has passed (as Redis expires it) is the same as no key.
        let rate = Rate::per_hour(10);
        let now = 10_000_000_000;
        assert_eq!(gcra_step(Some(1), now, rate), gcra_step(None, now, rate));
    }

    #[test]
    fn agrees_with_the_node_local_limit() {
        // The same numbers: governor allows as many at once as the shared step does.
        for n in [1, 3, 10] {
            let local = KeyedLimit::per_minute(n);
            let local_allowed = (0..n + 2).filter(|_| local.check("k").is_ok()).count();
            let now = 1_000_000;
            let shared_allowed = run(Rate::per_minute(n), &vec![now; (n + 2) as usize])
                .into_iter()
                .filter(|&ok| ok)
                .count();
            assert_eq!(local_allowed, shared_allowed, "per minute {n}");
            assert_eq!(shared_allowed, n as usize);
        }
        assert_eq!(Rate::per_minute(0), Rate::per_minute(1));
        assert_eq!(Rate::per_hour(10).interval_us, 360_000_000);
    }

    #[test]
    fn keys_are_namespaced_per_limit() {
        assert_eq!(
            redis_key("login", "192.0.2.1"),
            "beckon:limit:login:192.0.2.1"
        );
        assert_ne!(redis_key("login", "k"), redis_key("guest", "k"));
    }

    #[test]
    fn fallbacks_warn_rarely_and_pause_asking() {
        let mut health = Health::default();
        let t0 = Instant::now();
        assert!(health.may_ask(t0));
        assert!(health.fell_back(t0, "down", true));
        // Asked again only after the pause; the checks meanwhile are counted, not logged.
        assert!(!health.may_ask(t0 + Duration::from_millis(500)));
        assert!(health.may_ask(t0 + DECIDE_ALONE_AFTER_FAILURE));
        assert!(!health.fell_back(t0 + Duration::from_secs(2), "down", true));
        assert_eq!(health.fallbacks, 2);
        assert!(health.fell_back(t0 + WARN_EVERY, "down", true));
        assert_eq!(health.fallbacks, 0);
        health.answered();
        assert!(!health.failing);
        assert!(health.may_ask(t0 + WARN_EVERY));
    }

    #[tokio::test]
    async fn without_redis_the_node_limit_applies() {
        let single = SharedLimit::per_minute("t", 2, None);
        assert!(single.check("a").await.is_ok());
        assert!(single.check("a").await.is_ok());
        assert!(single.check("a").await.is_err());
        // Cluster mode before Redis was reached: the same, and nothing waits.
        let clustered = SharedLimit::per_minute("t", 2, Some(Arc::new(RedisLimits::new())));
        assert!(clustered.check("a").await.is_ok());
        assert!(clustered.check("a").await.is_ok());
        assert!(clustered.check("a").await.is_err());
        assert!(clustered.check("b").await.is_ok());
    }
}
