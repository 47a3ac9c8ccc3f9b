//! The page-view write-behind buffer: beacons are queued in memory (bounded) and written in one
//! transaction per batch, never on the request path. When the queue is full, callers are told so
//! at once instead of memory growing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::db::models::{PageView, Visitor};
use crate::db::Db;

/// Most rows written in one transaction.
const MAX_BATCH: usize = 5_000;

/// The queue's sending side.
#[derive(Clone)]
pub struct PageViewQueue {
    tx: mpsc::Sender<PageView>,
    stop: Arc<Notify>,
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
        let task = tokio::spawn(run_flusher(db, rx, every, stop.clone()));
        (PageViewQueue { tx, stop }, task)
    }

    /// Queues a page view, or refuses it when the buffer is full.
    pub fn offer(&self, view: PageView) -> Result<(), QueueFull> {
        self.tx.try_send(view).map_err(|_| QueueFull)
    }

    /// Asks the flusher to write what is queued and end.
    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

async fn run_flusher(db: Db, mut rx: mpsc::Receiver<PageView>, every: Duration, stop: Arc<Notify>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(1024);
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.notified() => true,
        };
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
            if let Err(e) = db.run(move |conn| Ok(write_batch(conn, &rows)?)).await {
                tracing::error!(error = %e, rows = n, "page views could not be written");
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

/// Writes a batch and records the visitors' activity, in one transaction.
pub fn write_batch(
    conn: &mut crate::db::DbConnection,
    rows: &[PageView],
) -> diesel::QueryResult<()> {
    let visitors: Vec<String> = rows
        .iter()
        .map(|r| r.visitor_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let now = crate::domain::now();
    crate::db::write_transaction(conn, |conn| {
        PageView::insert_many(conn, rows)?;
        for chunk in visitors.chunks(500) {
            Visitor::touch_many(conn, chunk, now)?;
        }
        Ok(())
    })
}
