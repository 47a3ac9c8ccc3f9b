//! `/console/sites/{id}/offline`: forced status, business hours, SMS number and email templates
//! (owners and admins; agents 403, others 404). Saving previews the templates again.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::page;
use super::session::CurrentOperator;
use crate::db::models::Site;
use crate::outbound::templates::{self, sample_context, TemplateName};
use crate::services;
use crate::services::availability::DAYS;
use crate::services::offline_settings::{self, OfflineSettings, RawOfflineSettings};
use crate::services::webhooks::{self as access, Access};
use crate::state::AppState;
use beckon_console::offline::{offline as offline_page, OfflineView, TemplateRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/sites/{site_id}/offline", web::get().to(show))
        .route("/console/sites/{site_id}/offline", web::post().to(save));
}

async fn managed(
    state: &AppState,
    op: &CurrentOperator,
    site_id: String,
    nonce: &str,
) -> Result<Site, HttpResponse> {
    let operator_id = op.operator.id.clone();
    match services::run(&state.db, move |conn| {
        access::access(conn, &site_id, &operator_id)
    })
    .await
    {
        Ok((Access::Manage, Some(site))) => Ok(site),
        Ok((Access::Denied, _)) => Err(page::html(
            StatusCode::FORBIDDEN,
            nonce,
            beckon_console::pages::message(&beckon_console::pages::MessageView {
                nonce,
                title: "Owners and admins only",
                message: "Only the site's owners and admins can change its offline settings.",
            }),
        )),
        Ok(_) => Err(page::not_found(nonce)),
        Err(e) => Err(page::internal_error(nonce, &e)),
    }
}

/// The form's fields as the site has them now.
fn current(site: &Site) -> RawOfflineSettings {
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
                let tpl = settings.template(*t);
                (t.key().to_owned(), tpl.subject, tpl.body)
            })
            .collect(),
    }
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

async fn show(
    state: web::Data<AppState>,
    op: CurrentOperator,
    site_id: web::Path<String>,
    q: web::Query<ShowQuery>,
) -> HttpResponse {
    let nonce = page::nonce();
    let site = match managed(&state, &op, site_id.into_inner(), &nonce).await {
        Ok(site) => site,
        Err(page) => return page,
    };
    let raw = current(&site);
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

/// The form, read field by field (template fields are named by key).
fn read_form(body: &[u8]) -> (String, RawOfflineSettings) {
    let mut csrf = String::new();
    let mut raw = RawOfflineSettings::default();
    let mut subjects = std::collections::HashMap::new();
    let mut bodies = std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "csrf" => csrf = v,
            "forced" => raw.forced = v,
            "tz" => raw.tz = v,
            "sms_number" => raw.sms_number = v,
            key => {
                if let Some(i) = DAYS.iter().position(|d| *d == key) {
                    raw.days[i] = v;
                } else if let Some(t) = key.strip_prefix("subject_") {
                    subjects.insert(t.to_owned(), v);
                } else if let Some(t) = key.strip_prefix("body_") {
                    bodies.insert(t.to_owned(), v);
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
    (csrf, raw)
}

async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: CurrentOperator,
    site_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let nonce = page::nonce();
    let (csrf, raw) = read_form(&body);
    if !page::csrf_ok(&req, &state.settings, &csrf, &op.session.csrf_token) {
        return page::csrf_rejected(&nonce);
    }
    let site = match managed(&state, &op, site_id.into_inner(), &nonce).await {
        Ok(site) => site,
        Err(page) => return page,
    };
    let parsed = match OfflineSettings::parse(&raw) {
        Ok(p) => p,
        Err(e) => {
            return render(
                &op,
                &site,
                raw,
                &nonce,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&e),
                false,
            )
        }
    };
    let id = site.id.clone();
    match services::run(&state.db, move |conn| {
        offline_settings::save(conn, &id, &parsed)
    })
    .await
    {
        Ok(()) => {
            state.sites.forget(&site.public_key);
            state.availability.changed(Some(&site.id));
            page::see_other(&format!("/console/sites/{}/offline?saved=1", site.id))
        }
        Err(e) => page::internal_error(&nonce, &e),
    }
}
