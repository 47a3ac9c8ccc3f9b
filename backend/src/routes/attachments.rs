//! Attachment upload and download (see docs/protocol.md, "Attachments").

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;

use crate::error::ApiError;
use crate::services::attachments::{self, Refused};
use crate::services::chat::{ClientMsgId, Party};
use crate::services::{self, auth};
use crate::state::AppState;

/// Attachment routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v1/conversations/{id}/attachments",
        web::post().to(upload),
    )
    .route("/api/v1/attachments/{id}", web::get().to(download));
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Who is asking: a guest by headers, or an operator by session cookie (with the CSRF header when
/// `needs_csrf`).
async fn caller(req: &HttpRequest, state: &AppState, needs_csrf: bool) -> Result<Party, ApiError> {
    if let (Some(key), Some(token)) = (
        header_str(req, "x-beckon-site"),
        header_str(req, "x-beckon-guest"),
    ) {
        let site = state
            .sites
            .by_key(&state.db, key)
            .await?
            .ok_or(ApiError::UnknownGuest)?;
        let guest = state
            .guests
            .authenticate(&state.db, &site.id, token)
            .await?
            .ok_or(ApiError::UnknownGuest)?;
        return Ok(Party::Guest {
            visitor_id: guest.visitor_id,
        });
    }
    let token = req
        .cookie(crate::extract::console::SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or(ApiError::Unauthorized)?;
    let policy = state.session_policy();
    let (session, operator) =
        services::run(&state.db, move |conn| auth::resolve(conn, &token, policy))
            .await?
            .ok_or(ApiError::Unauthorized)?;
    if needs_csrf {
        let sent = header_str(req, "x-csrf-token").unwrap_or("");
        if !crate::secrets::constant_time_eq(sent, &session.csrf_token) {
            return Err(ApiError::Forbidden("missing or wrong X-CSRF-Token".into()));
        }
    }
    Ok(Party::Operator(operator))
}

/// Counts one upload against the caller's flood limits, before a byte of the body is read: a guest's
/// per guest, then per conversation; an operator's own, more generous one. 429 with `Retry-After`
/// when over.
fn check_upload_limit(
    state: &AppState,
    party: &Party,
    conversation_id: &str,
) -> Result<(), ApiError> {
    let limits = &state.chat_limits;
    let checked = match party {
        // The guest's limit first: it bounds how many made-up conversation ids become keys.
        Party::Guest { visitor_id } => limits.guest_uploads.check(visitor_id).and_then(|()| {
            limits
                .conversation_uploads
                .check(&crate::limits::conversation_key("", conversation_id))
        }),
        Party::Operator(op) => limits.operator_uploads.check(&op.id),
    };
    checked.map_err(|wait| ApiError::TooManyRequests {
        retry_after: crate::limits::retry_after_secs(wait),
    })
}

async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    conversation_id: web::Path<String>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let party = caller(&req, &state, true).await?;
    check_upload_limit(&state, &party, &conversation_id)?;
    let max = state.settings.attachment_max_bytes;
    let declared = header_str(&req, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(ApiError::PayloadTooLarge(max));
    }
    let name = attachments::file_name(header_str(&req, "x-filename").unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let client_msg_id = ClientMsgId::parse(header_str(&req, "x-client-msg-id").unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("upload interrupted: {e}")))?;
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::PayloadTooLarge(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() {
        return Err(ApiError::BadRequest("the file is empty".into()));
    }
    let content_type =
        attachments::accepted_type(header_str(&req, "content-type").unwrap_or(""), &bytes)
            .map_err(|Refused::Unsupported| ApiError::UnsupportedType)?;
    let upload = attachments::NewUpload {
        conversation_id: conversation_id.into_inner(),
        client_msg_id,
        name,
        content_type,
        bytes: bytes.to_vec(),
    };
    let (message, attachment_id) = attachments::post_upload(&state, party, upload).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "attachment_id": attachment_id,
        "seq": message.seq,
        "client_msg_id": message.client_msg_id,
    })))
}

async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let party = caller(&req, &state, false).await?;
    let data_dir = state.settings.data_dir.clone();
    let id = id.into_inner();
    let (attachment, path) = services::run(&state.db, move |conn| {
        attachments::open(conn, &data_dir, &id, &party)
    })
    .await?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::from(e)))?;
    let content_type = if attachment.content_type.starts_with("image/") {
        attachment.content_type.clone()
    } else {
        "application/octet-stream".to_owned()
    };
    let encoded: String =
        url::form_urlencoded::byte_serialize(attachment.file_name.as_bytes()).collect();
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename*=UTF-8''{}",
                encoded.replace('+', "%20")
            ),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        ))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .body(bytes))
}
