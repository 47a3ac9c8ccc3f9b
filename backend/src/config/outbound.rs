//! Settings of the outbound channels (email, SMS, webhooks), operator availability and delivery.
//! Flags and `BECKON_*` variables as everywhere; in `beckon.toml` they sit in a `[outbound]` table.

use std::net::SocketAddr;

use clap::Args;
use serde::Deserialize;

use super::{invalid, ConfigError};

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection (a relay on localhost or in a private network only).
    None,
    /// Plain connection upgraded with STARTTLS, required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Outbound flags and variables, all optional.
#[derive(Debug, Clone, Default, Args)]
pub struct OutboundArgs {
    /// SMTP server for outgoing mail. Without it, mail is written to `DATA_DIR/mail-outbox/` and
    /// listed in the console (nothing is dropped).
    #[arg(long, env = "BECKON_SMTP_HOST", global = true, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port. Default: 587 for starttls, 465 for tls, 25 for none.
    #[arg(long, env = "BECKON_SMTP_PORT", global = true, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    #[arg(long, env = "BECKON_SMTP_TLS", global = true, value_name = "MODE")]
    pub smtp_tls: Option<SmtpTls>,
    /// SMTP user name (with --smtp-password).
    #[arg(long, env = "BECKON_SMTP_USERNAME", global = true, value_name = "USER")]
    pub smtp_username: Option<String>,
    /// SMTP password.
    #[arg(
        long,
        env = "BECKON_SMTP_PASSWORD",
        global = true,
        value_name = "PASSWORD"
    )]
    pub smtp_password: Option<String>,
    /// Sender of Beckon's mail, e.g. `Support <help@example.com>`. Default: beckon@ the base URL's host.
    #[arg(long, env = "BECKON_MAIL_FROM", global = true, value_name = "MAILBOX")]
    pub mail_from: Option<String>,
    /// Domain of per-conversation reply addresses (`reply+TOKEN@DOMAIN`). Default: the sender's domain.
    #[arg(
        long,
        env = "BECKON_REPLY_DOMAIN",
        global = true,
        value_name = "DOMAIN"
    )]
    pub reply_domain: Option<String>,
    /// Address of Beckon's own SMTP listener for replies to its mail (e.g. 0.0.0.0:2525). Off by default.
    #[arg(
        long,
        env = "BECKON_INBOUND_SMTP_LISTEN",
        global = true,
        value_name = "ADDR"
    )]
    pub inbound_smtp_listen: Option<SocketAddr>,
    /// Shared secret of the inbound-mail webhook (`POST /api/v1/inbound/email?secret=…`). Off without it.
    #[arg(
        long,
        env = "BECKON_INBOUND_MAIL_SECRET",
        global = true,
        value_name = "SECRET"
    )]
    pub inbound_mail_secret: Option<String>,
    /// Base URL of the SMS provider's API (Twilio's message API shape). Default: https://api.twilio.com.
    #[arg(long, env = "BECKON_SMS_API_BASE", global = true, value_name = "URL")]
    pub sms_api_base: Option<String>,
    /// SMS provider account id (Twilio: Account SID). SMS is off without it.
    #[arg(long, env = "BECKON_SMS_ACCOUNT", global = true, value_name = "ID")]
    pub sms_account: Option<String>,
    /// SMS provider auth token; also the key of inbound-SMS signatures.
    #[arg(long, env = "BECKON_SMS_TOKEN", global = true, value_name = "TOKEN")]
    pub sms_token: Option<String>,
    /// The number SMS are sent from, in E.164 (+14155550100).
    #[arg(long, env = "BECKON_SMS_FROM", global = true, value_name = "NUMBER")]
    pub sms_from: Option<String>,
    /// Let webhooks reach loopback, private and link-local addresses (never by default).
    #[arg(long, env = "BECKON_WEBHOOK_ALLOW_PRIVATE", global = true)]
    pub webhook_allow_private: bool,
    /// First retry of a failed delivery after this many seconds, doubling each time. Default: 30.
    #[arg(
        long,
        env = "BECKON_DELIVERY_RETRY_SECS",
        global = true,
        value_name = "SECS"
    )]
    pub delivery_retry_secs: Option<u64>,
    /// Attempts before a delivery counts as failed. Default: 8.
    #[arg(
        long,
        env = "BECKON_DELIVERY_MAX_ATTEMPTS",
        global = true,
        value_name = "N"
    )]
    pub delivery_max_attempts: Option<i32>,
    /// One delivery attempt gives up after this many seconds. Default: 15.
    #[arg(
        long,
        env = "BECKON_DELIVERY_TIMEOUT_SECS",
        global = true,
        value_name = "SECS"
    )]
    pub delivery_timeout_secs: Option<u64>,
    /// An operator with a console open but no activity for this many minutes counts as away. Default: 10.
    #[arg(
        long,
        env = "BECKON_AWAY_AFTER_MINUTES",
        global = true,
        value_name = "MIN"
    )]
    pub away_after_minutes: Option<u64>,
    /// Offline messages one client address may leave per hour. Default: 10.
    #[arg(
        long,
        env = "BECKON_OFFLINE_MESSAGES_PER_HOUR",
        global = true,
        value_name = "N"
    )]
    pub offline_messages_per_hour: Option<u32>,
    /// Tests only: custom-domain checks connect to this address instead of the domain's own (the
    /// request still names the domain). Hidden from --help; no file key.
    #[arg(
        long,
        env = "BECKON_DOMAIN_CHECK_CONNECT_TO",
        global = true,
        hide = true,
        value_name = "ADDR"
    )]
    pub domain_check_connect_to: Option<SocketAddr>,
}

