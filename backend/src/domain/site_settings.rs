//! A site's widget and behaviour settings (`sites.settings`, JSON kept as text): read through one
//! parser, changed through one patch, checked before they are written.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::InvalidInput;
use crate::outbound::templates::{Template, TemplateName};
use crate::services::availability::BusinessHours;

/// The settings of one site, with the defaults Beckon has always used for a missing key.
///
/// Keys this version does not know, and stored values that did not parse, are kept verbatim and
/// written back unchanged, so reading and saving a site never destroys what another version (or a
/// hand edit) put there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteSettings {
    /// Accent colour of the launcher and panel (`#rrggbb`), if set.
    pub colour: Option<String>,
    /// Launcher position, `left` or `right` (none: right).
    pub position: Option<String>,
    /// Greeting text shown in the panel, if set.
    pub greeting: Option<String>,
    /// Text shown when nobody is available, if set.
    pub offline: Option<String>,
    /// Give new chats to the least busy available operator.
    pub auto_assign: bool,
    /// Operators see what the guest types before it is sent (the guest is told in the panel).
    pub typing_preview: bool,
    /// Visitors may start voice and video calls (operators always may).
    pub guest_calls: bool,
    /// Business hours; none means always within hours.
    pub business_hours: Option<BusinessHours>,
    /// E.164 number of the site's SMS line, which routes inbound texts to it.
    pub sms_number: Option<String>,
    /// Email templates the owner changed, by [`TemplateName::key`].
    pub email_templates: BTreeMap<String, Template>,
    /// Unknown keys and values that did not parse, written back as they were.
    kept: Map<String, Value>,
}

