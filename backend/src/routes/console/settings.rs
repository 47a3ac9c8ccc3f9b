//! `/console/sites/{id}/settings`: allowed origins, own domain and chat appearance (owners and
//! admins only). `POST …/settings/domain/verify` checks a pending own domain now.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::db::models::Site;
use crate::error::ConsoleError;
use crate::extract::console::{CsrfForm, CurrentOperator, ManagedSite, NoFields, OwnerOrAdmin};
use crate::pages as page;
use crate::services::domains::{self, DomainState};
use crate::services::sites::{RawSiteSettings, SiteSettingsForm};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use beckon_console::settings::{site_settings, DomainClaimView, SiteSettingsView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/sites/{site_id}/settings", web::get().to(show))
        .route("/console/sites/{site_id}/settings", web::post().to(save))
        .route(
            "/console/sites/{site_id}/settings/domain/verify",
            web::post().to(verify_domain),
        );
}

/// The site's proven domain and pending claim, for the page.
async fn domain_state(state: &AppState, site_id: &str) -> Result<DomainState, ConsoleError> {
    let id = site_id.to_owned();
    services::run(&state.db, move |conn| Ok(domains::state(conn, &id)?))
        .await
        .map_err(ConsoleError::internal)
}

fn render(
    op: &CurrentOperator,
    site: &Site,
    domain: &DomainState,
    nonce: &str,
    status: StatusCode,
    error: Option<&str>,
    saved: bool,
) -> HttpResponse {
    let settings = site.settings();
    let origins = site.allowed_origins().join("\n");
    let checked_at = domain
        .pending
        .as_ref()
        .and_then(|c| c.checked_at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    let claim = domain.pending.as_ref().map(|c| DomainClaimView {
        domain: &c.domain,
        token: &c.token,
        path: domains::WELL_KNOWN_PATH,
        checked_at: checked_at.as_deref(),
        last_error: c.last_error.as_deref(),
    });
    page::html(
        status,
        nonce,
        site_settings(&SiteSettingsView {
            nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            site_id: &site.id,
            site_name: &site.name,
            allowed_origins: &origins,
            custom_domain: domain
                .pending
                .as_ref()
                .map(|c| c.domain.as_str())
                .or(domain.verified.as_deref())
                .unwrap_or(""),
            verified_domain: domain.verified.as_deref(),
            domain_claim: claim,
            colour: settings.colour.as_deref().unwrap_or("#2456d6"),
            position: settings.position.as_deref().unwrap_or("right"),
            greeting: settings.greeting.as_deref().unwrap_or(""),
            offline: settings.offline.as_deref().unwrap_or(""),
            auto_assign: settings.auto_assign,
            typing_preview: settings.typing_preview,
            guest_calls: settings.guest_calls,
            identity_secret: &site.identity_secret,
            error,
            saved,
        }),
    )
}

#[derive(Deserialize)]
struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    managed: ManagedSite<OwnerOrAdmin>,
    q: web::Query<SavedQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let ManagedSite { site, op, .. } = managed;
    let domain = domain_state(&state, &site.id).await?;
    Ok(render(
        &op,
        &site,
        &domain,
        &nonce,
        StatusCode::OK,
        None,
        q.saved.is_some(),
    ))
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    allowed_origins: String,
    #[serde(default)]
    custom_domain: String,
    #[serde(default)]
    colour: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    greeting: String,
    #[serde(default)]
    offline: String,
    #[serde(default)]
    auto_assign: Option<String>,
    #[serde(default)]
    typing_preview: Option<String>,
    #[serde(default)]
    guest_calls: Option<String>,
}

async fn save(
    state: web::Data<AppState>,
    form: CsrfForm<SettingsForm>,
    managed: ManagedSite<OwnerOrAdmin>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let ManagedSite { site, op, .. } = managed;
    let form = form.into_inner();
    let parsed = SiteSettingsForm::parse(&RawSiteSettings {
        origins: &form.allowed_origins,
        custom_domain: &form.custom_domain,
        colour: &form.colour,
        position: &form.position,
        greeting: &form.greeting,
        offline: &form.offline,
        auto_assign: form.auto_assign.is_some(),
        typing_preview: form.typing_preview.is_some(),
        guest_calls: form.guest_calls.is_some(),
    });
    let domain = domain_state(&state, &site.id).await?;
    let rejected =
        |status, problem: &str| render(&op, &site, &domain, &nonce, status, Some(problem), false);
    let settings = match parsed {
        Ok(s) => s,
        Err(e) => return Ok(rejected(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())),
    };
    match services::sites::change_settings(&state, &site, settings).await {
        Ok(()) => Ok(page::see_other(&format!(
            "/console/sites/{}/settings?saved=1",
            site.id
        ))),
        Err(ServiceError::Conflict(m)) => Ok(rejected(StatusCode::CONFLICT, &m)),
        Err(e) => Err(ConsoleError::internal(e)),
    }
}

/// "Verify now": checks the site's pending domain at once, then shows the settings page with the
/// outcome (the domain proven, or why not).
async fn verify_domain(
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
    managed: ManagedSite<OwnerOrAdmin>,
) -> Result<HttpResponse, ConsoleError> {
    let site = managed.site;
    let options = domains::CheckOptions::of(&state.settings.outbound);
    domains::check(&state.db, &site.id, options)
        .await
        .map_err(ConsoleError::internal)?;
    services::sites::settings_changed(&state, &site);
    Ok(page::see_other(&format!(
        "/console/sites/{}/settings",
        site.id
    )))
}
