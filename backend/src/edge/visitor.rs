//! `/ws/visitor`: the loader's presence socket (one per tab), which the chat panel uses too.
//! Keeps the visitor on the live list, carries invitations and chat events to the page, and turns
//! the visitor's messages into [`services`] use cases.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::errors;
use crate::error::ApiError;
use crate::realtime::hub::Inbox;
use crate::realtime::live::GuestFacts;
use crate::realtime::protocol::{CallSignal, VisitorMessage};
use crate::realtime::socket::{self, Reply, SocketHandler, CLOSE_MALFORMED, CLOSE_UNKNOWN_GUEST};
use crate::realtime::transport::{ActixWs, Transport};
use crate::realtime::ServerEvent;
use crate::services::chat::{MessageKind, Party};
use crate::services::conversations::{self, NewMessage};
use crate::services::visitors::widget_origin_ok;
use crate::services::{self, calls, invitations};
use crate::state::AppState;

/// Largest message a visitor socket accepts.
pub const MAX_MESSAGE: usize = 32 * 1024;

/// The visitor socket route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws/visitor", web::get().to(visitor_socket));
}

/// The query string of a visitor socket: `?k=SITE_KEY&t=TOKEN[&h=HANDLE]`.
#[derive(Deserialize)]
pub struct Connect {
    k: String,
    t: String,
    /// On `/u/HANDLE` and `/p/PHONE` pages: follow this operator's status instead of the site's.
    #[serde(default)]
    h: Option<String>,
}

/// A visitor socket that may be opened: the site, its guest (`None` when the token is not live:
/// the socket is then opened and closed with [`CLOSE_UNKNOWN_GUEST`], so the loader knows to get
/// a new guest rather than retry) and the operator whose status it follows.
pub struct Admitted {
    site: std::sync::Arc<crate::db::models::Site>,
    guest: Option<GuestFacts>,
    handle: Option<String>,
    /// This socket's place under the per-guest and per-address caps, held while it is open.
    slot: Option<crate::realtime::caps::SocketSlot>,
}

/// Checks a visitor socket request before the upgrade: a known site, an allowed origin, the
/// guest token, and the caps on sockets per guest and per client address (`ip`).
pub async fn admit(
    state: &AppState,
    origin: Option<&str>,
    ip: std::net::IpAddr,
    query: Connect,
) -> Result<Admitted, ApiError> {
    let site = state
        .sites
        .by_key(&state.db, &query.k)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !widget_origin_ok(state, &site, origin) {
        // A socket handshake carries no page address: the refusal is recorded without one.
        crate::services::refused_origins::note(state, &site, origin, None).await;
        return Err(ApiError::OriginNotAllowed);
    }
    let guest = state
        .guests
        .authenticate(&state.db, &site.id, &query.t)
        .await?;
    // An unknown guest's socket is closed at once: it takes no place.
    let slot = match &guest {
        Some(g) => Some(state.socket_caps.acquire(&g.visitor_id, ip).map_err(|cap| {
            tracing::debug!(?cap, visitor = %g.visitor_id, "visitor socket refused: cap reached");
            // Sockets free their places when closed; a minute is a fair first wait.
            ApiError::TooManyRequests { retry_after: 60 }
        })?),
        None => None,
    };
    Ok(Admitted {
        site,
        guest,
        handle: query.h.filter(|h| !h.is_empty()),
        slot,
    })
}

/// A visitor socket reached through the HTTP dispatcher (a keep-alive connection reused for the
/// upgrade). Sockets on a connection of their own take the lean path of [`super::raw_upgrade`].
async fn visitor_socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<Connect>,
) -> Result<HttpResponse, actix_web::Error> {
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
    let ip = crate::extract::client::ip(&req, &state.settings);
    let admitted = admit(&state, origin, ip, query.into_inner()).await?;
    let (response, transport) = ActixWs::upgrade(&req, body, MAX_MESSAGE).await?;
    actix_web::rt::spawn(run_session(state.into_inner(), admitted, transport));
    Ok(response)
}

