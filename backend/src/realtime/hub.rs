//! The socket registry: routes events to a visitor's tabs and to console tabs. Each connection has a
//! bounded queue; a connection that cannot keep up is dropped from the hub, which closes it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_channel::mpsc;
use futures_util::StreamExt as _;

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
///
/// futures' channel rather than tokio's: there is one per open tab, and an empty one is a few
/// hundred bytes where tokio's allocates its first block of 32 slots up front (about 1.5 KB).
pub struct Inbox(mpsc::Receiver<Outgoing>);

impl Inbox {
    /// The next event; `None` once the hub dropped the connection and the backlog is drained.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<Outgoing> {
        self.0.next().await
    }

    /// The next event if one is waiting.
    #[cfg(test)]
    pub fn try_recv(&mut self) -> Option<Outgoing> {
        self.0.try_recv().ok()
    }
}

/// Who a connection belongs to.
enum Owner {
    Visitor(String),
    /// An operator's console tab: the operator's id and the id of the session it opened under.
    Operator(String, String),
}

/// Which console sockets [`EventBus::close_consoles`] closes.
#[derive(Debug, Clone, Copy)]
pub enum Consoles<'a> {
    /// Those opened under this console session (by its stored id).
    Session(&'a str),
    /// All of this operator's.
    Operator(&'a str),
}

struct Conn {
    owner: Owner,
    tx: mpsc::Sender<Outgoing>,
    topics: Vec<String>,
}

#[derive(Default)]
struct Registry {
    conns: HashMap<u64, Conn>,
    visitors: HashMap<String, Vec<u64>>,
    topics: HashMap<String, Vec<u64>>,
}

impl Registry {
    fn remove(&mut self, conn_id: u64) {
        let Some(conn) = self.conns.remove(&conn_id) else {
            return;
        };
        if let Owner::Visitor(visitor_id) = &conn.owner {
            if let Some(ids) = self.visitors.get_mut(visitor_id) {
                ids.retain(|id| *id != conn_id);
                if ids.is_empty() {
                    self.visitors.remove(visitor_id);
                }
            }
        }
        for topic in conn.topics {
            if let Some(ids) = self.topics.get_mut(&topic) {
                ids.retain(|id| *id != conn_id);
                if ids.is_empty() {
                    self.topics.remove(&topic);
                }
            }
        }
    }

    /// Offers an event to a connection; one that is full is removed (its socket then closes).
    fn offer(&mut self, conn_id: u64, event: Outgoing) -> bool {
        let delivered = self
            .conns
            .get_mut(&conn_id)
            .is_some_and(|c| c.tx.try_send(event).is_ok());
        if !delivered {
            self.remove(conn_id);
        }
        delivered
    }
}

/// Delivers events published on a topic. The hub implements it for one process; a multi-node bus
/// implements it by relaying through a broker to every node's hub.
pub trait EventBus: Send + Sync {
    /// Delivers `event` to every connection subscribed to `topic`.
    fn publish(&self, topic: &str, event: Arc<str>);

    /// Closes the console sockets `which` names with `code` (after the events already queued
    /// for them): a session that ended, or an operator whose access changed. A multi-node bus
    /// relays this to every node, like an event.
    fn close_consoles(&self, which: Consoles<'_>, code: u16, reason: &'static str);
}

/// The hub of one process.
#[derive(Default)]
pub struct Hub {
    next_id: AtomicU64,
    registry: Mutex<Registry>,
}

impl EventBus for Hub {
    fn publish(&self, topic: &str, event: Arc<str>) {
        let mut reg = self.lock();
        let Some(ids) = reg.topics.get(topic).cloned() else {
            return;
        };
        for id in ids {
            reg.offer(id, Outgoing::Text(event.clone()));
        }
    }

    fn close_consoles(&self, which: Consoles<'_>, code: u16, reason: &'static str) {
        self.close_consoles_here(which, code, reason);
    }
}

impl Hub {
    /// This node's part of [`EventBus::close_consoles`].
    fn close_consoles_here(&self, which: Consoles<'_>, code: u16, reason: &'static str) {
        let mut reg = self.lock();
        let ids: Vec<u64> = reg
            .conns
            .iter()
            .filter(|(_, c)| match (&c.owner, which) {
                (Owner::Operator(_, session), Consoles::Session(s)) => session == s,
                (Owner::Operator(operator, _), Consoles::Operator(o)) => operator == o,
                (Owner::Visitor(_), _) => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            // Off the hub at once (its queue ends after the close), so nothing more is delivered
            // to it; one whose queue is full gets no close frame and ends as too slow.
            if let Some(conn) = reg.conns.get_mut(&id) {
                let _ = conn.tx.try_send(Outgoing::Close(code, reason));
            }
            reg.remove(id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, owner: Owner) -> (u64, Inbox) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        // futures' capacity is the buffer plus one slot per sender; the hub is the only sender.
        let (tx, rx) = mpsc::channel(SEND_QUEUE - 1);
        let mut reg = self.lock();
        if let Owner::Visitor(visitor_id) = &owner {
            reg.visitors.entry(visitor_id.clone()).or_default().push(id);
        }
        reg.conns.insert(
            id,
            Conn {
                owner,
                tx,
                topics: Vec::new(),
            },
        );
        (id, Inbox(rx))
    }

    /// Registers a visitor tab; returns its connection id and queue.
    pub fn join_visitor(&self, visitor_id: &str) -> (u64, Inbox) {
        self.register(Owner::Visitor(visitor_id.to_owned()))
    }

    /// Unregisters a visitor tab.
    pub fn leave_visitor(&self, _visitor_id: &str, conn_id: u64) {
        self.lock().remove(conn_id);
    }

    /// Sends an event to every tab of a visitor; how many tabs took it.
    pub fn send_to_visitor(&self, visitor_id: &str, event: Outgoing) -> usize {
        let mut reg = self.lock();
        let ids = reg.visitors.get(visitor_id).cloned().unwrap_or_default();
        ids.into_iter()
            .filter(|id| reg.offer(*id, event.clone()))
            .count()
    }

    /// Subscribes every tab of a visitor to a topic (tabs opened later subscribe themselves).
    pub fn subscribe_visitor(&self, visitor_id: &str, topic: &str) {
        let ids = self
            .lock()
            .visitors
            .get(visitor_id)
            .cloned()
            .unwrap_or_default();
        for id in ids {
            self.subscribe(id, topic);
        }
    }

    /// Registers a console tab of an operator, opened under the console session `session_id`.
    pub fn join_console(&self, operator_id: &str, session_id: &str) -> (u64, Inbox) {
        self.register(Owner::Operator(
            operator_id.to_owned(),
            session_id.to_owned(),
        ))
    }

    /// Unregisters a console tab.
    pub fn leave_console(&self, conn_id: u64) {
        self.lock().remove(conn_id);
    }

    /// Sends an event to one connection (visitor or console); one too slow to take it is dropped.
    pub fn send_to_conn(&self, conn_id: u64, event: Outgoing) {
        self.lock().offer(conn_id, event);
    }

    /// Sends an event to one console tab; one too slow to take it is dropped.
    pub fn send_to_console(&self, conn_id: u64, event: Outgoing) {
        self.lock().offer(conn_id, event);
    }

    /// Subscribes a connection to a topic (idempotent).
    pub fn subscribe(&self, conn_id: u64, topic: &str) {
        let mut reg = self.lock();
        let Some(conn) = reg.conns.get_mut(&conn_id) else {
            return;
        };
        if conn.topics.iter().any(|t| t == topic) {
            return;
        }
        conn.topics.push(topic.to_owned());
        reg.topics
            .entry(topic.to_owned())
            .or_default()
            .push(conn_id);
    }

    /// Subscribes a connection to `topic`, leaving its other topics that start with `prefix`.
    pub fn subscribe_replacing(&self, conn_id: u64, prefix: &str, topic: &str) {
        let mut reg = self.lock();
        let Some(conn) = reg.conns.get_mut(&conn_id) else {
            return;
        };
        let dropped: Vec<String> = conn
            .topics
            .iter()
            .filter(|t| t.starts_with(prefix) && *t != topic)
            .cloned()
            .collect();
        conn.topics.retain(|t| !dropped.contains(t));
        for t in dropped {
            if let Some(ids) = reg.topics.get_mut(&t) {
                ids.retain(|id| *id != conn_id);
                if ids.is_empty() {
                    reg.topics.remove(&t);
                }
            }
        }
        drop(reg);
        self.subscribe(conn_id, topic);
    }

    /// Whether the operator has a console tab open.
    pub fn operator_online(&self, operator_id: &str) -> bool {
        self.lock()
            .conns
            .values()
            .any(|c| matches!(&c.owner, Owner::Operator(id, _) if id == operator_id))
    }

    /// Topics starting with `prefix` that have at least one subscriber.
    pub fn topics_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.lock()
            .topics
            .keys()
            .filter(|t| t.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// The operators with a console tab open.
    pub fn online_operators(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .lock()
            .conns
            .values()
            .filter_map(|c| match &c.owner {
                Owner::Operator(id, _) => Some(id.clone()),
                Owner::Visitor(_) => None,
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Asks every socket to reconnect elsewhere (on shutdown): close code 1001.
    pub fn close_all_going_away(&self) {
        let mut reg = self.lock();
        for conn in reg.conns.values_mut() {
            let _ = conn.tx.try_send(Outgoing::Close(1001, "server restarting"));
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
    async fn topics_reach_their_subscribers_only() {
        let hub = Hub::default();
        let (a, mut a_rx) = hub.join_console("op", "s1");
        let (_b, mut b_rx) = hub.join_console("op2", "s2");
        hub.subscribe(a, "conv:1");
        hub.subscribe(a, "conv:1");
        hub.publish("conv:1", "m".into());
        assert!(matches!(a_rx.recv().await, Some(Outgoing::Text(t)) if &*t == "m"));
        assert!(b_rx.try_recv().is_none());
        assert!(a_rx.try_recv().is_none(), "subscribing twice delivers once");
        hub.leave_console(a);
        hub.publish("conv:1", "x".into());
        assert_eq!(hub.online_operators(), vec!["op2".to_owned()]);
    }

    #[tokio::test]
    async fn ending_a_session_closes_its_consoles_only() {
        let hub = Hub::default();
        let (a, mut a_rx) = hub.join_console("op", "s1");
        let (_b, mut b_rx) = hub.join_console("op", "s2");
        let (_c, mut c_rx) = hub.join_console("op2", "s3");
        hub.subscribe(a, "t");
        hub.publish("t", "before".into());
        hub.close_consoles(Consoles::Session("s1"), 4401, "session ended");
        hub.publish("t", "after".into());
        assert!(matches!(a_rx.recv().await, Some(Outgoing::Text(t)) if &*t == "before"));
        assert!(matches!(a_rx.recv().await, Some(Outgoing::Close(4401, _))));
        assert!(a_rx.recv().await.is_none(), "nothing after the close");
        assert!(b_rx.try_recv().is_none());
        hub.close_consoles(Consoles::Operator("op"), 4403, "access changed");
        assert!(matches!(b_rx.recv().await, Some(Outgoing::Close(4403, _))));
        assert!(c_rx.try_recv().is_none());
        assert_eq!(hub.online_operators(), vec!["op2".to_owned()]);
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