impl SiteSettings {
    /// Parses the stored JSON of site `site_id`. Each key is read on its own, so one bad value
    /// does not reset the others; a value that does not parse is logged with the site id (and
    /// kept for writing back), and the field takes its default.
    pub fn parse(site_id: &str, json: &str) -> SiteSettings {
        let mut map = match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                tracing::warn!(site = %site_id, "site settings are not a JSON object; using defaults");
                return SiteSettings::default();
            }
            Err(e) => {
                tracing::warn!(site = %site_id, error = %e, "site settings are not valid JSON; using defaults");
                return SiteSettings::default();
            }
        };
        let mut kept = Map::new();
        let mut field =
            |key: &'static str| -> Option<Value> { map.remove(key).filter(|v| !v.is_null()) };
        let (colour, position, greeting, offline, auto_assign, typing_preview) = (
            field("colour"),
            field("position"),
            field("greeting"),
            field("offline"),
            field("auto_assign"),
            field("typing_preview"),
        );
        let guest_calls = field("guest_calls");
        let (hours, sms, templates) = (
            field("business_hours"),
            field("sms_number"),
            field("email_templates"),
        );
        let mut settings = SiteSettings {
            colour: typed(site_id, "colour", colour, &mut kept),
            position: typed(site_id, "position", position, &mut kept),
            greeting: typed(site_id, "greeting", greeting, &mut kept),
            offline: typed(site_id, "offline", offline, &mut kept),
            auto_assign: typed(site_id, "auto_assign", auto_assign, &mut kept).unwrap_or(false),
            typing_preview: typed(site_id, "typing_preview", typing_preview, &mut kept)
                .unwrap_or(false),
            guest_calls: typed(site_id, "guest_calls", guest_calls, &mut kept).unwrap_or(false),
            business_hours: typed(site_id, "business_hours", hours, &mut kept),
            sms_number: typed(site_id, "sms_number", sms, &mut kept),
            email_templates: BTreeMap::new(),
            kept: Map::new(),
        };
        if let Some(templates) = templates {
            match templates {
                Value::Object(entries) => {
                    for (key, value) in entries {
                        match serde_json::from_value::<Template>(value) {
                            Ok(t) => {
                                settings.email_templates.insert(key, t);
                            }
                            Err(e) => tracing::warn!(
                                site = %site_id, template = %key, error = %e,
                                "a stored email template does not parse; the built-in one is used"
                            ),
                        }
                    }
                }
                other => {
                    tracing::warn!(site = %site_id, "site setting email_templates is not an object; the built-in templates are used");
                    kept.insert("email_templates".to_owned(), other);
                }
            }
        }
        // What is left are keys of other versions: keep them.
        kept.extend(map);
        settings.kept = kept;
        settings
    }

    /// The JSON text stored in `sites.settings`. Unset options are left out; values kept from
    /// parsing are written back as they were.
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(v) = value {
                map.insert(key.to_owned(), v);
            }
        };
        put("colour", self.colour.clone().map(Value::String));
        put("position", self.position.clone().map(Value::String));
        put("greeting", self.greeting.clone().map(Value::String));
        put("offline", self.offline.clone().map(Value::String));
        put("auto_assign", Some(Value::Bool(self.auto_assign)));
        put("typing_preview", Some(Value::Bool(self.typing_preview)));
        put("guest_calls", Some(Value::Bool(self.guest_calls)));
        put(
            "business_hours",
            self.business_hours
                .as_ref()
                .and_then(|h| serde_json::to_value(h).ok()),
        );
        put("sms_number", self.sms_number.clone().map(Value::String));
        if !self.email_templates.is_empty() {
            put(
                "email_templates",
                serde_json::to_value(&self.email_templates).ok(),
            );
        }
        for (k, v) in &self.kept {
            map.insert(k.clone(), v.clone());
        }
        Value::Object(map).to_string()
    }

    /// Applies a change: the fields the patch sets replace the current ones (a stored value that
    /// did not parse is then dropped); the rest stay.
    pub fn apply(&mut self, patch: &SiteSettingsPatch) {
        fn set<T: Clone>(
            kept: &mut Map<String, Value>,
            key: &str,
            field: &mut T,
            value: &Option<T>,
        ) {
            if let Some(v) = value {
                *field = v.clone();
                kept.remove(key);
            }
        }
        let kept = &mut self.kept;
        set(kept, "colour", &mut self.colour, &patch.colour);
        set(kept, "position", &mut self.position, &patch.position);
        set(kept, "greeting", &mut self.greeting, &patch.greeting);
        set(kept, "offline", &mut self.offline, &patch.offline);
        set(
            kept,
            "auto_assign",
            &mut self.auto_assign,
            &patch.auto_assign,
        );
        set(
            kept,
            "typing_preview",
            &mut self.typing_preview,
            &patch.typing_preview,
        );
        set(
            kept,
            "guest_calls",
            &mut self.guest_calls,
            &patch.guest_calls,
        );
        set(
            kept,
            "business_hours",
            &mut self.business_hours,
            &patch.business_hours,
        );
        set(kept, "sms_number", &mut self.sms_number, &patch.sms_number);
        set(
            kept,
            "email_templates",
            &mut self.email_templates,
            &patch.email_templates,
        );
    }

    /// The site's template `name` if the owner changed it and it still compiles, else the
    /// built-in one.
    pub fn template(&self, name: TemplateName) -> Template {
        self.email_templates
            .get(name.key())
            .filter(|t| t.validate().is_ok())
            .cloned()
            .unwrap_or_else(|| name.default_template())
    }
}

/// Reads one typed value; a value of the wrong shape is logged and kept in `kept`.
fn typed<T: DeserializeOwned>(
    site_id: &str,
    key: &'static str,
    value: Option<Value>,
    kept: &mut Map<String, Value>,
) -> Option<T> {
    let value = value?;
    match serde_json::from_value::<T>(value.clone()) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(
                site = %site_id, setting = key, error = %e,
                "a stored site setting does not parse; its default is used"
            );
            kept.insert(key.to_owned(), value);
            None
        }
    }
}

/// A change to a site's settings: each field that is `Some` replaces the current value (an inner
/// `None` clears an optional one); `None` leaves it as it is. Forms build one of these; the one
/// function that writes it is [`crate::db::models::Site::update_settings`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteSettingsPatch {
    /// New accent colour.
    pub colour: Option<Option<String>>,
    /// New launcher position.
    pub position: Option<Option<String>>,
    /// New greeting.
    pub greeting: Option<Option<String>>,
    /// New offline text.
    pub offline: Option<Option<String>>,
    /// New auto-assign choice.
    pub auto_assign: Option<bool>,
    /// New typing-preview choice.
    pub typing_preview: Option<bool>,
    /// New choice whether visitors may start calls.
    pub guest_calls: Option<bool>,
    /// New business hours.
    pub business_hours: Option<Option<BusinessHours>>,
    /// New SMS number.
    pub sms_number: Option<Option<String>>,
    /// New set of changed templates (replaces the whole set).
    pub email_templates: Option<BTreeMap<String, Template>>,
}

