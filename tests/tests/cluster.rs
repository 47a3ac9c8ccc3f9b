//! Cluster mode: three real `beckon` processes sharing one PostgreSQL database, with a Redis server
//! of the test's own as the bus between them and a real nginx in front (round-robin, no sticky
//! sessions). A guest on one node chats (and calls) with an operator on another; the live list, availability
//! and site settings are the same from every node; a node killed with SIGKILL loses nothing; a Redis
//! restart mid-chat leaves a gap that the client finds by `seq` and heals; every outbox job is
//! delivered once although three nodes run the worker.

#[path = "cluster/limits.rs"]
mod limits;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use beckon_tests::nginx::Nginx;
use beckon_tests::receiver::{self, Received as _};
use beckon_tests::redis_server::RedisServer;
use beckon_tests::{eventually_async, start_chat, SiteFixture, TestApp, TestDatabase, WsClient};
use serde_json::{json, Value};

const SHOP: &str = "https://shop.example";
const WAIT: Duration = Duration::from_secs(10);
/// A killed node's operators and visitors must be gone from the others within this long.
const DEAD_NODE: Duration = Duration::from_secs(30);

/// Three nodes (the first walked the setup link), their Redis and the nginx in front.
struct Cluster {
    nodes: Vec<SiteFixture>,
    nginx: Nginx,
    redis: RedisServer,
    // Last: the database is dropped after every node has stopped.
    _db: TestDatabase,
}

fn port_of(app: &TestApp) -> u16 {
    app.address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in the address")
}

impl Cluster {
    /// `None` (after saying why) when PostgreSQL, Redis or nginx is unavailable and not required.
    async fn start(suite: &str, extra: &[&str]) -> Option<Cluster> {
        let db = TestDatabase::postgres(suite)?;
        let redis = RedisServer::start(suite)?;
        let url = redis.url();
        let mut args = vec![
            "--redis-url",
            url.as_str(),
            "--trusted-proxies",
            "127.0.0.1/32",
        ];
        args.extend_from_slice(extra);
        let first = SiteFixture::start(&db, &args, SHOP).await;
        let (site, cookie) = (first.site.clone(), first.session_cookie.clone());
        let mut nodes = vec![first];
        for _ in 0..2 {
            let app = TestApp::builder(&db)
                .args(args.iter().copied())
                .spawn()
                .await;
            nodes.push(SiteFixture {
                app,
                site: site.clone(),
                session_cookie: cookie.clone(),
            });
        }
        let ports: Vec<u16> = nodes.iter().map(|n| port_of(&n.app)).collect();
        let nginx = Nginx::start(suite, &ports)?;
        let cluster = Cluster {
            nodes,
            nginx,
            redis,
            _db: db,
        };
        for i in 0..3 {
            cluster.wait_ready(i).await;
        }
        Some(cluster)
    }

    /// Waits until node `i` says `ready` (its link to Redis is up both ways).
    async fn wait_ready(&self, i: usize) {
        let app = &self.nodes[i].app;
        eventually_async(WAIT, &format!("node {i} ready"), || async {
            let body = app.get("/readyz").await.text().await.unwrap_or_default();
            if body == "ready" {
                Ok(())
            } else {
                Err(body)
            }
        })
        .await;
    }

    async fn readyz(&self, i: usize) -> String {
        self.nodes[i]
            .app
            .get("/readyz")
            .await
            .text()
            .await
            .unwrap_or_default()
    }

    /// A guest socket through nginx (whichever node it picks).
    async fn visitor_socket_via_nginx(&self, token: &str) -> WsClient {
        let url = self.nginx.ws_url(&format!(
            "/ws/visitor?k={}&t={token}",
            self.nodes[0].site.public_key
        ));
        WsClient::connect(&url, Some(SHOP), None)
            .await
            .expect("visitor socket through nginx")
    }
}

fn send(conversation_id: &str, id: &str, body: &str) -> Value {
    json!({"type": "send", "conversation_id": conversation_id, "client_msg_id": id, "body": body})
}

/// Reads `message` events until `ids` have all arrived; the seq of each client_msg_id, failing on
/// a message seen twice.
async fn messages_until(socket: &mut WsClient, ids: &[String]) -> HashMap<String, i64> {
    let mut seen: HashMap<String, i64> = HashMap::new();
    while !ids.iter().all(|id| seen.contains_key(id)) {
        let m = socket
            .next_of_type("message", WAIT)
            .await
            .unwrap_or_else(|| panic!("messages {ids:?}; got {seen:?}"));
        let id = m["client_msg_id"].as_str().unwrap_or_default().to_owned();
        let seq = m["seq"].as_i64().expect("seq");
        assert!(
            seen.insert(id.clone(), seq).is_none(),
            "{id} delivered twice"
        );
    }
    seen
}

