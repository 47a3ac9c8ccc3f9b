//! The chat protocol over real sockets against the real binary: idempotency, ordering, resume,
//! resync, isolation, notes, typing, read marks, limits, and durability across SIGKILL and SIGTERM.

use std::time::Duration;

use beckon_tests::{start_chat, AcceptedChat, SiteFixture, TestApp, TestDatabase, WsClient};
use serde_json::{json, Value};

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(5);

async fn send(ws: &mut WsClient, conversation_id: &str, client_msg_id: &str, body: &str) {
    ws.send(json!({"type": "send", "conversation_id": conversation_id, "client_msg_id": client_msg_id, "body": body})).await;
}

#[tokio::test]
async fn a_guest_and_an_operator_chat_with_commit_ack_broadcast() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let mut queue = fx.console_socket().await;
    queue
        .send(json!({"type": "conversations", "site_id": fx.site.id}))
        .await;
    let list = queue.next_of_type("conversation_list", WAIT).await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    let (mut tab, _) = fx.guest(SHOP).await;
    let id = start_chat(&mut tab, "Gina <b>Guest</b>").await;
    let waiting = queue
        .next_of_type("conversation", WAIT)
        .await
        .expect("the queue hears of it");
    assert_eq!(waiting["status"], "waiting");
    assert_eq!(waiting["guest"]["name"], "Gina <b>Guest</b>");

    let mut op = fx.operator_accepts(&id).await;
    let joined = tab
        .next_of_type("message", WAIT)
        .await
        .expect("system line");
    assert_eq!(joined["kind"], "system");
    assert_eq!(joined["body"], "Olive Owner joined the chat");

    tab.next_of_type("conversation", WAIT)
        .await
        .expect("the guest sees the chat open");
    send(&mut tab, &id, "g-1", "Hello, {{7*7}} <script>x</script>").await;
    let mut events = Vec::new();
    while events.len() < 2 {
        let e = tab.next_event(WAIT).await.expect("ack and echo");
        if e["type"] == "ack" || e["type"] == "message" {
            events.push(e);
        }
    }
    assert_eq!(
        events[0]["type"], "ack",
        "the ack comes before the broadcast: {events:?}"
    );
    assert_eq!(events[0]["client_msg_id"], "g-1");
    let seq = events[0]["seq"].as_i64().unwrap();
    assert_eq!(events[1]["seq"], seq);
    assert_eq!(events[1]["client_msg_id"], "g-1");
    let received = op.next_of_type("message", WAIT).await.unwrap();
    assert_eq!(
        received["body"], "Hello, {{7*7}} <script>x</script>",
        "stored and sent verbatim, as data"
    );
    assert_eq!(received["sender"], "guest");
    assert_eq!(received["sender_name"], "Gina <b>Guest</b>");

    send(&mut op, &id, "o-1", "Hi Gina").await;
    assert_eq!(op.next_of_type("ack", WAIT).await.unwrap()["seq"], seq + 1);
    let reply = tab.next_of_type("message", WAIT).await.unwrap();
    assert_eq!(
        (reply["body"].as_str(), reply["sender_name"].as_str()),
        (Some("Hi Gina"), Some("Olive Owner"))
    );

    // Typing and read receipts travel to the other side.
    tab.send(json!({"type": "typing", "conversation_id": id, "state": true}))
        .await;
    let typing = op.next_of_type("typing", WAIT).await.unwrap();
    assert_eq!(
        (typing["who"].as_str(), typing["state"].as_bool()),
        (Some("guest"), Some(true))
    );
    op.send(json!({"type": "typing", "conversation_id": id, "state": true}))
        .await;
    assert_eq!(
        tab.next_of_type("typing", WAIT).await.unwrap()["who"],
        "operator"
    );
    tab.send(json!({"type": "read", "conversation_id": id, "seq": seq + 1}))
        .await;
    let read = op.next_of_type("read", WAIT).await.unwrap();
    assert_eq!(
        (read["who"].as_str(), read["seq"].as_i64()),
        (Some("guest"), Some(seq + 1))
    );

    // Internal notes reach operators only.
    op.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "note-1", "body": "VIP customer", "note": true})).await;
    assert_eq!(
        op.next_of_type("message", WAIT).await.unwrap()["kind"],
        "note"
    );
    while let Some(e) = tab.next_event(Duration::from_millis(500)).await {
        assert_ne!(e["type"], "message", "the guest got the note: {e}");
    }
    tab.send(json!({"type": "resume", "conversation_id": id, "after_seq": 0}))
        .await;
    let history = tab.next_of_type("history", WAIT).await.unwrap();
    assert!(
        history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["kind"] != "note"),
        "no notes in the guest's history"
    );

    // Closing ends it for both.
    op.send(json!({"type": "close_conversation", "conversation_id": id}))
        .await;
    let closed = loop {
        let c = tab
            .next_of_type("conversation", WAIT)
            .await
            .expect("closed state");
        if c["status"] != "open" {
            break c;
        }
    };
    assert_eq!(closed["status"], "closed");
    send(&mut tab, &id, "g-late", "still there?").await;
    assert_eq!(
        tab.next_of_type("error", WAIT).await.unwrap()["code"],
        "closed"
    );
}

