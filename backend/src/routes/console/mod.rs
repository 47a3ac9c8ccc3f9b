//! The operator console: server-rendered pages with strict security headers.

mod auth;
mod chats;
mod home;
mod page;
mod session;
mod setup;
mod sites;

pub use session::CurrentOperator;

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
}

async fn root() -> HttpResponse {
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
