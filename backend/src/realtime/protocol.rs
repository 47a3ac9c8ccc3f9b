//! The socket protocol of `docs/protocol.md` as types: every event the server sends is a variant of
//! [`ServerEvent`], every message a client sends one of [`VisitorMessage`] (on `/ws/visitor`) or
//! [`ConsoleMessage`] (on `/ws/console`). The field names here are the wire names; the widget's and
//! the console's JavaScript read them, so renaming one is a protocol change.

use serde::{Deserialize, Serialize, Serializer};

use super::live::{LiveVisitor, VisitorFilter};
use crate::domain::{CallMedia, CallOutcome, CallSide, CallState};

/// What an operator chose in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chosen {
    /// Ready to chat.
    Available,
    /// Not taking chats.
    Away,
}

impl Chosen {
    /// The stored value (`operators.availability`); anything but `away` means available.
    pub fn parse(stored: &str) -> Chosen {
        if stored == "away" {
            Chosen::Away
        } else {
            Chosen::Available
        }
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Chosen::Available => "available",
            Chosen::Away => "away",
        }
    }
}

/// An operator's effective status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Will get chats.
    Available,
    /// Console open, not taking chats (chose so, or inactive).
    Away,
    /// No console open.
    Offline,
}

/// The guest side of a conversation as consoles see it.
#[derive(Debug, Clone, Serialize)]
pub struct GuestView {
    /// The guest's temporary id (none for email and SMS conversations without a visitor).
    pub guest_id: Option<String>,
    /// The guest's display name, if given.
    pub name: Option<String>,
}

/// A conversation's state (`conversation` event, and the items of `conversation_list`).
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    /// Conversation id.
    pub conversation_id: String,
    /// Site id.
    pub site_id: String,
    /// `waiting`, `open` or `closed`.
    pub status: String,
    /// `widget`, `page`, `offline`, `email` or `sms`.
    pub channel: String,
    /// The assigned operator's display name.
    pub operator: Option<String>,
    /// On a person's chat page: that operator's display name.
    pub for_operator: Option<String>,
    /// The guest.
    pub guest: GuestView,
    /// Where emailed replies go.
    pub guest_email: Option<String>,
    /// Where SMS replies go.
    pub guest_phone: Option<String>,
    /// What the guest's client can do.
    pub capabilities: Vec<String>,
    /// The last message's sequence number.
    pub last_seq: i64,
    /// Up to where the guest has read.
    pub guest_read_seq: i64,
    /// Up to where the operators have read.
    pub operator_read_seq: i64,
    /// When the conversation started (Unix ms).
    pub created_ms: i64,
}

/// One stored message (`message` event, and the items of `history`).
#[derive(Debug, Clone, Serialize)]
pub struct MessageView<'a> {
    /// Conversation id.
    pub conversation_id: &'a str,
    /// Per-conversation sequence number.
    pub seq: i64,
    /// The sender's idempotency key.
    pub client_msg_id: &'a str,
    /// `text`, `note`, `system` or `attachment`.
    pub kind: &'a str,
    /// `guest`, `operator` or `system`.
    pub sender: &'a str,
    /// The sender's shown name.
    pub sender_name: &'a str,
    /// The text (a JSON description for attachments).
    pub body: &'a str,
    /// When it was stored (Unix ms).
    pub created_ms: i64,
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServerView {
    /// The server's URLs.
    pub urls: Vec<String>,
    /// TURN: the minted username (`EXPIRY:CALL_ID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN: the minted credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A call as its two parties see it (`call` event).
#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    /// Call id.
    pub call_id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// Voice or video.
    pub media: CallMedia,
    /// Who started it.
    pub caller: CallSide,
    /// The caller's shown name.
    pub caller_name: String,
    /// Ringing, active or ended.
    pub state: CallState,
    /// The guest's tab that runs it, once known.
    pub guest_tab: Option<String>,
    /// The operator's tab that runs it, once known.
    pub operator_tab: Option<String>,
    /// How it ended.
    pub outcome: Option<CallOutcome>,
    /// Who ended it.
    pub ended_by: Option<CallSide>,
    /// When it started ringing (Unix ms).
    pub started_ms: i64,
    /// When it was answered (Unix ms).
    pub answered_ms: Option<i64>,
    /// How long it rings unanswered.
    pub ring_secs: u64,
    /// STUN and TURN servers (TURN with credentials minted for this call); empty once ended.
    pub ice_servers: Vec<IceServerView>,
}

