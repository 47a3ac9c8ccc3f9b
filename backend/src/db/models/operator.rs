use diesel::prelude::*;

use crate::db::schema::{memberships, operators};
use crate::db::DbConnection;
use crate::domain::OperatorId;

/// A registered support agent who logs in to the console.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = operators)]
pub struct Operator {
    /// Primary key (UUIDv7).
    pub id: OperatorId,
    /// Login email, lower case, unique.
    pub email: String,
    /// The `HANDLE` of `/u/HANDLE`, unique.
    pub handle: String,
    /// Name shown to visitors and colleagues.
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Phone number in E.164, unique when set.
    pub phone: Option<String>,
    /// `available`, `away` or `offline`.
    pub availability: String,
    /// Whether new offline messages are sent to the phone by SMS.
    pub notify_sms: bool,
    /// When the account was created (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// When the account was disabled, if it was.
    pub disabled_at: Option<chrono::NaiveDateTime>,
}

impl Operator {
    /// Inserts this operator.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(operators::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The operator with this (lower-case) email.
    pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<Operator>> {
        operators::table
            .filter(operators::email.eq(email))
            .select(Operator::as_select())
            .first(conn)
            .optional()
    }

    /// The operator with this (lower-case) handle.
    pub fn find_by_handle(conn: &mut DbConnection, handle: &str) -> QueryResult<Option<Operator>> {
        operators::table
            .filter(operators::handle.eq(handle))
            .select(Operator::as_select())
            .first(conn)
            .optional()
    }

    /// The operator with this phone number (E.164).
    pub fn find_by_phone(conn: &mut DbConnection, phone: &str) -> QueryResult<Option<Operator>> {
        operators::table
            .filter(operators::phone.eq(phone))
            .select(Operator::as_select())
            .first(conn)
            .optional()
    }

    /// The operator with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Operator>> {
        operators::table
            .find(id)
            .select(Operator::as_select())
            .first(conn)
            .optional()
    }

    /// Whether any site has an owner yet (before that, Beckon offers the setup link).
    pub fn owner_exists(conn: &mut DbConnection) -> QueryResult<bool> {
        let owners: i64 = memberships::table
            .filter(memberships::role.eq(super::Role::Owner.as_str()))
            .count()
            .get_result(conn)?;
        Ok(owners > 0)
    }
}