/// The visitor socket after the upgrade: presence on the live list, invitations and chat events
/// out, the chat protocol in, until either side ends it.
pub async fn run_session(
    state: std::sync::Arc<AppState>,
    admitted: Admitted,
    mut transport: impl Transport,
) {
    let Admitted {
        site,
        guest,
        handle,
        slot: _slot,
    } = admitted;
    let Some(guest) = guest else {
        socket::close_now(transport, CLOSE_UNKNOWN_GUEST, "unknown guest").await;
        return;
    };
    // Boxed, and gone once the socket runs: this future lives as long as the socket, and it
    // would otherwise be as large as its largest step for the socket's whole life.
    let (mut handler, inbox, greeting) = Box::pin(open_session(state, site, guest, handle)).await;
    for event in greeting {
        if transport.text(&event).await.is_err() {
            return;
        }
    }
    socket::run(transport, inbox, &mut handler).await;
}

/// Puts the tab on the hub and the live list, makes it follow its open chat and the status it
/// shows; the handler (which takes the tab off both when dropped), its queue, and the `hello`
/// and `site_status` events to greet it with.
async fn open_session(
    state: std::sync::Arc<AppState>,
    site: std::sync::Arc<crate::db::models::Site>,
    guest: GuestFacts,
    handle: Option<String>,
) -> (VisitorHandler, Inbox, [String; 2]) {
    let (conn_id, inbox) = state.hub.join_visitor(&guest.visitor_id);
    state.live.connect(&guest);
    let handler = VisitorHandler {
        state,
        guest,
        conn_id,
    };
    let state = &handler.state;
    conversations::follow_open_chat(state, conn_id, &handler.guest.visitor_id).await;
    let status =
        services::availability::follow_status(state, conn_id, &site, handle.as_deref()).await;
    let hello = ServerEvent::Hello {
        guest_id: &handler.guest.guest_id,
    }
    .to_json();
    (handler, inbox, [hello, status.to_string()])
}

/// One visitor tab's session: answers its messages, and takes the tab off the hub and the live
/// list when dropped, however the session ends.
struct VisitorHandler {
    state: std::sync::Arc<AppState>,
    guest: GuestFacts,
    conn_id: u64,
}

impl Drop for VisitorHandler {
    fn drop(&mut self) {
        self.state
            .hub
            .leave_visitor(&self.guest.visitor_id, self.conn_id);
        self.state.live.disconnect(&self.guest);
    }
}

/// Which of the guest's flood limits a socket request counts against.
#[derive(Clone, Copy)]
enum Counted {
    Typing,
    InviteAnswer,
    /// call and call_signal.
    Call,
    /// start_chat, resume and read: each costs a database round trip.
    Other,
}

impl VisitorHandler {
    /// Counts one request against the guest's limit of its kind; the `rate_limited` error to answer
    /// when over it. Keyed by the guest, so one guest's tabs share it.
    fn over_limit(&self, counted: Counted) -> Option<Reply> {
        let limits = &self.state.chat_limits;
        // Call messages are refused as call errors (with the `call_id` key, their own text).
        let (limit, what) = match counted {
            Counted::Typing => (
                &limits.guest_typing,
                Some("too many typing events; slow down"),
            ),
            Counted::InviteAnswer => (
                &limits.invite_answers,
                Some("too many invitation answers; slow down"),
            ),
            Counted::Other => (&limits.guest_events, Some("too many requests; slow down")),
            Counted::Call => (&limits.guest_call_signals, None),
        };
        let wait = limit.check(&self.guest.visitor_id).err()?;
        let retry_after = crate::limits::retry_after_secs(wait);
        Some(Reply::Send(match what {
            Some(what) => errors::limited(what, retry_after, None),
            None => errors::call_error(&services::ServiceError::Limited { retry_after }, None),
        }))
    }

    fn party(&self) -> Party {
        Party::Guest {
            visitor_id: self.guest.visitor_id.clone(),
        }
    }

    /// The answer to a request whose events (if any) went out through the bus.
    fn answer(result: Result<(), services::ServiceError>) -> Reply {
        match result {
            Ok(()) => Reply::None,
            Err(e) => Reply::Send(errors::chat_error(&e, None)),
        }
    }
}

