//! The link between nodes in cluster mode: every node publishes what its own sockets cannot deliver
//! alone on one Redis pub/sub channel, and hears the others there. Redis carries notifications only:
//! messages are committed to PostgreSQL before anyone is told, so a notification lost while Redis is
//! away is found again through the per-conversation `seq` (docs/protocol.md).
//!
//! A frame is one header line of JSON (the sending node and a [`Relay`]) and, for events meant for
//! sockets, the event's JSON text after the newline, passed through untouched.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::live::LiveVisitor;
use super::protocol::{Chosen, Status};

/// The one channel every node publishes on and listens to.
pub const CHANNEL: &str = "beckon:bus";
/// How often a node says it is alive (with its operators' statuses).
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A node not heard from for this long is gone: its operators go offline and its visitors leave
/// the live lists.
pub const NODE_LEASE: Duration = Duration::from_secs(10);
/// Frames waiting for Redis; beyond this they are dropped (and counted), never queued without end.
const SEND_QUEUE: usize = 16_384;

/// One node of a cluster (random, new at every start).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub String);

impl NodeId {
    /// A fresh node id.
    pub fn random() -> NodeId {
        NodeId(uuid::Uuid::new_v4().simple().to_string()[..12].to_owned())
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An operator's status as the node holding their console sockets sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorPresence {
    /// Operator id.
    pub id: String,
    /// Their status on that node.
    pub status: Status,
}

/// A change to a visitor's row that any node may make (the row lives on the node of the visitor's
/// sockets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "m", rename_all = "snake_case")]
pub enum LiveMark {
    /// The latest invitation's status.
    Invitation {
        /// `pending`, `accepted`, …
        status: String,
    },
    /// Whether the visitor is in a chat.
    Chatting {
        /// In a chat now.
        chatting: bool,
    },
    /// The chat the visitor is in.
    Conversation {
        /// Its id, if any.
        conversation_id: Option<String>,
    },
}

/// What a frame asks the other nodes to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Relay {
    /// Deliver the payload to the followers of a hub topic.
    Topic {
        /// The topic.
        topic: String,
    },
    /// Deliver the payload to every tab of a visitor.
    Visitor {
        /// Visitor id.
        visitor_id: String,
    },
    /// Close console sockets (a session ended, an operator's access changed).
    CloseConsoles {
        /// Those of this console session.
        session: Option<String>,
        /// All of this operator's.
        operator: Option<String>,
        /// Close code.
        code: u16,
    },
    /// The sender is alive; the statuses of the operators with consoles on it.
    Heartbeat {
        /// Its operators.
        operators: Vec<OperatorPresence>,
    },
    /// An operator chose a status.
    Chose {
        /// Operator id.
        operator_id: String,
        /// The choice.
        chosen: Chosen,
    },
    /// Changes to the sender's live visitors of a site (`full`: all of them, replacing what the
    /// receiver held from the sender for that site).
    Live {
        /// Site id.
        site_id: String,
        /// New or changed rows.
        upserts: Vec<LiveVisitor>,
        /// Visitors who left.
        removed: Vec<String>,
        /// A full list rather than a change.
        full: bool,
    },
    /// A change to a visitor's row, wherever it lives.
    Mark {
        /// Site id.
        site_id: String,
        /// Visitor id.
        visitor_id: String,
        /// The change.
        mark: LiveMark,
    },
    /// The sender (just started, or just back on Redis) asks for everyone's full state.
    Hello,
    /// A site's settings changed: drop cached copies.
    SiteChanged {
        /// Site id.
        site_id: String,
        /// Its public key (the cache's key).
        public_key: String,
    },
    /// The sender is shutting down.
    Bye,
}

/// A frame as received.
#[derive(Debug)]
pub struct Frame {
    /// The sending node.
    pub node: NodeId,
    /// What it asks.
    pub relay: Relay,
    /// The event text for [`Relay::Topic`] and [`Relay::Visitor`] (empty otherwise).
    pub payload: String,
}

#[derive(Serialize, Deserialize)]
struct Header {
    n: NodeId,
    #[serde(flatten)]
    relay: Relay,
}

fn encode(node: &NodeId, relay: Relay, payload: &str) -> Option<String> {
    let header = serde_json::to_string(&Header {
        n: node.clone(),
        relay,
    })
    .ok()?;
    let mut frame = String::with_capacity(header.len() + 1 + payload.len());
    frame.push_str(&header);
    frame.push('\n');
    frame.push_str(payload);
    Some(frame)
}

/// Reads a frame; `None` for anything that is not one of ours.
pub fn decode(text: &str) -> Option<Frame> {
    let (header, payload) = text.split_once('\n').unwrap_or((text, ""));
    let Header { n, relay } = serde_json::from_str(header).ok()?;
    Some(Frame {
        node: n,
        relay,
        payload: payload.to_owned(),
    })
}

/// This node's end of the bus between nodes.
pub struct ClusterLink {
    node: NodeId,
    client: redis::Client,
    tx: tokio::sync::mpsc::Sender<String>,
    rx: Mutex<Option<tokio::sync::mpsc::Receiver<String>>>,
    subscribed: AtomicBool,
    publishing: AtomicBool,
    dropped: AtomicU64,
    nodes: Mutex<HashMap<NodeId, Instant>>,
}

impl ClusterLink {
    /// A link to the Redis at `url` (nothing connects until the tasks run).
    pub fn new(url: &url::Url) -> Result<ClusterLink, redis::RedisError> {
        let client = redis::Client::open(url.as_str())?;
        let (tx, rx) = tokio::sync::mpsc::channel(SEND_QUEUE);
        Ok(ClusterLink {
            node: NodeId::random(),
            client,
            tx,
            rx: Mutex::new(Some(rx)),
            subscribed: AtomicBool::new(false),
            publishing: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            nodes: Mutex::default(),
        })
    }

