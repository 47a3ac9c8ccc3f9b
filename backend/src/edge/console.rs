//! `/ws/console`: a console tab's socket. Watches a site's live visitor list (snapshot, then
//! coalesced diffs), sends invitations, and turns the operator's chat messages into [`services`]
//! use cases.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use super::errors;
use crate::error::ApiError;
use crate::extract::console::CurrentOperator;
use crate::realtime::protocol::{CallSignal, Chosen, ConsoleMessage};
use crate::realtime::socket::{
    self, Reply, SocketHandler, CLOSE_ACCESS_CHANGED, CLOSE_MALFORMED, CLOSE_SESSION_ENDED,
};
use crate::realtime::transport::ActixWs;
use crate::realtime::ServerEvent;
use crate::services::auth::{self, SocketCheck};
use crate::services::chat::{MessageKind, Party};
use crate::services::conversations::{self, Change, NewMessage};
use crate::services::{self, availability, calls, invitations, ServiceError};
use crate::state::AppState;

/// Largest message a console socket accepts.
const MAX_MESSAGE: usize = 32 * 1024;

/// The console socket route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws/console", web::get().to(console_socket));
}

async fn console_socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    op: CurrentOperator,
) -> Result<HttpResponse, actix_web::Error> {
    let ours = state.settings.base_url.origin().ascii_serialization();
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
    if origin != Some(ours.as_str()) {
        return Err(ApiError::Forbidden(
            "the console socket is only for Beckon's own pages".into(),
        )
        .into());
    }
    let (response, transport) = ActixWs::upgrade(&req, body, MAX_MESSAGE).await?;
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        // The sites the operator belongs to as the socket opens: leaving any of them later
        // closes the socket (see `ConsoleHandler::on_tick`).
        let sites = match check_session(&state, &op.session.id, false).await {
            Some(SocketCheck::Sites(sites)) => sites,
            Some(SocketCheck::Ended) => {
                socket::close_now(transport, CLOSE_SESSION_ENDED, "session ended").await;
                return;
            }
            None => Vec::new(),
        };
        let (conn_id, inbox) = state.hub.join_console(&op.operator.id, &op.session.id);
        let _registration = Registration {
            state: state.clone(),
            conn_id,
        };
        availability::console_opened(&state, conn_id, &op.operator.id, &op.operator.availability);
        let mut handler = ConsoleHandler {
            state,
            op,
            conn_id,
            allowed: Default::default(),
            sites,
            active: false,
        };
        socket::run(transport, inbox, &mut handler).await;
    });
    Ok(response)
}

struct Registration {
    state: Arc<AppState>,
    conn_id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.state.live.unwatch(self.conn_id);
        self.state.hub.leave_console(self.conn_id);
        // The operator may have gone offline with this tab: sites' statuses follow at once.
        self.state.availability.changed(None);
    }
}

struct ConsoleHandler {
    state: Arc<AppState>,
    op: CurrentOperator,
    conn_id: u64,
    /// Conversations this operator was found to be allowed in (membership does not change while
    /// a socket is open often enough to matter for typing events).
    allowed: std::collections::HashSet<String>,
    /// The operator's sites when the socket opened.
    sites: Vec<String>,
    /// Whether the socket was used since the last periodic check.
    active: bool,
}

/// The periodic check of a console socket's session; `None` when the database could not answer
/// (the socket is then left open until a check succeeds).
async fn check_session(state: &AppState, session_id: &str, active: bool) -> Option<SocketCheck> {
    let id = session_id.to_owned();
    let policy = state.session_policy();
    match services::run(&state.db, move |conn| {
        auth::check_socket(conn, &id, active, policy)
    })
    .await
    {
        Ok(check) => Some(check),
        Err(e) => {
            tracing::warn!(error = %e, "could not check a console socket's session");
            None
        }
    }
}

impl ConsoleHandler {
    fn party(&self) -> Party {
        Party::Operator(self.op.operator.clone())
    }

    /// The answer to a chat request whose events (if any) went out through the bus.
    fn answer(result: Result<(), ServiceError>) -> Reply {
        match result {
            Ok(()) => Reply::None,
            Err(e) => Reply::Send(errors::chat_error(&e, None)),
        }
    }

