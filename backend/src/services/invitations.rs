//! Beckoning a visitor: an operator's invitation, shown as a bubble on the visitor's page, and the
//! visitor's answer (accepted, declined, or expired when ignored).

use serde::Serialize;

use super::chat::{self, ClientMsgId, MessageBody, MessageKind, Party, Posted};
use super::conversations;
use super::ServiceError;
use crate::db::models::{Conversation, Invitation, Membership, Operator, Visitor};
use crate::db::DbConnection;
use crate::domain::{self, Channel, ConversationStatus, InvalidInput};
use crate::realtime::live::{GuestFacts, Reachability};
use crate::realtime::protocol::ConversationView;
use crate::realtime::ServerEvent;
use crate::state::AppState;

/// Unanswered invitations expire after this long (the bubble is ignored).
pub const INVITATION_TTL_SECS: i64 = 120;

/// Records an invitation from `operator` to an active visitor of a site the operator belongs to;
/// returns it.
pub fn create(
    conn: &mut DbConnection,
    operator: &Operator,
    visitor_id: &str,
    message: &str,
) -> Result<Invitation, ServiceError> {
    let message = message.trim();
    if message.chars().count() > 500 {
        return Err(InvalidInput::new("message", "must be at most 500 characters").into());
    }
    let visitor = Visitor::find(conn, visitor_id)?
        .filter(|v| v.deactivated_at.is_none())
        .ok_or(ServiceError::NotFound)?;
    // An operator of another site must not learn that the visitor exists.
    if Membership::role_of(conn, &visitor.site_id, &operator.id)?.is_none() {
        return Err(ServiceError::NotFound);
    }
    let invitation = Invitation {
        id: domain::new_id().into(),
        site_id: visitor.site_id.clone(),
        visitor_id: visitor.id.clone(),
        operator_id: Some(operator.id.clone()),
        message: if message.is_empty() {
            "Hi! Can I help you with anything?".to_owned()
        } else {
            message.to_owned()
        },
        status: "pending".to_owned(),
        conversation_id: None,
        created_at: domain::now(),
        responded_at: None,
    };
    invitation.insert(conn)?;
    Ok(invitation)
}

/// The visitor's answer to one of their own pending invitations; the updated invitation, or `None`
/// when it was not theirs or no longer pending.
pub fn respond(
    conn: &mut DbConnection,
    visitor_id: &str,
    invitation_id: &str,
    accepted: bool,
) -> Result<Option<Invitation>, ServiceError> {
    let status = if accepted { "accepted" } else { "declined" };
    if !Invitation::respond(conn, invitation_id, visitor_id, status, domain::now())? {
        return Ok(None);
    }
    Ok(Invitation::find(conn, invitation_id)?)
}

/// What an accepted invitation opened: the chat with the inviter, and the invitation's text posted
/// in it as the inviter's message.
pub struct Opened {
    /// The conversation (new, or the guest's open one).
    pub conversation: Conversation,
    /// Its view, with the names it shows.
    pub view: ConversationView,
    /// The invitation's text as the inviter's message.
    pub posted: Posted,
    /// The inviter.
    pub inviter: Operator,
}

/// The idempotency key of an invitation's text in its chat: a second accept (or a retried one)
/// can never post it twice.
fn invitation_msg_id(invitation_id: &str) -> Result<ClientMsgId, ServiceError> {
    Ok(ClientMsgId::parse(&format!("invitation-{invitation_id}"))?)
}

