//! The console home: the operator's sites, each with how far its first steps got (snippet embedded,
//! first visitor, a conversation). Whether the operator is available now comes from
//! [`super::availability`], not from the database.

use crate::db::models::{FirstSteps, Site};
use crate::db::DbConnection;

/// One of the operator's sites on the console home.
pub struct HomeSite {
    /// The site.
    pub site: Site,
    /// The operator's role there.
    pub role: String,
    /// What the site has already seen.
    pub steps: FirstSteps,
}

/// The operator's sites, by name, with their first steps.
pub fn home_sites(
    conn: &mut DbConnection,
    operator_id: &str,
) -> Result<Vec<HomeSite>, super::ServiceError> {
    let sites = Site::for_operator(conn, operator_id)?;
    let mut out = Vec::with_capacity(sites.len());
    for (site, role) in sites {
        let steps = FirstSteps::of_site(conn, &site.id)?;
        out.push(HomeSite { site, role, steps });
    }
    Ok(out)
}
