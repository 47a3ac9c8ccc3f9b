//! The page-view write-behind buffer: beacons are queued in memory (bounded) and written in
//! batches, never on the request path. When the queue is full, a caller waits briefly for room and
//! is then refused, instead of memory growing.

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

async fn run_flusher(
    db: Db,
    mut rx: mpsc::Receiver<PageView>,
    every: Duration,
    stop: Arc<Notify>,
    refused: Arc<AtomicU64>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(1024);
    // The flusher's own connection, kept from one batch to the next.
    let mut writer: Option<DbConnection> = None;
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.notified() => true,
        };
        let just_refused = refused.swap(0, Ordering::Relaxed);
        if just_refused > 0 {
            tracing::warn!(
                refused = just_refused,
                "page-view buffer full: page views refused with 503"
            );
        }
        loop {
            batch.clear();
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(view) => batch.push(view),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            let rows = std::mem::take(&mut batch);
            let n = rows.len();
            let db = db.clone();
            let mut kept = writer.take();
            let written = tokio::task::spawn_blocking(move || {
                let conn = match kept.as_mut() {
                    Some(conn) => conn,
                    None => kept.insert(db.dedicated(BULK_PRAGMAS)?),
                };
                write_batch(conn, &rows)?;
                Ok::<_, DbError>(kept)
            })
            .await;
            match written {
                Ok(Ok(conn)) => writer = conn,
                // The connection is dropped and opened again for the next batch: it may be what
                // failed (a PostgreSQL server that restarted).
                Ok(Err(e)) => {
                    tracing::error!(error = %e, rows = n, "page views could not be written")
                }
                Err(e) => tracing::error!(error = %e, rows = n, "page-view writer failed"),
            }
            if n < MAX_BATCH {
                break;
            }
        }
        if stopping {
            return;
        }
    }
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
            .map(|r| r.visitor_id.clone())
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
