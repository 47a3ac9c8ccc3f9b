//! The closed sets of words stored in conversation and message rows: a conversation's status and
//! channel, a message's sender kind. They map to the existing `TEXT` columns (same words, no data
//! migration) and to the same lowercase strings in JSON.

/// The error of a word that is not one of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {what}")]
pub struct UnknownValue {
    /// Which enum it was meant for.
    pub what: &'static str,
    /// The word that was read.
    pub value: String,
}

/// Defines an enum stored as one lowercase word. Reading a word that is not a variant fails with a
/// clear error (in a query: a deserialisation error naming the value), never a silent default.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<$name, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue { what: $what, value: other.to_owned() }),
                }
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.as_str()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let word = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                word.parse().map_err(serde::de::Error::custom)
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
                    self.as_str(),
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
                let word =
                    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(
                        bytes,
                    )?;
                Ok(word.parse::<$name>()?)
            }
        }
    };
}

pub(crate) use text_enum;

text_enum! {
    /// Where a conversation stands (`conversations.status`).
    ConversationStatus, "conversation status" {
        /// Started, no operator has taken it yet.
        Waiting = "waiting",
        /// An operator is handling it.
        Open = "open",
        /// Ended.
        Closed = "closed",
    }
}

text_enum! {
    /// How a conversation reached the site (`conversations.channel`).
    Channel, "channel" {
        /// The widget's chat panel on the site's own pages.
        Widget = "widget",
        /// A full-page chat URL (`/s/SLUG`, `/u/HANDLE`, `/p/PHONE`).
        Page = "page",
        /// A leave-a-message form while nobody was available.
        Offline = "offline",
        /// Inbound email.
        Email = "email",
        /// Inbound SMS.
        Sms = "sms",
    }
}

text_enum! {
    /// Who wrote a message (`messages.sender_kind`).
    SenderKind, "sender kind" {
        /// The guest (visitor).
        Guest = "guest",
        /// An operator.
        Operator = "operator",
        /// Beckon itself.
        System = "system",
    }
}

impl Channel {
    /// Whether the guest of this channel is reached outside a live panel (email or SMS), so
    /// operator replies are forwarded to them.
    pub fn reached_outside(self) -> bool {
        matches!(self, Channel::Offline | Channel::Email | Channel::Sms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_ones_are_refused() {
        for s in ConversationStatus::ALL {
            assert_eq!(s.as_str().parse::<ConversationStatus>(), Ok(*s));
        }
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(*c));
        }
        for k in SenderKind::ALL {
            assert_eq!(k.as_str().parse::<SenderKind>(), Ok(*k));
        }
        let err = "archived".parse::<ConversationStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#""archived" is not a known conversation status"#
        );
        assert!(
            "Open".parse::<ConversationStatus>().is_err(),
            "words are case-sensitive"
        );
    }

    #[test]
    fn json_uses_the_same_words() {
        assert_eq!(serde_json::to_string(&Channel::Sms).unwrap(), r#""sms""#);
        assert_eq!(
            serde_json::from_str::<SenderKind>(r#""operator""#).unwrap(),
            SenderKind::Operator
        );
        assert!(serde_json::from_str::<SenderKind>(r#""robot""#).is_err());
        assert_eq!(
            serde_json::json!({"status": ConversationStatus::Waiting}),
            serde_json::json!({"status": "waiting"})
        );
    }

    #[test]
    fn values_compare_with_their_words() {
        assert!(ConversationStatus::Closed == "closed");
        assert!(ConversationStatus::Open != "closed");
        assert!("sms" == Channel::Sms);
    }
}
