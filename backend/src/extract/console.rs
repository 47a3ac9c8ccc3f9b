//! The console's request preamble as extractors: the signed-in operator ([`CurrentOperator`]), a
//! CSRF-checked form ([`CsrfForm`], [`CsrfFields`]) and the site being managed ([`ManagedSite`]).
//! Their failures are [`ConsoleError`]s, which render the console's own pages.
//!
//! Actix polls a handler's extractors together, so two rules keep the answers what they were when
//! each handler checked by hand:
//! - the session is looked up once per request and shared ([`CurrentOperator`] caches the lookup in
//!   the request), however many extractors need it;
//! - a [`ManagedSite`] that follows a CSRF form in the handler's arguments waits for the form's
//!   verdict, so a forged post gets 403 before the site is even looked up (never a 404 that tells
//!   another site whether the id exists).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{dev::Payload, web, FromRequest, HttpMessage as _, HttpRequest};
use futures_channel::oneshot;
use futures_util::future::{FutureExt as _, LocalBoxFuture, Shared};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::Settings;
use crate::db::models::{ConsoleSession, Operator, Role, Site};
use crate::error::ConsoleError;
use crate::pages::{csrf_ok, CSRF_COOKIE};
use crate::services::{self, auth};
use crate::state::AppState;

/// Name of the console session cookie.
pub const SESSION_COOKIE: &str = "beckon_session";

/// The logged-in operator of this request, and their session.
#[derive(Debug, Clone)]
pub struct CurrentOperator {
    /// The operator.
    pub operator: Operator,
    /// Their session (holds the CSRF token for forms).
    pub session: ConsoleSession,
    /// The cookie token (to end the session on logout).
    pub token: String,
}

/// What a session lookup ends in: the operator, or `None` for "log in first", or the internal cause.
type Lookup = Result<Option<CurrentOperator>, String>;

/// The request's one session lookup, shared by every extractor that needs the operator.
#[derive(Clone)]
struct SharedLookup(Shared<LocalBoxFuture<'static, Lookup>>);

/// The session lookup of `req`: started by the first extractor that asks, awaited by all.
fn session_lookup(req: &HttpRequest) -> Shared<LocalBoxFuture<'static, Lookup>> {
    if let Some(found) = req.extensions().get::<SharedLookup>() {
        return found.0.clone();
    }
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let lookup = async move {
        let state = state.ok_or_else(|| "no app state".to_owned())?;
        let Some(token) = token else {
            return Ok(None);
        };
        let policy = state.session_policy();
        let lookup_token = token.clone();
        let found = services::run(&state.db, move |conn| {
            auth::resolve(conn, &lookup_token, policy)
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(found.map(|(session, operator)| CurrentOperator {
            operator,
            session,
            token,
        }))
    }
    .boxed_local()
    .shared();
    req.extensions_mut().insert(SharedLookup(lookup.clone()));
    lookup
}

/// The signed-in operator of `req`, or why there is none.
async fn operator_of(
    lookup: Shared<LocalBoxFuture<'static, Lookup>>,
    next: String,
) -> Result<CurrentOperator, ConsoleError> {
    match lookup.await {
        Ok(Some(op)) => Ok(op),
        Ok(None) => Err(ConsoleError::LoginRequired { next }),
        Err(cause) => Err(ConsoleError::Internal(format!(
            "session lookup failed: {cause}"
        ))),
    }
}

impl FromRequest for CurrentOperator {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(operator_of(session_lookup(req), req.path().to_owned()))
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

/// The verdict of this request's CSRF check, for a [`ManagedSite`] that must wait for it.
struct CsrfGate(Option<oneshot::Receiver<()>>);

/// Opens the gate a later [`ManagedSite`] waits on; sending on the returned end means "passed",
/// dropping it means "rejected".
fn open_gate(req: &HttpRequest) -> oneshot::Sender<()> {
    let (tx, rx) = oneshot::channel();
    req.extensions_mut().insert(CsrfGate(Some(rx)));
    tx
}

/// A form with the `csrf` field every console form carries, and its other fields as `T`.
#[derive(Deserialize)]
struct WithCsrf<T> {
    // Required: a form without it is malformed (400), as it was with `web::Form`.
    csrf: String,
    #[serde(flatten)]
    form: T,
}

/// No fields besides `csrf` (a button that only posts).
#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// Where the token a form must carry comes from.
pub trait CsrfSource: 'static {
    /// Whether the request needs a signed-in operator (whose session holds the token).
    const SESSION: bool;
}

/// The signed-in operator's session token (every form behind login).
pub struct Session;
impl CsrfSource for Session {
    const SESSION: bool = true;
}

/// The anonymous double-submit cookie ([`CSRF_COOKIE`]): the login and setup forms.
pub struct Anonymous;
impl CsrfSource for Anonymous {
    const SESSION: bool = false;
}

/// A console form whose CSRF token was checked (403 page otherwise): the urlencoded body as `T`,
/// under the same limits and errors as `web::Form`. Put it before a [`ManagedSite`] in the
/// handler's arguments, so the site check waits for it.
pub struct CsrfForm<T, S: CsrfSource = Session> {
    /// The form's fields.
    pub form: T,
    /// The token the form carried (the login and setup pages send it back when re-shown).
    pub csrf: String,
    _source: PhantomData<S>,
}

impl<T, S: CsrfSource> CsrfForm<T, S> {
    /// The form's fields.
    pub fn into_inner(self) -> T {
        self.form
    }
}

impl<T, S: CsrfSource> std::ops::Deref for CsrfForm<T, S> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.form
    }
}

