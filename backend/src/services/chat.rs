//! Conversations and their messages: start, post (idempotent, numbered), history, read marks,
//! accept, transfer, close. Every function checks that the caller may touch the conversation.

use super::ServiceError;
use crate::db::models::{Conversation, Membership, Message, Operator, Site, Visitor};
use crate::db::DbConnection;
use crate::domain::{
    self, Channel, ConversationStatus, DisplayName, InvalidInput, OperatorId, SenderKind,
};

/// Most messages in one `history` page.
pub const HISTORY_PAGE: i64 = 200;
/// Longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 4000;

/// Who is acting on a conversation.
#[derive(Debug, Clone)]
pub enum Party {
    /// The conversation's guest.
    Guest {
        /// Visitor id.
        visitor_id: String,
    },
    /// An operator of the site.
    Operator(Operator),
}

impl Party {
    fn kind(&self) -> SenderKind {
        match self {
            Party::Guest { .. } => SenderKind::Guest,
            Party::Operator(_) => SenderKind::Operator,
        }
    }

    fn id(&self) -> &str {
        match self {
            Party::Guest { visitor_id } => visitor_id,
            Party::Operator(op) => &op.id,
        }
    }
}

/// A message body, parsed: 1 to 4000 characters, not only white space.
#[derive(Debug, Clone)]
pub struct MessageBody(String);

impl MessageBody {
    /// Parses a body typed by a person (surrounding white space is kept inside, trimmed outside).
    pub fn parse(raw: &str) -> Result<MessageBody, InvalidInput> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect();
        let body = cleaned.trim();
        if body.is_empty() {
            return Err(InvalidInput::new("body", "is empty"));
        }
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(InvalidInput::new(
                "body",
                format!("is longer than {MAX_BODY_CHARS} characters"),
            ));
        }
        Ok(MessageBody(body.to_owned()))
    }
}

impl MessageBody {
    /// A body built by the server (an attachment's description), trusted to be within limits.
    pub fn generated(body: String) -> MessageBody {
        MessageBody(body)
    }
}

impl AsRef<str> for MessageBody {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// What kind of message is posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Text both sides see.
    Text,
    /// An internal note (operators only).
    Note,
    /// A file; the body is the attachment's JSON description.
    Attachment,
}

impl MessageKind {
    fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Note => "note",
            MessageKind::Attachment => "attachment",
        }
    }
}

/// A sender's idempotency key: 1 to 64 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    /// Parses a client message id.
    pub fn parse(raw: &str) -> Result<ClientMsgId, InvalidInput> {
        if raw.is_empty() || raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidInput::new(
                "client_msg_id",
                "must be 1 to 64 visible ASCII characters",
            ));
        }
        Ok(ClientMsgId(raw.to_owned()))
    }
}

/// The conversation if `party` may act on it; another guest's or another site's is `NotFound`.
pub fn authorised(
    conn: &mut DbConnection,
    conversation_id: &str,
    party: &Party,
) -> Result<Conversation, ServiceError> {
    let conversation = Conversation::find(conn, conversation_id)?.ok_or(ServiceError::NotFound)?;
    let allowed = match party {
        Party::Guest { visitor_id } => {
            conversation.visitor_id.as_deref() == Some(visitor_id.as_str())
        }
        Party::Operator(op) => Membership::role_of(conn, &conversation.site_id, &op.id)?.is_some(),
    };
    if allowed {
        Ok(conversation)
    } else {
        Err(ServiceError::NotFound)
    }
}

