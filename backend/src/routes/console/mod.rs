//! The operator console: server-rendered pages with strict security headers.

mod auth;
mod chats;
mod deliveries;
mod history;
mod home;
mod offline;
pub mod page;
mod session;
mod settings;
mod setup;
mod sites;
mod webhooks;

pub use session::{CurrentOperator, SESSION_COOKIE};

use actix_web::{web, HttpResponse};

/// Console routes: `/`, `/console`, `/login`, `/logout`, `/setup`, and the console stylesheet.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route(beckon_console::CONSOLE_CSS_PATH, web::get().to(stylesheet))
        .route(beckon_console::CONSOLE_JS_PATH, web::get().to(script));
    auth::configure(cfg);
    setup::configure(cfg);
    home::configure(cfg);
    sites::configure(cfg);
    chats::configure(cfg);
    settings::configure(cfg);
    history::configure(cfg);
    webhooks::configure(cfg);
    offline::configure(cfg);
    deliveries::configure(cfg);
}

/// `/`: a site's own chat domain shows its chat; Beckon's own host goes to the console.
async fn root(
    req: actix_web::HttpRequest,
    state: web::Data<crate::state::AppState>,
) -> HttpResponse {
    // The Host header itself: forwarded-host headers are not trusted for routing.
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_lowercase();
    let ours = state
        .settings
        .base_url
        .host_str()
        .unwrap_or("")
        .to_lowercase();
    if !host.is_empty() && host != ours {
        let lookup = host.clone();
        let found = crate::services::run(&state.db, move |conn| {
            Ok(crate::db::models::Site::find_by_custom_domain(
                conn, &lookup,
            )?)
        })
        .await;
        if let Ok(Some(site)) = found {
            return crate::routes::chat_pages::site_chat(&req, &state, &site).await;
        }
    }
    page::see_other("/console")
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(beckon_console::CONSOLE_CSS)
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(beckon_console::CONSOLE_JS)
}
