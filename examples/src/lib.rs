//! Example host sites and entry points for Beckon: pages on another origin that embed the widget,
//! an email and a document with chat links. Run them with `cargo run -p beckon-examples --example …`.
//!
//! - [`shop`]: "Acme Outdoor", a small shop (several pages and a single-page app) whose every page
//!   embeds the widget; the `demo-site` example serves it, and the browser tests host the widget on it.
//! - `email-signature.html` and `document.md` (files next to this crate's manifest): the status badge
//!   and chat links for places where scripts cannot run.

pub mod shop;