/// What a `call_signal` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalKind {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
    /// A trickled ICE candidate.
    Candidate,
    /// What the sender is sending now.
    Media,
}

/// An ICE candidate, as `RTCIceCandidate.toJSON()` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    /// The candidate line (empty: end of candidates).
    pub candidate: String,
    /// Media stream id.
    #[serde(rename = "sdpMid", default)]
    pub sdp_mid: Option<String>,
    /// Media line index.
    #[serde(rename = "sdpMLineIndex", default)]
    pub sdp_m_line_index: Option<u32>,
}

/// What a party sends now, shown to the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaState {
    /// Microphone on.
    pub audio: bool,
    /// Camera on.
    pub video: bool,
    /// Sharing a screen.
    pub screen: bool,
}

/// The signalling payload of a `call_signal`, relayed as it came (after checks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Which kind.
    pub kind: SignalKind,
    /// Offer and answer: the SDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp: Option<String>,
    /// Candidate: the candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<IceCandidate>,
    /// Media: the sender's media state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaState>,
}

/// A party's request about a call (`call` message on either socket).
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CallRequest {
    /// Ring the other party.
    Start {
        /// Conversation id.
        conversation_id: String,
        /// Voice or video.
        media: CallMedia,
        /// The sending tab's id.
        tab: String,
    },
    /// Answer a ringing call.
    Accept {
        /// Call id.
        call_id: String,
        /// The sending tab's id.
        tab: String,
    },
    /// Refuse a ringing call (a `tab` sent along is not needed).
    Decline {
        /// Call id.
        call_id: String,
    },
    /// End (or cancel) a call (a `tab` sent along is not needed).
    Hangup {
        /// Call id.
        call_id: String,
    },
}

impl CallRequest {
    /// The call it is about (none for `start`).
    pub fn call_id(&self) -> Option<&str> {
        match self {
            CallRequest::Start { .. } => None,
            CallRequest::Accept { call_id, .. }
            | CallRequest::Decline { call_id, .. }
            | CallRequest::Hangup { call_id, .. } => Some(call_id),
        }
    }
}

/// A party's signalling for the other party (`call_signal` message on either socket).
#[derive(Debug, Deserialize)]
pub struct CallSignal {
    /// Call id.
    pub call_id: String,
    /// The payload.
    #[serde(flatten)]
    pub signal: Signal,
}

