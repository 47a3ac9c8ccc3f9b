//! Beckon: a live-help server in one binary.
//!
//! Data flows one way: the HTTP/WebSocket edge ([`routes`]) calls domain use cases ([`services`]),
//! which use storage ([`db`]). Values are parsed into [`domain`] types at the edge. Console markup
//! comes from the `beckon-console` crate; the visitor-side script from `beckon-widget`.

pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod edge;
pub mod error;
pub mod extract;
pub mod limits;
pub mod memory;
pub mod outbound;
pub mod pages;
pub mod panic_guard;
pub mod realtime;
pub mod request_span;
pub mod routes;
pub mod secrets;
pub mod services;
pub mod smtp_listener;
pub mod startup;
pub mod state;