    /// This node's id.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// Whether both directions to Redis work now (`/readyz` says degraded otherwise).
    pub fn healthy(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed) && self.publishing.load(Ordering::Relaxed)
    }

    /// Frames dropped because Redis was away or slow.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Tells the other nodes; never waits. While Redis is away the frame is dropped: the receivers'
    /// clients find the gap by `seq`, and state (presence, live lists) is sent again in full.
    pub fn send(&self, relay: Relay, payload: &str) {
        let Some(frame) = encode(&self.node, relay, payload) else {
            return;
        };
        if self.tx.try_send(frame).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits (at most `limit`) until the frames queued so far are handed to Redis.
    pub async fn drain(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.tx.capacity() < self.tx.max_capacity() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A Redis connection for commands (shared limits), reconnecting by itself.
    pub async fn commands(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        self.client.get_connection_manager_with_config(config).await
    }

    /// Publishes queued frames until the process ends.
    pub async fn run_publisher(self: Arc<Self>) {
        let Some(mut rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let mut conn = loop {
            match self.commands().await {
                Ok(conn) => break conn,
                Err(e) => {
                    tracing::warn!(error = %e, "cluster: cannot reach Redis; retrying");
                    // Frames queued meanwhile are dropped: they would be stale.
                    while rx.try_recv().is_ok() {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        self.publishing.store(true, Ordering::Relaxed);
        while let Some(frame) = rx.recv().await {
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(CHANNEL)
                .arg(frame)
                .query_async(&mut conn)
                .await;
            match sent {
                Ok(_) => {
                    if !self.publishing.swap(true, Ordering::Relaxed) {
                        tracing::info!("cluster: publishing to Redis again");
                    }
                }
                Err(e) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    if self.publishing.swap(false, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "cluster: cannot publish to Redis; serving this node's clients alone");
                    }
                }
            }
        }
    }

    /// Listens on the channel until the process ends, reconnecting after a loss. Every frame from
    /// another node goes to `on_frame`; `on_subscribed` runs each time the subscription is
    /// (re)established, so the node can announce itself and heal what it missed.
    pub async fn run_subscriber(
        self: Arc<Self>,
        on_frame: impl Fn(Frame) + Send,
        on_subscribed: impl Fn(bool) + Send,
    ) {
        let mut first = true;
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(CHANNEL).await {
                    Ok(()) => {
                        tracing::info!(node = %self.node, "cluster: subscribed to Redis");
                        self.subscribed.store(true, Ordering::Relaxed);
                        on_subscribed(first);
                        first = false;
                        self.listen(&mut pubsub, &on_frame).await;
                        self.subscribed.store(false, Ordering::Relaxed);
                        tracing::warn!("cluster: lost the Redis subscription; reconnecting");
                    }
                    Err(e) => tracing::warn!(error = %e, "cluster: cannot subscribe"),
                },
                Err(e) => {
                    if first {
                        tracing::warn!(error = %e, "cluster: cannot reach Redis; retrying");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Hands every frame from another node to `on_frame` until the subscription ends or falls
    /// silent: our own heartbeat comes back every [`HEARTBEAT`], so hearing nothing for longer means
    /// the subscription is dead even if its socket looks open.
    async fn listen(&self, pubsub: &mut redis::aio::PubSub, on_frame: &(impl Fn(Frame) + Send)) {
        let mut stream = pubsub.on_message();
        while let Ok(Some(msg)) = tokio::time::timeout(HEARTBEAT * 3, stream.next()).await {
            let Some(frame) = std::str::from_utf8(msg.get_payload_bytes())
                .ok()
                .and_then(decode)
            else {
                continue;
            };
            if frame.node != self.node {
                self.heard(&frame.node);
                on_frame(frame);
            }
        }
    }

    fn heard(&self, node: &NodeId) {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node.clone(), Instant::now());
    }

    /// Forgets a node (it said goodbye).
    pub fn forget(&self, node: &NodeId) {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(node);
    }

    /// The nodes whose lease ran out since the last call (each is answered once).
    pub fn expired_nodes(&self) -> Vec<NodeId> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let expired: Vec<NodeId> = nodes
            .iter()
            .filter(|(_, at)| at.elapsed() > NODE_LEASE)
            .map(|(n, _)| n.clone())
            .collect();
        for n in &expired {
            nodes.remove(n);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_back_with_their_payload_untouched() {
        let node = NodeId("n1".into());
        let event = "{\"type\":\"message\",\"body\":\"two\\nlines\"}";
        let text = encode(
            &node,
            Relay::Topic {
                topic: "guest:c1".into(),
            },
            event,
        )
        .unwrap();
        let frame = decode(&text).unwrap();
        assert_eq!(frame.node, node);
        assert!(matches!(frame.relay, Relay::Topic { ref topic } if topic == "guest:c1"));
        assert_eq!(frame.payload, event);
        let hb = encode(
            &node,
            Relay::Heartbeat {
                operators: vec![OperatorPresence {
                    id: "o".into(),
                    status: Status::Away,
                }],
            },
            "",
        )
        .unwrap();
        assert!(matches!(
            decode(&hb).unwrap().relay,
            Relay::Heartbeat { operators } if operators[0].status == Status::Away
        ));
        assert!(decode("not json").is_none());
        assert!(decode("{\"n\":\"x\",\"k\":\"unknown\"}\n").is_none());
    }
}
