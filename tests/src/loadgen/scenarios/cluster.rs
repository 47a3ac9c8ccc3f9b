//! `cluster` (issue #16): the `chat` load over several nodes that share one PostgreSQL database,
//! with Redis as the bus between them. Each conversation's guest is on node i and the console that
//! answers it on node (i + 1) % n, so every message crosses from one node to another through
//! Redis. Measures that cross-node latency, counts every message lost or delivered twice, and reads
//! the CPU per message of the nodes together and of Redis (compare the nodes' figure with `chat`'s
//! `server_cpu_us_per_message` at the same load: the difference is what the bus costs).

use std::sync::Arc;

use anyhow::bail;
use serde_json::Value;

use super::chat::{check_common, exchange, ChatOpts, ProcessCpu};
use crate::loadgen::cluster::wait_ready;
use crate::loadgen::stats::{self, Targets};
use crate::loadgen::target::Target;
use crate::loadgen::Env;

/// The nodes under load.
pub struct Nodes {
    /// One target per node (same site, same operator).
    pub targets: Vec<Arc<Target>>,
    /// Each node's process id, for CPU figures (none: left out).
    pub pids: Vec<Option<u32>>,
    /// The Redis server's process id, for its CPU figures.
    pub redis_pid: Option<u32>,
    /// Reads how many frames Redis has carried so far (a spawned Redis only).
    pub frames: Option<Box<dyn Fn() -> Option<u64> + Send + Sync>>,
}

/// Runs `cluster` with the same parameters as `chat`.
pub async fn run(env: &Env, nodes: &Nodes, opts: &ChatOpts) -> anyhow::Result<Value> {
    if nodes.targets.len() < 2 {
        bail!("a cluster needs at least two nodes");
    }
    for node in &nodes.targets {
        wait_ready(&node.base).await?;
    }
    let mut metered = nodes.pids.clone();
    metered.resize(nodes.targets.len(), None);
    metered.push(nodes.redis_pid);
    let none = || None;
    let frames: &(dyn Fn() -> Option<u64> + Sync) = match &nodes.frames {
        Some(f) => f.as_ref(),
        None => &none,
    };
    let mut x = exchange(env, &nodes.targets, &metered, frames, opts).await?;
    let redis = x.metered.pop().unwrap_or_default();
    let total = |figure: fn(&ProcessCpu) -> Option<f64>| {
        x.metered
            .iter()
            .map(figure)
            .sum::<Option<f64>>()
            .map(f64::round)
    };
    let nodes_cpu_percent: Vec<Option<f64>> = x
        .metered
        .iter()
        .map(|c| c.percent.map(f64::round))
        .collect();
    let (nodes_us, nodes_us_net, nodes_baseline) = (
        total(|c| c.us_per_message),
        total(|c| c.us_per_message_net),
        total(|c| c.baseline_percent),
    );
    let mut targets = Targets::default();
    check_common(&mut targets, &x);
    let mut result = x.figures("cluster", opts);
    result["nodes"] = nodes.targets.len().into();
    result["nodes_cpu_percent"] = nodes_cpu_percent.into();
    result["nodes_baseline_cpu_percent"] = nodes_baseline.into();
    result["nodes_cpu_us_per_message"] = nodes_us.into();
    result["nodes_cpu_us_per_message_net"] = nodes_us_net.into();
    result["redis_cpu_percent"] = redis.percent.map(f64::round).into();
    result["redis_cpu_us_per_message"] = redis.us_per_message.map(f64::round).into();
    if let Some(bus) = x.bus {
        result["bus_frames_per_message"] = stats::round1(bus.per_message).into();
        result["bus_frames_per_sec"] = bus.per_sec.round().into();
        result["bus_frames_per_sec_baseline"] = bus.baseline_per_sec.map(f64::round).into();
    }
    Ok(targets.into_result(result))
}