/// Every event the server sends on a socket (`docs/protocol.md`). Serialised with its `type`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent<'a> {
    /// To a visitor tab on connect.
    Hello {
        /// The guest's temporary id.
        guest_id: &'a str,
    },
    /// To visitor tabs: whether someone can answer now.
    SiteStatus {
        /// Someone can answer.
        online: bool,
    },
    /// To a visitor's tabs: show the invitation bubble.
    Invite {
        /// Invitation id.
        invitation_id: &'a str,
        /// The inviting operator's name.
        operator: &'a str,
        /// The bubble's text.
        message: &'a str,
    },
    /// To a visitor's tabs: hide the bubble.
    InviteCancelled {
        /// Invitation id.
        invitation_id: &'a str,
    },
    /// To an operator's consoles: their effective status and their choice.
    Availability {
        /// Effective status.
        status: Status,
        /// What the operator chose.
        chosen: Chosen,
    },
    /// To one console: a short confirmation.
    Notice {
        /// The conversation it is about.
        conversation_id: &'a str,
        /// The text to show.
        message: &'a str,
    },
    /// To one console: the watched window of a site's live visitors.
    Snapshot {
        /// Site id.
        site_id: &'a str,
        /// Visitors matching the filter.
        total: usize,
        /// Offset of the window.
        offset: usize,
        /// The window.
        visitors: Vec<&'a LiveVisitor>,
    },
    /// To one console: changes within its watched window.
    Visitors {
        /// Visitors matching the filter.
        total: usize,
        /// Rows added or changed.
        upserts: Vec<&'a LiveVisitor>,
        /// Ids of rows that left the window.
        removed: &'a [String],
    },
    /// To consoles watching a site: an invitation's status.
    Invitation {
        /// Invitation id.
        invitation_id: &'a str,
        /// The invited visitor.
        visitor_id: &'a str,
        /// `pending`, `accepted`, `declined` or `expired`.
        status: &'a str,
        /// The conversation an accepted invitation opened (the console links the visitor's row
        /// to it); `None` otherwise.
        conversation_id: Option<&'a str>,
    },
    /// To the inviting operator's consoles: the visitor accepted their invitation, and the chat
    /// it opened (assigned to them, the invitation's text as their first message) is this one.
    InvitationAccepted {
        /// Invitation id.
        invitation_id: &'a str,
        /// The visitor who accepted.
        visitor_id: &'a str,
        /// The conversation it opened (or the visitor's open one it joined).
        conversation_id: &'a str,
        /// The guest's shown name.
        guest: &'a str,
    },
    /// A conversation's state.
    Conversation(&'a ConversationView),
    /// To one console: a site's open and waiting conversations.
    ConversationList {
        /// Site id.
        site_id: &'a str,
        /// The conversations.
        items: &'a [ConversationView],
    },
    /// A stored message.
    Message(MessageView<'a>),
    /// To the sender's connection: the message is stored.
    Ack {
        /// Conversation id.
        conversation_id: &'a str,
        /// The sender's idempotency key.
        client_msg_id: &'a str,
        /// The stored message's sequence number.
        seq: i64,
    },
    /// A page of missed messages.
    History {
        /// Conversation id.
        conversation_id: &'a str,
        /// The messages, in order (each serialised as a `message` event).
        #[serde(serialize_with = "tagged_messages")]
        messages: &'a [MessageView<'a>],
        /// More pages follow.
        more: bool,
    },
    /// The client's `after_seq` is beyond what the server has: drop the copy and resume from 0.
    Resync {
        /// Conversation id.
        conversation_id: &'a str,
        /// The server's last sequence number.
        last_seq: i64,
    },
    /// Someone is typing.
    Typing {
        /// Conversation id.
        conversation_id: &'a str,
        /// `guest` or `operator`.
        who: &'a str,
        /// Their shown name.
        name: &'a str,
        /// Typing now.
        state: bool,
        /// Guests' events carry the key (null unless the site relays previews); operators' do not.
        #[serde(skip_serializing_if = "Option::is_none")]
        preview: Option<Option<&'a str>>,
    },
    /// A read mark.
    Read {
        /// Conversation id.
        conversation_id: &'a str,
        /// `guest` or `operator`.
        who: &'a str,
        /// Read up to this sequence number.
        seq: i64,
    },
    /// To a call's two parties: its state.
    Call(&'a CallView),
    /// To one party of a call: the other's signalling.
    CallSignal {
        /// Call id.
        call_id: &'a str,
        /// The conversation.
        conversation_id: &'a str,
        /// Which party sent it.
        from: CallSide,
        /// The payload.
        #[serde(flatten)]
        signal: &'a Signal,
    },
    /// A request failed.
    Error {
        /// A stable code (`bad_request`, `not_found`, `closed`, `rate_limited`, …).
        code: &'a str,
        /// Text for people.
        message: &'a str,
        /// For `rate_limited`: seconds to wait.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
        /// Chat errors carry the key (null unless a `send` failed); the console's own do not.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<Option<&'a str>>,
        /// Errors answering a `call` or `call_signal` carry the key (the call's id, null for a
        /// refused `start`), so clients tell them from chat errors.
        #[serde(skip_serializing_if = "Option::is_none")]
        call_id: Option<Option<&'a str>>,
    },
}

/// Serialises history items each with its `"type": "message"`, as clients expect.
fn tagged_messages<S: Serializer>(messages: &&[MessageView<'_>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(messages.iter().cloned().map(ServerEvent::Message))
}

impl<'a> ServerEvent<'a> {
    /// The event as JSON text.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail (string keys, no maps of other keys, no floats).
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A chat `error` (with the `client_msg_id` key, null unless given).
    pub fn chat_error(
        code: &'a str,
        message: &'a str,
        client_msg_id: Option<&'a str>,
    ) -> ServerEvent<'a> {
        ServerEvent::Error {
            code,
            message,
            retry_after: None,
            client_msg_id: Some(client_msg_id),
            call_id: None,
        }
    }

    /// A `rate_limited` error with the seconds to wait.
    pub fn limited(
        message: &'a str,
        retry_after: u64,
        client_msg_id: Option<&'a str>,
    ) -> ServerEvent<'a> {
        ServerEvent::Error {
            code: "rate_limited",
            message,
            retry_after: Some(retry_after),
            client_msg_id: Some(client_msg_id),
            call_id: None,
        }
    }

    /// A console `error` outside the chat (no `client_msg_id` key).
    pub fn console_error(code: &'a str, message: &'a str) -> ServerEvent<'a> {
        ServerEvent::Error {
            code,
            message,
            retry_after: None,
            client_msg_id: None,
            call_id: None,
        }
    }
}

