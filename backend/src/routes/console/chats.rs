//! `/console/chats`: the operator's chat workspace (canned responses are managed in `canned.rs`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::error::ConsoleError;
use crate::extract::console::CurrentOperator;
use crate::pages as page;
use crate::services::{self, canned};
use crate::state::AppState;
use beckon_console::chats::{self as views, ChatsView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/chats", web::get().to(chats))
        .route(beckon_console::CHAT_JS_PATH, web::get().to(script));
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
            call_js: beckon_widget::CALL_JS_PATH,
        }),
    ))
}
