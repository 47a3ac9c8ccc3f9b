//! Queueing and bookkeeping of deliveries. The worker claims due rows with a lease, so a node that dies
//! mid-delivery leaves a claim that lapses and another attempt happens (at-least-once delivery;
//! receivers dedupe by the ids we send).

use chrono::NaiveDateTime;

use super::{Delivered, DeliveryError, Job};
use crate::db::models::OutboxItem;
use crate::db::DbConnection;
use crate::domain;

/// What to queue.
pub struct Enqueue<'a> {
    /// The site it belongs to (shown in that site's console).
    pub site_id: Option<&'a str>,
    /// The conversation it is about.
    pub conversation_id: Option<&'a str>,
    /// One line for people.
    pub summary: String,
    /// The job.
    pub job: Job,
}

/// Queues a delivery, due now. Call inside the transaction of the change that causes it.
pub fn enqueue(conn: &mut DbConnection, e: Enqueue<'_>) -> diesel::QueryResult<String> {
    enqueue_at(conn, e, domain::now())
}

/// Queues a delivery due at `due` (a coalesced one waits for its window).
pub fn enqueue_at(
    conn: &mut DbConnection,
    e: Enqueue<'_>,
    due: NaiveDateTime,
) -> diesel::QueryResult<String> {
    let now = domain::now();
    let payload = serde_json::to_string(&e.job)
        .map_err(|err| diesel::result::Error::SerializationError(Box::new(err)))?;
    let item = OutboxItem {
        id: domain::new_id(),
        site_id: e.site_id.map(str::to_owned),
        channel: e.job.channel().to_owned(),
        payload,
        status: "pending".to_owned(),
        attempts: 0,
        next_attempt_at: due,
        last_error: None,
        created_at: now,
        sent_at: None,
        summary: super::one_line(&e.summary).chars().take(300).collect(),
        conversation_id: e.conversation_id.map(str::to_owned),
    };
    item.insert(conn)?;
    Ok(item.id)
}

/// Retry policy: the first retry after `base`, doubling, at most a day apart; after `max_attempts`
/// the item is failed.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay.
    pub base: std::time::Duration,
    /// Attempts before giving up.
    pub max_attempts: i32,
}

impl Backoff {
    /// The delay after the `attempts`-th failed attempt (1-based).
    pub fn delay(&self, attempts: i32) -> chrono::Duration {
        let factor = 1u32 << (attempts.clamp(1, 20) - 1) as u32;
        let secs = self
            .base
            .as_secs()
            .saturating_mul(u64::from(factor))
            .min(86_400);
        chrono::Duration::seconds(secs as i64)
    }
}

/// Claims up to `limit` due items until `lease_until`.
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> diesel::QueryResult<Vec<OutboxItem>> {
    crate::db::write_transaction(conn, |conn| {
        let mut claimed = Vec::new();
        for item in OutboxItem::due(conn, now, limit)? {
            if item.claim(conn, lease_until)? {
                claimed.push(item);
            }
        }
        Ok(claimed)
    })
}

/// Records how an attempt on `item` ended.
pub fn finish(
    conn: &mut DbConnection,
    item: &OutboxItem,
    outcome: &Result<Delivered, DeliveryError>,
    backoff: Backoff,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let attempts = item.attempts + 1;
    match outcome {
        Ok(how) => {
            let status = match how {
                Delivered::Sent => "sent",
                Delivered::Spooled => "spooled",
            };
            OutboxItem::record(conn, &item.id, status, attempts, now, None, Some(now))
        }
        Err(e) => {
            let permanent = matches!(e, DeliveryError::Permanent(_));
            let message: String = e.to_string().chars().take(500).collect();
            if permanent || attempts >= backoff.max_attempts {
                OutboxItem::record(
                    conn,
                    &item.id,
                    "failed",
                    attempts,
                    now,
                    Some(&message),
                    None,
                )
            } else {
                let next = now + backoff.delay(attempts);
                OutboxItem::record(
                    conn,
                    &item.id,
                    "pending",
                    attempts,
                    next,
                    Some(&message),
                    None,
                )
            }
        }
    }
}

/// The job of an item; a payload that no longer parses is reported as a permanent failure.
pub fn job_of(item: &OutboxItem) -> Result<Job, DeliveryError> {
    serde_json::from_str(&item.payload)
        .map_err(|e| DeliveryError::Permanent(format!("unreadable payload: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Backoff {
            base: std::time::Duration::from_secs(30),
            max_attempts: 8,
        };
        assert_eq!(b.delay(1).num_seconds(), 30);
        assert_eq!(b.delay(2).num_seconds(), 60);
        assert_eq!(b.delay(4).num_seconds(), 240);
        assert_eq!(b.delay(40).num_seconds(), 86_400);
    }
}
