//! Inbound SMS: a guest's text message, posted by the SMS provider's webhook, becomes a message in
//! the conversation of that phone number (or starts one), so a phone without a browser can reach an
//! operator.
//!
//! The provider's request is authenticated the way Twilio documents it ([`twilio_signature`]): an
//! HMAC-SHA1 with the account's auth token over the public URL of the webhook followed by every POST
//! parameter's name and value, sorted by name, in base64 in `X-Twilio-Signature`.

use base64::Engine as _;
use diesel::prelude::*;
use hmac::{Hmac, Mac};

use super::chat::{self, ClientMsgId, MessageBody, MessageKind, Party};
use super::visitors::{self, GuestClient};
use super::ServiceError;
use crate::db::models::{Conversation, Message, Site};
use crate::db::schema::{conversations, messages};
use crate::db::DbConnection;
use crate::domain::InvalidInput;
use crate::secrets;

/// The signature Twilio sends for a POST to `url` with these form parameters:
/// base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 …)), parameters sorted by name
/// (a repeated name by value, an exact repeat counted once, as Twilio's own libraries do).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `presented` (the `X-Twilio-Signature` header) is the signature of this request, compared
/// in constant time.
pub fn signature_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    presented: &str,
) -> bool {
    let expected = twilio_signature(auth_token, url, params);
    !presented.is_empty() && secrets::constant_time_eq(presented.trim(), &expected)
}

/// A text message as the provider delivered it.
#[derive(Debug, Clone)]
pub struct InboundSms {
    /// The guest's number (`From`).
    pub from: String,
    /// The number it was sent to (`To`): picks the site of a new conversation.
    pub to: String,
    /// The text, with links to any pictures appended.
    pub body: MessageBody,
    /// The provider's message id (`MessageSid`): the message's idempotency key (a valid
    /// [`ClientMsgId`]).
    pub sid: String,
}

impl InboundSms {
    /// Parses the provider's form parameters (Twilio's names: `From`, `To`, `Body`, `MessageSid`,
    /// `NumMedia`, `MediaUrl0`…). A message with neither text nor pictures is `Ok(None)`: nothing to
    /// store, but nothing wrong either.
    pub fn parse(params: &[(String, String)]) -> Result<Option<InboundSms>, InvalidInput> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim())
                .unwrap_or("")
        };
        let from = normalise_number(get("From"));
        if from.len() < 3 {
            return Err(InvalidInput::new("From", "is not a phone number"));
        }
        let to = normalise_number(get("To"));
        let sid = [get("MessageSid"), get("SmsSid")]
            .into_iter()
            .find(|s| ClientMsgId::parse(s).is_ok())
            .ok_or_else(|| InvalidInput::new("MessageSid", "is missing or malformed"))?
            .to_owned();
        let mut text = get("Body").to_owned();
        let media: usize = get("NumMedia").parse().unwrap_or(0);
        for i in 0..media.min(10) {
            let url = get(&format!("MediaUrl{i}"));
            if !url.is_empty() {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str("Picture: ");
                text.push_str(url);
            }
        }
        let text: String = text.chars().take(chat::MAX_BODY_CHARS).collect();
        match MessageBody::parse(&text) {
            Ok(body) => Ok(Some(InboundSms {
                from,
                to,
                body,
                sid,
            })),
            Err(_) => Ok(None),
        }
    }
}

/// A phone number reduced to `+` and digits (`+1 (415) 555-0100` → `+14155550100`), so a number
/// typed into the settings matches the provider's E.164.
pub fn normalise_number(raw: &str) -> String {
    let raw = raw.trim();
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if raw.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    }
}

/// Where an inbound SMS went.
#[derive(Debug, Clone)]
pub struct Received {
    /// The conversation (its state after the message).
    pub conversation: Conversation,
    /// Whether the conversation was started by this message.
    pub started: bool,
    /// The stored message (or the copy stored by an earlier delivery of the same SMS).
    pub message: Message,
    /// True when the provider repeated a delivery: nothing new was stored.
    pub duplicate: bool,
}

/// The site a new conversation with a text to `to` belongs to: the one whose settings name `to` as
/// its `sms_number`, else the only site there is.
pub fn site_for_number(conn: &mut DbConnection, to: &str) -> Result<Option<Site>, ServiceError> {
    let all = Site::all_oldest_first(conn)?;
    let wanted = normalise_number(to);
    let by_number = all.iter().find(|site| {
        site.settings()
            .sms_number
            .map(|n| normalise_number(&n))
            .is_some_and(|n| !n.is_empty() && n == wanted)
    });
    Ok(match by_number {
        Some(site) => Some(site.clone()),
        None if all.len() == 1 => all.into_iter().next(),
        None => None,
    })
}

/// The newest conversation with this phone number that is not closed.
fn open_for_phone(conn: &mut DbConnection, phone: &str) -> QueryResult<Option<Conversation>> {
    conversations::table
        .filter(conversations::guest_phone.eq(phone))
        .filter(conversations::status.ne("closed"))
        .order(conversations::created_at.desc())
        .select(Conversation::as_select())
        .first(conn)
        .optional()
}

/// A message already stored for this provider message id in any conversation of this phone, so a
/// retried webhook stores nothing even when the conversation changed in between.
fn stored_earlier(
    conn: &mut DbConnection,
    phone: &str,
    sid: &str,
) -> QueryResult<Option<(Message, Conversation)>> {
    messages::table
        .inner_join(conversations::table)
        .filter(conversations::guest_phone.eq(phone))
        .filter(messages::client_msg_id.eq(sid))
        .select((Message::as_select(), Conversation::as_select()))
        .first(conn)
        .optional()
}

