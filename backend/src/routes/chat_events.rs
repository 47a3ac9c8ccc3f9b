//! Publishing chat events to the right sockets, shared by the visitor and console sockets:
//! `guest:{conversation}` reaches the guest's tabs, `ops:{conversation}` the operators following it,
//! `site:{site}` the consoles listing the site's conversations.

use std::sync::Arc;

use serde_json::json;

use crate::db::models::{Conversation, Message, Operator, Visitor};
use crate::db::DbConnection;
use crate::realtime::{EventBus as _, Outgoing};
use crate::services::chat::{History, MessageEvent};
use crate::services::ServiceError;
use crate::state::AppState;

/// Topic of the guest's tabs in a conversation.
pub fn guest_topic(conversation_id: &str) -> String {
    format!("guest:{conversation_id}")
}

/// Topic of the operators following a conversation.
pub fn ops_topic(conversation_id: &str) -> String {
    format!("ops:{conversation_id}")
}

/// Topic of consoles listing a site's conversations.
pub fn site_topic(site_id: &str) -> String {
    format!("site:{site_id}")
}

/// The `conversation` event, with the names it shows.
pub fn conversation_json(
    conn: &mut DbConnection,
    c: &Conversation,
) -> Result<serde_json::Value, ServiceError> {
    let operator = match &c.assigned_operator_id {
        Some(id) => Operator::find(conn, id)?.map(|o| o.display_name),
        None => None,
    };
    let target = match &c.target_operator_id {
        Some(id) => Operator::find(conn, id)?.map(|o| o.display_name),
        None => None,
    };
    let guest_id = match &c.visitor_id {
        Some(id) => Visitor::find(conn, id)?.map(|v| v.guest_id),
        None => None,
    };
    Ok(json!({
        "type": "conversation",
        "conversation_id": c.id,
        "site_id": c.site_id,
        "status": c.status,
        "channel": c.channel,
        "operator": operator,
        "for_operator": target,
        "guest": {"guest_id": guest_id, "name": c.guest_name},
        "guest_email": c.guest_email,
        "guest_phone": c.guest_phone,
        "capabilities": capabilities(c),
        "last_seq": c.last_seq,
        "guest_read_seq": c.guest_read_seq,
        "operator_read_seq": c.operator_read_seq,
        "created_ms": c.created_at.and_utc().timestamp_millis(),
    }))
}

/// What the guest's side can do: what its panel reported, nothing for email, SMS and offline
/// conversations (no panel), and everything for panels too old to report.
pub fn capabilities(c: &Conversation) -> Vec<String> {
    if crate::services::notify::reached_outside(&c.channel) {
        return Vec::new();
    }
    match &c.guest_capabilities {
        Some(json) => serde_json::from_str(json).unwrap_or_default(),
        None => crate::services::chat::CAPABILITIES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    }
}

/// Name shown for a message's sender.
pub fn sender_name(
    conn: &mut DbConnection,
    c: &Conversation,
    m: &Message,
) -> Result<String, ServiceError> {
    Ok(match (m.sender_kind.as_str(), &m.sender_id) {
        ("operator", Some(id)) => Operator::find(conn, id)?
            .map(|o| o.display_name)
            .unwrap_or_default(),
        ("guest", _) => c.guest_name.clone().unwrap_or_else(|| "Guest".to_owned()),
        _ => String::new(),
    })
}

/// A message event, serialised once.
pub fn message_json(m: &Message, sender_name: &str) -> Arc<str> {
    serde_json::to_string(&MessageEvent::of(m, sender_name))
        .unwrap_or_default()
        .into()
}

/// Sends a stored message to everyone in the conversation (notes to operators only).
pub fn publish_message(state: &AppState, m: &Message, sender_name: &str) {
    let event = message_json(m, sender_name);
    if m.kind != "note" {
        state
            .hub
            .publish(&guest_topic(&m.conversation_id), event.clone());
    }
    state.hub.publish(&ops_topic(&m.conversation_id), event);
}

/// Sends a conversation's new state to its guest, its operators and the site's consoles.
pub fn publish_conversation(state: &AppState, c: &Conversation, event: &serde_json::Value) {
    let event: Arc<str> = event.to_string().into();
    state.hub.publish(&guest_topic(&c.id), event.clone());
    state.hub.publish(&ops_topic(&c.id), event.clone());
    state.hub.publish(&site_topic(&c.site_id), event);
    if let Some(visitor_id) = &c.visitor_id {
        state
            .live
            .set_chatting(&c.site_id, visitor_id, c.status != "closed");
    }
}