#[tokio::test]
async fn duplicate_client_msg_ids_store_one_message_even_when_concurrent() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let (mut tab, token) = fx.guest(SHOP).await;
    let id = start_chat(&mut tab, "").await;

    send(&mut tab, &id, "retry-me", "once").await;
    let first = tab.next_of_type("ack", WAIT).await.unwrap();
    send(&mut tab, &id, "retry-me", "once").await;
    let again = tab.next_of_type("ack", WAIT).await.unwrap();
    assert_eq!(first["seq"], again["seq"], "a retry gets the same ack");

    // Five tabs send the same message at the same moment.
    let mut tabs = Vec::new();
    for _ in 0..5 {
        let mut t = fx.visitor_socket(SHOP, &token).await;
        t.next_event(WAIT).await.unwrap();
        tabs.push(t);
    }
    let sends = tabs.iter_mut().map(|t| send(t, &id, "burst", "same words"));
    futures_util::future::join_all(sends).await;
    let mut seqs = Vec::new();
    for t in &mut tabs {
        seqs.push(
            t.next_of_type("ack", WAIT)
                .await
                .expect("every copy is acked")["seq"]
                .clone(),
        );
    }
    assert!(
        seqs.windows(2).all(|w| w[0] == w[1]),
        "same seq for every copy: {seqs:?}"
    );

    tab.send(json!({"type": "resume", "conversation_id": id, "after_seq": 0}))
        .await;
    let history = tab.next_of_type("history", WAIT).await.unwrap();
    let bodies: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["once", "same words"]);
    let seq_list: Vec<i64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seq_list, [1, 2], "no gaps left by the duplicates");
}

#[tokio::test]
async fn a_reconnecting_guest_gets_exactly_the_missed_messages_or_a_resync() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let AcceptedChat {
        mut tab,
        token,
        console: mut op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "").await;
    let seen = tab.next_of_type("message", WAIT).await.unwrap()["seq"]
        .as_i64()
        .unwrap();
    tab.close().await;

    for i in 0..50 {
        send(&mut op, &id, &format!("o-{i}"), &format!("message {i}")).await;
        op.next_of_type("ack", WAIT).await.unwrap();
    }
    let mut tab = fx.visitor_socket(SHOP, &token).await;
    tab.next_event(WAIT).await.unwrap();
    tab.send(json!({"type": "resume", "conversation_id": id, "after_seq": seen}))
        .await;
    let history = tab.next_of_type("history", WAIT).await.unwrap();
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 50);
    assert_eq!(history["more"], false);
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m["seq"].as_i64().unwrap(), seen + 1 + i as i64);
        assert_eq!(m["body"], format!("message {i}"));
    }

    tab.send(json!({"type": "resume", "conversation_id": id, "after_seq": 9999}))
        .await;
    let resync = tab.next_of_type("resync", WAIT).await.unwrap();
    assert_eq!(resync["last_seq"].as_i64().unwrap(), seen + 50);
}

