//! `storm`: N guests connected, then all of them reconnect at the same moment (as after a network
//! blip or a server restart); how long until every one is back, and errors on the way. With
//! `rounds` above one the storm repeats, and the server's memory is read before the first storm,
//! after each one, and after every guest has left, to show whether memory comes back.

use std::time::{Duration, Instant};

use serde_json::json;

use super::settle;
use crate::loadgen::proc::{listen_overflows, rss_anon_kib, rss_kib};
use crate::loadgen::stats::{Bound, Targets};
use crate::loadgen::worker::{max, sum};
use crate::loadgen::Env;

/// Parameters of `storm`.
#[derive(Debug, Clone)]
pub struct StormOpts {
    /// Guests that reconnect.
    pub guests: usize,
    /// Storms in a row (the timing figures are the first storm's).
    pub rounds: usize,
    /// How long to wait before each memory reading, so the server's periodic heap trim (every
    /// 10 s) has run.
    pub memory_settle: Duration,
}

/// The server's resident and anonymous memory at one moment, in KiB.
fn memory(pid: Option<u32>) -> serde_json::Value {
    json!({"rss_kib": pid.and_then(rss_kib), "anon_kib": pid.and_then(rss_anon_kib)})
}

/// Runs `storm`.
pub async fn run(env: &Env, opts: &StormOpts) -> anyhow::Result<serde_json::Value> {
    let pid = env.server_pid;
    let before_guests = memory(pid);
    let mut workers = env.spawn_workers(opts.guests)?;
    let added = workers.add(opts.guests).await?;
    let held = sum(&added, "held");
    let setup_errors = sum(&added, "setup_errors");
    settle(Duration::from_secs(1).max(opts.memory_settle)).await;
    let before_storms = memory(pid);
    let overflows_before = listen_overflows();
    let started = Instant::now();
    let storm = workers.each(|_| "reconnect".to_owned()).await?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let listen_overflows = overflows_before
        .zip(listen_overflows())
        .map(|(before, after)| after.saturating_sub(before));
    settle(Duration::from_secs(1).max(opts.memory_settle)).await;
    let mut after_each_storm = vec![memory(pid)];
    let mut later_lost = 0;
    let mut later_errors = 0;
    for _ in 1..opts.rounds.max(1) {
        let again = workers.each(|_| "reconnect".to_owned()).await?;
        later_lost += sum(&again, "lost");
        later_errors += sum(&again, "reconnect_errors");
        settle(opts.memory_settle).await;
        after_each_storm.push(memory(pid));
    }
    let report = workers.each(|_| "report".to_owned()).await?;
    let processes = workers.len();
    workers.stop().await?;
    // Guests' sockets close as the workers exit; give the server the time it takes to notice.
    settle(Duration::from_secs(3).max(opts.memory_settle)).await;
    let after_guests_left = memory(pid);

    let back = sum(&storm, "back");
    let lost = sum(&storm, "lost");
    let reconnect_errors = sum(&storm, "reconnect_errors");
    let dropped = sum(&report, "dropped");
    let errors = setup_errors + reconnect_errors + lost + dropped + later_lost + later_errors;
    let mut targets = Targets::default();
    targets.check("reconnected", Some(back as f64), Bound::AtLeast, 10_000.0);
    targets.check("all_back_ms", Some(elapsed_ms), Bound::AtMost, 5000.0);
    targets.check("errors", Some(errors as f64), Bound::AtMost, 0.0);
    Ok(targets.into_result(json!({
        "scenario": "storm",
        "guests": opts.guests,
        "processes": processes,
        "held_before": held,
        "reconnected": back,
        "gave_up": lost,
        "all_back_ms": elapsed_ms.round(),
        "slowest_worker_ms": max(&storm, "elapsed_ms").round(),
        "setup_errors": setup_errors,
        "reconnect_errors": reconnect_errors,
        "dropped_after": dropped,
        "guest_retries": sum(&report, "guest_retries"),
        "errors": errors,
        "listen_queue_overflows": listen_overflows,
        "rounds": opts.rounds.max(1),
        "server_memory": {
            "before_guests": before_guests,
            "before_storms": before_storms,
            "after_each_storm": after_each_storm,
            "after_guests_left": after_guests_left,
        },
    })))
}
