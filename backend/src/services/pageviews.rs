//! The page-view write-behind buffer: beacons are queued in memory (bounded) and written in
//! batches, never on the request path. When the queue is full, a caller waits briefly for room and
//! is then refused, instead of memory growing. A batch whose write fails (database outage, full
//! disk) is kept and tried again with backoff; an accepted page view is only lost with the process.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::db::models::{PageView, Visitor};
use crate::db::{Db, DbConnection, DbError};

/// Pragmas of the flusher's own SQLite connection, on top of the pool's.
/// - `synchronous = NORMAL`: a page view waits in memory until its flush, so a crash loses the
///   unflushed ones whatever the commit does; waiting for `fsync` at every page-view commit bought
///   nothing. WAL keeps the file consistent either way, and the next commit of any other connection
///   (which syncs) or checkpoint makes these durable too.
/// - A 32 MB page cache: while the flusher is the only writer its cache stays valid from one batch
///   to the next, so the index pages every batch touches are not read back from the WAL each time.
pub const BULK_PRAGMAS: &str = "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768;";

/// How long a page view waits for room in a full buffer before it is refused.
pub const ROOM_WAIT: Duration = Duration::from_millis(250);

/// Most rows taken from the queue in one round of a flush, and of one write transaction: the
/// writer lock is let go between them, so a chat message waits for at most one such transaction,
/// not for a whole backlog. Each transaction rewrites every index page its rows touch (about one
/// per visitor), so the fewer transactions, the less WAL per page view: at 25 000 page views/s,
/// 5 000-row transactions wrote a third less than 2 000-row ones. Below 25 000 page views a second
/// a flush at the default 200 ms holds fewer rows than this anyway, so the cap only counts under heavy load.
const MAX_BATCH: usize = 5_000;

/// The queue's sending side.
#[derive(Clone)]
pub struct PageViewQueue {
    tx: mpsc::Sender<PageView>,
    stop: Arc<Notify>,
    /// Page views refused since the flusher last reported them (one log line per flush, not one
    /// per refused request).
    refused: Arc<AtomicU64>,
}

/// The queue is full: nothing was stored.
#[derive(Debug, thiserror::Error)]
#[error("page-view buffer is full")]
pub struct QueueFull;

impl PageViewQueue {
    /// Starts the flusher task; returns the queue and the task (which ends after [`Self::stop`],
    /// having written everything queued).
    pub fn start(
        db: Db,
        capacity: usize,
        every: Duration,
    ) -> (PageViewQueue, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(capacity);
        let stop = Arc::new(Notify::new());
        let refused = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(run_flusher(db, rx, every, stop.clone(), refused.clone()));
        (PageViewQueue { tx, stop, refused }, task)
    }

    /// Queues a page view. When the buffer is full it waits up to [`ROOM_WAIT`] for room, so a
    /// burst or a slow flush slows senders down instead of failing them, and then refuses it.
    pub async fn offer(&self, view: PageView) -> Result<(), QueueFull> {
        let view = match self.tx.try_send(view) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Full(view)) => view,
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(QueueFull),
        };
        self.tx.send_timeout(view, ROOM_WAIT).await.map_err(|_| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            QueueFull
        })
    }

    /// Asks the flusher to write what is queued and end.
    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

/// Longest pause between two tries of a batch that could not be written.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long a stopping flusher keeps trying to write what it holds before giving it up.
const STOP_RETRY: Duration = Duration::from_secs(10);

/// The pause before the `failures`-th retry: the flush interval doubled per failure, at most
/// [`MAX_BACKOFF`].
fn backoff(every: Duration, failures: u32) -> Duration {
    every
        .saturating_mul(1u32 << failures.min(16))
        .min(MAX_BACKOFF)
}

