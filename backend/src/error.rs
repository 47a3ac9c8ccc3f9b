//! The HTTP layer's error type, mapped to responses in one place.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::services::ServiceError;

/// An error answered to an HTTP client. Internal causes are logged and never shown.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed or invalid input (400).
    #[error("{0}")]
    BadRequest(String),
    /// Not logged in or bad credentials (401).
    #[error("authentication required")]
    Unauthorized,
    /// Logged in but not allowed, or a CSRF / origin check failed (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request's `Origin` may not use this site's widget (403).
    #[error("this origin may not use the site's widget")]
    OriginNotAllowed,
    /// Nothing here (404).
    #[error("not found")]
    NotFound,
    /// Conflicts with existing data (409).
    #[error("{0}")]
    Conflict(String),
    /// No longer available (410).
    #[error("{0}")]
    Gone(String),
    /// The body is larger than the limit in bytes (413).
    #[error("the upload is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The uploaded type is not accepted (415).
    #[error("this type of file is not accepted")]
    UnsupportedType,
    /// The guest token is not live for this site (401).
    #[error("unknown or expired guest token")]
    UnknownGuest,
    /// Temporarily unable to take the request (503).
    #[error("{0}")]
    Unavailable(String),
    /// Slow down (429), with the wait in seconds.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// Our fault (500); the cause is logged.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl ApiError {
    /// A stable machine-readable code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::OriginNotAllowed => "origin_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Gone(_) => "gone",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::UnknownGuest => "unknown_guest",
            ApiError::PayloadTooLarge(_) => "too_large",
            ApiError::UnsupportedType => "unsupported_type",
            ApiError::Unavailable(_) => "busy",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::OriginNotAllowed => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnknownGuest => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let ApiError::TooManyRequests { retry_after } = self {
            res.insert_header(("Retry-After", retry_after.to_string()));
        }
        if let ApiError::Unavailable(_) = self {
            // Every 503 is temporary (a full buffer, a database that does not answer).
            res.insert_header(("Retry-After", UNAVAILABLE_RETRY_AFTER_SECS.to_string()));
        }
        res.insert_header(("X-Content-Type-Options", "nosniff"));
        res.json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
        })
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(i) => ApiError::BadRequest(i.to_string()),
            ServiceError::Conflict(m) => ApiError::Conflict(m),
            ServiceError::Unauthorized => ApiError::Unauthorized,
            ServiceError::Forbidden(m) => ApiError::Forbidden(m),
            ServiceError::NotFound => ApiError::NotFound,
            ServiceError::Gone(m) => ApiError::Gone(m),
            ServiceError::Limited { retry_after } => ApiError::TooManyRequests { retry_after },
            ServiceError::Db(db) => db.into(),
            ServiceError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// Seconds a client is asked to wait before retrying a 503.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        if e.is_unavailable() {
            // Expected during an outage, one per request: a warning, not an internal error.
            tracing::warn!(error = %e, "database unavailable; answered 503");
            return ApiError::Unavailable(
                "the database is not answering; try again shortly".into(),
            );
        }
        ApiError::Internal(e.into())
    }
}

/// An error answered by a console page: rendered as the console's message page (status, title and
/// message), never as JSON. Internal causes are logged and never shown.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: a 303 to the login page, which returns to `next` afterwards.
    #[error("login required")]
    LoginRequired {
        /// The page to return to after logging in.
        next: String,
    },
    /// The form's CSRF token did not match, or it came from another site (403).
    #[error("form expired or sent from another site")]
    CsrfRejected,
    /// No such page, or a site the operator is not a member of (404).
    #[error("not found")]
    NotFound,
    /// A member who may not do this (403), with the sentence that says why.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A form value that could not be saved: 422 for a bad value, 409 for a conflict.
    #[error("{message}")]
    BadForm {
        /// 422 or 409 (or another 4xx a use case asked for).
        status: StatusCode,
        /// What is wrong, shown to the operator.
        message: String,
    },
    /// Our fault (500); the cause is logged.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ConsoleError {
    /// A 500 for `cause`, which is logged when the page is sent and never shown.
    pub fn internal(cause: impl std::fmt::Display) -> ConsoleError {
        ConsoleError::Internal(cause.to_string())
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            ConsoleError::CsrfRejected | ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::BadForm { status, .. } => *status,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        use crate::pages;
        let nonce = pages::nonce();
        match self {
            ConsoleError::LoginRequired { next } => pages::see_other(&format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            )),
            ConsoleError::CsrfRejected => pages::csrf_rejected(&nonce),
            ConsoleError::NotFound => pages::not_found(&nonce),
            ConsoleError::Forbidden(message) => pages::html(
                StatusCode::FORBIDDEN,
                &nonce,
                beckon_console::pages::message(&beckon_console::pages::MessageView {
                    nonce: &nonce,
                    title: "Owners and admins only",
                    message,
                }),
            ),
            ConsoleError::BadForm { status, message } => pages::bad_form(*status, &nonce, message),
            ConsoleError::Internal(cause) => pages::internal_error(&nonce, cause),
        }
    }
}

impl From<ServiceError> for ConsoleError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound => ConsoleError::NotFound,
            ServiceError::Invalid(i) => ConsoleError::BadForm {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: i.to_string(),
            },
            ServiceError::Conflict(message) => ConsoleError::BadForm {
                status: StatusCode::CONFLICT,
                message,
            },
            ServiceError::Gone(message) => ConsoleError::BadForm {
                status: StatusCode::GONE,
                message,
            },
            ServiceError::Forbidden(message) => ConsoleError::BadForm {
                status: StatusCode::FORBIDDEN,
                message,
            },
            ServiceError::Limited { .. } => ConsoleError::BadForm {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: "Too many requests. Wait a minute and try again.".into(),
            },
            // A console request always carries a session; a use case refusing it is a bug.
            other @ (ServiceError::Unauthorized
            | ServiceError::Db(_)
            | ServiceError::Internal(_)) => ConsoleError::internal(other),
        }
    }
}
