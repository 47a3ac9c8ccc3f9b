//! `storm`: N guests connected, then all of them reconnect at the same moment (as after a network
//! blip or a server restart); how long until every one is back, and errors on the way.

use std::time::{Duration, Instant};

use serde_json::json;

use super::settle;
use crate::loadgen::proc::listen_overflows;
use crate::loadgen::stats::{Bound, Targets};
use crate::loadgen::worker::{max, sum};
use crate::loadgen::Env;

/// Parameters of `storm`.
#[derive(Debug, Clone)]
pub struct StormOpts {
    /// Guests that reconnect.
    pub guests: usize,
}

/// Runs `storm`.
pub async fn run(env: &Env, opts: &StormOpts) -> anyhow::Result<serde_json::Value> {
    let mut workers = env.spawn_workers(opts.guests)?;
    let added = workers.add(opts.guests).await?;
    let held = sum(&added, "held");
    let setup_errors = sum(&added, "setup_errors");
    settle(Duration::from_secs(1)).await;
    let overflows_before = listen_overflows();
    let started = Instant::now();
    let storm = workers.each(|_| "reconnect".to_owned()).await?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let listen_overflows = overflows_before
        .zip(listen_overflows())
        .map(|(before, after)| after.saturating_sub(before));
    settle(Duration::from_secs(1)).await;
    let report = workers.each(|_| "report".to_owned()).await?;
    let processes = workers.len();
    workers.stop().await?;

    let back = sum(&storm, "back");
    let lost = sum(&storm, "lost");
    let reconnect_errors = sum(&storm, "reconnect_errors");
    let dropped = sum(&report, "dropped");
    let errors = setup_errors + reconnect_errors + lost + dropped;
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
    })))
}
