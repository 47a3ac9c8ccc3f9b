//! The socket registry: routes events to a visitor's tabs and to console tabs. Each connection has a
//! bounded queue; a connection that cannot keep up is dropped from the hub, which closes it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// How many events may wait for one connection before it counts as too slow and is closed.
pub const SEND_QUEUE: usize = 256;

/// Something to send on a socket. Text is shared, so one event serialised once goes to many sockets.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A JSON text frame.
    Text(Arc<str>),
    /// Close with this code and reason.
    Close(u16, &'static str),
}

impl Outgoing {
    /// A text frame.
    pub fn text(s: impl Into<Arc<str>>) -> Outgoing {
        Outgoing::Text(s.into())
    }
}

/// The receiving end of a connection's queue.
pub type Inbox = mpsc::Receiver<Outgoing>;

struct Conn {
    id: u64,
    tx: mpsc::Sender<Outgoing>,
}

struct ConsoleConn {
    operator_id: String,
    tx: mpsc::Sender<Outgoing>,
}

#[derive(Default)]
struct Registry {
    visitors: HashMap<String, Vec<Conn>>,
    consoles: HashMap<u64, ConsoleConn>,
}

/// The hub of one process.
#[derive(Default)]
pub struct Hub {
    next_id: AtomicU64,
    registry: Mutex<Registry>,
}

/// Sends without waiting; false when the queue is full or closed.
fn offer(tx: &mpsc::Sender<Outgoing>, event: Outgoing) -> bool {
    tx.try_send(event).is_ok()
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_queue(&self) -> (u64, mpsc::Sender<Outgoing>, Inbox) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = mpsc::channel(SEND_QUEUE);
        (id, tx, rx)
    }

    /// Registers a visitor tab; returns its connection id and queue.
    pub fn join_visitor(&self, visitor_id: &str) -> (u64, Inbox) {
        let (id, tx, rx) = self.new_queue();
        self.lock()
            .visitors
            .entry(visitor_id.to_owned())
            .or_default()
            .push(Conn { id, tx });
        (id, rx)
    }

    /// Unregisters a visitor tab.
    pub fn leave_visitor(&self, visitor_id: &str, conn_id: u64) {
        let mut reg = self.lock();
        if let Some(conns) = reg.visitors.get_mut(visitor_id) {
            conns.retain(|c| c.id != conn_id);
            if conns.is_empty() {
                reg.visitors.remove(visitor_id);
            }
        }
    }

    /// Sends an event to every tab of a visitor; how many tabs took it. Tabs too slow to take it
    /// are dropped (their sockets then close).
    pub fn send_to_visitor(&self, visitor_id: &str, event: Outgoing) -> usize {
        let mut reg = self.lock();
        let Some(conns) = reg.visitors.get_mut(visitor_id) else {
            return 0;
        };
        conns.retain(|c| offer(&c.tx, event.clone()));
        let n = conns.len();
        if n == 0 {
            reg.visitors.remove(visitor_id);
        }
        n
    }

    /// Registers a console tab of an operator.
    pub fn join_console(&self, operator_id: &str) -> (u64, Inbox) {
        let (id, tx, rx) = self.new_queue();
        self.lock().consoles.insert(
            id,
            ConsoleConn {
                operator_id: operator_id.to_owned(),
                tx,
            },
        );
        (id, rx)
    }

    /// Unregisters a console tab.
    pub fn leave_console(&self, conn_id: u64) {
        self.lock().consoles.remove(&conn_id);
    }

    /// Sends an event to one console tab; a tab too slow to take it is dropped.
    pub fn send_to_console(&self, conn_id: u64, event: Outgoing) {
        let mut reg = self.lock();
        let too_slow = reg
            .consoles
            .get(&conn_id)
            .is_some_and(|c| !offer(&c.tx, event));
        if too_slow {
            reg.consoles.remove(&conn_id);
        }
    }

    /// Whether the operator has a console tab open.
    pub fn operator_online(&self, operator_id: &str) -> bool {
        self.lock()
            .consoles
            .values()
            .any(|c| c.operator_id == operator_id)
    }

    /// Asks every socket to reconnect elsewhere (on shutdown): close code 1001.
    pub fn close_all_going_away(&self) {
        let reg = self.lock();
        let all = reg
            .visitors
            .values()
            .flatten()
            .map(|c| &c.tx)
            .chain(reg.consoles.values().map(|c| &c.tx));
        for tx in all {
            let _ = tx.try_send(Outgoing::Close(1001, "server restarting"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_every_tab_of_a_visitor() {
        let hub = Hub::default();
        let (_, mut a) = hub.join_visitor("v");
        let (b_id, mut b) = hub.join_visitor("v");
        assert_eq!(hub.send_to_visitor("v", Outgoing::text("hi")), 2);
        assert!(matches!(a.recv().await, Some(Outgoing::Text(t)) if &*t == "hi"));
        assert!(matches!(b.recv().await, Some(Outgoing::Text(t)) if &*t == "hi"));
        hub.leave_visitor("v", b_id);
        assert_eq!(hub.send_to_visitor("v", Outgoing::text("x")), 1);
        assert_eq!(hub.send_to_visitor("nobody", Outgoing::text("x")), 0);
    }

    #[tokio::test]
    async fn a_tab_that_cannot_keep_up_is_dropped() {
        let hub = Hub::default();
        let (_, mut slow) = hub.join_visitor("v");
        for _ in 0..SEND_QUEUE {
            assert_eq!(hub.send_to_visitor("v", Outgoing::text("x")), 1);
        }
        assert_eq!(
            hub.send_to_visitor("v", Outgoing::text("overflow")),
            0,
            "dropped when full"
        );
        // Its queue is closed after the backlog: the session sees the end and closes the socket.
        let mut n = 0;
        while slow.recv().await.is_some() {
            n += 1;
        }
        assert_eq!(n, SEND_QUEUE);
    }
}
