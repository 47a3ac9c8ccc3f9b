//! `/ws/visitor`: the loader's presence socket (one per tab). Keeps the visitor on the live list
//! and carries invitations to the page and the visitor's answers back.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::chat_events;
use crate::db::models::{Conversation, Visitor};
use crate::error::ApiError;
use crate::realtime::hub::Inbox;
use crate::realtime::live::GuestFacts;
use crate::realtime::socket::{self, Reply, SocketHandler, CLOSE_MALFORMED, CLOSE_UNKNOWN_GUEST};
use crate::realtime::transport::{ActixWs, Transport};
use crate::realtime::EventBus as _;
use crate::routes::guest::widget_origin_ok;
use crate::services::chat::{self, Party};
use crate::services::invitations;
use crate::services::{self, ServiceError};
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

/// Puts the tab on the hub and the live list, subscribes it to its open chat and to the status
/// it shows; the handler (which takes the tab off both when dropped), its queue, and the `hello`
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
    // A tab opened during a chat follows it from the start.
    let visitor_id = handler.guest.visitor_id.clone();
    if let Ok(Some(open)) = services::run(&state.db, move |conn| {
        Ok(Conversation::open_for_visitor(conn, &visitor_id)?)
    })
    .await
    {
        state
            .hub
            .subscribe(conn_id, &chat_events::guest_topic(&open.id));
    }
    let status = status_subscription(state, &site, handle.as_deref(), conn_id).await;
    let hello =
        serde_json::json!({"type": "hello", "guest_id": handler.guest.guest_id}).to_string();
    (handler, inbox, [hello, status])
}

