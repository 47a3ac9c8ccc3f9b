//! `chat`: M conversations, each a guest's presence socket and an operator's console socket
//! sending each other messages, while idle guests are connected (in worker processes) and page
//! views flow. Measures send-to-receipt latency on the other side and counts every message lost
//! or delivered twice. `exchange` runs the same over several nodes for `cluster`.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use super::beacon::PageViewFlow;
use crate::loadgen::guest::{arrive, STEP_TIMEOUT};
use crate::loadgen::http::HttpConn;
use crate::loadgen::net::{self, Ws};
use crate::loadgen::proc::{CpuMeter, StealMeter};
use crate::loadgen::stats::{self, Bound, Latencies, Targets};
use crate::loadgen::target::Target;
use crate::loadgen::worker::sum;
use crate::loadgen::Env;

/// Parameters of `chat` (and of `cluster`, which runs the same load over several nodes).
#[derive(Debug, Clone)]
pub struct ChatOpts {
    /// Concurrent conversations.
    pub conversations: usize,
    /// Messages each side of each conversation sends.
    pub messages: usize,
    /// Time between two messages of one side.
    pub interval: Duration,
    /// Idle guests connected meanwhile.
    pub idle: usize,
    /// Page views per second meanwhile.
    pub page_views_per_sec: f64,
    /// How long the server's CPU is read with the background load alone (idle guests and page
    /// views, conversations open but silent) before the messages start; zero skips it.
    pub baseline: Duration,
}

/// What both sides of every conversation share.
#[derive(Default)]
struct Tally {
    sent_at: Mutex<HashMap<String, Instant>>,
    sent: AtomicU64,
    received: AtomicU64,
    duplicated: AtomicU64,
    acks: AtomicU64,
    errors: AtomicU64,
}

impl Tally {
    fn error(&self, what: &str) {
        if self.errors.fetch_add(1, Ordering::Relaxed) < 3 {
            eprintln!("beckon-loadgen: chat: {what}");
        }
    }
}

/// Runs `chat`.
pub async fn run(env: &Env, opts: &ChatOpts) -> anyhow::Result<Value> {
    let nodes = std::slice::from_ref(&env.target);
    let mut x = exchange(env, nodes, &[env.server_pid], &|| None, opts).await?;
    let mut targets = Targets::default();
    targets.check("p50_ms", x.latency["p50_ms"].as_f64(), Bound::AtMost, 5.0);
    check_common(&mut targets, &x);
    let server = x.metered.remove(0);
    let mut result = x.figures("chat", opts);
    result["server_cpu_percent"] = server.percent.map(f64::round).into();
    result["server_cpu_us_per_message"] = server.us_per_message.map(f64::round).into();
    result["server_cpu_us_per_message_net"] = server.us_per_message_net.map(f64::round).into();
    Ok(targets.into_result(result))
}

/// The CPU one process used while the messages were sent.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProcessCpu {
    /// Percent of one core.
    pub percent: Option<f64>,
    /// CPU microseconds per message sent.
    pub us_per_message: Option<f64>,
    /// The same less what the background load alone cost over as long (with a baseline).
    pub us_per_message_net: Option<f64>,
    /// Percent of one core during the baseline, with the background load alone.
    pub baseline_percent: Option<f64>,
}

/// Frames published on the bus between nodes while the messages were sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BusFrames {
    /// Frames per message sent (every kind of frame, heartbeats and live-list changes included).
    pub per_message: f64,
    /// Frames per second.
    pub per_sec: f64,
    /// Frames per second during the baseline, with the background load alone.
    pub baseline_per_sec: Option<f64>,
}

/// What a run of conversations measured; shared by `chat` and `cluster`.
pub(crate) struct Exchange {
    sent: u64,
    received: u64,
    duplicated: u64,
    acks: u64,
    errors: u64,
    messages_per_sec: f64,
    /// Latency percentiles (`stats::Latencies::summary`).
    pub latency: Value,
    idle_held: u64,
    idle_errors: u64,
    guest_retries: u64,
    page_views_per_sec: f64,
    page_view_errors: u64,
    /// The CPU of each process of `metered`, in order.
    pub metered: Vec<ProcessCpu>,
    /// Frames on the bus between nodes, where there is one.
    pub bus: Option<BusFrames>,
    generator_cpu: Option<f64>,
    steal: Option<f64>,
}

