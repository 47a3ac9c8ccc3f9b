//! The guest API the widget calls from other origins: guest ids, page-view beacons, the monitor
//! pixel, the loader script itself, and the call module the chat panel and the console load.

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::{Deserialize, Serialize};

use crate::db::models::Site;
use crate::error::ApiError;
use crate::extract::client;
use crate::limits;
use crate::realtime::live::GuestFacts;
use crate::services::refused_origins;
use crate::services::visitors::{self, widget_origin_ok, GuestClient};
use crate::state::AppState;

/// Largest guest API body (JSON of a guest request).
const GUEST_BODY_LIMIT: usize = 4 * 1024;
/// Largest beacon body.
pub const BEACON_BODY_LIMIT: usize = 8 * 1024;

/// Guest API routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/visitors")
            .wrap(actix_web::middleware::from_fn(readable_refusal))
            .app_data(web::PayloadConfig::default().limit(GUEST_BODY_LIMIT))
            .route(web::post().to(obtain_guest))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
    )
    .service(
        web::resource("/api/v1/beacon")
            .wrap(actix_web::middleware::from_fn(readable_refusal))
            .app_data(web::PayloadConfig::default().limit(BEACON_BODY_LIMIT))
            .route(web::post().to(beacon))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
    )
    .service(
        web::resource("/api/v1/identify")
            .wrap(actix_web::middleware::from_fn(readable_refusal))
            .app_data(web::PayloadConfig::default().limit(GUEST_BODY_LIMIT))
            .route(web::post().to(identify))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
    )
    .service(
        web::resource("/api/v1/invitations/poll")
            .app_data(web::PayloadConfig::default().limit(GUEST_BODY_LIMIT))
            .route(web::post().to(poll_invitation))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
    )
    .service(
        web::resource("/api/v1/invitations/answer")
            .app_data(web::PayloadConfig::default().limit(GUEST_BODY_LIMIT))
            .route(web::post().to(answer_invitation))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
    )
    // Before `/w/{file}`, which would take `call.VERSION` for a site key.
    .route(beckon_widget::CALL_JS_PATH, web::get().to(call_module))
    .route("/w/{file}", web::get().to(loader))
    .route("/m/{file}", web::get().to(pixel));
}

fn origin_of(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
}

/// CORS headers for an allowed origin.
fn with_cors(mut res: HttpResponseBuilder, origin: Option<&str>) -> HttpResponseBuilder {
    if let Some(origin) = origin {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.to_owned()));
    }
    res.insert_header((header::VARY, "Origin"));
    res.insert_header(("X-Content-Type-Options", "nosniff"));
    res
}

/// The site for a key, checked against the request's origin.
async fn site_for(state: &AppState, req: &HttpRequest, key: &str) -> Result<Arc<Site>, ApiError> {
    let site = state
        .sites
        .by_key(&state.db, key)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !widget_origin_ok(state, &site, origin_of(req)) {
        let referer = req
            .headers()
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok());
        refused_origins::note(state, &site, origin_of(req), referer).await;
        return Err(ApiError::OriginNotAllowed);
    }
    Ok(site)
}

/// Lets the page read a refusal: a 403 (an origin the site does not allow) carries
/// `Access-Control-Allow-Origin` for the request's origin (`null` for an opaque one), so the loader
/// sees "refused" rather than a network error and does not show a launcher that cannot work. These
/// routes take no credentials, so the page learns nothing but the refusal.
async fn readable_refusal(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut res = next.call(req).await?;
    let refused = res.status() == actix_web::http::StatusCode::FORBIDDEN;
    let headers = res.headers_mut();
    if refused && !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        if let Some(origin) = origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
        }
    }
    Ok(res)
}

/// Preflight for clients that send JSON content types (the widget itself sends text/plain).
async fn preflight(req: HttpRequest) -> HttpResponse {
    with_cors(HttpResponse::NoContent(), origin_of(&req))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish()
}

#[derive(Deserialize)]
struct GuestRequest {
    site_key: String,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Serialize)]
struct GuestResponse<'a> {
    guest_id: &'a str,
    token: &'a str,
    returning: bool,
}

fn guest_client(req: &HttpRequest, state: &AppState) -> GuestClient {
    let ip = client::ip(req, &state.settings);
    let info = client::info(req, &state.settings);
    GuestClient {
        ip: ip.to_string(),
        ip_key: limits::ip_key(ip),
        user_agent: info.user_agent,
    }
}

