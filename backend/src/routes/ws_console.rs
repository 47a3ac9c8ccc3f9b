//! `/ws/console`: a console tab's socket. Watches a site's live visitor list (snapshot, then
//! coalesced diffs) and sends invitations.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::console::CurrentOperator;
use crate::db::models::{Invitation, Membership};
use crate::error::ApiError;
use crate::realtime::hub::Outgoing;
use crate::realtime::live::VisitorFilter;
use crate::realtime::socket::{self, Reply, SocketHandler, CLOSE_MALFORMED};
use crate::services::{invitations, ServiceError};
use crate::state::AppState;

/// Largest message a console socket accepts.
const MAX_MESSAGE: usize = 16 * 1024;

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
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let (conn_id, inbox) = state.hub.join_console(&op.operator.id);
        let _registration = Registration {
            state: state.clone(),
            conn_id,
        };
        let mut handler = ConsoleHandler { state, op, conn_id };
        socket::run(session, stream, inbox, MAX_MESSAGE, &mut handler).await;
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
}

impl SocketHandler for ConsoleHandler {
    async fn on_text(&mut self, text: &str) -> Reply {
        let message = match serde_json::from_str::<ConsoleMessage>(text) {
            Ok(m) => m,
            Err(_) => return Reply::Close(CLOSE_MALFORMED, "malformed message"),
        };
        match message {
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
