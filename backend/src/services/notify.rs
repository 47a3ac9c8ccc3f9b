//! Who hears about a change outside the sockets: webhooks for every conversation event, email and
//! SMS for the guests of offline, email and SMS conversations, and the site's people for new offline
//! messages. Everything is queued in the outbox inside the caller's transaction, so a committed
//! change never loses its notifications.

use diesel::prelude::*;
use serde_json::json;

use crate::config::Pacing;
use crate::db::models::{Conversation, Message, Operator, OutboxItem, Site};
use crate::db::DbConnection;
use crate::outbound::mail::EmailJob;
use crate::outbound::outbox::Enqueue;
use crate::outbound::sms::SmsJob;
use crate::outbound::templates::{render_for_site, TemplateName};
use crate::outbound::{enqueue, events, Job};

/// Conversations whose guest is reached by email or SMS rather than a live panel.
pub fn reached_outside(channel: &str) -> bool {
    channel
        .parse::<crate::domain::Channel>()
        .is_ok_and(crate::domain::Channel::reached_outside)
}

fn site_of(conn: &mut DbConnection, site_id: &str) -> QueryResult<Site> {
    Site::get(conn, site_id)
}

/// The console link of a conversation.
pub fn console_url(base_url: &str, conversation_id: &str) -> String {
    format!("{base_url}/console/chats?c={conversation_id}")
}

/// The conversation's reply token, made on first use.
pub fn reply_token(conn: &mut DbConnection, c: &Conversation) -> QueryResult<String> {
    if let Some(t) = &c.reply_token {
        return Ok(t.clone());
    }
    let token = hex::encode(rand::random::<[u8; 12]>());
    diesel::update(crate::db::schema::conversations::table.find(&c.id))
        .set(crate::db::schema::conversations::reply_token.eq(&token))
        .execute(conn)?;
    Ok(token)
}

/// The common fields of a conversation event's data.
pub fn conversation_data(c: &Conversation) -> serde_json::Value {
    json!({
        "conversation_id": c.id,
        "site_id": c.site_id,
        "channel": c.channel,
        "status": c.status,
        "guest": {"name": c.guest_name, "email": c.guest_email, "phone": c.guest_phone},
    })
}

/// Queues one rendered mail about conversation `c`, threaded with its other mails.
fn queue_email(
    conn: &mut DbConnection,
    c: &Conversation,
    to: String,
    to_name: Option<String>,
    rendered: crate::outbound::templates::Rendered,
    reply_token: Option<String>,
) -> QueryResult<String> {
    enqueue(
        conn,
        Enqueue {
            site_id: Some(&c.site_id),
            conversation_id: Some(&c.id),
            summary: format!("Email to {to}: {}", rendered.subject),
            job: Job::Email(EmailJob {
                to,
                to_name,
                subject: rendered.subject,
                text: rendered.text,
                reply_token,
                thread: Some(c.id.to_string()),
            }),
        },
    )
}

/// A conversation started.
pub fn conversation_started(conn: &mut DbConnection, c: &Conversation) -> QueryResult<()> {
    events::emit(
        conn,
        &c.site_id,
        Some(&c.id),
        events::CONVERSATION_STARTED,
        conversation_data(c),
    )
    .map(|_| ())
}

/// A conversation was closed.
pub fn conversation_closed(conn: &mut DbConnection, c: &Conversation) -> QueryResult<()> {
    events::emit(
        conn,
        &c.site_id,
        Some(&c.id),
        events::CONVERSATION_CLOSED,
        conversation_data(c),
    )
    .map(|_| ())
}

/// A message was stored: webhooks (coalesced per conversation, see
/// [`events::emit_message_created`]), and an operator's reply reaches a guest who is not in a panel
/// by email or SMS, at most `pacing.notifications_per_hour` of them per conversation.
pub fn message_posted(
    conn: &mut DbConnection,
    c: &Conversation,
    m: &Message,
    pacing: Pacing,
) -> QueryResult<()> {
    if m.kind == "note" || m.kind == "system" {
        return Ok(());
    }
    let message = json!({
        "seq": m.seq, "sender": m.sender_kind, "kind": m.kind, "body": m.body,
        "created_at": m.created_at.and_utc().to_rfc3339(),
    });
    events::emit_message_created(
        conn,
        &c.site_id,
        &c.id,
        conversation_data(c),
        message,
        pacing.webhook_window_secs,
    )?;
    if m.sender_kind != "operator" || m.kind != "text" || !reached_outside(&c.channel) {
        return Ok(());
    }
    let hour_ago = m.created_at - chrono::Duration::hours(1);
    let recent = OutboxItem::count_of_conversation_since(conn, &c.id, &["email", "sms"], hour_ago)?;
    if recent >= i64::from(pacing.notifications_per_hour) {
        // A flood of replies must not become a flood of mail or texts; the reply is in the
        // conversation (and its transcript) all the same.
        tracing::warn!(conversation = %c.id, recent, "reply not emailed or texted: the conversation's hourly cap is reached");
        return Ok(());
    }
    let operator = match &m.sender_id {
        Some(id) => Operator::find(conn, id)?,
        None => None,
    };
    let operator_name = operator.map(|o| o.display_name).unwrap_or_default();
    let site = site_of(conn, &c.site_id)?;
    if c.channel == "sms" {
        if let Some(phone) = &c.guest_phone {
            enqueue(
                conn,
                Enqueue {
                    site_id: Some(&c.site_id),
                    conversation_id: Some(&c.id),
                    summary: format!("SMS reply to {phone}"),
                    job: Job::Sms(SmsJob {
                        to: phone.clone(),
                        body: m.body.clone(),
                    }),
                },
            )?;
        }
        return Ok(());
    }
    if let Some(email) = &c.guest_email {
        let context = json!({
            "site_name": site.name, "guest_name": c.guest_name.clone().unwrap_or_default(),
            "guest_email": email, "operator_name": operator_name, "message": m.body,
            "conversation_id": c.id,
        });
        let rendered = render_for_site(&site.settings(), TemplateName::ReplyToGuest, &context);
        let token = reply_token(conn, c)?;
        queue_email(
            conn,
            c,
            email.clone(),
            c.guest_name.clone(),
            rendered,
            Some(token),
        )?;
    }
    Ok(())
}