    /// Accepts, transfers or closes a conversation.
    async fn change(&mut self, conversation_id: String, change: Change) -> Reply {
        Self::answer(
            conversations::change(
                &self.state,
                self.conn_id,
                &self.op.operator,
                conversation_id,
                change,
            )
            .await,
        )
    }

    async fn send(
        &mut self,
        conversation_id: String,
        client_msg_id: String,
        body: String,
        note: bool,
    ) -> Reply {
        let kind = if note {
            MessageKind::Note
        } else {
            MessageKind::Text
        };
        let new = NewMessage {
            conversation_id,
            client_msg_id,
            body,
            kind,
        };
        let id = new.client_msg_id.clone();
        match conversations::post_message(&self.state, self.conn_id, self.party(), new).await {
            Ok(()) => Reply::None,
            Err(e) => Reply::Send(errors::chat_error(&e, Some(&id))),
        }
    }

    async fn typing(&mut self, conversation_id: String, typing: bool) -> Reply {
        let known = self.allowed.contains(&conversation_id);
        let relayed = conversations::operator_typing(
            &self.state,
            &self.op.operator,
            &conversation_id,
            typing,
            known,
        )
        .await;
        match relayed {
            Ok(()) => {
                self.allowed.insert(conversation_id);
                Reply::None
            }
            Err(ServiceError::Limited { retry_after }) => Reply::Send(errors::limited(
                "too many typing events; slow down",
                retry_after,
                None,
            )),
            Err(e) => Reply::Send(errors::chat_error(&e, None)),
        }
    }

    /// Stores the operator's choice and tells all their consoles.
    async fn set_availability(&mut self, chosen: Chosen) -> Reply {
        match availability::choose(&self.state, &self.op.operator.id, chosen).await {
            Ok(for_this_console) => {
                self.op.operator.availability = chosen.as_str().to_owned();
                for_this_console.map(|e| e.to_string()).into()
            }
            Err(e) => {
                tracing::error!(error = %e, "could not save availability");
                Reply::Send(errors::console_error(
                    "internal",
                    "could not save your status",
                ))
            }
        }
    }

    /// Queues the conversation's transcript to the guest's email address.
    async fn email_transcript(&mut self, conversation_id: String) -> Reply {
        let queued = conversations::email_transcript(
            &self.state,
            &self.op.operator,
            conversation_id.clone(),
        )
        .await;
        match queued {
            Ok(email) => Reply::Send(
                ServerEvent::Notice {
                    conversation_id: &conversation_id,
                    message: &format!("Transcript queued for {email}"),
                }
                .to_json(),
            ),
            Err(e) => Reply::Send(errors::chat_error(&e, None)),
        }
    }

    /// (Re)starts watching a site's live visitors; only for an operator of the site.
    async fn watch(
        &mut self,
        site_id: String,
        filter: crate::realtime::VisitorFilter,
        offset: usize,
        limit: usize,
    ) -> Reply {
        let watched = services::visitors::watch_live(
            &self.state,
            self.conn_id,
            &self.op.operator.id,
            site_id,
            crate::services::visitors::Window {
                filter,
                offset,
                limit,
            },
        )
        .await;
        match watched {
            Ok(snapshot) => Reply::Send(snapshot),
            Err(ServiceError::NotFound) => {
                Reply::Send(errors::console_error("not_found", "no such site"))
            }
            Err(e) => {
                tracing::error!(error = %e, "watch failed");
                Reply::Send(errors::console_error(
                    "internal",
                    "could not watch the site",
                ))
            }
        }
    }

    /// Beckons a visitor.
    async fn invite(&mut self, visitor_id: String, message: String) -> Reply {
        match invitations::send(&self.state, &self.op.operator, visitor_id, message).await {
            Ok(_) => Reply::None,
            Err(ServiceError::NotFound) => Reply::Send(errors::console_error(
                "not_found",
                "that visitor is no longer here",
            )),
            Err(ServiceError::Invalid(e)) => {
                Reply::Send(errors::console_error("bad_request", &e.to_string()))
            }
            // No socket and no polling loader: the console says why instead of a pending
            // invitation nobody will see.
            Err(ServiceError::Conflict(why)) => {
                Reply::Send(errors::console_error("unreachable", &why))
            }
            Err(e) => {
                tracing::error!(error = %e, "invite failed");
                Reply::Send(errors::console_error(
                    "internal",
                    "could not send the invitation",
                ))
            }
        }
    }
}

