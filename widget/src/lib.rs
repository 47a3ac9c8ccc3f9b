//! Beckon's visitor-side JavaScript: the loader (`/w/SITE_KEY.js`) and the lazily loaded chat panel,
//! minified at build time and served by the backend from memory.
//!
//! The scripts arrive with the visitor and chat issues; this crate is where they and their build live,
//! so the backend's dependency on it is already in place.
