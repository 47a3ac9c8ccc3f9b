//! `/console/chats`: the operator's chat workspace, and the canned responses of a site.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::page;
use super::session::CurrentOperator;
use crate::db::models::{CannedResponse, Membership, Site};
use crate::domain;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use beckon_console::chats::{self as views, ChatSite, ChatsView};

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

async fn chats(state: web::Data<AppState>, op: CurrentOperator) -> HttpResponse {
    let nonce = page::nonce();
    let operator_id = op.operator.id.clone();
    let loaded = services::run(&state.db, move |conn| {
        let sites = Site::for_operator(conn, &operator_id)?;
        let ids: Vec<String> = sites.iter().map(|(s, _)| s.id.to_string()).collect();
        Ok((sites, CannedResponse::for_sites(conn, &ids)?))
    })
    .await;
    let (sites, canned) = match loaded {
        Ok(found) => found,
        Err(e) => return page::internal_error(&nonce, &e),
    };
    page::html(
        StatusCode::OK,
        &nonce,
        views::chats(&ChatsView {
            nonce: &nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            operator_handle: &op.operator.handle,
            sites: sites
                .iter()
                .map(|(s, _)| ChatSite {
                    id: &s.id,
                    name: &s.name,
                })
                .collect(),
            canned: canned
                .iter()
                .map(|c| (c.shortcut.as_str(), c.body.as_str()))
                .collect(),
        }),
    )
}

#[derive(Deserialize)]
struct CannedForm {
    csrf: String,
    shortcut: String,
    body: String,
}

/// Parses a shortcut: 1 to 32 of `a-z 0-9 - _`, an optional leading slash dropped.
fn parse_shortcut(raw: &str) -> Result<String, domain::InvalidInput> {
    let s = raw.trim().trim_start_matches('/').to_lowercase();
    let ok = (1..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(s)
    } else {
        Err(domain::InvalidInput::new(
            "shortcut",
            "must be 1 to 32 of a-z, 0-9, '-' and '_'",
        ))
    }
}

async fn add_canned(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: CurrentOperator,
    site_id: web::Path<String>,
    form: web::Form<CannedForm>,
) -> HttpResponse {
    let nonce = page::nonce();
    if !page::csrf_ok(&req, &state.settings, &form.csrf, &op.session.csrf_token) {
        return page::csrf_rejected(&nonce);
    }
    let site_id = site_id.into_inner();
    let back = format!("/console/sites/{site_id}/embed#canned");
    let form = form.into_inner();
    let operator_id = op.operator.id.clone();
    let result = services::run(&state.db, move |conn| {
        if Membership::role_of(conn, &site_id, &operator_id)?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let body = services::chat::MessageBody::parse(&form.body)?;
        let response = CannedResponse {
            id: domain::new_id(),
            site_id: site_id.into(),
            shortcut: parse_shortcut(&form.shortcut)?,
            body: body.as_ref().to_owned(),
            created_by: Some(operator_id),
            created_at: domain::now(),
        };
        response
            .insert(conn)
            .map_err(|e| match crate::db::DbError::Query(e) {
                e if e.is_unique_violation() => {
                    ServiceError::Conflict("that shortcut is taken".into())
                }
                e => ServiceError::Db(e),
            })
    })
    .await;
    match result {
        Ok(()) => page::see_other(&back),
        Err(ServiceError::NotFound) => page::not_found(&nonce),
        Err(ServiceError::Invalid(e)) => {
            page::bad_form(StatusCode::UNPROCESSABLE_ENTITY, &nonce, &e.to_string())
        }
        Err(ServiceError::Conflict(m)) => page::bad_form(StatusCode::CONFLICT, &nonce, &m),
        Err(e) => page::internal_error(&nonce, &e),
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    csrf: String,
}

async fn delete_canned(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: CurrentOperator,
    path: web::Path<(String, String)>,
    form: web::Form<DeleteForm>,
) -> HttpResponse {
    let nonce = page::nonce();
    if !page::csrf_ok(&req, &state.settings, &form.csrf, &op.session.csrf_token) {
        return page::csrf_rejected(&nonce);
    }
    let (site_id, id) = path.into_inner();
    let back = format!("/console/sites/{site_id}/embed#canned");
    let operator_id = op.operator.id.clone();
    let result = services::run(&state.db, move |conn| {
        if Membership::role_of(conn, &site_id, &operator_id)?.is_none() {
            return Err(ServiceError::NotFound);
        }
        Ok(CannedResponse::delete(conn, &site_id, &id)?)
    })
    .await;
    match result {
        Ok(_) => page::see_other(&back),
        Err(ServiceError::NotFound) => page::not_found(&nonce),
        Err(e) => page::internal_error(&nonce, &e),
    }
}
