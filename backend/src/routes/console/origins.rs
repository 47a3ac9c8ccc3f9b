//! `POST /console/sites/{id}/refused-origins/allow` and `…/dismiss`: the buttons beside an origin the
//! widget was refused on (Embed page). Owners and admins only, like the allowed origins in Settings.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::extract::console::{CsrfForm, ManagedSite, OwnerOrAdmin};
use crate::pages as page;
use crate::services::refused_origins;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/console/sites/{site_id}/refused-origins/allow",
        web::post().to(allow),
    )
    .route(
        "/console/sites/{site_id}/refused-origins/dismiss",
        web::post().to(dismiss),
    );
}

#[derive(Deserialize)]
struct OriginForm {
    origin: String,
}

/// "Allow this origin": adds the exact origin to the site's allowed origins.
async fn allow(
    state: web::Data<AppState>,
    form: CsrfForm<OriginForm>,
    managed: ManagedSite<OwnerOrAdmin>,
) -> Result<HttpResponse, ConsoleError> {
    let site = managed.site;
    refused_origins::allow(&state, &site, &form.into_inner().origin).await?;
    Ok(page::see_other(&format!(
        "/console/sites/{}/embed#refused-origins",
        site.id
    )))
}

/// "Dismiss": forgets the refusal without allowing the origin.
async fn dismiss(
    state: web::Data<AppState>,
    form: CsrfForm<OriginForm>,
    managed: ManagedSite<OwnerOrAdmin>,
) -> Result<HttpResponse, ConsoleError> {
    let site = managed.site;
    refused_origins::dismiss(&state, &site, &form.into_inner().origin).await?;
    Ok(page::see_other(&format!(
        "/console/sites/{}/embed#refused-origins",
        site.id
    )))
}
