//! `POST /api/v1/inbound/sms`: the SMS provider's webhook for texts sent to Beckon's number
//! (Twilio's form and `X-Twilio-Signature`). Answers an empty TwiML `<Response/>`.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::services::sms_inbound::{self, InboundSms};
use crate::services::ServiceError;
use crate::state::AppState;

/// The empty TwiML answer: take the message, send no reply.
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/inbound/sms", web::post().to(inbound_sms));
}

#[tracing::instrument(skip_all)]
async fn inbound_sms(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(sms) = state.settings.outbound.sms.as_ref() else {
        return Err(ApiError::NotFound);
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // Twilio signs the URL it was configured with: Beckon's public base URL, this path and query.
    let signed_url = match req.uri().path_and_query() {
        Some(pq) => format!("{}{}", state.settings.base(), pq.as_str()),
        None => format!("{}{}", state.settings.base(), req.path()),
    };
    let presented = req
        .headers()
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !sms_inbound::signature_valid(&sms.token, &signed_url, &params, presented) {
        tracing::warn!(url = %signed_url, "inbound SMS with a missing or wrong signature");
        return Err(ApiError::Forbidden(format!(
            "missing or wrong X-Twilio-Signature: it must be the provider's HMAC-SHA1 (auth token) \
             of {signed_url} and the POST parameters"
        )));
    }
    let sms = match InboundSms::parse(&params) {
        Ok(Some(sms)) => sms,
        Ok(None) => return Ok(twiml()),
        Err(e) => return Err(ApiError::BadRequest(e.to_string())),
    };
    match sms_inbound::accept(&state, sms).await {
        Ok(()) => Ok(twiml()),
        Err(e) => {
            if matches!(e, ServiceError::NotFound) {
                tracing::warn!("inbound SMS to a number no site uses");
            }
            Err(e.into())
        }
    }
}

fn twiml() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(EMPTY_TWIML)
}
