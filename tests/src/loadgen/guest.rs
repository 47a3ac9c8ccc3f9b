//! Guests as the widget makes them: obtain a guest id, report a page view, hold the presence
//! socket. [`IdleSet`] holds many of them and can make them all reconnect at once.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::StreamExt as _;
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::http::HttpConn;
use super::net::{self, Sources, Ws};
use super::target::Target;

/// How long any single step (request, handshake, first event) may take before it counts as failed.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A guest id and its secret token.
#[derive(Debug, Clone)]
pub struct Guest {
    /// `G-XXXXXXXX`.
    pub guest_id: String,
    /// The token the widget keeps.
    pub token: String,
}

/// Guest requests this process retried after a 500 (see [`obtain`]).
pub static GUEST_RETRIES: AtomicU64 = AtomicU64::new(0);

/// `POST /api/v1/visitors` without a token: a new guest (201). A 500 is retried a few times, as
/// the widget tries again on the next page (SQLite may refuse a guest insert that races another
/// write; the retries are counted in [`GUEST_RETRIES`] and reported).
pub async fn obtain(http: &mut HttpConn, target: &Target) -> anyhow::Result<Guest> {
    let body = json!({"site_key": target.site_key, "token": null}).to_string();
    let mut attempt = 0;
    let res = loop {
        let res = tokio::time::timeout(
            STEP_TIMEOUT,
            http.post("/api/v1/visitors", &target.origin, &body),
        )
        .await
        .context("guest request timed out")??;
        if res.status == 500 && attempt < 5 {
            attempt += 1;
            GUEST_RETRIES.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10 * attempt)).await;
            continue;
        }
        break res;
    };
    if res.status != 201 {
        bail!("obtaining a guest answered {}", res.status);
    }
    let v = res.json()?;
    Ok(Guest {
        guest_id: v["guest_id"].as_str().context("no guest_id")?.to_owned(),
        token: v["token"].as_str().context("no token")?.to_owned(),
    })
}

/// A page-view beacon for `token` on `url`; the status (202 when queued).
pub async fn page_view(
    http: &mut HttpConn,
    target: &Target,
    token: &str,
    url: &str,
) -> anyhow::Result<u16> {
    let body =
        json!({"k": target.site_key, "t": token, "u": url, "ti": "Load test", "r": ""}).to_string();
    let res = tokio::time::timeout(
        STEP_TIMEOUT,
        http.post("/api/v1/beacon", &target.origin, &body),
    )
    .await
    .context("beacon timed out")??;
    Ok(res.status)
}

/// Opens the guest's presence socket from `source` and waits for `hello`.
pub async fn open_presence(source: IpAddr, target: &Target, token: &str) -> anyhow::Result<Ws> {
    let url = target.visitor_socket_url(token);
    let mut ws = tokio::time::timeout(
        STEP_TIMEOUT,
        net::ws_connect(source, target.server, &url, &target.origin, None),
    )
    .await
    .context("presence socket timed out")??;
    let hello = net::next_json(&mut ws, STEP_TIMEOUT).await?;
    if hello["type"] != "hello" {
        bail!("expected hello, got {hello}");
    }
    Ok(ws)
}

/// A new guest with one page view and its presence socket, all from `http`'s source address.
pub async fn arrive(
    http: &mut HttpConn,
    target: &Target,
    page: &str,
) -> anyhow::Result<(Guest, Ws)> {
    let guest = obtain(http, target).await?;
    let status = page_view(http, target, &guest.token, page).await?;
    if status != 202 {
        bail!("page view answered {status}");
    }
    let ws = open_presence(http.source(), target, &guest.token).await?;
    Ok((guest, ws))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Hold,
    Reconnect(u32),
    Stop,
}

/// Counters shared by the holders of an [`IdleSet`].
#[derive(Debug, Default)]
pub struct IdleCounters {
    /// Sockets open now.
    pub held: AtomicUsize,
    /// Guests that could not be set up (request, page view or socket failed).
    pub setup_errors: AtomicUsize,
    /// Sockets the server closed or that broke while idle.
    pub dropped: AtomicUsize,
    /// Sockets open again after the latest reconnect command.
    pub back: AtomicUsize,
    /// Failed reconnect attempts (each retried until [`STEP_TIMEOUT`]).
    pub reconnect_errors: AtomicUsize,
    /// Guests that gave up reconnecting.
    pub lost: AtomicUsize,
}

