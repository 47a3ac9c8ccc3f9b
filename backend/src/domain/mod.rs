//! Parsed domain values. Once a value has one of these types it is known good; nothing downstream
//! checks it again.

mod call;
mod conversation;
mod ids;
mod operator;
mod site;
mod site_settings;

pub use call::{CallMedia, CallOutcome, CallSide, CallState};
pub use conversation::{Channel, ConversationStatus, SenderKind, UnknownValue};
pub use ids::{
    new_id, AttachmentId, CallId, ConversationId, InvitationId, MessageId, OperatorId, SiteId,
    VisitorId,
};
pub use operator::{DisplayName, Email, Handle, Password};
pub use site::{AllowedOrigins, SiteName, SiteSlug};
pub use site_settings::{SiteSettings, SiteSettingsPatch};

/// A value that failed to parse, with the field it came from and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    /// The form or API field that was wrong.
    pub field: &'static str,
    /// What is wrong with it, in words a user understands.
    pub message: String,
}

impl InvalidInput {
    /// Builds an error for `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> InvalidInput {
        InvalidInput {
            field,
            message: message.into(),
        }
    }
}

/// The current UTC time as stored in the database: microsecond precision, which both backends keep
/// exactly, so a value read back compares equal to the one written.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Trims `raw` and checks its length in characters.
fn trimmed(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String, InvalidInput> {
    let value = raw.trim();
    let len = value.chars().count();
    if len < min {
        return Err(InvalidInput::new(
            field,
            if min == 1 {
                "is required".to_owned()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if len > max {
        return Err(InvalidInput::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidInput::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}
