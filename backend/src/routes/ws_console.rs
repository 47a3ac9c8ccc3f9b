//! `/ws/console`: a console tab's socket. Watches a site's live visitor list (snapshot, then
//! coalesced diffs) and sends invitations.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::chat_events;
use crate::db::models::{Conversation, Invitation, Membership, Message};
use crate::error::ApiError;
use crate::extract::console::CurrentOperator;
use crate::realtime::hub::Outgoing;
use crate::realtime::live::VisitorFilter;
use crate::realtime::socket::{
    self, Reply, SocketHandler, CLOSE_ACCESS_CHANGED, CLOSE_MALFORMED, CLOSE_SESSION_ENDED,
};
use crate::realtime::transport::ActixWs;
use crate::realtime::EventBus as _;
use crate::services::auth::{self, SocketCheck};
use crate::services::availability::{console_topic, Chosen};
use crate::services::chat::{self, Party};
use crate::services::{self, invitations, ServiceError};
use crate::state::AppState;

/// Largest message a console socket accepts.
const MAX_MESSAGE: usize = 32 * 1024;

/// The console socket route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws/console", web::get().to(console_socket));
}

/// Tells consoles watching the invitation's site about its status, and updates the live list.
pub fn announce_invitation(state: &AppState, invitation: &Invitation) {
    state.live.set_invitation(
        &invitation.site_id,
        &invitation.visitor_id,
        &invitation.status,
    );
    if invitation.status != "pending" {
        let cancel =
            serde_json::json!({"type": "invite_cancelled", "invitation_id": invitation.id})
                .to_string();
        if invitation.status == "expired" {
            state
                .hub
                .send_to_visitor(&invitation.visitor_id, Outgoing::text(cancel));
        }
    }
    let event =
        serde_json::to_string(&invitations::StatusEvent::of(invitation)).unwrap_or_default();
    let event: Arc<str> = event.into();
    for conn_id in state.live.watchers_of(&invitation.site_id) {
        state
            .hub
            .send_to_console(conn_id, Outgoing::Text(event.clone()));
    }
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
        state
            .availability
            .connected(&op.operator.id, Chosen::parse(&op.operator.availability));
        state
            .hub
            .subscribe(conn_id, &console_topic(&op.operator.id));
        state.hub.send_to_console(
            conn_id,
            Outgoing::text(state.availability.greeting(&state.hub, &op.operator.id)),
        );
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

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ConsoleMessage {
    Watch {
        site_id: String,
        #[serde(default)]
        filter: VisitorFilter,
        #[serde(default)]
        offset: usize,
        #[serde(default = "default_limit")]
        limit: usize,
    },
    Invite {
        visitor_id: String,
        #[serde(default)]
        message: String,
    },
    Conversations {
        site_id: String,
    },
    Accept {
        conversation_id: String,
    },
    Join {
        conversation_id: String,
        #[serde(default)]
        after_seq: i64,
    },
    Send {
        conversation_id: String,
        client_msg_id: String,
        body: String,
        #[serde(default)]
        note: bool,
    },
    Typing {
        conversation_id: String,
        state: bool,
    },
    Read {
        conversation_id: String,
        seq: i64,
    },
    CloseConversation {
        conversation_id: String,
    },
    Transfer {
        conversation_id: String,
        operator_handle: String,
    },
    SetAvailability {
        status: Chosen,
    },
    Activity,
    EmailTranscript {
        conversation_id: String,
    },
}

fn default_limit() -> usize {
    100
}

fn error_event(code: &str, message: &str) -> Reply {
    Reply::Send(serde_json::json!({"type": "error", "code": code, "message": message}).to_string())
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

    async fn list_conversations(&mut self, site_id: String) -> Reply {
        let operator_id = self.op.operator.id.clone();
        let listed = services::run(&self.state.db, move |conn| {
            if Membership::role_of(conn, &site_id, &operator_id)?.is_none() {
                return Err(ServiceError::NotFound);
            }
            let mut items = Vec::new();
            for c in Conversation::active_for_site(conn, &site_id)? {
                items.push(chat_events::conversation_json(conn, &c)?);
            }
            Ok((site_id, items))
        })
        .await;
        match listed {
            Ok((site_id, items)) => {
                self.state
                    .hub
                    .subscribe(self.conn_id, &chat_events::site_topic(&site_id));
                Reply::Send(serde_json::json!({"type": "conversation_list", "site_id": site_id, "items": items}).to_string())
            }
            Err(e) => Reply::Send(chat_events::service_error_json(&e, None)),
        }
    }

    /// Runs a state change (accept, transfer, close) and tells everyone.
    async fn change<F>(&mut self, conversation_id: String, work: F) -> Reply
    where
        F: FnOnce(
                &mut crate::db::DbConnection,
                &str,
            ) -> Result<(Conversation, Message), ServiceError>
            + Send
            + 'static,
    {
        let changed = services::run(&self.state.db, move |conn| {
            let (c, line) = work(conn, &conversation_id)?;
            let event = chat_events::conversation_json(conn, &c)?;
            Ok((c, line, event))
        })
        .await;
        match changed {
            Ok((c, line, event)) => {
                self.state
                    .hub
                    .subscribe(self.conn_id, &chat_events::ops_topic(&c.id));
                chat_events::publish_message(&self.state, &line, "");
                chat_events::publish_conversation(&self.state, &c, &event);
                Reply::None
            }
            Err(e) => Reply::Send(chat_events::service_error_json(&e, None)),
        }
    }

    async fn join(&mut self, conversation_id: String, after_seq: i64) -> Reply {
        let party = self.party();
        Reply::Send(
            chat_events::catch_up(
                &self.state,
                self.conn_id,
                party,
                conversation_id,
                after_seq,
                chat_events::ops_topic,
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
            chat::MessageKind::Note
        } else {
            chat::MessageKind::Text
        };
        let party = self.party();
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

    async fn typing(&mut self, conversation_id: String, typing: bool) -> Reply {
        let limit = &self.state.chat_limits.operator_typing;
        if let Err(wait) = limit.check(&self.op.operator.id) {
            return Reply::Send(chat_events::limited_json(
                "too many typing events; slow down",
                crate::limits::retry_after_secs(wait),
                None,
            ));
        }
        // Typing events are frequent: the membership check is done once per conversation.
        if !self.allowed.contains(&conversation_id) {
            let party = self.party();
            let id = conversation_id.clone();
            if let Err(e) = services::run(&self.state.db, move |conn| {
                chat::authorised(conn, &id, &party)
            })
            .await
            {
                return Reply::Send(chat_events::service_error_json(&e, None));
            }
            self.allowed.insert(conversation_id.clone());
        }
        let event: std::sync::Arc<str> = serde_json::json!({
            "type": "typing", "conversation_id": conversation_id, "who": "operator",
            "name": self.op.operator.display_name, "state": typing,
        })
        .to_string()
        .into();
        self.state
            .hub
            .publish(&chat_events::guest_topic(&conversation_id), event);
        Reply::None
    }

    async fn read(&mut self, conversation_id: String, seq: i64) -> Reply {
        chat_events::mark_read(&self.state, self.party(), conversation_id, seq)
            .await
            .into()
    }
}

impl ConsoleHandler {
    /// Stores the operator's choice and tells all their consoles.
    async fn set_availability(&mut self, chosen: Chosen) -> Reply {
        let id = self.op.operator.id.clone();
        let saved = self
            .state
            .db
            .run(move |conn| {
                use crate::db::schema::operators;
                use diesel::prelude::*;
                diesel::update(operators::table.find(&id))
                    .set(operators::availability.eq(chosen.as_str()))
                    .execute(conn)?;
                Ok(())
            })
            .await;
        if let Err(e) = saved {
            tracing::error!(error = %e, "could not save availability");
            return error_event("internal", "could not save your status");
        }
        self.op.operator.availability = chosen.as_str().to_owned();
        self.state.availability.choose(&self.op.operator.id, chosen);
        self.state
            .availability
            .announce(&self.state.hub, &self.op.operator.id)
            .into()
    }

    /// Queues the conversation's transcript to the guest's email address.
    async fn email_transcript(&mut self, conversation_id: String) -> Reply {
        let party = self.party();
        let base_url = self.state.settings.base().to_owned();
        let id = conversation_id.clone();
        let queued = services::run(&self.state.db, move |conn| {
            let c = chat::authorised(conn, &id, &party)?;
            services::notify::transcript(conn, &c, &base_url)
        })
        .await;
        match queued {
            Ok(email) => {
                self.state.outbound.wake();
                Reply::Send(
                    serde_json::json!({
                        "type": "notice", "conversation_id": conversation_id,
                        "message": format!("Transcript queued for {email}"),
                    })
                    .to_string(),
                )
            }
            Err(e) => Reply::Send(chat_events::service_error_json(&e, None)),
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
            ConsoleMessage::Conversations { site_id } => self.list_conversations(site_id).await,
            ConsoleMessage::Accept { conversation_id } => {
                let op = self.op.operator.clone();
                self.change(conversation_id, move |conn, id| chat::accept(conn, id, &op))
                    .await
            }
            ConsoleMessage::Transfer {
                conversation_id,
                operator_handle,
            } => {
                let op = self.op.operator.clone();
                self.change(conversation_id, move |conn, id| {
                    chat::transfer(conn, id, &op, &operator_handle).map(|(c, line, _)| (c, line))
                })
                .await
            }
            ConsoleMessage::CloseConversation { conversation_id } => {
                let op = self.op.operator.clone();
                self.change(conversation_id, move |conn, id| {
                    chat::close(conn, id, &Party::Operator(op.clone()), &op.display_name)
                })
                .await
            }
            ConsoleMessage::Join {
                conversation_id,
                after_seq,
            } => self.join(conversation_id, after_seq).await,
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
            } => self.read(conversation_id, seq).await,
            ConsoleMessage::Watch {
                site_id,
                filter,
                offset,
                limit,
            } => {
                let operator_id = self.op.operator.id.clone();
                let lookup = site_id.clone();
                let role = self
                    .state
                    .db
                    .run(move |conn| Ok(Membership::role_of(conn, &lookup, &operator_id)?))
                    .await;
                match role {
                    Ok(Some(_)) => Reply::Send(self.state.live.watch(
                        self.conn_id,
                        &site_id,
                        filter,
                        offset,
                        limit,
                    )),
                    Ok(None) => error_event("not_found", "no such site"),
                    Err(e) => {
                        tracing::error!(error = %e, "watch failed");
                        error_event("internal", "could not watch the site")
                    }
                }
            }
            ConsoleMessage::Invite {
                visitor_id,
                message,
            } => {
                let operator = self.op.operator.clone();
                let created = self
                    .state
                    .db
                    .run(move |conn| {
                        Ok(invitations::create(conn, &operator, &visitor_id, &message))
                    })
                    .await;
                match created {
                    Ok(Ok((invitation, bubble))) => {
                        let tabs = self
                            .state
                            .hub
                            .send_to_visitor(&invitation.visitor_id, Outgoing::text(bubble));
                        tracing::info!(invitation = %invitation.id, tabs, "visitor invited");
                        announce_invitation(&self.state, &invitation);
                        Reply::None
                    }
                    Ok(Err(ServiceError::NotFound)) => {
                        error_event("not_found", "that visitor is no longer here")
                    }
                    Ok(Err(ServiceError::Invalid(e))) => error_event("bad_request", &e.to_string()),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "invite failed");
                        error_event("internal", "could not send the invitation")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "invite failed");
                        error_event("internal", "could not send the invitation")
                    }
                }
            }
        }
    }
}