#[tracing::instrument(skip_all)]
async fn obtain_guest(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: GuestRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed guest request: {e}")))?;
    let site = site_for(&state, &req, &request.site_key).await?;
    let origin = origin_of(&req);
    if let Some(token) = request.token.as_deref() {
        if let Some(facts) = state
            .guests
            .authenticate(&state.db, &site.id, token)
            .await?
        {
            let body = GuestResponse {
                guest_id: &facts.guest_id,
                token,
                returning: facts.returning,
            };
            return Ok(with_cors(HttpResponse::Ok(), origin).json(body));
        }
    }
    let client = guest_client(&req, &state);
    if let Err(wait) = state.guest_limit.check(&client.ip_key).await {
        return Err(ApiError::TooManyRequests {
            retry_after: wait.as_secs() + 1,
        });
    }
    let max = state.settings.max_guests_per_ip;
    let issued = state
        .db
        .run(move |conn| {
            Ok(visitors::issue_or_resume(
                conn,
                &site,
                request.token.as_deref(),
                &client,
                max,
            ))
        })
        .await??;
    state
        .guests
        .remember(&issued.token, &issued.visitor, issued.returning);
    let status = if issued.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(with_cors(status, origin).json(GuestResponse {
        guest_id: &issued.visitor.guest_id,
        token: &issued.token,
        returning: issued.returning,
    }))
}

#[derive(Deserialize)]
struct Beacon {
    k: String,
    t: String,
    u: String,
    #[serde(default)]
    ti: String,
    #[serde(default)]
    r: String,
}

/// A page address the list may show: an http(s) URL of at most 2048 characters.
fn page_url(raw: &str) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err(ApiError::BadRequest(
            "page URL is longer than 2048 characters".into(),
        ));
    }
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u.to_string()),
        _ => Err(ApiError::BadRequest(
            "page URL must be an http(s) URL".into(),
        )),
    }
}

/// Free text from a page (title): control characters dropped, at most `max` characters.
fn page_text(raw: &str, max: usize) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A referrer: kept only when it is an http(s) URL.
fn referrer(raw: &str) -> String {
    page_url(raw).unwrap_or_default()
}

async fn queue_view(
    state: &AppState,
    guest: &GuestFacts,
    url: String,
    title: String,
    referrer: String,
) -> Result<(), ApiError> {
    crate::services::pageviews::record(state, guest, url, title, referrer)
        .await
        .map_err(|_| {
            ApiError::Unavailable(
                "busy: page views are arriving faster than they can be stored".into(),
            )
        })
}

async fn beacon(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let beacon: Beacon = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed beacon: {e}")))?;
    let url = page_url(&beacon.u)?;
    let site = site_for(&state, &req, &beacon.k).await?;
    let guest = state
        .guests
        .authenticate(&state.db, &site.id, &beacon.t)
        .await?
        .ok_or_else(|| ApiError::UnknownGuest)?;
    queue_view(
        &state,
        &guest,
        url,
        page_text(&beacon.ti, 300),
        referrer(&beacon.r),
    )
    .await?;
    Ok(with_cors(HttpResponse::Accepted(), origin_of(&req)).finish())
}

/// `/w/KEY.js`: the loader, configured for this site and this server.
async fn loader(
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = file.strip_suffix(".js").ok_or(ApiError::NotFound)?;
    let site = state
        .sites
        .by_key(&state.db, key)
        .await?
        .ok_or(ApiError::NotFound)?;
    let settings = site.settings();
    let script = beckon_widget::loader_script_with(&beckon_widget::LoaderOptions {
        site_key: &site.public_key,
        base_url: state.settings.base(),
        colour: settings.colour.as_deref(),
        position: settings.position.as_deref(),
    });
    // The script is the loader plus the site's config (colour, side): a change of either is a new ETag.
    let script_hash = {
        use sha2::{Digest, Sha256};
        hex::encode(&Sha256::digest(script.as_bytes())[..6])
    };
    Ok(HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            header::ETAG,
            format!("\"{}-{script_hash}\"", beckon_widget::LOADER_VERSION),
        ))
        .body(script))
}

/// `/w/call.VERSION.js`: the call module (WebRTC), cacheable for ever since its version is in the path
/// (another version is a 404, like the console's versioned assets). Loaded on Beckon's own origin only
/// (the chat panel and the console), so it needs no CORS.
async fn call_module() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(beckon_widget::call_min_js())
}

/// A transparent 1×1 GIF.
const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

#[derive(Deserialize)]
struct PixelQuery {
    u: Option<String>,
    ti: Option<String>,
}

