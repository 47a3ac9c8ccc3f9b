//! The one way events are published: [`Bus`] has a method per audience, takes a typed
//! [`ServerEvent`], serialises it once and hands the shared bytes to the hub. Topic names exist
//! only here, so a multi-node bus (Redis pub/sub) can replace the hub behind these methods.

use std::sync::Arc;

use super::cluster::{ClusterLink, Relay};
use super::hub::{Consoles, EventBus as _, Hub, Outgoing};
use super::protocol::ServerEvent;

/// A topic whose followers are told a status (`site_status` or `availability` events).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusTopic {
    /// A site's status, followed by its widgets and chat pages.
    Site(String),
    /// One operator's status as guests of a site see it (`/u/HANDLE`, `/p/PHONE`).
    Operator {
        /// The operator.
        operator_id: String,
        /// The site whose forced status also counts.
        site_id: String,
    },
    /// An operator's own status, followed by their consoles.
    OwnConsoles(String),
}

impl StatusTopic {
    fn topic(&self) -> String {
        match self {
            StatusTopic::Site(site_id) => format!("status:site:{site_id}"),
            StatusTopic::Operator {
                operator_id,
                site_id,
            } => format!("status:op:{operator_id}:{site_id}"),
            StatusTopic::OwnConsoles(operator_id) => format!("status:me:{operator_id}"),
        }
    }

    fn parse(topic: &str) -> Option<StatusTopic> {
        if let Some(site_id) = topic.strip_prefix("status:site:") {
            Some(StatusTopic::Site(site_id.to_owned()))
        } else if let Some(rest) = topic.strip_prefix("status:op:") {
            let (operator_id, site_id) = rest.split_once(':').unwrap_or((rest, ""));
            Some(StatusTopic::Operator {
                operator_id: operator_id.to_owned(),
                site_id: site_id.to_owned(),
            })
        } else {
            topic
                .strip_prefix("status:me:")
                .map(|op| StatusTopic::OwnConsoles(op.to_owned()))
        }
    }
}

fn guests_topic(conversation_id: &str) -> String {
    format!("guest:{conversation_id}")
}

fn operators_topic(conversation_id: &str) -> String {
    format!("ops:{conversation_id}")
}

const WATCHERS_PREFIX: &str = "watch:";

fn watchers_topic(site_id: &str) -> String {
    format!("{WATCHERS_PREFIX}{site_id}")
}

fn site_consoles_topic(site_id: &str) -> String {
    format!("site:{site_id}")
}

/// Publishing and following, per audience. Cheap to make: it borrows the hub (and in cluster mode
/// the link to the other nodes, which get every event meant for a topic or a visitor; statuses and
/// live lists each node works out for its own sockets).
#[derive(Clone, Copy)]
pub struct Bus<'a> {
    hub: &'a Hub,
    link: Option<&'a ClusterLink>,
}

impl<'a> Bus<'a> {
    /// The bus over this process's hub.
    pub fn new(hub: &'a Hub) -> Bus<'a> {
        Bus { hub, link: None }
    }

    /// The bus over this node's hub and, in cluster mode, the other nodes.
    pub fn clustered(hub: &'a Hub, link: Option<&'a ClusterLink>) -> Bus<'a> {
        Bus { hub, link }
    }

    fn encode(event: &ServerEvent<'_>) -> Arc<str> {
        event.to_json().into()
    }

    /// To a topic's followers on this node and every other.
    fn publish(&self, topic: &str, bytes: Arc<str>) {
        if let Some(link) = self.link {
            link.send(
                Relay::Topic {
                    topic: topic.to_owned(),
                },
                &bytes,
            );
        }
        self.hub.publish(topic, bytes);
    }

    /// To the guest's tabs in a conversation.
    pub fn to_guests(&self, conversation_id: &str, event: &ServerEvent<'_>) {
        self.publish(&guests_topic(conversation_id), Self::encode(event));
    }

    /// To the operators following a conversation.
    pub fn to_operators(&self, conversation_id: &str, event: &ServerEvent<'_>) {
        self.publish(&operators_topic(conversation_id), Self::encode(event));
    }

    /// To everyone in a conversation: the guest's tabs and the operators following it.
    pub fn to_conversation(&self, conversation_id: &str, event: &ServerEvent<'_>) {
        let bytes = Self::encode(event);
        self.publish(&guests_topic(conversation_id), bytes.clone());
        self.publish(&operators_topic(conversation_id), bytes);
    }

    /// To everyone in a conversation and the consoles listing its site's conversations.
    pub fn to_conversation_and_site(
        &self,
        conversation_id: &str,
        site_id: &str,
        event: &ServerEvent<'_>,
    ) {
        let bytes = Self::encode(event);
        self.publish(&guests_topic(conversation_id), bytes.clone());
        self.publish(&operators_topic(conversation_id), bytes.clone());
        self.publish(&site_consoles_topic(site_id), bytes);
    }

    /// To the consoles watching a site's live visitors, on every node.
    pub fn to_site_watchers(&self, site_id: &str, event: &ServerEvent<'_>) {
        self.publish(&watchers_topic(site_id), Self::encode(event));
    }

