//! Replies by email: a guest answers one of our mails, the reply reaches Beckon (its own SMTP
//! listener, or a provider's inbound-mail webhook), and the text, without the quoted history, joins
//! the conversation named by the `reply+TOKEN@` address.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::chat::{self, ClientMsgId, MessageBody, MessageKind, Party, Posted};
use super::ServiceError;
use crate::db::models::Conversation;
use crate::db::schema::conversations;
use crate::db::DbConnection;
use crate::domain::InvalidInput;

/// A received mail, reduced to what threading needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundMail {
    /// Envelope or header recipients.
    pub recipients: Vec<String>,
    /// Sender address.
    pub from: String,
    /// The text part (quoted history still in it, unless the provider stripped it).
    pub text: String,
    /// `Message-ID`, for idempotency.
    pub message_id: Option<String>,
}

/// Reads a raw RFC 5322 message (as the SMTP listener receives it).
pub fn parse_raw(raw: &[u8], envelope_to: &[String]) -> Option<InboundMail> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    let mut recipients: Vec<String> = envelope_to.to_vec();
    for list in [message.to(), message.cc()].into_iter().flatten() {
        for addr in list.iter() {
            if let Some(a) = addr.address() {
                recipients.push(a.to_owned());
            }
        }
    }
    let from = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_owned();
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    Some(InboundMail {
        recipients,
        from,
        text,
        message_id: message.message_id().map(str::to_owned),
    })
}

/// The reply token of a recipient like `reply+TOKEN@DOMAIN` (`Name <…>` forms too).
pub fn token_of(recipient: &str, reply_domain: &str) -> Option<String> {
    let addr = match (recipient.rfind('<'), recipient.rfind('>')) {
        (Some(a), Some(b)) if a < b => &recipient[a + 1..b],
        _ => recipient,
    };
    let (local, domain) = addr.trim().rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(reply_domain) {
        return None;
    }
    let token = local.strip_prefix("reply+")?;
    (!token.is_empty() && token.len() <= 64 && token.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| token.to_ascii_lowercase())
}

/// The new text of a reply: everything above the quoted history ("On … wrote:", "> …", an
/// "Original Message" separator, a forwarded header block) and above the signature separator.
pub fn strip_quoted(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        let wrote = |l: &str| {
            (l.starts_with("On ") && l.ends_with("wrote:"))
                || (l.starts_with("Am ") && l.contains(" schrieb") && l.ends_with(':'))
                || (l.starts_with("Le ") && l.ends_with("a écrit :"))
        };
        if t.starts_with('>')
            || wrote(t)
            // Some clients wrap "On … <addr>\nwrote:" over two lines.
            || (t.starts_with("On ") && next == "wrote:")
            || t.starts_with("-----Original Message-----")
            || t.starts_with("________________________________")
            || (t.starts_with("From:") && i > 0 && lines[i - 1].trim().is_empty())
            || t == "--"
            || t == "-- "
        {
            break;
        }
        kept.push(line);
    }
    kept.join("\n").trim().to_owned()
}

/// Why a reply was not added.
#[derive(Debug, thiserror::Error)]
pub enum NotThreaded {
    /// No recipient is one of our reply addresses.
    #[error("no reply address of this server among the recipients")]
    NoToken,
    /// The token names no conversation.
    #[error("unknown reply address")]
    UnknownToken,
    /// Nothing new in the mail once the quoted history is removed.
    #[error("the reply is empty")]
    Empty,
    /// Storage or another failure.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<diesel::result::Error> for NotThreaded {
    fn from(e: diesel::result::Error) -> Self {
        NotThreaded::Service(e.into())
    }
}

