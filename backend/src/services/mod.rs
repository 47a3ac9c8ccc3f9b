//! Use cases: the domain logic that HTTP handlers, the WebSocket session and the CLI all call.
//! Services take parsed domain values, own their transactions and know nothing about actix.

pub mod accounts;
pub mod attachments;
pub mod auth;
pub mod availability;
pub mod calls;
pub mod canned;
pub mod chat;
pub mod cluster;
pub mod conversations;
pub mod deliveries;
pub mod domains;
pub mod first_steps;
pub mod history;
pub mod identity;
pub mod inbound_mail;
pub mod invitations;
pub mod notify;
pub mod offline;
pub mod offline_settings;
pub mod pageviews;
pub mod refused_origins;
pub mod setup;
pub mod sites;
pub mod sms_inbound;
pub mod visitors;
pub mod webhooks;

use crate::db::DbError;
use crate::domain::InvalidInput;

/// Why a use case could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input failed to parse.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The request conflicts with existing data (a taken email, handle or slug).
    #[error("{0}")]
    Conflict(String),
    /// Credentials or a token were not accepted.
    #[error("not authorised")]
    Unauthorized,
    /// The caller is known but may not do this (a site setting forbids it).
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist (or is not the caller's to see).
    #[error("not found")]
    NotFound,
    /// The thing existed but is no longer usable (an expired or used link).
    #[error("{0}")]
    Gone(String),
    /// Over a limit; retry after this many seconds.
    #[error("too many requests")]
    Limited {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Anything else that is our fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::Db(DbError::Query(e))
    }
}

/// Runs a use case on the blocking pool, folding storage failures into [`ServiceError`].
pub async fn run<T, F>(db: &crate::db::Db, work: F) -> Result<T, ServiceError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConnection) -> Result<T, ServiceError> + Send + 'static,
{
    db.run(move |conn| Ok(work(conn))).await?
}