impl SiteSettingsPatch {
    /// Checks every value the patch sets; the error names the first bad field.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if let Some(Some(colour)) = &self.colour {
            let ok = colour.len() == 7
                && colour.starts_with('#')
                && colour[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(InvalidInput::new("colour", "must look like #2456d6"));
            }
        }
        if let Some(Some(position)) = &self.position {
            if position != "left" && position != "right" {
                return Err(InvalidInput::new("position", "must be left or right"));
            }
        }
        for (field, text) in [("greeting", &self.greeting), ("offline", &self.offline)] {
            if let Some(Some(t)) = text {
                if t.chars().count() > 300 || t.chars().any(char::is_control) {
                    return Err(InvalidInput::new(
                        field,
                        "must be one line of at most 300 characters",
                    ));
                }
            }
        }
        if let Some(Some(hours)) = &self.business_hours {
            hours
                .validate()
                .map_err(|e| InvalidInput::new("business_hours", e))?;
        }
        if let Some(Some(number)) = &self.sms_number {
            let ok = number.starts_with('+')
                && (8..=16).contains(&number.len())
                && number[1..].bytes().all(|b| b.is_ascii_digit());
            if !ok {
                return Err(InvalidInput::new(
                    "sms_number",
                    "must be in E.164 form, like +4930123456",
                ));
            }
        }
        if let Some(templates) = &self.email_templates {
            for (key, template) in templates {
                let name = TemplateName::from_key(key).ok_or_else(|| {
                    InvalidInput::new("email_templates", format!("{key:?} is not a template"))
                })?;
                template.validate().map_err(|e| {
                    InvalidInput::new("email_templates", format!("{}: {e}", name.title()))
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_missing_keys_give_the_defaults() {
        let s = SiteSettings::parse("s1", "{}");
        assert_eq!(s, SiteSettings::default());
        assert!(!s.auto_assign && !s.typing_preview);
        assert_eq!(
            s.template(TemplateName::Transcript),
            TemplateName::Transcript.default_template()
        );
    }

    #[test]
    fn every_key_is_read() {
        let json = serde_json::json!({
            "colour": "#112233", "position": "left", "greeting": "Hi", "offline": "Away",
            "auto_assign": true, "typing_preview": true,
            "business_hours": {"tz": "Europe/Berlin", "days": {"mon": "09:00-17:00"}},
            "sms_number": "+4930123456",
            "email_templates": {"transcript": {"subject": "S {{site_name}}", "body": "B"}},
        })
        .to_string();
        let s = SiteSettings::parse("s1", &json);
        assert_eq!(s.colour.as_deref(), Some("#112233"));
        assert_eq!(s.position.as_deref(), Some("left"));
        assert_eq!(s.greeting.as_deref(), Some("Hi"));
        assert_eq!(s.offline.as_deref(), Some("Away"));
        assert!(s.auto_assign && s.typing_preview);
        assert_eq!(
            s.business_hours.as_ref().map(|h| h.tz.as_str()),
            Some("Europe/Berlin")
        );
        assert_eq!(s.sms_number.as_deref(), Some("+4930123456"));
        assert_eq!(s.template(TemplateName::Transcript).body, "B");
        // Written and read again, nothing changes.
        assert_eq!(SiteSettings::parse("s1", &s.to_json()), s);
    }

    #[test]
    fn one_bad_value_resets_only_its_own_field_and_is_kept() {
        let json = r#"{"auto_assign": "yes", "typing_preview": true, "future_key": [1]}"#;
        let s = SiteSettings::parse("s1", json);
        assert!(!s.auto_assign, "an unreadable value takes the default");
        assert!(s.typing_preview, "the other keys are still read");
        let written: Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(
            written["auto_assign"], "yes",
            "the bad value is written back as it was"
        );
        assert_eq!(written["future_key"], serde_json::json!([1]));
    }

    #[test]
    fn a_broken_template_falls_back_to_the_built_in_one() {
        let json = serde_json::json!({"email_templates": {
            "transcript": {"subject": "x", "body": "{{#if}}"},
            "reply_to_guest": 7,
        }})
        .to_string();
        let s = SiteSettings::parse("s1", &json);
        assert_eq!(
            s.template(TemplateName::Transcript),
            TemplateName::Transcript.default_template()
        );
        assert_eq!(
            s.template(TemplateName::ReplyToGuest),
            TemplateName::ReplyToGuest.default_template()
        );
    }

    /// Runs `f` with a subscriber that records what is logged, and returns the log text.
    fn logged(f: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn a_bad_stored_value_is_logged_with_the_site_id() {
        let log = logged(|| {
            SiteSettings::parse("site-42", r#"{"typing_preview": "maybe"}"#);
        });
        assert!(log.contains("WARN"), "{log}");
        assert!(log.contains("site-42"), "{log}");
        assert!(log.contains("typing_preview"), "{log}");
        let log = logged(|| {
            SiteSettings::parse("site-43", "{broken");
        });
        assert!(log.contains("WARN") && log.contains("site-43"), "{log}");
        let log = logged(|| {
            SiteSettings::parse("site-44", r#"{"typing_preview": true}"#);
        });
        assert!(log.is_empty(), "a good value logs nothing: {log}");
    }

    #[test]
    fn unreadable_json_gives_defaults() {
        assert_eq!(
            SiteSettings::parse("s1", "not json"),
            SiteSettings::default()
        );
        assert_eq!(SiteSettings::parse("s1", "[1, 2]"), SiteSettings::default());
    }

    #[test]
    fn a_patch_changes_only_what_it_sets() {
        let mut s = SiteSettings::parse(
            "s1",
            r##"{"colour": "#000000", "sms_number": "+4930123456", "auto_assign": 3, "x": 1}"##,
        );
        s.apply(&SiteSettingsPatch {
            colour: Some(None),
            auto_assign: Some(true),
            greeting: Some(Some("Hello".into())),
            ..SiteSettingsPatch::default()
        });
        assert_eq!(s.colour, None);
        assert!(s.auto_assign);
        assert_eq!(s.greeting.as_deref(), Some("Hello"));
        assert_eq!(s.sms_number.as_deref(), Some("+4930123456"), "untouched");
        let written: Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(
            written["auto_assign"], true,
            "the patched value replaces the kept bad one"
        );
        assert!(
            written.get("colour").is_none(),
            "a cleared option is removed"
        );
        assert_eq!(written["x"], 1, "unknown keys survive a write");
    }

    #[test]
    fn a_patch_is_validated() {
        let bad = |patch: SiteSettingsPatch| patch.validate().unwrap_err().field;
        assert_eq!(
            bad(SiteSettingsPatch {
                colour: Some(Some("red".into())),
                ..Default::default()
            }),
            "colour"
        );
        assert_eq!(
            bad(SiteSettingsPatch {
                position: Some(Some("top".into())),
                ..Default::default()
            }),
            "position"
        );
        assert_eq!(
            bad(SiteSettingsPatch {
                greeting: Some(Some("a\nb".into())),
                ..Default::default()
            }),
            "greeting"
        );
        assert_eq!(
            bad(SiteSettingsPatch {
                sms_number: Some(Some("030 123".into())),
                ..Default::default()
            }),
            "sms_number"
        );
        let hours = BusinessHours {
            tz: "Mars/Olympus".into(),
            days: Default::default(),
        };
        assert_eq!(
            bad(SiteSettingsPatch {
                business_hours: Some(Some(hours)),
                ..Default::default()
            }),
            "business_hours"
        );
        let mut templates = BTreeMap::new();
        templates.insert(
            "transcript".to_owned(),
            Template {
                subject: "s".into(),
                body: "{{#if}}".into(),
            },
        );
        assert_eq!(
            bad(SiteSettingsPatch {
                email_templates: Some(templates),
                ..Default::default()
            }),
            "email_templates"
        );
        let good = SiteSettingsPatch {
            colour: Some(Some("#2456d6".into())),
            position: Some(Some("right".into())),
            sms_number: Some(Some("+4930123456".into())),
            ..Default::default()
        };
        assert_eq!(good.validate(), Ok(()));
    }
}
