//! Flood limits of the chat: how fast guests and operators may send messages, upload files, send
//! typing events and answer invitations, and how a flood's outbound jobs are coalesced. Flags and
//! `BECKON_*` variables as everywhere; in `beckon.toml` they sit in a `[floods]` table.

use clap::Args;
use serde::Deserialize;

use super::{invalid, ConfigError};

/// Flood-limit flags and variables, all optional.
#[derive(Debug, Clone, Default, Args)]
pub struct FloodArgs {
    /// Messages a guest may send at once in one conversation before the sustained rate applies.
    /// Default: 10.
    #[arg(
        long,
        env = "BECKON_GUEST_MESSAGE_BURST",
        global = true,
        value_name = "N"
    )]
    pub guest_message_burst: Option<u32>,
    /// Sustained messages per minute of a guest in one conversation. Default: 30.
    #[arg(
        long,
        env = "BECKON_GUEST_MESSAGES_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub guest_messages_per_minute: Option<u32>,
    /// Messages an operator may send at once in one conversation. Default: 60.
    #[arg(
        long,
        env = "BECKON_OPERATOR_MESSAGE_BURST",
        global = true,
        value_name = "N"
    )]
    pub operator_message_burst: Option<u32>,
    /// Sustained messages per minute of an operator in one conversation. Default: 600.
    #[arg(
        long,
        env = "BECKON_OPERATOR_MESSAGES_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub operator_messages_per_minute: Option<u32>,
    /// Uploads per guest per minute (all of them may come at once). Default: 10.
    #[arg(
        long,
        env = "BECKON_GUEST_UPLOADS_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub guest_uploads_per_minute: Option<u32>,
    /// Guest uploads per conversation per hour. Default: 60.
    #[arg(
        long,
        env = "BECKON_CONVERSATION_UPLOADS_PER_HOUR",
        global = true,
        value_name = "N"
    )]
    pub conversation_uploads_per_hour: Option<u32>,
    /// Uploads per operator per minute. Default: 60.
    #[arg(
        long,
        env = "BECKON_OPERATOR_UPLOADS_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub operator_uploads_per_minute: Option<u32>,
    /// Typing events per guest per minute. Default: 60.
    #[arg(
        long,
        env = "BECKON_GUEST_TYPING_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub guest_typing_per_minute: Option<u32>,
    /// Typing events per operator per minute (all their conversations together). Default: 600.
    #[arg(
        long,
        env = "BECKON_OPERATOR_TYPING_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub operator_typing_per_minute: Option<u32>,
    /// Other chat requests (start_chat, resume, read) per guest per minute. Default: 120.
    #[arg(
        long,
        env = "BECKON_GUEST_EVENTS_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub guest_events_per_minute: Option<u32>,
    /// Invitation answers per guest per minute. Default: 20.
    #[arg(
        long,
        env = "BECKON_INVITE_ANSWERS_PER_MINUTE",
        global = true,
        value_name = "N"
    )]
    pub invite_answers_per_minute: Option<u32>,
    /// `message.created` webhooks of one conversation are coalesced into one delivery per hook per
    /// this many seconds (the first message of a quiet conversation still leaves at once). 0 only
    /// merges what is still waiting. Default: 5.
    #[arg(
        long,
        env = "BECKON_WEBHOOK_COALESCE_SECS",
        global = true,
        value_name = "SECS"
    )]
    pub webhook_coalesce_secs: Option<u64>,
    /// Emails and SMS queued about one conversation per hour (operators' replies to guests reached
    /// by email or SMS); beyond it replies stay in the conversation only. Default: 60.
    #[arg(
        long,
        env = "BECKON_CONVERSATION_NOTIFICATIONS_PER_HOUR",
        global = true,
        value_name = "N"
    )]
    pub conversation_notifications_per_hour: Option<u32>,
}

/// The `[floods]` table of `beckon.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileFloods {
    guest_message_burst: Option<u32>,
    guest_messages_per_minute: Option<u32>,
    operator_message_burst: Option<u32>,
    operator_messages_per_minute: Option<u32>,
    guest_uploads_per_minute: Option<u32>,
    conversation_uploads_per_hour: Option<u32>,
    operator_uploads_per_minute: Option<u32>,
    guest_typing_per_minute: Option<u32>,
    operator_typing_per_minute: Option<u32>,
    guest_events_per_minute: Option<u32>,
    invite_answers_per_minute: Option<u32>,
    webhook_coalesce_secs: Option<u64>,
    conversation_notifications_per_hour: Option<u32>,
}

