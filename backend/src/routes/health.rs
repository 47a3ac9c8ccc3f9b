//! Liveness and readiness probes.

use std::time::Duration;

use actix_web::{web, HttpResponse};

use crate::state::AppState;

/// `/healthz` and `/readyz`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The process is up and serving.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Longest `/readyz` waits for the database: a load balancer's probe must get its answer well within
/// its own timeout, whatever `--db-timeout-ms` is.
const READY_WAIT: Duration = Duration::from_millis(800);

/// The database answers; 503 when it does not, or not within [`READY_WAIT`]. In cluster mode a node
/// whose link to Redis is down is still ready (it serves its own clients, whose messages are stored
/// as ever) but says `degraded`: events between nodes wait until Redis is back.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping_within(READY_WAIT).await {
        Ok(()) => match &state.cluster {
            Some(link) if !link.healthy() => HttpResponse::Ok().content_type("text/plain").body(
                format!(
                    "degraded: Redis unreachable, serving this node's clients only ({} frames to other nodes dropped so far)",
                    link.dropped()
                ),
            ),
            _ => HttpResponse::Ok().content_type("text/plain").body("ready"),
        },
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
