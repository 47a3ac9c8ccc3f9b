use diesel::prelude::*;

use crate::db::schema::memberships;
use crate::db::DbConnection;
use crate::domain::{OperatorId, SiteId};

/// What an operator may do on a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Owns the site: everything, including deleting it and managing admins.
    Owner,
    /// Manages operators, texts, rules and limits.
    Admin,
    /// Chats with visitors.
    Agent,
}

impl Role {
    /// The stored name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    /// Parses a stored or typed role name.
    pub fn parse(raw: &str) -> Option<Role> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }
}

/// An operator's membership of a site, with a role.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct Membership {
    /// The site.
    pub site_id: SiteId,
    /// The operator.
    pub operator_id: OperatorId,
    /// `owner`, `admin` or `agent` (see [`Role`]).
    pub role: String,
    /// When the operator joined the site (UTC).
    pub created_at: chrono::NaiveDateTime,
}

impl Membership {
    /// Inserts this membership.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(memberships::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The operator's role on a site, if they belong to it.
    pub fn role_of(
        conn: &mut DbConnection,
        site_id: &str,
        operator_id: &str,
    ) -> QueryResult<Option<Role>> {
        let role: Option<String> = memberships::table
            .filter(memberships::site_id.eq(site_id))
            .filter(memberships::operator_id.eq(operator_id))
            .select(memberships::role)
            .first(conn)
            .optional()?;
        Ok(role.as_deref().and_then(Role::parse))
    }
}