    /// This console tab watches a site's live visitors (and no other site's).
    pub fn follow_site_visitors(&self, conn_id: u64, site_id: &str) {
        self.hub
            .subscribe_replacing(conn_id, WATCHERS_PREFIX, &watchers_topic(site_id));
    }

    /// Closes console sockets on every node (a session ended, access changed).
    pub fn close_consoles(&self, which: Consoles<'_>, code: u16, reason: &'static str) {
        if let Some(link) = self.link {
            let (session, operator) = match which {
                Consoles::Session(s) => (Some(s.to_owned()), None),
                Consoles::Operator(o) => (None, Some(o.to_owned())),
            };
            link.send(
                Relay::CloseConsoles {
                    session,
                    operator,
                    code,
                },
                "",
            );
        }
        self.hub.close_consoles(which, code, reason);
    }

    /// To one connection (a visitor tab or a console tab) alone, e.g. an `ack` or an answer.
    pub fn to_connection(&self, conn_id: u64, event: &ServerEvent<'_>) {
        self.hub
            .send_to_conn(conn_id, Outgoing::Text(Self::encode(event)));
    }

    /// To every open tab of a visitor; how many tabs on this node took it (in cluster mode the
    /// other nodes' tabs get it too, uncounted).
    pub fn to_visitor(&self, visitor_id: &str, event: &ServerEvent<'_>) -> usize {
        let bytes = Self::encode(event);
        if let Some(link) = self.link {
            link.send(
                Relay::Visitor {
                    visitor_id: visitor_id.to_owned(),
                },
                &bytes,
            );
        }
        self.hub.send_to_visitor(visitor_id, Outgoing::Text(bytes))
    }

    /// To every console tab of one operator (they all follow the operator's own status), e.g.
    /// "a visitor accepted your invitation".
    pub fn to_operator_consoles(&self, operator_id: &str, event: &ServerEvent<'_>) {
        self.publish(
            &StatusTopic::OwnConsoles(operator_id.to_owned()).topic(),
            Self::encode(event),
        );
    }

    /// To the followers of a status topic, already encoded: the caller compares encodings to
    /// skip repeating an unchanged status.
    pub fn to_status_followers(&self, topic: &StatusTopic, encoded: Arc<str>) {
        self.hub.publish(&topic.topic(), encoded);
    }

    /// The status topics with at least one follower on this node.
    pub fn followed_statuses(&self) -> Vec<StatusTopic> {
        self.hub
            .topics_with_prefix("status:")
            .iter()
            .filter_map(|t| StatusTopic::parse(t))
            .collect()
    }

    /// This connection (a visitor tab) follows a conversation as its guest.
    pub fn follow_as_guest(&self, conn_id: u64, conversation_id: &str) {
        self.hub.subscribe(conn_id, &guests_topic(conversation_id));
    }

    /// Every open tab of a visitor follows a conversation as its guest (tabs opened later
    /// follow it when they open).
    pub fn follow_as_guest_in_all_tabs(&self, visitor_id: &str, conversation_id: &str) {
        self.hub
            .subscribe_visitor(visitor_id, &guests_topic(conversation_id));
    }

    /// This connection (a console tab) follows a conversation as an operator.
    pub fn follow_as_operator(&self, conn_id: u64, conversation_id: &str) {
        self.hub
            .subscribe(conn_id, &operators_topic(conversation_id));
    }

    /// This console tab follows the list of a site's conversations.
    pub fn follow_site_conversations(&self, conn_id: u64, site_id: &str) {
        self.hub.subscribe(conn_id, &site_consoles_topic(site_id));
    }

    /// This connection follows a status.
    pub fn follow_status(&self, conn_id: u64, topic: &StatusTopic) {
        self.hub.subscribe(conn_id, &topic.topic());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_topics_read_back_as_themselves() {
        for topic in [
            StatusTopic::Site("s1".into()),
            StatusTopic::Operator {
                operator_id: "o1".into(),
                site_id: "s1".into(),
            },
            StatusTopic::OwnConsoles("o1".into()),
        ] {
            assert_eq!(StatusTopic::parse(&topic.topic()), Some(topic));
        }
        assert_eq!(StatusTopic::parse("guest:c1"), None);
    }

    #[tokio::test]
    async fn a_conversation_event_reaches_guests_and_operators_once_each() {
        let hub = Hub::default();
        let (guest, mut guest_rx) = hub.join_visitor("v");
        let (op, mut op_rx) = hub.join_console("o", "s");
        let bus = Bus::new(&hub);
        bus.follow_as_guest(guest, "c");
        bus.follow_as_operator(op, "c");
        bus.to_conversation(
            "c",
            &ServerEvent::Read {
                conversation_id: "c",
                who: "guest",
                seq: 1,
            },
        );
        for rx in [&mut guest_rx, &mut op_rx] {
            assert!(matches!(rx.recv().await, Some(Outgoing::Text(t)) if t.contains("\"read\"")));
            assert!(rx.try_recv().is_none());
        }
        bus.to_operators(
            "c",
            &ServerEvent::Resync {
                conversation_id: "c",
                last_seq: 0,
            },
        );
        assert!(guest_rx.try_recv().is_none(), "operators only");
        assert!(op_rx.recv().await.is_some());
    }
}