/// The ack to the sender, queued on its own connection before any broadcast so it arrives first.
pub fn ack(state: &AppState, conn_id: u64, m: &Message) {
    let event = json!({"type": "ack", "conversation_id": m.conversation_id, "client_msg_id": m.client_msg_id, "seq": m.seq});
    state
        .hub
        .send_to_conn(conn_id, Outgoing::text(event.to_string()));
}

/// The `history` or `resync` answer for a resume/join.
pub fn history_json(
    conn: &mut DbConnection,
    c: &Conversation,
    history: &History,
) -> Result<String, ServiceError> {
    Ok(match history {
        History::Resync { last_seq } => {
            json!({"type": "resync", "conversation_id": c.id, "last_seq": last_seq}).to_string()
        }
        History::Page { messages, more } => {
            let mut names = std::collections::HashMap::new();
            let mut items = Vec::with_capacity(messages.len());
            for m in messages {
                let key = (m.sender_kind, m.sender_id.clone());
                if !names.contains_key(&key) {
                    names.insert(key.clone(), sender_name(conn, c, m)?);
                }
                items.push(
                    serde_json::to_value(MessageEvent::of(m, &names[&key])).unwrap_or_default(),
                );
            }
            json!({"type": "history", "conversation_id": c.id, "messages": items, "more": more})
                .to_string()
        }
    })
}

/// A protocol `error` event.
pub fn error_json(code: &str, message: &str, client_msg_id: Option<&str>) -> String {
    json!({"type": "error", "code": code, "message": message, "client_msg_id": client_msg_id})
        .to_string()
}

/// A `rate_limited` error event, with the seconds to wait before trying again (`retry_after`).
pub fn limited_json(message: &str, retry_after: u64, client_msg_id: Option<&str>) -> String {
    json!({"type": "error", "code": "rate_limited", "message": message, "retry_after": retry_after, "client_msg_id": client_msg_id})
        .to_string()
}

/// Counts one message of `party` in the conversation against its flood limit: guests and operators
/// each have their own, per conversation (burst, then a sustained rate).
pub fn check_message_limit(
    state: &AppState,
    party: &crate::services::chat::Party,
    conversation_id: &str,
) -> Result<(), ServiceError> {
    use crate::limits::{conversation_key, retry_after_secs};
    use crate::services::chat::Party;
    let limits = &state.chat_limits;
    let checked = match party {
        Party::Guest { visitor_id } => limits
            .guest_messages
            .check(&conversation_key(visitor_id, conversation_id)),
        Party::Operator(op) => limits
            .operator_messages
            .check(&conversation_key(&op.id, conversation_id)),
    };
    checked.map_err(|wait| ServiceError::Limited {
        retry_after: retry_after_secs(wait),
    })
}

/// The error event for a failed service call (internal causes logged, not shown).
pub fn service_error_json(e: &ServiceError, client_msg_id: Option<&str>) -> String {
    let (code, message) = match e {
        ServiceError::Invalid(i) => ("bad_request", i.to_string()),
        ServiceError::NotFound | ServiceError::Unauthorized => {
            ("not_found", "no such conversation".to_owned())
        }
        ServiceError::Gone(m) => ("closed", m.clone()),
        ServiceError::Conflict(m) => ("conflict", m.clone()),
        ServiceError::Limited { retry_after } => {
            return limited_json("too many messages; slow down", *retry_after, client_msg_id)
        }
        ServiceError::Db(db) if db.is_unavailable() => {
            tracing::warn!(error = %e, "chat request failed: database unavailable");
            (
                "unavailable",
                "the server cannot store that right now; send it again shortly".to_owned(),
            )
        }
        ServiceError::Db(_) | ServiceError::Internal(_) => {
            tracing::error!(error = %e, "chat request failed");
            (
                "internal",
                "the server could not do that; try again".to_owned(),
            )
        }
    };
    error_json(code, &message, client_msg_id)
}

