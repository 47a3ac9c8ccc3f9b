//! `console`: K operator consoles watch a site's live visitor list while guests arrive (page view,
//! presence socket) and leave (socket closed) at a steady rate. Staleness is the time from an
//! arrival or a leave to the change reaching each console; also the server's CPU meanwhile.
//!
//! A leave is shown once the visitor's last socket has been closed for the server's grace period
//! (3 s, so moving between pages does not flicker); `leave_after_grace` subtracts it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::loadgen::guest::{obtain, open_presence, page_view, Guest};
use crate::loadgen::http::{HttpConn, HttpPool};
use crate::loadgen::net::{self, Ws};
use crate::loadgen::proc::CpuMeter;
use crate::loadgen::stats::{Bound, Latencies, Targets};
use crate::loadgen::target::Target;
use crate::loadgen::Env;

/// How long the server keeps a visitor listed after the last socket closed.
const LEAVE_GRACE: Duration = Duration::from_secs(3);

/// Parameters of `console`.
#[derive(Debug, Clone)]
pub struct ConsoleOpts {
    /// Console tabs watching the site.
    pub consoles: usize,
    /// Arrivals plus leaves per second (half each).
    pub changes_per_sec: f64,
    /// How long guests keep arriving.
    pub duration: Duration,
    /// How long each guest stays.
    pub stay: Duration,
}

/// When one console saw each guest appear and disappear.
#[derive(Default)]
struct Seen {
    appeared: HashMap<String, Instant>,
    removed: HashMap<String, Instant>,
}

/// Runs `console`.
pub async fn run(env: &Env, opts: &ConsoleOpts) -> anyhow::Result<Value> {
    let target = env.target.clone();
    let sources = env.parent_sources();
    let errors = Arc::new(AtomicU64::new(0));
    let (stop_consoles, stop) = watch::channel(false);
    let mut consoles = Vec::new();
    for _ in 0..opts.consoles {
        let mut ws = net::ws_connect(
            sources.next(),
            target.server,
            &target.ws_url("/ws/console"),
            target.console_origin(),
            target.cookie.as_deref(),
        )
        .await?;
        net::send_json(
            &mut ws,
            &json!({"type": "watch", "site_id": target.site_id, "filter": {}, "offset": 0, "limit": 500}),
        )
        .await?;
        consoles.push(tokio::spawn(watch_console(
            ws,
            errors.clone(),
            stop.clone(),
        )));
    }

    // Guests are made beforehand: an arrival is its first page view and its socket.
    let arrivals = (opts.changes_per_sec / 2.0 * opts.duration.as_secs_f64()).ceil() as usize;
    let pool = Arc::new(HttpPool::new(target.server, sources));
    let mut guests = Vec::with_capacity(arrivals);
    let mut http = pool.take();
    for _ in 0..arrivals {
        guests.push(obtain(&mut http, &target).await?);
    }
    pool.give_back(http);

    let arrived_at = Arc::new(Mutex::new(HashMap::new()));
    let left_at = Arc::new(Mutex::new(HashMap::new()));
    let period = Duration::from_secs_f64(2.0 / opts.changes_per_sec);
    let mut tick = tokio::time::interval(period);
    let cpu = CpuMeter::start(env.server_pid);
    let mut visits = Vec::with_capacity(arrivals);
    for (i, guest) in guests.into_iter().enumerate() {
        tick.tick().await;
        let (target, pool, errors) = (target.clone(), pool.clone(), errors.clone());
        let (arrived_at, left_at, stay) = (arrived_at.clone(), left_at.clone(), opts.stay);
        visits.push(tokio::spawn(async move {
            match visit(&target, &pool, &guest, i, stay).await {
                Ok((arrived, left)) => {
                    lock(&arrived_at).insert(guest.guest_id.clone(), arrived);
                    lock(&left_at).insert(guest.guest_id, left);
                }
                Err(e) => {
                    if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("beckon-loadgen: console: visit failed: {e:#}");
                    }
                }
            }
        }));
    }
    for v in visits {
        v.await?;
    }
    let server_cpu = cpu.percent();
    // The last leaves show after the grace period and the next coalesced update.
    tokio::time::sleep(LEAVE_GRACE + Duration::from_secs(2)).await;
    let _ = stop_consoles.send(true);

    let arrived_at = std::mem::take(&mut *lock(&arrived_at));
    let left_at = std::mem::take(&mut *lock(&left_at));
    let (mut arrival, mut leave, mut leave_after_grace) = (
        Latencies::default(),
        Latencies::default(),
        Latencies::default(),
    );
    let (mut missed_arrivals, mut missed_leaves) = (0u64, 0u64);
    for c in consoles {
        let seen = c.await?;
        for (guest, at) in &arrived_at {
            match seen.appeared.get(guest) {
                Some(saw) => arrival.record(saw.saturating_duration_since(*at)),
                None => missed_arrivals += 1,
            }
        }
        for (guest, at) in &left_at {
            match seen.removed.get(guest) {
                Some(saw) => {
                    let stale = saw.saturating_duration_since(*at);
                    leave.record(stale);
                    leave_after_grace.record(stale.saturating_sub(LEAVE_GRACE));
                }
                None => missed_leaves += 1,
            }
        }
    }
    let errors = errors.load(Ordering::SeqCst);
    let (arrival, leave, after_grace) = (
        arrival.summary(),
        leave.summary(),
        leave_after_grace.summary(),
    );
    let mut targets = Targets::default();
    targets.check(
        "arrival_p99_ms",
        arrival["p99_ms"].as_f64(),
        Bound::AtMost,
        1500.0,
    );
    targets.check(
        "leave_after_grace_p99_ms",
        after_grace["p99_ms"].as_f64(),
        Bound::AtMost,
        1500.0,
    );
    targets.check(
        "missed",
        Some((missed_arrivals + missed_leaves) as f64),
        Bound::AtMost,
        0.0,
    );
    targets.check("errors", Some(errors as f64), Bound::AtMost, 0.0);
    Ok(targets.into_result(json!({
        "scenario": "console",
        "consoles": opts.consoles,
        "changes_per_sec": opts.changes_per_sec,
        "duration_secs": opts.duration.as_secs_f64(),
        "stay_ms": opts.stay.as_millis() as u64,
        "visits": arrived_at.len(),
        "arrival_staleness": arrival,
        "leave_staleness": leave,
        "leave_after_grace_staleness": after_grace,
        "missed_arrivals": missed_arrivals,
        "missed_leaves": missed_leaves,
        "errors": errors,
        "server_cpu_percent": server_cpu.map(f64::round),
    })))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One guest's visit: a page view and the socket (arrival), a stay, the socket closed (leave).
