//! Email: building messages with lettre and handing them to SMTP, or, with no SMTP configured, to
//! the mail outbox directory (`DATA_DIR/mail-outbox/*.eml`), which the console lists.

use std::path::{Path, PathBuf};

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::{one_line, Delivered, DeliveryError};
use crate::config::{OutboundSettings, SmtpTls};

/// One email, rendered when queued (later template edits do not change queued mail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailJob {
    /// Recipient address.
    pub to: String,
    /// Recipient name.
    pub to_name: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body. The HTML part is made from it, escaped.
    pub text: String,
    /// The conversation's reply token: replies go to `reply+TOKEN@REPLY_DOMAIN`.
    pub reply_token: Option<String>,
    /// The conversation, for the `References` header that threads every mail of it together.
    pub thread: Option<String>,
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// An SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// The mail outbox directory.
    Spool(PathBuf),
}

/// The mail outbox directory inside the data directory.
pub fn spool_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("mail-outbox")
}

impl Mailer {
    /// The mailer the settings ask for.
    pub fn from_settings(
        settings: &OutboundSettings,
        data_dir: &Path,
    ) -> Result<Mailer, lettre::transport::smtp::Error> {
        let Some(smtp) = &settings.smtp else {
            return Ok(Mailer::Spool(spool_dir(data_dir)));
        };
        let builder = match smtp.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
        };
        let mut builder = builder
            .port(smtp.port)
            .timeout(Some(settings.delivery_timeout));
        if let Some((user, password)) = &smtp.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer::Smtp(builder.build()))
    }

    /// Delivers one message; `id` names the spool file.
    pub async fn deliver(&self, id: &str, message: &Message) -> Result<Delivered, DeliveryError> {
        match self {
            Mailer::Smtp(transport) => match transport.send(message.clone()).await {
                Ok(_) => Ok(Delivered::Sent),
                Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(format!("SMTP: {e}"))),
                Err(e) => Err(DeliveryError::Retry(format!("SMTP: {e}"))),
            },
            Mailer::Spool(dir) => {
                write_spool(dir, id, &message.formatted())
                    .await
                    .map_err(|e| DeliveryError::Retry(format!("mail outbox: {e}")))?;
                Ok(Delivered::Spooled)
            }
        }
    }
}

/// Writes a spool file atomically (temporary file, sync, rename), so a crash leaves either nothing
/// or the whole message.
async fn write_spool(dir: &Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    tokio::fs::create_dir_all(dir).await?;
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = tokio::fs::File::create(&tmp).await?;
    file.write_all(bytes).await?;
    file.sync_all().await?;
    tokio::fs::rename(&tmp, dir.join(format!("{name}.eml"))).await
}

/// Builds the message of a job. Names and subjects are made single-line first, and addresses must
/// parse, so nothing a visitor typed can add a header.
pub fn build(
    job: &EmailJob,
    settings: &OutboundSettings,
    message_id: &str,
) -> Result<Message, DeliveryError> {
    let to_address = job
        .to
        .trim()
        .parse()
        .map_err(|_| DeliveryError::Permanent(format!("not an email address: {:?}", job.to)))?;
    let to = Mailbox::new(
        job.to_name
            .as_deref()
            .map(one_line)
            .filter(|n| !n.is_empty()),
        to_address,
    );
    let domain = &settings.reply_domain;
    let mut builder = Message::builder()
        .from(settings.mail_from.clone())
        .to(to)
        .subject(one_line(&job.subject))
        .message_id(Some(format!("<{message_id}@{domain}>")));
    if let Some(token) = &job.reply_token {
        let reply: lettre::Address = format!("reply+{token}@{domain}")
            .parse()
            .map_err(|_| DeliveryError::Permanent("bad reply address".into()))?;
        builder = builder.reply_to(Mailbox::new(None, reply));
    }
    if let Some(thread) = &job.thread {
        let root = format!("<conversation-{thread}@{domain}>");
        builder = builder.in_reply_to(root.clone()).references(root);
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(job.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(text_to_html(&job.text)),
                ),
        )
        .map_err(|e| DeliveryError::Permanent(format!("cannot build message: {e}")))
}

/// The HTML part: the whole text escaped, line breaks kept. Owners' templates are text, so no
/// visitor string can ever become markup in a mail client.
pub fn text_to_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 128);
    html.push_str(
        "<!doctype html><html><body><div style=\"font-family:sans-serif;white-space:pre-wrap\">",
    );
    for ch in text.chars() {
        match ch {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            '\n' => html.push_str("<br>\n"),
            '\r' => {}
            c => html.push(c),
        }
    }
    html.push_str("</div></body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OutboundSettings {
        let args = crate::config::SettingsArgs::default();
        crate::config::Settings::resolve(&args, None)
            .expect("defaults resolve")
            .outbound
    }

    fn job() -> EmailJob {
        EmailJob {
            to: "guest@example.com".into(),
            to_name: Some("Eve\r\nBcc: victim@example.com".into()),
            subject: "Hello\r\nX-Injected: yes".into(),
            text: "<script>alert(1)</script>\n{{7*7}}".into(),
            reply_token: Some("abc123".into()),
            thread: Some("conv1".into()),
        }
    }

    #[test]
    fn header_injection_is_impossible_and_html_is_escaped() {
        let message = build(&job(), &settings(), "m1").expect("builds");
        let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
        assert!(!raw.contains("\r\nX-Injected:"), "{raw}");
        assert!(raw.contains("reply+abc123@localhost"), "{raw}");
        assert!(raw.contains("&lt;script&gt;"), "{raw}");
        assert!(!raw.contains("<script>alert(1)</script><br>"), "{raw}");
    }

    #[test]
    fn a_bad_address_is_a_permanent_failure() {
        let mut j = job();
        j.to = "victim@example.com\r\nBcc: x@y.z".into();
        assert!(matches!(
            build(&j, &settings(), "m1"),
            Err(DeliveryError::Permanent(_))
        ));
    }
}
