//! The operator console: server-rendered pages with strict security headers.

mod auth;
mod canned;
mod chats;
mod deliveries;
mod history;
mod home;
mod offline;
mod origins;
mod settings;
mod setup;
mod sites;
mod webhooks;

use actix_web::{web, HttpResponse};

/// Console routes: `/console`, `/login`, `/logout`, `/setup`, and the console stylesheet.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(beckon_console::CONSOLE_CSS_PATH, web::get().to(stylesheet))
        .route(beckon_console::CONSOLE_JS_PATH, web::get().to(script))
        .route(beckon_console::FAVICON_PATH, web::get().to(favicon));
    auth::configure(cfg);
    setup::configure(cfg);
    home::configure(cfg);
    sites::configure(cfg);
    chats::configure(cfg);
    canned::configure(cfg);
    settings::configure(cfg);
    history::configure(cfg);
    webhooks::configure(cfg);
    offline::configure(cfg);
    deliveries::configure(cfg);
    origins::configure(cfg);
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

/// The favicon; immutable, since its path carries the version.
async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'"))
        .body(beckon_console::FAVICON_SVG)
}

#[cfg(test)]
mod tests {
    #[test]
    fn chat_pages_link_the_favicon_the_console_serves() {
        assert_eq!(
            beckon_widget::PANEL_FAVICON_PATH,
            beckon_console::FAVICON_PATH
        );
    }
}
