//! Builds the visitor-side scripts, so running Beckon needs no Node:
//! - the loader: the files of `js/loader/` joined in a fixed order into one function `(function(c){...})`
//!   (so they share one private scope and see the config object `c`), minified, its declared names
//!   shortened (`build/mangle.rs`) and the `;` before each `}` dropped (`build/semicolons.rs`), written
//!   to `OUT_DIR/loader.min.js`;
//! - the call module `js/call/call.js` (WebRTC: voice, video, screen), minified on its own
//!   (`call.min.js`): the chat panel loads it only when a call starts or rings, the console's Chats page
//!   with the page; neither the loader nor the panel script carries any of it;
//! - the chat panel: the files of `js/panel/` joined into one immediately run function and minified
//!   (`panel.min.js`), and its style sheet `js/panel/panel.css` minified (`panel.min.css`). The call
//!   module's version goes into the panel where its source says `%CALL_VERSION%` (the URL it loads).
//!
//! Short content hashes become `BECKON_LOADER_VERSION`, `BECKON_CALL_VERSION` and
//! `BECKON_PANEL_VERSION`.

#[path = "build/mangle.rs"]
mod mangle;
#[path = "build/semicolons.rs"]
mod semicolons;

use sha2::{Digest, Sha256};
use std::{
    env, fs,
    path::{Path, PathBuf},
};

/// Loader sources in concatenation order: shared helpers first, the entry that starts everything last.
const LOADER_FILES: [&str; 7] = [
    "config.js",
    "net.js",
    "monitor.js",
    "presence.js",
    "launcher.js",
    "frame.js",
    "main.js",
];

/// Chat panel sources in concatenation order, the entry last.
const PANEL_FILES: [&str; 10] = [
    "config.js",
    "i18n.js",
    "conversation.js",
    "view.js",
    "composer.js",
    "offline.js",
    "calls.js",
    "socket.js",
    "embed.js",
    "main.js",
];

/// Where the panel's source names the call module's version.
const CALL_VERSION_SLOT: &str = "%CALL_VERSION%";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo::rerun-if-changed=build/mangle.rs");
    println!("cargo::rerun-if-changed=build/semicolons.rs");

    let loader = join(
        &manifest_dir.join("js").join("loader"),
        &LOADER_FILES,
        "(function(c){\"use strict\";\n",
        "})",
    );
    let loader = minifier::js::simple_minify(&loader)
        .unwrap_or_else(|e| panic!("cannot minify the loader: {e}"))
        .apply(minifier::js::clean_tokens)
        .apply(mangle::mangle)
        .apply(semicolons::drop_needless_semicolons)
        .to_string();
    fs::write(out_dir.join("loader.min.js"), &loader).expect("write loader.min.js");
    println!(
        "cargo::rustc-env=BECKON_LOADER_VERSION={}",
        short_hash(&[&loader])
    );

    let call = read(&manifest_dir.join("js").join("call").join("call.js"));
    let call = minifier::js::minify(&call)
        .unwrap_or_else(|e| panic!("cannot minify the call module: {e}"))
        .to_string();
    fs::write(out_dir.join("call.min.js"), &call).expect("write call.min.js");
    let call_version = short_hash(&[&call]);
    println!("cargo::rustc-env=BECKON_CALL_VERSION={call_version}");

    let panel_dir = manifest_dir.join("js").join("panel");
    let panel = join(
        &panel_dir,
        &PANEL_FILES,
        "(function(){\"use strict\";\n",
        "})();",
    );
    assert_eq!(
        panel.matches(CALL_VERSION_SLOT).count(),
        1,
        "the panel names the call module's version once"
    );
    let panel = panel.replace(CALL_VERSION_SLOT, &call_version);
    let panel = minifier::js::minify(&panel)
        .unwrap_or_else(|e| panic!("cannot minify the panel: {e}"))
        .to_string();
    fs::write(out_dir.join("panel.min.js"), &panel).expect("write panel.min.js");
    let css = read(&panel_dir.join("panel.css"));
    let css = minifier::css::minify(&css)
        .unwrap_or_else(|e| panic!("cannot minify panel.css: {e}"))
        .to_string();
    fs::write(out_dir.join("panel.min.css"), &css).expect("write panel.min.css");
    println!(
        "cargo::rustc-env=BECKON_PANEL_VERSION={}",
        short_hash(&[&panel, &css])
    );
}

fn read(path: &Path) -> String {
    println!("cargo::rerun-if-changed={}", path.display());
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The files of `dir`, in the given order, between `head` and `tail`.
fn join(dir: &Path, files: &[&str], head: &str, tail: &str) -> String {
    let mut source = String::from(head);
    for name in files {
        source.push_str(&read(&dir.join(name)));
        source.push('\n');
    }
    source.push_str(tail);
    source
}

/// Twelve hex digits of the SHA-256 of the parts.
fn short_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
