//! `/console/deliveries`: the outbox of the operator's sites (any operator sees the items of the
//! sites they belong to, and no others): status, attempts and errors, a retry button for failed
//! items, and the text of mail kept in the mail outbox directory.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::extract::console::{CsrfForm, CurrentOperator, NoFields};
use crate::pages as page;
use crate::services::{self, deliveries};
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
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let status = q.status.as_deref().and_then(|s| {
        beckon_console::deliveries::STATUSES
            .into_iter()
            .find(|k| *k == s)
    });
    let operator_id = op.operator.id.clone();
    let (items, sites) = services::run(&state.db, move |conn| {
        deliveries::recent(conn, &operator_id, status)
    })
    .await
    .map_err(ConsoleError::internal)?;
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
    Ok(page::html(
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
    ))
}

/// Retries a failed delivery of one of the operator's sites now.
async fn retry(
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
    op: CurrentOperator,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let operator_id = op.operator.id.clone();
    let id = id.into_inner();
    services::run(&state.db, move |conn| {
        deliveries::retry(conn, &operator_id, &id)
    })
    .await
    .map_err(only_not_found_or_conflict)?;
    state.outbound.wake();
    Ok(page::see_other("/console/deliveries?retried=1"))
}

/// 404 and 409 are the operator's to see; anything else is ours (500).
fn only_not_found_or_conflict(e: services::ServiceError) -> ConsoleError {
    match e {
        services::ServiceError::NotFound | services::ServiceError::Conflict(_) => e.into(),
        other => ConsoleError::internal(other),
    }
}

/// The spooled mail as plain text: never rendered as HTML by the browser, whatever a visitor wrote.
async fn mail(
    state: web::Data<AppState>,
    op: CurrentOperator,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let operator_id = op.operator.id.clone();
    let id = id.into_inner();
    let item = services::run(&state.db, move |conn| {
        deliveries::visible(conn, &operator_id, &id)
    })
    .await
    .map_err(|e| match e {
        services::ServiceError::NotFound => ConsoleError::NotFound,
        other => ConsoleError::internal(other),
    })?;
    let path =
        deliveries::spool_file(&state.settings.data_dir, &item).ok_or(ConsoleError::NotFound)?;
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
            .insert_header(("Content-Disposition", "inline"))
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Referrer-Policy", "same-origin"))
            .body(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ConsoleError::NotFound),
        Err(e) => Err(ConsoleError::internal(e)),
    }
}
