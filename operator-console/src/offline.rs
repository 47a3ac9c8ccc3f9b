//! A site's "Offline & email" page (`/console/sites/{id}/offline`, owners and admins): forced status,
//! business hours, the SMS number, and the email templates with a preview of each.

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// One email template as edited, with its preview.
pub struct TemplateRow<'a> {
    /// Key (`offline_to_operator`, …).
    pub key: &'a str,
    /// What it is for.
    pub title: &'a str,
    /// Subject template.
    pub subject: String,
    /// Body template.
    pub body: String,
    /// The subject rendered with sample values, or the error.
    pub preview_subject: String,
    /// The body rendered with sample values.
    pub preview_body: String,
}

/// The page.
pub struct OfflineView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token.
    pub csrf: &'a str,
    /// Operator's display name.
    pub operator_name: &'a str,
    /// Site id.
    pub site_id: &'a str,
    /// Site name.
    pub site_name: &'a str,
    /// `auto`, `online` or `offline`.
    pub forced: &'a str,
    /// Business-hours zone.
    pub tz: String,
    /// Intervals per weekday, `mon` first.
    pub days: [String; 7],
    /// SMS number.
    pub sms_number: String,
    /// Templates.
    pub templates: Vec<TemplateRow<'a>>,
    /// A problem with the last submission.
    pub error: Option<&'a str>,
    /// Saved just now.
    pub saved: bool,
}

const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The page.
pub fn offline(v: &OfflineView<'_>) -> Markup {
    let frame = Frame {
        title: "Offline & email",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    page(
        &frame,
        html! {
            form.aligned method="post" action={ "/console/sites/" (v.site_id) "/offline" } {
                input type="hidden" name="csrf" value=(v.csrf);
                section.card {
                    h1 { "Offline & email · " (v.site_name) }
                    @if let Some(error) = v.error { p.error role="alert" { (error) } }
                    @if v.saved { p.saved role="status" { "Saved." } }
                    h2 { "Status" }
                    p { "Automatic: online while an operator is available (and within business hours, if set). "
                        "When offline, the widget and every chat link show leave-a-message." }
                    label { span.lt { "Status" }
                        select name="forced" {
                            option value="auto" selected[v.forced == "auto"] { "Automatic" }
                            option value="online" selected[v.forced == "online"] { "Always online" }
                            option value="offline" selected[v.forced == "offline"] { "Always offline" }
                        }
                    }
                    h2 { "Business hours" }
                    p { small { "Leave the time zone empty for no business hours. Per day, intervals like "
                        code { "09:00-12:00, 13:00-17:30" } "; an empty day is closed." } }
                    label { span.lt { "Time zone" } input name="tz" value=(v.tz) placeholder="Europe/Berlin"; }
                    @for (i, day) in DAY_NAMES.iter().enumerate() {
                        label { span.lt { (day) } input name=(DAY_KEYS[i]) value=(v.days[i]) placeholder="09:00-17:00"; }
                    }
                    h2 { "SMS" }
                    label { span.lt { "This site's SMS number" small { "Texts to it start or continue conversations here." } }
                        input name="sms_number" value=(v.sms_number) placeholder="+4930123456"; }
                }
                section.card {
                    h2 { "Email templates" }
                    p { small { "Plain text with handlebars: " code { "{{site_name}}" } ", " code { "{{guest_name}}" } ", "
                        code { "{{guest_email}}" } ", " code { "{{operator_name}}" } ", " code { "{{message}}" } ", "
                        code { "{{console_url}}" } ", and in the transcript " code { "{{#each messages}}{{this.at}} {{this.who}}: {{this.body}}{{/each}}" }
                        ". Values are inserted as text; the HTML part of each mail is escaped. Empty the body to restore the built-in text." } }
                    @for t in &v.templates {
                        fieldset.template id={ "template-" (t.key) } {
                            legend { (t.title) }
                            label { span.lt { "Subject" } input name={ "subject_" (t.key) } value=(t.subject); }
                            label { span.lt { "Body" } textarea name={ "body_" (t.key) } rows="8" { (t.body) } }
                            details open {
                                summary { "Preview with sample values" }
                                p.preview-subject { strong { (t.preview_subject) } }
                                pre.preview { (t.preview_body) }
                            }
                        }
                    }
                }
                button type="submit" { "Save" }
            }
        },
    )
}
