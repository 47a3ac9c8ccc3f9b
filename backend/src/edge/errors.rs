//! A failed use case as the socket tells it: an `error` event with a stable code. Internal causes
//! are logged, never shown.

use crate::realtime::ServerEvent;
use crate::services::ServiceError;

/// The `error` event for a failed chat request (`client_msg_id` for a `send`).
pub fn chat_error(e: &ServiceError, client_msg_id: Option<&str>) -> String {
    match describe(e) {
        Described::Limited(retry_after) => {
            limited("too many messages; slow down", retry_after, client_msg_id)
        }
        Described::Failed(code, message) => {
            ServerEvent::chat_error(code, &message, client_msg_id).to_json()
        }
    }
}

/// The `error` event for a failed `call` or `call_signal` (`call_id` null for a `start`).
pub fn call_error(e: &ServiceError, call_id: Option<&str>) -> String {
    let (code, message, retry_after) = match describe(e) {
        Described::Limited(retry_after) => (
            "rate_limited",
            "too many call messages; slow down".to_owned(),
            Some(retry_after),
        ),
        Described::Failed(code, message) => (code, message, None),
    };
    ServerEvent::Error {
        code,
        message: &message,
        retry_after,
        client_msg_id: None,
        call_id: Some(call_id),
    }
    .to_json()
}

/// What a failed request is answered with.
enum Described {
    Limited(u64),
    Failed(&'static str, String),
}

fn describe(e: &ServiceError) -> Described {
    let (code, message) = match e {
        ServiceError::Invalid(i) => ("bad_request", i.to_string()),
        ServiceError::NotFound | ServiceError::Unauthorized => {
            ("not_found", "no such conversation".to_owned())
        }
        ServiceError::Gone(m) => ("closed", m.clone()),
        ServiceError::Conflict(m) => ("conflict", m.clone()),
        ServiceError::Forbidden(m) => ("forbidden", m.clone()),
        ServiceError::Limited { retry_after } => return Described::Limited(*retry_after),
        ServiceError::Db(db) if db.is_unavailable() => {
            tracing::warn!(error = %e, "chat request failed: database unavailable");
            (
                "unavailable",
                "the server cannot store that right now; send it again shortly".to_owned(),
            )
        }
        ServiceError::Db(_) | ServiceError::Internal(_) => {
            tracing::error!(error = %e, "chat request failed");
            (
                "internal",
                "the server could not do that; try again".to_owned(),
            )
        }
    };
    Described::Failed(code, message)
}

/// A `rate_limited` error event with the seconds to wait (`retry_after`).
pub fn limited(message: &str, retry_after: u64, client_msg_id: Option<&str>) -> String {
    ServerEvent::limited(message, retry_after, client_msg_id).to_json()
}

/// A console `error` event outside the chat (no `client_msg_id`).
pub fn console_error(code: &str, message: &str) -> String {
    ServerEvent::console_error(code, message).to_json()
}
