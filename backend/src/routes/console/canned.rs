//! `/console/sites/{id}/canned`: a site's canned responses, listed, added, edited and deleted by
//! any member of the site (others get 404). A refused form is shown again with each field's
//! problem next to it (422 for a bad value, 409 for a taken shortcut).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::db::models::{CannedResponse, Site};
use crate::domain::InvalidInput;
use crate::error::ConsoleError;
use crate::extract::console::{CsrfForm, CurrentOperator, ManagedSite, NoFields};
use crate::pages as page;
use crate::services::{self, canned, ServiceError};
use crate::state::AppState;
use beckon_console::canned::{
    canned_path, canned_responses, CannedFormView, CannedItem, CannedView,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/sites/{site_id}/canned", web::get().to(list))
        .route("/console/sites/{site_id}/canned", web::post().to(add))
        .route(
            "/console/sites/{site_id}/canned/{id}/edit",
            web::get().to(edit),
        )
        .route("/console/sites/{site_id}/canned/{id}", web::post().to(save))
        .route(
            "/console/sites/{site_id}/canned/{id}/delete",
            web::post().to(delete),
        );
}

#[derive(Deserialize)]
struct NoticeQuery {
    #[serde(default)]
    done: Option<String>,
}

#[derive(Deserialize)]
struct CannedForm {
    #[serde(default)]
    shortcut: String,
    #[serde(default)]
    body: String,
}

/// The site's responses, for the list.
async fn responses_of(state: &AppState, site: &Site) -> Result<Vec<CannedResponse>, ConsoleError> {
    let ids = [site.id.to_string()];
    services::run(&state.db, move |conn| canned::for_sites(conn, &ids))
        .await
        .map_err(ConsoleError::internal)
}

/// Renders the page with `form` in it.
fn render(
    status: StatusCode,
    op: &CurrentOperator,
    site: &Site,
    responses: &[CannedResponse],
    form: CannedFormView<'_>,
    notice: Option<&str>,
) -> HttpResponse {
    let nonce = page::nonce();
    page::html(
        status,
        &nonce,
        canned_responses(&CannedView {
            nonce: &nonce,
            csrf: &op.session.csrf_token,
            operator_name: &op.operator.display_name,
            site_id: &site.id,
            site_name: &site.name,
            items: responses
                .iter()
                .map(|c| CannedItem {
                    id: &c.id,
                    shortcut: &c.shortcut,
                    body: &c.body,
                })
                .collect(),
            form,
            notice,
        }),
    )
}

async fn list(
    state: web::Data<AppState>,
    managed: ManagedSite,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let ManagedSite { site, op, .. } = managed;
    let responses = responses_of(&state, &site).await?;
    // Only known words become the notice: the query string is not echoed.
    let notice = match q.done.as_deref() {
        Some("added") => Some("Added."),
        Some("saved") => Some("Saved."),
        Some("deleted") => Some("Deleted."),
        _ => None,
    };
    Ok(render(
        StatusCode::OK,
        &op,
        &site,
        &responses,
        CannedFormView::default(),
        notice,
    ))
}

async fn edit(
    state: web::Data<AppState>,
    managed: ManagedSite,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let ManagedSite { site, op, .. } = managed;
    let (_, id) = path.into_inner();
    let (site_id, operator_id, wanted) = (site.id.clone(), op.operator.id.clone(), id.clone());
    let response = services::run(&state.db, move |conn| {
        canned::get(conn, &site_id, &operator_id, &wanted)
    })
    .await?;
    let responses = responses_of(&state, &site).await?;
    Ok(render(
        StatusCode::OK,
        &op,
        &site,
        &responses,
        CannedFormView {
            editing: Some(&id),
            shortcut: &response.shortcut,
            body: &response.body,
            ..CannedFormView::default()
        },
        None,
    ))
}

/// The page again with the refused form and each problem next to the field it concerns; any other
/// error goes up as it is.
async fn refused(
    state: &AppState,
    op: &CurrentOperator,
    site: &Site,
    editing: Option<&str>,
    form: &CannedForm,
    error: ServiceError,
) -> Result<HttpResponse, ConsoleError> {
    let (status, problems) = match error {
        // Every problem of the form, not just the first one the use case met.
        ServiceError::Invalid(i) => {
            let all = canned::problems(&form.shortcut, &form.body);
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                if all.is_empty() { vec![i] } else { all },
            )
        }
        // The only conflict here is a shortcut another response of the site has.
        ServiceError::Conflict(_) => (
            StatusCode::CONFLICT,
            vec![InvalidInput::new(
                "shortcut",
                "is taken by another response of this site",
            )],
        ),
        other => return Err(other.into()),
    };
    let responses = responses_of(state, site).await?;
    let message_of = |field: &str| {
        problems
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.as_str())
    };
    let (shortcut_error, body_error) = (message_of("shortcut"), message_of("body"));
    Ok(render(
        status,
        op,
        site,
        &responses,
        CannedFormView {
            editing,
            shortcut: &form.shortcut,
            body: &form.body,
            shortcut_error,
            body_error,
        },
        None,
    ))
}

/// Adds a canned response.
async fn add(
    state: web::Data<AppState>,
    form: CsrfForm<CannedForm>,
    managed: ManagedSite,
) -> Result<HttpResponse, ConsoleError> {
    let ManagedSite { site, op, .. } = managed;
    let form = form.into_inner();
    let (site_id, operator_id) = (site.id.clone(), op.operator.id.clone());
    let (shortcut, body) = (form.shortcut.clone(), form.body.clone());
    match services::run(&state.db, move |conn| {
        canned::add(conn, &site_id, &operator_id, &shortcut, &body)
    })
    .await
    {
        Ok(()) => Ok(page::see_other(&format!(
            "{}?done=added",
            canned_path(&site.id)
        ))),
        Err(e) => refused(&state, &op, &site, None, &form, e).await,
    }
}

/// Saves an edited canned response.
async fn save(
    state: web::Data<AppState>,
    form: CsrfForm<CannedForm>,
    managed: ManagedSite,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let ManagedSite { site, op, .. } = managed;
    let (_, id) = path.into_inner();
    let form = form.into_inner();
    let (site_id, operator_id, target) = (site.id.clone(), op.operator.id.clone(), id.clone());
    let (shortcut, body) = (form.shortcut.clone(), form.body.clone());
    match services::run(&state.db, move |conn| {
        canned::update(conn, &site_id, &operator_id, &target, &shortcut, &body)
    })
    .await
    {
        Ok(()) => Ok(page::see_other(&format!(
            "{}?done=saved",
            canned_path(&site.id)
        ))),
        Err(e) => refused(&state, &op, &site, Some(&id), &form, e).await,
    }
}

/// Removes a canned response.
async fn delete(
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
    managed: ManagedSite,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (_, id) = path.into_inner();
    let site_id = managed.site.id.clone();
    let operator_id = managed.op.operator.id.clone();
    let back = format!("{}?done=deleted", canned_path(&site_id));
    services::run(&state.db, move |conn| {
        canned::delete(conn, &site_id, &operator_id, &id)
    })
    .await?;
    Ok(page::see_other(&back))
}