impl Exchange {
    /// Messages not received 30 s after the last send.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// The figures every conversation scenario reports, as JSON.
    pub fn figures(&self, scenario: &str, opts: &ChatOpts) -> Value {
        json!({
            "scenario": scenario,
            "conversations": opts.conversations,
            "messages_per_side": opts.messages,
            "interval_ms": opts.interval.as_millis() as u64,
            "messages_per_sec": self.messages_per_sec.round(),
            "sent": self.sent,
            "received": self.received,
            "acks": self.acks,
            "lost": self.lost(),
            "duplicated": self.duplicated,
            "errors": self.errors,
            "latency": self.latency,
            "idle_guests": self.idle_held,
            "idle_errors": self.idle_errors,
            "guest_retries": self.guest_retries,
            "page_views_per_sec": self.page_views_per_sec.round(),
            "page_view_errors": self.page_view_errors,
            "generator_cpu_percent": self.generator_cpu.map(f64::round),
            "machine_steal_percent": self.steal.map(stats::round1),
        })
    }
}

/// The targets both conversation scenarios share: p99, nothing lost or doubled, at the documented
/// load (10 000 idle guests, 5 000 page views/s).
pub(crate) fn check_common(targets: &mut Targets, x: &Exchange) {
    targets.check("p99_ms", x.latency["p99_ms"].as_f64(), Bound::AtMost, 25.0);
    targets.check("lost", Some(x.lost() as f64), Bound::AtMost, 0.0);
    targets.check("duplicated", Some(x.duplicated as f64), Bound::AtMost, 0.0);
    targets.check(
        "idle_guests",
        Some(x.idle_held as f64),
        Bound::AtLeast,
        10_000.0,
    );
    targets.check(
        "page_views_per_sec",
        Some(x.page_views_per_sec),
        Bound::AtLeast,
        5000.0 * 0.98,
    );
}

