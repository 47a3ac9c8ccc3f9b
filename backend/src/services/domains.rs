//! A site's own chat domain is proven before it is served. Setting a domain in the console makes a
//! pending [`DomainClaim`] with a token; Beckon fetches
//! `http://DOMAIN/.well-known/beckon-verification.txt` (following at most one redirect, and only to
//! the same file over https on the same domain) and, when the file holds the token, the domain
//! becomes the site's `custom_domain`: only then is it routed by `Host` and trusted as an origin.
//! A DNS TXT proof is not offered (Beckon has no TXT resolver); the file is the one proof.
//!
//! The fetch goes through the same outbound address filter as webhooks
//! ([`crate::outbound::address`]): a claimed domain that resolves inside is refused, so the check
//! cannot be used to probe internal services.

use std::net::SocketAddr;
use std::time::Duration;

use diesel::prelude::*;

use super::ServiceError;
use crate::db::models::{DomainClaim, Site};
use crate::db::{Db, DbConnection, DbError};

/// Where on the claimed domain the token must be served.
pub const WELL_KNOWN_PATH: &str = "/.well-known/beckon-verification.txt";

/// How much of the file is read; a token file is one short line.
const MAX_BODY: usize = 4096;

/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Pending claims are checked again by themselves this often (besides "Verify now").
pub const RECHECK_EVERY: Duration = Duration::from_secs(600);

/// How a check reaches the claimed domain.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Let the check reach loopback and private addresses (`--webhook-allow-private`).
    pub allow_private: bool,
    /// Connect here instead of the domain's own address (tests; the `Host` is still the domain).
    pub connect_to: Option<SocketAddr>,
}

impl CheckOptions {
    /// The options the outbound settings give.
    pub fn of(outbound: &crate::config::OutboundSettings) -> CheckOptions {
        CheckOptions {
            allow_private: outbound.webhook_allow_private,
            connect_to: outbound.domain_check_connect_to,
        }
    }
}

/// A site's domain as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainState {
    /// The proven domain, served by `Host`.
    pub verified: Option<String>,
    /// A domain asked for and not proven yet.
    pub pending: Option<DomainClaim>,
}

/// The site's proven domain and pending claim.
pub fn state(conn: &mut DbConnection, site_id: &str) -> QueryResult<DomainState> {
    let verified = Site::custom_domain_of(conn, site_id)?;
    Ok(DomainState {
        verified,
        pending: DomainClaim::for_site(conn, site_id)?,
    })
}

/// Applies the domain the owner asked for in the settings form: none clears both the proven domain
/// and any claim; the proven domain again changes nothing; another domain stops serving the old one
/// and becomes a pending claim (kept, with its token, if it is already the pending one). A domain
/// another site has proven is a conflict.
pub fn request(
    conn: &mut DbConnection,
    site_id: &str,
    wanted: Option<&str>,
) -> Result<(), ServiceError> {
    let current = state(conn, site_id)?;
    let Some(wanted) = wanted else {
        set_verified(conn, site_id, None)?;
        DomainClaim::delete_for_site(conn, site_id)?;
        return Ok(());
    };
    if current.verified.as_deref() == Some(wanted) {
        DomainClaim::delete_for_site(conn, site_id)?;
        return Ok(());
    }
    if Site::domain_taken_by_other(conn, wanted, site_id)? {
        return Err(ServiceError::Conflict(
            "another site already uses that domain".into(),
        ));
    }
    set_verified(conn, site_id, None)?;
    if current.pending.as_ref().is_some_and(|c| c.domain == wanted) {
        return Ok(());
    }
    DomainClaim {
        site_id: site_id.into(),
        domain: wanted.to_owned(),
        token: format!("beckon-verification={}", crate::secrets::random_token()),
        created_at: crate::domain::now(),
        checked_at: None,
        last_error: None,
    }
    .replace(conn)?;
    Ok(())
}

fn set_verified(conn: &mut DbConnection, site_id: &str, domain: Option<&str>) -> QueryResult<()> {
    Site::set_custom_domain(conn, site_id, domain)
}

/// What a check found.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckOutcome {
    /// The domain is proven and now served.
    Verified(String),
    /// Still pending, for this reason.
    Pending(String),
    /// The site has no pending claim.
    NothingToCheck,
}

/// Checks the site's pending claim now and records the outcome.
pub async fn check(
    db: &Db,
    site_id: &str,
    options: CheckOptions,
) -> Result<CheckOutcome, ServiceError> {
    let id = site_id.to_owned();
    let claim = super::run(db, move |conn| Ok(DomainClaim::for_site(conn, &id)?)).await?;
    let Some(claim) = claim else {
        return Ok(CheckOutcome::NothingToCheck);
    };
    let found = fetch_proof(&claim.domain, options).await;
    let proven = match found {
        Ok(body) if holds_token(&body, &claim.token) => None,
        Ok(_) => Some(format!(
            "http://{}{WELL_KNOWN_PATH} does not contain the token",
            claim.domain
        )),
        Err(why) => Some(why),
    };
    super::run(db, move |conn| record(conn, &claim, proven)).await
}

