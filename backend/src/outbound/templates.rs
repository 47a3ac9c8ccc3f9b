//! Email templates: handlebars, editable per site in the console (settings key `email_templates`).
//! Templates produce plain text (`{{…}}` inserts values verbatim, `{{{…}}}` too); the HTML part is
//! made by escaping that text (see [`super::mail::text_to_html`]), so a template can never turn a
//! visitor's string into markup.

use handlebars::Handlebars;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The mails Beckon writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateName {
    /// A new offline message, to the site's operators (or the one operator of `/u/HANDLE`).
    OfflineToOperator,
    /// The guest's copy of their offline message.
    OfflineCopyToGuest,
    /// An operator's reply, to the guest.
    ReplyToGuest,
    /// A conversation's transcript, to the guest.
    Transcript,
}

impl TemplateName {
    /// Every template, in the console's order.
    pub const ALL: [TemplateName; 4] = [
        TemplateName::OfflineToOperator,
        TemplateName::OfflineCopyToGuest,
        TemplateName::ReplyToGuest,
        TemplateName::Transcript,
    ];

    /// The key in settings and forms.
    pub fn key(self) -> &'static str {
        match self {
            TemplateName::OfflineToOperator => "offline_to_operator",
            TemplateName::OfflineCopyToGuest => "offline_copy_to_guest",
            TemplateName::ReplyToGuest => "reply_to_guest",
            TemplateName::Transcript => "transcript",
        }
    }

    /// What it is for, for the console.
    pub fn title(self) -> &'static str {
        match self {
            TemplateName::OfflineToOperator => "New offline message (to operators)",
            TemplateName::OfflineCopyToGuest => "Copy of the message (to the guest)",
            TemplateName::ReplyToGuest => "Operator's reply (to the guest)",
            TemplateName::Transcript => "Transcript (to the guest)",
        }
    }

    /// The template with this key.
    pub fn from_key(key: &str) -> Option<TemplateName> {
        TemplateName::ALL.into_iter().find(|t| t.key() == key)
    }

    /// The built-in template.
    pub fn default_template(self) -> Template {
        let (subject, body) = match self {
            TemplateName::OfflineToOperator => (
                "New message from {{guest_name}} on {{site_name}}",
                "{{guest_name}} <{{guest_email}}> left a message on {{site_name}}:\n\n{{message}}\n\n\
                 Reply in the console: {{console_url}}\n\
                 (Replying to this email does not reach the guest; answer from the console.)\n",
            ),
            TemplateName::OfflineCopyToGuest => (
                "We got your message – {{site_name}}",
                "Hello {{guest_name}},\n\nthanks for your message to {{site_name}}. Nobody was available \
                 just now; we will answer by email as soon as we can. You can reply to this email to add \
                 something.\n\nYour message:\n\n{{message}}\n",
            ),
            TemplateName::ReplyToGuest => (
                "Re: your message to {{site_name}}",
                "{{operator_name}} from {{site_name}} wrote:\n\n{{message}}\n\n\
                 Reply to this email to answer.\n",
            ),
            TemplateName::Transcript => (
                "Your conversation with {{site_name}}",
                "Hello {{guest_name}},\n\nhere is your conversation with {{site_name}}.\n\n\
                 {{#each messages}}[{{this.at}}] {{this.who}}: {{this.body}}\n{{/each}}\n",
            ),
        };
        Template {
            subject: subject.to_owned(),
            body: body.to_owned(),
        }
    }
}

/// A subject and a body template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Subject template (rendered, then made one line).
    pub subject: String,
    /// Body template (plain text).
    pub body: String,
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject, one line.
    pub subject: String,
    /// Body text.
    pub text: String,
}

/// A template that does not compile or render, with handlebars' reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

fn engine() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb
}

/// Longest template an owner may save, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 10_000;

impl Template {
    /// Checks that both parts compile and are not too long.
    pub fn validate(&self) -> Result<(), TemplateError> {
        if self.subject.chars().count() > 300 || self.body.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(TemplateError("the template is too long".into()));
        }
        if self.subject.trim().is_empty() || self.body.trim().is_empty() {
            return Err(TemplateError("subject and body must not be empty".into()));
        }
        self.render(&sample_context()).map(|_| ())
    }

    /// Renders with `context`. Values are inserted as they are: this is text, escaped later for HTML.
    pub fn render(&self, context: &Value) -> Result<Rendered, TemplateError> {
        let hb = engine();
        let subject = hb
            .render_template(&self.subject, context)
            .map_err(|e| TemplateError(format!("subject: {}", e.reason())))?;
        let text = hb
            .render_template(&self.body, context)
            .map_err(|e| TemplateError(format!("body: {}", e.reason())))?;
        Ok(Rendered {
            subject: super::one_line(&subject),
            text,
        })
    }
}

/// The site's template `name` (from its settings), or the built-in one.
pub fn of_site(settings: &crate::domain::SiteSettings, name: TemplateName) -> Template {
    settings.template(name)
}

/// Renders the site's template, falling back to the built-in one if the site's fails at render time.
pub fn render_for_site(
    settings: &crate::domain::SiteSettings,
    name: TemplateName,
    context: &Value,
) -> Rendered {
    let fallback = || {
        name.default_template()
            .render(context)
            .unwrap_or_else(|_| Rendered {
                subject: name.title().to_owned(),
                text: context.to_string(),
            })
    };
    of_site(settings, name)
        .render(context)
        .unwrap_or_else(|_| fallback())
}

/// The values the console's preview uses, and which templates may refer to.
pub fn sample_context() -> Value {
    serde_json::json!({
        "site_name": "Example Shop",
        "guest_name": "Ada Guest",
        "guest_email": "ada@example.com",
        "operator_name": "Sam Support",
        "message": "Hello! Do you ship to Norway? <b>thanks</b>",
        "console_url": "https://chat.example.com/console/chats?c=0190",
        "conversation_id": "0190",
        "messages": [
            {"at": "2026-11-23 10:00", "who": "Ada Guest", "body": "Hello! Do you ship to Norway?"},
            {"at": "2026-11-23 10:01", "who": "Sam Support", "body": "We do, in 3–5 days."}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_renders_the_sample() {
        for name in TemplateName::ALL {
            let r = name
                .default_template()
                .render(&sample_context())
                .expect("renders");
            assert!(!r.subject.is_empty() && !r.text.is_empty(), "{name:?}");
        }
    }

    #[test]
    fn values_are_inserted_verbatim_and_not_evaluated() {
        let t = Template {
            subject: "Hi {{guest_name}}".into(),
            body: "{{message}}".into(),
        };
        let r = t
            .render(&serde_json::json!({"guest_name": "A\r\nBcc: x", "message": "{{7*7}} <b>"}))
            .expect("renders");
        assert_eq!(r.subject, "Hi A Bcc: x");
        assert_eq!(r.text, "{{7*7}} <b>");
    }

    #[test]
    fn broken_templates_are_refused_and_sites_fall_back() {
        let broken = Template {
            subject: "x".into(),
            body: "{{#each}".into(),
        };
        assert!(broken.validate().is_err());
        let settings = serde_json::json!({"email_templates": {"transcript": broken}}).to_string();
        let settings = crate::domain::SiteSettings::parse("s1", &settings);
        assert_eq!(
            of_site(&settings, TemplateName::Transcript),
            TemplateName::Transcript.default_template()
        );
    }
}