/// Runs the conversations of `opts` over `nodes`: conversation m's guest is on node m % n and the
/// console that accepts it on node (m + 1) % n (the same node when there is one), so with several
/// nodes every message crosses from one node to another. Idle guests and page views are split
/// evenly over the nodes. The CPU of each process in `metered` is read while the messages are sent.
/// `frames` counts what crossed the bus between nodes so far (`None` where there is none).
pub(crate) async fn exchange(
    env: &Env,
    nodes: &[Arc<Target>],
    metered: &[Option<u32>],
    frames: &(dyn Fn() -> Option<u64> + Sync),
    opts: &ChatOpts,
) -> anyhow::Result<Exchange> {
    let n = nodes.len().max(1);
    let share = |total: usize, k: usize| total / n + usize::from(k < total % n);
    let mut workers = Vec::new();
    let mut started = 0;
    for (k, node) in nodes.iter().enumerate() {
        let idle = share(opts.idle, k);
        if idle > 0 {
            let mut w = env.spawn_workers_on(node, idle, started)?;
            started += w.len();
            w.add(idle).await?;
            workers.push(w);
        }
    }
    let sources = env.parent_sources();
    let mut flows = Vec::new();
    for node in nodes {
        flows.push(
            PageViewFlow::start(
                node,
                &sources,
                opts.page_views_per_sec / n as f64,
                32usize.div_ceil(n),
                env.concurrency,
            )
            .await?,
        );
    }

    // Open every conversation first, a few at a time.
    let gate = Arc::new(Semaphore::new(env.concurrency.max(1)));
    let opening: Vec<_> = (0..opts.conversations)
        .map(|m| {
            let guest_node = nodes[m % n].clone();
            let console_node = nodes[(m + 1) % n].clone();
            let (gate, source) = (gate.clone(), sources.next());
            tokio::spawn(async move {
                let _permit = gate.acquire().await?;
                open_conversation(&guest_node, &console_node, source, m).await
            })
        })
        .collect();
    let mut conversations = Vec::new();
    for o in opening {
        conversations.push(o.await.context("conversation setup task")??);
    }

    let (baseline, baseline_frames_per_sec) = if opts.baseline.is_zero() {
        (vec![None; metered.len()], None)
    } else {
        let meters: Vec<CpuMeter> = metered.iter().map(|&p| CpuMeter::start(p)).collect();
        let (frames_before, at) = (frames(), Instant::now());
        tokio::time::sleep(opts.baseline).await;
        let per_sec = frames()
            .zip(frames_before)
            .map(|(b, a)| b.saturating_sub(a) as f64 / at.elapsed().as_secs_f64());
        (meters.iter().map(CpuMeter::percent).collect(), per_sec)
    };

    let tally = Arc::new(Tally::default());
    let meters: Vec<CpuMeter> = metered.iter().map(|&p| CpuMeter::start(p)).collect();
    let own_cpu = CpuMeter::start(Some(std::process::id()));
    let steal = StealMeter::start();
    let (stop_readers, stop) = watch::channel(false);
    let mut readers = Vec::new();
    let mut senders = Vec::new();
    let frames_before = frames();
    let started = Instant::now();
    for (m, (guest, console, id)) in conversations.into_iter().enumerate() {
        // Spread the conversations' sends over one interval.
        let offset = opts
            .interval
            .mul_f64(m as f64 / opts.conversations.max(1) as f64);
        for (side, ws) in [("guest", guest), ("operator", console)] {
            let (sink, stream) = ws.split();
            readers.push(tokio::spawn(read_side(
                stream,
                side,
                tally.clone(),
                stop.clone(),
            )));
            senders.push(tokio::spawn(send_side(
                sink,
                id.clone(),
                format!("c{m}-{side}"),
                opts.messages,
                opts.interval,
                offset,
                tally.clone(),
            )));
        }
    }
    let mut sinks = Vec::new();
    for s in senders {
        sinks.push(s.await?);
    }
    let sending_secs = started.elapsed().as_secs_f64();
    let sent = tally.sent.load(Ordering::SeqCst);
    let frames_sending = frames()
        .zip(frames_before)
        .map(|(b, a)| b.saturating_sub(a));
    let cpu: Vec<ProcessCpu> = meters
        .iter()
        .zip(&baseline)
        .map(|(meter, &baseline_percent)| {
            let us_per_message = meter
                .seconds()
                .filter(|_| sent > 0)
                .map(|s| s * 1e6 / sent as f64);
            let background_us = baseline_percent.map(|p| p / 100.0 * sending_secs * 1e6);
            ProcessCpu {
                percent: meter.percent(),
                us_per_message,
                us_per_message_net: us_per_message
                    .zip(background_us)
                    .map(|(gross, bg)| gross - bg / sent as f64),
                baseline_percent,
            }
        })
        .collect();
    let generator_cpu = own_cpu.percent();
    let machine_steal = steal.percent();
    // Wait for the last messages to arrive (or not): what has not arrived 30 s after the last
    // send counts as lost.
    let drain_until = Instant::now() + Duration::from_secs(30);
    while tally.received.load(Ordering::SeqCst) < sent && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A little longer, so a late duplicate would still be seen.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop_readers.send(true);
    let mut latencies = Latencies::default();
    for r in readers {
        latencies.merge(r.await?);
    }
    drop(sinks);
    let (mut page_views_per_sec, mut page_view_errors) = (0.0, 0);
    for flow in flows {
        let flow = flow.stop().await;
        page_views_per_sec += flow.per_sec;
        page_view_errors += flow.errors;
    }
    let (mut idle_held, mut idle_errors, mut guest_retries) = (0, 0, 0);
    for mut w in workers {
        let last = w.each(|_| "report".to_owned()).await?;
        w.stop().await?;
        idle_held += sum(&last, "held");
        idle_errors += sum(&last, "setup_errors") + sum(&last, "dropped");
        guest_retries += sum(&last, "guest_retries");
    }

    let acks = tally.acks.load(Ordering::SeqCst);
    Ok(Exchange {
        sent,
        received: tally.received.load(Ordering::SeqCst),
        duplicated: tally.duplicated.load(Ordering::SeqCst),
        acks,
        errors: tally.errors.load(Ordering::SeqCst) + sent.saturating_sub(acks),
        messages_per_sec: sent as f64 / sending_secs.max(0.001),
        latency: latencies.summary(),
        idle_held,
        idle_errors,
        guest_retries,
        page_views_per_sec,
        page_view_errors,
        metered: cpu,
        bus: frames_sending.map(|f| BusFrames {
            per_message: f as f64 / sent.max(1) as f64,
            per_sec: f as f64 / sending_secs.max(0.001),
            baseline_per_sec: baseline_frames_per_sec,
        }),
        generator_cpu,
        steal: machine_steal,
    })
}

