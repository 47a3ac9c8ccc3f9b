//! Checks of `assets/console.js` that need Node: it parses as an ES module, and its availability control
//! (`createAvailability`, `availabilityControl`) behaves as docs/protocol.md says ("Console socket").
//! Without `node` on the PATH the tests print why they skipped and pass; Beckon itself never needs Node.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `node`, when it can be run.
fn node() -> Option<&'static str> {
    let found = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if found {
        Some("node")
    } else {
        println!("skipped: `node` is not installed, so console.js was not checked");
        None
    }
}

/// A fresh directory holding `console.js` as `console.mjs`, so Node treats it as a module.
fn module_dir(test: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "beckon-console-js-{test}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    std::fs::write(dir.join("console.mjs"), beckon_console::CONSOLE_JS).expect("write console.mjs");
    dir
}

fn run(node: &str, dir: &Path, args: &[&str]) {
    let out = Command::new(node)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    let _ = std::fs::remove_dir_all(dir);
    assert!(
        out.status.success(),
        "node {args:?} failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn console_js_parses_as_an_es_module() {
    let Some(node) = node() else { return };
    let dir = module_dir("check");
    run(node, &dir, &["--check", "console.mjs"]);
}

#[test]
fn availability_control_sends_choice_and_throttled_activity_and_follows_the_server() {
    let Some(node) = node() else { return };
    let dir = module_dir("availability");
    std::fs::write(
        dir.join("availability.mjs"),
        include_str!("js/availability.mjs"),
    )
    .expect("write test script");
    run(node, &dir, &["availability.mjs", "./console.mjs"]);
}

#[test]
fn a_visitor_no_invitation_can_reach_is_shown_as_such_instead_of_pending() {
    let Some(node) = node() else { return };
    let dir = module_dir("reachability");
    std::fs::write(
        dir.join("reachability.mjs"),
        r#"import assert from "node:assert/strict";
const { visitorStatus } = await import(process.argv[2]);
assert.equal(visitorStatus({ reachability: "socket", invitation: null }), "browsing");
assert.equal(visitorStatus({ reachability: "polling", invitation: "pending" }), "invitation pending");
assert.equal(visitorStatus({ reachability: "none", invitation: "pending" }), "cannot receive invitations");
assert.equal(visitorStatus({ reachability: "none", chatting: true }), "chatting");
console.log("reachability: ok");
"#,
    )
    .expect("write test script");
    run(node, &dir, &["reachability.mjs", "./console.mjs"]);
}
