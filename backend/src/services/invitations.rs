//! Beckoning a visitor: an operator's invitation, shown as a bubble on the visitor's page, and the
//! visitor's answer (accepted, declined, or expired when ignored).

use serde::Serialize;

use super::ServiceError;
use crate::db::models::{Invitation, Membership, Operator, Visitor};
use crate::db::DbConnection;
use crate::domain::{self, InvalidInput};

/// Unanswered invitations expire after this long (the bubble is ignored).
pub const INVITATION_TTL_SECS: i64 = 120;

/// The bubble event sent to the visitor's tabs.
#[derive(Serialize)]
pub struct InviteEvent<'a> {
    r#type: &'static str,
    invitation_id: &'a str,
    operator: &'a str,
    message: &'a str,
}

/// The status event sent to consoles.
#[derive(Serialize)]
pub struct StatusEvent<'a> {
    r#type: &'static str,
    invitation_id: &'a str,
    visitor_id: &'a str,
    status: &'a str,
}

impl<'a> StatusEvent<'a> {
    /// The event for an invitation's current status.
    pub fn of(inv: &'a Invitation) -> StatusEvent<'a> {
        StatusEvent {
            r#type: "invitation",
            invitation_id: &inv.id,
            visitor_id: &inv.visitor_id,
            status: &inv.status,
        }
    }
}

/// Records an invitation from `operator` to an active visitor of a site the operator belongs to;
/// returns it and the JSON of the bubble event.
pub fn create(
    conn: &mut DbConnection,
    operator: &Operator,
    visitor_id: &str,
    message: &str,
) -> Result<(Invitation, String), ServiceError> {
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
    let event = serde_json::to_string(&InviteEvent {
        r#type: "invite",
        invitation_id: &invitation.id,
        operator: &operator.display_name,
        message: &invitation.message,
    })
    .map_err(anyhow::Error::from)?;
    Ok((invitation, event))
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
