//! The call module (`js/call/call.js`): WebRTC voice, video and screen calls, shared by the chat panel
//! and the console's Chats page. It is a script of its own, served at [`CALL_JS_PATH`]; the panel loads
//! it (a nonce'd `<script src>`) only when a call rings or the guest starts one, so neither the loader
//! nor the panel script carries any WebRTC code.

/// The minified call module: a classic script that sets `window.BeckonCall`.
const CALL_MIN_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/call.min.js"));

/// Short hash of the minified call module; it changes whenever the module does.
pub const CALL_VERSION: &str = env!("BECKON_CALL_VERSION");

/// Where the backend serves [`call_min_js`] (cacheable for ever: the version is in the path). The
/// chat panel's script names this path, so a new module is a new panel too.
pub const CALL_JS_PATH: &str = concat!("/w/call.", env!("BECKON_CALL_VERSION"), ".js");

/// The minified call module, as served at [`CALL_JS_PATH`].
pub fn call_min_js() -> &'static str {
    CALL_MIN_JS
}
