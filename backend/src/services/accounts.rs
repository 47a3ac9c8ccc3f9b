//! Creating operators and sites, and joining them: shared by the setup page, the CLI and the console.

use super::ServiceError;
use crate::db::models::{Membership, Operator, Role, Site};
use crate::db::{DbConnection, DbError};
use crate::domain::{
    self, AllowedOrigins, DisplayName, Email, Handle, Password, SiteName, SiteSlug,
};
use crate::secrets;

/// A new operator account, parsed.
#[derive(Debug, Clone)]
pub struct NewOperator {
    /// Login email.
    pub email: Email,
    /// Chat URL handle.
    pub handle: Handle,
    /// Shown name.
    pub display_name: DisplayName,
    /// Initial password.
    pub password: Password,
    /// Phone in E.164, if given.
    pub phone: Option<String>,
}

/// A new site, parsed.
#[derive(Debug, Clone)]
pub struct NewSite {
    /// Shown name.
    pub name: SiteName,
    /// Help-desk URL slug.
    pub slug: SiteSlug,
    /// Origins the widget may run on (empty: any).
    pub allowed_origins: AllowedOrigins,
}

/// Builds the operator row, hashing the password (slow by design: call off the async workers).
pub fn operator_row(new: &NewOperator) -> Result<Operator, ServiceError> {
    Ok(Operator {
        id: domain::new_id().into(),
        email: new.email.as_ref().to_owned(),
        handle: new.handle.as_ref().to_owned(),
        display_name: new.display_name.as_ref().to_owned(),
        password_hash: secrets::hash_password(new.password.expose())?,
        phone: new.phone.clone(),
        availability: "offline".to_owned(),
        notify_sms: false,
        created_at: domain::now(),
        disabled_at: None,
    })
}

/// Builds the site row with fresh random keys.
pub fn site_row(new: &NewSite) -> Site {
    Site {
        id: domain::new_id().into(),
        // A short, URL-safe, unguessable key: the public part of the embed code.
        public_key: secrets::random_token()[..22].to_owned(),
        slug: new.slug.as_ref().to_owned(),
        name: new.name.as_ref().to_owned(),
        allowed_origins: new.allowed_origins.to_json(),
        custom_domain: None,
        identity_secret: secrets::random_token(),
        settings: "{}".to_owned(),
        forced_status: None,
        created_at: domain::now(),
    }
}

/// Inserts an operator; a taken email, handle or phone is a [`ServiceError::Conflict`].
pub fn insert_operator(conn: &mut DbConnection, operator: &Operator) -> Result<(), ServiceError> {
    operator.insert(conn).map_err(|e| {
        conflict_or_db(
            e,
            "an operator with this email, handle or phone already exists",
        )
    })
}

/// Inserts a site; a taken slug is a [`ServiceError::Conflict`].
pub fn insert_site(conn: &mut DbConnection, site: &Site) -> Result<(), ServiceError> {
    site.insert(conn)
        .map_err(|e| conflict_or_db(e, "a site with this slug already exists"))
}

/// Makes `operator_id` a member of `site_id` with `role`.
pub fn add_member(
    conn: &mut DbConnection,
    site_id: &str,
    operator_id: &str,
    role: Role,
) -> Result<(), ServiceError> {
    Membership {
        site_id: site_id.into(),
        operator_id: operator_id.into(),
        role: role.as_str().to_owned(),
        created_at: domain::now(),
    }
    .insert(conn)
    .map_err(|e| conflict_or_db(e, "the operator already belongs to this site"))
}

/// Creates an operator and, if a site is named, adds them to it with `role`; all or nothing.
pub fn create_operator(
    conn: &mut DbConnection,
    new: &NewOperator,
    site: Option<(&Site, Role)>,
) -> Result<Operator, ServiceError> {
    let operator = operator_row(new)?;
    crate::db::write_transaction(conn, |conn| {
        insert_operator(conn, &operator)?;
        if let Some((site, role)) = site {
            add_member(conn, &site.id, &operator.id, role)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    Ok(operator)
}

/// Creates a site and, if an owner is named, makes them its owner; all or nothing.
pub fn create_site(
    conn: &mut DbConnection,
    new: &NewSite,
    owner: Option<&Operator>,
) -> Result<Site, ServiceError> {
    let site = site_row(new);
    crate::db::write_transaction(conn, |conn| {
        insert_site(conn, &site)?;
        if let Some(owner) = owner {
            add_member(conn, &site.id, &owner.id, Role::Owner)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    Ok(site)
}

fn conflict_or_db(e: diesel::result::Error, message: &str) -> ServiceError {
    let e = DbError::Query(e);
    if e.is_unique_violation() {
        ServiceError::Conflict(message.to_owned())
    } else {
        ServiceError::Db(e)
    }
}

/// Creates an operator from the command line, on the site with `site_slug` with `role` when one
/// is named (a slug that names no site is an error saying so, which the CLI prints).
pub fn add_operator(
    conn: &mut DbConnection,
    new: &NewOperator,
    site_slug: Option<&str>,
    role: Role,
) -> Result<Operator, ServiceError> {
    let site = match site_slug {
        Some(slug) => Some(Site::find_by_slug(conn, slug)?.ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("no site with slug '{slug}'"))
        })?),
        None => None,
    };
    create_operator(conn, new, site.as_ref().map(|s| (s, role)))
}

/// Registers a site from the command line, owned by the operator with `owner_email` when one is
/// named (an email that names no operator is an error saying so).
pub fn add_site(
    conn: &mut DbConnection,
    new: &NewSite,
    owner_email: Option<&str>,
) -> Result<Site, ServiceError> {
    let owner = match owner_email {
        Some(email) => Some(
            Operator::find_by_email(conn, &email.trim().to_lowercase())?.ok_or_else(|| {
                ServiceError::Internal(anyhow::anyhow!("no operator with email '{email}'"))
            })?,
        ),
        None => None,
    };
    create_site(conn, new, owner.as_ref())
}