/// A new offline message (the conversation's first message is `message`): forwarded by email to the
/// operator it was for, or to every member of the site; by SMS to those who chose so; a copy to the
/// guest; and the `offline_message.created` webhook.
pub fn offline_message(
    conn: &mut DbConnection,
    c: &Conversation,
    message: &str,
    base_url: &str,
) -> QueryResult<()> {
    let site = site_of(conn, &c.site_id)?;
    let people: Vec<Operator> = match &c.target_operator_id {
        Some(id) => Operator::find(conn, id)?.into_iter().collect(),
        None => {
            let mut ops = Vec::new();
            for id in super::sites::member_ids(conn, &c.site_id)? {
                ops.extend(Operator::find(conn, &id)?);
            }
            ops
        }
    };
    let guest_name = c
        .guest_name
        .clone()
        .unwrap_or_else(|| "A visitor".to_owned());
    let guest_email = c.guest_email.clone().unwrap_or_default();
    let base_context = json!({
        "site_name": site.name, "guest_name": guest_name, "guest_email": guest_email,
        "message": message, "conversation_id": c.id,
        "console_url": console_url(base_url, &c.id),
    });
    for op in people.iter().filter(|o| o.disabled_at.is_none()) {
        let mut context = base_context.clone();
        context["operator_name"] = json!(op.display_name);
        let rendered = render_for_site(&site.settings(), TemplateName::OfflineToOperator, &context);
        queue_email(
            conn,
            c,
            op.email.clone(),
            Some(op.display_name.clone()),
            rendered,
            None,
        )?;
        if let (true, Some(phone)) = (op.notify_sms, &op.phone) {
            let preview: String = message.chars().take(120).collect();
            enqueue(
                conn,
                Enqueue {
                    site_id: Some(&c.site_id),
                    conversation_id: Some(&c.id),
                    summary: format!("SMS to {phone}: new offline message"),
                    job: Job::Sms(SmsJob {
                        to: phone.clone(),
                        body: format!(
                            "{}: new message from {guest_name}: {preview} {}",
                            site.name,
                            console_url(base_url, &c.id)
                        ),
                    }),
                },
            )?;
        }
    }
    if !guest_email.is_empty() {
        let operator_name = people.first().map(|o| o.display_name.clone());
        let mut context = base_context.clone();
        context["operator_name"] = json!(operator_name.unwrap_or_default());
        let rendered =
            render_for_site(&site.settings(), TemplateName::OfflineCopyToGuest, &context);
        let token = reply_token(conn, c)?;
        queue_email(
            conn,
            c,
            guest_email.clone(),
            c.guest_name.clone(),
            rendered,
            Some(token),
        )?;
    }
    let mut data = conversation_data(c);
    data["message"] = json!(message);
    events::emit(conn, &c.site_id, Some(&c.id), events::OFFLINE_MESSAGE, data).map(|_| ())
}

/// Queues the conversation's transcript to its guest; answers the address.
pub fn transcript(
    conn: &mut DbConnection,
    c: &Conversation,
    base_url: &str,
) -> Result<String, super::ServiceError> {
    let email = c
        .guest_email
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            crate::domain::InvalidInput::new("guest_email", "the guest left no email address")
        })?;
    let site = site_of(conn, &c.site_id)?;
    let mut lines = Vec::new();
    for m in Message::after(conn, &c.id, 0, 10_000)? {
        if m.kind == "note" {
            continue;
        }
        let who = match m.sender_kind.as_str() {
            "operator" => match &m.sender_id {
                Some(id) => Operator::find(conn, id)?
                    .map(|o| o.display_name)
                    .unwrap_or_default(),
                None => String::new(),
            },
            "guest" => c.guest_name.clone().unwrap_or_else(|| "You".to_owned()),
            _ => "—".to_owned(),
        };
        let body = if m.kind == "attachment" {
            serde_json::from_str::<serde_json::Value>(&m.body)
                .ok()
                .and_then(|v| v["name"].as_str().map(|n| format!("[file: {n}]")))
                .unwrap_or_else(|| "[file]".to_owned())
        } else {
            m.body.clone()
        };
        lines.push(json!({
            "at": m.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            "who": who, "body": body,
        }));
    }
    let context = json!({
        "site_name": site.name, "guest_name": c.guest_name.clone().unwrap_or_default(),
        "guest_email": email, "messages": lines, "conversation_id": c.id,
        "console_url": console_url(base_url, &c.id),
    });
    let rendered = render_for_site(&site.settings(), TemplateName::Transcript, &context);
    let token = reply_token(conn, c)?;
    queue_email(
        conn,
        c,
        email.clone(),
        c.guest_name.clone(),
        rendered,
        Some(token),
    )?;
    Ok(email)
}