/// The token `req`'s form must carry: the session's, or the anonymous cookie's.
async fn expected_token<S: CsrfSource>(
    req: &HttpRequest,
    lookup: Option<Shared<LocalBoxFuture<'static, Lookup>>>,
) -> Result<String, ConsoleError> {
    if S::SESSION {
        let lookup = lookup.unwrap_or_else(|| session_lookup(req));
        Ok(operator_of(lookup, req.path().to_owned())
            .await?
            .session
            .csrf_token)
    } else {
        Ok(req
            .cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .unwrap_or_default())
    }
}

/// Checks `submitted` against the token `req` expects; on success opens `gate`.
fn check(
    req: &HttpRequest,
    submitted: &str,
    expected: &str,
    gate: oneshot::Sender<()>,
) -> Result<(), ConsoleError> {
    let settings = &req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ConsoleError::internal("no app state"))?
        .settings;
    if csrf_ok(req, settings, submitted, expected) {
        // The receiver is gone when no ManagedSite waits: nothing to tell.
        let _ = gate.send(());
        Ok(())
    } else {
        Err(ConsoleError::CsrfRejected)
    }
}

impl<T: DeserializeOwned + 'static, S: CsrfSource> FromRequest for CsrfForm<T, S> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let gate = open_gate(req);
        let lookup = S::SESSION.then(|| session_lookup(req));
        let body = web::Form::<WithCsrf<T>>::from_request(req, payload);
        let req = req.clone();
        async move {
            let expected = expected_token::<S>(&req, lookup).await?;
            let web::Form(WithCsrf { csrf, form }) = body.await?;
            check(&req, &csrf, &expected, gate)?;
            Ok(CsrfForm {
                form,
                csrf,
                _source: PhantomData,
            })
        }
        .boxed_local()
    }
}

/// A CSRF-checked console form read as its list of fields in order, for forms a struct cannot
/// hold (a ticked box per value, fields named by key). Same body limit as `web::Bytes`.
pub struct CsrfFields {
    /// The fields besides `csrf`, in the order sent.
    pub fields: Vec<(String, String)>,
}

impl FromRequest for CsrfFields {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let gate = open_gate(req);
        let lookup = session_lookup(req);
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        async move {
            let expected = expected_token::<Session>(&req, Some(lookup)).await?;
            let body = body.await?;
            let mut csrf = String::new();
            let mut fields = Vec::new();
            for (k, v) in url::form_urlencoded::parse(&body) {
                if k == "csrf" {
                    csrf = v.into_owned();
                } else {
                    fields.push((k.into_owned(), v.into_owned()));
                }
            }
            check(&req, &csrf, &expected, gate)?;
            Ok(CsrfFields { fields })
        }
        .boxed_local()
    }
}

/// Who may use a site's page, and what the others are told.
pub trait SiteRule: 'static {
    /// `Ok` when an operator with `role` on the site may go on.
    fn admit(role: Role) -> Result<(), ConsoleError>;
}

/// Any member of the site; others get 404.
pub struct AnyMember;
impl SiteRule for AnyMember {
    fn admit(_: Role) -> Result<(), ConsoleError> {
        Ok(())
    }
}

/// Owners and admins; agents and others get 404 (the site settings).
pub struct OwnerOrAdmin;
impl SiteRule for OwnerOrAdmin {
    fn admit(role: Role) -> Result<(), ConsoleError> {
        match role {
            Role::Owner | Role::Admin => Ok(()),
            Role::Agent => Err(ConsoleError::NotFound),
        }
    }
}

/// Owners and admins; agents get 403 saying so (the offline settings).
pub struct OfflineManager;
impl SiteRule for OfflineManager {
    fn admit(role: Role) -> Result<(), ConsoleError> {
        match role {
            Role::Owner | Role::Admin => Ok(()),
            Role::Agent => Err(ConsoleError::Forbidden(
                "Only the site's owners and admins can change its offline settings.",
            )),
        }
    }
}

/// Owners and admins; agents get 403 saying so (the webhooks).
pub struct WebhookManager;
impl SiteRule for WebhookManager {
    fn admit(role: Role) -> Result<(), ConsoleError> {
        match role {
            Role::Owner | Role::Admin => Ok(()),
            Role::Agent => Err(ConsoleError::Forbidden(
                "Only the site's owners and admins can see and change its webhooks.",
            )),
        }
    }
}

/// The site named by the path's `{site_id}`, when the signed-in operator may use it under rule `R`
/// (non-members always get 404). Carries the operator too.
pub struct ManagedSite<R: SiteRule = AnyMember> {
    /// The site.
    pub site: Site,
    /// The operator's role on it.
    pub role: Role,
    /// The operator.
    pub op: CurrentOperator,
    _rule: PhantomData<R>,
}

impl<R: SiteRule> FromRequest for ManagedSite<R> {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let gate = req
            .extensions_mut()
            .get_mut::<CsrfGate>()
            .and_then(|g| g.0.take());
        let lookup = session_lookup(req);
        let next = req.path().to_owned();
        let site_id = req.match_info().get("site_id").map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        async move {
            if let Some(gate) = gate {
                // A dropped sender: the form was rejected, and its extractor answers for it.
                gate.await.map_err(|_| ConsoleError::CsrfRejected)?;
            }
            let op = operator_of(lookup, next).await?;
            let state = state.ok_or_else(|| ConsoleError::internal("no app state"))?;
            let site_id = site_id.ok_or(ConsoleError::NotFound)?;
            let operator_id = op.operator.id.clone();
            let (site, role) = services::run(&state.db, move |conn| {
                services::sites::membership(conn, &site_id, &operator_id)
            })
            .await
            .map_err(ConsoleError::internal)?
            .ok_or(ConsoleError::NotFound)?;
            R::admit(role)?;
            Ok(ManagedSite {
                site,
                role,
                op,
                _rule: PhantomData,
            })
        }
        .boxed_local()
    }
}
