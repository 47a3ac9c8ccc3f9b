//! `/console/deliveries`: the outbox of the operator's sites (any operator sees the items of the
//! sites they belong to, and no others): status, attempts and errors, a retry button for failed
//! items, and the text of mail kept in the mail outbox directory.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::page;
use super::session::CurrentOperator;
use crate::services::{self, deliveries, ServiceError};
use crate::state::AppState;
use beckon_console::deliveries::{deliveries as deliveries_page, DeliveriesView, DeliveryRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/deliveries", web::get().to(list))
        .route("/console/deliveries/{id}/retry", web::post().to(retry))
        .route("/console/deliveries/{id}/mail", web::get().to(mail));
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    retried: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    op: CurrentOperator,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    let nonce = page::nonce();
    let status = q.status.as_deref().and_then(|s| {
        beckon_console::deliveries::STATUSES
            .into_iter()
            .find(|k| *k == s)
    });
    let operator_id = op.operator.id.clone();
    let found = services::run(&state.db, move |conn| {
        deliveries::recent(conn, &operator_id, status)
    })
    .await;
    let (items, sites) = match found {
        Ok(found) => found,
        Err(e) => return page::internal_error(&nonce, &e),
    };
    let time = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let rows = items
        .iter()
        .map(|item| DeliveryRow {
            id: &item.id,
            site_name: item
                .site_id
                .as_ref()
                .and_then(|id| sites.get(id))
                .map_or("", String::as_str),
            channel: &item.channel,
            status: &item.status,
            attempts: item.attempts,
            last_error: item.last_error.as_deref(),
            summary: &item.summary,
            created: time(item.created_at),
            when: match (item.status.as_str(), item.sent_at) {
                (_, Some(sent)) => format!("at {}", time(sent)),
                ("pending", None) if item.attempts > 0 => {
                    format!("next try {}", time(item.next_attempt_at))
                }
                _ => String::new(),
            },
        })
        .collect();
    page::html(
        StatusCode::OK,
        &nonce,
        deliveries_page(&DeliveriesView {
            nonce: &nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            status_filter: status,
            rows,
            retried: q.retried.is_some(),
        }),
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: CurrentOperator,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let nonce = page::nonce();
    if !page::csrf_ok(&req, &state.settings, &form.csrf, &op.session.csrf_token) {
        return page::csrf_rejected(&nonce);
    }
    let operator_id = op.operator.id.clone();
    let id = id.into_inner();
    match services::run(&state.db, move |conn| {
        deliveries::retry(conn, &operator_id, &id)
    })
    .await
    {
        Ok(()) => {
            state.outbound.wake();
            page::see_other("/console/deliveries?retried=1")
        }
        Err(ServiceError::NotFound) => page::not_found(&nonce),
        Err(ServiceError::Conflict(m)) => page::bad_form(StatusCode::CONFLICT, &nonce, &m),
        Err(e) => page::internal_error(&nonce, &e),
    }
}

/// The spooled mail as plain text: never rendered as HTML by the browser, whatever a visitor wrote.
async fn mail(
    state: web::Data<AppState>,
    op: CurrentOperator,
    id: web::Path<String>,
) -> HttpResponse {
    let nonce = page::nonce();
    let operator_id = op.operator.id.clone();
    let id = id.into_inner();
    let item = match services::run(&state.db, move |conn| {
        deliveries::visible(conn, &operator_id, &id)
    })
    .await
    {
        Ok(item) => item,
        Err(ServiceError::NotFound) => return page::not_found(&nonce),
        Err(e) => return page::internal_error(&nonce, &e),
    };
    let Some(path) = deliveries::spool_file(&state.settings.data_dir, &item) else {
        return page::not_found(&nonce);
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
            .insert_header(("Content-Disposition", "inline"))
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Referrer-Policy", "same-origin"))
            .body(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => page::not_found(&nonce),
        Err(e) => page::internal_error(&nonce, &e),
    }
}
