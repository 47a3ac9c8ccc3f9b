//! `/console/chats`: the operator's chat workspace, and the canned responses of a site.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::extract::console::{CsrfForm, CurrentOperator, ManagedSite, NoFields};
use crate::pages as page;
use crate::services::{self, canned};
use crate::state::AppState;
use beckon_console::chats::{self as views, ChatsView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/chats", web::get().to(chats))
        .route(beckon_console::CHAT_JS_PATH, web::get().to(script))
        .route(
            "/console/sites/{site_id}/canned",
            web::post().to(add_canned),
        )
        .route(
            "/console/sites/{site_id}/canned/{id}/delete",
            web::post().to(delete_canned),
        );
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(beckon_console::CHAT_JS)
}

async fn chats(
    state: web::Data<AppState>,
    op: CurrentOperator,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let operator_id = op.operator.id.clone();
    let (sites, canned) =
        services::run(&state.db, move |conn| canned::workspace(conn, &operator_id))
            .await
            .map_err(ConsoleError::internal)?;
    // The script reads these from `data-` attributes; maud escapes them as attribute text.
    let sites_json = serde_json::Value::from(
        sites
            .iter()
            .map(|(s, _)| serde_json::json!({"id": s.id, "name": s.name}))
            .collect::<Vec<_>>(),
    )
    .to_string();
    let canned_json = serde_json::Value::from(
        canned
            .iter()
            .map(|c| serde_json::json!({"shortcut": c.shortcut, "body": c.body}))
            .collect::<Vec<_>>(),
    )
    .to_string();
    Ok(page::html(
        StatusCode::OK,
        &nonce,
        views::chats(&ChatsView {
            nonce: &nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            operator_handle: &op.operator.handle,
            sites_json: &sites_json,
            has_sites: !sites.is_empty(),
            canned_json: &canned_json,
            has_canned: !canned.is_empty(),
        }),
    ))
}

#[derive(Deserialize)]
struct CannedForm {
    shortcut: String,
    body: String,
}

/// Adds a canned response: any member of the site may (others 404).
async fn add_canned(
    state: web::Data<AppState>,
    form: CsrfForm<CannedForm>,
    managed: ManagedSite,
) -> Result<HttpResponse, ConsoleError> {
    let site_id = managed.site.id.clone();
    let back = format!("/console/sites/{site_id}/embed#canned");
    let form = form.into_inner();
    let operator_id = managed.op.operator.id.clone();
    services::run(&state.db, move |conn| {
        canned::add(conn, &site_id, &operator_id, &form.shortcut, &form.body)
    })
    .await?;
    Ok(page::see_other(&back))
}

/// Removes a canned response: any member of the site may (others 404).
async fn delete_canned(
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
    managed: ManagedSite,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (_, id) = path.into_inner();
    let site_id = managed.site.id.clone();
    let back = format!("/console/sites/{site_id}/embed#canned");
    let operator_id = managed.op.operator.id.clone();
    services::run(&state.db, move |conn| {
        canned::delete(conn, &site_id, &operator_id, &id)
    })
    .await?;
    Ok(page::see_other(&back))
}
