//! What handlers take from a request before they call a use case: the client's address, and (in
//! `console`) the signed-in operator, a CSRF-checked form and the site being managed. Shared by the
//! HTTP routes and the socket edge, so no route module imports another.

pub mod client;
pub mod console;
