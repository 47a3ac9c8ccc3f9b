//! `/login` and `/logout`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::extract::client;
use crate::extract::console::{
    expired_session_cookie, session_cookie, Anonymous, CsrfForm, CurrentOperator, NoFields,
    SESSION_COOKIE,
};
use crate::pages::{self as page, anonymous_csrf, html, see_other};
use crate::realtime::hub::Consoles;
use crate::realtime::socket::CLOSE_SESSION_ENDED;
use crate::services::{self, auth, ServiceError};
use crate::state::AppState;
use beckon_console::pages::{self as views, LoginView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout));
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    let nonce = page::nonce();
    let (csrf, cookie) = anonymous_csrf(&req, &state.settings);
    let next = page::safe_next(query.next.as_deref().unwrap_or("/console"));
    // When the database cannot answer, the form is the better guess (an installation is set up once).
    let awaiting_setup = services::run(&state.db, services::setup::awaiting_setup)
        .await
        .unwrap_or(false);
    let body = views::login(&LoginView {
        nonce: &nonce,
        csrf: &csrf,
        email: "",
        next,
        error: None,
        awaiting_setup,
    });
    let mut res = page::html_builder(StatusCode::OK, &nonce);
    if let Some(cookie) = cookie {
        res.cookie(cookie);
    }
    res.body(body.into_string())
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

#[tracing::instrument(skip_all)]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CsrfForm<LoginForm, Anonymous>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let csrf = form.csrf.clone();
    let form = form.into_inner();
    let client = client::info(&req, &state.settings);
    let ip_key = crate::limits::ip_key(client::ip(&req, &state.settings));
    let next = page::safe_next(&form.next).to_owned();
    let show = |status, error: &str| {
        html(
            status,
            &nonce,
            views::login(&LoginView {
                nonce: &nonce,
                csrf: &csrf,
                email: &form.email,
                next: &next,
                error: Some(error.to_owned()),
                awaiting_setup: false,
            }),
        )
    };
    if let Err(wait) = state.login_limit.check(&ip_key).await {
        let mut res = show(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many login attempts from your network. Wait a minute and try again.",
        );
        if let Ok(v) = (wait.as_secs() + 1).to_string().parse() {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, v);
        }
        return Ok(res);
    }
    // Login rotates the session: whatever session this browser had is ended and a new id issued.
    let old_token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let old_session = old_token.as_deref().map(crate::secrets::token_digest);
    let policy = state.session_policy();
    let (email, password) = (form.email.clone(), form.password.clone());
    let outcome = services::run(&state.db, move |conn| {
        auth::login_replacing(
            conn,
            old_token.as_deref(),
            &email,
            &password,
            &client,
            policy,
        )
    })
    .await;
    match outcome {
        Ok(new) => {
            tracing::info!(operator = %new.session.operator_id, "operator logged in");
            if let Some(old) = &old_session {
                // The session this login replaced ended: so do its sockets.
                state.bus().close_consoles(
                    Consoles::Session(old),
                    CLOSE_SESSION_ENDED,
                    "signed out",
                );
            }
            let mut res = see_other(&next);
            let _ = res.add_cookie(&session_cookie(&new.token, &state.settings));
            Ok(res)
        }
        Err(ServiceError::Unauthorized) => Ok(show(
            StatusCode::UNAUTHORIZED,
            "Email or password is incorrect.",
        )),
        Err(e) => Err(ConsoleError::internal(e)),
    }
}

async fn logout(
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
    op: CurrentOperator,
) -> Result<HttpResponse, ConsoleError> {
    let token = op.token.clone();
    services::run(&state.db, move |conn| auth::logout(conn, &token))
        .await
        .map_err(ConsoleError::internal)?;
    // The session's console sockets end with it, at once.
    state.bus().close_consoles(
        Consoles::Session(&op.session.id),
        CLOSE_SESSION_ENDED,
        "signed out",
    );
    let mut res = see_other("/login");
    let _ = res.add_cookie(&expired_session_cookie(&state.settings));
    Ok(res)
}
