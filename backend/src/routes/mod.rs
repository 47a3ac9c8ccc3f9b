//! The HTTP and WebSocket edge: one module per area, each with `configure`. Handlers parse input,
//! call a service and shape the answer; nothing else.

pub mod attachments;
pub mod badges;
pub mod chat_pages;
pub mod console;
pub mod guest;
pub mod health;
pub mod inbound_mail;
pub mod inbound_sms;
pub mod offline;

use actix_web::web;

/// Registers every route. Routes are tried in this order, and a pattern with `{…}` costs a regex
/// match, so the busiest ones (beacons, guest ids, the visitor socket) come first.
pub fn configure(cfg: &mut web::ServiceConfig) {
    guest::configure(cfg);
    crate::edge::visitor::configure(cfg);
    health::configure(cfg);
    attachments::configure(cfg);
    inbound_sms::configure(cfg);
    offline::configure(cfg);
    inbound_mail::configure(cfg);
    badges::configure(cfg);
    chat_pages::configure(cfg);
    crate::edge::console::configure(cfg);
    console::configure(cfg);
}