/// Resolved flood limits.
#[derive(Debug, Clone, Copy)]
pub struct FloodSettings {
    /// Guest messages at once, per conversation.
    pub guest_message_burst: u32,
    /// Guest messages per minute, per conversation.
    pub guest_messages_per_minute: u32,
    /// Operator messages at once, per conversation.
    pub operator_message_burst: u32,
    /// Operator messages per minute, per conversation.
    pub operator_messages_per_minute: u32,
    /// Uploads per guest per minute.
    pub guest_uploads_per_minute: u32,
    /// Guest uploads per conversation per hour.
    pub conversation_uploads_per_hour: u32,
    /// Uploads per operator per minute.
    pub operator_uploads_per_minute: u32,
    /// Typing events per guest per minute.
    pub guest_typing_per_minute: u32,
    /// Typing events per operator per minute.
    pub operator_typing_per_minute: u32,
    /// start_chat, resume and read per guest per minute.
    pub guest_events_per_minute: u32,
    /// Invitation answers per guest per minute.
    pub invite_answers_per_minute: u32,
    /// The outbound pacing of a conversation's notifications.
    pub pacing: Pacing,
}

/// How a conversation's outbound jobs are paced, handed to the services that queue them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// One `message.created` delivery per hook and conversation per this many seconds.
    pub webhook_window_secs: u64,
    /// Emails and SMS about one conversation per hour.
    pub notifications_per_hour: u32,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            webhook_window_secs: 5,
            notifications_per_hour: 60,
        }
    }
}

impl FloodSettings {
    /// Merges flags and the `[floods]` table with the defaults.
    pub fn resolve(args: &FloodArgs, file: FileFloods) -> Result<FloodSettings, ConfigError> {
        let count = |setting: &'static str, arg: Option<u32>, from_file: Option<u32>, default| {
            let v = arg.or(from_file).unwrap_or(default);
            if (1..=1_000_000).contains(&v) {
                Ok(v)
            } else {
                Err(invalid(setting, "must be between 1 and 1000000"))
            }
        };
        let webhook_window_secs = args
            .webhook_coalesce_secs
            .or(file.webhook_coalesce_secs)
            .unwrap_or(5);
        if webhook_window_secs > 3600 {
            return Err(invalid(
                "webhook-coalesce-secs",
                "must be between 0 and 3600",
            ));
        }
        Ok(FloodSettings {
            guest_message_burst: count(
                "guest-message-burst",
                args.guest_message_burst,
                file.guest_message_burst,
                10,
            )?,
            guest_messages_per_minute: count(
                "guest-messages-per-minute",
                args.guest_messages_per_minute,
                file.guest_messages_per_minute,
                30,
            )?,
            operator_message_burst: count(
                "operator-message-burst",
                args.operator_message_burst,
                file.operator_message_burst,
                60,
            )?,
            operator_messages_per_minute: count(
                "operator-messages-per-minute",
                args.operator_messages_per_minute,
                file.operator_messages_per_minute,
                600,
            )?,
            guest_uploads_per_minute: count(
                "guest-uploads-per-minute",
                args.guest_uploads_per_minute,
                file.guest_uploads_per_minute,
                10,
            )?,
            conversation_uploads_per_hour: count(
                "conversation-uploads-per-hour",
                args.conversation_uploads_per_hour,
                file.conversation_uploads_per_hour,
                60,
            )?,
            operator_uploads_per_minute: count(
                "operator-uploads-per-minute",
                args.operator_uploads_per_minute,
                file.operator_uploads_per_minute,
                60,
            )?,
            guest_typing_per_minute: count(
                "guest-typing-per-minute",
                args.guest_typing_per_minute,
                file.guest_typing_per_minute,
                60,
            )?,
            operator_typing_per_minute: count(
                "operator-typing-per-minute",
                args.operator_typing_per_minute,
                file.operator_typing_per_minute,
                600,
            )?,
            guest_events_per_minute: count(
                "guest-events-per-minute",
                args.guest_events_per_minute,
                file.guest_events_per_minute,
                120,
            )?,
            invite_answers_per_minute: count(
                "invite-answers-per-minute",
                args.invite_answers_per_minute,
                file.invite_answers_per_minute,
                20,
            )?,
            pacing: Pacing {
                webhook_window_secs,
                notifications_per_hour: count(
                    "conversation-notifications-per-hour",
                    args.conversation_notifications_per_hour,
                    file.conversation_notifications_per_hour,
                    60,
                )?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_generous_for_operators() {
        let s = FloodSettings::resolve(&FloodArgs::default(), FileFloods::default()).unwrap();
        assert!(s.operator_message_burst > s.guest_message_burst);
        assert!(s.operator_messages_per_minute > s.guest_messages_per_minute);
        assert_eq!(s.pacing, Pacing::default());
    }

    #[test]
    fn zero_limits_are_refused_by_name() {
        let args = FloodArgs {
            guest_message_burst: Some(0),
            ..Default::default()
        };
        let err = FloodSettings::resolve(&args, FileFloods::default()).unwrap_err();
        assert_eq!(err.setting, "guest-message-burst");
        let args = FloodArgs {
            webhook_coalesce_secs: Some(4000),
            ..Default::default()
        };
        let err = FloodSettings::resolve(&args, FileFloods::default()).unwrap_err();
        assert_eq!(err.setting, "webhook-coalesce-secs");
    }
}
