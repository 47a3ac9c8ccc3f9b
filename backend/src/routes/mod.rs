//! The HTTP and WebSocket edge: one module per area, each with `configure`. Handlers parse input,
//! call a service and shape the answer; nothing else.

pub mod client;
pub mod console;
pub mod health;

use actix_web::web;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    console::configure(cfg);
}
