//! Ids of the stored things, one type each, so a visitor's id can never be passed where a site's is
//! wanted. They are text in the database (application-generated UUIDv7s), mapped to the existing
//! `TEXT` columns with no data migration, for any diesel backend whose `String` maps to `Text`
//! (SQLite, PostgreSQL and the multi-connection backend over both).

/// A new application-generated primary key: a UUIDv7 as text, so ids sort by creation time and inserts
/// need no backend-specific `RETURNING`.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Defines a text id newtype. It reads as a `&str` wherever one is wanted (`Deref`, `AsRef`,
/// `Borrow`, comparisons with strings), so code that passes `&site.id` to a `&str` parameter keeps
/// working; it is transparent in JSON, so the wire format does not change.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            serde::Serialize,
            serde::Deserialize,
            diesel::expression::AsExpression,
            diesel::deserialize::FromSqlRow,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub struct $name(String);

        impl $name {
            /// A new id (UUIDv7, so ids sort by creation time).
            pub fn generate() -> $name {
                $name(new_id())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_owned())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> $name {
                $name(id.clone())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.0.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<$name> {
                <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(
                    bytes,
                )
                .map($name)
            }
        }
    };
}

text_id! {
    /// A site's id (`sites.id`).
    SiteId
}
text_id! {
    /// A conversation's id (`conversations.id`).
    ConversationId
}
text_id! {
    /// A guest's id (`visitors.id`; not the guest id shown to operators, `visitors.guest_id`).
    VisitorId
}
text_id! {
    /// An operator's id (`operators.id`).
    OperatorId
}
text_id! {
    /// A message's id (`messages.id`).
    MessageId
}
text_id! {
    /// An invitation's id (`invitations.id`).
    InvitationId
}
text_id! {
    /// A call's id (`calls.id`).
    CallId
}
text_id! {
    /// An attachment's id (`attachments.id`).
    AttachmentId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_as_its_text() {
        let id = SiteId::from("abc");
        assert_eq!(id, "abc");
        assert_eq!("abc", id);
        assert_eq!(id, "abc".to_owned());
        assert_eq!(&*id, "abc");
        assert_eq!(id.to_string(), "abc");
        let takes_str = |s: &str| s.len();
        assert_eq!(takes_str(&id), 3);
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""abc""#);
        assert_eq!(serde_json::from_str::<SiteId>(r#""abc""#).unwrap(), id);
    }

    #[test]
    fn generated_ids_differ() {
        let (a, b) = (ConversationId::generate(), ConversationId::generate());
        assert_ne!(a, b);
    }

    #[test]
    fn a_set_of_ids_is_searched_by_str() {
        let set: std::collections::HashSet<OperatorId> = [OperatorId::from("op1")].into();
        assert!(set.contains("op1"));
    }
}
