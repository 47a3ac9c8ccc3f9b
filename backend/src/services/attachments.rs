//! Attachments: files sent in a chat, stored under random names in the data directory and served
//! only to the conversation's guest and operators.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use diesel::prelude::*;
use sha2::{Digest as _, Sha256};

use super::chat::{self, ClientMsgId, MessageBody, MessageKind, Party, Posted};
use super::ServiceError;
use crate::db::models::Attachment;
use crate::db::DbConnection;
use crate::domain::{self, InvalidInput};

/// The types accepted, and whether the first bytes must prove it (images, which are shown inline).
const ACCEPTED: &[(&str, Option<&[&[u8]]>)] = &[
    ("image/png", Some(&[b"\x89PNG\r\n\x1a\n"])),
    ("image/jpeg", Some(&[b"\xff\xd8\xff"])),
    ("image/gif", Some(&[b"GIF87a", b"GIF89a"])),
    ("image/webp", Some(&[b"RIFF"])),
    ("application/pdf", None),
    ("text/plain", None),
    ("application/zip", None),
];

/// Why a file was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The type is not accepted, or the bytes are not what the type claims.
    #[error("this type of file is not accepted")]
    Unsupported,
}

/// The accepted content type for an upload, checked against its first bytes.
pub fn accepted_type(claimed: &str, bytes: &[u8]) -> Result<String, Refused> {
    let claimed = claimed
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let office = claimed.starts_with("application/vnd.openxmlformats-officedocument.")
        && claimed.len() <= 100
        && claimed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+/".contains(&b));
    if office {
        return Ok(claimed);
    }
    let (ty, magic) = ACCEPTED
        .iter()
        .find(|(t, _)| *t == claimed)
        .ok_or(Refused::Unsupported)?;
    if let Some(signatures) = magic {
        if !signatures.iter().any(|sig| bytes.starts_with(sig)) {
            return Err(Refused::Unsupported);
        }
    }
    Ok((*ty).to_owned())
}

/// A file name as sent: percent-decoded, path and control characters removed, 1 to 200 characters.
pub fn file_name(raw: &str) -> Result<String, InvalidInput> {
    let decoded = url::form_urlencoded::parse(format!("n={}", raw.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let base = decoded.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .collect();
    let clean = clean.trim().to_owned();
    if clean.is_empty() || clean.chars().count() > 200 {
        return Err(InvalidInput::new("filename", "must be 1 to 200 characters"));
    }
    Ok(clean)
}

/// Where attachment files live.
pub fn directory(data_dir: &Path) -> PathBuf {
    data_dir.join("attachments")
}

/// Stores a file and posts the attachment message, once per client message id.
#[expect(
    clippy::too_many_arguments,
    reason = "one upload's parts, each parsed at the edge"
)]
pub fn upload(
    conn: &mut DbConnection,
    data_dir: &Path,
    conversation_id: &str,
    party: &Party,
    client_msg_id: &ClientMsgId,
    name: &str,
    content_type: &str,
    bytes: &[u8],
    pacing: crate::config::Pacing,
) -> Result<(Posted, String), ServiceError> {
    chat::authorised(conn, conversation_id, party)?;
    let id = domain::new_id();
    let storage_name = hex::encode(rand::random::<[u8; 16]>());
    let dir = directory(data_dir);
    std::fs::create_dir_all(&dir).map_err(anyhow::Error::from)?;
    let path = dir.join(&storage_name);
    let mut file = std::fs::File::create(&path).map_err(anyhow::Error::from)?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(anyhow::Error::from)?;
    let description = serde_json::json!({
        "attachment_id": id, "name": name, "size": bytes.len(), "content_type": content_type,
    });
    let result = crate::db::write_transaction(conn, |conn| {
        let posted = chat::post(
            conn,
            conversation_id,
            party,
            client_msg_id,
            &MessageBody::generated(description.to_string()),
            MessageKind::Attachment,
            pacing,
        )?;
        if !posted.duplicate {
            Attachment {
                id: id.clone().into(),
                conversation_id: conversation_id.into(),
                message_id: Some(posted.message.id.clone()),
                file_name: name.to_owned(),
                content_type: content_type.to_owned(),
                size_bytes: bytes.len() as i64,
                storage_name: storage_name.clone(),
                sha256: hex::encode(Sha256::digest(bytes)),
                created_at: domain::now(),
            }
            .insert(conn)?;
        }
        Ok::<_, ServiceError>(posted)
    });
    match result {
        Ok(posted) if !posted.duplicate => Ok((posted, id)),
        Ok(posted) => {
            // A retried upload: the first copy stands; this file is not needed.
            let _ = std::fs::remove_file(&path);
            let earlier = serde_json::from_str::<serde_json::Value>(&posted.message.body)
                .ok()
                .and_then(|v| v["attachment_id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            Ok((posted, earlier))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// An attachment the caller may read, and its file's path.
pub fn open(
    conn: &mut DbConnection,
    data_dir: &Path,
    id: &str,
    party: &Party,
) -> Result<(Attachment, PathBuf), ServiceError> {
    use crate::db::schema::attachments as a;
    let attachment: Attachment = a::table
        .find(id)
        .select(Attachment::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound)?;
    chat::authorised(conn, &attachment.conversation_id, party)?;
    let path = directory(data_dir).join(&attachment.storage_name);
    Ok((attachment, path))
}

/// An upload as parsed at the edge.
#[derive(Debug)]
pub struct NewUpload {
    /// The conversation it is posted in.
    pub conversation_id: String,
    /// The attachment message's idempotency key.
    pub client_msg_id: ClientMsgId,
    /// The cleaned file name.
    pub name: String,
    /// The accepted content type.
    pub content_type: String,
    /// The file.
    pub bytes: Vec<u8>,
}

/// Posts an uploaded file as an attachment message: stores the file and the message, then
/// broadcasts the message (a repeated upload, same `client_msg_id`, stores and broadcasts
/// nothing). The stored message and the attachment's id.
pub async fn post_upload(
    state: &crate::state::AppState,
    party: Party,
    upload: NewUpload,
) -> Result<(crate::db::models::Message, String), ServiceError> {
    let data_dir = state.settings.data_dir.clone();
    let pacing = state.settings.floods.pacing;
    let (posted, attachment_id, name) = super::run(&state.db, move |conn| {
        let (posted, id) = self::upload(
            conn,
            &data_dir,
            &upload.conversation_id,
            &party,
            &upload.client_msg_id,
            &upload.name,
            &upload.content_type,
            &upload.bytes,
            pacing,
        )?;
        let conversation = crate::db::models::Conversation::find(conn, &upload.conversation_id)?
            .ok_or(ServiceError::NotFound)?;
        let shown = super::conversations::sender_name(conn, &conversation, &posted.message)?;
        Ok((posted, id, shown))
    })
    .await?;
    super::conversations::publish_posted(state, &posted, &name, None);
    Ok((posted.message, attachment_id))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_must_be_what_they_claim() {
        assert_eq!(
            accepted_type("image/png", b"\x89PNG\r\n\x1a\nrest").unwrap(),
            "image/png"
        );
        assert!(accepted_type("image/png", b"<html><script>").is_err());
        assert!(accepted_type("text/html", b"<html>").is_err());
        assert_eq!(
            accepted_type("application/pdf", b"%PDF").unwrap(),
            "application/pdf"
        );
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(file_name("..%2F..%2Fetc%2Fpasswd").unwrap(), "passwd");
        assert_eq!(file_name("r%C3%A9sum%C3%A9%0A.pdf").unwrap(), "résumé.pdf");
        assert!(file_name("").is_err());
    }
}