/// A message a visitor tab sends on `/ws/visitor`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorMessage {
    /// The answer to an invitation bubble.
    InviteResponse {
        /// Invitation id.
        invitation_id: String,
        /// Accepted (else declined).
        accepted: bool,
    },
    /// Open the guest's conversation on this site (or get the open one).
    StartChat {
        /// Display name.
        #[serde(default)]
        name: Option<String>,
        /// On a person's chat page: that operator's handle.
        #[serde(default)]
        handle: Option<String>,
        /// What the panel can do.
        #[serde(default)]
        capabilities: Option<Vec<String>>,
    },
    /// Post a message.
    Send {
        /// Conversation id.
        conversation_id: String,
        /// Idempotency key.
        client_msg_id: String,
        /// The text.
        body: String,
    },
    /// Catch up after `after_seq`.
    Resume {
        /// Conversation id.
        conversation_id: String,
        /// The last seq the tab saw.
        after_seq: i64,
        /// What the panel can do.
        #[serde(default)]
        capabilities: Option<Vec<String>>,
    },
    /// The guest is (not) typing.
    Typing {
        /// Conversation id.
        conversation_id: String,
        /// Typing now.
        state: bool,
        /// What the guest has typed so far; relayed only where the site enabled previews.
        #[serde(default)]
        preview: Option<String>,
    },
    /// The guest has seen everything up to `seq`.
    Read {
        /// Conversation id.
        conversation_id: String,
        /// Read up to this sequence number.
        seq: i64,
    },
    /// Start, answer or end a call.
    Call(CallRequest),
    /// Signalling for the other party of a call.
    CallSignal(CallSignal),
}

/// A message a console tab sends on `/ws/console`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleMessage {
    /// (Re)start watching a site's live visitors.
    Watch {
        /// Site id.
        site_id: String,
        /// Which visitors.
        #[serde(default)]
        filter: VisitorFilter,
        /// Window offset.
        #[serde(default)]
        offset: usize,
        /// Window size.
        #[serde(default = "default_limit")]
        limit: usize,
    },
    /// Beckon a visitor.
    Invite {
        /// Visitor id.
        visitor_id: String,
        /// The bubble's text (optional).
        #[serde(default)]
        message: String,
    },
    /// List a site's conversations and follow its changes.
    Conversations {
        /// Site id.
        site_id: String,
    },
    /// Take a waiting conversation.
    Accept {
        /// Conversation id.
        conversation_id: String,
    },
    /// Follow a conversation, catching up after `after_seq`.
    Join {
        /// Conversation id.
        conversation_id: String,
        /// The last seq the console saw.
        #[serde(default)]
        after_seq: i64,
    },
    /// Post a message or an internal note.
    Send {
        /// Conversation id.
        conversation_id: String,
        /// Idempotency key.
        client_msg_id: String,
        /// The text.
        body: String,
        /// An internal note.
        #[serde(default)]
        note: bool,
    },
    /// The operator is (not) typing.
    Typing {
        /// Conversation id.
        conversation_id: String,
        /// Typing now.
        state: bool,
    },
    /// The operator has seen everything up to `seq`.
    Read {
        /// Conversation id.
        conversation_id: String,
        /// Read up to this sequence number.
        seq: i64,
    },
    /// Close a conversation.
    CloseConversation {
        /// Conversation id.
        conversation_id: String,
    },
    /// Hand a conversation to another operator.
    Transfer {
        /// Conversation id.
        conversation_id: String,
        /// The other operator's handle.
        operator_handle: String,
    },
    /// The operator's choice of status.
    SetAvailability {
        /// Available or away.
        status: Chosen,
    },
    /// The operator used the console.
    Activity,
    /// Email the transcript to the guest.
    EmailTranscript {
        /// Conversation id.
        conversation_id: String,
    },
    /// Start, answer or end a call.
    Call(CallRequest),
    /// Signalling for the other party of a call.
    CallSignal(CallSignal),
}

