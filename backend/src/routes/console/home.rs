//! `/console`: the console home.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::error::ConsoleError;
use crate::extract::console::CurrentOperator;
use crate::pages as page;
use crate::services;
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
        services::sites::for_operator(conn, &operator_id)
    })
    .await
    .map_err(ConsoleError::internal)?;
    let rows = sites
        .iter()
        .map(|(site, role)| {
            let origins = site.allowed_origins();
            SiteRow {
                name: &site.name,
                slug: &site.slug,
                role,
                public_key: &site.public_key,
                id: &site.id,
                origins: if origins.is_empty() {
                    "any origin".to_owned()
                } else {
                    origins.join(", ")
                },
            }
        })
        .collect();
    let body = views::home(&HomeView {
        nonce: &nonce,
        csrf: &op.session.csrf_token,
        operator_name: &op.operator.display_name,
        handle: &op.operator.handle,
        base_url: state.settings.base(),
        sites: rows,
    });
    Ok(page::html(StatusCode::OK, &nonce, body))
}