async fn visit(
    target: &Target,
    pool: &HttpPool,
    guest: &Guest,
    i: usize,
    stay: Duration,
) -> anyhow::Result<(Instant, Instant)> {
    let mut http: HttpConn = pool.take();
    let arrived = Instant::now();
    let status = page_view(
        &mut http,
        target,
        &guest.token,
        &format!("https://shop.example/c/{i}"),
    )
    .await;
    let source = http.source();
    pool.give_back(http);
    anyhow::ensure!(status? == 202, "page view refused");
    let mut ws: Ws = open_presence(source, target, &guest.token).await?;
    tokio::time::sleep(stay).await;
    let left = Instant::now();
    ws.close(None).await.context("close the socket")?;
    Ok((arrived, left))
}

/// Follows one console's list: when each guest first appeared and was removed.
async fn watch_console(
    mut ws: Ws,
    errors: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut guest_of: HashMap<String, String> = HashMap::new();
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = stop.changed() => break,
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            _ => {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("beckon-loadgen: console: a console socket closed");
                break;
            }
        };
        let now = Instant::now();
        let Ok(event) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let rows = match event["type"].as_str() {
            Some("snapshot") => &event["visitors"],
            Some("visitors") => &event["upserts"],
            Some("error") => {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("beckon-loadgen: console: {event}");
                continue;
            }
            _ => continue,
        };
        for row in rows.as_array().into_iter().flatten() {
            let (Some(id), Some(guest)) = (row["id"].as_str(), row["guest_id"].as_str()) else {
                continue;
            };
            guest_of.insert(id.to_owned(), guest.to_owned());
            seen.appeared.entry(guest.to_owned()).or_insert(now);
        }
        for id in event["removed"].as_array().into_iter().flatten() {
            if let Some(guest) = id.as_str().and_then(|id| guest_of.get(id)) {
                seen.removed.entry(guest.clone()).or_insert(now);
            }
        }
    }
    let _ = ws.close(None).await;
    seen
}
