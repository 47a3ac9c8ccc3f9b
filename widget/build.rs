//! Builds the visitor loader: joins the files of `js/loader/` in a fixed order into one function
//! `(function(c){...})` (so they share one private scope and see the config object `c`), minifies it, and
//! writes `loader.min.js` to `OUT_DIR`, plus its short content hash as `BECKON_LOADER_VERSION`.

use sha2::{Digest, Sha256};
use std::{env, fs, path::PathBuf};

/// Loader sources in concatenation order: shared helpers first, the entry that starts everything last.
const LOADER_FILES: [&str; 6] = [
    "config.js",
    "net.js",
    "monitor.js",
    "presence.js",
    "launcher.js",
    "main.js",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let loader_dir = manifest_dir.join("js").join("loader");

    let mut source = String::from("(function(c){\"use strict\";\n");
    for name in LOADER_FILES {
        let path = loader_dir.join(name);
        println!("cargo::rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        source.push_str(&text);
        source.push('\n');
    }
    source.push_str("})");

    let minified = minifier::js::minify(&source)
        .unwrap_or_else(|e| panic!("cannot minify the loader: {e}"))
        .to_string();
    fs::write(out_dir.join("loader.min.js"), &minified).expect("write loader.min.js");

    let digest = Sha256::digest(minified.as_bytes());
    let version: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo::rustc-env=BECKON_LOADER_VERSION={version}");
}
