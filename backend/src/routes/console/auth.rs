//! `/login` and `/logout`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::page::{self, anonymous_csrf, csrf_ok, csrf_rejected, html, see_other, CSRF_COOKIE};
use super::session::{expired_session_cookie, session_cookie, CurrentOperator, SESSION_COOKIE};
use crate::extract::client;
use crate::realtime::hub::{Consoles, EventBus as _};
use crate::realtime::socket::CLOSE_SESSION_ENDED;
use crate::services::{auth, ServiceError};
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
    let body = views::login(&LoginView {
        nonce: &nonce,
        csrf: &csrf,
        email: "",
        next,
        error: None,
    });
    let mut res = page::html_builder(StatusCode::OK, &nonce);
    if let Some(cookie) = cookie {
        res.cookie(cookie);
    }
    res.body(body.into_string())
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

#[tracing::instrument(skip_all)]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
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
    let client = client::info(&req, &state.settings);
    let ip_key = crate::limits::ip_key(client::ip(&req, &state.settings));
    let next = page::safe_next(&form.next).to_owned();
    let show = |status, error: &str| {
        html(
            status,
            &nonce,
            views::login(&LoginView {
                nonce: &nonce,
                csrf: &form.csrf,
                email: &form.email,
                next: &next,
                error: Some(error.to_owned()),
            }),
        )
    };
    if let Err(wait) = state.login_limit.check(&ip_key) {
        let mut res = show(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many login attempts from your network. Wait a minute and try again.",
        );
        if let Ok(v) = (wait.as_secs() + 1).to_string().parse() {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, v);
        }
        return res;
    }
    // Login rotates the session: whatever session this browser had is ended and a new id issued.
    let old_token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let old_session = old_token.as_deref().map(crate::secrets::token_digest);
    let policy = state.session_policy();
    let (email, password) = (form.email.clone(), form.password.clone());
    let outcome = state
        .db
        .run(move |conn| {
            if let Some(old) = old_token {
                let _ = auth::logout(conn, &old);
            }
            Ok(auth::login(conn, &email, &password, &client, policy))
        })
        .await;
    match outcome {
        Ok(Ok(new)) => {
            tracing::info!(operator = %new.session.operator_id, "operator logged in");
            if let Some(old) = &old_session {
                // The session this login replaced ended: so do its sockets.
                state
                    .hub
                    .close_consoles(Consoles::Session(old), CLOSE_SESSION_ENDED, "signed out");
            }
            let mut res = see_other(&next);
            let _ = res.add_cookie(&session_cookie(&new.token, &state.settings));
            res
        }
        Ok(Err(ServiceError::Unauthorized)) => {
            show(StatusCode::UNAUTHORIZED, "Email or password is incorrect.")
        }
        Ok(Err(e)) => page::internal_error(&nonce, &e),
        Err(e) => page::internal_error(&nonce, &e),
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: CurrentOperator,
    form: web::Form<LogoutForm>,
) -> HttpResponse {
    let nonce = page::nonce();
    if !csrf_ok(&req, &state.settings, &form.csrf, &op.session.csrf_token) {
        return csrf_rejected(&nonce);
    }
    let token = op.token.clone();
    if let Err(e) = state
        .db
        .run(move |conn| Ok(auth::logout(conn, &token)))
        .await
    {
        return page::internal_error(&nonce, &e);
    }
    // The session's console sockets end with it, at once.
    state.hub.close_consoles(
        Consoles::Session(&op.session.id),
        CLOSE_SESSION_ENDED,
        "signed out",
    );
    let mut res = see_other("/login");
    let _ = res.add_cookie(&expired_session_cookie(&state.settings));
    res
}
