//! Every `beckon-loadgen` scenario at a small size against a freshly spawned server, through the
//! real binary (worker processes included), so the generator cannot rot. These assert that nothing
//! was lost, doubled or refused, not how fast it went (docs/benchmarks.md has the real runs).

use std::process::Command;

use serde_json::Value;

/// Runs `beckon-loadgen ARGS` against a spawned server; its one-line JSON result.
fn loadgen(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_beckon-loadgen"))
        .args(["--spawn", "--concurrency", "8", "--sources", "4"])
        .args(args)
        .output()
        .expect("run beckon-loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "beckon-loadgen {args:?} failed: {stdout}\n{stderr}"
    );
    let line = stdout.lines().last().expect("a result line");
    let result: Value = serde_json::from_str(line).expect("the result is JSON");
    // Guests set up concurrently from several processes once raced on SQLite; the server logs no
    // error and the generator needs no retry now.
    assert_eq!(
        count(&result, "server_errors_logged"),
        0,
        "{result}\n{stderr}"
    );
    assert_eq!(count(&result, "guest_retries"), 0, "{result}");
    result
}

fn count(result: &Value, key: &str) -> u64 {
    result[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {result}"))
}

#[test]
fn idle_guests_are_all_held_over_two_worker_processes() {
    let r = loadgen(&[
        "--processes",
        "2",
        "idle",
        "--guests",
        "20",
        "--hold-secs",
        "0.5",
    ]);
    assert_eq!(r["scenario"], "idle");
    assert_eq!(r["processes"], 2);
    assert_eq!(count(&r, "guests_held"), 20, "{r}");
    assert_eq!(count(&r, "errors"), 0, "{r}");
    assert!(
        r["server_rss_kib"]["full"].as_u64().is_some(),
        "server memory was read: {r}"
    );
}

#[test]
fn beacon_page_views_at_a_set_rate_are_all_accepted() {
    let r = loadgen(&[
        "beacon",
        "--connections",
        "4",
        "--rate",
        "200",
        "--secs",
        "0.5",
        "--warmup-secs",
        "0.1",
    ]);
    assert_eq!(count(&r, "accepted"), 100, "on schedule: {r}");
    assert_eq!(count(&r, "errors"), 0, "{r}");
    // The generator's own lateness is measured for views it could send on time (at 50 a second
    // per connection, nearly all of them), and the machine's stolen time is read.
    assert!(r["generator_lag"]["samples"].as_u64() > Some(50), "{r}");
    assert!(r["machine_steal_percent"].as_f64().is_some(), "{r}");
}

#[test]
fn beacon_page_views_are_all_accepted() {
    let r = loadgen(&[
        "beacon",
        "--connections",
        "4",
        "--secs",
        "0.5",
        "--warmup-secs",
        "0.1",
    ]);
    assert!(count(&r, "accepted") > 0, "{r}");
    assert_eq!(count(&r, "errors"), 0, "{r}");
    assert!(r["latency"]["p99_ms"].as_f64().is_some(), "{r}");
}

#[test]
fn chat_messages_arrive_once_each_with_idle_guests_and_page_views() {
    let r = loadgen(&[
        "chat",
        "--conversations",
        "3",
        "--messages",
        "10",
        "--interval-ms",
        "20",
        "--idle",
        "20",
        "--page-views-per-sec",
        "50",
        "--baseline-secs",
        "0.5",
    ]);
    assert_eq!(count(&r, "sent"), 3 * 2 * 10, "{r}");
    assert_eq!(count(&r, "received"), 60, "{r}");
    assert_eq!(count(&r, "lost"), 0, "{r}");
    assert_eq!(count(&r, "duplicated"), 0, "{r}");
    assert_eq!(count(&r, "acks"), 60, "{r}");
    assert_eq!(count(&r, "errors"), 0, "{r}");
    assert_eq!(count(&r, "idle_guests"), 20, "{r}");
    assert_eq!(count(&r, "page_view_errors"), 0, "{r}");
    assert!(r["server_cpu_us_per_message"].as_f64().is_some(), "{r}");
    assert!(r["server_cpu_us_per_message_net"].as_f64().is_some(), "{r}");
}

#[test]
fn consoles_see_every_arrival_and_leave() {
    let r = loadgen(&[
        "console",
        "--consoles",
        "3",
        "--changes-per-sec",
        "20",
        "--secs",
        "1",
        "--stay-ms",
        "200",
    ]);
    assert_eq!(count(&r, "visits"), 10, "{r}");
    assert_eq!(count(&r, "missed_arrivals"), 0, "{r}");
    assert_eq!(count(&r, "missed_leaves"), 0, "{r}");
    assert_eq!(count(&r, "errors"), 0, "{r}");
    assert_eq!(
        r["arrival_staleness"]["samples"], 30,
        "3 consoles × 10: {r}"
    );
}

#[test]
fn a_reconnect_storm_brings_every_guest_back() {
    let r = loadgen(&[
        "storm",
        "--guests",
        "20",
        "--rounds",
        "2",
        "--memory-settle-secs",
        "0",
    ]);
    assert_eq!(count(&r, "held_before"), 20, "{r}");
    assert_eq!(count(&r, "reconnected"), 20, "{r}");
    assert_eq!(count(&r, "errors"), 0, "{r}");
    let memory = &r["server_memory"];
    assert_eq!(
        memory["after_each_storm"].as_array().map(Vec::len),
        Some(2),
        "{r}"
    );
    for reading in [&memory["before_storms"], &memory["after_guests_left"]] {
        assert!(reading["rss_kib"].as_u64().is_some_and(|k| k > 0), "{r}");
        assert!(reading["anon_kib"].as_u64().is_some_and(|k| k > 0), "{r}");
    }
}

#[test]
fn cluster_messages_cross_nodes_once_each() {
    use beckon_tests::loadgen::cluster::RedisServer;
    use beckon_tests::require::{self, Service};
    use diesel::Connection as _;

    const SUITE: &str = "loadgen_smoke cluster";
    let pg = std::env::var("BECKON_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    if let Err(e) = diesel::PgConnection::establish(&pg) {
        return require::skip(
            Service::Postgres,
            SUITE,
            &format!("cannot connect to {pg}: {e}"),
        );
    }
    // The scenario starts a Redis of its own; without the binary, a run that requires Redis fails.
    if !RedisServer::installed() {
        return require::skip(Service::Redis, SUITE, "no redis-server binary");
    }
    let r = loadgen(&[
        "--database-url",
        &pg,
        "cluster",
        "--conversations",
        "3",
        "--messages",
        "10",
        "--interval-ms",
        "20",
        "--idle",
        "21",
        "--page-views-per-sec",
        "60",
        "--baseline-secs",
        "0.5",
    ]);
    assert_eq!(r["scenario"], "cluster");
    assert_eq!(r["nodes"], 3, "{r}");
    assert_eq!(count(&r, "sent"), 3 * 2 * 10, "{r}");
    assert_eq!(count(&r, "received"), 60, "{r}");
    assert_eq!(count(&r, "lost"), 0, "{r}");
    assert_eq!(count(&r, "duplicated"), 0, "{r}");
    assert_eq!(count(&r, "acks"), 60, "{r}");
    assert_eq!(count(&r, "errors"), 0, "{r}");
    assert_eq!(count(&r, "idle_guests"), 21, "{r}");
    assert_eq!(count(&r, "page_view_errors"), 0, "{r}");
    // Every node and the Redis server are read from /proc.
    let nodes_cpu = r["nodes_cpu_percent"].as_array().expect("per-node CPU");
    assert_eq!(nodes_cpu.len(), 3, "{r}");
    assert!(nodes_cpu.iter().all(Value::is_f64), "{r}");
    assert!(r["nodes_cpu_us_per_message"].as_f64().is_some(), "{r}");
    assert!(r["redis_cpu_us_per_message"].as_f64().is_some(), "{r}");
}
