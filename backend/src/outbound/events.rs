//! Site events for webhooks. Emitting queues one delivery per hook that wants the event, in the
//! caller's transaction.

use super::outbox::Enqueue;
use super::webhook::WebhookJob;
use super::{enqueue, Job};
use crate::db::models::{OutboxItem, Webhook};
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

/// Most messages one coalesced `message.created` delivery carries; beyond it a new delivery starts.
pub const MAX_MESSAGES_PER_DELIVERY: usize = 100;

/// Queues `message.created` for every hook of the site that wants it, coalesced per hook and
/// conversation so that a flood of messages becomes a few deliveries, not one each:
///
/// - while the hook's newest delivery for this conversation has not been attempted (and holds
///   fewer than [`MAX_MESSAGES_PER_DELIVERY`] messages), `message` joins its `data.messages`;
/// - otherwise a new delivery is queued, due `window_secs` after the previous one was queued (at
///   once when there was none, or it is older than that).
///
/// So a conversation's hook gets at most about two deliveries per window however fast messages
/// come, and the first message of a quiet conversation still leaves at once. `data.message` is the
/// delivery's first message; `data.messages` all of them, in order. Answers how many hooks.
pub fn emit_message_created(
    conn: &mut DbConnection,
    site_id: &str,
    conversation_id: &str,
    data: serde_json::Value,
    message: serde_json::Value,
    window_secs: u64,
) -> diesel::QueryResult<usize> {
    let mut queued = 0;
    for hook in Webhook::of_site(conn, site_id)? {
        if !hook
            .event_names()
            .iter()
            .any(|e| e == MESSAGE_CREATED || e == "*")
        {
            continue;
        }
        queued += 1;
        let summary = format!("Webhook {MESSAGE_CREATED} to {}", hook.url);
        let last = newest_delivery(conn, conversation_id, &hook.id, &summary)?;
        if let Some((item, job)) = &last {
            if join_waiting(conn, item, job, &message)? {
                continue;
            }
        }
        let now = crate::domain::now();
        let due = match &last {
            Some((item, _)) => {
                let window = chrono::Duration::seconds(window_secs.min(3600) as i64);
                (item.created_at + window).max(now)
            }
            None => now,
        };
        let mut data = data.clone();
        data["message"] = message.clone();
        data["messages"] = serde_json::Value::Array(vec![message.clone()]);
        super::outbox::enqueue_at(
            conn,
            Enqueue {
                site_id: Some(site_id),
                conversation_id: Some(conversation_id),
                summary,
                job: Job::Webhook(WebhookJob {
                    webhook_id: hook.id.clone(),
                    event: MESSAGE_CREATED.to_owned(),
                    data,
                }),
            },
            due,
        )?;
    }
    Ok(queued)
}

/// The hook's newest `message.created` delivery for the conversation, with its job.
fn newest_delivery(
    conn: &mut DbConnection,
    conversation_id: &str,
    webhook_id: &str,
    summary: &str,
) -> diesel::QueryResult<Option<(OutboxItem, WebhookJob)>> {
    // Hooks with the same URL share a summary: look at a few rows and pick this hook's.
    for item in OutboxItem::newest_of_conversation(conn, conversation_id, "webhook", summary, 4)? {
        if let Ok(Job::Webhook(job)) = serde_json::from_str::<Job>(&item.payload) {
            if job.webhook_id == webhook_id && job.event == MESSAGE_CREATED {
                return Ok(Some((item, job)));
            }
        }
    }
    Ok(None)
}

/// Adds `message` to a delivery nobody has attempted yet; answers whether it did. The update
/// moves the due time by a millisecond: a worker that read the row before it can then no longer
/// claim it (its claim names the due time it read), so it never sends the old payload as if it
/// held the new message.
fn join_waiting(
    conn: &mut DbConnection,
    item: &OutboxItem,
    job: &WebhookJob,
    message: &serde_json::Value,
) -> diesel::QueryResult<bool> {
    if item.status != "pending" || item.attempts != 0 {
        return Ok(false);
    }
    let mut job = job.clone();
    let Some(messages) = job.data["messages"].as_array_mut() else {
        return Ok(false);
    };
    if messages.len() >= MAX_MESSAGES_PER_DELIVERY {
        return Ok(false);
    }
    messages.push(message.clone());
    let payload = serde_json::to_string(&Job::Webhook(job))
        .map_err(|err| diesel::result::Error::SerializationError(Box::new(err)))?;
    item.replace_waiting_payload(
        conn,
        &payload,
        item.next_attempt_at + chrono::Duration::milliseconds(1),
    )
}
