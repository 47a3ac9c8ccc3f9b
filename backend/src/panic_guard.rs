//! A panic in a request handler is answered with 500 and logged, instead of the connection being
//! dropped without an answer (what actix-web does on its own: the panic unwinds the connection's
//! task, and the client sees a reset or an empty reply it may retry blindly).
//!
//! Panics are bugs: this keeps one from taking a client's connection with it and makes it visible
//! in the log with the request it happened on. Handlers are not written to be unwind safe, but a
//! panicking handler's state is dropped with its future, and shared state is behind locks that
//! recover from poisoning (or lock-free), so carrying on serving is sound.

use std::any::Any;
use std::future::{ready, Ready};
use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use actix_web::Error;
use futures_util::future::{FutureExt as _, LocalBoxFuture};

use crate::error::ApiError;

/// Middleware that turns a handler's panic into a logged 500 (`{"error": "internal"}`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanic;

impl<S, B> Transform<S, ServiceRequest> for CatchPanic
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type InitError = ();
    type Transform = CatchPanicService<S>;
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CatchPanicService { service }))
    }
}

/// The service [`CatchPanic`] wraps around the application.
pub struct CatchPanicService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for CatchPanicService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // Only what the log line needs: a clone of the request itself would stop the router
        // from writing the path's parameters into it.
        let (method, path) = (req.method().clone(), req.path().to_owned());
        // A handler can panic while its future is made, as well as while it runs.
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| self.service.call(req)));
        Box::pin(async move {
            let outcome = match started {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            // The request went down with the handler, so the answer is an error, which the
            // server turns into the response (`ApiError`'s 500 `{"error": "internal"}`).
            outcome.unwrap_or_else(|panic| Err(panicked(&method, &path, panic.as_ref())))
        })
    }
}

/// The text a panic was raised with, when it has one.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

fn panicked(method: &Method, path: &str, panic: &(dyn Any + Send)) -> Error {
    let message = panic_message(panic);
    tracing::error!(%method, path, panic = message, "request handler panicked; answered 500");
    ApiError::Internal(anyhow::anyhow!("request handler panicked: {message}")).into()
}

#[cfg(test)]
mod tests {
    use actix_web::{test, web, App, HttpResponse};

    use super::CatchPanic;

    async fn boom() -> HttpResponse {
        panic!("a bug in a handler");
    }

    #[actix_web::test]
    async fn a_panicking_handler_is_answered_500_and_the_app_keeps_serving() {
        let app = test::init_service(
            App::new()
                .wrap(CatchPanic)
                .route("/boom/{id}", web::get().to(boom))
                .route(
                    "/ok/{id}",
                    web::get().to(|id: web::Path<String>| async move {
                        HttpResponse::Ok().body(id.into_inner())
                    }),
                ),
        )
        .await;
        // The server turns the error into the response it sends; done here by hand.
        let outcome =
            test::try_call_service(&app, test::TestRequest::get().uri("/boom/1").to_request())
                .await;
        let Err(err) = outcome else {
            panic!("a panicking handler must give an error, not a response or a dropped request");
        };
        let res = err.error_response();
        assert_eq!(res.status(), 500);
        let body = actix_web::body::to_bytes(res.into_body())
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"], "internal");
        // Routes with path parameters still match through the middleware.
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/ok/7").to_request()).await;
        assert_eq!(res.status(), 200);
        assert_eq!(test::read_body(res).await, "7");
    }
}