/// Many idle guests, each a task holding its presence socket (answering the server's pings).
pub struct IdleSet {
    target: Arc<Target>,
    commands: watch::Sender<Command>,
    counters: Arc<IdleCounters>,
    created: usize,
    generation: u32,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl IdleSet {
    /// An empty set of guests of `target`.
    pub fn new(target: Arc<Target>) -> IdleSet {
        IdleSet {
            target,
            commands: watch::channel(Command::Hold).0,
            counters: Arc::default(),
            created: 0,
            generation: 0,
            tasks: Vec::new(),
        }
    }

    /// The counters.
    pub fn counters(&self) -> &IdleCounters {
        &self.counters
    }

    /// Guests attempted so far.
    pub fn created(&self) -> usize {
        self.created
    }

    /// Adds `count` guests, `concurrency` being set up at a time, spread over `sources`; returns
    /// once each has its socket open or has failed.
    pub async fn add(&mut self, count: usize, sources: &Sources, concurrency: usize) {
        let concurrency = concurrency.clamp(1, count.max(1));
        let mut setups = Vec::new();
        for lane in 0..concurrency {
            let share = count / concurrency + usize::from(lane < count % concurrency);
            let mut http = HttpConn::new(sources.next(), self.target.server);
            let target = self.target.clone();
            let counters = self.counters.clone();
            let commands = self.commands.subscribe();
            let first = self.created;
            setups.push(tokio::spawn(async move {
                let mut holders = Vec::with_capacity(share);
                for i in 0..share {
                    let page = format!("https://shop.example/idle/{}", first + lane + i);
                    match arrive(&mut http, &target, &page).await {
                        Ok((guest, ws)) => {
                            counters.held.fetch_add(1, Ordering::Relaxed);
                            holders.push(tokio::spawn(hold(
                                ws,
                                guest.token,
                                http.source(),
                                target.clone(),
                                commands.clone(),
                                counters.clone(),
                            )));
                        }
                        Err(e) => {
                            if counters.setup_errors.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("beckon-loadgen: guest setup failed: {e:#}");
                            }
                        }
                    }
                }
                holders
            }));
        }
        for setup in setups {
            if let Ok(holders) = setup.await {
                self.tasks.extend(holders);
            }
        }
        self.created += count;
    }

    /// Makes every guest close its socket and open a new one at the same moment; returns how long
    /// until all were back (or gave up).
    pub async fn reconnect_all(&mut self) -> Duration {
        self.counters.back.store(0, Ordering::SeqCst);
        self.counters.lost.store(0, Ordering::SeqCst);
        let expected = self.counters.held.load(Ordering::SeqCst);
        self.generation += 1;
        let start = Instant::now();
        let _ = self.commands.send(Command::Reconnect(self.generation));
        while self.counters.back.load(Ordering::SeqCst) + self.counters.lost.load(Ordering::SeqCst)
            < expected
            && start.elapsed() < STEP_TIMEOUT * 2
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        start.elapsed()
    }

    /// Closes every socket and waits for the holders to end.
    pub async fn stop(self) {
        let _ = self.commands.send(Command::Stop);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Holds one guest's socket until told to reconnect or stop.
async fn hold(
    mut ws: Ws,
    token: String,
    source: IpAddr,
    target: Arc<Target>,
    mut commands: watch::Receiver<Command>,
    counters: Arc<IdleCounters>,
) {
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    counters.held.fetch_sub(1, Ordering::Relaxed);
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(Ok(_)) => {}
            },
            changed = commands.changed() => {
                let command = if changed.is_ok() { *commands.borrow_and_update() } else { Command::Stop };
                match command {
                    Command::Hold => {}
                    Command::Stop => {
                        let _ = ws.close(None).await;
                        counters.held.fetch_sub(1, Ordering::Relaxed);
                        return;
                    }
                    Command::Reconnect(_) => {
                        let _ = ws.close(None).await;
                        drop(ws);
                        match reopen(source, &target, &token, &counters).await {
                            Some(again) => {
                                ws = again;
                                counters.back.fetch_add(1, Ordering::SeqCst);
                            }
                            None => {
                                counters.held.fetch_sub(1, Ordering::Relaxed);
                                counters.lost.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Opens the presence socket again, retrying failed attempts (as the widget does) until
/// [`STEP_TIMEOUT`].
async fn reopen(
    source: IpAddr,
    target: &Target,
    token: &str,
    counters: &IdleCounters,
) -> Option<Ws> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while Instant::now() < deadline {
        match open_presence(source, target, token).await {
            Ok(ws) => return Some(ws),
            Err(e) => {
                if counters.reconnect_errors.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("beckon-loadgen: reconnect failed: {e:#}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    None
}
