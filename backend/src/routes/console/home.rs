//! `/console`: the console home.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::error::ConsoleError;
use crate::extract::console::CurrentOperator;
use crate::pages as page;
use crate::services;
use crate::services::availability::Status;
use crate::state::AppState;
use beckon_console::pages::{self as views, HomeView, SiteRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(home));
}

async fn home(
    state: web::Data<AppState>,
    op: CurrentOperator,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let operator_id = op.operator.id.clone();
    let sites = services::run(&state.db, move |conn| {
        services::first_steps::home_sites(conn, &operator_id)
    })
    .await
    .map_err(ConsoleError::internal)?;
    let ids: Vec<String> = sites.iter().map(|home| home.site.id.to_string()).collect();
    let refused = services::run(&state.db, move |conn| {
        services::refused_origins::for_sites(conn, &ids)
    })
    .await
    .map_err(ConsoleError::internal)?;
    let available = state.availability.status(&state.hub, &op.operator.id) == Status::Available;
    let rows = sites
        .iter()
        .map(|home| {
            let site = &home.site;
            let origins = site.allowed_origins();
            SiteRow {
                name: &site.name,
                slug: &site.slug,
                role: &home.role,
                public_key: &site.public_key,
                id: &site.id,
                refused_origins: refused
                    .iter()
                    .filter(|r| r.site_id == site.id)
                    .map(|r| r.origin.clone())
                    .collect(),
                origins: if origins.is_empty() {
                    "any origin".to_owned()
                } else {
                    origins.join(", ")
                },
                embed_seen: home.steps.page_view_seen,
                visitor_seen: home.steps.visitor_seen,
                chat_tried: home.steps.conversation_exists,
            }
        })
        .collect();
    let body = views::home(&HomeView {
        nonce: &nonce,
        csrf: &op.session.csrf_token,
        operator_name: &op.operator.display_name,
        handle: &op.operator.handle,
        base_url: state.settings.base(),
        available,
        sites: rows,
    });
    Ok(page::html(StatusCode::OK, &nonce, body))
}
