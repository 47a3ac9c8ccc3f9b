//! The console's view of the outbox: recent deliveries of an operator's sites, retrying failed ones,
//! and reading mail kept in the mail outbox directory. An operator only ever sees items of sites
//! they belong to.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::ServiceError;
use crate::db::models::{OutboxItem, Site};
use crate::db::DbConnection;
use crate::domain;

/// Items shown on one page.
pub const PAGE: i64 = 200;

/// Recent items of the operator's sites (newest first), with the names of those sites.
pub fn recent(
    conn: &mut DbConnection,
    operator_id: &str,
    status: Option<&str>,
) -> Result<(Vec<OutboxItem>, HashMap<String, String>), ServiceError> {
    let sites = Site::for_operator(conn, operator_id)?;
    let ids: Vec<String> = sites.iter().map(|(s, _)| s.id.to_string()).collect();
    let names = sites
        .into_iter()
        .map(|(s, _)| (s.id.into(), s.name))
        .collect();
    let statuses = status.map(|s| [s]);
    let items = OutboxItem::recent(conn, &ids, statuses.as_ref().map(|s| s.as_slice()), PAGE)?;
    Ok((items, names))
}

/// The item, if it belongs to one of the operator's sites.
pub fn visible(
    conn: &mut DbConnection,
    operator_id: &str,
    item_id: &str,
) -> Result<OutboxItem, ServiceError> {
    let item = OutboxItem::find(conn, item_id)?.ok_or(ServiceError::NotFound)?;
    let site_id = item.site_id.as_deref().ok_or(ServiceError::NotFound)?;
    crate::db::models::Membership::role_of(conn, site_id, operator_id)?
        .ok_or(ServiceError::NotFound)?;
    Ok(item)
}

/// Makes a failed item of the operator's sites due again now (attempts start over). `Conflict`
/// when it is not failed (already retried, or delivered).
pub fn retry(
    conn: &mut DbConnection,
    operator_id: &str,
    item_id: &str,
) -> Result<(), ServiceError> {
    let item = visible(conn, operator_id, item_id)?;
    if OutboxItem::retry_now(conn, &item.id, domain::now())? {
        Ok(())
    } else {
        Err(ServiceError::Conflict(
            "only a failed delivery can be retried".into(),
        ))
    }
}

/// Where the spooled mail of an item is, if the item is mail in the mail outbox directory.
pub fn spool_file(data_dir: &Path, item: &OutboxItem) -> Option<PathBuf> {
    if item.channel != "email" || item.status != "spooled" {
        return None;
    }
    // The same file name the mailer wrote (the id, with only safe characters).
    let name: String = item
        .id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if name.is_empty() {
        return None;
    }
    Some(crate::outbound::mail::spool_dir(data_dir).join(format!("{name}.eml")))
}
