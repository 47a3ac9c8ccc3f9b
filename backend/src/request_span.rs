//! The span every HTTP request runs in, for the errors logged while it is served.
//!
//! tracing-actix-web's default span gathers a dozen OpenTelemetry fields for every request before
//! it knows whether the span is enabled (the matched route pattern, the parsed connection info,
//! the user agent), on every page-view beacon, the busiest route, too (a few percent of its CPU).
//! This one names the method, the path and the status; the path leaves out the query string,
//! which on some routes carries a guest token.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

/// Method, path and status.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
    }
}
