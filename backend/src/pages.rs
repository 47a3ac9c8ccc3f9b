//! Sending server-rendered pages (the console's and the chat pages') with their security headers,
//! and the CSRF checks for console forms. A neutral module, so no route module imports another.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use base64::Engine as _;
use maud::Markup;
use rand::RngCore as _;

use crate::config::Settings;
use crate::secrets;

/// Name of the anonymous CSRF cookie used by the login and setup forms (double-submit).
pub const CSRF_COOKIE: &str = "beckon_csrf";

/// A fresh CSP nonce for one response.
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Starts a console HTML response with the console's security headers for `nonce`.
pub fn html_builder(status: StatusCode, nonce: &str) -> HttpResponseBuilder {
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; \
                 img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header(("Cache-Control", "no-store"));
    res
}

/// A console HTML page.
pub fn html(status: StatusCode, nonce: &str, body: Markup) -> HttpResponse {
    html_builder(status, nonce).body(body.into_string())
}

/// A 303 redirect (after a form post, or to the login page).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// The anonymous CSRF token of this browser, and the cookie to set when it had none.
pub fn anonymous_csrf(req: &HttpRequest, settings: &Settings) -> (String, Option<Cookie<'static>>) {
    match req.cookie(CSRF_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_owned(), None),
        _ => {
            let token = secrets::random_token();
            let cookie = Cookie::build(CSRF_COOKIE, token.clone())
                .path("/")
                .http_only(true)
                .secure(settings.cookies_secure())
                .same_site(SameSite::Strict)
                .finish();
            (token, Some(cookie))
        }
    }
}

/// Whether a form post may be acted on: the request must not come from another site (by `Origin`
/// and `Sec-Fetch-Site`, when the browser sends them), and `submitted` must equal `expected`.
pub fn csrf_ok(req: &HttpRequest, settings: &Settings, submitted: &str, expected: &str) -> bool {
    let headers = req.headers();
    if let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) {
        let ours = settings.base_url.origin().ascii_serialization();
        if origin != ours {
            return false;
        }
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site == "cross-site" {
            return false;
        }
    }
    !expected.is_empty() && secrets::constant_time_eq(submitted, expected)
}

/// The 403 page for a failed CSRF check.
pub fn csrf_rejected(nonce: &str) -> HttpResponse {
    html(
        StatusCode::FORBIDDEN,
        nonce,
        beckon_console::pages::message(&beckon_console::pages::MessageView {
            nonce,
            title: "Form expired",
            message: "This form has expired or was sent from another site. Go back, reload the page and try again.",
        }),
    )
}

/// The 500 page; the cause is logged, never shown.
pub fn internal_error(nonce: &str, cause: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %cause, "console request failed");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        nonce,
        beckon_console::pages::message(&beckon_console::pages::MessageView {
            nonce,
            title: "Something went wrong",
            message:
                "Beckon could not complete this request. It has been logged; please try again.",
        }),
    )
}

/// The 404 page for console pages of sites the operator is not a member of.
pub fn not_found(nonce: &str) -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        nonce,
        beckon_console::pages::message(&beckon_console::pages::MessageView {
            nonce,
            title: "Not found",
            message: "There is no such page, or it belongs to a site you are not a member of.",
        }),
    )
}

/// The page for a console form that could not be saved (422 bad value, 409 conflict).
pub fn bad_form(status: StatusCode, nonce: &str, problem: &str) -> HttpResponse {
    html(
        status,
        nonce,
        beckon_console::pages::message(&beckon_console::pages::MessageView {
            nonce,
            title: "Please check the form",
            message: problem,
        }),
    )
}

/// Keeps a post-login redirect inside the console (no open redirect to other hosts).
pub fn safe_next(next: &str) -> &str {
    if next.starts_with("/console") && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/console"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(safe_next("/console/visitors"), "/console/visitors");
        assert_eq!(safe_next("https://evil.example"), "/console");
        assert_eq!(safe_next("//evil.example"), "/console");
        assert_eq!(safe_next("/console\\@evil"), "/console");
    }
}
