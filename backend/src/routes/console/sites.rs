//! A site's console pages: the live visitor list, a visitor's page trail and the embed codes.
//! Every page answers 404 to an operator who is not a member of the site.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::db::models::Role;
use crate::error::ConsoleError;
use crate::extract::console::ManagedSite;
use crate::pages as page;
use crate::services::{self, canned, history};
use crate::state::AppState;
use beckon_console::origins::RefusedOriginRow;
use beckon_console::visitors::{self as views, EmbedView, LiveVisitorsView, TrailRow, TrailView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/console/sites/{site_id}/visitors",
        web::get().to(live_visitors),
    )
    .route(
        "/console/sites/{site_id}/visitors/{visitor_id}",
        web::get().to(trail),
    )
    .route("/console/sites/{site_id}/embed", web::get().to(embed));
}

async fn live_visitors(managed: ManagedSite) -> HttpResponse {
    let nonce = page::nonce();
    let ManagedSite { site, op, .. } = managed;
    page::html(
        StatusCode::OK,
        &nonce,
        views::live_visitors(&LiveVisitorsView {
            nonce: &nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            site_id: &site.id,
            site_name: &site.name,
        }),
    )
}

async fn trail(
    state: web::Data<AppState>,
    managed: ManagedSite,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let ManagedSite { site, op, .. } = managed;
    let (_, visitor_id) = path.into_inner();
    let site_id = site.id.clone();
    let (visitor, pages) = services::run(&state.db, move |conn| {
        history::visitor_trail(conn, &site_id, &visitor_id, 500)
    })
    .await
    .map_err(ConsoleError::internal)?
    .ok_or(ConsoleError::NotFound)?;
    let label = visitor
        .display_name
        .clone()
        .unwrap_or_else(|| visitor.guest_id.clone());
    let rows = pages
        .iter()
        .map(|p| TrailRow {
            at: p.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            title: &p.title,
            url: &p.url,
            referrer: &p.referrer,
        })
        .collect();
    Ok(page::html(
        StatusCode::OK,
        &nonce,
        views::trail(&TrailView {
            nonce: &nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            site_id: &site.id,
            visitor_label: &label,
            pages: rows,
        }),
    ))
}

async fn embed(
    state: web::Data<AppState>,
    managed: ManagedSite,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let ManagedSite { site, op, role, .. } = managed;
    let ids = [site.id.to_string()];
    let canned = services::run(&state.db, move |conn| canned::for_sites(conn, &ids))
        .await
        .map_err(ConsoleError::internal)?;
    let ids = vec![site.id.to_string()];
    let refused = services::run(&state.db, move |conn| {
        services::refused_origins::for_sites(conn, &ids)
    })
    .await
    .map_err(ConsoleError::internal)?;
    Ok(page::html(
        StatusCode::OK,
        &nonce,
        views::embed(&EmbedView {
            nonce: &nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            handle: &op.operator.handle,
            site_name: &site.name,
            slug: &site.slug,
            public_key: &site.public_key,
            base_url: state.settings.base(),
            site_id: &site.id,
            canned: canned
                .iter()
                .map(|c| (c.id.as_str(), c.shortcut.as_str(), c.body.as_str()))
                .collect(),
            custom_domain: site.custom_domain.as_deref(),
            refused: refused
                .iter()
                .map(|r| RefusedOriginRow {
                    origin: &r.origin,
                    refusals: r.refusals,
                    last_seen: r.last_seen.format("%Y-%m-%d %H:%M UTC").to_string(),
                    example_page: &r.example_page,
                    allowable: services::refused_origins::allowable(&r.origin),
                })
                .collect(),
            can_manage: matches!(role, Role::Owner | Role::Admin),
        }),
    ))
}
