//! First-run set-up: the one-time link that creates the owner account and the first site.

use chrono::Duration;

use super::accounts::{self, NewOperator, NewSite};
use super::ServiceError;
use crate::db::models::{Operator, Role, SetupToken, Site};
use crate::db::DbConnection;
use crate::domain;
use crate::secrets;

/// If no owner exists yet, issues a new one-time setup token valid for `ttl` (replacing any unused
/// one) and returns it; otherwise `None`.
pub fn issue_token_if_unset(
    conn: &mut DbConnection,
    ttl: Duration,
) -> Result<Option<String>, ServiceError> {
    if Operator::owner_exists(conn)? {
        return Ok(None);
    }
    let token = secrets::random_token();
    let now = domain::now();
    SetupToken {
        token_hash: secrets::token_digest(&token),
        created_at: now,
        expires_at: now + ttl,
        used_at: None,
    }
    .replace_unused(conn)?;
    Ok(Some(token))
}

/// Whether `token` is a live setup token and set-up has not happened.
pub fn token_is_usable(conn: &mut DbConnection, token: &str) -> Result<bool, ServiceError> {
    Ok(!Operator::owner_exists(conn)?
        && SetupToken::is_valid(conn, &secrets::token_digest(token), domain::now())?)
}

/// Uses the setup token to create the owner and the first site, in one transaction. The token works
/// once; a used, expired or unknown token is [`ServiceError::Gone`].
pub fn complete(
    conn: &mut DbConnection,
    token: &str,
    owner: &NewOperator,
    site: &NewSite,
) -> Result<(Operator, Site), ServiceError> {
    let operator = accounts::operator_row(owner)?;
    let site_row = accounts::site_row(site);
    let digest = secrets::token_digest(token);
    crate::db::write_transaction(conn, |conn| {
        if Operator::owner_exists(conn)? || !SetupToken::consume(conn, &digest, domain::now())? {
            return Err(ServiceError::Gone(
                "this setup link has expired or was already used".to_owned(),
            ));
        }
        accounts::insert_operator(conn, &operator)?;
        accounts::insert_site(conn, &site_row)?;
        accounts::add_member(conn, &site_row.id, &operator.id, Role::Owner)?;
        Ok(())
    })?;
    Ok((operator, site_row))
}

/// Completes set-up ([`complete`]) and signs the new owner in: the owner, the site and the new
/// session.
pub fn complete_and_sign_in(
    conn: &mut DbConnection,
    token: &str,
    owner: &NewOperator,
    site: &NewSite,
    client: &super::auth::ClientInfo,
    policy: super::auth::SessionPolicy,
) -> Result<(Operator, Site, super::auth::NewSession), ServiceError> {
    let (operator, site) = complete(conn, token, owner, site)?;
    let session = super::auth::open_session(conn, &operator.id, client, policy)?;
    Ok((operator, site, session))
}

/// Whether Beckon still waits for its first-run setup (no owner yet); the login page then says
/// where the setup link is instead of offering a form nobody can use.
pub fn awaiting_setup(conn: &mut DbConnection) -> Result<bool, ServiceError> {
    Ok(!Operator::owner_exists(conn)?)
}