/// The conversation's whole history, read by a fresh console on node `i` (`join` from 0).
async fn history_on(node: &SiteFixture, conversation_id: &str) -> Vec<Value> {
    let mut console = node.console_socket().await;
    console
        .send(json!({"type": "join", "conversation_id": conversation_id, "after_seq": 0}))
        .await;
    let mut all = Vec::new();
    loop {
        let page = console
            .next_of_type("history", WAIT)
            .await
            .expect("history");
        all.extend(page["messages"].as_array().cloned().unwrap_or_default());
        if page["more"] != true {
            return all;
        }
    }
}

/// Every seq from the first to the last, each once, and each client_msg_id once.
fn assert_gapless_once(history: &[Value], expected_ids: &[String]) {
    let seqs: Vec<i64> = history.iter().filter_map(|m| m["seq"].as_i64()).collect();
    let first = seqs.first().copied().unwrap_or(1);
    let want: Vec<i64> = (first..first + seqs.len() as i64).collect();
    assert_eq!(seqs, want, "gapless and in order: {history:?}");
    for id in expected_ids {
        let n = history
            .iter()
            .filter(|m| m["client_msg_id"] == id.as_str())
            .count();
        assert_eq!(n, 1, "{id} stored exactly once: {history:?}");
    }
}

#[tokio::test]
async fn a_guest_on_one_node_and_an_operator_on_another_chat_with_gapless_seqs() {
    let Some(c) = Cluster::start("cluster_chat", &[]).await else {
        return;
    };
    let (mut tab, _) = c.nodes[0].guest(SHOP).await;
    let conversation = start_chat(&mut tab, "Gina").await;
    let mut console = c.nodes[1].operator_accepts(&conversation).await;
    let update = tab
        .next_of_type("conversation", WAIT)
        .await
        .expect("the guest on node A sees the chat accepted on node B");
    assert_eq!(update["status"], "open", "{update}");

    // Typing and its preview cross the nodes both ways.
    console
        .send(json!({"type": "typing", "conversation_id": conversation, "state": true}))
        .await;
    let typing = tab.next_of_type("typing", WAIT).await.expect("typing");
    assert_eq!(typing["who"], "operator", "{typing}");
    tab.send(
        json!({"type": "typing", "conversation_id": conversation, "state": true, "preview": "hel"}),
    )
    .await;
    let typing = console.next_of_type("typing", WAIT).await.expect("typing");
    assert_eq!(typing["who"], "guest", "{typing}");

    // Interleaved sends from both nodes: each side gets every message once, seqs without a gap.
    let mut ids = Vec::new();
    for i in 0..6 {
        let (g, o) = (format!("g{i}"), format!("o{i}"));
        tab.send(send(&conversation, &g, &format!("guest {i}")))
            .await;
        console
            .send(send(&conversation, &o, &format!("operator {i}")))
            .await;
        ids.push(g);
        ids.push(o);
    }
    let at_guest = messages_until(&mut tab, &ids).await;
    let at_operator = messages_until(&mut console, &ids).await;
    assert_eq!(at_guest, at_operator, "both sides see the same seqs");
    let seqs: BTreeSet<i64> = at_guest.values().copied().collect();
    assert_eq!(seqs.len(), ids.len(), "distinct seqs: {at_guest:?}");
    let (lo, hi) = (*seqs.first().expect("seqs"), *seqs.last().expect("seqs"));
    assert_eq!(hi - lo + 1, ids.len() as i64, "no gap: {at_guest:?}");

    // Read receipts cross too.
    tab.send(json!({"type": "read", "conversation_id": conversation, "seq": hi}))
        .await;
    let read = console.next_of_type("read", WAIT).await.expect("read");
    assert_eq!(read["who"], "guest", "{read}");
    assert_eq!(read["seq"], hi, "{read}");

    // The third node, which neither side is on, holds the same history.
    assert_gapless_once(&history_on(&c.nodes[2], &conversation).await, &ids);

    // A call rings, is answered, signals and ends across the nodes.
    console
        .send(json!({"type": "call", "action": "start", "conversation_id": conversation, "media": "audio", "tab": "o"}))
        .await;
    let ringing = call_state(&mut tab, "ringing").await;
    let call_id = ringing["call_id"].as_str().expect("call id").to_owned();
    tab.send(json!({"type": "call", "action": "accept", "call_id": call_id, "tab": "g"}))
        .await;
    call_state(&mut console, "active").await;
    tab.send(json!({"type": "call_signal", "call_id": call_id, "kind": "offer", "sdp": "v=0"}))
        .await;
    let offer = console
        .next_of_type("call_signal", WAIT)
        .await
        .expect("offer");
    assert_eq!(offer["sdp"], "v=0", "{offer}");
    console
        .send(json!({"type": "call_signal", "call_id": call_id, "kind": "answer", "sdp": "v=0 a"}))
        .await;
    let answer = tab.next_of_type("call_signal", WAIT).await.expect("answer");
    assert_eq!(answer["from"], "operator", "{answer}");
    tab.send(json!({"type": "call", "action": "hangup", "call_id": call_id, "tab": "g"}))
        .await;
    let ended = call_state(&mut console, "ended").await;
    assert_eq!(ended["ended_by"], "guest", "{ended}");
}