/// Adds the reply to its conversation (reopening it when closed). The same `Message-ID` twice
/// stores one message.
pub fn thread_reply(
    conn: &mut DbConnection,
    mail: &InboundMail,
    reply_domain: &str,
    pacing: crate::config::Pacing,
) -> Result<(Conversation, Posted), NotThreaded> {
    let token = mail
        .recipients
        .iter()
        .find_map(|r| token_of(r, reply_domain))
        .ok_or(NotThreaded::NoToken)?;
    let conversation: Conversation = conversations::table
        .filter(conversations::reply_token.eq(&token))
        .select(Conversation::as_select())
        .first(conn)
        .optional()?
        .ok_or(NotThreaded::UnknownToken)?;
    let visitor_id = conversation
        .visitor_id
        .clone()
        .ok_or(NotThreaded::UnknownToken)?;
    let text = strip_quoted(&mail.text);
    if text.is_empty() {
        return Err(NotThreaded::Empty);
    }
    let body: String = text.chars().take(chat::MAX_BODY_CHARS).collect();
    let body = MessageBody::parse(&body).map_err(|_| NotThreaded::Empty)?;
    let key = mail
        .message_id
        .clone()
        .unwrap_or_else(|| format!("{}\n{}", mail.from, mail.text));
    let client_msg_id = ClientMsgId::parse(&format!(
        "mail-{}",
        &hex::encode(Sha256::digest(key.as_bytes()))[..40]
    ))
    .map_err(|e: InvalidInput| NotThreaded::Service(e.into()))?;
    if conversation.status == "closed" {
        diesel::update(conversations::table.find(&conversation.id))
            .set((
                conversations::status.eq("waiting"),
                conversations::closed_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)?;
    }
    let posted = chat::post(
        conn,
        &conversation.id,
        &Party::Guest {
            visitor_id: visitor_id.into(),
        },
        &client_msg_id,
        &body,
        MessageKind::Text,
        pacing,
    )?;
    let conversation = Conversation::find(conn, &conversation.id)?.unwrap_or(conversation);
    Ok((conversation, posted))
}

/// Threads a mailed reply (from the provider webhook or the SMTP listener) and tells the
/// conversation's people. Replies to one reply address count against the guest message limit like
/// chat messages: over it the answer is `Limited`, which the callers answer as temporary (429 for
/// a provider, 451 over SMTP), so the sender's mail system tries again later and nothing is lost.
pub async fn accept(state: &crate::state::AppState, mail: InboundMail) -> Result<(), NotThreaded> {
    let domain = state.settings.outbound.reply_domain.clone();
    if let Some(token) = mail.recipients.iter().find_map(|r| token_of(r, &domain)) {
        let key = crate::limits::conversation_key("mail", &token);
        if let Err(wait) = state.chat_limits.guest_messages.check(&key) {
            return Err(NotThreaded::Service(ServiceError::Limited {
                retry_after: crate::limits::retry_after_secs(wait),
            }));
        }
    }
    let pacing = state.settings.floods.pacing;
    let threaded = state
        .db
        .run(move |conn| Ok(thread_reply(conn, &mail, &domain, pacing)))
        .await
        .map_err(|e| NotThreaded::Service(e.into()))
        .and_then(|threaded| threaded);
    let (conversation, posted) = threaded?;
    if !posted.duplicate {
        let c = conversation.clone();
        let m = posted.message.clone();
        // The reply is stored: a failure to read the names it shows only costs the live update.
        let shown = super::run(&state.db, move |conn| {
            let name = super::conversations::sender_name(conn, &c, &m)?;
            let view = super::conversations::conversation_view(conn, &c)?;
            Ok((name, view))
        })
        .await;
        match shown {
            Ok((name, view)) => {
                super::conversations::publish_message(state, &posted.message, &name);
                super::conversations::publish_conversation(state, &conversation, &view);
            }
            Err(e) => tracing::warn!(error = %e, "mailed reply stored but not announced"),
        }
        state.outbound.wake();
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_our_reply_addresses_only() {
        assert_eq!(
            token_of("Shop <reply+ab12@mail.example.com>", "mail.example.com"),
            Some("ab12".into())
        );
        assert_eq!(
            token_of("reply+ab12@evil.example", "mail.example.com"),
            None
        );
        assert_eq!(token_of("help@mail.example.com", "mail.example.com"), None);
        assert_eq!(
            token_of("reply+a/b@mail.example.com", "mail.example.com"),
            None
        );
    }

    #[test]
    fn quoted_history_is_stripped() {
        let text = "Thanks, that helps!\nSee you.\n\nOn Mon, 23 Nov 2026 at 10:00, Shop <reply+x@y.z> wrote:\n> Earlier text\n> more";
        assert_eq!(strip_quoted(text), "Thanks, that helps!\nSee you.");
        assert_eq!(strip_quoted("Yes\n-- \nAda\nCEO"), "Yes");
        assert_eq!(strip_quoted("Ja\n\nAm 23.11.2026 schrieb Shop:\n> x"), "Ja");
        assert_eq!(strip_quoted("> only quote"), "");
    }

    #[test]
    fn raw_messages_are_read() {
        let raw = b"From: Ada <ada@example.com>\r\nTo: reply+tok1@localhost\r\nSubject: Re: hi\r\nMessage-ID: <m1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNew text\r\n\r\nOn Mon, Shop wrote:\r\n> old\r\n";
        let mail = parse_raw(raw, &[]).expect("parses");
        assert_eq!(mail.from, "ada@example.com");
        assert!(mail.recipients.contains(&"reply+tok1@localhost".to_owned()));
        assert_eq!(mail.message_id.as_deref(), Some("m1@example.com"));
        assert_eq!(strip_quoted(&mail.text), "New text");
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::{parse_raw, strip_quoted, token_of};

    /// A mail that is mostly well formed, with arbitrary pieces where a sender controls them.
    fn mail() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<String>(),
            any::<String>(),
            any::<String>(),
            "(text/plain|text/html|multipart/alternative; boundary=\"b\")",
            "(7bit|quoted-printable|base64|8bit)",
        )
            .prop_map(|(to, subject, body, ct, cte)| {
                format!(
                    "From: a@b.example\r\nTo: {to}\r\nSubject: {subject}\r\n\
                     Content-Type: {ct}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n\
                     --b\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--b--\r\n"
                )
                .into_bytes()
            })
    }

    proptest! {
        /// The mail parser and the helpers after it take anything a sender can send.
        #[test]
        fn inbound_mail_parses_any_bytes_without_panicking(
            raw in prop::collection::vec(any::<u8>(), 0..2000),
            shaped in mail(),
            envelope in prop::collection::vec(any::<String>(), 0..3),
            domain in "\\PC{0,20}",
        ) {
            for raw in [&raw, &shaped] {
                if let Some(mail) = parse_raw(raw, &envelope) {
                    for r in &mail.recipients {
                        if let Some(token) = token_of(r, &domain) {
                            prop_assert!(!token.is_empty() && token.len() <= 64);
                            prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
                        }
                    }
                    let kept = strip_quoted(&mail.text);
                    prop_assert!(kept.len() <= mail.text.len());
                }
            }
        }

        /// Recipients and reply text of any shape.
        #[test]
        fn reply_addresses_and_quotes_take_any_text(
            recipient in any::<String>(),
            domain in any::<String>(),
            text in any::<String>(),
        ) {
            let _ = token_of(&recipient, &domain);
            let _ = token_of(&format!("x <reply+{recipient}@{domain}>"), &domain);
            let _ = strip_quoted(&text);
        }
    }
}
