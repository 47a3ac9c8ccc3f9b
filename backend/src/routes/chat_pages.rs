//! The chat pages: the panel inside the widget's iframe (`/chat/SITE_KEY?embed=1`) and the full-page
//! chats anyone can open from a link: `/s/SLUG` (a site's help desk), `/u/HANDLE` and `/p/PHONE` (one
//! operator), and a site's own domain (`Host:` routing). Operators who are logged in are taken to
//! the console instead.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use beckon_widget::{PanelConfig, PanelMode, PanelTexts};

use crate::db::models::{Operator, Site};
use crate::error::ApiError;
use crate::extract::console::SESSION_COOKIE;
use crate::pages as page;
use crate::services::availability::online_now;
use crate::services::{self, auth};
use crate::state::AppState;

/// Chat page routes, and `/` (a site's own domain shows its chat; Beckon's host the console).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/chat/{key}", web::get().to(embedded_panel))
        .route("/s/{slug}", web::get().to(site_page))
        .route("/u/{handle}", web::get().to(operator_page))
        .route("/p/{phone}", web::get().to(phone_page));
}

fn panel_config(
    state: &AppState,
    site: &Site,
    mode: PanelMode,
    operator: Option<&Operator>,
    online: bool,
) -> PanelConfig {
    let settings = site.settings();
    PanelConfig {
        site_key: site.public_key.clone(),
        base_url: state.settings.base().to_owned(),
        mode,
        handle: operator.map(|o| o.handle.clone()),
        site_name: site.name.clone(),
        operator_name: operator.map(|o| o.display_name.clone()),
        colour: settings.colour.unwrap_or_default(),
        position: settings.position.unwrap_or_default(),
        typing_preview: settings.typing_preview,
        guest_calls: settings.guest_calls,
        sign_in_url: operator.map(|_| "/login?next=%2Fconsole%2Fchats".to_owned()),
        online,
        texts: PanelTexts {
            greeting: settings.greeting,
            offline: settings.offline,
        },
    }
}

/// The panel document with its CSP. `frame_ancestors` is who may frame it.
fn panel_response(cfg: &PanelConfig, frame_ancestors: &str) -> HttpResponse {
    let nonce = page::nonce();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; \
                 img-src 'self' data: blob:; media-src 'self' data: blob:; base-uri 'none'; form-action 'self'; \
                 frame-ancestors {frame_ancestors}"
            ),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(beckon_widget::panel_page(cfg, &nonce))
}

/// Whether this browser is logged in to the console (a live session).
async fn logged_in(req: &HttpRequest, state: &AppState) -> bool {
    let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return false;
    };
    let policy = state.session_policy();
    matches!(
        services::run(&state.db, move |conn| auth::resolve(conn, &token, policy)).await,
        Ok(Some(_))
    )
}

async fn embedded_panel(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let site = state
        .sites
        .by_key(&state.db, &key)
        .await?
        .ok_or(ApiError::NotFound)?;
    let origins = site.allowed_origins();
    let ancestors = if origins.is_empty() {
        "*".to_owned()
    } else {
        origins.join(" ")
    };
    let online = online_now(&state, &site, None).await;
    Ok(panel_response(
        &panel_config(&state, &site, PanelMode::Embed, None, online),
        &ancestors,
    ))
}

/// The full-page chat of a site, or the console for a logged-in operator.
pub async fn site_chat(req: &HttpRequest, state: &AppState, site: &Site) -> HttpResponse {
    if logged_in(req, state).await {
        return page::see_other("/console/chats");
    }
    let online = online_now(state, site, None).await;
    panel_response(
        &panel_config(state, site, PanelMode::Page, None, online),
        "'none'",
    )
}

async fn site_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner().to_lowercase();
    let site = services::run(&state.db, move |conn| services::sites::by_slug(conn, &slug))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(site_chat(&req, &state, &site).await)
}

async fn operator_chat(
    req: &HttpRequest,
    state: &AppState,
    found: Option<(Operator, Site)>,
) -> Result<HttpResponse, ApiError> {
    let (operator, site) = found.ok_or(ApiError::NotFound)?;
    if logged_in(req, state).await {
        return Ok(page::see_other("/console/chats"));
    }
    let online = online_now(state, &site, Some(&operator)).await;
    Ok(panel_response(
        &panel_config(state, &site, PanelMode::Page, Some(&operator), online),
        "'none'",
    ))
}

async fn operator_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    handle: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let handle = handle.into_inner().to_lowercase();
    let found = services::run(&state.db, move |conn| {
        services::sites::desk_of_handle(conn, &handle)
    })
    .await?;
    operator_chat(&req, &state, found).await
}

async fn phone_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    phone: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let phone = phone.into_inner();
    let valid = phone.starts_with('+')
        && (8..=16).contains(&phone.len())
        && phone[1..].bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(ApiError::NotFound);
    }
    let found = services::run(&state.db, move |conn| {
        services::sites::desk_of_phone(conn, &phone)
    })
    .await?;
    operator_chat(&req, &state, found).await
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
        let found = services::run(&state.db, move |conn| {
            services::sites::by_custom_domain(conn, &lookup)
        })
        .await;
        if let Ok(Some(site)) = found {
            return site_chat(&req, &state, &site).await;
        }
    }
    page::see_other("/console")
}
