//! `/console/sites/{id}/offline`: forced status, business hours, SMS number and email templates
//! (owners and admins; agents 403, others 404). Saving previews the templates again.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::db::models::Site;
use crate::error::ConsoleError;
use crate::extract::console::{CsrfFields, CurrentOperator, ManagedSite, OfflineManager};
use crate::outbound::templates::{self, sample_context, TemplateName};
use crate::pages as page;
use crate::services::offline_settings::{self, OfflineSettings, RawOfflineSettings};
use crate::state::AppState;
use beckon_console::offline::{offline as offline_page, OfflineView, TemplateRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/sites/{site_id}/offline", web::get().to(show))
        .route("/console/sites/{site_id}/offline", web::post().to(save));
}

fn render(
    op: &CurrentOperator,
    site: &Site,
    raw: RawOfflineSettings,
    nonce: &str,
    status: StatusCode,
    error: Option<&str>,
    saved: bool,
) -> HttpResponse {
    let sample = sample_context();
    let rows = TemplateName::ALL
        .iter()
        .map(|t| {
            let (subject, body) = raw
                .templates
                .iter()
                .find(|(k, _, _)| k == t.key())
                .map(|(_, s, b)| (s.clone(), b.clone()))
                .unwrap_or_else(|| {
                    let d = t.default_template();
                    (d.subject, d.body)
                });
            let tpl = templates::Template {
                subject: subject.clone(),
                body: body.clone(),
            };
            let (preview_subject, preview_body) = match tpl.render(&sample) {
                Ok(r) => (r.subject, r.text),
                Err(e) => ("(does not render)".to_owned(), e.to_string()),
            };
            TemplateRow {
                key: t.key(),
                title: t.title(),
                subject,
                body,
                preview_subject,
                preview_body,
            }
        })
        .collect();
    page::html(
        status,
        nonce,
        offline_page(&OfflineView {
            nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            site_id: &site.id,
            site_name: &site.name,
            forced: match raw.forced.as_str() {
                "online" => "online",
                "offline" => "offline",
                _ => "auto",
            },
            tz: raw.tz,
            days: raw.days,
            sms_number: raw.sms_number,
            templates: rows,
            error,
            saved,
        }),
    )
}

#[derive(serde::Deserialize)]
struct ShowQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn show(managed: ManagedSite<OfflineManager>, q: web::Query<ShowQuery>) -> HttpResponse {
    let nonce = page::nonce();
    let ManagedSite { site, op, .. } = managed;
    let raw = RawOfflineSettings::of_site(&site);
    render(
        &op,
        &site,
        raw,
        &nonce,
        StatusCode::OK,
        None,
        q.saved.is_some(),
    )
}

async fn save(
    state: web::Data<AppState>,
    form: CsrfFields,
    managed: ManagedSite<OfflineManager>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let ManagedSite { site, op, .. } = managed;
    let raw = RawOfflineSettings::from_fields(&form.fields);
    let parsed = match OfflineSettings::parse(&raw) {
        Ok(p) => p,
        Err(e) => {
            return Ok(render(
                &op,
                &site,
                raw,
                &nonce,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&e),
                false,
            ))
        }
    };
    offline_settings::change(&state, &site, parsed)
        .await
        .map_err(ConsoleError::internal)?;
    Ok(page::see_other(&format!(
        "/console/sites/{}/offline?saved=1",
        site.id
    )))
}