/// Opens the chat an accepted invitation promised: the guest's open conversation when there is
/// one (a waiting one is handed to the inviter), otherwise a new one assigned to the inviter;
/// then posts the invitation's text in it as the inviter's message and records the conversation
/// on the invitation. `None` when the inviter can no longer chat on the site (deleted, disabled,
/// or no longer a member): the guest then starts a chat the usual way.
pub fn open_chat(
    conn: &mut DbConnection,
    invitation: &Invitation,
    pacing: crate::config::Pacing,
) -> Result<Option<Opened>, ServiceError> {
    let Some(inviter_id) = &invitation.operator_id else {
        return Ok(None);
    };
    let Some(inviter) = Operator::find(conn, inviter_id)?.filter(|o| o.disabled_at.is_none())
    else {
        return Ok(None);
    };
    if Membership::role_of(conn, &invitation.site_id, &inviter.id)?.is_none() {
        return Ok(None);
    }
    let visitor = Visitor::find(conn, &invitation.visitor_id)?.ok_or(ServiceError::NotFound)?;
    let conversation = match Conversation::open_for_visitor(conn, &visitor.id)? {
        Some(open) if open.assigned_operator_id.is_none() => {
            // The guest was already waiting (e.g. the panel started a chat first): the inviter
            // takes it, without a "joined" line, since their message says who is there.
            Conversation::set_state(
                conn,
                &open.id,
                ConversationStatus::Open,
                Some(&inviter.id),
                domain::now(),
            )?;
            Conversation::find(conn, &open.id)?.ok_or(ServiceError::NotFound)?
        }
        // Someone already chats with the guest: the invitation joins that chat, not a second one.
        Some(open) => open,
        None => {
            // Addressed to the inviter and counted as available: `start` assigns it to them
            // whatever the site's auto-assignment and whether they are online now.
            let (started, _) = chat::start(
                conn,
                &visitor,
                None,
                Some(&inviter.handle),
                Channel::Widget,
                std::slice::from_ref(&inviter.id.to_string()),
            )?;
            started
        }
    };
    let body = MessageBody::parse(&invitation.message)?;
    let posted = chat::post(
        conn,
        &conversation.id,
        &Party::Operator(inviter.clone()),
        &invitation_msg_id(&invitation.id)?,
        &body,
        MessageKind::Text,
        pacing,
    )?;
    Invitation::set_conversation(conn, &invitation.id, &conversation.id)?;
    let conversation = Conversation::find(conn, &conversation.id)?.ok_or(ServiceError::NotFound)?;
    let view = conversations::conversation_view(conn, &conversation)?;
    Ok(Some(Opened {
        conversation,
        view,
        posted,
        inviter,
    }))
}

/// Expires invitations nobody answered in time; returns them (status already `expired`).
pub fn expire_ignored(conn: &mut DbConnection) -> Result<Vec<Invitation>, ServiceError> {
    let now = domain::now();
    let mut expired = Invitation::expire_pending(
        conn,
        now - chrono::Duration::seconds(INVITATION_TTL_SECS),
        now,
    )?;
    for inv in &mut expired {
        inv.status = "expired".to_owned();
    }
    Ok(expired)
}

/// Tells consoles watching the invitation's site about its status and updates the live list; an
/// expired invitation's bubble is taken off the visitor's tabs.
pub fn announce(state: &AppState, invitation: &Invitation) {
    state.live.set_invitation(
        &invitation.site_id,
        &invitation.visitor_id,
        &invitation.status,
    );
    let bus = state.bus();
    if invitation.status == "expired" {
        bus.to_visitor(
            &invitation.visitor_id,
            &ServerEvent::InviteCancelled {
                invitation_id: &invitation.id,
            },
        );
    }
    bus.to_site_watchers(
        &invitation.site_id,
        &ServerEvent::Invitation {
            invitation_id: &invitation.id,
            visitor_id: &invitation.visitor_id,
            status: &invitation.status,
            conversation_id: invitation.conversation_id.as_deref(),
        },
    );
}

/// Publishes the chat an accepted invitation opened: every tab of the guest follows it (the panel
/// takes it up and shows the inviter's message first), the inviter's message reaches everyone in
/// it, the site's consoles list it, and the inviter's consoles are told who accepted.
fn publish_opened(state: &AppState, invitation: &Invitation, opened: &Opened) {
    let c = &opened.conversation;
    let bus = state.bus();
    bus.follow_as_guest_in_all_tabs(&invitation.visitor_id, &c.id);
    conversations::publish_conversation(state, c, &opened.view);
    if !opened.posted.duplicate {
        conversations::publish_message(state, &opened.posted.message, &opened.inviter.display_name);
    }
    bus.to_operator_consoles(
        &opened.inviter.id,
        &ServerEvent::InvitationAccepted {
            invitation_id: &invitation.id,
            visitor_id: &invitation.visitor_id,
            conversation_id: &c.id,
            guest: c
                .guest_name
                .as_deref()
                .or(opened.view.guest.guest_id.as_deref())
                .unwrap_or("A visitor"),
        },
    );
}