/// The next `call` event in `state`.
async fn call_state(socket: &mut WsClient, state: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = socket
            .next_of_type("call", left)
            .await
            .expect("a call event");
        if event["state"] == state {
            return event;
        }
    }
}

/// Reads a console's `snapshot` and `visitors` events until `pred` holds for the rows it knows.
async fn watch_until(
    console: &mut WsClient,
    what: &str,
    within: Duration,
    pred: impl Fn(&HashMap<String, Value>) -> bool,
    rows: &mut HashMap<String, Value>,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !pred(rows) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(event) = console.next_event(left).await else {
            panic!("{what}: rows {rows:?}");
        };
        match event["type"].as_str() {
            Some("snapshot") => {
                rows.clear();
                for v in event["visitors"].as_array().into_iter().flatten() {
                    rows.insert(v["id"].as_str().unwrap_or_default().to_owned(), v.clone());
                }
            }
            Some("visitors") => {
                for v in event["upserts"].as_array().into_iter().flatten() {
                    rows.insert(v["id"].as_str().unwrap_or_default().to_owned(), v.clone());
                }
                for id in event["removed"].as_array().into_iter().flatten() {
                    rows.remove(id.as_str().unwrap_or_default());
                }
            }
            _ => {}
        }
    }
}

async fn watching(node: &SiteFixture) -> WsClient {
    let mut console = node.console_socket().await;
    console
        .send(json!({"type": "watch", "site_id": node.site.id, "filter": {}, "offset": 0, "limit": 100}))
        .await;
    console
}

/// The `site_status` a visitor tab is told, waiting for `online` (the greeting, then changes).
async fn status_becomes(tab: &mut WsClient, online: bool, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = tab
            .next_of_type("site_status", left)
            .await
            .unwrap_or_else(|| panic!("site_status online={online} within {within:?}"));
        if event["online"] == online {
            return;
        }
    }
}

#[tokio::test]
async fn the_live_list_and_availability_are_the_same_from_every_node() {
    let Some(mut c) = Cluster::start("cluster_live", &[]).await else {
        return;
    };
    // A console on node B watches; visitors browse on nodes C and A.
    let mut console = watching(&c.nodes[1]).await;
    let (_tab_c, token_c) = c.nodes[2].guest(SHOP).await;
    assert_eq!(
        c.nodes[2]
            .beacon(SHOP, &token_c, "https://shop.example/pricing", "Pricing")
            .await,
        202
    );
    let (mut tab_a, token_a) = c.nodes[0].guest(SHOP).await;
    assert_eq!(
        c.nodes[0]
            .beacon(SHOP, &token_a, "https://shop.example/cart", "Cart")
            .await,
        202
    );
    let mut rows = HashMap::new();
    watch_until(
        &mut console,
        "both nodes' visitors with their pages",
        WAIT,
        |rows| {
            let urls: BTreeSet<&str> = rows
                .values()
                .filter_map(|v| v["current_url"].as_str())
                .collect();
            urls.contains("https://shop.example/pricing")
                && urls.contains("https://shop.example/cart")
        },
        &mut rows,
    )
    .await;

    // The owner's console on node B makes the site online for the visitor on node A.
    status_becomes(&mut tab_a, true, WAIT).await;
    // Closing it there takes the site offline here.
    console.close().await;
    status_becomes(&mut tab_a, false, WAIT).await;

    // The owner's only console is on node C, which dies: within the lease the visitor on A sees the
    // site offline, and a console on A no longer lists C's visitor.
    let mut on_c = c.nodes[2].console_socket().await;
    let _ = on_c.next_of_type("availability", WAIT).await;
    status_becomes(&mut tab_a, true, WAIT).await;
    let mut console_b = watching(&c.nodes[1]).await;
    let mut rows = HashMap::new();
    watch_until(
        &mut console_b,
        "C's visitor listed on B",
        WAIT,
        |rows| {
            rows.values()
                .any(|v| v["current_url"] == "https://shop.example/pricing")
        },
        &mut rows,
    )
    .await;
    // Only the console on C keeps the owner online now.
    console_b.close().await;
    c.nodes[2].app.kill_hard();
    status_becomes(&mut tab_a, false, DEAD_NODE).await;
    let mut console_a = watching(&c.nodes[0]).await;
    let mut rows = HashMap::new();
    watch_until(
        &mut console_a,
        "A's own visitor listed, the dead node's gone",
        WAIT,
        |rows| {
            rows.values()
                .any(|v| v["current_url"] == "https://shop.example/cart")
                && !rows
                    .values()
                    .any(|v| v["current_url"] == "https://shop.example/pricing")
        },
        &mut rows,
    )
    .await;
    drop(on_c);
}

