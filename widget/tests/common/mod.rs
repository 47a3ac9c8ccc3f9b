//! What the widget's test files share: running the JavaScript scenarios under Node.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `node ARGS` in tests/js with `stdin`; None (with a note) when Node is not installed.
pub fn node(args: &[&str], stdin: &str) -> Option<std::process::Output> {
    let child = Command::new("node")
        .args(args)
        .current_dir(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join("js"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            println!("note: skipped, `node` is not available ({e})");
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write to node");
    Some(child.wait_with_output().expect("node runs"))
}

/// Panics with node's output unless it succeeded.
pub fn assert_node_succeeded(output: std::process::Output) {
    assert!(
        output.status.success(),
        "node failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