/// Subscribes the tab to the status it shows (the site's, or one operator's) and answers the current
/// `site_status` event. An unknown handle falls back to the site's status.
async fn status_subscription(
    state: &AppState,
    site: &crate::db::models::Site,
    handle: Option<&str>,
    conn_id: u64,
) -> String {
    use crate::services::availability::{operator_site_topic, site_topic, Availability};
    let operator = match handle {
        Some(h) => {
            let h = h.to_lowercase();
            services::run(&state.db, move |conn| {
                Ok(crate::db::models::Operator::find_by_handle(conn, &h)?)
            })
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    let online = super::chat_pages::online_now(state, site, operator.as_ref()).await;
    let topic = match &operator {
        Some(op) => operator_site_topic(&op.id, &site.id),
        None => site_topic(&site.id),
    };
    state.hub.subscribe(conn_id, &topic);
    let event = Availability::status_event(online);
    state.availability.told_first_subscriber(&topic, &event);
    event
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum VisitorMessage {
    InviteResponse {
        invitation_id: String,
        accepted: bool,
    },
    StartChat {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        handle: Option<String>,
        #[serde(default)]
        capabilities: Option<Vec<String>>,
    },
    Send {
        conversation_id: String,
        client_msg_id: String,
        body: String,
    },
    Resume {
        conversation_id: String,
        after_seq: i64,
        #[serde(default)]
        capabilities: Option<Vec<String>>,
    },
    Typing {
        conversation_id: String,
        state: bool,
        /// What the guest has typed so far; relayed only where the site enabled previews.
        #[serde(default)]
        preview: Option<String>,
    },
    Read {
        conversation_id: String,
        seq: i64,
    },
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
    /// start_chat, resume and read: each costs a database round trip.
    Other,
}

impl VisitorHandler {
    /// Counts one request against the guest's limit of its kind; the `rate_limited` error to answer
    /// when over it. Keyed by the guest, so one guest's tabs share it.
    fn over_limit(&self, counted: Counted) -> Option<Reply> {
        let limits = &self.state.chat_limits;
        let (limit, what) = match counted {
            Counted::Typing => (&limits.guest_typing, "too many typing events; slow down"),
            Counted::InviteAnswer => (
                &limits.invite_answers,
                "too many invitation answers; slow down",
            ),
            Counted::Other => (&limits.guest_events, "too many requests; slow down"),
        };
        let wait = limit.check(&self.guest.visitor_id).err()?;
        let retry_after = crate::limits::retry_after_secs(wait);
        Some(Reply::Send(chat_events::limited_json(
            what,
            retry_after,
            None,
        )))
    }

    fn party(&self) -> Party {
        Party::Guest {
            visitor_id: self.guest.visitor_id.clone(),
        }
    }

    async fn start_chat(&mut self, name: Option<String>, handle: Option<String>) -> Reply {
        let visitor_id = self.guest.visitor_id.clone();
        let available = self.state.availability.available_operators(&self.state.hub);
        let started = services::run(&self.state.db, move |conn| {
            let visitor = Visitor::find(conn, &visitor_id)?.ok_or(ServiceError::NotFound)?;
            let (conversation, created) = chat::start(
                conn,
                &visitor,
                name.as_deref(),
                handle.as_deref(),
                crate::domain::Channel::Widget,
                &available,
            )?;
            let event = chat_events::conversation_json(conn, &conversation)?;
            Ok((conversation, created, event))
        })
        .await;
        match started {
            Ok((conversation, created, event)) => {
                let topic = chat_events::guest_topic(&conversation.id);
                self.state
                    .hub
                    .subscribe_visitor(&self.guest.visitor_id, &topic);
                self.state.hub.subscribe(self.conn_id, &topic);
                if created {
                    chat_events::publish_conversation(&self.state, &conversation, &event);
                    Reply::None
                } else {
                    Reply::Send(event.to_string())
                }
            }
            Err(e) => Reply::Send(chat_events::service_error_json(&e, None)),
        }
    }

    async fn send(
        &mut self,
        conversation_id: String,
        client_msg_id: String,
        body: String,
    ) -> Reply {
        let party = self.party();
        let kind = chat::MessageKind::Text;
        chat_events::send_message(
            &self.state,
            self.conn_id,
            party,
            conversation_id,
            client_msg_id,
            body,
            kind,
        )
        .await
        .into()
    }

    /// Stores what the panel can do on the conversation (the guest's open one when not named) and
    /// tells the operators when it changed.
    async fn report_capabilities(&mut self, conversation_id: Option<String>, caps: Vec<String>) {
        let party = self.party();
        let visitor_id = self.guest.visitor_id.clone();
        let changed = services::run(&self.state.db, move |conn| {
            let id = match conversation_id {
                Some(id) => id,
                None => match Conversation::open_for_visitor(conn, &visitor_id)? {
                    Some(c) => c.id.into(),
                    None => return Ok(None),
                },
            };
            match chat::set_capabilities(conn, &id, &party, &caps)? {
                Some(c) => {
                    let event = chat_events::conversation_json(conn, &c)?;
                    Ok(Some((c, event)))
                }
                None => Ok(None),
            }
        })
        .await;
        if let Ok(Some((c, event))) = changed {
            chat_events::publish_conversation(&self.state, &c, &event);
        }
    }

    async fn resume(&mut self, conversation_id: String, after_seq: i64) -> Reply {
        let party = self.party();
        Reply::Send(
            chat_events::catch_up(
                &self.state,
                self.conn_id,
                party,
                conversation_id,
                after_seq,
                chat_events::guest_topic,
            )
            .await,
        )
    }

    async fn typing(
        &mut self,
        conversation_id: String,
        typing: bool,
        preview: Option<String>,
    ) -> Reply {
        let party = self.party();
        let found = services::run(&self.state.db, move |conn| {
            let c = chat::authorised(conn, &conversation_id, &party)?;
            let site = crate::db::models::Site::get(conn, &c.site_id)?;
            Ok((c, site.settings().typing_preview))
        })
        .await;
        match found {
            Ok((c, previews_on)) => {
                let name = c.guest_name.clone().unwrap_or_else(|| "Guest".to_owned());
                // The guest is told in the panel when previews are on; otherwise nothing typed leaves
                // the guest's browser before it is sent, and nothing is relayed even if sent.
                let preview = preview.filter(|_| previews_on && typing).map(|p| {
                    p.chars()
                        .filter(|c| !c.is_control() || *c == '\n')
                        .take(200)
                        .collect::<String>()
                });
                let event = serde_json::json!({"type": "typing", "conversation_id": c.id, "who": "guest", "name": name, "state": typing, "preview": preview});
                self.state
                    .hub
                    .publish(&chat_events::ops_topic(&c.id), event.to_string().into());
                Reply::None
            }
            Err(e) => Reply::Send(chat_events::service_error_json(&e, None)),
        }
    }

    async fn read(&mut self, conversation_id: String, seq: i64) -> Reply {
        chat_events::mark_read(&self.state, self.party(), conversation_id, seq)
            .await
            .into()
    }
}

impl SocketHandler for VisitorHandler {
    async fn on_text(&mut self, text: &str) -> Reply {
        let Ok(message) = serde_json::from_str::<VisitorMessage>(text) else {
            return Reply::Close(CLOSE_MALFORMED, "malformed message");
        };
        // `send` has its own limit per conversation (in chat_events::send_message).
        let counted = match &message {
            VisitorMessage::Send { .. } => None,
            VisitorMessage::Typing { .. } => Some(Counted::Typing),
            VisitorMessage::InviteResponse { .. } => Some(Counted::InviteAnswer),
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
                let reply = self.start_chat(name, handle).await;
                if let Some(caps) = capabilities {
                    self.report_capabilities(None, caps).await;
                }
                reply
            }
            VisitorMessage::Send {
                conversation_id,
                client_msg_id,
                body,
            } => self.send(conversation_id, client_msg_id, body).await,
            VisitorMessage::Resume {
                conversation_id,
                after_seq,
                capabilities,
            } => {
                if let Some(caps) = capabilities {
                    self.report_capabilities(Some(conversation_id.clone()), caps)
                        .await;
                }
                self.resume(conversation_id, after_seq).await
            }
            VisitorMessage::Typing {
                conversation_id,
                state,
                preview,
            } => self.typing(conversation_id, state, preview).await,
            VisitorMessage::Read {
                conversation_id,
                seq,
            } => self.read(conversation_id, seq).await,
            VisitorMessage::InviteResponse {
                invitation_id,
                accepted,
            } => {
                let visitor_id = self.guest.visitor_id.clone();
                let answered = self
                    .state
                    .db
                    .run(move |conn| {
                        Ok(invitations::respond(
                            conn,
                            &visitor_id,
                            &invitation_id,
                            accepted,
                        ))
                    })
                    .await;
                match answered {
                    Ok(Ok(Some(invitation))) => {
                        super::ws_console::announce_invitation(&self.state, &invitation);
                        Reply::None
                    }
                    // Not theirs, or already answered/expired: nothing to do.
                    Ok(Ok(None)) => Reply::None,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "invitation answer failed");
                        Reply::None
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "invitation answer failed");
                        Reply::None
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::VisitorMessage;

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
