//! Signed identity: a site vouches for its signed-in user with `Beckon.identify({id, name, email, ts,
//! signature})`, where `signature` is HMAC-SHA256 with the site's identity secret over
//! `"{id}\n{name}\n{email}\n{ts}"` (hex). A valid, fresh signature makes the site's name the guest's
//! display name and marks the guest verified; anything else leaves the guest anonymous.

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

/// Records `signature` as used by `visitor_id`, in the database so the record outlives a restart
/// (and is shared by every node). `false` when another guest already used it: a replay. The same
/// guest presenting its own signature again (a page reload) is allowed. Rows are kept until the
/// signature's timestamp has left the replay window in both directions, when it would be refused
/// as stale anyway; expired rows are pruned here and by [`prune_used_signatures`].
fn record_signature(
    conn: &mut DbConnection,
    signature: &str,
    visitor_id: &str,
    ts: i64,
    now: i64,
) -> Result<bool, ServiceError> {
    use crate::db::schema::used_signatures as t;
    use diesel::prelude::*;
    let expires = ts.max(now) + REPLAY_WINDOW_SECS + 1;
    let expires_at = chrono::DateTime::from_timestamp(expires, 0)
        .map(|d| d.naive_utc())
        .ok_or_else(|| InvalidInput::new("ts", "is out of range"))?;
    // A plain insert (portable across both backends); the primary key turns a second use into a
    // unique violation, atomically, even with two nodes racing.
    let inserted = diesel::insert_into(t::table)
        .values((
            t::signature.eq(signature),
            t::visitor_id.eq(visitor_id),
            t::expires_at.eq(expires_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => return Ok(true),
        Err(e) => {
            let e = crate::db::DbError::Query(e);
            if !e.is_unique_violation() {
                return Err(e.into());
            }
        }
    }
    let owner: Option<String> = t::table
        .find(signature)
        .select(t::visitor_id)
        .first(conn)
        .optional()?;
    Ok(owner.as_deref() == Some(visitor_id))
}

/// Deletes records of used signatures whose claims are stale by now; answers how many.
pub fn prune_used_signatures(conn: &mut DbConnection) -> diesel::QueryResult<usize> {
    use crate::db::schema::used_signatures as t;
    use diesel::prelude::*;
    diesel::delete(t::table.filter(t::expires_at.lt(crate::domain::now()))).execute(conn)
}

/// Checks a claim's fields, freshness and signature (not yet whether it was used before); the
/// display name and the expected signature when it holds.
fn check(
    secret: &str,
    claim: &IdentityClaim,
    now: i64,
) -> Result<(DisplayName, String), ServiceError> {
    let name = DisplayName::parse(&claim.name)?;
    if claim.id.is_empty() || claim.id.len() > 200 || claim.email.len() > 254 {
        return Err(InvalidInput::new("id", "must be 1 to 200 characters").into());
    }
    // Saturating: a hostile `ts` near i64::MIN or MAX must not overflow the subtraction.
    if now.saturating_sub(claim.ts).saturating_abs() > REPLAY_WINDOW_SECS {
        return Err(ServiceError::Unauthorized);
    }
    let expected = sign(secret, claim);
    if !crate::secrets::constant_time_eq(&expected, &claim.signature.to_ascii_lowercase()) {
        return Err(ServiceError::Unauthorized);
    }
    Ok((name, expected))
}

/// Checks a claim for a site and, when it holds, names and verifies the guest. Returns the name.
pub fn verify_and_apply(
    conn: &mut DbConnection,
    site: &Site,
    visitor_id: &str,
    claim: &IdentityClaim,
    now: i64,
) -> Result<String, ServiceError> {
    let (name, expected) = check(&site.identity_secret, claim, now)?;
    if !record_signature(conn, &expected, visitor_id, claim.ts, now)? {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{check, sign, IdentityClaim, REPLAY_WINDOW_SECS};
    use crate::services::ServiceError;

    /// Seen while writing the properties below: `now - ts` overflowed for a `ts` near `i64::MIN`
    /// (a panic in debug builds, a wrapped value that passed the window check in release ones).
    #[test]
    fn an_extreme_timestamp_is_refused_not_a_panic() {
        let claim = IdentityClaim {
            id: "u1".into(),
            name: "Ann".into(),
            email: String::new(),
            ts: i64::MIN,
            signature: String::new(),
        };
        assert!(matches!(
            check("secret", &claim, 1_700_000_000),
            Err(ServiceError::Unauthorized)
        ));
    }

    fn claim() -> impl Strategy<Value = IdentityClaim> {
        (
            any::<String>(),
            any::<String>(),
            any::<String>(),
            any::<i64>(),
            any::<String>(),
        )
            .prop_map(|(id, name, email, ts, signature)| IdentityClaim {
                id,
                name,
                email,
                ts,
                signature,
            })
    }

    proptest! {
        /// Arbitrary claims: never a panic, and nothing unsigned is accepted.
        #[test]
        fn arbitrary_claims_are_refused_without_panicking(
            secret in any::<String>(),
            claim in claim(),
            now in any::<i64>(),
        ) {
            if check(&secret, &claim, now).is_ok() {
                prop_assert_eq!(claim.signature.to_ascii_lowercase(), sign(&secret, &claim));
            }
        }

        /// A claim signed with the site's secret, fresh, is accepted (in either case of hex);
        /// changed in any field, or signed with another secret, or stale, it is refused.
        #[test]
        fn only_a_fresh_claim_signed_with_the_secret_holds(
            secret in "\\PC{1,40}",
            other_secret in "\\PC{1,40}",
            id in "[a-zA-Z0-9_-]{1,40}",
            name in "[\\p{L} ]{0,20}[\\p{L}]",
            email in "([a-z]{1,10}@[a-z]{1,10}\\.example)?",
            skew in -REPLAY_WINDOW_SECS..=REPLAY_WINDOW_SECS,
            stale in (REPLAY_WINDOW_SECS + 1)..100_000,
            tampered_name in "\\PC{1,20}",
        ) {
            let now = 1_700_000_000;
            let mut claim = IdentityClaim { id, name, email, ts: now + skew, signature: String::new() };
            claim.signature = sign(&secret, &claim).to_ascii_uppercase();
            prop_assert!(check(&secret, &claim, now).is_ok());
            if other_secret != secret {
                prop_assert!(check(&other_secret, &claim, now).is_err());
            }
            let mut changed = claim.clone();
            changed.ts = now - stale;
            changed.signature = sign(&secret, &changed);
            prop_assert!(check(&secret, &changed, now).is_err(), "stale");
            if tampered_name != claim.name {
                let mut changed = claim.clone();
                changed.name = tampered_name;
                prop_assert!(check(&secret, &changed, now).is_err(), "tampered name");
            }
        }
    }
}
