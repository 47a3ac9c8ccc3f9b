//! Status badges for emails and documents, where scripts cannot run: `/s/SLUG/status.svg` and
//! `/u/HANDLE/status.svg` show whether someone is there to chat.

use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::services::{self, availability::Status};
use crate::state::AppState;

/// Badge routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/s/{slug}/status.svg", web::get().to(site_badge))
        .route("/u/{handle}/status.svg", web::get().to(operator_badge));
}

/// The badge image: a pill saying "Live help" and "online" or "offline". Only fixed text: nothing a
/// visitor or owner typed ends up in the SVG.
pub fn badge_svg(online: bool) -> String {
    let (label, colour) = if online {
        ("online", "#1f9d55")
    } else {
        ("offline", "#7a8290")
    };
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="132" height="24" role="img" aria-label="Live help: {label}"><title>Live help: {label}</title><rect width="132" height="24" rx="12" fill="#1d2430"/><rect x="70" width="62" height="24" rx="12" fill="{colour}"/><rect x="70" width="14" height="24" fill="{colour}"/><g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="10" y="16">Live help</text><text x="78" y="16">{label}</text></g></svg>"##
    )
}

fn svg_response(online: bool) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        // Revalidated on every view: the badge follows availability at once.
        .insert_header(("Cache-Control", "no-cache, max-age=0"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(badge_svg(online))
}

async fn site_badge(
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let found = services::run(&state.db, move |conn| {
        services::sites::with_members(conn, &slug)
    })
    .await?;
    let (site, members) = found.ok_or(ApiError::NotFound)?;
    Ok(svg_response(
        state.availability.site_online(&state.hub, &site, &members),
    ))
}

async fn operator_badge(
    state: web::Data<AppState>,
    handle: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let handle = handle.into_inner().to_lowercase();
    let operator = services::run(&state.db, move |conn| {
        services::sites::enabled_operator_by_handle(conn, &handle)
    })
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(svg_response(
        state.availability.status(&state.hub, &operator.id) == Status::Available,
    ))
}