#[tokio::test]
async fn another_guests_conversation_is_out_of_reach() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let (mut alice, _) = fx.guest(SHOP).await;
    let alices = start_chat(&mut alice, "Alice").await;
    let (mut mallory, _) = fx.guest(SHOP).await;
    send(&mut mallory, &alices, "m-1", "let me in").await;
    let refused = mallory.next_of_type("error", WAIT).await.unwrap();
    assert_eq!(
        (refused["code"].as_str(), refused["client_msg_id"].as_str()),
        (Some("not_found"), Some("m-1"))
    );
    mallory
        .send(json!({"type": "resume", "conversation_id": alices, "after_seq": 0}))
        .await;
    assert_eq!(
        mallory.next_of_type("error", WAIT).await.unwrap()["code"],
        "not_found"
    );
    mallory
        .send(json!({"type": "read", "conversation_id": alices, "seq": 1}))
        .await;
    assert_eq!(
        mallory.next_of_type("error", WAIT).await.unwrap()["code"],
        "not_found"
    );
    alice.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn bad_input_gets_error_events_and_close_codes() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let (mut tab, token) = fx.guest(SHOP).await;
    let id = start_chat(&mut tab, "").await;
    send(&mut tab, &id, "empty", "   ").await;
    assert_eq!(
        tab.next_of_type("error", WAIT).await.unwrap()["code"],
        "bad_request"
    );
    send(&mut tab, &id, "long", &"x".repeat(4001)).await;
    assert_eq!(
        tab.next_of_type("error", WAIT).await.unwrap()["code"],
        "bad_request"
    );
    send(&mut tab, &id, "", "no id").await;
    assert_eq!(
        tab.next_of_type("error", WAIT).await.unwrap()["code"],
        "bad_request"
    );
    tab.send(json!({"type": "start_chat", "name": "x".repeat(200)}))
        .await;
    assert_eq!(
        tab.next_of_type("conversation", WAIT).await.unwrap()["conversation_id"],
        id.as_str(),
        "one open chat per guest"
    );

    tab.send_text(&"x".repeat(64 * 1024)).await;
    assert_eq!(tab.close_code(WAIT).await, Some(1009));
    let mut tab = fx.visitor_socket(SHOP, &token).await;
    tab.next_event(WAIT).await.unwrap();
    tab.send_text("{\"type\":\"send\"").await;
    assert_eq!(tab.close_code(WAIT).await, Some(4400));
}

#[tokio::test]
async fn a_consumer_that_cannot_keep_up_is_closed() {
    let db = TestDatabase::sqlite();
    // The flood below is of the operator's typing events, which are limited too; lift that limit,
    // this test is about the stuck tab.
    let fx = SiteFixture::start(&db, &["--operator-typing-per-minute", "1000000"], SHOP).await;
    let AcceptedChat {
        tab,
        token: guest_token,
        console: mut op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "").await;
    drop(tab);
    // A second tab of the same guest with a tiny receive buffer that never reads.
    let url = fx.ws_url(&format!(
        "/ws/visitor?k={}&t={}",
        fx.site.public_key, guest_token
    ));
    let mut stuck = WsClient::connect_with_receive_buffer(&url, SHOP, 2048).await;
    stuck
        .send(json!({"type": "resume", "conversation_id": id, "after_seq": 0}))
        .await;
    // The operator floods typing events; each is a frame for the stuck tab.
    for _ in 0..60_000 {
        op.send(json!({"type": "typing", "conversation_id": id, "state": true}))
            .await;
    }
    assert!(
        stuck.ends_within(Duration::from_secs(40)).await,
        "the stuck tab is dropped, not buffered without bound"
    );
    send(&mut op, &id, "after", "the server is fine").await;
    assert!(op.next_of_type("ack", WAIT).await.is_some());
}

