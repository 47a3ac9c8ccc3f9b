//! Site owners' webhooks: registering a URL for events (with a signing secret made here) and
//! removing it. Only owners and admins of the site may do either.

use super::ServiceError;
use crate::db::models::Webhook;
use crate::db::DbConnection;
use crate::domain::{self, InvalidInput};
use crate::outbound::{events, webhook};
use crate::secrets;

/// Most hooks one site may register.
pub const MAX_HOOKS_PER_SITE: usize = 20;

/// A site's registered hooks.
pub fn of_site(conn: &mut DbConnection, site_id: &str) -> Result<Vec<Webhook>, ServiceError> {
    Ok(Webhook::of_site(conn, site_id)?)
}

/// A hook to register, parsed: a well-formed http(s) URL and at least one known event.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    url: url::Url,
    events: Vec<String>,
}

impl NewWebhook {
    /// Parses the add form: the URL must be http(s) with a host and no credentials (where it
    /// points is checked at each delivery), and every event must be one of [`events::ALL`].
    pub fn parse(url: &str, picked: &[String]) -> Result<NewWebhook, InvalidInput> {
        if url.trim().len() > 2000 {
            return Err(InvalidInput::new("url", "is longer than 2000 characters"));
        }
        let url = webhook::check_url(url).map_err(|m| InvalidInput::new("url", m))?;
        let mut events = Vec::new();
        for name in picked {
            let Some(known) = events::ALL.iter().find(|e| **e == name.as_str()) else {
                return Err(InvalidInput::new(
                    "event",
                    format!("unknown event {name:?}"),
                ));
            };
            if !events.iter().any(|e: &String| e == known) {
                events.push((*known).to_owned());
            }
        }
        if events.is_empty() {
            return Err(InvalidInput::new("event", "pick at least one event"));
        }
        Ok(NewWebhook { url, events })
    }
}

/// Registers a hook on the site with a new signing secret; answers it.
pub fn create(
    conn: &mut DbConnection,
    site_id: &str,
    new: &NewWebhook,
) -> Result<Webhook, ServiceError> {
    if Webhook::of_site(conn, site_id)?.len() >= MAX_HOOKS_PER_SITE {
        return Err(ServiceError::Conflict(format!(
            "a site may have at most {MAX_HOOKS_PER_SITE} webhooks"
        )));
    }
    let hook = Webhook {
        id: domain::new_id(),
        site_id: site_id.to_owned().into(),
        url: new.url.to_string(),
        events: serde_json::to_string(&new.events).map_err(anyhow::Error::from)?,
        secret: format!("whsec_{}", secrets::random_token()),
        created_at: domain::now(),
    };
    hook.insert(conn)?;
    Ok(hook)
}

/// Removes the site's hook; `NotFound` when the site has no such hook. Deliveries still queued
/// for it fail ("the webhook was deleted").
pub fn delete(conn: &mut DbConnection, site_id: &str, hook_id: &str) -> Result<(), ServiceError> {
    if Webhook::delete(conn, site_id, hook_id)? {
        Ok(())
    } else {
        Err(ServiceError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_hooks_need_a_good_url_and_known_events() {
        let ev = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let ok = NewWebhook::parse(
            " https://example.com/hook ",
            &ev(&["message.created", "message.created"]),
        )
        .unwrap();
        assert_eq!(ok.events, vec!["message.created"]);
        assert_eq!(ok.url.as_str(), "https://example.com/hook");
        assert!(NewWebhook::parse("https://example.com/", &[]).is_err());
        assert!(NewWebhook::parse("https://example.com/", &ev(&["everything"])).is_err());
        assert!(NewWebhook::parse("javascript:alert(1)", &ev(&["message.created"])).is_err());
        assert!(NewWebhook::parse("http://u:p@example.com/", &ev(&["message.created"])).is_err());
    }
}