/// `/m/KEY.gif`: a page view without JavaScript. The guest is kept in a cookie on Beckon's domain.
async fn pixel(
    req: HttpRequest,
    state: web::Data<AppState>,
    file: web::Path<String>,
    query: web::Query<PixelQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = file.strip_suffix(".gif").ok_or(ApiError::NotFound)?;
    let site = state
        .sites
        .by_key(&state.db, key)
        .await?
        .ok_or(ApiError::NotFound)?;
    let gif = || {
        let mut res = HttpResponse::Ok();
        res.content_type("image/gif")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("X-Content-Type-Options", "nosniff"));
        res
    };
    let page = query.u.clone().or_else(|| {
        req.headers()
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let Some(url) = page.and_then(|p| page_url(&p).ok()) else {
        return Ok(gif().body(PIXEL_GIF));
    };
    let cookie_name = format!("beckon_g_{}", site.public_key);
    let presented = req.cookie(&cookie_name).map(|c| c.value().to_owned());
    let known = match &presented {
        Some(token) => {
            state
                .guests
                .authenticate(&state.db, &site.id, token)
                .await?
        }
        None => None,
    };
    let mut new_cookie = None;
    let guest = match known {
        Some(g) => g,
        None => {
            let client = guest_client(&req, &state);
            if state.guest_limit.check(&client.ip_key).await.is_err() {
                // Over the limit: still a valid image, just not counted.
                return Ok(gif().body(PIXEL_GIF));
            }
            let max = state.settings.max_guests_per_ip;
            let site_row = site.clone();
            let issued = match crate::services::run(&state.db, move |conn| {
                visitors::issue_or_resume(conn, &site_row, presented.as_deref(), &client, max)
            })
            .await
            {
                Ok(issued) => issued,
                Err(crate::services::ServiceError::Limited { .. }) => {
                    return Ok(gif().body(PIXEL_GIF))
                }
                Err(e) => return Err(e.into()),
            };
            state
                .guests
                .remember(&issued.token, &issued.visitor, issued.returning);
            let secure = state.settings.cookies_secure();
            new_cookie = Some(
                Cookie::build(cookie_name, issued.token.clone())
                    .path("/m/")
                    .http_only(true)
                    .secure(secure)
                    .same_site(if secure {
                        SameSite::None
                    } else {
                        SameSite::Lax
                    })
                    .max_age(actix_web::cookie::time::Duration::days(365))
                    .finish(),
            );
            crate::realtime::live::GuestFacts {
                visitor_id: issued.visitor.id.to_string(),
                site_id: issued.visitor.site_id.to_string(),
                guest_id: issued.visitor.guest_id.clone(),
                display_name: None,
                returning: issued.returning,
                user_agent: issued.visitor.user_agent.clone(),
            }
        }
    };
    let title = page_text(query.ti.as_deref().unwrap_or(""), 300);
    // A full buffer must not break an image in someone's email: the view is just not counted.
    let _ = queue_view(&state, &guest, url, title, String::new()).await;
    let mut res = gif();
    if let Some(cookie) = new_cookie {
        res.cookie(cookie);
    }
    Ok(res.body(PIXEL_GIF))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_must_be_http() {
        assert!(page_url("https://shop.example/tent?x=1").is_ok());
        assert!(page_url("javascript:alert(1)").is_err());
        assert!(page_url(&format!("https://x.example/{}", "a".repeat(3000))).is_err());
        assert_eq!(referrer("not a url"), "");
    }

    #[test]
    fn titles_lose_control_characters_and_are_capped() {
        assert_eq!(page_text("a\u{0}b\nc", 10), "abc");
        assert_eq!(page_text(&"x".repeat(400), 300).len(), 300);
    }
}

#[derive(Deserialize)]
struct IdentifyRequest {
    site_key: String,
    token: String,
    #[serde(flatten)]
    claim: crate::services::identity::IdentityClaim,
}

/// `POST /api/v1/identify`: the host page vouches for its signed-in user (see `services::identity`).
async fn identify(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: IdentifyRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed identify request: {e}")))?;
    let site = site_for(&state, &req, &request.site_key).await?;
    let guest = state
        .guests
        .authenticate(&state.db, &site.id, &request.token)
        .await?
        .ok_or(ApiError::UnknownGuest)?;
    let visitor_id = guest.visitor_id.clone();
    let now = chrono::Utc::now().timestamp();
    let name = crate::services::run(&state.db, move |conn| {
        crate::services::identity::verify_and_apply(conn, &site, &visitor_id, &request.claim, now)
    })
    .await
    .map_err(|e| match e {
        crate::services::ServiceError::Unauthorized => {
            ApiError::Forbidden("the identity signature is not valid or not fresh".into())
        }
        other => other.into(),
    })?;
    // Later lookups must see the new name.
    state.guests.clear();
    Ok(with_cors(HttpResponse::Ok(), origin_of(&req))
        .json(serde_json::json!({"verified": true, "name": name})))
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::{page_text, page_url, referrer, Beacon};

    proptest! {
        /// The beacon parser on any bytes, and on well-formed beacons with any field text: no
        /// panic; a page address is an http(s) URL; a title is at most 300 characters without
        /// control characters; a referrer is empty or an http(s) URL.
        #[test]
        fn beacons_parse_any_input_without_panicking(
            raw in prop::collection::vec(any::<u8>(), 0..600),
            u in any::<String>(),
            ti in any::<String>(),
            r in any::<String>(),
            scheme in "(https?|javascript|data|ftp)://",
        ) {
            let generated = serde_json::json!({
                "k": "K", "t": "T", "u": format!("{scheme}{u}"), "ti": ti, "r": r
            })
            .to_string();
            for body in [&raw[..], generated.as_bytes()] {
                let Ok(beacon) = serde_json::from_slice::<Beacon>(body) else {
                    continue;
                };
                if let Ok(url) = page_url(&beacon.u) {
                    prop_assert!(url.starts_with("http://") || url.starts_with("https://"));
                }
                let title = page_text(&beacon.ti, 300);
                prop_assert!(title.chars().count() <= 300);
                prop_assert!(!title.chars().any(char::is_control));
                let r = referrer(&beacon.r);
                prop_assert!(r.is_empty() || r.starts_with("http://") || r.starts_with("https://"));
            }
        }
    }
}

/// `{k, t}`: a polling loader's site key and guest token.
#[derive(Deserialize)]
struct InvitationPoll {
    k: String,
    t: String,
}

/// `{k, t, invitation_id, accepted}`: a polling loader's answer to an invitation bubble.
#[derive(Deserialize)]
struct InvitationAnswer {
    k: String,
    t: String,
    invitation_id: String,
    accepted: bool,
}

/// The guest a loader names (`k`, `t`), from an allowed origin.
async fn polling_guest(
    state: &AppState,
    req: &HttpRequest,
    key: &str,
    token: &str,
) -> Result<GuestFacts, ApiError> {
    let site = site_for(state, req, key).await?;
    state
        .guests
        .authenticate(&state.db, &site.id, token)
        .await?
        .ok_or(ApiError::UnknownGuest)
}

/// Counts one request of `guest` against `limit`.
fn within(limit: &limits::KeyedLimit, guest: &GuestFacts) -> Result<(), ApiError> {
    limit
        .check(&guest.visitor_id)
        .map_err(|wait| ApiError::TooManyRequests {
            retry_after: limits::retry_after_secs(wait),
        })
}

/// `POST /api/v1/invitations/poll`: the loader of a page whose presence socket cannot open (a
/// host CSP, a proxy) asks for its guest's pending invitation: `{"invitation": {invitation_id,
/// operator, message}}` or `{"invitation": null}`. Counted against the guest's event limit.
#[tracing::instrument(skip_all)]
async fn poll_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let poll: InvitationPoll = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed invitation poll: {e}")))?;
    let guest = polling_guest(&state, &req, &poll.k, &poll.t).await?;
    within(&state.chat_limits.guest_events, &guest)?;
    let offer = crate::services::invitations::poll(&state, &guest).await?;
    Ok(with_cors(HttpResponse::Ok(), origin_of(&req))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "invitation": offer })))
}

/// `POST /api/v1/invitations/answer`: the polling loader's answer, through the same use case as
/// the socket's `invite_response`. An invitation that is not this guest's, or no longer pending,
/// changes nothing, and the answer is the same 204 (nobody learns of others' invitations).
#[tracing::instrument(skip_all)]
async fn answer_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let answer: InvitationAnswer = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed invitation answer: {e}")))?;
    if answer.invitation_id.is_empty() || answer.invitation_id.len() > 64 {
        return Err(ApiError::BadRequest(
            "invitation_id must be 1 to 64 characters".into(),
        ));
    }
    let guest = polling_guest(&state, &req, &answer.k, &answer.t).await?;
    within(&state.chat_limits.invite_answers, &guest)?;
    crate::services::invitations::answer(
        &state,
        guest.visitor_id.clone(),
        answer.invitation_id,
        answer.accepted,
    )
    .await;
    Ok(with_cors(HttpResponse::NoContent(), origin_of(&req)).finish())
}