#[tokio::test]
async fn a_settings_change_on_one_node_holds_on_every_node_within_a_second() {
    let Some(c) = Cluster::start("cluster_settings", &[]).await else {
        return;
    };
    const NEW: &str = "https://new-shop.example";
    for node in &c.nodes[1..] {
        let (status, body) = node.obtain_guest(NEW, None).await;
        assert_eq!(status, 403, "not allowed yet: {body}");
    }
    // Every node has the site cached now; node A changes it.
    let a = &c.nodes[0];
    let embed = format!("/console/sites/{}/embed", a.site.id);
    let csrf = a.app.csrf_of(&embed).await;
    let res = a
        .app
        .post_form(
            &format!("/console/sites/{}/refused-origins/allow", a.site.id),
            &[("csrf", csrf.as_str()), ("origin", NEW)],
        )
        .await;
    assert_eq!(res.status(), 303, "allowed");
    let changed = tokio::time::Instant::now();
    for (i, node) in c.nodes.iter().enumerate() {
        eventually_async(
            Duration::from_secs(1).saturating_sub(changed.elapsed()),
            &format!("node {i} allows the new origin"),
            || async {
                match node.obtain_guest(NEW, None).await {
                    (201, _) => Ok(()),
                    other => Err(other),
                }
            },
        )
        .await;
    }
}

#[tokio::test]
async fn a_node_killed_mid_chat_loses_nothing_and_doubles_nothing() {
    let Some(mut c) = Cluster::start("cluster_kill", &[]).await else {
        return;
    };
    let (mut tab, token) = c.nodes[0].guest(SHOP).await;
    let conversation = start_chat(&mut tab, "Gina").await;
    let mut console = c.nodes[1].operator_accepts(&conversation).await;
    let mut ids = Vec::new();
    let mut acked = HashMap::new();
    for i in 0..3 {
        let id = format!("before-{i}");
        tab.send(send(&conversation, &id, &format!("before {i}")))
            .await;
        let ack = tab.next_of_type("ack", WAIT).await.expect("ack");
        acked.insert(id.clone(), ack["seq"].as_i64().expect("seq"));
        ids.push(id);
    }
    messages_until(&mut console, &ids).await;

    // Node A, the guest's, dies.
    c.nodes[0].app.kill_hard();
    assert!(tab.ends_within(WAIT).await, "the guest's socket ended");

    // The guest reconnects through nginx (to B or C), resumes, and sends again the last message
    // (as a client does with one it is unsure of) and new ones.
    let mut tab = eventually_async(WAIT, "a reconnect through nginx", || async {
        let mut tab = c.visitor_socket_via_nginx(&token).await;
        match tab.next_of_type("hello", Duration::from_secs(2)).await {
            Some(_) => Ok(tab),
            None => Err("no hello"),
        }
    })
    .await;
    let last = acked["before-2"];
    tab.send(json!({"type": "resume", "conversation_id": conversation, "after_seq": last}))
        .await;
    let history = tab.next_of_type("history", WAIT).await.expect("history");
    assert_eq!(history["messages"], json!([]), "nothing missed: {history}");
    tab.send(send(&conversation, "before-2", "before 2")).await;
    let again = tab.next_of_type("ack", WAIT).await.expect("ack again");
    assert_eq!(again["seq"], last, "the same ack, no second copy");
    let mut after = Vec::new();
    for i in 0..3 {
        let id = format!("after-{i}");
        tab.send(send(&conversation, &id, &format!("after {i}")))
            .await;
        after.push(id.clone());
        ids.push(id);
    }
    console
        .send(send(&conversation, "reply", "still here"))
        .await;
    ids.push("reply".to_owned());
    messages_until(&mut console, &after).await;
    messages_until(&mut tab, &["reply".to_owned()]).await;
    assert_gapless_once(&history_on(&c.nodes[2], &conversation).await, &ids);
}