async fn run_flusher(
    db: Db,
    mut rx: mpsc::Receiver<PageView>,
    every: Duration,
    stop: Arc<Notify>,
    refused: Arc<AtomicU64>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Page views taken from the queue and not yet written. A batch that fails stays here and is
    // tried again (a page view answered 202 is never thrown away for a failed write); meanwhile
    // nothing more is taken from the queue, so it fills and only then are new page views refused.
    let mut pending: Vec<PageView> = Vec::new();
    let mut failures: u32 = 0;
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut stop_deadline: Option<tokio::time::Instant> = None;
    // The flusher's own connection, kept from one batch to the next.
    let mut writer: Option<DbConnection> = None;
    loop {
        let stopping = stop_deadline.is_some()
            || tokio::select! {
                _ = tick.tick() => false,
                _ = stop.notified() => true,
            };
        if stopping && stop_deadline.is_none() {
            stop_deadline = Some(tokio::time::Instant::now() + STOP_RETRY);
        }
        let just_refused = refused.swap(0, Ordering::Relaxed);
        if just_refused > 0 {
            tracing::warn!(
                refused = just_refused,
                "page-view buffer full: page views refused with 503"
            );
        }
        if let Some(at) = retry_at {
            if stopping {
                tokio::time::sleep_until(at).await;
            } else if tokio::time::Instant::now() < at {
                continue;
            }
        }
        loop {
            while pending.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(view) => pending.push(view),
                    Err(_) => break,
                }
            }
            if pending.is_empty() {
                break;
            }
            let rows = std::mem::take(&mut pending);
            let n = rows.len();
            let db = db.clone();
            let mut kept = writer.take();
            let written = tokio::task::spawn_blocking(move || {
                let result = write_with(&db, &mut kept, &rows);
                (kept, rows, result)
            })
            .await;
            match written {
                Ok((conn, _, Ok(()))) => {
                    writer = conn;
                    if failures > 0 {
                        tracing::info!(
                            rows = n,
                            failures,
                            "page views written again after failed tries"
                        );
                    }
                    failures = 0;
                    retry_at = None;
                }
                // The rows stay for the next try. The connection is dropped and opened again
                // then: it may be what failed (a PostgreSQL server that restarted).
                Ok((_, rows, Err(e))) => {
                    pending = rows;
                    failures = failures.saturating_add(1);
                    let wait = backoff(every, failures);
                    retry_at = Some(tokio::time::Instant::now() + wait);
                    tracing::error!(
                        error = %e,
                        rows = n,
                        queued = rx.len(),
                        failures,
                        retry_in_ms = wait.as_millis() as u64,
                        "page views could not be written; kept for another try"
                    );
                    break;
                }
                // A panic in the writer: the rows went with its task. It would panic again on
                // the same rows, so they are not tried again.
                Err(e) => tracing::error!(error = %e, rows = n, "page-view writer failed"),
            }
            if n < MAX_BATCH {
                break;
            }
        }
        if let Some(deadline) = stop_deadline {
            let left = pending.len() + rx.len();
            if left == 0 {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::error!(
                    lost = left,
                    "stopping with page views that could not be written"
                );
                return;
            }
        }
    }
}

/// Writes `rows` on the flusher's connection, opening it first when there is none.
fn write_with(db: &Db, kept: &mut Option<DbConnection>, rows: &[PageView]) -> Result<(), DbError> {
    let conn = match kept {
        Some(conn) => conn,
        None => kept.insert(db.dedicated(BULK_PRAGMAS)?),
    };
    write_batch(conn, rows)?;
    Ok(())
}

/// A visitor's activity time is rewritten at most this often by page views (it only decides when
/// an idle guest id is deactivated, after many minutes).
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// Writes a batch and records the visitors' activity, a transaction per [`MAX_BATCH`] rows.
pub fn write_batch(
    conn: &mut crate::db::DbConnection,
    rows: &[PageView],
) -> diesel::QueryResult<()> {
    let now = crate::domain::now();
    for rows in rows.chunks(MAX_BATCH) {
        let visitors: Vec<String> = rows
            .iter()
            .map(|r| r.visitor_id.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        crate::db::write_transaction(conn, |conn| {
            PageView::insert_many(conn, rows)?;
            Visitor::touch_many(conn, &visitors, now, now - TOUCH_EVERY)?;
            diesel::QueryResult::Ok(())
        })?;
    }
    Ok(())
}

/// Records a page view: queued for the write-behind buffer (never written on the request path) and
/// shown on the live list at once. `QueueFull` when the buffer stayed full: nothing was stored.
pub async fn record(
    state: &crate::state::AppState,
    guest: &crate::realtime::live::GuestFacts,
    url: String,
    title: String,
    referrer: String,
) -> Result<(), QueueFull> {
    let view = PageView {
        id: crate::domain::new_id(),
        site_id: guest.site_id.clone().into(),
        visitor_id: guest.visitor_id.clone().into(),
        url,
        title,
        referrer,
        duration_ms: None,
        created_at: crate::domain::now(),
    };
    let (url, title, referrer) = (view.url.clone(), view.title.clone(), view.referrer.clone());
    state.pageviews.offer(view).await?;
    state.live.page_view(guest, &url, &title, &referrer);
    Ok(())
}
