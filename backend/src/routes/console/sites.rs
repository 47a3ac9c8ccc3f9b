//! A site's console pages: the live visitor list, a visitor's page trail and the embed codes.
//! Every page answers 404 to an operator who is not a member of the site.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::page;
use super::session::CurrentOperator;
use crate::db::models::{CannedResponse, Membership, PageView, Site, Visitor};
use crate::state::AppState;
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

use page::not_found;

/// The site, if the operator is a member of it.
async fn member_site(
    state: &AppState,
    op: &CurrentOperator,
    site_id: String,
) -> Result<Option<Site>, crate::db::DbError> {
    let operator_id = op.operator.id.clone();
    state
        .db
        .run(move |conn| {
            if Membership::role_of(conn, &site_id, &operator_id)?.is_none() {
                return Ok(None);
            }
            Ok(Site::find(conn, &site_id)?)
        })
        .await
}

/// The site for a console page, or the page to answer instead (404 for non-members, 500).
async fn member_site_page(
    state: &AppState,
    op: &CurrentOperator,
    site_id: String,
    nonce: &str,
) -> Result<Site, HttpResponse> {
    match member_site(state, op, site_id).await {
        Ok(Some(site)) => Ok(site),
        Ok(None) => Err(not_found(nonce)),
        Err(e) => Err(page::internal_error(nonce, &e)),
    }
}

async fn live_visitors(
    state: web::Data<AppState>,
    op: CurrentOperator,
    path: web::Path<String>,
) -> HttpResponse {
    let nonce = page::nonce();
    let site = match member_site_page(&state, &op, path.into_inner(), &nonce).await {
        Ok(site) => site,
        Err(page) => return page,
    };
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
    op: CurrentOperator,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let nonce = page::nonce();
    let (site_id, visitor_id) = path.into_inner();
    let site = match member_site_page(&state, &op, site_id, &nonce).await {
        Ok(site) => site,
        Err(page) => return page,
    };
    let site_id = site.id.clone();
    let found = state
        .db
        .run(move |conn| {
            let Some(visitor) = Visitor::find(conn, &visitor_id)?.filter(|v| v.site_id == site_id)
            else {
                return Ok(None);
            };
            let pages = PageView::trail(conn, &visitor.id, 500)?;
            Ok(Some((visitor, pages)))
        })
        .await;
    let (visitor, pages) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(&nonce),
        Err(e) => return page::internal_error(&nonce, &e),
    };
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
    page::html(
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
    )
}

async fn embed(
    state: web::Data<AppState>,
    op: CurrentOperator,
    path: web::Path<String>,
) -> HttpResponse {
    let nonce = page::nonce();
    let site = match member_site_page(&state, &op, path.into_inner(), &nonce).await {
        Ok(site) => site,
        Err(page) => return page,
    };
    let ids = vec![site.id.to_string()];
    let canned = match state
        .db
        .run(move |conn| Ok(CannedResponse::for_sites(conn, &ids)?))
        .await
    {
        Ok(canned) => canned,
        Err(e) => return page::internal_error(&nonce, &e),
    };
    page::html(
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
        }),
    )
}