fn default_limit() -> usize {
    100
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(event: &ServerEvent<'_>) -> serde_json::Value {
        serde_json::from_str(&event.to_json()).expect("json")
    }

    #[test]
    fn events_carry_their_wire_type_and_fields() {
        let ack = value(&ServerEvent::Ack {
            conversation_id: "c",
            client_msg_id: "m",
            seq: 3,
        });
        assert_eq!(
            ack,
            serde_json::json!({"type": "ack", "conversation_id": "c", "client_msg_id": "m", "seq": 3})
        );
        let cancelled = value(&ServerEvent::InviteCancelled { invitation_id: "i" });
        assert_eq!(cancelled["type"], "invite_cancelled");
        let status = value(&ServerEvent::Availability {
            status: Status::Away,
            chosen: Chosen::Available,
        });
        assert_eq!(status["status"], "away");
        assert_eq!(status["chosen"], "available");
    }

    #[test]
    fn chat_errors_keep_a_null_client_msg_id_and_console_errors_none() {
        let chat = value(&ServerEvent::chat_error("closed", "x", None));
        assert!(chat
            .as_object()
            .is_some_and(|o| o.contains_key("client_msg_id")));
        assert!(chat.get("retry_after").is_none());
        let limited = value(&ServerEvent::limited("slow", 4, Some("m")));
        assert_eq!(limited["retry_after"], 4);
        assert_eq!(limited["client_msg_id"], "m");
        let console = value(&ServerEvent::console_error("not_found", "no such site"));
        assert!(console.get("client_msg_id").is_none());
    }

    #[test]
    fn call_messages_parse_and_signals_relay_flat() {
        let start: VisitorMessage = serde_json::from_str(
            r#"{"type":"call","action":"start","conversation_id":"c","media":"video","tab":"t"}"#,
        )
        .expect("start");
        assert!(matches!(
            start,
            VisitorMessage::Call(CallRequest::Start {
                media: CallMedia::Video,
                ..
            })
        ));
        assert!(serde_json::from_str::<VisitorMessage>(
            r#"{"type":"call","action":"start","conversation_id":"c","media":"screen","tab":"t"}"#
        )
        .is_err());
        let signal: ConsoleMessage = serde_json::from_str(
            r#"{"type":"call_signal","call_id":"k","kind":"candidate","candidate":{"candidate":"a","sdpMid":"0","sdpMLineIndex":0}}"#,
        )
        .expect("signal");
        let ConsoleMessage::CallSignal(CallSignal { call_id, signal }) = signal else {
            panic!("not a signal");
        };
        let relayed = value(&ServerEvent::CallSignal {
            call_id: &call_id,
            conversation_id: "c",
            from: CallSide::Operator,
            signal: &signal,
        });
        assert_eq!(relayed["type"], "call_signal");
        assert_eq!(relayed["from"], "operator");
        assert_eq!(relayed["kind"], "candidate");
        assert_eq!(relayed["candidate"]["sdpMLineIndex"], 0);
        assert!(relayed.get("sdp").is_none());
    }

    #[test]
    fn history_items_are_message_events() {
        let m = MessageView {
            conversation_id: "c",
            seq: 1,
            client_msg_id: "m",
            kind: "text",
            sender: "guest",
            sender_name: "Guest",
            body: "hi",
            created_ms: 5,
        };
        let history = value(&ServerEvent::History {
            conversation_id: "c",
            messages: std::slice::from_ref(&m),
            more: false,
        });
        assert_eq!(history["messages"][0]["type"], "message");
        assert_eq!(history["messages"][0]["body"], "hi");
        let typing = value(&ServerEvent::Typing {
            conversation_id: "c",
            who: "guest",
            name: "Guest",
            state: true,
            preview: Some(None),
        });
        assert!(typing
            .as_object()
            .is_some_and(|o| o.contains_key("preview")));
    }
}