#[tokio::test]
async fn a_redis_restart_mid_chat_leaves_a_gap_that_the_client_finds_and_heals() {
    let Some(mut c) = Cluster::start("cluster_redis", &[]).await else {
        return;
    };
    let (mut tab, _) = c.nodes[0].guest(SHOP).await;
    let conversation = start_chat(&mut tab, "Gina").await;
    let mut console = c.nodes[1].operator_accepts(&conversation).await;
    tab.send(send(&conversation, "m1", "one")).await;
    assert!(tab.next_of_type("ack", WAIT).await.is_some(), "m1 acked");
    let one = messages_until(&mut console, &["m1".to_owned()]).await["m1"];

    c.redis.stop();
    eventually_async(WAIT, "node A degraded", || async {
        let body = c.readyz(0).await;
        if body.starts_with("degraded") {
            Ok(())
        } else {
            Err(body)
        }
    })
    .await;
    // Node A still serves its guest: the message is stored and acknowledged, but node B's
    // operator is not told.
    tab.send(send(&conversation, "m2", "two")).await;
    let two = tab
        .next_of_type("ack", WAIT)
        .await
        .expect("ack without Redis");
    assert_eq!(two["seq"], one + 1);
    console
        .expect_none_of_type("message", Duration::from_millis(500))
        .await;

    c.redis.restart();
    for i in 0..3 {
        c.wait_ready(i).await;
    }
    tab.send(send(&conversation, "m3", "three")).await;
    let three = console.next_of_type("message", WAIT).await.expect("m3");
    assert_eq!(three["client_msg_id"], "m3");
    assert_eq!(three["seq"], one + 2, "a gap: m2 was never relayed");
    // The client sees the gap and asks for what it lacks, from the database.
    console
        .send(json!({"type": "join", "conversation_id": conversation, "after_seq": one}))
        .await;
    let healed = console
        .next_of_type("history", WAIT)
        .await
        .expect("history");
    let ids: Vec<&str> = healed["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["client_msg_id"].as_str())
        .collect();
    assert_eq!(ids, ["m2", "m3"], "{healed}");
}

#[tokio::test]
async fn each_outbox_job_is_delivered_once_with_three_nodes_running() {
    let Some(c) = Cluster::start(
        "cluster_outbox",
        &["--webhook-allow-private", "--delivery-retry-secs", "1"],
    )
    .await
    else {
        return;
    };
    let sink = receiver::start(&[]).await;
    let a = &c.nodes[0];
    let hooks = format!("/console/sites/{}/webhooks", a.site.id);
    let csrf = a.app.csrf_of(&hooks).await;
    let url = format!("{}/hooks", sink.uri());
    let res = a
        .app
        .post_form(
            &hooks,
            &[
                ("csrf", csrf.as_str()),
                ("url", url.as_str()),
                ("event", "message.created"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "hook added");

    // Messages from guests on every node: each becomes one delivery, claimed by one node.
    let mut expected = 0;
    for node in &c.nodes {
        let (mut tab, _) = node.guest(SHOP).await;
        let conversation = start_chat(&mut tab, "Gina").await;
        for i in 0..5 {
            tab.send(send(&conversation, &format!("m{i}"), "hello"))
                .await;
            assert!(tab.next_of_type("ack", WAIT).await.is_some());
            expected += 1;
        }
    }
    // Message events of a conversation may be coalesced into one delivery: at least one per
    // conversation arrives; then every row must be recorded sent, each exactly once.
    let got = receiver::wait_for(&sink, c.nodes.len(), Duration::from_secs(30)).await;
    let sent = eventually_async(WAIT, "every delivery recorded sent", || async {
        let page = a
            .app
            .get("/console/deliveries")
            .await
            .text()
            .await
            .unwrap_or_default();
        let open = page.matches(r#"data-status="pending""#).count()
            + page.matches(r#"data-status="sending""#).count();
        let sent = page.matches(r#"data-status="sent""#).count();
        if open == 0 && sent >= got.len() {
            Ok(sent)
        } else {
            Err((open, sent))
        }
    })
    .await;
    let all = receiver::requests(&sink).await;
    let mut ids = BTreeSet::new();
    for request in &all {
        let id = request
            .header("beckon-delivery")
            .expect("delivery id")
            .to_owned();
        assert!(ids.insert(id.clone()), "delivery {id} sent twice");
    }
    assert!(expected > 0);
    assert_eq!(
        ids.len(),
        sent,
        "one request per delivery row: {} requests",
        all.len()
    );
}
