//! `/console/sites/{id}/settings`: allowed origins, own domain and chat appearance (owners and
//! admins only). `POST …/settings/domain/verify` checks a pending own domain now.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::page;
use super::session::CurrentOperator;
use crate::db::models::{Membership, Role, Site};
use crate::routes::chat_pages::WidgetSettings;
use crate::services::domains::{self, DomainState};
use crate::services::sites::{RawSiteSettings, SiteSettings};
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

/// The site, if the operator may manage it (owner or admin).
async fn managed_site(
    state: &AppState,
    op: &CurrentOperator,
    site_id: String,
) -> Result<Option<Site>, ServiceError> {
    let operator_id = op.operator.id.clone();
    services::run(&state.db, move |conn| {
        match Membership::role_of(conn, &site_id, &operator_id)? {
            Some(Role::Owner | Role::Admin) => {}
            _ => return Ok(None),
        }
        Ok(Site::find(conn, &site_id)?)
    })
    .await
}

/// The site's proven domain and pending claim, for the page.
async fn domain_state(state: &AppState, site_id: &str) -> Result<DomainState, ServiceError> {
    let id = site_id.to_owned();
    services::run(&state.db, move |conn| Ok(domains::state(conn, &id)?)).await
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
    let settings = WidgetSettings::of(site);
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
    op: CurrentOperator,
    site_id: web::Path<String>,
    q: web::Query<SavedQuery>,
) -> HttpResponse {
    let nonce = page::nonce();
    let site = match managed_site(&state, &op, site_id.into_inner()).await {
        Ok(Some(site)) => site,
        Ok(None) => return page::not_found(&nonce),
        Err(e) => return page::internal_error(&nonce, &e),
    };
    match domain_state(&state, &site.id).await {
        Ok(domain) => render(
            &op,
            &site,
            &domain,
            &nonce,
            StatusCode::OK,
            None,
            q.saved.is_some(),
        ),
        Err(e) => page::internal_error(&nonce, &e),
    }
}

#[derive(Deserialize)]
struct SettingsForm {
    csrf: String,
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
}

async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: CurrentOperator,
    site_id: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> HttpResponse {
    let nonce = page::nonce();
    if !page::csrf_ok(&req, &state.settings, &form.csrf, &op.session.csrf_token) {
        return page::csrf_rejected(&nonce);
    }
    let site = match managed_site(&state, &op, site_id.into_inner()).await {
        Ok(Some(site)) => site,
        Ok(None) => return page::not_found(&nonce),
        Err(e) => return page::internal_error(&nonce, &e),
    };
    let form = form.into_inner();
    let parsed = SiteSettings::parse(&RawSiteSettings {
        origins: &form.allowed_origins,
        custom_domain: &form.custom_domain,
        colour: &form.colour,
        position: &form.position,
        greeting: &form.greeting,
        offline: &form.offline,
        auto_assign: form.auto_assign.is_some(),
        typing_preview: form.typing_preview.is_some(),
    });
    let domain = match domain_state(&state, &site.id).await {
        Ok(domain) => domain,
        Err(e) => return page::internal_error(&nonce, &e),
    };
    let settings = match parsed {
        Ok(s) => s,
        Err(e) => {
            return render(
                &op,
                &site,
                &domain,
                &nonce,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&e.to_string()),
                false,
            )
        }
    };
    let id = site.id.clone();
    match services::run(&state.db, move |conn| {
        services::sites::save_settings(conn, &id, &settings)
    })
    .await
    {
        Ok(()) => {
            state.sites.forget(&site.public_key);
            page::see_other(&format!("/console/sites/{}/settings?saved=1", site.id))
        }
        Err(ServiceError::Conflict(m)) => render(
            &op,
            &site,
            &domain,
            &nonce,
            StatusCode::CONFLICT,
            Some(&m),
            false,
        ),
        Err(e) => page::internal_error(&nonce, &e),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// "Verify now": checks the site's pending domain at once, then shows the settings page with the
/// outcome (the domain proven, or why not).
async fn verify_domain(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: CurrentOperator,
    site_id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let nonce = page::nonce();
    if !page::csrf_ok(&req, &state.settings, &form.csrf, &op.session.csrf_token) {
        return page::csrf_rejected(&nonce);
    }
    let site = match managed_site(&state, &op, site_id.into_inner()).await {
        Ok(Some(site)) => site,
        Ok(None) => return page::not_found(&nonce),
        Err(e) => return page::internal_error(&nonce, &e),
    };
    let options = domains::CheckOptions::of(&state.settings.outbound);
    match domains::check(&state.db, &site.id, options).await {
        Ok(_) => {
            state.sites.forget(&site.public_key);
            page::see_other(&format!("/console/sites/{}/settings", site.id))
        }
        Err(e) => page::internal_error(&nonce, &e),
    }
}
