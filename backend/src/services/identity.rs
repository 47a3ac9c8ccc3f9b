//! Signed identity: a site vouches for its signed-in user with `Beckon.identify({id, name, email, ts,
//! signature})`, where `signature` is HMAC-SHA256 with the site's identity secret over
//! `"{id}\n{name}\n{email}\n{ts}"` (hex). A valid, fresh signature makes the site's name the guest's
//! display name and marks the guest verified; anything else leaves the guest anonymous.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ServiceError;
use crate::db::models::Site;
use crate::db::schema::visitors;
use crate::db::DbConnection;
use crate::domain::{DisplayName, InvalidInput};

/// How far a signature's timestamp may be from now, in seconds.
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// What the host page sends.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct IdentityClaim {
    /// The site's own user id.
    pub id: String,
    /// The user's name.
    pub name: String,
    /// The user's email (may be empty).
    #[serde(default)]
    pub email: String,
    /// Unix seconds when the page signed it.
    pub ts: i64,
    /// Lower-case hex HMAC-SHA256.
    pub signature: String,
}

/// The text that is signed.
pub fn signed_text(claim: &IdentityClaim) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        claim.id, claim.name, claim.email, claim.ts
    )
}

/// The signature a site's secret gives a claim (what the site's server computes).
pub fn sign(secret: &str, claim: &IdentityClaim) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(signed_text(claim).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Signatures seen within the window, with the guest that used them: the same signature presented
/// by another guest is a replay.
#[derive(Default)]
pub struct SeenSignatures {
    seen: Mutex<HashMap<String, (String, i64)>>,
}

impl SeenSignatures {
    fn claim(&self, signature: &str, visitor_id: &str, now: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, (_, at)| now - *at <= 2 * REPLAY_WINDOW_SECS);
        match seen.get(signature) {
            Some((owner, _)) => owner == visitor_id,
            None => {
                seen.insert(signature.to_owned(), (visitor_id.to_owned(), now));
                true
            }
        }
    }
}

/// Checks a claim for a site and, when it holds, names and verifies the guest. Returns the name.
pub fn verify_and_apply(
    conn: &mut DbConnection,
    site: &Site,
    visitor_id: &str,
    claim: &IdentityClaim,
    seen: &SeenSignatures,
    now: i64,
) -> Result<String, ServiceError> {
    let name = DisplayName::parse(&claim.name)?;
    if claim.id.is_empty() || claim.id.len() > 200 || claim.email.len() > 254 {
        return Err(InvalidInput::new("id", "must be 1 to 200 characters").into());
    }
    if (now - claim.ts).abs() > REPLAY_WINDOW_SECS {
        return Err(ServiceError::Unauthorized);
    }
    let expected = sign(&site.identity_secret, claim);
    if !crate::secrets::constant_time_eq(&expected, &claim.signature.to_ascii_lowercase()) {
        return Err(ServiceError::Unauthorized);
    }
    if !seen.claim(&expected, visitor_id, now) {
        return Err(ServiceError::Unauthorized);
    }
    use diesel::prelude::*;
    diesel::update(visitors::table.find(visitor_id))
        .set((
            visitors::display_name.eq(name.as_ref()),
            visitors::verified_user_id.eq(&claim.id),
            visitors::email.eq((!claim.email.is_empty()).then_some(claim.email.as_str())),
        ))
        .execute(conn)?;
    Ok(name.as_ref().to_owned())
}