async fn durable_across_sigkill(db: TestDatabase) {
    // A guest's flood limit would refuse most of the 1000 sends; this test is about durability.
    let fx = SiteFixture::start(
        &db,
        &[
            "--guest-message-burst",
            "1000000",
            "--guest-messages-per-minute",
            "1000000",
        ],
        SHOP,
    )
    .await;
    let (mut tab, _) = fx.guest(SHOP).await;
    let id = start_chat(&mut tab, "").await;
    let site = fx.site.clone();
    let SiteFixture { mut app, .. } = fx;

    // Pipeline 1000 sends; kill the server once about half are acknowledged.
    let sender = async {
        for i in 0..1000 {
            send(&mut tab, &id, &format!("k-{i}"), &format!("durable {i}")).await;
        }
    };
    sender.await;
    let mut acked = Vec::new();
    while acked.len() < 500 {
        let ack = tab
            .next_of_type("ack", Duration::from_secs(30))
            .await
            .expect("acks keep coming");
        acked.push((
            ack["client_msg_id"].as_str().unwrap().to_owned(),
            ack["seq"].as_i64().unwrap(),
        ));
    }
    app.kill_hard();
    while let Some(ack) = tab.next_of_type("ack", Duration::from_millis(200)).await {
        acked.push((
            ack["client_msg_id"].as_str().unwrap().to_owned(),
            ack["seq"].as_i64().unwrap(),
        ));
    }
    drop(app);

    let app = TestApp::spawn(&db).await;
    let fx = SiteFixture::reattach(app, site).await;
    let mut console = fx.console_socket().await;
    let mut stored = Vec::new();
    let mut after = 0;
    loop {
        console
            .send(json!({"type": "join", "conversation_id": id, "after_seq": after}))
            .await;
        let page = console
            .next_of_type("history", WAIT)
            .await
            .expect("history after restart");
        let messages = page["messages"].as_array().unwrap().clone();
        for m in &messages {
            stored.push((
                m["client_msg_id"].as_str().unwrap().to_owned(),
                m["seq"].as_i64().unwrap(),
            ));
        }
        after = messages
            .last()
            .map_or(after, |m: &Value| m["seq"].as_i64().unwrap());
        if page["more"] != true {
            break;
        }
    }
    let seqs: Vec<i64> = stored.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as i64).collect::<Vec<_>>(),
        "gapless, in order"
    );
    let mut ids: Vec<&str> = stored.iter().map(|(c, _)| c.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), stored.len(), "each message exactly once");
    for (client_id, seq) in &acked {
        assert!(
            stored.contains(&(client_id.clone(), *seq)),
            "acknowledged {client_id} (seq {seq}) survived"
        );
    }
    assert!(acked.len() >= 500 && stored.len() >= acked.len());
}

#[tokio::test]
async fn acknowledged_messages_survive_sigkill_on_sqlite() {
    durable_across_sigkill(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn acknowledged_messages_survive_sigkill_on_postgres() {
    if let Some(db) =
        TestDatabase::postgres("chat::acknowledged_messages_survive_sigkill_on_postgres")
    {
        durable_across_sigkill(db).await;
    }
}

#[tokio::test]
async fn sigterm_tells_open_sockets_to_reconnect_and_exits_promptly() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let (mut tab, _) = fx.guest(SHOP).await;
    let mut console = fx.console_socket().await;
    let SiteFixture { mut app, .. } = fx;
    let started = std::time::Instant::now();
    let exit = tokio::task::spawn_blocking(move || app.terminate(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(tab.close_code(WAIT).await, Some(1001));
    assert_eq!(console.close_code(WAIT).await, Some(1001));
    let status = exit.expect("exited within 5 s");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn typing_previews_reach_operators_only_where_the_site_enabled_them() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let AcceptedChat {
        mut tab,
        token: _,
        console: mut op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "").await;
    tab.send(json!({"type": "typing", "conversation_id": id, "state": true, "preview": "my card number is"})).await;
    let typing = op.next_of_type("typing", WAIT).await.unwrap();
    assert!(typing["preview"].is_null(), "off by default: {typing}");

    let csrf = fx
        .app
        .csrf_of(&format!("/console/sites/{}/settings", fx.site.id))
        .await;
    let saved = fx
        .app
        .post_form(
            &format!("/console/sites/{}/settings", fx.site.id),
            &[("csrf", &csrf), ("typing_preview", "1")],
        )
        .await;
    assert_eq!(saved.status(), 303);
    tab.send(json!({"type": "typing", "conversation_id": id, "state": true, "preview": "Where is my order"})).await;
    let typing = op.next_of_type("typing", WAIT).await.unwrap();
    assert_eq!(typing["preview"], "Where is my order");
}
