//! `/setup`: the first-run page behind the one-time link, creating the owner and the first site.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::page::{self, anonymous_csrf, csrf_ok, csrf_rejected, html, see_other, CSRF_COOKIE};
use super::session::session_cookie;
use crate::domain::{
    AllowedOrigins, DisplayName, Email, Handle, InvalidInput, Password, SiteName, SiteSlug,
};
use crate::extract::client;
use crate::services::accounts::{NewOperator, NewSite};
use crate::services::{auth, setup, ServiceError};
use crate::state::AppState;
use beckon_console::pages::{self as views, MessageView, SetupValues, SetupView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/setup", web::get().to(setup_form))
        .route("/setup", web::post().to(complete_setup));
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn link_gone(nonce: &str) -> HttpResponse {
    html(
        StatusCode::GONE,
        nonce,
        views::message(&MessageView {
            nonce,
            title: "Setup link not valid",
            message: "This setup link has expired or was already used. If Beckon is not set up yet, \
                      restart it to print a new link, or create an owner with `beckon operator add`.",
        }),
    )
}

async fn setup_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    let nonce = page::nonce();
    let token = query.into_inner().token;
    let probe = token.clone();
    match state
        .db
        .run(move |conn| Ok(setup::token_is_usable(conn, &probe)))
        .await
    {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return link_gone(&nonce),
        Ok(Err(e)) => return page::internal_error(&nonce, &e),
        Err(e) => return page::internal_error(&nonce, &e),
    }
    let (csrf, cookie) = anonymous_csrf(&req, &state.settings);
    let body = views::setup(&SetupView {
        nonce: &nonce,
        csrf: &csrf,
        token: &token,
        values: SetupValues::default(),
        error: None,
    });
    let mut res = page::html_builder(StatusCode::OK, &nonce);
    if let Some(cookie) = cookie {
        res.cookie(cookie);
    }
    res.body(body.into_string())
}

#[derive(Deserialize)]
struct SetupForm {
    csrf: String,
    token: String,
    display_name: String,
    email: String,
    handle: String,
    password: String,
    site_name: String,
    #[serde(default)]
    site_slug: String,
    #[serde(default)]
    allowed_origins: String,
}

impl SetupForm {
    fn parse(&self) -> Result<(NewOperator, NewSite), InvalidInput> {
        let owner = NewOperator {
            email: Email::parse(&self.email)?,
            handle: Handle::parse(&self.handle)?,
            display_name: DisplayName::parse(&self.display_name)?,
            password: Password::parse(&self.password)?,
            phone: None,
        };
        let name = SiteName::parse(&self.site_name)?;
        let slug = if self.site_slug.trim().is_empty() {
            SiteSlug::from_name(&name)?
        } else {
            SiteSlug::parse(&self.site_slug)?
        };
        let site = NewSite {
            name,
            slug,
            allowed_origins: AllowedOrigins::parse(&self.allowed_origins)?,
        };
        Ok((owner, site))
    }
}

#[tracing::instrument(skip_all)]
async fn complete_setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SetupForm>,
) -> HttpResponse {
    let nonce = page::nonce();
    let form = form.into_inner();
    let expected = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if !csrf_ok(&req, &state.settings, &form.csrf, &expected) {
        return csrf_rejected(&nonce);
    }
    let show_error = |status, error: String| {
        html(
            status,
            &nonce,
            views::setup(&SetupView {
                nonce: &nonce,
                csrf: &form.csrf,
                token: &form.token,
                values: SetupValues {
                    display_name: &form.display_name,
                    email: &form.email,
                    handle: &form.handle,
                    site_name: &form.site_name,
                    site_slug: &form.site_slug,
                    allowed_origins: &form.allowed_origins,
                },
                error: Some(error),
            }),
        )
    };
    let (owner, site) = match form.parse() {
        Ok(parsed) => parsed,
        Err(invalid) => {
            return show_error(StatusCode::UNPROCESSABLE_ENTITY, field_message(&invalid))
        }
    };
    let client = client::info(&req, &state.settings);
    let policy = state.session_policy();
    let token = form.token.clone();
    let outcome = state
        .db
        .run(move |conn| {
            Ok(
                setup::complete(conn, &token, &owner, &site).and_then(|(operator, site)| {
                    let session = auth::open_session(conn, &operator.id, &client, policy)?;
                    Ok((operator, site, session))
                }),
            )
        })
        .await;
    match outcome {
        Ok(Ok((operator, site, session))) => {
            tracing::info!(operator = %operator.id, site = %site.id, "setup complete");
            let mut res = see_other("/console");
            let _ = res.add_cookie(&session_cookie(&session.token, &state.settings));
            res
        }
        Ok(Err(ServiceError::Gone(_))) => link_gone(&nonce),
        Ok(Err(ServiceError::Conflict(m))) => show_error(StatusCode::CONFLICT, m),
        Ok(Err(e)) => page::internal_error(&nonce, &e),
        Err(e) => page::internal_error(&nonce, &e),
    }
}

fn field_message(invalid: &InvalidInput) -> String {
    let field = match invalid.field {
        "display_name" => "Your name",
        "email" => "Email",
        "handle" => "Handle",
        "password" => "Password",
        "site_name" => "Site name",
        "site_slug" => "Slug",
        "allowed_origins" => "Allowed origins",
        other => other,
    };
    format!("{field} {}.", invalid.message)
}
