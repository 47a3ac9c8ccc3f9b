//! Leave-a-message: a guest's message while nobody can answer becomes a conversation on the
//! "offline" channel, forwarded by [`super::notify::offline_message`].

use super::chat::{self, ClientMsgId, MessageBody, MessageKind, Party};
use super::ServiceError;
use crate::db::models::{Conversation, Membership, Operator, Site, Visitor};
use crate::db::DbConnection;
use crate::domain::{self, DisplayName, Email, InvalidInput};

/// A leave-a-message form, parsed.
#[derive(Debug, Clone)]
pub struct OfflineForm {
    /// The guest's name, if given.
    pub name: Option<DisplayName>,
    /// Where replies go.
    pub email: Email,
    /// The message.
    pub message: MessageBody,
    /// For one operator (`/u/HANDLE`, `/p/PHONE`), by handle.
    pub handle: Option<String>,
}

/// The form's raw fields.
#[derive(Debug, Clone, Default)]
pub struct RawOfflineForm {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Message.
    pub message: String,
    /// Operator handle.
    pub handle: String,
    /// The honeypot: people never see it, so it stays empty; simple bots fill every field.
    pub website: String,
}

/// Why a submission was not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A field is wrong.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The honeypot was filled.
    #[error("the form was not filled in by a person")]
    Bot,
}

impl OfflineForm {
    /// Parses the fields.
    pub fn parse(raw: &RawOfflineForm) -> Result<OfflineForm, Refusal> {
        if !raw.website.trim().is_empty() {
            return Err(Refusal::Bot);
        }
        let name = match raw.name.trim() {
            "" => None,
            n => Some(DisplayName::parse(n)?),
        };
        let email = Email::parse(&raw.email)?;
        let message = MessageBody::parse(&raw.message)
            .map_err(|e| InvalidInput::new("message", e.to_string()))?;
        let handle = Some(raw.handle.trim().to_lowercase()).filter(|h| !h.is_empty());
        Ok(OfflineForm {
            name,
            email,
            message,
            handle,
        })
    }
}

/// A file left with the message.
pub struct OfflineFile<'a> {
    /// Shown name.
    pub name: &'a str,
    /// Checked content type.
    pub content_type: &'a str,
    /// The bytes.
    pub bytes: &'a [u8],
}

/// Stores the message as a new offline conversation of `visitor` on `site`, with its file, and
/// queues every notification, all committed together.
#[expect(
    clippy::too_many_arguments,
    reason = "one submission's parts, each parsed at the edge, and the server's settings for it"
)]
pub fn submit(
    conn: &mut DbConnection,
    data_dir: &std::path::Path,
    site: &Site,
    visitor: &Visitor,
    form: &OfflineForm,
    file: Option<OfflineFile<'_>>,
    base_url: &str,
    pacing: crate::config::Pacing,
) -> Result<Conversation, ServiceError> {
    if visitor.site_id != site.id {
        return Err(ServiceError::NotFound);
    }
    let target = match &form.handle {
        Some(h) => {
            let op = Operator::find_by_handle(conn, h)?.ok_or(ServiceError::NotFound)?;
            if Membership::role_of(conn, &site.id, &op.id)?.is_none() {
                return Err(ServiceError::NotFound);
            }
            Some(op.id)
        }
        None => None,
    };
    let now = domain::now();
    let name = form.name.as_ref().map(|n| n.as_ref().to_owned());
    let conversation = Conversation {
        id: domain::new_id().into(),
        site_id: site.id.clone(),
        visitor_id: Some(visitor.id.clone()),
        assigned_operator_id: None,
        target_operator_id: target,
        status: domain::ConversationStatus::Waiting,
        channel: domain::Channel::Offline,
        subject: form.message.as_ref().chars().take(80).collect(),
        guest_name: name.clone(),
        guest_email: Some(form.email.as_ref().to_owned()),
        guest_phone: None,
        reply_token: Some(hex::encode(rand::random::<[u8; 12]>())),
        last_seq: 0,
        guest_read_seq: 0,
        operator_read_seq: 0,
        created_at: now,
        updated_at: now,
        closed_at: None,
        guest_capabilities: Some("[]".to_owned()),
    };
    let party = Party::Guest {
        visitor_id: visitor.id.to_string(),
    };
    crate::db::write_transaction(conn, |conn| {
        conversation.insert(conn)?;
        chat::post(
            conn,
            &conversation.id,
            &party,
            &ClientMsgId::parse(&domain::new_id())?,
            &form.message,
            MessageKind::Text,
            pacing,
        )?;
        if let Some(file) = file {
            super::attachments::upload(
                conn,
                data_dir,
                &conversation.id,
                &party,
                &ClientMsgId::parse(&domain::new_id())?,
                file.name,
                file.content_type,
                file.bytes,
                pacing,
            )?;
        }
        super::notify::offline_message(conn, &conversation, form.message.as_ref(), base_url)?;
        Ok::<_, ServiceError>(())
    })?;
    if let Some(name) = &name {
        use diesel::prelude::*;
        diesel::update(crate::db::schema::visitors::table.find(&visitor.id))
            .set(crate::db::schema::visitors::display_name.eq(name))
            .execute(conn)?;
    }
    Ok(Conversation::find(conn, &conversation.id)?.unwrap_or(conversation))
}

/// A visitor leaves a message while nobody can answer: stores it as a new offline conversation
/// (with its file) and its notifications, wakes the delivery worker, and shows the conversation
/// to the site's consoles.
pub async fn leave_message(
    state: &crate::state::AppState,
    site: &Site,
    visitor_id: String,
    form: OfflineForm,
    file: Option<(String, String, Vec<u8>)>,
) -> Result<Conversation, ServiceError> {
    let data_dir = state.settings.data_dir.clone();
    let base_url = state.settings.base().to_owned();
    let site_row = site.clone();
    let pacing = state.settings.floods.pacing;
    let (conversation, view) = super::run(&state.db, move |conn| {
        let visitor = Visitor::find(conn, &visitor_id)?.ok_or(ServiceError::NotFound)?;
        let file = file
            .as_ref()
            .map(|(name, content_type, bytes)| OfflineFile {
                name,
                content_type,
                bytes,
            });
        let conversation = submit(
            conn, &data_dir, &site_row, &visitor, &form, file, &base_url, pacing,
        )?;
        let view = super::conversations::conversation_view(conn, &conversation)?;
        Ok((conversation, view))
    })
    .await?;
    state.outbound.wake();
    super::conversations::publish_conversation(state, &conversation, &view);
    Ok(conversation)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawOfflineForm {
        RawOfflineForm {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            message: "Hello".into(),
            ..RawOfflineForm::default()
        }
    }

    #[test]
    fn the_honeypot_stops_bots() {
        let mut r = raw();
        assert!(OfflineForm::parse(&r).is_ok());
        r.website = "http://spam.example".into();
        assert!(matches!(OfflineForm::parse(&r), Err(Refusal::Bot)));
    }

    #[test]
    fn email_and_message_are_required() {
        let mut r = raw();
        r.email = "not an address".into();
        assert!(OfflineForm::parse(&r).is_err());
        let mut r = raw();
        r.message = "   ".into();
        assert!(OfflineForm::parse(&r).is_err());
    }
}
