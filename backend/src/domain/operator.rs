use super::{trimmed, InvalidInput};

/// An operator's login email, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an email address: one `@`, a dot in the domain, no spaces, at most 254 characters.
    pub fn parse(raw: &str) -> Result<Email, InvalidInput> {
        let value = trimmed("email", raw, 1, 254)?.to_lowercase();
        let valid = match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !value
                        .chars()
                        .any(|c| c.is_whitespace() || c == '<' || c == '>')
            }
            None => false,
        };
        if valid {
            Ok(Email(value))
        } else {
            Err(InvalidInput::new("email", "is not a valid email address"))
        }
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// An operator's handle, the `HANDLE` of the chat URL `/u/HANDLE`: 2 to 32 of `a-z 0-9 - _`,
/// starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle(String);

impl Handle {
    /// Parses a handle; upper case is folded to lower case.
    pub fn parse(raw: &str) -> Result<Handle, InvalidInput> {
        let value = trimmed("handle", raw, 2, 32)?.to_lowercase();
        parse_slug_like("handle", &value)?;
        Ok(Handle(value))
    }
}

impl AsRef<str> for Handle {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks the `a-z 0-9 - _` alphabet shared by handles and site slugs.
pub(super) fn parse_slug_like(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(InvalidInput::new(
            field,
            "may contain only a-z, 0-9, '-' and '_', and must start with a letter or digit",
        ))
    }
}

/// A person's name as shown to others (1 to 80 characters, no control characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a display name.
    pub fn parse(raw: &str) -> Result<DisplayName, InvalidInput> {
        trimmed("display_name", raw, 1, 80).map(DisplayName)
    }
}

impl AsRef<str> for DisplayName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A new password: 10 to 256 characters. Never printed by `Debug`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Parses a password chosen by a person (not trimmed: spaces count).
    pub fn parse(raw: &str) -> Result<Password, InvalidInput> {
        let len = raw.chars().count();
        if len < 10 {
            return Err(InvalidInput::new(
                "password",
                "must be at least 10 characters",
            ));
        }
        if len > 256 {
            return Err(InvalidInput::new(
                "password",
                "must be at most 256 characters",
            ));
        }
        Ok(Password(raw.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_ref(),
            "ann@example.com"
        );
        assert!(Email::parse("ann@example").is_err());
        assert!(Email::parse("ann example@x.com").is_err());
        assert!(Email::parse("a@b@c.com").is_err());
    }

    #[test]
    fn handle_allows_only_url_safe_characters() {
        assert_eq!(Handle::parse("Alice_1").unwrap().as_ref(), "alice_1");
        assert!(Handle::parse("-alice").is_err());
        assert!(Handle::parse("al ice").is_err());
        assert!(Handle::parse("a").is_err());
    }

    #[test]
    fn password_length_is_enforced_and_hidden_from_debug() {
        assert!(Password::parse("short").is_err());
        let p = Password::parse("long enough secret").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }

    #[test]
    fn display_name_rejects_control_characters() {
        assert!(DisplayName::parse("Ann\nBcc: x").is_err());
        assert_eq!(DisplayName::parse("  Ann  ").unwrap().as_ref(), "Ann");
    }
}