/// Answers a `resume` (guest) or `join` (operator): subscribes the connection to the conversation's
/// `topic`, queues the conversation's state, and returns the `history`, `resync` or `error` to send.
pub async fn catch_up(
    state: &AppState,
    conn_id: u64,
    party: crate::services::chat::Party,
    conversation_id: String,
    after_seq: i64,
    topic: fn(&str) -> String,
) -> String {
    // Subscribed before the history is read, so a message committed in between reaches this
    // socket live if not in the history (clients drop a second copy by `client_msg_id`); the
    // other order loses it. Only once the party is known to be allowed in.
    let check = (conversation_id.clone(), party.clone());
    let allowed = crate::services::run(&state.db, move |conn| {
        crate::services::chat::authorised(conn, &check.0, &check.1).map(|c| c.id)
    })
    .await;
    match allowed {
        Ok(id) => state.hub.subscribe(conn_id, &topic(&id)),
        Err(e) => return service_error_json(&e, None),
    }
    let answer = crate::services::run(&state.db, move |conn| {
        let history = crate::services::chat::history(conn, &conversation_id, &party, after_seq)?;
        let c = Conversation::find(conn, &conversation_id)?.ok_or(ServiceError::NotFound)?;
        let current = conversation_json(conn, &c)?;
        Ok((current, history_json(conn, &c, &history)?))
    })
    .await;
    match answer {
        Ok((current, history)) => {
            state
                .hub
                .send_to_conn(conn_id, Outgoing::text(current.to_string()));
            history
        }
        Err(e) => service_error_json(&e, None),
    }
}

/// Records a read mark and tells both sides; the `error` to send back, if it failed.
pub async fn mark_read(
    state: &AppState,
    party: crate::services::chat::Party,
    conversation_id: String,
    seq: i64,
) -> Option<String> {
    let by_guest = matches!(party, crate::services::chat::Party::Guest { .. });
    let marked = crate::services::run(&state.db, move |conn| {
        crate::services::chat::mark_read(conn, &conversation_id, &party, seq)
    })
    .await;
    match marked {
        Ok(c) => {
            let (who, seq) = if by_guest {
                ("guest", c.guest_read_seq)
            } else {
                ("operator", c.operator_read_seq)
            };
            let event: Arc<str> =
                json!({"type": "read", "conversation_id": c.id, "who": who, "seq": seq})
                    .to_string()
                    .into();
            state.hub.publish(&guest_topic(&c.id), event.clone());
            state.hub.publish(&ops_topic(&c.id), event);
            None
        }
        Err(e) => Some(service_error_json(&e, None)),
    }
}

/// Handles a `send` from either socket: parses it, commits the message, acks the sender's
/// connection, then broadcasts. The `error` to send back, if any.
pub async fn send_message(
    state: &AppState,
    conn_id: u64,
    party: crate::services::chat::Party,
    conversation_id: String,
    client_msg_id: String,
    body: String,
    kind: crate::services::chat::MessageKind,
) -> Option<String> {
    use crate::services::chat::{self, ClientMsgId, MessageBody};
    // Before any parsing or storage: a flood is refused at the cost of a counter. A refused send
    // stores nothing; the client may send it again (same client_msg_id) after `retry_after`.
    if let Err(e) = check_message_limit(state, &party, &conversation_id) {
        return Some(service_error_json(&e, Some(&client_msg_id)));
    }
    let (id, body) = match (
        ClientMsgId::parse(&client_msg_id),
        MessageBody::parse(&body),
    ) {
        (Ok(id), Ok(body)) => (id, body),
        (Err(e), _) | (_, Err(e)) => {
            return Some(service_error_json(&e.into(), Some(&client_msg_id)))
        }
    };
    let pacing = state.settings.floods.pacing;
    let posted = crate::services::run(&state.db, move |conn| {
        let posted = chat::post(conn, &conversation_id, &party, &id, &body, kind, pacing)?;
        let conversation =
            Conversation::find(conn, &conversation_id)?.ok_or(ServiceError::NotFound)?;
        let name = sender_name(conn, &conversation, &posted.message)?;
        Ok((posted, name))
    })
    .await;
    match posted {
        Ok((posted, name)) => {
            ack(state, conn_id, &posted.message);
            if !posted.duplicate {
                publish_message(state, &posted.message, &name);
            }
            None
        }
        Err(e) => Some(service_error_json(&e, Some(&client_msg_id))),
    }
}
