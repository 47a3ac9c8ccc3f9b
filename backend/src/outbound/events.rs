//! Site events for webhooks. Emitting queues one delivery per hook that wants the event, in the
//! caller's transaction.

use super::outbox::Enqueue;
use super::webhook::WebhookJob;
use super::{enqueue, Job};
use crate::db::models::Webhook;
use crate::db::DbConnection;

/// A new conversation (chat started from any entry point).
pub const CONVERSATION_STARTED: &str = "conversation.started";
/// A new message in a conversation (guest or operator; internal notes are never sent).
pub const MESSAGE_CREATED: &str = "message.created";
/// A leave-a-message submission.
pub const OFFLINE_MESSAGE: &str = "offline_message.created";
/// A conversation was closed.
pub const CONVERSATION_CLOSED: &str = "conversation.closed";

/// Every event a hook may subscribe to.
pub const ALL: [&str; 4] = [
    CONVERSATION_STARTED,
    MESSAGE_CREATED,
    OFFLINE_MESSAGE,
    CONVERSATION_CLOSED,
];

/// Queues `event` with `data` for every hook of the site that wants it; answers how many.
pub fn emit(
    conn: &mut DbConnection,
    site_id: &str,
    conversation_id: Option<&str>,
    event: &str,
    data: serde_json::Value,
) -> diesel::QueryResult<usize> {
    let mut queued = 0;
    for hook in Webhook::of_site(conn, site_id)? {
        if !hook.event_names().iter().any(|e| e == event || e == "*") {
            continue;
        }
        enqueue(
            conn,
            Enqueue {
                site_id: Some(site_id),
                conversation_id,
                summary: format!("Webhook {event} to {}", hook.url),
                job: Job::Webhook(WebhookJob {
                    webhook_id: hook.id.clone(),
                    event: event.to_owned(),
                    data: data.clone(),
                }),
            },
        )?;
        queued += 1;
    }
    Ok(queued)
}
