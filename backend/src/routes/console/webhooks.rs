//! `/console/sites/{id}/webhooks`: a site's webhooks (owners and admins; agents get 403, other
//! operators 404). Adding generates the signing secret; every form carries the session CSRF token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::db::models::{Site, Webhook};
use crate::error::ConsoleError;
use crate::extract::console::{
    CsrfFields, CsrfForm, CurrentOperator, ManagedSite, NoFields, WebhookManager,
};
use crate::outbound::events;
use crate::pages as page;
use crate::services::webhooks::{self as hooks, NewWebhook};
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

/// The hooks of a site the operator manages.
async fn hooks_of(state: &AppState, site: &Site) -> Result<Vec<Webhook>, ConsoleError> {
    let id = site.id.clone();
    services::run(&state.db, move |conn| hooks::of_site(conn, &id))
        .await
        .map_err(ConsoleError::internal)
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
    managed: ManagedSite<WebhookManager>,
    q: web::Query<ShowQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let ManagedSite { site, op, .. } = managed;
    let hooks = hooks_of(&state, &site).await?;
    let shown = Shown {
        form_events: events::ALL.iter().map(|e| (*e).to_owned()).collect(),
        added: q.added.as_deref(),
        deleted: q.deleted.is_some(),
        ..Shown::default()
    };
    Ok(render(&op, &site, &hooks, &nonce, StatusCode::OK, shown))
}

/// The add form: `url` and one `event` per ticked box (so not a serde struct).
struct AddForm {
    url: String,
    events: Vec<String>,
}

impl AddForm {
    fn of(fields: Vec<(String, String)>) -> AddForm {
        let mut form = AddForm {
            url: String::new(),
            events: Vec::new(),
        };
        for (k, v) in fields {
            match k.as_str() {
                "url" => form.url = v,
                "event" if form.events.len() < 16 => form.events.push(v),
                _ => {}
            }
        }
        form
    }
}

async fn add(
    state: web::Data<AppState>,
    form: CsrfFields,
    managed: ManagedSite<WebhookManager>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let form = AddForm::of(form.fields);
    let ManagedSite { site, op, .. } = managed;
    let hooks = hooks_of(&state, &site).await?;
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
        Err(e) => return Ok(rejected(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())),
    };
    let id = site.id.clone();
    match services::run(&state.db, move |conn| hooks::create(conn, &id, &new)).await {
        Ok(hook) => Ok(page::see_other(&format!(
            "/console/sites/{}/webhooks?added={}#hook-{}",
            site.id, hook.id, hook.id
        ))),
        Err(ServiceError::Conflict(m)) => Ok(rejected(StatusCode::CONFLICT, &m)),
        Err(e) => Err(ConsoleError::internal(e)),
    }
}

async fn remove(
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
    managed: ManagedSite<WebhookManager>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (_, hook_id) = path.into_inner();
    let site = managed.site;
    let id = site.id.clone();
    services::run(&state.db, move |conn| hooks::delete(conn, &id, &hook_id))
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => ConsoleError::NotFound,
            other => ConsoleError::internal(other),
        })?;
    Ok(page::see_other(&format!(
        "/console/sites/{}/webhooks?deleted=1",
        site.id
    )))
}
