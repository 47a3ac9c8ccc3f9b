//! `/ws/visitor`: the loader's presence socket (one per tab). Keeps the visitor on the live list
//! and carries invitations to the page and the visitor's answers back.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::error::ApiError;
use crate::realtime::live::GuestFacts;
use crate::realtime::socket::{self, Reply, SocketHandler, CLOSE_MALFORMED, CLOSE_UNKNOWN_GUEST};
use crate::services::invitations;
use crate::services::sites::origin_allowed;
use crate::state::AppState;

/// Largest message a visitor socket accepts.
const MAX_MESSAGE: usize = 4 * 1024;

/// The visitor socket route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws/visitor", web::get().to(visitor_socket));
}

#[derive(Deserialize)]
struct Connect {
    k: String,
    t: String,
}

async fn visitor_socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<Connect>,
) -> Result<HttpResponse, actix_web::Error> {
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
    let site = state
        .sites
        .by_key(&state.db, &query.k)
        .await
        .map_err(ApiError::from)?
        .ok_or(ApiError::NotFound)?;
    if !origin_allowed(&site, origin) {
        return Err(ApiError::Forbidden("this origin may not use the site's widget".into()).into());
    }
    let guest = state
        .guests
        .authenticate(&state.db, &site.id, &query.t)
        .await
        .map_err(ApiError::from)?;
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let Some(guest) = guest else {
            socket::close_now(session, CLOSE_UNKNOWN_GUEST, "unknown guest").await;
            return;
        };
        let (conn_id, inbox) = state.hub.join_visitor(&guest.visitor_id);
        state.live.connect(&guest);
        let _presence = Presence {
            state: state.clone(),
            guest: guest.clone(),
            conn_id,
        };
        let hello = serde_json::json!({"type": "hello", "guest_id": guest.guest_id}).to_string();
        let mut session = session;
        if session.text(hello).await.is_err() {
            return;
        }
        let mut handler = VisitorHandler { state, guest };
        socket::run(session, stream, inbox, MAX_MESSAGE, &mut handler).await;
    });
    Ok(response)
}

/// Takes the tab off the hub and the live list however the session ends.
struct Presence {
    state: std::sync::Arc<AppState>,
    guest: GuestFacts,
    conn_id: u64,
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.state
            .hub
            .leave_visitor(&self.guest.visitor_id, self.conn_id);
        self.state.live.disconnect(&self.guest);
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum VisitorMessage {
    InviteResponse {
        invitation_id: String,
        accepted: bool,
    },
}

struct VisitorHandler {
    state: std::sync::Arc<AppState>,
    guest: GuestFacts,
}

impl SocketHandler for VisitorHandler {
    async fn on_text(&mut self, text: &str) -> Reply {
        let Ok(message) = serde_json::from_str::<VisitorMessage>(text) else {
            return Reply::Close(CLOSE_MALFORMED, "malformed message");
        };
        match message {
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