impl SocketHandler for VisitorHandler {
    async fn on_text(&mut self, text: &str) -> Reply {
        let Ok(message) = serde_json::from_str::<VisitorMessage>(text) else {
            return Reply::Close(CLOSE_MALFORMED, "malformed message");
        };
        // `send` has its own limit per conversation (in conversations::post_message).
        let counted = match &message {
            VisitorMessage::Send { .. } => None,
            VisitorMessage::Typing { .. } => Some(Counted::Typing),
            VisitorMessage::InviteResponse { .. } => Some(Counted::InviteAnswer),
            VisitorMessage::Call(_) | VisitorMessage::CallSignal(_) => Some(Counted::Call),
            VisitorMessage::StartChat { .. }
            | VisitorMessage::Resume { .. }
            | VisitorMessage::Read { .. } => Some(Counted::Other),
        };
        if let Some(refused) = counted.and_then(|c| self.over_limit(c)) {
            return refused;
        }
        match message {
            VisitorMessage::StartChat {
                name,
                handle,
                capabilities,
            } => {
                let started = conversations::start_chat(
                    &self.state,
                    self.conn_id,
                    &self.guest.visitor_id,
                    name,
                    handle,
                )
                .await;
                if let Some(caps) = capabilities {
                    conversations::report_capabilities(
                        &self.state,
                        &self.guest.visitor_id,
                        None,
                        caps,
                    )
                    .await;
                }
                Self::answer(started)
            }
            VisitorMessage::Send {
                conversation_id,
                client_msg_id,
                body,
            } => {
                let new = NewMessage {
                    conversation_id,
                    client_msg_id,
                    body,
                    kind: MessageKind::Text,
                };
                let id = new.client_msg_id.clone();
                match conversations::post_message(&self.state, self.conn_id, self.party(), new)
                    .await
                {
                    Ok(()) => Reply::None,
                    Err(e) => Reply::Send(errors::chat_error(&e, Some(&id))),
                }
            }
            VisitorMessage::Resume {
                conversation_id,
                after_seq,
                capabilities,
            } => {
                if let Some(caps) = capabilities {
                    conversations::report_capabilities(
                        &self.state,
                        &self.guest.visitor_id,
                        Some(conversation_id.clone()),
                        caps,
                    )
                    .await;
                }
                Self::answer(
                    conversations::catch_up(
                        &self.state,
                        self.conn_id,
                        self.party(),
                        conversation_id,
                        after_seq,
                    )
                    .await,
                )
            }
            VisitorMessage::Call(request) => {
                let call_id = request.call_id().map(str::to_owned);
                match calls::request(&self.state, self.party(), request).await {
                    Ok(()) => Reply::None,
                    Err(e) => Reply::Send(errors::call_error(&e, call_id.as_deref())),
                }
            }
            VisitorMessage::CallSignal(CallSignal { call_id, signal }) => {
                let id = call_id.clone();
                match calls::relay(&self.state, self.party(), call_id, signal).await {
                    Ok(()) => Reply::None,
                    Err(e) => Reply::Send(errors::call_error(&e, Some(&id))),
                }
            }
            VisitorMessage::Typing {
                conversation_id,
                state,
                preview,
            } => Self::answer(
                conversations::guest_typing(
                    &self.state,
                    &self.guest.visitor_id,
                    conversation_id,
                    state,
                    preview,
                    |site| site.settings().typing_preview,
                )
                .await,
            ),
            VisitorMessage::Read {
                conversation_id,
                seq,
            } => Self::answer(
                conversations::mark_read(&self.state, self.party(), conversation_id, seq).await,
            ),
            VisitorMessage::InviteResponse {
                invitation_id,
                accepted,
            } => {
                invitations::answer(
                    &self.state,
                    self.guest.visitor_id.clone(),
                    invitation_id,
                    accepted,
                )
                .await;
                Reply::None
            }
        }
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use crate::realtime::protocol::VisitorMessage;

    /// A JSON value of any shape, a few levels deep.
    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(
                    "(type|conversation_id|client_msg_id|body|after_seq|seq|state|name|\\PC{0,6})",
                    inner,
                    0..6,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The visitor socket's message parser on any text, and on objects of every message
        /// type with fields of any type: a message or the malformed-message close, never a panic.
        #[test]
        fn visitor_messages_parse_any_text_without_panicking(
            text in any::<String>(),
            kind in "(start_chat|send|resume|typing|read|invite_response|\\PC{0,10})",
            mut value in json(),
        ) {
            let _ = serde_json::from_str::<VisitorMessage>(&text);
            if let Some(object) = value.as_object_mut() {
                object.insert("type".to_owned(), kind.into());
            }
            let _ = serde_json::from_str::<VisitorMessage>(&value.to_string());
        }
    }
}
