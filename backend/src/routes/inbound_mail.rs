//! Replies to Beckon's mail: `POST /api/v1/inbound/email?secret=…` for mail providers' inbound
//! webhooks, and the optional SMTP listener (`--inbound-smtp-listen`). Both end in
//! [`inbound_mail::accept`].

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::error::ApiError;
use crate::services::inbound_mail::{self, InboundMail, NotThreaded};
use crate::state::AppState;

/// Inbound-mail routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/inbound/email", web::post().to(inbound_email));
}

#[derive(Deserialize)]
struct Secret {
    #[serde(default)]
    secret: String,
}

/// The fields providers post, under their different names: Mailgun (`recipient`, `sender`,
/// `body-plain`, `stripped-text`, `Message-Id`), SendGrid's parse webhook (`to`, `from`, `text`) and
/// Postmark's JSON (`OriginalRecipient`/`To`, `From`, `TextBody`, `StrippedTextReply`, `MessageID`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct ProviderMail {
    recipient: Option<String>,
    to: Option<String>,
    #[serde(rename = "To")]
    to_pm: Option<String>,
    #[serde(rename = "OriginalRecipient")]
    original_recipient: Option<String>,
    sender: Option<String>,
    from: Option<String>,
    #[serde(rename = "From")]
    from_pm: Option<String>,
    #[serde(rename = "stripped-text")]
    stripped_text: Option<String>,
    #[serde(rename = "body-plain")]
    body_plain: Option<String>,
    text: Option<String>,
    #[serde(rename = "TextBody")]
    text_body: Option<String>,
    #[serde(rename = "StrippedTextReply")]
    stripped_reply: Option<String>,
    #[serde(rename = "Message-Id")]
    message_id: Option<String>,
    #[serde(rename = "MessageID")]
    message_id_pm: Option<String>,
}

impl ProviderMail {
    fn into_mail(self) -> InboundMail {
        let recipients = [self.recipient, self.original_recipient, self.to, self.to_pm]
            .into_iter()
            .flatten()
            .flat_map(|list| {
                list.split(',')
                    .map(|s| s.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        InboundMail {
            recipients,
            from: self
                .sender
                .or(self.from)
                .or(self.from_pm)
                .unwrap_or_default(),
            text: self
                .stripped_text
                .or(self.stripped_reply)
                .or(self.body_plain)
                .or(self.text)
                .or(self.text_body)
                .unwrap_or_default(),
            message_id: self.message_id.or(self.message_id_pm),
        }
    }
}

async fn inbound_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Secret>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(expected) = &state.settings.outbound.inbound_mail_secret else {
        return Err(ApiError::NotFound);
    };
    if !crate::secrets::constant_time_eq(&query.secret, expected) {
        return Err(ApiError::Forbidden("wrong inbound-mail secret".into()));
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mail = if content_type.starts_with("application/json") {
        serde_json::from_slice::<ProviderMail>(&body)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?
            .into_mail()
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        form_fields(&body)?.into_mail()
    } else if content_type.starts_with("message/rfc822") {
        inbound_mail::parse_raw(&body, &[])
            .ok_or_else(|| ApiError::BadRequest("not a mail message".into()))?
    } else {
        return Err(ApiError::UnsupportedType);
    };
    match inbound_mail::accept(&state, mail).await {
        Ok(()) => Ok(HttpResponse::Ok().json(serde_json::json!({"status": "threaded"}))),
        // Providers retry on errors; these will never succeed, so they are answered 200 with the
        // reason (and logged) rather than bounced forever.
        Err(e @ (NotThreaded::NoToken | NotThreaded::UnknownToken | NotThreaded::Empty)) => {
            tracing::info!(reason = %e, "inbound mail not threaded");
            Ok(HttpResponse::Ok()
                .json(serde_json::json!({"status": "ignored", "reason": e.to_string()})))
        }
        Err(NotThreaded::Service(e)) => Err(e.into()),
    }
}

/// A url-encoded provider form, read into the same fields as the JSON shape.
fn form_fields(body: &[u8]) -> Result<ProviderMail, ApiError> {
    let map: serde_json::Map<String, serde_json::Value> = url::form_urlencoded::parse(body)
        .into_owned()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::BadRequest(format!("malformed form: {e}")))
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    proptest! {
        /// A provider's inbound-mail webhook form, any bytes: a mail or a 400, never a panic.
        #[test]
        fn provider_forms_parse_any_bytes_without_panicking(
            raw in prop::collection::vec(any::<u8>(), 0..1000),
            to in any::<String>(),
            text in any::<String>(),
        ) {
            let _ = super::form_fields(&raw).map(super::ProviderMail::into_mail);
            let shaped: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("recipient", &to)
                .append_pair("stripped-text", &text)
                .finish();
            let mail = super::form_fields(shaped.as_bytes()).map(super::ProviderMail::into_mail);
            prop_assert!(mail.is_ok());
        }
    }
}
