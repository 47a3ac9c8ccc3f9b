//! `POST /api/v1/offline-messages`: leave-a-message from the panel and the chat pages
//! (docs/protocol.md, "Leave a message"). Multipart form: site_key, token, handle, name, email,
//! message, website (the honeypot) and an optional file.

use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;

use crate::error::ApiError;
use crate::services::attachments::{self, Refused};
use crate::services::offline::{self, OfflineForm, RawOfflineForm, Refusal};
use crate::services::visitors::widget_origin_ok;
use crate::state::AppState;

/// Leave-a-message routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/offline-messages", web::post().to(submit));
}

/// Largest text field accepted, in bytes (the message is at most 4 000 characters).
const MAX_FIELD_BYTES: usize = 20 * 1024;

struct Upload {
    name: String,
    claimed_type: String,
    bytes: Vec<u8>,
}

/// Reads the form, holding at most the field and file limits in memory.
async fn read_form(
    mut payload: Multipart,
    max_file: usize,
) -> Result<(RawOfflineForm, String, String, Option<Upload>), ApiError> {
    let mut form = RawOfflineForm::default();
    let (mut site_key, mut token) = (String::new(), String::new());
    let mut upload = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| ApiError::BadRequest(format!("malformed form: {e}")))?;
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let claimed_type = field
            .content_type()
            .map(|m| m.essence_str().to_owned())
            .unwrap_or_default();
        let limit = if name == "file" {
            max_file
        } else {
            MAX_FIELD_BYTES
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("upload interrupted: {e}")))?;
            if bytes.len() + chunk.len() > limit {
                return Err(if name == "file" {
                    ApiError::PayloadTooLarge(max_file)
                } else {
                    ApiError::BadRequest(format!("the field {name} is too long"))
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "file" {
            if !bytes.is_empty() {
                upload = Some(Upload {
                    name: file_name.unwrap_or_else(|| "file".to_owned()),
                    claimed_type,
                    bytes,
                });
            }
            continue;
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::BadRequest(format!("the field {name} is not UTF-8 text")))?;
        match name.as_str() {
            "site_key" => site_key = text,
            "token" => token = text,
            "handle" => form.handle = text,
            "name" => form.name = text,
            "email" => form.email = text,
            "message" => form.message = text,
            "website" => form.website = text,
            _ => {}
        }
    }
    Ok((form, site_key, token, upload))
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let ip = crate::limits::ip_key(crate::extract::client::ip(&req, &state.settings));
    if let Err(wait) = state.offline_limit.check(&ip).await {
        return Err(ApiError::TooManyRequests {
            retry_after: wait.as_secs().max(1),
        });
    }
    let max_file = state.settings.attachment_max_bytes;
    let (raw, site_key, token, upload) = read_form(payload, max_file).await?;
    let site = state
        .sites
        .by_key(&state.db, &site_key)
        .await?
        .ok_or(ApiError::NotFound)?;
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
    if !widget_origin_ok(&state, &site, origin) {
        let referer = req.headers().get("referer").and_then(|v| v.to_str().ok());
        crate::services::refused_origins::note(&state, &site, origin, referer).await;
        return Err(ApiError::OriginNotAllowed);
    }
    let form = match OfflineForm::parse(&raw) {
        Ok(form) => form,
        Err(Refusal::Invalid(e)) => return Err(ApiError::BadRequest(e.to_string())),
        Err(Refusal::Bot) => {
            // Answered like a success, so a bot learns nothing; nothing is stored or sent.
            tracing::info!(site = %site.id, "offline message refused: honeypot filled");
            return Ok(HttpResponse::Created().json(serde_json::json!({"conversation_id": null})));
        }
    };
    let guest = state
        .guests
        .authenticate(&state.db, &site.id, &token)
        .await?
        .ok_or(ApiError::UnknownGuest)?;
    // Per guest too: one token used from many addresses is still one guest.
    if let Err(wait) = state
        .chat_limits
        .guest_offline
        .check(&guest.visitor_id)
        .await
    {
        return Err(ApiError::TooManyRequests {
            retry_after: crate::limits::retry_after_secs(wait),
        });
    }
    let file = match upload {
        Some(u) => {
            let name =
                attachments::file_name(&u.name).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            let content_type = attachments::accepted_type(&u.claimed_type, &u.bytes)
                .map_err(|Refused::Unsupported| ApiError::UnsupportedType)?;
            Some((name, content_type, u.bytes))
        }
        None => None,
    };
    let conversation = offline::leave_message(&state, &site, guest.visitor_id, form, file).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "conversation_id": conversation.id,
        "status": "received",
    })))
}

#[cfg(test)]
mod props {
    use actix_web::http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
    use actix_web::web::Bytes;
    use proptest::prelude::*;

    use crate::services::offline::OfflineForm;

    /// Runs the form reader over `body`, sent in chunks of `chunk` bytes; false when it let a
    /// file over `max_file` through.
    fn read(body: Vec<u8>, chunk: usize, max_file: usize) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=XyZ"),
        );
        let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> = body
            .chunks(chunk.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let payload = actix_multipart::Multipart::new(&headers, futures_util::stream::iter(chunks));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        match runtime.block_on(super::read_form(payload, max_file)) {
            Ok((form, _, _, upload)) => {
                let _ = OfflineForm::parse(&form);
                upload.is_none_or(|u| u.bytes.len() <= max_file)
            }
            Err(_) => true,
        }
    }

    /// A form shaped like the panel's, with arbitrary field names, values and file bytes.
    fn form() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::collection::vec(
                (
                    "(site_key|token|name|email|message|website|handle|file|\\PC{0,8})",
                    any::<String>(),
                ),
                0..6,
            ),
            prop::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(fields, file)| {
                let mut body = Vec::new();
                for (name, value) in fields {
                    body.extend_from_slice(
                        format!(
                            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                        )
                        .as_bytes(),
                    );
                }
                body.extend_from_slice(
                    b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n",
                );
                body.extend_from_slice(&file);
                body.extend_from_slice(b"\r\n--XyZ--\r\n");
                body
            })
    }

    proptest! {
        /// The leave-a-message form reader on any bytes and on forms of any content, in any
        /// chunking: a form or a 4xx, never a panic, and never a file over the limit.
        #[test]
        fn offline_forms_parse_any_input_without_panicking(
            raw in prop::collection::vec(any::<u8>(), 0..1000),
            shaped in form(),
            chunk in 1usize..64,
        ) {
            prop_assert!(read(raw, chunk, 100));
            prop_assert!(read(shaped, chunk, 100));
        }
    }
}
