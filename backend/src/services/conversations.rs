//! The chat's use cases as people do them: start a chat, post a message, catch up, mark read,
//! type, accept, transfer, close. Each one validates, commits (through [`super::run`]) and only
//! then publishes typed events through the [`crate::realtime::Bus`], so what a socket, an upload,
//! a mailed reply or an SMS does to a conversation is announced the same way. The context is the
//! application state: storage, the bus, the live list, limits and outbound delivery.

use std::collections::HashMap;

use super::chat::{self, ClientMsgId, History, MessageBody, MessageKind, Party};
use super::{run, ServiceError};
use crate::db::models::{Conversation, Membership, Message, Operator, Visitor};
use crate::db::DbConnection;
use crate::realtime::protocol::{ConversationView, GuestView, MessageView};
use crate::realtime::ServerEvent;
use crate::state::AppState;

/// The `conversation` view of a stored conversation, with the names it shows.
pub fn conversation_view(
    conn: &mut DbConnection,
    c: &Conversation,
) -> Result<ConversationView, ServiceError> {
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
    Ok(ConversationView {
        conversation_id: c.id.to_string(),
        site_id: c.site_id.to_string(),
        status: c.status.to_string(),
        channel: c.channel.to_string(),
        operator,
        for_operator: target,
        guest: GuestView {
            guest_id,
            name: c.guest_name.clone(),
        },
        guest_email: c.guest_email.clone(),
        guest_phone: c.guest_phone.clone(),
        capabilities: capabilities(c),
        last_seq: c.last_seq,
        guest_read_seq: c.guest_read_seq,
        operator_read_seq: c.operator_read_seq,
        created_ms: c.created_at.and_utc().timestamp_millis(),
    })
}

