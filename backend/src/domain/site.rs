use super::operator::parse_slug_like;
use super::{trimmed, InvalidInput};

/// A site's name as shown in the console and to visitors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteName(String);

impl SiteName {
    /// Parses a site name (1 to 100 characters).
    pub fn parse(raw: &str) -> Result<SiteName, InvalidInput> {
        trimmed("site_name", raw, 1, 100).map(SiteName)
    }
}

impl AsRef<str> for SiteName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The `SLUG` of a site's help-desk URL `/s/SLUG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSlug(String);

impl SiteSlug {
    /// Parses a slug: 2 to 48 of `a-z 0-9 - _`.
    pub fn parse(raw: &str) -> Result<SiteSlug, InvalidInput> {
        let value = trimmed("site_slug", raw, 2, 48)?.to_lowercase();
        parse_slug_like("site_slug", &value)?;
        Ok(SiteSlug(value))
    }

    /// Derives a slug from a site name ("Ann's Shop" -> "ann-s-shop"), for when the owner gives none.
    pub fn from_name(name: &SiteName) -> Result<SiteSlug, InvalidInput> {
        let mut slug = String::new();
        for c in name.as_ref().chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug: String = slug.trim_end_matches('-').chars().take(48).collect();
        SiteSlug::parse(&slug)
    }
}

impl AsRef<str> for SiteSlug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The exact origins (`scheme://host[:port]`) a site's widget may run on. Empty means any origin.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// Parses origins separated by commas, spaces or new lines. Each must be an http(s) origin with
    /// no path; it is normalised the way browsers send it in the `Origin` header.
    pub fn parse(raw: &str) -> Result<AllowedOrigins, InvalidInput> {
        let mut origins = Vec::new();
        for item in raw.split(|c: char| c == ',' || c.is_whitespace()) {
            if item.is_empty() {
                continue;
            }
            let url = url::Url::parse(item).map_err(|_| {
                InvalidInput::new(
                    "allowed_origins",
                    format!("'{item}' is not an origin like https://shop.example.com"),
                )
            })?;
            let path_ok = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !path_ok {
                return Err(InvalidInput::new(
                    "allowed_origins",
                    format!("'{item}' is not an origin like https://shop.example.com"),
                ));
            }
            let origin = url.origin().ascii_serialization();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(AllowedOrigins(origins))
    }

    /// The origins, normalised.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The JSON text stored in `sites.allowed_origins`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_derived_from_name() {
        let name = SiteName::parse("Ann's Shop!").unwrap();
        assert_eq!(SiteSlug::from_name(&name).unwrap().as_ref(), "ann-s-shop");
    }

    #[test]
    fn origins_are_normalised_and_paths_refused() {
        let o = AllowedOrigins::parse("https://Shop.example.com, http://localhost:3000/").unwrap();
        assert_eq!(
            o.as_slice(),
            ["https://shop.example.com", "http://localhost:3000"]
        );
        assert!(AllowedOrigins::parse("https://shop.example.com/cart").is_err());
        assert!(AllowedOrigins::parse("ftp://x.com").is_err());
        assert!(AllowedOrigins::parse("").unwrap().as_slice().is_empty());
    }
}
