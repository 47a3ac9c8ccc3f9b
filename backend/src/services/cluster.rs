//! Cluster mode's use of the link between nodes: what a frame from another node does here, what
//! this node says when it joins the bus (again), and the sweep of nodes whose lease ran out.

use std::sync::Arc;
use std::time::Duration;

use crate::realtime::cluster::{ClusterLink, Frame, Relay};
use crate::realtime::hub::Consoles;
use crate::realtime::socket::{CLOSE_ACCESS_CHANGED, CLOSE_SESSION_ENDED};
use crate::realtime::{EventBus as _, Outgoing};
use crate::state::AppState;

/// Carries out what another node asks.
pub fn apply(state: &AppState, frame: Frame) {
    let Frame {
        node,
        relay,
        payload,
    } = frame;
    match relay {
        Relay::Topic { topic } => state.hub.publish(&topic, payload.into()),
        Relay::Visitor { visitor_id } => {
            state
                .hub
                .send_to_visitor(&visitor_id, Outgoing::Text(payload.into()));
        }
        Relay::CloseConsoles {
            session,
            operator,
            code,
        } => {
            let reason = match code {
                CLOSE_SESSION_ENDED => "signed out",
                CLOSE_ACCESS_CHANGED => "access changed",
                _ => "closed",
            };
            if let Some(s) = &session {
                state.hub.close_consoles(Consoles::Session(s), code, reason);
            }
            if let Some(o) = &operator {
                state
                    .hub
                    .close_consoles(Consoles::Operator(o), code, reason);
            }
        }
        Relay::Heartbeat { operators } => state.availability.remote_presence(&node, operators),
        Relay::Chose {
            operator_id,
            chosen,
        } => state.availability.choose(&operator_id, chosen),
        Relay::Live {
            site_id,
            upserts,
            removed,
            full,
        } => state
            .live
            .apply_remote(&node, &site_id, upserts, &removed, full),
        Relay::Mark {
            site_id,
            visitor_id,
            mark,
        } => state.live.apply_mark(&site_id, &visitor_id, &mark),
        Relay::Hello => tell_everything(state),
        Relay::SiteChanged {
            site_id,
            public_key,
        } => {
            state.sites.forget(&public_key);
            state.availability.changed(Some(&site_id));
        }
        Relay::Bye => forget_node(state, &node),
    }
}

/// Sends this node's full state: its operators' statuses and its live visitors.
fn tell_everything(state: &AppState) {
    let Some(link) = &state.cluster else {
        return;
    };
    state.availability.heartbeat_now(&state.hub);
    for relay in state.live.full_lists() {
        link.send(relay, "");
    }
}

fn forget_node(state: &AppState, node: &crate::realtime::cluster::NodeId) {
    tracing::info!(%node, "cluster: a node left");
    if let Some(link) = &state.cluster {
        link.forget(node);
    }
    drop_node(state, node);
}

/// Its operators go offline here and its visitors leave the live lists.
fn drop_node(state: &AppState, node: &crate::realtime::cluster::NodeId) {
    state.availability.drop_node(node);
    state.live.drop_node(node);
}

/// The subscription is up (at start, or after Redis was away): whatever the others sent meanwhile
/// may be lost, so this node drops their live rows, asks everyone for their full state and sends its
/// own. Chat needs nothing here: a client that missed a message sees the gap in `seq` at the next
/// one and resumes from the database.
fn joined(state: &AppState, first: bool) {
    let Some(link) = &state.cluster else {
        return;
    };
    if !first {
        state.live.drop_remote();
    }
    link.send(Relay::Hello, "");
    tell_everything(state);
}

/// Runs the link's tasks and the lease sweep until the process ends.
pub async fn run(state: AppState, link: Arc<ClusterLink>) {
    let publisher = tokio::spawn(link.clone().run_publisher());
    let on_frame = {
        let state = state.clone();
        move |frame| apply(&state, frame)
    };
    let on_subscribed = {
        let state = state.clone();
        move |first| joined(&state, first)
    };
    let subscriber = tokio::spawn(link.clone().run_subscriber(on_frame, on_subscribed));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        for node in link.expired_nodes() {
            tracing::warn!(%node, "cluster: a node stopped answering; dropping its operators and visitors");
            drop_node(&state, &node);
        }
        if publisher.is_finished() || subscriber.is_finished() {
            tracing::error!("cluster: a link task ended");
            return;
        }
    }
}

/// Tells the other nodes this one is leaving (on a graceful shutdown, after its sockets were told
/// to reconnect elsewhere), so they drop its operators and visitors at once instead of when its
/// lease runs out.
pub async fn leave(state: &AppState) {
    if let Some(link) = &state.cluster {
        link.send(Relay::Bye, "");
        link.drain(Duration::from_millis(500)).await;
    }
}
