//! `beacon`: page views per second over C kept-alive connections, each a guest reporting page
//! views back to back (the most the server takes), or on a fixed schedule (`--rate`: the latency
//! at that load); p50/p99 latency and errors. Also [`PageViewFlow`], a steady background
//! rate of page views for the other scenarios.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::loadgen::guest::{obtain, page_view, Guest};
use crate::loadgen::http::HttpConn;
use crate::loadgen::net::Sources;
use crate::loadgen::proc::{CpuMeter, StealMeter};
use crate::loadgen::stats::{self, Bound, Latencies, Targets};
use crate::loadgen::target::Target;
use crate::loadgen::Env;

/// Parameters of `beacon`.
#[derive(Debug, Clone)]
pub struct BeaconOpts {
    /// Concurrent connections (one guest each).
    pub connections: usize,
    /// Total page views per second, spread evenly over the connections; `None` sends back to back.
    /// Back to back, C connections cannot see a mean latency below C / throughput (Little's law),
    /// so latency targets are measured at a set rate.
    pub rate: Option<f64>,
    /// Measured time.
    pub duration: Duration,
    /// Unmeasured time before it (connections warm, buffers sized).
    pub warmup: Duration,
}

/// Opens `n` connections over `sources`, each with a fresh guest, `concurrency` at a time.
async fn guests_with_connections(
    target: &Arc<Target>,
    sources: &Sources,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<(HttpConn, Guest)>> {
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let setups: Vec<_> = (0..n)
        .map(|_| {
            let mut http = HttpConn::new(sources.next(), target.server);
            let (target, gate) = (target.clone(), gate.clone());
            tokio::spawn(async move {
                let _permit = gate.acquire().await?;
                let guest = obtain(&mut http, &target).await?;
                anyhow::Ok((http, guest))
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for s in setups {
        out.push(s.await.context("guest setup task")??);
    }
    Ok(out)
}

/// Runs `beacon`.
pub async fn run(env: &Env, opts: &BeaconOpts) -> anyhow::Result<serde_json::Value> {
    let sources = env.parent_sources();
    let conns =
        guests_with_connections(&env.target, &sources, opts.connections, env.concurrency).await?;
    let start = Instant::now() + Duration::from_millis(50);
    let measure_from = start + opts.warmup;
    let end = measure_from + opts.duration;
    let connections = opts.connections.max(1);
    let period = opts
        .rate
        .map(|rate| Duration::from_secs_f64(connections as f64 / rate.max(1.0)));
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, (mut http, guest))| {
            let target = env.target.clone();
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut lags = Latencies::default();
                let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
                let mut free_since = Instant::now();
                for k in 0u64.. {
                    // Latency counts from when the page view was due, not when it could be sent:
                    // a slow answer delays the next ones, and that wait is the server's too. On a
                    // schedule, the connections' turns are spread evenly over one period.
                    let (sent, lag) = match period {
                        Some(p) => {
                            let due = start + p.mul_f64(k as f64 + i as f64 / connections as f64);
                            tokio::time::sleep_until(due.into()).await;
                            // The generator's own lateness (tokio's timers fire on whole
                            // milliseconds), when the connection was free in time.
                            (due, (free_since <= due).then(|| due.elapsed()))
                        }
                        None => (Instant::now(), None),
                    };
                    if sent >= end {
                        break;
                    }
                    let url = format!("https://shop.example/p/{}", (i as u64 + k + 1) % 50);
                    let status = page_view(&mut http, &target, &guest.token, &url).await;
                    free_since = Instant::now();
                    if sent >= measure_from {
                        latencies.record(free_since - sent);
                        if let Some(lag) = lag {
                            lags.record(lag);
                        }
                        let key = match status {
                            Ok(s) => s.to_string(),
                            Err(_) => "io_error".to_owned(),
                        };
                        *statuses.entry(key).or_default() += 1;
                    }
                }
                (latencies, lags, statuses)
            })
        })
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu = CpuMeter::start(env.server_pid);
    let own_cpu = CpuMeter::start(Some(std::process::id()));
    let steal = StealMeter::start();
    tokio::time::sleep_until(end.into()).await;
    let (server_cpu, generator_cpu) = (cpu.percent(), own_cpu.percent());
    let machine_steal = steal.percent();
    let mut latencies = Latencies::default();
    let mut lags = Latencies::default();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for t in tasks {
        let (l, lag, s) = t.await?;
        latencies.merge(l);
        lags.merge(lag);
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
    }
    let accepted = statuses.get("202").copied().unwrap_or(0);
    let errors: u64 = statuses
        .iter()
        .filter(|(k, _)| k.as_str() != "202")
        .map(|(_, v)| v)
        .sum();
    let per_sec = accepted as f64 / opts.duration.as_secs_f64();
    let summary = latencies.summary();
    let mut targets = Targets::default();
    // At a set rate, 1 % slack for the schedule's edges.
    let wanted = if opts.rate.is_some() {
        24_750.0
    } else {
        25_000.0
    };
    targets.check("page_views_per_sec", Some(per_sec), Bound::AtLeast, wanted);
    targets.check("p99_ms", summary["p99_ms"].as_f64(), Bound::AtMost, 10.0);
    targets.check("errors", Some(errors as f64), Bound::AtMost, 0.0);
    Ok(targets.into_result(json!({
        "scenario": "beacon",
        "connections": opts.connections,
        "rate": opts.rate,
        "duration_secs": opts.duration.as_secs_f64(),
        "page_views_per_sec": per_sec.round(),
        "accepted": accepted,
        "errors": errors,
        "statuses": statuses,
        "latency": summary,
        // How late the generator itself started requests it could have sent on time (at a set
        // rate). It is included in `latency`; large, it says the machine is too busy to measure.
        "generator_lag": opts.rate.map(|_| lags.summary()),
        "server_cpu_percent": server_cpu.map(f64::round),
        "generator_cpu_percent": generator_cpu.map(f64::round),
        "machine_steal_percent": machine_steal.map(stats::round1),
    })))
}

/// A steady rate of page views in the background, from a few kept-alive connections.
pub struct PageViewFlow {
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What a [`PageViewFlow`] achieved.
#[derive(Debug, Clone, Copy)]
pub struct FlowResult {
    /// Page views answered 202 per second.
    pub per_sec: f64,
    /// Anything else.
    pub errors: u64,
}

impl PageViewFlow {
    /// Starts `rate` page views per second (nothing for 0) over `connections` connections
    /// (their guests set up `concurrency` at a time).
    pub async fn start(
        target: &Arc<Target>,
        sources: &Sources,
        rate: f64,
        connections: usize,
        concurrency: usize,
    ) -> anyhow::Result<PageViewFlow> {
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        if rate > 0.0 {
            let conns = guests_with_connections(target, sources, connections, concurrency).await?;
            let period = Duration::from_secs_f64(connections as f64 / rate);
            for (i, (mut http, guest)) in conns.into_iter().enumerate() {
                let (target, stop) = (target.clone(), stop.clone());
                let (accepted, errors) = (accepted.clone(), errors.clone());
                // Spread the connections' ticks over one period.
                let first =
                    tokio::time::Instant::now() + period.mul_f64(i as f64 / connections as f64);
                tasks.push(tokio::spawn(async move {
                    let mut tick = tokio::time::interval_at(first, period);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        tick.tick().await;
                        n += 1;
                        let url = format!("https://shop.example/flow/{}", n % 50);
                        match page_view(&mut http, &target, &guest.token, &url).await {
                            Ok(202) => accepted.fetch_add(1, Ordering::Relaxed),
                            _ => errors.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                }));
            }
        }
        Ok(PageViewFlow {
            stop,
            accepted,
            errors,
            started: Instant::now(),
            tasks,
        })
    }

    /// Stops the flow; what it achieved.
    pub async fn stop(self) -> FlowResult {
        self.stop.store(true, Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        for t in self.tasks {
            let _ = t.await;
        }
        FlowResult {
            per_sec: self.accepted.load(Ordering::Relaxed) as f64 / secs.max(0.001),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}
