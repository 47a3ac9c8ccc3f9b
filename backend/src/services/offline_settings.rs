//! A site's offline settings: forced status, business hours, the SMS number that routes inbound
//! texts to it, and its email templates (settings keys `business_hours`, `sms_number`,
//! `email_templates`).

use diesel::Connection as _;

use super::availability::{BusinessHours, DAYS};
use super::ServiceError;
use crate::db::models::Site;
use crate::db::DbConnection;
use crate::domain::SiteSettingsPatch;
use crate::outbound::templates::{Template, TemplateName};

/// The form's fields.
#[derive(Debug, Clone, Default)]
pub struct RawOfflineSettings {
    /// `auto`, `online` or `offline`.
    pub forced: String,
    /// IANA zone (empty: no business hours).
    pub tz: String,
    /// Intervals per weekday, `mon` first.
    pub days: [String; 7],
    /// E.164 number of the site's SMS line, or empty.
    pub sms_number: String,
    /// Per template key: subject and body (an empty body restores the built-in template).
    pub templates: Vec<(String, String, String)>,
}

/// Parsed settings, ready to save.
#[derive(Debug, Clone)]
pub struct OfflineSettings {
    forced: Option<&'static str>,
    patch: SiteSettingsPatch,
}

impl OfflineSettings {
    /// Checks every field; the message names the first problem.
    pub fn parse(raw: &RawOfflineSettings) -> Result<OfflineSettings, String> {
        let forced = match raw.forced.as_str() {
            "online" => Some("online"),
            "offline" => Some("offline"),
            "" | "auto" => None,
            _ => return Err("status must be automatic, online or offline".into()),
        };
        let tz = raw.tz.trim();
        let hours = if tz.is_empty() {
            if raw.days.iter().any(|d| !d.trim().is_empty()) {
                return Err("business hours need a time zone, like Europe/Berlin".into());
            }
            None
        } else {
            let hours = BusinessHours {
                tz: tz.to_owned(),
                days: DAYS
                    .iter()
                    .zip(raw.days.iter())
                    .filter(|(_, spec)| !spec.trim().is_empty())
                    .map(|(d, spec)| ((*d).to_owned(), spec.trim().to_owned()))
                    .collect(),
            };
            hours.validate()?;
            Some(hours)
        };
        let number = raw.sms_number.trim();
        let sms = if number.is_empty() {
            None
        } else if number.starts_with('+')
            && (8..=16).contains(&number.len())
            && number[1..].bytes().all(|b| b.is_ascii_digit())
        {
            Some(number.to_owned())
        } else {
            return Err("the SMS number must be in E.164 form, like +4930123456".into());
        };
        let mut templates = std::collections::BTreeMap::new();
        for (key, subject, body) in &raw.templates {
            let Some(name) = TemplateName::from_key(key) else {
                continue;
            };
            if body.trim().is_empty() {
                continue;
            }
            let template = Template {
                subject: subject.trim().to_owned(),
                body: body.replace("\r\n", "\n"),
            };
            if template == name.default_template() {
                continue;
            }
            template
                .validate()
                .map_err(|e| format!("{}: {e}", name.title()))?;
            templates.insert(key.clone(), template);
        }
        Ok(OfflineSettings {
            forced,
            patch: SiteSettingsPatch {
                business_hours: Some(hours),
                sms_number: Some(sms),
                email_templates: Some(templates),
                ..SiteSettingsPatch::default()
            },
        })
    }
}

/// Saves the settings of a site.
pub fn save(
    conn: &mut DbConnection,
    site_id: &str,
    s: &OfflineSettings,
) -> Result<(), ServiceError> {
    conn.transaction(|conn| {
        Site::update_settings(conn, site_id, &s.patch)?;
        Site::set_forced_status(conn, site_id, s.forced)?;
        Ok(())
    })
}

/// "Change offline settings": commits them, then invalidates what reads them (the site cache, and
/// the availability watcher, since forced status and hours decide whether the site is online).
pub async fn change(
    state: &crate::state::AppState,
    site: &crate::db::models::Site,
    settings: OfflineSettings,
) -> Result<(), ServiceError> {
    let id = site.id.clone();
    super::run(&state.db, move |conn| save(conn, &id, &settings)).await?;
    super::sites::settings_changed(state, site);
    Ok(())
}

impl RawOfflineSettings {
    /// The form's fields as the site has them now.
    pub fn of_site(site: &crate::db::models::Site) -> RawOfflineSettings {
        use crate::outbound::templates;
        let settings = site.settings();
        let hours = settings.business_hours.clone();
        let mut days: [String; 7] = Default::default();
        if let Some(h) = &hours {
            for (i, d) in DAYS.iter().enumerate() {
                days[i] = h.days.get(*d).cloned().unwrap_or_default();
            }
        }
        RawOfflineSettings {
            forced: site.forced_status.clone().unwrap_or_else(|| "auto".into()),
            tz: hours.map(|h| h.tz).unwrap_or_default(),
            days,
            sms_number: settings.sms_number.clone().unwrap_or_default(),
            templates: TemplateName::ALL
                .iter()
                .map(|t| {
                    let tpl = templates::of_site(&settings, *t);
                    (t.key().to_owned(), tpl.subject, tpl.body)
                })
                .collect(),
        }
    }

    /// The form as posted, field by field (template fields are named `subject_KEY` / `body_KEY`).
    pub fn from_fields(fields: &[(String, String)]) -> RawOfflineSettings {
        let mut raw = RawOfflineSettings::default();
        let mut subjects = std::collections::HashMap::new();
        let mut bodies = std::collections::HashMap::new();
        for (k, v) in fields {
            match k.as_str() {
                "forced" => raw.forced = v.clone(),
                "tz" => raw.tz = v.clone(),
                "sms_number" => raw.sms_number = v.clone(),
                key => {
                    if let Some(i) = DAYS.iter().position(|d| *d == key) {
                        raw.days[i] = v.clone();
                    } else if let Some(t) = key.strip_prefix("subject_") {
                        subjects.insert(t.to_owned(), v.clone());
                    } else if let Some(t) = key.strip_prefix("body_") {
                        bodies.insert(t.to_owned(), v.clone());
                    }
                }
            }
        }
        raw.templates = TemplateName::ALL
            .iter()
            .map(|t| {
                let key = t.key().to_owned();
                let subject = subjects.remove(&key).unwrap_or_default();
                let body = bodies.remove(&key).unwrap_or_default();
                (key, subject, body)
            })
            .collect();
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawOfflineSettings {
        RawOfflineSettings {
            forced: "auto".into(),
            tz: "Europe/Berlin".into(),
            days: [
                "09:00-17:00".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            ..RawOfflineSettings::default()
        }
    }

    #[test]
    fn good_settings_parse_and_bad_ones_say_why() {
        assert!(OfflineSettings::parse(&raw()).is_ok());
        let mut r = raw();
        r.tz = "Nowhere/City".into();
        assert!(OfflineSettings::parse(&r)
            .unwrap_err()
            .contains("time zone"));
        let mut r = raw();
        r.sms_number = "0301234".into();
        assert!(OfflineSettings::parse(&r).unwrap_err().contains("E.164"));
        let mut r = raw();
        r.templates = vec![("transcript".into(), "Hi".into(), "{{#each}".into())];
        assert!(OfflineSettings::parse(&r).is_err());
    }
}
