//! `idle`: N guests each obtain a guest id, send a page view and hold the presence socket. The
//! server's memory per connection is the slope of its resident size between N/2 and N guests.

use std::time::{Duration, Instant};

use serde_json::json;

use super::settle;
use crate::loadgen::proc::{rss_anon_kib, rss_kib};
use crate::loadgen::stats::{Bound, Targets};
use crate::loadgen::worker::sum;
use crate::loadgen::Env;

/// Parameters of `idle`.
#[derive(Debug, Clone)]
pub struct IdleOpts {
    /// Guests to connect.
    pub guests: usize,
    /// How long to hold them all before checking that none was dropped.
    pub hold: Duration,
}

/// Runs `idle`.
pub async fn run(env: &Env, opts: &IdleOpts) -> anyhow::Result<serde_json::Value> {
    let pid = env.server_pid;
    let rss_start = pid.and_then(rss_kib);
    let mut workers = env.spawn_workers(opts.guests)?;
    let half = opts.guests / 2;
    let started = Instant::now();
    let first = workers.add(half).await?;
    settle(Duration::from_secs(2)).await;
    let (held_half, rss_half) = (sum(&first, "held"), pid.and_then(rss_kib));
    let anon_half = pid.and_then(rss_anon_kib);
    let second = workers.add(opts.guests - half).await?;
    let setup_secs = started.elapsed().as_secs_f64() - 2.0;
    settle(Duration::from_secs(2)).await;
    let (held_full, rss_full) = (sum(&second, "held"), pid.and_then(rss_kib));
    let anon_full = pid.and_then(rss_anon_kib);
    tokio::time::sleep(opts.hold).await;
    let report = workers.each(|_| "report".to_owned()).await?;
    let processes = workers.len();
    workers.stop().await?;

    let held_after_hold = sum(&report, "held");
    let setup_errors = sum(&report, "setup_errors");
    let dropped = sum(&report, "dropped");
    let errors = setup_errors + dropped;
    let slope = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if held_full > held_half => {
            Some((b as f64 - a as f64) * 1024.0 / (held_full - held_half) as f64)
        }
        _ => None,
    };
    let bytes_per_connection = slope(rss_half, rss_full);
    let anon_bytes_per_connection = slope(anon_half, anon_full);
    let mut targets = Targets::default();
    targets.check(
        "guests_held",
        Some(held_after_hold as f64),
        Bound::AtLeast,
        19_000.0,
    );
    targets.check(
        "server_bytes_per_connection",
        bytes_per_connection,
        Bound::AtMost,
        8192.0,
    );
    targets.check("errors", Some(errors as f64), Bound::AtMost, 0.0);
    Ok(targets.into_result(json!({
        "scenario": "idle",
        "guests": opts.guests,
        "processes": processes,
        "hold_secs": opts.hold.as_secs_f64(),
        "guests_held": held_after_hold,
        "setup_errors": setup_errors,
        "dropped": dropped,
        "guest_retries": sum(&report, "guest_retries"),
        "errors": errors,
        "setup_secs": (setup_secs * 10.0).round() / 10.0,
        "guests_per_sec": (held_full as f64 / setup_secs.max(0.001)).round(),
        "server_rss_kib": {"start": rss_start, "half": rss_half, "full": rss_full},
        "server_anon_kib": {"half": anon_half, "full": anon_full},
        "server_bytes_per_connection": bytes_per_connection.map(f64::round),
        "server_anon_bytes_per_connection": anon_bytes_per_connection.map(f64::round),
    })))
}
