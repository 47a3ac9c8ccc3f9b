//! Beckoning a visitor: an operator's invitation, shown as a bubble on the visitor's page, and the
//! visitor's answer (accepted, declined, or expired when ignored).

use super::ServiceError;
use crate::db::models::{Invitation, Membership, Operator, Visitor};
use crate::db::DbConnection;
use crate::domain::{self, InvalidInput};
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
    bus.to_consoles(
        &state.live.watchers_of(&invitation.site_id),
        &ServerEvent::Invitation {
            invitation_id: &invitation.id,
            visitor_id: &invitation.visitor_id,
            status: &invitation.status,
        },
    );
}

/// An operator beckons a visitor: stores the invitation, shows the bubble on the visitor's tabs
/// and tells the site's watching consoles.
pub async fn send(
    state: &AppState,
    operator: &Operator,
    visitor_id: String,
    message: String,
) -> Result<Invitation, ServiceError> {
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

/// The visitor answers one of their invitations. An invitation not theirs, or no longer pending,
/// is ignored; a failure is logged (the visitor has nothing to retry).
pub async fn answer(state: &AppState, visitor_id: String, invitation_id: String, accepted: bool) {
    let answered = super::run(&state.db, move |conn| {
        respond(conn, &visitor_id, &invitation_id, accepted)
    })
    .await;
    match answered {
        Ok(Some(invitation)) => announce(state, &invitation),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "invitation answer failed"),
    }
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