/// A guest of `guest_node` who started a chat and an operator console on `console_node` that
/// accepted it; the conversation id.
async fn open_conversation(
    guest_node: &Target,
    console_node: &Target,
    source: IpAddr,
    m: usize,
) -> anyhow::Result<(Ws, Ws, String)> {
    let mut http = HttpConn::new(source, guest_node.server);
    let (_guest, mut tab) = arrive(&mut http, guest_node, "https://shop.example/help").await?;
    net::send_json(
        &mut tab,
        &json!({"type": "start_chat", "name": format!("Load {m}")}),
    )
    .await?;
    let conversation = next_of_type(&mut tab, "conversation").await?;
    let id = conversation["conversation_id"]
        .as_str()
        .context("conversation without id")?
        .to_owned();
    let mut console = net::ws_connect(
        source,
        console_node.server,
        &console_node.ws_url("/ws/console"),
        console_node.console_origin(),
        console_node.cookie.as_deref(),
    )
    .await?;
    net::send_json(
        &mut console,
        &json!({"type": "accept", "conversation_id": id}),
    )
    .await?;
    loop {
        let event = next_of_type(&mut console, "conversation").await?;
        if event["conversation_id"] == id.as_str() && event["status"] == "open" {
            break;
        }
    }
    Ok((tab, console, id))
}

/// The next event of `kind`, skipping others; an `error` event fails.
async fn next_of_type(ws: &mut Ws, kind: &str) -> anyhow::Result<Value> {
    loop {
        let event = net::next_json(ws, STEP_TIMEOUT).await?;
        if event["type"] == kind {
            return Ok(event);
        }
        if event["type"] == "error" {
            bail!("server answered {event}");
        }
    }
}

/// Sends `messages` messages, one per `interval`, after `offset`; gives the sink back so the
/// socket stays open until the readers are done.
async fn send_side(
    mut sink: SplitSink<Ws, Message>,
    conversation_id: String,
    prefix: String,
    messages: usize,
    interval: Duration,
    offset: Duration,
    tally: Arc<Tally>,
) -> SplitSink<Ws, Message> {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..messages {
        tick.tick().await;
        let client_msg_id = format!("{prefix}-{i}");
        let frame = json!({
            "type": "send",
            "conversation_id": conversation_id,
            "client_msg_id": client_msg_id,
            "body": format!("message {i} from {prefix}"),
        })
        .to_string();
        tally
            .sent_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client_msg_id, Instant::now());
        tally.sent.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = sink.send(Message::Text(frame)).await {
            tally.error(&format!("send failed: {e}"));
        }
    }
    sink
}

/// Reads one side's socket: the other side's messages (latency, duplicates), own acks, errors.
async fn read_side(
    mut stream: SplitStream<Ws>,
    me: &'static str,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) -> Latencies {
    let mut latencies = Latencies::default();
    let mut seen = HashSet::new();
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = stop.changed() => break,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                tally.error(&format!("the {me} socket closed"));
                break;
            }
            Some(Ok(_)) => continue,
        };
        let arrived = Instant::now();
        let Ok(event) = serde_json::from_str::<Value>(&text) else {
            tally.error("malformed event");
            continue;
        };
        match event["type"].as_str() {
            Some("message") if event["kind"] == "text" && event["sender"] != me => {
                let id = event["client_msg_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let sent_at = tally
                    .sent_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&id)
                    .copied();
                if !seen.insert(id) {
                    tally.duplicated.fetch_add(1, Ordering::SeqCst);
                } else if let Some(at) = sent_at {
                    tally.received.fetch_add(1, Ordering::SeqCst);
                    latencies.record(arrived - at);
                } else {
                    tally.error("a message nobody sent");
                }
            }
            Some("ack") => {
                tally.acks.fetch_add(1, Ordering::SeqCst);
            }
            Some("error") => tally.error(&format!("error event: {event}")),
            _ => {}
        }
    }
    latencies
}
