//! `chat`: M conversations, each a guest's presence socket and an operator's console socket
//! sending each other messages, while idle guests are connected (in worker processes) and page
//! views flow. Measures send-to-receipt latency on the other side and counts every message lost
//! or delivered twice.

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

/// Parameters of `chat`.
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
    let mut workers = if opts.idle > 0 {
        let mut w = env.spawn_workers(opts.idle)?;
        w.add(opts.idle).await?;
        Some(w)
    } else {
        None
    };
    let sources = env.parent_sources();
    let flow = PageViewFlow::start(
        &env.target,
        &sources,
        opts.page_views_per_sec,
        32,
        env.concurrency,
    )
    .await?;

    // Open every conversation first, a few at a time.
    let gate = Arc::new(Semaphore::new(env.concurrency.max(1)));
    let opening: Vec<_> = (0..opts.conversations)
        .map(|m| {
            let (target, gate, source) = (env.target.clone(), gate.clone(), sources.next());
            tokio::spawn(async move {
                let _permit = gate.acquire().await?;
                open_conversation(&target, source, m).await
            })
        })
        .collect();
    let mut conversations = Vec::new();
    for o in opening {
        conversations.push(o.await.context("conversation setup task")??);
    }

    let tally = Arc::new(Tally::default());
    let server_cpu = CpuMeter::start(env.server_pid);
    let own_cpu = CpuMeter::start(Some(std::process::id()));
    let steal = StealMeter::start();
    let (stop_readers, stop) = watch::channel(false);
    let mut readers = Vec::new();
    let mut senders = Vec::new();
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
    let (server_cpu, generator_cpu) = (server_cpu.percent(), own_cpu.percent());
    let machine_steal = steal.percent();
    // Wait for the last messages to arrive (or not): what has not arrived 30 s after the last
    // send counts as lost.
    let expected = tally.sent.load(Ordering::SeqCst);
    let drain_until = Instant::now() + Duration::from_secs(30);
    while tally.received.load(Ordering::SeqCst) < expected && Instant::now() < drain_until {
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
    let flow = flow.stop().await;
    let (idle_held, idle_errors, guest_retries) = match workers.take() {
        Some(mut w) => {
            let last = w.each(|_| "report".to_owned()).await?;
            w.stop().await?;
            (
                sum(&last, "held"),
                sum(&last, "setup_errors") + sum(&last, "dropped"),
                sum(&last, "guest_retries"),
            )
        }
        None => (0, 0, 0),
    };

    let sent = tally.sent.load(Ordering::SeqCst);
    let received = tally.received.load(Ordering::SeqCst);
    let lost = sent.saturating_sub(received);
    let duplicated = tally.duplicated.load(Ordering::SeqCst);
    let acks = tally.acks.load(Ordering::SeqCst);
    let errors = tally.errors.load(Ordering::SeqCst) + sent.saturating_sub(acks);
    let summary = latencies.summary();
    let mut targets = Targets::default();
    targets.check("p50_ms", summary["p50_ms"].as_f64(), Bound::AtMost, 5.0);
    targets.check("p99_ms", summary["p99_ms"].as_f64(), Bound::AtMost, 25.0);
    targets.check("lost", Some(lost as f64), Bound::AtMost, 0.0);
    targets.check("duplicated", Some(duplicated as f64), Bound::AtMost, 0.0);
    targets.check(
        "idle_guests",
        Some(idle_held as f64),
        Bound::AtLeast,
        10_000.0,
    );
    targets.check(
        "page_views_per_sec",
        Some(flow.per_sec),
        Bound::AtLeast,
        5000.0 * 0.98,
    );
    Ok(targets.into_result(json!({
        "scenario": "chat",
        "conversations": opts.conversations,
        "messages_per_side": opts.messages,
        "interval_ms": opts.interval.as_millis() as u64,
        "messages_per_sec": (sent as f64 / sending_secs.max(0.001)).round(),
        "sent": sent,
        "received": received,
        "acks": acks,
        "lost": lost,
        "duplicated": duplicated,
        "errors": errors,
        "latency": summary,
        "idle_guests": idle_held,
        "idle_errors": idle_errors,
        "guest_retries": guest_retries,
        "page_views_per_sec": flow.per_sec.round(),
        "page_view_errors": flow.errors,
        "server_cpu_percent": server_cpu.map(f64::round),
        "generator_cpu_percent": generator_cpu.map(f64::round),
        "machine_steal_percent": machine_steal.map(stats::round1),
    })))
}

/// A guest who started a chat and an operator console that accepted it; the conversation id.
async fn open_conversation(
    target: &Target,
    source: IpAddr,
    m: usize,
) -> anyhow::Result<(Ws, Ws, String)> {
    let mut http = HttpConn::new(source, target.server);
    let (_guest, mut tab) = arrive(&mut http, target, "https://shop.example/help").await?;
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
        target.server,
        &target.ws_url("/ws/console"),
        target.console_origin(),
        target.cookie.as_deref(),
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
