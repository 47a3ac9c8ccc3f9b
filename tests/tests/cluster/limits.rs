//! Cluster mode (#16, point 5): the limits that protect the system (login attempts, new guest ids
//! and offline messages per client address, offline messages per guest) hold across nodes, counted
//! in Redis, not once per node; while Redis is away each node still answers under its own limits.
//!
//! Two real `beckon` processes share one PostgreSQL database and a private `redis-server` this test
//! starts on a free port (never the shared one on 6379). Clients are told apart by
//! `X-Forwarded-For` from a trusted 127.0.0.1, so every scenario counts under addresses of its own.

use std::time::Duration;

use beckon_tests::redis_server::RedisServer;
use beckon_tests::{eventually, eventually_async, SiteFixture, TestApp, TestDatabase};

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(20);
/// What a node logs once its shared limits count in Redis.
const COUNTING_IN_REDIS: &str = "shared limits: counting in Redis for every node";

/// Two nodes on one database and one Redis. Fields drop in order: the nodes stop before Redis and
/// the database go.
struct Cluster {
    /// Node A, set up (owner and the "Demo Shop" site).
    a: SiteFixture,
    /// Node B.
    b: TestApp,
    redis: RedisServer,
    _db: TestDatabase,
}

impl Cluster {
    /// Starts both nodes with `limits` (and cluster mode) and waits until both count in Redis;
    /// `None` when PostgreSQL or redis-server is not available (skipped, or failed when required).
    async fn start(suite: &str, limits: &[&str]) -> Option<Cluster> {
        let db = TestDatabase::postgres(suite)?;
        let redis = RedisServer::start(suite)?;
        let url = redis.url();
        let mut args = vec![
            "--redis-url",
            url.as_str(),
            "--trusted-proxies",
            "127.0.0.1/32",
        ];
        args.extend_from_slice(limits);
        let a = SiteFixture::start(&db, &args, SHOP).await;
        let b = TestApp::builder(&db)
            .args(args.iter().copied())
            .spawn()
            .await;
        for node in [&a.app, &b] {
            eventually(WAIT, "the node's shared limits to reach Redis", || {
                node.stderr().contains(COUNTING_IN_REDIS)
            })
            .await;
        }
        Some(Cluster {
            a,
            b,
            redis,
            _db: db,
        })
    }

    /// Node A for even `i`, node B for odd: requests alternate between the nodes.
    fn node(&self, i: usize) -> &TestApp {
        if i % 2 == 0 {
            &self.a.app
        } else {
            &self.b
        }
    }

    /// Asks `node` for a new guest id as the client at `client_ip`; the status.
    async fn new_guest(&self, node: &TestApp, client_ip: &str) -> u16 {
        let body = serde_json::json!({ "site_key": self.a.site.public_key }).to_string();
        reqwest::Client::new()
            .post(node.url("/api/v1/visitors"))
            .header("Origin", SHOP)
            .header("X-Forwarded-For", client_ip)
            .header("Content-Type", "text/plain;charset=UTF-8")
            .body(body)
            .send()
            .await
            .expect("POST visitors")
            .status()
            .as_u16()
    }

    /// A guest token for the site, obtained from node A as the client at `client_ip`.
    async fn guest_token(&self, client_ip: &str) -> String {
        let body = serde_json::json!({ "site_key": self.a.site.public_key }).to_string();
        let res = reqwest::Client::new()
            .post(self.a.app.url("/api/v1/visitors"))
            .header("Origin", SHOP)
            .header("X-Forwarded-For", client_ip)
            .body(body)
            .send()
            .await
            .expect("POST visitors");
        assert_eq!(res.status(), 201);
        let body: serde_json::Value = res.json().await.expect("guest JSON");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Leaves an offline message on `node` as the client at `client_ip`; the status. Without an
    /// email the form is refused (400), but only after the per-address limit counted it.
    async fn leave_message(
        &self,
        node: &TestApp,
        client_ip: &str,
        token: &str,
        email: Option<&str>,
    ) -> u16 {
        let mut form = reqwest::multipart::Form::new()
            .text("site_key", self.a.site.public_key.clone())
            .text("token", token.to_owned())
            .text("message", "Do you ship to Oslo?");
        if let Some(email) = email {
            form = form.text("email", email.to_owned());
        }
        reqwest::Client::new()
            .post(node.url("/api/v1/offline-messages"))
            .header("Origin", SHOP)
            .header("X-Forwarded-For", client_ip)
            .multipart(form)
            .send()
            .await
            .expect("POST offline message")
            .status()
            .as_u16()
    }
}

/// A failed login on `node` as the client at `client_ip` (a fresh browser each time); the answer.
async fn failed_login(node: &TestApp, client_ip: &str) -> reqwest::Response {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let page = browser
        .get(node.url("/login"))
        .send()
        .await
        .expect("GET /login")
        .text()
        .await
        .expect("login page");
    let csrf = beckon_tests::html::input_value(&page, "csrf").expect("csrf field");
    browser
        .post(node.url("/login"))
        .header("X-Forwarded-For", client_ip)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "owner@example.com"),
            ("password", "wrong password"),
            ("next", "/console"),
        ])
        .send()
        .await
        .expect("POST /login")
}

