//! A site's canned responses: short texts an operator inserts with `/shortcut` + Tab. Any member
//! of the site may add or remove them.

use super::ServiceError;
use crate::db::models::{CannedResponse, Membership, Site};
use crate::db::{DbConnection, DbError};
use crate::domain::{self, InvalidInput};

/// Parses a shortcut: 1 to 32 of `a-z 0-9 - _`, an optional leading slash dropped.
pub fn parse_shortcut(raw: &str) -> Result<String, InvalidInput> {
    let s = raw.trim().trim_start_matches('/').to_lowercase();
    let ok = (1..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(s)
    } else {
        Err(InvalidInput::new(
            "shortcut",
            "must be 1 to 32 of a-z, 0-9, '-' and '_'",
        ))
    }
}

/// Every problem of a shortcut and body as typed in a form (empty when both parse), so a form can
/// show each next to its field at once; [`add`] and [`update`] stop at the first.
pub fn problems(shortcut: &str, body: &str) -> Vec<InvalidInput> {
    let shortcut = parse_shortcut(shortcut).err();
    let body = super::chat::MessageBody::parse(body).err();
    shortcut.into_iter().chain(body).collect()
}

/// Adds a canned response to a site the operator belongs to ([`ServiceError::NotFound`] for
/// others); a taken shortcut is a conflict.
pub fn add(
    conn: &mut DbConnection,
    site_id: &str,
    operator_id: &str,
    shortcut: &str,
    body: &str,
) -> Result<(), ServiceError> {
    if Membership::role_of(conn, site_id, operator_id)?.is_none() {
        return Err(ServiceError::NotFound);
    }
    let body = super::chat::MessageBody::parse(body)?;
    let response = CannedResponse {
        id: domain::new_id(),
        site_id: site_id.to_owned().into(),
        shortcut: parse_shortcut(shortcut)?,
        body: body.as_ref().to_owned(),
        created_by: Some(operator_id.to_owned().into()),
        created_at: domain::now(),
    };
    response.insert(conn).map_err(|e| match DbError::Query(e) {
        e if e.is_unique_violation() => taken(),
        e => ServiceError::Db(e),
    })
}

/// Changes the shortcut and body of a canned response of a site the operator belongs to
/// ([`ServiceError::NotFound`] for others, or when it is gone); a shortcut taken by another
/// response of the site is a conflict.
pub fn update(
    conn: &mut DbConnection,
    site_id: &str,
    operator_id: &str,
    id: &str,
    shortcut: &str,
    body: &str,
) -> Result<(), ServiceError> {
    if Membership::role_of(conn, site_id, operator_id)?.is_none() {
        return Err(ServiceError::NotFound);
    }
    let shortcut = parse_shortcut(shortcut)?;
    let body = super::chat::MessageBody::parse(body)?;
    match CannedResponse::update(conn, site_id, id, &shortcut, body.as_ref()) {
        Ok(0) => Err(ServiceError::NotFound),
        Ok(_) => Ok(()),
        Err(e) => match DbError::Query(e) {
            e if e.is_unique_violation() => Err(taken()),
            e => Err(ServiceError::Db(e)),
        },
    }
}

/// One canned response of a site the operator belongs to ([`ServiceError::NotFound`] for others,
/// and for a response of another site).
pub fn get(
    conn: &mut DbConnection,
    site_id: &str,
    operator_id: &str,
    id: &str,
) -> Result<CannedResponse, ServiceError> {
    if Membership::role_of(conn, site_id, operator_id)?.is_none() {
        return Err(ServiceError::NotFound);
    }
    CannedResponse::find(conn, site_id, id)?.ok_or(ServiceError::NotFound)
}

/// The conflict of a shortcut another response of the site already has.
fn taken() -> ServiceError {
    ServiceError::Conflict("that shortcut is taken".into())
}

/// Removes a canned response of a site the operator belongs to ([`ServiceError::NotFound`] for
/// others; removing one that is already gone is not an error).
pub fn delete(
    conn: &mut DbConnection,
    site_id: &str,
    operator_id: &str,
    id: &str,
) -> Result<(), ServiceError> {
    if Membership::role_of(conn, site_id, operator_id)?.is_none() {
        return Err(ServiceError::NotFound);
    }
    CannedResponse::delete(conn, site_id, id)?;
    Ok(())
}

/// The canned responses of these sites.
pub fn for_sites(
    conn: &mut DbConnection,
    site_ids: &[String],
) -> Result<Vec<CannedResponse>, ServiceError> {
    Ok(CannedResponse::for_sites(conn, site_ids)?)
}

/// The operator's sites (with their role on each) and those sites' canned responses.
pub type Workspace = (Vec<(Site, String)>, Vec<CannedResponse>);

/// The chat workspace's data: the operator's sites (with their role) and those sites' canned
/// responses.
pub fn workspace(conn: &mut DbConnection, operator_id: &str) -> Result<Workspace, ServiceError> {
    let sites = Site::for_operator(conn, operator_id)?;
    let ids: Vec<String> = sites.iter().map(|(s, _)| s.id.to_string()).collect();
    let canned = CannedResponse::for_sites(conn, &ids)?;
    Ok((sites, canned))
}