/// An operator beckons a visitor: stores the invitation, shows the bubble on the visitor's tabs
/// and tells the site's watching consoles. A listed visitor whom no invitation can reach (no
/// presence socket, no polling loader) is refused with a `Conflict` that says so, rather than
/// left with an invitation pending that nobody will see.
pub async fn send(
    state: &AppState,
    operator: &Operator,
    visitor_id: String,
    message: String,
) -> Result<Invitation, ServiceError> {
    if state.live.reachability(&visitor_id) == Some(Reachability::None) {
        return Err(ServiceError::Conflict(UNREACHABLE.to_owned()));
    }
    let op = operator.clone();
    let invitation = super::run(&state.db, move |conn| {
        create(conn, &op, &visitor_id, &message)
    })
    .await?;
    let tabs = state.bus().to_visitor(
        &invitation.visitor_id,
        &ServerEvent::Invite {
            invitation_id: &invitation.id,
            operator: &operator.display_name,
            message: &invitation.message,
        },
    );
    tracing::info!(invitation = %invitation.id, tabs, "visitor invited");
    announce(state, &invitation);
    Ok(invitation)
}

/// The visitor answers one of their invitations. Accepting opens the chat with the inviter (see
/// [`open_chat`]) in the same transaction as the answer, so a second accept of the same invitation
/// finds it answered and opens nothing. An invitation not theirs, or no longer pending, is
/// ignored; a failure is logged (the visitor has nothing to retry).
pub async fn answer(state: &AppState, visitor_id: String, invitation_id: String, accepted: bool) {
    let pacing = state.settings.floods.pacing;
    let answered = super::run(&state.db, move |conn| {
        crate::db::write_transaction(conn, |conn| {
            let Some(mut invitation) = respond(conn, &visitor_id, &invitation_id, accepted)? else {
                return Ok(None);
            };
            let opened = if accepted {
                open_chat(conn, &invitation, pacing)?
            } else {
                None
            };
            if let Some(opened) = &opened {
                invitation.conversation_id = Some(opened.conversation.id.clone());
            }
            Ok::<_, ServiceError>(Some((invitation, opened)))
        })
    })
    .await;
    match answered {
        Ok(Some((invitation, opened))) => {
            if let Some(opened) = &opened {
                publish_opened(state, &invitation, opened);
            }
            announce(state, &invitation);
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "invitation answer failed"),
    }
}

/// Why [`send`] refuses a visitor whom no invitation can reach.
pub const UNREACHABLE: &str = "this visitor cannot receive invitations: their page has no live \
     connection to Beckon (no widget script running, or it cannot reach us)";

/// An invitation as the visitor's bubble shows it: what the socket's `invite` event carries, for a
/// loader that polls instead (docs/protocol.md, "Invitations without the socket").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// Invitation id (what the answer names).
    pub invitation_id: String,
    /// The inviting operator's display name.
    pub operator: String,
    /// The bubble's text.
    pub message: String,
}

/// The visitor's newest invitation that is still pending and not yet past its time to live, with
/// the inviter's name; only this visitor's own.
pub fn pending_for(
    conn: &mut DbConnection,
    visitor_id: &str,
) -> Result<Option<Offer>, ServiceError> {
    let since = domain::now() - chrono::Duration::seconds(INVITATION_TTL_SECS);
    let Some(invitation) = Invitation::latest_pending_for(conn, visitor_id, since)? else {
        return Ok(None);
    };
    let operator = match &invitation.operator_id {
        Some(id) => Operator::find(conn, id)?.map(|op| op.display_name),
        None => None,
    };
    Ok(Some(Offer {
        invitation_id: invitation.id.to_string(),
        operator: operator.unwrap_or_default(),
        message: invitation.message,
    }))
}

/// A loader whose presence socket cannot open polls for its guest's invitation: the guest is
/// listed as reachable by polling, and gets its pending invitation, if any.
pub async fn poll(state: &AppState, guest: &GuestFacts) -> Result<Option<Offer>, ServiceError> {
    state.live.polled(guest);
    let visitor_id = guest.visitor_id.clone();
    super::run(&state.db, move |conn| pending_for(conn, &visitor_id)).await
}

/// Expires the invitations nobody answered in time and tells everyone concerned (a scheduled job).
pub async fn expire_and_announce(state: &AppState) {
    let expired = super::run(&state.db, |conn| {
        crate::db::write_transaction(conn, expire_ignored)
    })
    .await;
    match expired {
        Ok(expired) => {
            for invitation in expired {
                announce(state, &invitation);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not expire invitations"),
    }
}
