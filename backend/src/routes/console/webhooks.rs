//! `/console/sites/{id}/webhooks`: a site's webhooks (owners and admins; agents get 403, other
//! operators 404). Adding generates the signing secret; every form carries the session CSRF token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::page;
use super::session::CurrentOperator;
use crate::db::models::{Site, Webhook};
use crate::outbound::events;
use crate::services::webhooks::{self as hooks, Access, NewWebhook};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use beckon_console::webhooks::{webhooks as webhooks_page, WebhookRow, WebhooksView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/sites/{site_id}/webhooks", web::get().to(show))
        .route("/console/sites/{site_id}/webhooks", web::post().to(add))
        .route(
            "/console/sites/{site_id}/webhooks/{hook_id}/delete",
            web::post().to(remove),
        );
}

/// The site and its hooks if the operator may manage them, else the page to answer.
async fn managed(
    state: &AppState,
    op: &CurrentOperator,
    site_id: String,
    nonce: &str,
) -> Result<(Site, Vec<Webhook>), HttpResponse> {
    let operator_id = op.operator.id.clone();
    let found = services::run(&state.db, move |conn| {
        let (access, site) = hooks::access(conn, &site_id, &operator_id)?;
        let hooks = match (&access, &site) {
            (Access::Manage, Some(site)) => Webhook::of_site(conn, &site.id)?,
            _ => Vec::new(),
        };
        Ok((access, site, hooks))
    })
    .await;
    match found {
        Ok((Access::Manage, Some(site), hooks)) => Ok((site, hooks)),
        Ok((Access::Denied, _, _)) => Err(page::html(
            StatusCode::FORBIDDEN,
            nonce,
            beckon_console::pages::message(&beckon_console::pages::MessageView {
                nonce,
                title: "Owners and admins only",
                message: "Only the site's owners and admins can see and change its webhooks.",
            }),
        )),
        Ok(_) => Err(page::not_found(nonce)),
        Err(e) => Err(page::internal_error(nonce, &e)),
    }
}

/// What the page shows besides the hooks.
#[derive(Default)]
struct Shown<'a> {
    form_url: &'a str,
    form_events: Vec<String>,
    error: Option<&'a str>,
    added: Option<&'a str>,
    deleted: bool,
}

fn render(
    op: &CurrentOperator,
    site: &Site,
    hooks: &[Webhook],
    nonce: &str,
    status: StatusCode,
    shown: Shown<'_>,
) -> HttpResponse {
    let rows = hooks
        .iter()
        .map(|h| WebhookRow {
            id: &h.id,
            url: &h.url,
            events: h.event_names(),
            secret: &h.secret,
            created: h.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    page::html(
        status,
        nonce,
        webhooks_page(&WebhooksView {
            nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            site_id: &site.id,
            site_name: &site.name,
            hooks: rows,
            all_events: &events::ALL,
            form_url: shown.form_url,
            form_events: shown.form_events,
            error: shown.error,
            added: shown.added,
            deleted: shown.deleted,
        }),
    )
}

#[derive(Deserialize)]
struct ShowQuery {
    #[serde(default)]
    added: Option<String>,
    #[serde(default)]
    deleted: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    op: CurrentOperator,
    site_id: web::Path<String>,
    q: web::Query<ShowQuery>,
) -> HttpResponse {
    let nonce = page::nonce();
    let (site, hooks) = match managed(&state, &op, site_id.into_inner(), &nonce).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let shown = Shown {
        form_events: events::ALL.iter().map(|e| (*e).to_owned()).collect(),
        added: q.added.as_deref(),
        deleted: q.deleted.is_some(),
        ..Shown::default()
    };
    render(&op, &site, &hooks, &nonce, StatusCode::OK, shown)
}

/// The add form: `csrf`, `url` and one `event` per ticked box (so not a serde struct).
struct AddForm {
    csrf: String,
    url: String,
    events: Vec<String>,
}

impl AddForm {
    fn of(body: &[u8]) -> AddForm {
        let mut form = AddForm {
            csrf: String::new(),
            url: String::new(),
            events: Vec::new(),
        };
        for (k, v) in url::form_urlencoded::parse(body) {
            match k.as_ref() {
                "csrf" => form.csrf = v.into_owned(),
                "url" => form.url = v.into_owned(),
                "event" if form.events.len() < 16 => form.events.push(v.into_owned()),
                _ => {}
            }
        }
        form
    }
}

async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: CurrentOperator,
    site_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let nonce = page::nonce();
    let form = AddForm::of(&body);
    if !page::csrf_ok(&req, &state.settings, &form.csrf, &op.session.csrf_token) {
        return page::csrf_rejected(&nonce);
    }
    let (site, hooks) = match managed(&state, &op, site_id.into_inner(), &nonce).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let rejected = |status: StatusCode, problem: &str| {
        render(
            &op,
            &site,
            &hooks,
            &nonce,
            status,
            Shown {
                form_url: &form.url,
                form_events: form.events.clone(),
                error: Some(problem),
                ..Shown::default()
            },
        )
    };
    let new = match NewWebhook::parse(&form.url, &form.events) {
        Ok(new) => new,
        Err(e) => return rejected(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    let id = site.id.clone();
    match services::run(&state.db, move |conn| hooks::create(conn, &id, &new)).await {
        Ok(hook) => page::see_other(&format!(
            "/console/sites/{}/webhooks?added={}#hook-{}",
            site.id, hook.id, hook.id
        )),
        Err(ServiceError::Conflict(m)) => rejected(StatusCode::CONFLICT, &m),
        Err(e) => page::internal_error(&nonce, &e),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: CurrentOperator,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let nonce = page::nonce();
    if !page::csrf_ok(&req, &state.settings, &form.csrf, &op.session.csrf_token) {
        return page::csrf_rejected(&nonce);
    }
    let (site_id, hook_id) = path.into_inner();
    let (site, _) = match managed(&state, &op, site_id, &nonce).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let id = site.id.clone();
    match services::run(&state.db, move |conn| hooks::delete(conn, &id, &hook_id)).await {
        Ok(()) => page::see_other(&format!("/console/sites/{}/webhooks?deleted=1", site.id)),
        Err(ServiceError::NotFound) => page::not_found(&nonce),
        Err(e) => page::internal_error(&nonce, &e),
    }
}