/// The guest id standing for the phone in a conversation: a guest of the site that no browser
/// holds (its token is thrown away), counted apart from web guests.
fn phone_guest(
    conn: &mut DbConnection,
    site: &Site,
    phone: &str,
) -> Result<crate::db::models::Visitor, ServiceError> {
    let client = GuestClient {
        ip: "sms".to_owned(),
        ip_key: format!("sms:{phone}"),
        user_agent: "SMS".to_owned(),
    };
    Ok(visitors::issue_or_resume(conn, site, None, &client, u32::MAX)?.visitor)
}

/// Adds an inbound SMS to the newest open conversation of its phone number, or starts a waiting
/// `sms` conversation on the number's site. `NotFound` when no site can take it.
pub fn receive(
    conn: &mut DbConnection,
    sms: &InboundSms,
    pacing: crate::config::Pacing,
) -> Result<Received, ServiceError> {
    if let Some((message, conversation)) = stored_earlier(conn, &sms.from, &sms.sid)? {
        return Ok(Received {
            conversation,
            started: false,
            message,
            duplicate: true,
        });
    }
    let (conversation, started) = match open_for_phone(conn, &sms.from)? {
        Some(open) => (open, false),
        None => {
            let site = site_for_number(conn, &sms.to)?.ok_or(ServiceError::NotFound)?;
            (start_for_phone(conn, &site, &sms.from)?, true)
        }
    };
    let visitor_id = match &conversation.visitor_id {
        Some(id) => id.clone(),
        None => {
            // A conversation with a phone but no guest (begun elsewhere): give it the phone's guest.
            let site = Site::get(conn, &conversation.site_id)?;
            let visitor = phone_guest(conn, &site, &sms.from)?;
            diesel::update(conversations::table.find(&conversation.id))
                .set(conversations::visitor_id.eq(&visitor.id))
                .execute(conn)?;
            visitor.id
        }
    };
    let posted = chat::post(
        conn,
        &conversation.id,
        &Party::Guest {
            visitor_id: visitor_id.into(),
        },
        &ClientMsgId::parse(&sms.sid)?,
        &sms.body,
        MessageKind::Text,
        pacing,
    )?;
    let conversation = Conversation::find(conn, &conversation.id)?.ok_or(ServiceError::NotFound)?;
    Ok(Received {
        conversation,
        started,
        message: posted.message,
        duplicate: posted.duplicate,
    })
}

/// Starts a waiting `sms` conversation for `phone` on `site`.
fn start_for_phone(
    conn: &mut DbConnection,
    site: &Site,
    phone: &str,
) -> Result<Conversation, ServiceError> {
    crate::db::write_transaction(conn, |conn| {
        let visitor = phone_guest(conn, site, phone)?;
        let (conversation, _) = chat::start(
            conn,
            &visitor,
            Some(phone),
            None,
            crate::domain::Channel::Sms,
            &[],
        )?;
        diesel::update(conversations::table.find(&conversation.id))
            .set(conversations::guest_phone.eq(phone))
            .execute(conn)?;
        Conversation::find(conn, &conversation.id)?.ok_or(ServiceError::NotFound)
    })
}

/// Takes a text sent to Beckon's number: stores it (starting a conversation for a new sender),
/// then tells the conversation's people and wakes the delivery worker for its webhook events.
pub async fn accept(state: &crate::state::AppState, sms: InboundSms) -> Result<(), ServiceError> {
    let pacing = state.settings.floods.pacing;
    let (received, started, name) = super::run(&state.db, move |conn| {
        let received = receive(conn, &sms, pacing)?;
        let started = if received.started {
            Some(super::conversations::conversation_view(
                conn,
                &received.conversation,
            )?)
        } else {
            None
        };
        let name =
            super::conversations::sender_name(conn, &received.conversation, &received.message)?;
        Ok((received, started, name))
    })
    .await?;
    let posted = super::chat::Posted {
        message: received.message,
        duplicate: received.duplicate,
    };
    super::conversations::publish_posted(
        state,
        &posted,
        &name,
        started.as_ref().map(|v| (&received.conversation, v)),
    );
    if !posted.duplicate {
        // The message's webhook events are queued: deliver them now, not at the next poll.
        state.outbound.wake();
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn signatures_match_twilios_documented_example() {
        // The worked example of Twilio's security documentation and its libraries' tests.
        let p = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let sig = twilio_signature("12345", url, &p);
        assert_eq!(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        let repeated = params(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            twilio_signature("12345", url, &repeated),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
        assert!(signature_valid("12345", url, &p, &sig));
        assert!(!signature_valid("12345", url, &p, ""));
        assert!(!signature_valid("other", url, &p, &sig));
        let mut reordered = p.clone();
        reordered.reverse();
        assert!(signature_valid("12345", url, &reordered, &sig));
    }

    #[test]
    fn messages_parse_with_pictures_and_numbers_normalise() {
        let sms = InboundSms::parse(&params(&[
            ("From", "+1 (415) 555-0100"),
            ("To", "+14155550199"),
            ("Body", " hello "),
            ("MessageSid", "SM123"),
            ("NumMedia", "1"),
            ("MediaUrl0", "https://api.twilio.com/m/1"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(sms.from, "+14155550100");
        assert_eq!(
            sms.body.as_ref(),
            "hello\nPicture: https://api.twilio.com/m/1"
        );
        assert!(InboundSms::parse(&params(&[("From", "+1415"), ("Body", "x")])).is_err());
        assert!(InboundSms::parse(&params(&[
            ("From", "+14155550100"),
            ("MessageSid", "SM1"),
            ("Body", "  ")
        ]))
        .unwrap()
        .is_none());
    }
}
