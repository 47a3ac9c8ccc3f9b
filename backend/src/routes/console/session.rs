//! The `CurrentOperator` extractor: a console request's live session, or a redirect to log in.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use crate::config::Settings;
use crate::db::models::{ConsoleSession, Operator};
use crate::services::{auth, ServiceError};
use crate::state::AppState;

/// Name of the console session cookie.
pub const SESSION_COOKIE: &str = "beckon_session";

/// The logged-in operator of this request, and their session.
#[derive(Debug)]
pub struct CurrentOperator {
    /// The operator.
    pub operator: Operator,
    /// Their session (holds the CSRF token for forms).
    pub session: ConsoleSession,
    /// The cookie token (to end the session on logout).
    pub token: String,
}

/// Why a console request has no operator.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No live session: log in first.
    #[error("login required")]
    LoginRequired {
        /// The page to return to.
        next: String,
    },
    /// The session could not be checked.
    #[error("session lookup failed: {0}")]
    Internal(String),
}

impl ResponseError for SessionError {
    fn error_response(&self) -> HttpResponse {
        match self {
            SessionError::LoginRequired { next } => {
                let location = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                super::page::see_other(&location)
            }
            SessionError::Internal(cause) => {
                super::page::internal_error(&super::page::nonce(), cause)
            }
        }
    }
}

impl FromRequest for CurrentOperator {
    type Error = SessionError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let next = req.path().to_owned();
        Box::pin(async move {
            let state = state.ok_or_else(|| SessionError::Internal("no app state".into()))?;
            let Some(token) = token else {
                return Err(SessionError::LoginRequired { next });
            };
            let policy = state.session_policy();
            let lookup_token = token.clone();
            let found = state
                .db
                .run(
                    move |conn| match auth::resolve(conn, &lookup_token, policy) {
                        Ok(found) => Ok(Ok(found)),
                        Err(ServiceError::Db(e)) => Err(e),
                        Err(other) => Ok(Err(other)),
                    },
                )
                .await
                .map_err(|e| SessionError::Internal(e.to_string()))?
                .map_err(|e| SessionError::Internal(e.to_string()))?;
            match found {
                Some((session, operator)) => Ok(CurrentOperator {
                    operator,
                    session,
                    token,
                }),
                None => Err(SessionError::LoginRequired { next }),
            }
        })
    }
}

/// The session cookie for a new session.
pub fn session_cookie(token: &str, settings: &Settings) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .secure(settings.cookies_secure())
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(settings.session_max.num_seconds()))
        .finish()
}

/// A cookie that removes the session cookie from the browser.
pub fn expired_session_cookie(settings: &Settings) -> Cookie<'static> {
    let mut cookie = session_cookie("", settings);
    cookie.make_removal();
    cookie
}