/// What the guest's side can do: what its panel reported, nothing for email, SMS and offline
/// conversations (no panel), and everything for panels too old to report.
pub fn capabilities(c: &Conversation) -> Vec<String> {
    if super::notify::reached_outside(&c.channel) {
        return Vec::new();
    }
    match &c.guest_capabilities {
        Some(json) => serde_json::from_str(json).unwrap_or_default(),
        None => chat::CAPABILITIES.iter().map(|s| (*s).to_owned()).collect(),
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

/// The view of a stored message with its sender's shown name.
pub fn message_view<'a>(m: &'a Message, sender_name: &'a str) -> MessageView<'a> {
    MessageView {
        conversation_id: &m.conversation_id,
        seq: m.seq,
        client_msg_id: &m.client_msg_id,
        kind: &m.kind,
        sender: &m.sender_kind,
        sender_name,
        body: &m.body,
        created_ms: m.created_at.and_utc().timestamp_millis(),
    }
}

/// Sends a stored message to everyone in the conversation (notes to operators only).
pub fn publish_message(state: &AppState, m: &Message, sender_name: &str) {
    let event = ServerEvent::Message(message_view(m, sender_name));
    if m.kind == "note" {
        state.bus().to_operators(&m.conversation_id, &event);
    } else {
        state.bus().to_conversation(&m.conversation_id, &event);
    }
}

/// Sends a conversation's new state to its guest, its operators and the site's consoles, and
/// keeps the live list's "chatting" mark in step.
pub fn publish_conversation(state: &AppState, c: &Conversation, view: &ConversationView) {
    state
        .bus()
        .to_conversation_and_site(&c.id, &c.site_id, &ServerEvent::Conversation(view));
    if let Some(visitor_id) = &c.visitor_id {
        state
            .live
            .set_chatting(&c.site_id, visitor_id, c.status != "closed");
        let open = (c.status != "closed").then_some(c.id.as_str());
        state.live.set_conversation(&c.site_id, visitor_id, open);
    }
}

/// Publishes what a committed post changed: the message (unless it repeated an earlier send),
/// and the conversation when it was just started. Used by the channels that post from outside a
/// socket (uploads, mailed replies, SMS, offline messages).
pub fn publish_posted(
    state: &AppState,
    posted: &chat::Posted,
    sender_name: &str,
    started: Option<(&Conversation, &ConversationView)>,
) {
    if let Some((c, view)) = started {
        publish_conversation(state, c, view);
    }
    if !posted.duplicate {
        publish_message(state, &posted.message, sender_name);
    }
}

/// Counts one message of `party` in the conversation against its flood limit: guests and operators
/// each have their own, per conversation (burst, then a sustained rate).
pub fn check_message_limit(
    state: &AppState,
    party: &Party,
    conversation_id: &str,
) -> Result<(), ServiceError> {
    use crate::limits::{conversation_key, retry_after_secs};
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

/// A chat message to post: where, with which idempotency key, what, and of which kind.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Conversation id.
    pub conversation_id: String,
    /// The sender's idempotency key, unparsed.
    pub client_msg_id: String,
    /// The text, unparsed.
    pub body: String,
    /// Text or internal note.
    pub kind: MessageKind,
}

/// Posts a message from a socket: checks the flood limit, parses, commits, then acks the sender's
/// connection `reply_to` (before any broadcast, so the ack arrives first), then broadcasts. A
/// repeated send (same `client_msg_id`) is acked again and stores and broadcasts nothing.
pub async fn post_message(
    state: &AppState,
    reply_to: u64,
    party: Party,
    new: NewMessage,
) -> Result<(), ServiceError> {
    // Before any parsing or storage: a flood is refused at the cost of a counter. A refused send
    // stores nothing; the client may send it again (same client_msg_id) after `retry_after`.
    check_message_limit(state, &party, &new.conversation_id)?;
    let id = ClientMsgId::parse(&new.client_msg_id)?;
    let body = MessageBody::parse(&new.body)?;
    let pacing = state.settings.floods.pacing;
    let conversation_id = new.conversation_id;
    let kind = new.kind;
    let (posted, name) = run(&state.db, move |conn| {
        let posted = chat::post(conn, &conversation_id, &party, &id, &body, kind, pacing)?;
        let conversation =
            Conversation::find(conn, &conversation_id)?.ok_or(ServiceError::NotFound)?;
        let name = sender_name(conn, &conversation, &posted.message)?;
        Ok((posted, name))
    })
    .await?;
    let m = &posted.message;
    state.bus().to_connection(
        reply_to,
        &ServerEvent::Ack {
            conversation_id: &m.conversation_id,
            client_msg_id: &m.client_msg_id,
            seq: m.seq,
        },
    );
    if !posted.duplicate {
        publish_message(state, m, &name);
    }
    Ok(())
}

/// Opens the guest's conversation on this site (or finds the open one) and makes every tab of the
/// guest follow it. A new conversation is announced to everyone concerned; an existing one is
/// answered to the asking tab (`reply_to`) alone.
pub async fn start_chat(
    state: &AppState,
    reply_to: u64,
    visitor_id: &str,
    name: Option<String>,
    handle: Option<String>,
) -> Result<(), ServiceError> {
    let available = state.availability.available_operators(&state.hub);
    let id = visitor_id.to_owned();
    let (conversation, created, view) = run(&state.db, move |conn| {
        let visitor = Visitor::find(conn, &id)?.ok_or(ServiceError::NotFound)?;
        let (conversation, created) = chat::start(
            conn,
            &visitor,
            name.as_deref(),
            handle.as_deref(),
            crate::domain::Channel::Widget,
            &available,
        )?;
        let view = conversation_view(conn, &conversation)?;
        Ok((conversation, created, view))
    })
    .await?;
    let bus = state.bus();
    bus.follow_as_guest_in_all_tabs(visitor_id, &conversation.id);
    bus.follow_as_guest(reply_to, &conversation.id);
    if created {
        publish_conversation(state, &conversation, &view);
    } else {
        bus.to_connection(reply_to, &ServerEvent::Conversation(&view));
    }
    Ok(())
}

/// Stores what the guest's panel can do on the conversation (the guest's open one when not named)
/// and tells everyone concerned when it changed. Best effort: a failure is logged.
pub async fn report_capabilities(
    state: &AppState,
    visitor_id: &str,
    conversation_id: Option<String>,
    caps: Vec<String>,
) {
    let party = Party::Guest {
        visitor_id: visitor_id.to_owned(),
    };
    let visitor_id = visitor_id.to_owned();
    let changed = run(&state.db, move |conn| {
        let id = match conversation_id {
            Some(id) => id,
            None => match Conversation::open_for_visitor(conn, &visitor_id)? {
                Some(c) => c.id.into_string(),
                None => return Ok(None),
            },
        };
        match chat::set_capabilities(conn, &id, &party, &caps)? {
            Some(c) => {
                let view = conversation_view(conn, &c)?;
                Ok(Some((c, view)))
            }
            None => Ok(None),
        }
    })
    .await;
    match changed {
        Ok(Some((c, view))) => publish_conversation(state, &c, &view),
        Ok(None) => {}
        Err(e) => tracing::debug!(error = %e, "capabilities not stored"),
    }
}

/// Who catches up: the guest (following as the guest) or an operator (following as an operator).
fn follow(state: &AppState, conn_id: u64, party: &Party, conversation_id: &str) {
    match party {
        Party::Guest { .. } => state.bus().follow_as_guest(conn_id, conversation_id),
        Party::Operator(_) => state.bus().follow_as_operator(conn_id, conversation_id),
    }
}

/// Answers a `resume` (guest) or `join` (operator) on connection `conn_id`: makes it follow the
/// conversation, sends it the conversation's state, then the `history` or `resync` it missed, then
/// the conversation's ringing or active call if the party is one of its parties.
pub async fn catch_up(
    state: &AppState,
    conn_id: u64,
    party: Party,
    conversation_id: String,
    after_seq: i64,
) -> Result<(), ServiceError> {
    // Subscribed before the history is read, so a message committed in between reaches this
    // socket live if not in the history (clients drop a second copy by `client_msg_id`); the
    // other order loses it. Only once the party is known to be allowed in.
    let check = (conversation_id.clone(), party.clone());
    let id = run(&state.db, move |conn| {
        chat::authorised(conn, &check.0, &check.1).map(|c| c.id)
    })
    .await?;
    follow(state, conn_id, &party, &id);
    let caller = party.clone();
    let (view, history, names) = run(&state.db, move |conn| {
        let history = chat::history(conn, &conversation_id, &party, after_seq)?;
        let c = Conversation::find(conn, &conversation_id)?.ok_or(ServiceError::NotFound)?;
        let view = conversation_view(conn, &c)?;
        let mut names = HashMap::new();
        if let History::Page { messages, .. } = &history {
            for m in messages {
                let key = (m.sender_kind, m.sender_id.clone());
                if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(key) {
                    slot.insert(sender_name(conn, &c, m)?);
                }
            }
        }
        Ok((view, history, names))
    })
    .await?;
    let bus = state.bus();
    bus.to_connection(conn_id, &ServerEvent::Conversation(&view));
    match &history {
        History::Resync { last_seq } => bus.to_connection(
            conn_id,
            &ServerEvent::Resync {
                conversation_id: &view.conversation_id,
                last_seq: *last_seq,
            },
        ),
        History::Page { messages, more } => {
            let items: Vec<MessageView<'_>> = messages
                .iter()
                .map(|m| {
                    let key = (m.sender_kind, m.sender_id.clone());
                    message_view(m, names.get(&key).map_or("", String::as_str))
                })
                .collect();
            bus.to_connection(
                conn_id,
                &ServerEvent::History {
                    conversation_id: &view.conversation_id,
                    messages: &items,
                    more: *more,
                },
            );
        }
    }
    // A tab that comes back during a call learns of it (to ring, to carry on, or to end it).
    super::calls::tell_live_call(state, conn_id, caller, id.into_string()).await
}

/// Records a read mark and tells both sides.
pub async fn mark_read(
    state: &AppState,
    party: Party,
    conversation_id: String,
    seq: i64,
) -> Result<(), ServiceError> {
    let by_guest = matches!(party, Party::Guest { .. });
    let c = run(&state.db, move |conn| {
        chat::mark_read(conn, &conversation_id, &party, seq)
    })
    .await?;
    let (who, seq) = if by_guest {
        ("guest", c.guest_read_seq)
    } else {
        ("operator", c.operator_read_seq)
    };
    state.bus().to_conversation(
        &c.id,
        &ServerEvent::Read {
            conversation_id: &c.id,
            who,
            seq,
        },
    );
    Ok(())
}

/// Relays the guest's typing to the conversation's operators, with what they typed so far only
/// where the site enabled previews (`previews_on` reads that from the site).
pub async fn guest_typing(
    state: &AppState,
    visitor_id: &str,
    conversation_id: String,
    typing: bool,
    preview: Option<String>,
    previews_on: fn(&crate::db::models::Site) -> bool,
) -> Result<(), ServiceError> {
    let party = Party::Guest {
        visitor_id: visitor_id.to_owned(),
    };
    let (c, previews_on) = run(&state.db, move |conn| {
        let c = chat::authorised(conn, &conversation_id, &party)?;
        let site = crate::db::models::Site::get(conn, &c.site_id)?;
        Ok((c, previews_on(&site)))
    })
    .await?;
    let name = c.guest_name.clone().unwrap_or_else(|| "Guest".to_owned());
    // The guest is told in the panel when previews are on; otherwise nothing typed leaves the
    // guest's browser before it is sent, and nothing is relayed even if sent.
    let preview = preview.filter(|_| previews_on && typing).map(|p| {
        p.chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .take(200)
            .collect::<String>()
    });
    state.bus().to_operators(
        &c.id,
        &ServerEvent::Typing {
            conversation_id: &c.id,
            who: "guest",
            name: &name,
            state: typing,
            preview: Some(preview.as_deref()),
        },
    );
    Ok(())
}

/// Relays an operator's typing to the conversation's guest. `known_allowed` says the operator was
/// already found to be allowed in (typing events are frequent: the membership check is done once
/// per conversation by the caller's memory).
pub async fn operator_typing(
    state: &AppState,
    operator: &Operator,
    conversation_id: &str,
    typing: bool,
    known_allowed: bool,
) -> Result<(), ServiceError> {
    let limit = &state.chat_limits.operator_typing;
    if let Err(wait) = limit.check(&operator.id) {
        return Err(ServiceError::Limited {
            retry_after: crate::limits::retry_after_secs(wait),
        });
    }
    if !known_allowed {
        let party = Party::Operator(operator.clone());
        let id = conversation_id.to_owned();
        run(&state.db, move |conn| chat::authorised(conn, &id, &party)).await?;
    }
    state.bus().to_guests(
        conversation_id,
        &ServerEvent::Typing {
            conversation_id,
            who: "operator",
            name: &operator.display_name,
            state: typing,
            preview: None,
        },
    );
    Ok(())
}

/// A change an operator makes to a conversation's state.
#[derive(Debug, Clone)]
pub enum Change {
    /// Take a waiting conversation.
    Accept,
    /// Hand it to the operator with this handle.
    Transfer {
        /// The other operator's handle.
        to_handle: String,
    },
    /// Close it.
    Close,
}

/// Accepts, transfers or closes a conversation for `operator`; the console tab `conn_id` follows
/// it from then on, and everyone concerned gets the system line and the new state.
pub async fn change(
    state: &AppState,
    conn_id: u64,
    operator: &Operator,
    conversation_id: String,
    change: Change,
) -> Result<(), ServiceError> {
    let op = operator.clone();
    let (c, line, view) = run(&state.db, move |conn| {
        let (c, line) = match change {
            Change::Accept => chat::accept(conn, &conversation_id, &op)?,
            Change::Transfer { to_handle } => {
                let (c, line, _) = chat::transfer(conn, &conversation_id, &op, &to_handle)?;
                (c, line)
            }
            Change::Close => chat::close(
                conn,
                &conversation_id,
                &Party::Operator(op.clone()),
                &op.display_name,
            )?,
        };
        let view = conversation_view(conn, &c)?;
        Ok((c, line, view))
    })
    .await?;
    state.bus().follow_as_operator(conn_id, &c.id);
    publish_message(state, &line, "");
    publish_conversation(state, &c, &view);
    Ok(())
}

/// Sends console tab `conn_id` the site's open and waiting conversations and makes it follow the
/// site's conversation changes; only for an operator of the site.
pub async fn list_for_site(
    state: &AppState,
    conn_id: u64,
    operator_id: &str,
    site_id: String,
) -> Result<(), ServiceError> {
    let operator_id = operator_id.to_owned();
    let (site_id, items) = run(&state.db, move |conn| {
        if Membership::role_of(conn, &site_id, &operator_id)?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let mut items = Vec::new();
        for c in Conversation::active_for_site(conn, &site_id)? {
            items.push(conversation_view(conn, &c)?);
        }
        Ok((site_id, items))
    })
    .await?;
    let bus = state.bus();
    bus.follow_site_conversations(conn_id, &site_id);
    bus.to_connection(
        conn_id,
        &ServerEvent::ConversationList {
            site_id: &site_id,
            items: &items,
        },
    );
    Ok(())
}

/// Queues the conversation's transcript to the guest's email address; the address.
pub async fn email_transcript(
    state: &AppState,
    operator: &Operator,
    conversation_id: String,
) -> Result<String, ServiceError> {
    let party = Party::Operator(operator.clone());
    let base_url = state.settings.base().to_owned();
    let email = run(&state.db, move |conn| {
        let c = chat::authorised(conn, &conversation_id, &party)?;
        super::notify::transcript(conn, &c, &base_url)
    })
    .await?;
    state.outbound.wake();
    Ok(email)
}

/// The conversation the guest has open on this site, if any (a tab opened during a chat follows it
/// from the start, and is told its state: a chat panel opened after "Chat now" on an invitation
/// takes the chat up at once, with the inviter's first message).
pub async fn follow_open_chat(state: &AppState, conn_id: u64, visitor_id: &str) {
    let id = visitor_id.to_owned();
    if let Ok(Some(view)) = run(&state.db, move |conn| match Conversation::open_for_visitor(
        conn, &id,
    )? {
        Some(open) => Ok(Some(conversation_view(conn, &open)?)),
        None => Ok(None),
    })
    .await
    {
        let bus = state.bus();
        bus.follow_as_guest(conn_id, &view.conversation_id);
        bus.to_connection(conn_id, &ServerEvent::Conversation(&view));
    }
}