/// The `[outbound]` table of `beckon.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutbound {
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_tls: Option<SmtpTls>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    mail_from: Option<String>,
    reply_domain: Option<String>,
    inbound_smtp_listen: Option<SocketAddr>,
    inbound_mail_secret: Option<String>,
    sms_api_base: Option<String>,
    sms_account: Option<String>,
    sms_token: Option<String>,
    sms_from: Option<String>,
    webhook_allow_private: Option<bool>,
    delivery_retry_secs: Option<u64>,
    delivery_max_attempts: Option<i32>,
    delivery_timeout_secs: Option<u64>,
    away_after_minutes: Option<u64>,
    offline_messages_per_hour: Option<u32>,
}

/// Where outgoing SMTP mail goes.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// User name and password, when the server wants them.
    pub credentials: Option<(String, String)>,
}

/// The SMS provider's API.
#[derive(Clone)]
pub struct SmsSettings {
    /// API base URL without a trailing slash.
    pub api_base: String,
    /// Account id.
    pub account: String,
    /// Auth token.
    pub token: String,
    /// Sender number.
    pub from: String,
}

/// Resolved outbound settings.
#[derive(Clone)]
pub struct OutboundSettings {
    /// SMTP, or `None` for the mail outbox directory.
    pub smtp: Option<SmtpSettings>,
    /// Sender mailbox (`Name <addr>` or `addr`).
    pub mail_from: lettre::message::Mailbox,
    /// Domain of reply addresses.
    pub reply_domain: String,
    /// Beckon's own SMTP listener for replies.
    pub inbound_smtp_listen: Option<SocketAddr>,
    /// Secret of the inbound-mail webhook.
    pub inbound_mail_secret: Option<String>,
    /// SMS provider, when configured.
    pub sms: Option<SmsSettings>,
    /// Webhooks may reach private addresses.
    pub webhook_allow_private: bool,
    /// First retry delay.
    pub retry_base: std::time::Duration,
    /// Attempts before failing.
    pub max_attempts: i32,
    /// Timeout of one attempt.
    pub delivery_timeout: std::time::Duration,
    /// Inactivity after which an operator is away.
    pub away_after: std::time::Duration,
    /// Offline messages per client address per hour.
    pub offline_messages_per_hour: u32,
    /// Where custom-domain checks connect instead of the domain's address (tests only).
    pub domain_check_connect_to: Option<SocketAddr>,
}

impl std::fmt::Debug for OutboundSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundSettings")
            .field(
                "smtp",
                &self.smtp.as_ref().map(|s| (&s.host, s.port, s.tls)),
            )
            .field("mail_from", &self.mail_from.to_string())
            .field("sms", &self.sms.as_ref().map(|s| &s.api_base))
            .finish_non_exhaustive()
    }
}

