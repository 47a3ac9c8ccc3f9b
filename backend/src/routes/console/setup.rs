//! `/setup`: the first-run page behind the one-time link, creating the owner and the first site.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::domain::{
    AllowedOrigins, DisplayName, Email, Handle, InvalidInput, Password, SiteName, SiteSlug,
};
use crate::error::ConsoleError;
use crate::extract::client;
use crate::extract::console::{session_cookie, Anonymous, CsrfForm};
use crate::pages::{self as page, anonymous_csrf, html, see_other};
use crate::services::accounts::{NewOperator, NewSite};
use crate::services::{self, setup, ServiceError};
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
            message:
                "This setup link has expired or was already used. If Beckon is not set up yet, \
                      print a new link with `beckon setup-link` on the server (or restart it).",
        }),
    )
}

async fn setup_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let token = query.into_inner().token;
    let probe = token.clone();
    let usable = services::run(&state.db, move |conn| setup::token_is_usable(conn, &probe))
        .await
        .map_err(ConsoleError::internal)?;
    if !usable {
        return Ok(link_gone(&nonce));
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
    Ok(res.body(body.into_string()))
}

#[derive(Deserialize)]
struct SetupForm {
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
    form: CsrfForm<SetupForm, Anonymous>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let csrf = form.csrf.clone();
    let form = form.into_inner();
    let show_error = |status, error: String| {
        html(
            status,
            &nonce,
            views::setup(&SetupView {
                nonce: &nonce,
                csrf: &csrf,
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
            return Ok(show_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                field_message(&invalid),
            ))
        }
    };
    let client = client::info(&req, &state.settings);
    let policy = state.session_policy();
    let token = form.token.clone();
    let outcome = services::run(&state.db, move |conn| {
        setup::complete_and_sign_in(conn, &token, &owner, &site, &client, policy)
    })
    .await;
    match outcome {
        Ok((operator, site, session)) => {
            tracing::info!(operator = %operator.id, site = %site.id, "setup complete");
            let mut res = see_other("/console");
            let _ = res.add_cookie(&session_cookie(&session.token, &state.settings));
            Ok(res)
        }
        Err(ServiceError::Gone(_)) => Ok(link_gone(&nonce)),
        Err(ServiceError::Conflict(m)) => Ok(show_error(StatusCode::CONFLICT, m)),
        Err(e) => Err(ConsoleError::internal(e)),
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