fn assert_no_panic(node: &TestApp, name: &str) {
    let log = node.stderr();
    assert!(!log.contains("panicked"), "node {name} panicked:\n{log}");
}

#[tokio::test]
async fn login_attempts_are_limited_across_nodes() {
    let Some(cluster) =
        Cluster::start("cluster_limits", &["--login-attempts-per-minute", "3"]).await
    else {
        return;
    };
    // Each node alone would allow 3 (6 in all); together they allow 3.
    let client = "203.0.113.7";
    for i in 0..3 {
        let res = failed_login(cluster.node(i), client).await;
        assert_eq!(res.status(), 401, "attempt {i} is checked, and fails");
    }
    for i in 3..5 {
        let res = failed_login(cluster.node(i), client).await;
        assert_eq!(res.status(), 429, "attempt {i} is refused");
        assert!(res.headers().contains_key("retry-after"));
    }
    // Another address is counted on its own.
    assert_eq!(failed_login(&cluster.b, "203.0.113.8").await.status(), 401);
    assert_no_panic(&cluster.a.app, "A");
    assert_no_panic(&cluster.b, "B");
}

#[tokio::test]
async fn new_guest_ids_are_limited_across_nodes() {
    let Some(cluster) = Cluster::start("cluster_limits", &["--guests-per-minute", "3"]).await
    else {
        return;
    };
    let client = "203.0.113.20";
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(cluster.new_guest(cluster.node(i), client).await);
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429]);
    // The count in the database (--max-guests-per-ip) was never the issue: another address on the
    // same nodes still gets ids.
    assert_eq!(cluster.new_guest(&cluster.b, "203.0.113.21").await, 201);
}

#[tokio::test]
async fn offline_messages_are_limited_across_nodes_per_address_and_per_guest() {
    let Some(cluster) =
        Cluster::start("cluster_limits", &["--offline-messages-per-hour", "3"]).await
    else {
        return;
    };
    // Per address: counted before the form is read, so refused forms count too.
    let token = cluster.guest_token("203.0.113.30").await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let node = cluster.node(i);
        statuses.push(
            cluster
                .leave_message(node, "203.0.113.31", &token, None)
                .await,
        );
    }
    assert_eq!(statuses, [400, 400, 400, 429, 429]);
    // Per guest: one token from many addresses is still one guest, on every node.
    let token = cluster.guest_token("203.0.113.40").await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let node = cluster.node(i);
        let client = format!("203.0.113.{}", 41 + i);
        let email = Some("ada@guest.test");
        statuses.push(cluster.leave_message(node, &client, &token, email).await);
    }
    assert_eq!(statuses, [201, 201, 201, 429]);
}

#[tokio::test]
async fn without_redis_each_node_applies_its_own_limits_and_shares_them_again_after() {
    let Some(mut cluster) = Cluster::start("cluster_limits", &["--guests-per-minute", "2"]).await
    else {
        return;
    };
    cluster.redis.stop();
    // Redis is gone: no request fails for it, and each node counts alone (2 each, not 2 in all).
    let client = "198.51.100.1";
    for (node, name) in [(&cluster.a.app, "A"), (&cluster.b, "B")] {
        let statuses = [
            cluster.new_guest(node, client).await,
            cluster.new_guest(node, client).await,
            cluster.new_guest(node, client).await,
        ];
        assert_eq!(statuses, [201, 201, 429], "node {name} alone");
    }
    let login = failed_login(&cluster.b, "198.51.100.2").await;
    assert_eq!(login.status(), 401, "logins are still checked");
    // Redis is back (empty): the nodes count together again once they have reconnected. Each try
    // uses fresh addresses, so only the shared count can refuse the third request.
    cluster.redis.restart();
    let mut attempt = 0u8;
    eventually_async(WAIT, "the limit to hold across nodes again", || {
        attempt += 1;
        let client = format!("198.51.100.{}", 10 + attempt);
        let cluster = &cluster;
        async move {
            let a = cluster.new_guest(&cluster.a.app, &client).await;
            let b = cluster.new_guest(&cluster.b, &client).await;
            let a_again = cluster.new_guest(&cluster.a.app, &client).await;
            (a, b, a_again) == (201, 201, 429)
        }
    })
    .await;
    assert_no_panic(&cluster.a.app, "A");
    assert_no_panic(&cluster.b, "B");
    assert!(
        cluster
            .a
            .app
            .stderr()
            .contains("shared limits: Redis unavailable"),
        "the fallback is logged"
    );
}