/// Whether the served file holds the token: one of its lines, trimmed, is the token.
fn holds_token(body: &str, token: &str) -> bool {
    body.lines()
        .any(|line| crate::secrets::constant_time_eq(line.trim(), token))
}

/// Stores a check's outcome: promotes the claim when proven (if it is still the same claim: the
/// owner may have changed the domain meanwhile), else notes why not.
fn record(
    conn: &mut DbConnection,
    claim: &DomainClaim,
    failure: Option<String>,
) -> Result<CheckOutcome, ServiceError> {
    let now = crate::domain::now();
    let current = DomainClaim::for_site(conn, &claim.site_id)?;
    if current
        .as_ref()
        .is_none_or(|c| c.domain != claim.domain || c.token != claim.token)
    {
        return Ok(CheckOutcome::Pending(
            "the domain was changed during the check".into(),
        ));
    }
    if let Some(why) = failure {
        DomainClaim::record_failure(conn, &claim.site_id, now, &why)?;
        return Ok(CheckOutcome::Pending(why));
    }
    // The unique index on `sites.custom_domain` settles a race with another site proving the same
    // domain: the second one stays pending with a clear reason.
    match set_verified(conn, &claim.site_id, Some(&claim.domain)) {
        Ok(()) => {
            DomainClaim::delete_for_site(conn, &claim.site_id)?;
            Ok(CheckOutcome::Verified(claim.domain.clone()))
        }
        Err(e) => match DbError::Query(e) {
            e if e.is_unique_violation() => {
                let why = "another site already serves this domain";
                DomainClaim::record_failure(conn, &claim.site_id, now, why)?;
                Ok(CheckOutcome::Pending(why.into()))
            }
            e => Err(e.into()),
        },
    }
}

/// Fetches the proof file from the domain: its text, or why it could not be read.
pub async fn fetch_proof(domain: &str, options: CheckOptions) -> Result<String, String> {
    let addrs: Vec<SocketAddr> = match options.connect_to {
        Some(addr) => vec![addr],
        None => tokio::net::lookup_host((domain, 80))
            .await
            .map_err(|e| format!("cannot resolve {domain}: {e}"))?
            // Port 0: the scheme's own port, also after a redirect to https.
            .map(|a| SocketAddr::new(a.ip(), 0))
            .collect(),
    };
    if addrs.is_empty() {
        return Err(format!("{domain} has no address"));
    }
    if !options.allow_private {
        if let Some((ip, why)) = crate::outbound::address::first_refused(&addrs) {
            return Err(format!("{domain} resolves to {ip} ({why})"));
        }
    }
    let https_twin = format!("https://{domain}{WELL_KNOWN_PATH}");
    let client = reqwest::Client::builder()
        // One redirect, only from http to https of the same file: anything else could make another
        // host's content stand in for the domain's.
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() == 1 && attempt.url().as_str() == https_twin {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .timeout(CHECK_TIMEOUT)
        .resolve_to_addrs(domain, &addrs)
        .user_agent(concat!("Beckon-Domain-Check/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let url = format!("http://{domain}{WELL_KNOWN_PATH}");
    let mut res = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("{url} answered {}", res.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| format!("cannot read {url}: {e}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            body.truncate(MAX_BODY);
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Checks pending claims that are due (never checked, or not for [`RECHECK_EVERY`]), a few per
/// round; answers how many became verified.
pub async fn check_due(db: &Db, options: CheckOptions) -> Result<usize, ServiceError> {
    let before = crate::domain::now()
        - chrono::Duration::from_std(RECHECK_EVERY).unwrap_or(chrono::Duration::minutes(10));
    let due = super::run(db, move |conn| Ok(DomainClaim::due(conn, before, 20)?)).await?;
    let mut verified = 0;
    for claim in due {
        if let CheckOutcome::Verified(_) = check(db, &claim.site_id, options).await? {
            verified += 1;
        }
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_must_be_a_whole_line() {
        let token = "beckon-verification=abc";
        assert!(holds_token("beckon-verification=abc\n", token));
        assert!(holds_token(
            "other\r\n  beckon-verification=abc  \r\n",
            token
        ));
        assert!(!holds_token("beckon-verification=abcd", token));
        assert!(!holds_token("", token));
        assert!(!holds_token("xbeckon-verification=abc", token));
    }

    #[tokio::test]
    async fn the_check_does_not_reach_internal_addresses() {
        let options = CheckOptions {
            allow_private: false,
            connect_to: Some("127.0.0.1:9".parse().unwrap()),
        };
        let err = fetch_proof("help.example.test", options).await.unwrap_err();
        assert!(err.contains("loopback"), "{err}");
    }
}
