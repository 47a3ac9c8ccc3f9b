//! Example host sites and entry points for Beckon: pages on another origin that embed the widget,
//! an email and a document with chat links. Run them with `cargo run -p beckon-examples --example …`.