impl SocketHandler for ConsoleHandler {
    /// Ends the socket once its session has (logout is immediate through the hub; expiry and
    /// deactivation are found here), or when the operator left one of their sites.
    async fn on_tick(&mut self) -> Reply {
        let active = std::mem::take(&mut self.active);
        match check_session(&self.state, &self.op.session.id, active).await {
            Some(SocketCheck::Ended) => Reply::Close(CLOSE_SESSION_ENDED, "session ended"),
            Some(SocketCheck::Sites(now)) if self.sites.iter().any(|s| !now.contains(s)) => {
                Reply::Close(CLOSE_ACCESS_CHANGED, "access changed")
            }
            Some(SocketCheck::Sites(now)) => {
                // Sites joined since are followed from now on.
                self.sites = now;
                Reply::None
            }
            None => Reply::None,
        }
    }

    async fn on_text(&mut self, text: &str) -> Reply {
        self.active = true;
        let message = match serde_json::from_str::<ConsoleMessage>(text) {
            Ok(m) => m,
            Err(_) => return Reply::Close(CLOSE_MALFORMED, "malformed message"),
        };
        if !matches!(
            message,
            ConsoleMessage::Typing { .. } | ConsoleMessage::Read { .. }
        ) {
            // Whatever the operator does counts as activity (typing and read marks come on their own).
            self.state.availability.touch(&self.op.operator.id);
        }
        match message {
            ConsoleMessage::SetAvailability { status } => self.set_availability(status).await,
            ConsoleMessage::Activity => Reply::None,
            ConsoleMessage::EmailTranscript { conversation_id } => {
                self.email_transcript(conversation_id).await
            }
            ConsoleMessage::Conversations { site_id } => Self::answer(
                conversations::list_for_site(
                    &self.state,
                    self.conn_id,
                    &self.op.operator.id,
                    site_id,
                )
                .await,
            ),
            ConsoleMessage::Accept { conversation_id } => {
                self.change(conversation_id, Change::Accept).await
            }
            ConsoleMessage::Transfer {
                conversation_id,
                operator_handle,
            } => {
                self.change(
                    conversation_id,
                    Change::Transfer {
                        to_handle: operator_handle,
                    },
                )
                .await
            }
            ConsoleMessage::CloseConversation { conversation_id } => {
                self.change(conversation_id, Change::Close).await
            }
            ConsoleMessage::Join {
                conversation_id,
                after_seq,
            } => Self::answer(
                conversations::catch_up(
                    &self.state,
                    self.conn_id,
                    self.party(),
                    conversation_id,
                    after_seq,
                )
                .await,
            ),
            ConsoleMessage::Send {
                conversation_id,
                client_msg_id,
                body,
                note,
            } => self.send(conversation_id, client_msg_id, body, note).await,
            ConsoleMessage::Typing {
                conversation_id,
                state,
            } => self.typing(conversation_id, state).await,
            ConsoleMessage::Read {
                conversation_id,
                seq,
            } => Self::answer(
                conversations::mark_read(&self.state, self.party(), conversation_id, seq).await,
            ),
            ConsoleMessage::Watch {
                site_id,
                filter,
                offset,
                limit,
            } => self.watch(site_id, filter, offset, limit).await,
            ConsoleMessage::Invite {
                visitor_id,
                message,
            } => self.invite(visitor_id, message).await,
            ConsoleMessage::Call(request) => {
                let call_id = request.call_id().map(str::to_owned);
                match calls::request(&self.state, self.party(), request).await {
                    Ok(()) => Reply::None,
                    Err(e) => Reply::Send(errors::call_error(&e, call_id.as_deref())),
                }
            }
            ConsoleMessage::CallSignal(CallSignal { call_id, signal }) => {
                let id = call_id.clone();
                match calls::relay(&self.state, self.party(), call_id, signal).await {
                    Ok(()) => Reply::None,
                    Err(e) => Reply::Send(errors::call_error(&e, Some(&id))),
                }
            }
        }
    }
}