impl OutboundSettings {
    /// Merges flags and the `[outbound]` table; `base_host` names the default sender's domain.
    pub fn resolve(
        args: &OutboundArgs,
        file: FileOutbound,
        base_host: &str,
    ) -> Result<OutboundSettings, ConfigError> {
        let tls = args.smtp_tls.or(file.smtp_tls).unwrap_or(SmtpTls::Starttls);
        let smtp = match args.smtp_host.clone().or(file.smtp_host) {
            Some(host) if !host.trim().is_empty() => {
                let port = args.smtp_port.or(file.smtp_port).unwrap_or(match tls {
                    SmtpTls::Starttls => 587,
                    SmtpTls::Tls => 465,
                    SmtpTls::None => 25,
                });
                let user = args.smtp_username.clone().or(file.smtp_username);
                let password = args.smtp_password.clone().or(file.smtp_password);
                let credentials = match (user, password) {
                    (Some(u), Some(p)) => Some((u, p)),
                    (None, None) => None,
                    _ => {
                        return Err(invalid(
                            "smtp-username",
                            "smtp-username and smtp-password go together",
                        ))
                    }
                };
                Some(SmtpSettings {
                    host: host.trim().to_owned(),
                    port,
                    tls,
                    credentials,
                })
            }
            _ => None,
        };
        let from_text = args
            .mail_from
            .clone()
            .or(file.mail_from)
            .unwrap_or_else(|| format!("Beckon <beckon@{base_host}>"));
        let mail_from: lettre::message::Mailbox = from_text.parse().map_err(|_| {
            invalid(
                "mail-from",
                "must be an address, or a name and an address in <>",
            )
        })?;
        let reply_domain = args
            .reply_domain
            .clone()
            .or(file.reply_domain)
            .unwrap_or_else(|| mail_from.email.domain().to_owned());
        if reply_domain.is_empty()
            || !reply_domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(invalid("reply-domain", "must be a plain domain name"));
        }
        let sms = match (
            args.sms_account.clone().or(file.sms_account),
            args.sms_token.clone().or(file.sms_token),
            args.sms_from.clone().or(file.sms_from),
        ) {
            (Some(account), Some(token), Some(from)) => {
                let api_base = args
                    .sms_api_base
                    .clone()
                    .or(file.sms_api_base)
                    .unwrap_or_else(|| "https://api.twilio.com".to_owned());
                if url::Url::parse(&api_base).is_err() {
                    return Err(invalid("sms-api-base", "must be a URL"));
                }
                Some(SmsSettings {
                    api_base: api_base.trim_end_matches('/').to_owned(),
                    account,
                    token,
                    from,
                })
            }
            (None, None, None) => None,
            _ => {
                return Err(invalid(
                    "sms-account",
                    "sms-account, sms-token and sms-from go together",
                ))
            }
        };
        let secs = |setting, v: u64, max: u64| {
            if (1..=max).contains(&v) {
                Ok(std::time::Duration::from_secs(v))
            } else {
                Err(invalid(setting, format!("must be between 1 and {max}")))
            }
        };
        let max_attempts = args
            .delivery_max_attempts
            .or(file.delivery_max_attempts)
            .unwrap_or(8);
        if !(1..=100).contains(&max_attempts) {
            return Err(invalid(
                "delivery-max-attempts",
                "must be between 1 and 100",
            ));
        }
        let offline_messages_per_hour = args
            .offline_messages_per_hour
            .or(file.offline_messages_per_hour)
            .unwrap_or(10);
        if offline_messages_per_hour == 0 {
            return Err(invalid("offline-messages-per-hour", "must be at least 1"));
        }
        Ok(OutboundSettings {
            smtp,
            mail_from,
            reply_domain,
            inbound_smtp_listen: args.inbound_smtp_listen.or(file.inbound_smtp_listen),
            inbound_mail_secret: args
                .inbound_mail_secret
                .clone()
                .or(file.inbound_mail_secret)
                .filter(|s| !s.is_empty()),
            sms,
            webhook_allow_private: args.webhook_allow_private
                || file.webhook_allow_private.unwrap_or(false),
            domain_check_connect_to: args.domain_check_connect_to,
            retry_base: secs(
                "delivery-retry-secs",
                args.delivery_retry_secs
                    .or(file.delivery_retry_secs)
                    .unwrap_or(30),
                3600,
            )?,
            max_attempts,
            delivery_timeout: secs(
                "delivery-timeout-secs",
                args.delivery_timeout_secs
                    .or(file.delivery_timeout_secs)
                    .unwrap_or(15),
                600,
            )?,
            away_after: secs(
                "away-after-minutes",
                args.away_after_minutes
                    .or(file.away_after_minutes)
                    .unwrap_or(10)
                    .saturating_mul(60),
                60 * 24 * 60,
            )?,
            offline_messages_per_hour,
        })
    }
}