/// Opens the guest's conversation on their site, or returns the one already open. `handle` addresses
/// it to one operator of the site; `available` are the operators online now (for auto-assignment,
/// when the site enabled it).
pub fn start(
    conn: &mut DbConnection,
    visitor: &Visitor,
    name: Option<&str>,
    handle: Option<&str>,
    channel: Channel,
    available: &[String],
) -> Result<(Conversation, bool), ServiceError> {
    if let Some(open) = Conversation::open_for_visitor(conn, &visitor.id)? {
        return Ok((open, false));
    }
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => Some(DisplayName::parse(n)?.as_ref().to_owned()),
        None => visitor.display_name.clone(),
    };
    let target = match handle.filter(|h| !h.is_empty()) {
        Some(h) => {
            let op =
                Operator::find_by_handle(conn, &h.to_lowercase())?.ok_or(ServiceError::NotFound)?;
            if Membership::role_of(conn, &visitor.site_id, &op.id)?.is_none() {
                return Err(ServiceError::NotFound);
            }
            Some(op.id)
        }
        None => None,
    };
    let site = Site::get(conn, &visitor.site_id)?;
    let auto_assign = site.settings().auto_assign;
    let assigned = match &target {
        Some(t) if available.iter().any(|a| a == t) => Some(t.clone()),
        Some(_) => None,
        None if auto_assign => least_busy(conn, &site.id, available)?.map(OperatorId::from),
        None => None,
    };
    let now = domain::now();
    let conversation = Conversation {
        id: domain::new_id().into(),
        site_id: site.id.clone(),
        visitor_id: Some(visitor.id.clone()),
        assigned_operator_id: assigned.clone(),
        target_operator_id: target,
        status: if assigned.is_some() {
            ConversationStatus::Open
        } else {
            ConversationStatus::Waiting
        },
        channel,
        subject: String::new(),
        guest_name: name.clone(),
        guest_email: None,
        guest_phone: None,
        reply_token: None,
        last_seq: 0,
        guest_read_seq: 0,
        operator_read_seq: 0,
        created_at: now,
        updated_at: now,
        closed_at: None,
        guest_capabilities: None,
    };
    crate::db::write_transaction(conn, |conn| {
        conversation.insert(conn)?;
        super::notify::conversation_started(conn, &conversation)?;
        if let Some(name) = &name {
            use diesel::prelude::*;
            diesel::update(crate::db::schema::visitors::table.find(&visitor.id))
                .set(crate::db::schema::visitors::display_name.eq(name))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok((conversation, true))
}

/// The available member of the site with the fewest open conversations.
fn least_busy(
    conn: &mut DbConnection,
    site_id: &str,
    available: &[String],
) -> Result<Option<String>, ServiceError> {
    use crate::db::schema::conversations as c;
    use diesel::prelude::*;
    let mut best: Option<(i64, String)> = None;
    for op in available {
        if Membership::role_of(conn, site_id, op)?.is_none() {
            continue;
        }
        let load: i64 = c::table
            .filter(c::assigned_operator_id.eq(op))
            .filter(c::status.eq("open"))
            .count()
            .get_result(conn)?;
        if best.as_ref().is_none_or(|(n, _)| load < *n) {
            best = Some((load, op.clone()));
        }
    }
    Ok(best.map(|(_, id)| id))
}

/// A message stored (or found stored under the same idempotency key).
#[derive(Debug, Clone)]
pub struct Posted {
    /// The message.
    pub message: Message,
    /// True when this send repeated an earlier one: nothing new was stored.
    pub duplicate: bool,
}

/// Why the posting transaction ended without storing: a duplicate found under the row lock rolls
/// the transaction back, returning the seq it took, so seqs stay gapless.
enum PostAbort {
    Duplicate(Box<Message>),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for PostAbort {
    fn from(e: diesel::result::Error) -> Self {
        PostAbort::Db(e)
    }
}

/// Stores a message with the next sequence number, once per `(conversation, client_msg_id)`. The
/// message is committed when this returns; `pacing` paces the notifications it queues.
pub fn post(
    conn: &mut DbConnection,
    conversation_id: &str,
    party: &Party,
    client_msg_id: &ClientMsgId,
    body: &MessageBody,
    kind: MessageKind,
    pacing: crate::config::Pacing,
) -> Result<Posted, ServiceError> {
    let conversation = authorised(conn, conversation_id, party)?;
    if kind == MessageKind::Note && matches!(party, Party::Guest { .. }) {
        return Err(InvalidInput::new("note", "guests cannot write internal notes").into());
    }
    if let Some(existing) = Message::by_client_id(conn, &conversation.id, &client_msg_id.0)? {
        return Ok(Posted {
            message: existing,
            duplicate: true,
        });
    }
    if conversation.status == "closed" {
        return Err(ServiceError::Gone("this conversation is closed".into()));
    }
    let attempt = crate::db::write_transaction(conn, |conn| {
        let now = domain::now();
        // Taking the seq first locks the conversation row, so a concurrent duplicate waits here
        // and then finds the first copy.
        let seq = Conversation::next_seq(conn, &conversation.id, now)?;
        if let Some(existing) = Message::by_client_id(conn, &conversation.id, &client_msg_id.0)? {
            return Err(PostAbort::Duplicate(Box::new(existing)));
        }
        let message = Message {
            id: domain::new_id().into(),
            conversation_id: conversation.id.clone(),
            seq,
            sender_kind: party.kind(),
            sender_id: Some(party.id().to_owned()),
            client_msg_id: client_msg_id.0.clone(),
            kind: kind.as_str().to_owned(),
            body: body.0.clone(),
            created_at: now,
        };
        message.insert(conn)?;
        super::notify::message_posted(conn, &conversation, &message, pacing)?;
        Ok(message)
    });
    match attempt {
        Ok(message) => Ok(Posted {
            message,
            duplicate: false,
        }),
        Err(PostAbort::Duplicate(message)) => Ok(Posted {
            message: *message,
            duplicate: true,
        }),
        Err(PostAbort::Db(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => {
            let existing = Message::by_client_id(conn, &conversation.id, &client_msg_id.0)?
                .ok_or_else(|| {
                    ServiceError::Internal(anyhow::anyhow!(
                        "unique violation without a stored duplicate"
                    ))
                })?;
            Ok(Posted {
                message: existing,
                duplicate: true,
            })
        }
        Err(PostAbort::Db(e)) => Err(e.into()),
    }
}

/// What a reconnecting client gets: the messages after its seq, or a resync.
#[derive(Debug)]
pub enum History {
    /// Messages in order; `more` when another page follows.
    Page {
        /// The messages.
        messages: Vec<Message>,
        /// More after these.
        more: bool,
    },
    /// The client claims to have seen more than exists: start over.
    Resync {
        /// The conversation's last seq.
        last_seq: i64,
    },
}

/// The messages after `after_seq` that `party` may see (guests never see notes).
pub fn history(
    conn: &mut DbConnection,
    conversation_id: &str,
    party: &Party,
    after_seq: i64,
) -> Result<History, ServiceError> {
    let conversation = authorised(conn, conversation_id, party)?;
    if after_seq > conversation.last_seq || after_seq < 0 {
        return Ok(History::Resync {
            last_seq: conversation.last_seq,
        });
    }
    let page = Message::after(conn, &conversation.id, after_seq, HISTORY_PAGE + 1)?;
    let more = page.len() as i64 > HISTORY_PAGE;
    let mut messages: Vec<Message> = page.into_iter().take(HISTORY_PAGE as usize).collect();
    let last_in_page = messages.last().map(|m| m.seq);
    if matches!(party, Party::Guest { .. }) {
        messages.retain(|m| m.kind != "note");
        // A page of only notes must still advance the guest: keep its last seq as the cursor.
        if messages.is_empty() && more {
            return history(
                conn,
                conversation_id,
                party,
                last_in_page.unwrap_or(after_seq),
            );
        }
    }
    Ok(History::Page { messages, more })
}

/// Records that `party` has read up to `seq`.
pub fn mark_read(
    conn: &mut DbConnection,
    conversation_id: &str,
    party: &Party,
    seq: i64,
) -> Result<Conversation, ServiceError> {
    let conversation = authorised(conn, conversation_id, party)?;
    let seq = seq.clamp(0, conversation.last_seq);
    Conversation::mark_read(
        conn,
        &conversation.id,
        matches!(party, Party::Guest { .. }),
        seq,
    )?;
    Conversation::find(conn, &conversation.id)?.ok_or(ServiceError::NotFound)
}

/// Appends a system line (accepted, transferred, closed, a call's steps); nests in a caller's
/// transaction.
pub fn system_message(
    conn: &mut DbConnection,
    conversation_id: &str,
    body: &str,
) -> Result<Message, ServiceError> {
    let now = domain::now();
    let message = crate::db::write_transaction(conn, |conn| {
        let seq = Conversation::next_seq(conn, conversation_id, now)?;
        let message = Message {
            id: domain::new_id().into(),
            conversation_id: conversation_id.into(),
            seq,
            sender_kind: SenderKind::System,
            sender_id: None,
            client_msg_id: format!("system-{}", domain::new_id()),
            kind: "system".to_owned(),
            body: body.to_owned(),
            created_at: now,
        };
        message.insert(conn)?;
        Ok::<_, diesel::result::Error>(message)
    })?;
    Ok(message)
}

/// An operator takes a waiting conversation (or one addressed to them).
pub fn accept(
    conn: &mut DbConnection,
    conversation_id: &str,
    operator: &Operator,
) -> Result<(Conversation, Message), ServiceError> {
    let party = Party::Operator(operator.clone());
    let conversation = authorised(conn, conversation_id, &party)?;
    if conversation.status == "closed" {
        return Err(ServiceError::Gone("this conversation is closed".into()));
    }
    if conversation.status == "open"
        && conversation.assigned_operator_id.as_deref() != Some(operator.id.as_str())
    {
        return Err(ServiceError::Conflict(
            "another operator has taken this conversation".into(),
        ));
    }
    Conversation::set_state(
        conn,
        &conversation.id,
        ConversationStatus::Open,
        Some(&operator.id),
        domain::now(),
    )?;
    let line = system_message(
        conn,
        &conversation.id,
        &format!("{} joined the chat", operator.display_name),
    )?;
    Ok((
        Conversation::find(conn, &conversation.id)?.ok_or(ServiceError::NotFound)?,
        line,
    ))
}

/// Hands a conversation to another operator of the site (by handle).
pub fn transfer(
    conn: &mut DbConnection,
    conversation_id: &str,
    by: &Operator,
    to_handle: &str,
) -> Result<(Conversation, Message, Operator), ServiceError> {
    let conversation = authorised(conn, conversation_id, &Party::Operator(by.clone()))?;
    let to = Operator::find_by_handle(conn, &to_handle.trim().to_lowercase())?
        .ok_or(ServiceError::NotFound)?;
    if Membership::role_of(conn, &conversation.site_id, &to.id)?.is_none() {
        return Err(ServiceError::NotFound);
    }
    Conversation::set_state(
        conn,
        &conversation.id,
        ConversationStatus::Open,
        Some(&to.id),
        domain::now(),
    )?;
    let line = system_message(
        conn,
        &conversation.id,
        &format!(
            "{} transferred the chat to {}",
            by.display_name, to.display_name
        ),
    )?;
    Ok((
        Conversation::find(conn, &conversation.id)?.ok_or(ServiceError::NotFound)?,
        line,
        to,
    ))
}

/// Closes a conversation; the guest's id is deactivated with it (their chat ended).
pub fn close(
    conn: &mut DbConnection,
    conversation_id: &str,
    party: &Party,
    by_name: &str,
) -> Result<(Conversation, Message), ServiceError> {
    let conversation = authorised(conn, conversation_id, party)?;
    if conversation.status == "closed" {
        return Err(ServiceError::Gone("this conversation is closed".into()));
    }
    let line = system_message(
        conn,
        &conversation.id,
        &format!("{by_name} closed the chat"),
    )?;
    Conversation::set_state(
        conn,
        &conversation.id,
        ConversationStatus::Closed,
        conversation.assigned_operator_id.as_deref(),
        domain::now(),
    )?;
    let closed = Conversation::find(conn, &conversation.id)?.ok_or(ServiceError::NotFound)?;
    super::notify::conversation_closed(conn, &closed)?;
    Ok((closed, line))
}

/// Capabilities a panel may report (docs/protocol.md, "Capabilities").
pub const CAPABILITIES: [&str; 5] = ["files", "read_receipts", "typing", "sound", "calls"];

/// Records what the guest's panel can do; answers the conversation when that changed. Unknown
/// names are dropped.
pub fn set_capabilities(
    conn: &mut DbConnection,
    conversation_id: &str,
    party: &Party,
    reported: &[String],
) -> Result<Option<Conversation>, ServiceError> {
    use diesel::prelude::*;
    let conversation = authorised(conn, conversation_id, party)?;
    let mut caps: Vec<&str> = CAPABILITIES
        .into_iter()
        .filter(|c| reported.iter().any(|r| r == c))
        .collect();
    caps.dedup();
    let json = serde_json::to_string(&caps).unwrap_or_else(|_| "[]".to_owned());
    if conversation.guest_capabilities.as_deref() == Some(json.as_str()) {
        return Ok(None);
    }
    diesel::update(crate::db::schema::conversations::table.find(&conversation.id))
        .set(crate::db::schema::conversations::guest_capabilities.eq(&json))
        .execute(conn)?;
    Ok(Conversation::find(conn, &conversation.id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_ids_are_checked() {
        assert!(MessageBody::parse("   ").is_err());
        assert!(MessageBody::parse(&"x".repeat(4001)).is_err());
        assert_eq!(
            MessageBody::parse(" hi\nthere \u{0} ").unwrap().0,
            "hi\nthere"
        );
        assert!(ClientMsgId::parse("").is_err());
        assert!(ClientMsgId::parse("a b").is_err());
        assert!(ClientMsgId::parse("0193-abc").is_ok());
    }
}
