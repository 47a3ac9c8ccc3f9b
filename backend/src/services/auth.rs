//! Console authentication: login, session lookup with idle and absolute expiry, logout.

use chrono::Duration;

use super::ServiceError;
use crate::db::models::{ConsoleSession, Operator};
use crate::db::DbConnection;
use crate::domain::{self, Email};
use crate::secrets;

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after login, however active.
    pub absolute: Duration,
}

/// A session just created: the token goes into the cookie, never into the database.
#[derive(Debug)]
pub struct NewSession {
    /// The cookie value.
    pub token: String,
    /// The stored session.
    pub session: ConsoleSession,
}

/// Where a login came from, kept with the session.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Client IP (already resolved through trusted proxies).
    pub ip: String,
    /// User agent, truncated.
    pub user_agent: String,
}

/// Checks email and password and opens a session. Unknown email and wrong password give the same
/// [`ServiceError::Unauthorized`] after the same amount of work. Slow by design (argon2): call it off
/// the async workers.
pub fn login(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    client: &ClientInfo,
    policy: SessionPolicy,
) -> Result<NewSession, ServiceError> {
    let operator = match Email::parse(email) {
        Ok(email) => Operator::find_by_email(conn, email.as_ref())?,
        Err(_) => None,
    };
    let hash = operator
        .as_ref()
        .map(|o| o.password_hash.as_str())
        .unwrap_or_else(|| secrets::dummy_password_hash());
    let password_ok = secrets::verify_password(password, hash);
    match operator {
        Some(op) if password_ok && op.disabled_at.is_none() => {
            open_session(conn, &op.id, client, policy)
        }
        _ => Err(ServiceError::Unauthorized),
    }
}

/// Logs in from a browser that may already hold a session: login rotates the session, so the old
/// one (if any) ends whatever the outcome, and a new one is opened when the credentials hold.
pub fn login_replacing(
    conn: &mut DbConnection,
    old_token: Option<&str>,
    email: &str,
    password: &str,
    client: &ClientInfo,
    policy: SessionPolicy,
) -> Result<NewSession, ServiceError> {
    if let Some(old) = old_token {
        // An old session that cannot be ended does not stop the login (it expires on its own).
        let _ = logout(conn, old);
    }
    login(conn, email, password, client, policy)
}

/// Opens a fresh session for an operator (after login or set-up).
pub fn open_session(
    conn: &mut DbConnection,
    operator_id: &str,
    client: &ClientInfo,
    policy: SessionPolicy,
) -> Result<NewSession, ServiceError> {
    let token = secrets::random_token();
    let now = domain::now();
    let session = ConsoleSession {
        id: secrets::token_digest(&token),
        operator_id: operator_id.into(),
        csrf_token: secrets::random_token(),
        ip: client.ip.clone(),
        user_agent: client.user_agent.chars().take(400).collect(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + policy.absolute,
    };
    session.insert(conn)?;
    Ok(NewSession { token, session })
}

/// Resolves a session cookie to the live session and its operator, recording the activity. Expired
/// sessions are deleted and give `None`.
pub fn resolve(
    conn: &mut DbConnection,
    token: &str,
    policy: SessionPolicy,
) -> Result<Option<(ConsoleSession, Operator)>, ServiceError> {
    let id = secrets::token_digest(token);
    let Some(session) = ConsoleSession::find(conn, &id)? else {
        return Ok(None);
    };
    let now = domain::now();
    if session.expires_at <= now || session.last_seen_at + policy.idle <= now {
        ConsoleSession::delete(conn, &id)?;
        return Ok(None);
    }
    let Some(operator) = Operator::find(conn, &session.operator_id)? else {
        return Ok(None);
    };
    if operator.disabled_at.is_some() {
        ConsoleSession::delete(conn, &id)?;
        return Ok(None);
    }
    // Writing on every request would make each page view a write; a minute of slack on the idle
    // timer costs nothing.
    if now - session.last_seen_at > Duration::seconds(60) {
        ConsoleSession::touch(conn, &id, now)?;
    }
    Ok(Some((session, operator)))
}

/// Ends the session behind a cookie token (no error if it is already gone).
pub fn logout(conn: &mut DbConnection, token: &str) -> Result<(), ServiceError> {
    ConsoleSession::delete(conn, &secrets::token_digest(token))?;
    Ok(())
}

/// What a console socket's periodic check finds.
#[derive(Debug, PartialEq, Eq)]
pub enum SocketCheck {
    /// The session is gone (logged out), expired, or its operator deactivated.
    Ended,
    /// The session holds; the sites its operator belongs to now.
    Sites(Vec<String>),
}

/// Checks that the session a console socket opened under still holds (by its stored id), and
/// lists the operator's sites. `active`: the socket was used since the last check, which counts
/// as activity for the idle timer as a request would.
pub fn check_socket(
    conn: &mut DbConnection,
    session_id: &str,
    active: bool,
    policy: SessionPolicy,
) -> Result<SocketCheck, ServiceError> {
    use crate::db::schema::memberships;
    use diesel::prelude::*;
    let Some(session) = ConsoleSession::find(conn, session_id)? else {
        return Ok(SocketCheck::Ended);
    };
    let now = domain::now();
    if session.expires_at <= now || session.last_seen_at + policy.idle <= now {
        return Ok(SocketCheck::Ended);
    }
    match Operator::find(conn, &session.operator_id)? {
        Some(op) if op.disabled_at.is_none() => {}
        _ => return Ok(SocketCheck::Ended),
    }
    if active && now - session.last_seen_at > Duration::seconds(60) {
        ConsoleSession::touch(conn, session_id, now)?;
    }
    let sites = memberships::table
        .filter(memberships::operator_id.eq(&session.operator_id))
        .select(memberships::site_id)
        .load::<String>(conn)?;
    Ok(SocketCheck::Sites(sites))
}
